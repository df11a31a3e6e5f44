"""Fused ops: one graph node where composing primitives would cost speed or stability."""

import numpy as np

from ..tensor import make_result


def linear(x, W, b=None):
    """``x @ W + b`` as one node; ``W`` is (in_features, out_features).

    The backward computes dX only when ``x`` requires grad, so a data batch
    costs no extra matrix product.
    """
    X, Wd = x.data, W.data
    out = X @ Wd
    if b is not None:
        out += b.data
    rx, rw = x.requires_grad, W.requires_grad
    rb = b is not None and b.requires_grad
    parents = (x, W) if b is None else (x, W, b)

    def backward(g):
        gX = g @ Wd.T if rx else None
        if X.ndim == 2:
            gW = X.T @ g if rw else None
            gb = g.sum(axis=0) if rb else None
        else:  # leading batch axes: fold them into one
            g2 = g.reshape(-1, g.shape[-1])
            gW = X.reshape(-1, X.shape[-1]).T @ g2 if rw else None
            gb = g2.sum(axis=0) if rb else None
        return (gX, gW) if b is None else (gX, gW, gb)

    return make_result(out, parents, backward)
