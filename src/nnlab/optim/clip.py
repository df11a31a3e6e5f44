"""Gradient clipping, in place, called between ``loss.backward()`` and ``optimizer.step()``."""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_bool, check_float
from ..errors import ConfigError, NnlabError
from ..tensor import Tensor
from .optimizer import Optimizer, not_parameters


def _tiled_block(base: np.ndarray, grads: list):
    """The part of the 1-D array ``base`` that ``grads`` tile exactly, each element once, or None.

    A flat gradient buffer is an aligned slice of a slightly larger array
    (``_aligned.py``), so the views tile a contiguous span of their base, not
    necessarily all of it.
    """
    itemsize = base.itemsize
    if base.ndim != 1 or not base.flags.c_contiguous or any(
            not g.flags.c_contiguous or g.dtype != base.dtype for g in grads):
        return None
    origin = base.__array_interface__["data"][0]
    spans = sorted((g.__array_interface__["data"][0] - origin, g.nbytes) for g in grads)
    first = edge = spans[0][0]
    for offset, nbytes in spans:
        if offset != edge:
            return None
        edge += nbytes
    if first % itemsize or first < 0 or edge > base.nbytes:
        return None
    return base if first == 0 and edge == base.nbytes else base[first // itemsize : edge // itemsize]


def _grad_blocks(params) -> list:
    """The gradients of ``params`` as few arrays as possible (parameters whose ``.grad`` is None are left out).

    An optimizer hands over its flat gradient buffers (:meth:`Optimizer.grad_buffers`).
    Tensors whose gradients are views that tile a contiguous span of one array -- an
    optimizer's flat gradient buffer, once it has synced them -- give that span
    as one block (one NumPy call instead of one per parameter); any other
    gradient is its own block.
    """
    if isinstance(params, Optimizer):
        return params.grad_buffers()
    if isinstance(params, Tensor):
        params = [params]
    problem = not_parameters(params, "gradient clipping", also=" or an optimizer")
    if problem:
        raise ConfigError(problem)
    grads, seen = [], set()
    for p in params:
        if not isinstance(p, Tensor):
            raise ConfigError(f"gradient clipping takes tensors or an optimizer, got an item of type {type(p).__name__}")
        if id(p) not in seen and p.grad is not None:
            seen.add(id(p))
            grads.append(p.grad)
    by_base: dict = {}
    for g in grads:
        if g.base is not None:
            by_base.setdefault(id(g.base), (g.base, []))[1].append(g)
    tiled = {key: block for key, (base, views) in by_base.items()
             if (block := _tiled_block(base, views)) is not None}
    blocks = list(tiled.values())  # in first-seen order, as the sums go
    blocks.extend(g for g in grads if g.base is None or id(g.base) not in tiled)
    return blocks


def clip_grad_norm(params, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``; return the norm before.

    ``params``: tensors (e.g. ``model.parameters()``) or an optimizer, whose every gradient is clipped.

    The norm is taken over all gradients as one vector (L2 by default, or
    ``norm_type=math.inf`` for the largest absolute value).  If it exceeds
    ``max_norm`` every gradient is multiplied by max_norm/(norm + 1e-6), as
    PyTorch's ``clip_grad_norm_``.  So as PyTorch's, a NaN norm makes every
    gradient NaN (an infinite one makes them 0, and NaN where infinite) rather than
    letting the finite ones through unclipped; ``error_if_nonfinite=True`` raises
    an :class:`~nnlab.errors.NnlabError` instead, leaving the gradients unchanged.

    >>> import nnlab
    >>> w = nnlab.tensor([1.0, 1.0], requires_grad=True)
    >>> (w * nnlab.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm([w], max_norm=1.0)
    5.0
    >>> w.grad.round(4)
    array([0.6, 0.8], dtype=float32)
    """
    max_norm = check_float("max_norm", max_norm, low=0.0, owner="clip_grad_norm")
    if norm_type not in (2, 2.0, math.inf):
        raise ConfigError(f"norm_type must be 2 or math.inf, got {norm_type!r}")
    error_if_nonfinite = check_bool("error_if_nonfinite", error_if_nonfinite, owner="clip_grad_norm")
    blocks = _grad_blocks(params)
    if not blocks:
        return 0.0
    if norm_type == math.inf:
        peaks = [float(np.max(np.abs(b))) if b.size else 0.0 for b in blocks]
        # max() keeps a NaN only when it comes first: a NaN in a later block would be lost
        total = math.nan if any(math.isnan(p) for p in peaks) else max(peaks)
    else:
        squares = 0.0
        for b in blocks:
            flat = b.reshape(-1)
            squares += float(np.dot(flat, flat))
        total = math.sqrt(squares)
    if error_if_nonfinite and not math.isfinite(total):
        raise NnlabError(f"clip_grad_norm: the total norm of the gradients is non-finite ({total}), so they "
                         "cannot be clipped; pass error_if_nonfinite=False to clip anyway (as PyTorch)")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # NaN too: a NaN norm poisons every gradient, as in PyTorch (min(NaN, 1) is NaN there)
        for b in blocks:
            np.multiply(b, coef, out=b)
    return total


def clip_grad_value(params, clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place (``params`` as for clip_grad_norm).

    >>> import nnlab
    >>> w = nnlab.tensor([1.0, 1.0], requires_grad=True)
    >>> (w * nnlab.tensor([-3.0, 0.5])).sum().backward()
    >>> clip_grad_value([w], 1.0)
    >>> w.grad
    array([-1. ,  0.5], dtype=float32)
    """
    clip_value = check_float("clip_value", clip_value, low=0.0, owner="clip_grad_value")
    for b in _grad_blocks(params):
        np.clip(b, -clip_value, clip_value, out=b)
