"""Matrix multiplication, 2-D and batched (NumPy ``matmul`` semantics)."""

import numpy as np

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
        if A.ndim == 1:
            g = np.expand_dims(g, -2)
        if B.ndim == 1:
            g = np.expand_dims(g, -1)
        gA = gB = None
        if ra:
            gA = g @ np.swapaxes(B2, -1, -2)
            gA = unbroadcast(gA, A2.shape).reshape(A.shape)
        if rb:
            gB = np.swapaxes(A2, -1, -2) @ g
            gB = unbroadcast(gB, B2.shape).reshape(B.shape)
        return gA, gB

    return make_result(A @ B, (a, b), backward)
