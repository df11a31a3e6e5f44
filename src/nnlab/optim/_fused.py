"""One-pass update kernels: each rule's NumPy passes fused into a single loop, compiled by numba.

The NumPy reference of every rule (``adaptive.py``, ``sgd.py``) makes 2–10
passes over the flat buffers, one per ufunc call.  A kernel here does the same
float operations, in the same order and the same precision, element by element
in one loop, so the buffers are read and written once.  Results are bit for bit
those of the NumPy reference: every step is one IEEE operation rounded to the
buffer's dtype (``+ − × ÷ √`` are correctly rounded in both), the scalars are
cast to that dtype first as NumPy 2 casts a Python float, and numba's default
(``fastmath=False``) forbids reassociation and fused multiply-adds.
``tests/test_optim_fused.py`` checks the bits against the reference.

numba is optional (``pip install 'nnlab[fast]'``) and imported on first use,
so ``import nnlab`` stays light.  A group uses a kernel when numba imports, the
group has at least ``MIN_ELEMENTS`` elements (below that the JIT's one-off cost
of importing numba and loading the compiled kernel, about half a second, does
not pay back in a short run), and the environment variable ``NNLAB_JIT`` is not
``0`` (``1`` forces the kernels on every group size).  Kernels release the GIL,
so ``_threads.py`` can still split a large group among threads.
"""

from __future__ import annotations

import os

import numpy as np


#: groups smaller than this (elements) keep the NumPy passes unless NNLAB_JIT=1
MIN_ELEMENTS = 1 << 15
#: environment switch: 0 disables the kernels, 1 uses them for every group size
JIT_ENV = "NNLAB_JIT"

_kernels = None  # name -> numba dispatcher, or {} when numba is unavailable
_ready: dict = {}  # (name, dtype) -> the kernel compiled for that dtype, or None


def _mode() -> str:
    return os.environ.get(JIT_ENV, "").strip()


def _build() -> dict:
    try:
        from . import _numba_kernels as k
    except ImportError:  # numba is not installed
        return {}
    return {"adam": k.adam, "rmsprop": k.rmsprop, "adagrad": k.adagrad, "momentum": k.momentum}


def kernel(name: str, size: int, dtype=np.float32):
    """The compiled kernel ``name`` for a group of ``size`` elements of ``dtype``, or None (use the NumPy reference).

    Each (kernel, dtype) is compiled once, here, for the one signature the rules
    call it with; if that fails for any reason (numba's compiler needs a working
    directory that exists, for one) the NumPy reference runs instead, with the same bits.
    """
    global _kernels
    mode = _mode()
    if mode == "0" or (size < MIN_ELEMENTS and mode != "1"):
        return None
    key = (name, np.dtype(dtype))
    if key not in _ready:
        if _kernels is None:
            _kernels = _build()
        _ready[key] = _compile(_kernels.get(name), name, key[1])
    return _ready[key]


def _compile(fn, name: str, dtype):
    if fn is None:
        return None
    try:
        from numba import from_dtype, types

        num = from_dtype(dtype)
        arr = types.Array(num, 1, "C")
        arrays, scalars = {"adam": (4, 4), "rmsprop": (3, 3), "adagrad": (3, 2), "momentum": (3, 2)}[name]
        signature = (arr,) * arrays + (num,) * scalars + ((types.boolean,) if name == "momentum" else ())
        fn.compile(signature)
    except Exception:  # noqa: BLE001 - any compiler failure falls back to the reference
        return None
    return fn


def available() -> bool:
    """Whether numba imports (the kernels can be used at all)."""
    global _kernels
    if _kernels is None:
        _kernels = _build()
    return bool(_kernels)
