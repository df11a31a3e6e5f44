"""torch's dtype names as NumPy dtypes, so ``nnlab.zeros(3, dtype=nnlab.int64)`` reads as torch code.

``nnlab.float`` is float32, ``double`` float64, ``half`` float16, ``long`` int64, ``int`` int32 (torch's aliases);
they shadow Python's builtins only as attributes of the package (``nnlab.int``), never in ``from nnlab import *``.
"""

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)
