"""Cache-line-aligned 1-D buffers, each at its own offset within a page, for the optimizer's flat arrays.

NumPy takes its memory from malloc, which aligns to 16 bytes.  Where a flat
buffer of megabytes then starts within a cache line and a page depends on what
the process allocated before, so two processes running the same training loop,
or ``fit`` and a hand-written loop, got different offsets and epoch times: the
update kernels and the gradient GEMMs that read and write the buffers run slower
when a buffer starts inside a cache line (a vector load then spans two lines),
and slower again when the buffers an update streams through together (data,
gradient, Adam's two moments, scratch) share the same offset within a page
(loads and stores 4 KiB apart alias in the CPU's store buffer).  So each buffer
starts on a cache line, at the page offset of its ``slot``: a fixed layout,
the same in every process (measured with ``python -m benchmarks.buffer_alignment``;
BENCHMARKS.md, 2026-12-04).
"""

from __future__ import annotations

import numpy as np

PAGE = 4096
LINE = 64
STRIDE = 17 * LINE  # odd number of cache lines: slots 0..63 get 64 different page offsets


def empty(size: int, dtype, slot: int = 0) -> np.ndarray:
    """An uninitialized 1-D array of ``size`` elements starting ``slot`` strides past a page boundary."""
    dtype = np.dtype(dtype)
    offset = (slot * STRIDE) % PAGE
    raw = np.empty(size + -(-(PAGE + offset) // dtype.itemsize) + 1, dtype=dtype)
    # malloc aligns to 16 bytes, a multiple of every float itemsize, so the division is exact; rounding up
    # keeps any other itemsize inside the array, merely less aligned
    start = -(-((-raw.ctypes.data % PAGE) + offset) // dtype.itemsize)
    return raw[start : start + size]


def zeros(size: int, dtype, slot: int = 0) -> np.ndarray:
    """A zero-filled :func:`empty` array."""
    out = empty(size, dtype, slot)
    out.fill(0)
    return out
