"""How a gradient reaches a leaf: stored, accumulated, or a matrix product written straight into ``.grad``.

Two ideas make the end of a backward pass cheap (issue 17):

- **A product is computed where it lands.**  An op's backward may return
  :class:`Product` ``(A, B)`` instead of the array ``A @ B`` (``linear``'s dW,
  the bias sums).  If it reaches a leaf whose gradient buffer has to be
  overwritten, the engine calls ``_blas.matmul(A, B, out=leaf.grad)`` (np.matmul, or MKL's GEMM with
  nnlab[mkl]): no temporary
  array, no second pass to add it.  Anywhere else (a second contribution to the
  same parameter, a non-leaf parent, a leaf that accumulates) it becomes the
  array ``A @ B`` first, so the results are the same numbers as before.
- **A pending zero is not written.**  ``Optimizer.zero_grad`` marks its
  parameters' gradients as zero (``Parameter``'s ``_zero_pending``) instead of
  filling the buffers.  The first contribution of the next backward then stores
  instead of adding to zero (0 + x is x, so the bits are the same, apart from
  −0.0 becoming +0.0 in the old way), and a gradient nobody wrote is filled with
  zeros when it is read (``Parameter.grad``): ``p.grad`` always reads as the sum
  of the contributions since the last ``zero_grad``.
"""

from __future__ import annotations

import numpy as np

from . import _blas


class Product:
    """The matrix product ``A @ B`` of a backward, not yet computed (see the module docstring)."""

    __slots__ = ("A", "B")
    __array_ufunc__ = None  # ``array + Product`` calls Product.__radd__

    def __init__(self, A: np.ndarray, B: np.ndarray):
        self.A, self.B = A, B

    @property
    def shape(self) -> tuple:
        return self.A.shape[:-1] + self.B.shape[1:]

    def value(self) -> np.ndarray:
        return _blas.matmul(self.A, self.B)

    def __add__(self, other):
        return self.value() + array(other)

    def __radd__(self, other):
        return array(other) + self.value()


def array(g):
    """``g`` as an ndarray (a :class:`Product` is computed now)."""
    return g.value() if type(g) is Product else g


def accumulate(leaf, g, owned: set) -> None:
    """Add the gradient ``g`` (an array or a :class:`Product`) to ``leaf.grad``.

    ``owned`` holds the ids of arrays already stored in some leaf's ``.grad`` in
    this backward pass (the engine shares arrays between parents).
    """
    dtype = leaf.data.dtype
    pending = getattr(leaf, "_zero_pending", False)
    buffer = leaf.stored_grad() if pending else None
    if buffer is not None and type(g) is Product and g.A.dtype == dtype and g.B.dtype == dtype:
        # overwrite: the buffer stands for zeros; matmul refuses an ``out`` of any other shape
        # (the contract check below, at no cost on the path every Linear takes)
        leaf._zero_pending = False
        _blas.matmul(g.A, g.B, out=buffer)
        return
    if g.shape != leaf.data.shape:  # an op's backward broke its contract: fail loudly, never broadcast
        raise RuntimeError(f"internal error: gradient of shape {g.shape} for a leaf of shape {leaf.data.shape}")
    if pending:
        leaf._zero_pending = False
        if buffer is not None:  # overwrite: the buffer stands for zeros
            np.copyto(buffer, array(g), casting="unsafe")
            return
    g = array(g)
    if g.dtype != dtype:
        g = g.astype(dtype)
    if leaf.grad is None:
        # The engine hands out views and shares arrays between parents; a leaf
        # gets a C-contiguous array of its own so in-place updates of .grad are safe.
        if id(g) in owned or g.base is not None or not (g.flags.writeable and g.flags.c_contiguous):
            g = np.array(g, order="C")
        owned.add(id(g))
        leaf.grad = g
    else:
        leaf.grad += g
