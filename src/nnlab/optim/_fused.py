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

When a group uses a kernel (numba installed, at least ``MIN_ELEMENTS``
elements, the switch ``NNLAB_JIT``) is nnlab's one rule for its kernels,
:mod:`nnlab._jit`.  Kernels release the GIL, so ``_threads.py`` can still split
a large group among threads.
"""

from __future__ import annotations

import numpy as np

from .. import _jit

MIN_ELEMENTS = _jit.MIN_ELEMENTS
JIT_ENV = _jit.JIT_ENV
_MODULE = "nnlab.optim._numba_kernels"
# kernel -> (flat arrays, scalars of the buffers' dtype); momentum takes the nesterov flag last
_ARGS = {"adam": (4, 4), "rmsprop": (3, 3), "adagrad": (3, 2), "momentum": (3, 2)}


def kernel(name: str, size: int, dtype=np.float32):
    """The compiled kernel ``name`` for a group of ``size`` elements of ``dtype``, or None (use the NumPy reference)."""

    def signature(num, types):
        arrays, scalars = _ARGS[name]
        return (types.Array(num, 1, "C"),) * arrays + (num,) * scalars + ((types.boolean,) if name == "momentum" else ())

    return _jit.kernel(_MODULE, name, size, dtype, signature)


def available() -> bool:
    """Whether numba imports (the kernels can be used at all)."""
    return _jit.available(_MODULE)
