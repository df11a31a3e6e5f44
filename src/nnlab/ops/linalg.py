"""Matrix multiplication, 2-D and batched (NumPy ``matmul`` semantics)."""

import math

import numpy as np

from .. import _blas

from ._broadcast import unbroadcast
from .elementwise import _pair
from ..tensor import make_result


def matmul(a, b):
    """``a @ b``; 1-D operands are promoted as in NumPy and the gradient is reshaped back."""
    a, b = _pair(a, b)
    A, B = a.data, b.data
    ra, rb = a.requires_grad, b.requires_grad
    if A.ndim == 0 or B.ndim == 0:
        raise ValueError("matmul needs operands with at least one dimension; use * for scalars")

    def backward(g):
        A2 = A[None, :] if A.ndim == 1 else A
        B2 = B[:, None] if B.ndim == 1 else B
        # Restore the axes NumPy dropped for 1-D operands: B's column axis first, so
        # that 1-D @ 1-D (a 0-d output) works too.
        if B.ndim == 1:
            g = np.expand_dims(g, -1)
        if A.ndim == 1:
            g = np.expand_dims(g, -2)
        gA = gB = None
        if ra:
            gA = _blas.matmul(g, np.swapaxes(B2, -1, -2))
            gA = unbroadcast(gA, A2.shape).reshape(A.shape)
        if rb:
            if B2.ndim == 2 and A2.ndim > 2:
                # A batch of inputs times one matrix: fold the batch into the rows
                # (one GEMM instead of a batch of products summed afterwards).
                rows = math.prod(A2.shape[:-1])  # not reshape(-1, k): that fails when k is 0
                gB = _blas.matmul(A2.reshape(rows, A2.shape[-1]).T, g.reshape(rows, g.shape[-1]))
            else:
                gB = unbroadcast(_blas.matmul(np.swapaxes(A2, -1, -2), g), B2.shape)
            gB = gB.reshape(B.shape)
        return gA, gB

    return make_result(_blas.matmul(A, B), (a, b), backward)
