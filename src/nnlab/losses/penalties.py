"""Weight penalties: the seeds' L2 weight decay term α/2·Σ‖w‖² and the L1 term α·Σ|w|, over a model's weights."""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..errors import ConfigError
from ..tensor import Tensor, as_tensor, make_result


def _weights(params, weights_only: bool) -> list:
    """The tensors a penalty covers, each once.

    Tensors the caller names always count.  ``weights_only`` filters (keeps the
    weights by :func:`nnlab.nn.is_weight`) only what the caller did not pick one
    by one: a Module's parameters and ``named_parameters()`` pairs.
    """
    from ..nn.module import Module
    from ..nn.parameter import is_weight

    if isinstance(params, Module):
        params = [(None, p) for p in params.parameters()]
    elif isinstance(params, Tensor):
        params = [params]
    chosen, seen = [], set()
    for p in params:
        named = isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], Tensor)
        if named:
            p = p[1]  # a (name, parameter) pair from named_parameters(), or a module's parameter
        if not isinstance(p, Tensor):
            raise ConfigError(f"a penalty takes a Module, Tensors or (name, Tensor) pairs, got {type(p).__name__}")
        if id(p) in seen or (named and weights_only and not is_weight(p)):
            continue
        seen.add(id(p))
        chosen.append(p)
    return chosen


def _penalty(params, value_fn, grad_fn):
    if not params:
        return as_tensor(np.zeros((), dtype=np.float32))
    dtype = params[0].data.dtype
    total = sum(float(value_fn(p.data)) for p in params)
    needs = [p.requires_grad for p in params]

    def backward(g):
        return tuple(grad_fn(p.data) * g if need else None for p, need in zip(params, needs))

    return make_result(np.asarray(total, dtype=dtype), tuple(params), backward)


def l2_penalty(params, alpha, weights_only=True):
    """The seeds' weight decay term α/2·Σ‖w‖² over weights (gradient α·w).

    ``params`` is a Module, ``named_parameters()`` pairs, or Tensors.  Of a
    Module or named pairs, only the weights count (:func:`nnlab.nn.is_weight`:
    the tensors with two or more dimensions — the matrices of Linear, Maxout and TiedLinear, the
    parameters named ``weight`` — so biases, BatchNorm's γ/β and PReLU's α
    (all vectors) are left out); pass ``weights_only=False`` to cover them too.
    Tensors passed directly always count, whatever their shape.  A tied weight
    counts once.

    >>> import nnlab
    >>> l2_penalty(nnlab.nn.Linear(2, 2, weight_init="ones"), alpha=0.5).item()
    1.0
    """
    a = check_float("alpha", alpha, low=0.0, owner="l2_penalty")  # a negative α would reward large weights
    params = _weights(params, weights_only)
    return _penalty(params, lambda W: 0.5 * a * np.vdot(W, W), lambda W: W * W.dtype.type(a))


def l1_penalty(params, alpha, weights_only=True):
    """α·Σ|w| over weights (gradient α·sign(w)); weights chosen as in :func:`l2_penalty`."""
    a = check_float("alpha", alpha, low=0.0, owner="l1_penalty")
    params = _weights(params, weights_only)
    return _penalty(params, lambda W: a * np.abs(W).sum(dtype=np.float64), lambda W: np.sign(W) * W.dtype.type(a))
