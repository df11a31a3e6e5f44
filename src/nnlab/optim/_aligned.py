"""Page-aligned 1-D buffers for the optimizer's flat arrays.

NumPy takes its memory from malloc, which aligns to 16 bytes.  Where a flat
buffer of several megabytes starts within a cache line and a page then depends
on what the process allocated before, so two processes running the same
training loop, or ``fit`` and a hand-written loop, got different offsets and
epoch times that differed by up to a quarter: the Adam update and the gradient
GEMMs writing into the buffers were 20-30 % slower at some offsets
(784 → 2048 → 2048 → 10, batch 32, measured in BENCHMARKS.md, 2026-12-04).
Starting every flat buffer on a page boundary gives every process the same,
fast layout, for at most one page of padding per buffer.
"""

from __future__ import annotations

import numpy as np

PAGE = 4096


def empty(size: int, dtype) -> np.ndarray:
    """An uninitialized 1-D array of ``size`` elements whose first element sits on a page boundary."""
    dtype = np.dtype(dtype)
    pad = -(-PAGE // dtype.itemsize)
    raw = np.empty(size + pad, dtype=dtype)
    start = (-raw.ctypes.data % PAGE) // dtype.itemsize  # malloc aligns to 16 bytes, a multiple of every itemsize used
    return raw[start : start + size]


def zeros(size: int, dtype) -> np.ndarray:
    """A zero-filled page-aligned 1-D array (see :func:`empty`)."""
    out = empty(size, dtype)
    out.fill(0)
    return out
