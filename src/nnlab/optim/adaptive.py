"""Adaptive learning rates: Adagrad, RMSProp, Adam, AdamW (the seeds' update rules)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .optimizer import Optimizer, check_range


def _divide_by_root(flat, grad, v, eps: float, lr: float) -> None:
    """w ← w − η/√(v + ε)·∇ (ε inside the root, as in the seeds)."""
    w, s = flat.data, flat.scratch
    np.add(v, eps, out=s)
    np.sqrt(s, out=s)
    np.divide(grad, s, out=s)
    np.multiply(s, lr, out=s)
    np.subtract(w, s, out=w)


class Adagrad(Optimizer):
    """Adagrad: v_t = v_{t−1} + (∇w)²;  w ← w − η/√(v_t + ε)·∇w.

    ε sits inside the square root, as in the seeds (PyTorch's Adagrad puts it
    outside: η·∇/(√v + ε); the two differ when ε is not negligible beside v).

    >>> import nnlab
    >>> w = nnlab.tensor([3.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5, eps=0.0)
    >>> (w * 4.0).sum().backward()
    >>> opt.step()
    >>> w.data  # 3 − 0.5·4/√16
    array([2.5], dtype=float32)
    """

    state_names = ("sum_sq",)

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        check_range("eps", group["eps"])

    def _update(self, group, flat, grad):
        v, s = flat.state["sum_sq"], flat.scratch
        np.multiply(grad, grad, out=s)
        np.add(v, s, out=v)
        _divide_by_root(flat, grad, v, float(group["eps"]), float(group["lr"]))


class RMSProp(Optimizer):
    """RMSProp: v_t = β·v_{t−1} + (1 − β)(∇w)²;  w ← w − η/√(v_t + ε)·∇w.

    ε inside the root, as in the seeds (PyTorch's RMSprop: outside, and calls β ``alpha``).
    """

    state_names = ("square_avg",)

    def __init__(self, params, lr: float = 0.001, beta: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, eps=eps, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        check_range("beta", group["beta"], 0.0, 1.0, high_open=True)
        check_range("eps", group["eps"])

    def _update(self, group, flat, grad):
        beta = float(group["beta"])
        v, s = flat.state["square_avg"], flat.scratch
        np.multiply(v, beta, out=v)
        np.multiply(grad, grad, out=s)
        np.multiply(s, 1.0 - beta, out=s)
        np.add(v, s, out=v)
        _divide_by_root(flat, grad, v, float(group["eps"]), float(group["lr"]))


class Adam(Optimizer):
    """Adam, as in the seeds and PyTorch (bias-corrected moments, ε outside the root).

    m_t = β₁m_{t−1} + (1 − β₁)∇w;  v_t = β₂v_{t−1} + (1 − β₂)(∇w)²;
    m̂ = m_t/(1 − β₁ᵗ);  v̂ = v_t/(1 − β₂ᵗ);  w ← w − η·m̂/(√v̂ + ε).
    ``weight_decay`` is the L2 rule (∇ + αw, as PyTorch's Adam); see :class:`AdamW` for decoupled decay.

    12 in-place NumPy calls over the flat buffer per step, whatever the number of parameters.

    >>> import nnlab
    >>> w = nnlab.tensor([1.0, 1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * nnlab.tensor([100.0, -0.01])).sum().backward()
    >>> opt.step()  # the first step moves every weight by ≈ η, whatever its gradient's size
    >>> w.data.round(4)
    array([0.9, 1.1], dtype=float32)
    """

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        betas = group["betas"]
        if len(betas) != 2:
            raise ConfigError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_range("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        check_range("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        check_range("eps", group["eps"])

    def _update(self, group, flat, grad):
        betas = group["betas"]
        beta1, beta2 = float(betas[0]), float(betas[1])
        lr, eps = float(group["lr"]), float(group["eps"])
        t = flat.t
        if isinstance(t, int):
            bias1, root_bias2 = 1.0 - beta1**t, math.sqrt(1.0 - beta2**t)
        else:  # some parameters were skipped on some steps: per-element counts
            bias1 = (1.0 - beta1**t).astype(flat.dtype)
            root_bias2 = np.sqrt(1.0 - beta2**t).astype(flat.dtype)
        m, v, s, w = flat.state["exp_avg"], flat.state["exp_avg_sq"], flat.scratch, flat.data
        np.multiply(m, beta1, out=m)
        np.multiply(grad, 1.0 - beta1, out=s)
        np.add(m, s, out=m)
        np.multiply(v, beta2, out=v)
        np.multiply(grad, grad, out=s)
        np.multiply(s, 1.0 - beta2, out=s)
        np.add(v, s, out=v)
        # η·m̂/(√v̂ + ε) = (η·√(1−β₂ᵗ)/(1−β₁ᵗ))·m/(√v + ε·√(1−β₂ᵗ)): scalars folded, no extra pass.
        np.sqrt(v, out=s)
        np.add(s, eps * root_bias2, out=s)
        np.divide(m, s, out=s)
        np.multiply(s, lr * root_bias2 / bias1, out=s)
        np.subtract(w, s, out=w)


class AdamW(Adam):
    """Adam with decoupled weight decay, as PyTorch's AdamW: w ← w·(1 − η·α), then the Adam step.

    The default ``weight_decay=0.01`` is PyTorch's.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _gradient(self, group, flat):
        shrink = 1.0 - float(group["lr"]) * float(group["weight_decay"])
        if shrink != 1.0:
            np.multiply(flat.data, shrink, out=flat.data)
        return flat.grad
