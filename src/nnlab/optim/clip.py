"""Gradient clipping, in place, called between ``loss.backward()`` and ``optimizer.step()``."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ..tensor import Tensor
from .optimizer import _FLAT_GRADS, check_range


def _grad_blocks(params) -> list:
    """The gradients of ``params`` as few arrays as possible.

    When the given parameters' gradients are exactly the views that tile an
    optimizer's flat gradient buffer, the whole buffer is one block (one NumPy
    call instead of one per parameter); otherwise each gradient is its own block.
    Parameters whose ``.grad`` is None are left out.
    """
    if isinstance(params, Tensor):
        params = [params]
    grads, seen = [], set()
    for p in params:
        if id(p) not in seen and p.grad is not None:
            seen.add(id(p))
            grads.append(p.grad)
    covered: dict = {}
    for g in grads:
        base = g.base
        if base is not None and _FLAT_GRADS.get(id(base)) is base:
            covered[id(base)] = covered.get(id(base), 0) + g.size
    blocks = [_FLAT_GRADS[key] for key, count in covered.items() if count == _FLAT_GRADS[key].size]
    whole = {id(b) for b in blocks}
    blocks.extend(g for g in grads if g.base is None or id(g.base) not in whole)
    return blocks


def clip_grad_norm(params, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``; return the norm before.

    The norm is taken over all gradients as one vector (L2 by default, or
    ``norm_type=math.inf`` for the largest absolute value).  If it exceeds
    ``max_norm`` every gradient is multiplied by max_norm/(norm + 1e-6), as
    PyTorch's ``clip_grad_norm_``.

    >>> import nnlab
    >>> w = nnlab.tensor([1.0, 1.0], requires_grad=True)
    >>> (w * nnlab.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm([w], max_norm=1.0)
    5.0
    >>> w.grad.round(4)
    array([0.6, 0.8], dtype=float32)
    """
    max_norm = check_range("max_norm", max_norm)
    if norm_type not in (2, 2.0, math.inf):
        raise ConfigError(f"norm_type must be 2 or math.inf, got {norm_type!r}")
    blocks = _grad_blocks(params)
    if not blocks:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(b))) if b.size else 0.0 for b in blocks)
    else:
        squares = 0.0
        for b in blocks:
            flat = b.reshape(-1)
            squares += float(np.dot(flat, flat))
        total = math.sqrt(squares)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for b in blocks:
            np.multiply(b, coef, out=b)
    return total


def clip_grad_value(params, clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place.

    >>> import nnlab
    >>> w = nnlab.tensor([1.0, 1.0], requires_grad=True)
    >>> (w * nnlab.tensor([-3.0, 0.5])).sum().backward()
    >>> clip_grad_value([w], 1.0)
    >>> w.grad
    array([-1. ,  0.5], dtype=float32)
    """
    clip_value = check_range("clip_value", clip_value)
    for b in _grad_blocks(params):
        np.clip(b, -clip_value, clip_value, out=b)
