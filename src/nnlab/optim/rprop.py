"""Rprop (Riedmiller & Braun), PyTorch 2's update rule, defaults and argument names."""

from __future__ import annotations

import numpy as np

from .._checks import check_bool, check_float
from ..errors import ConfigError
from ._first_step import fill_at_first_step
from .adaptive import betas_pair as pair
from .optimizer import Optimizer


def rprop(w, grad, prev, step_size, s, eta_minus, eta_plus, size_min, size_max) -> None:
    """Rprop in place: each element's step size grows by η₊ while ∇ keeps its sign, shrinks by η₋ when it
    flips (and that element then stands still and forgets ∇), within [size_min, size_max]; w ← w − sign(∇)·step."""
    np.multiply(grad, prev, out=s)
    flipped = s < 0
    np.copyto(s, eta_plus, where=s > 0)
    np.copyto(s, 1.0, where=s == 0)
    np.copyto(s, eta_minus, where=flipped)
    np.multiply(step_size, s, out=step_size)
    np.clip(step_size, size_min, size_max, out=step_size)
    np.copyto(prev, grad)
    np.copyto(prev, 0, where=flipped)  # PyTorch's grad[sign == η₋] = 0: the next step sees no sign to compare
    np.sign(prev, out=s)
    np.multiply(s, step_size, out=s)
    np.subtract(w, s, out=w)


def checked_pair(name: str, value) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ConfigError(f"Rprop: {name} must be a pair ({name}[0], {name}[1]), got {value!r}")
    return value[0], value[1]


class Rprop(Optimizer):
    """Rprop, as PyTorch's ``torch.optim.Rprop`` (the sign of the gradient, a step size per weight)::

        s_t = sign(g_t·g_{t−1})
        η_t = clip(η_{t−1}·(η₊ if s_t > 0, η₋ if s_t < 0, 1 if s_t = 0), step_min, step_max)     (η_0 = lr)
        where s_t < 0:  g_t ← 0 (stored as g_{t−1} for the next step; the weight does not move now)
        w_{t+1} = w_t − sign(g_t)·η_t

    ``etas=(η₋, η₊)`` with 0 < η₋ < 1 < η₊, ``step_sizes=(step_min, step_max)``,
    ``maximize=True`` climbs (g = −∇).  ``weight_decay`` is nnlab's (every nnlab
    optimizer has it; PyTorch's Rprop has none): the L2 rule, g = ∇ + λ·w; the default 0
    is PyTorch's rule.  State, PyTorch's names: ``prev`` g_{t−1} and
    ``step_size`` η_t.  Meant for full batches: with mini-batches the signs flip with the batches.
    """

    state_names = ("prev", "step_size")

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, etas=pair(etas), step_sizes=pair(step_sizes), maximize=maximize,
                                      weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        eta_minus, eta_plus = checked_pair("etas", group["etas"])
        owner = type(self).__name__
        check_float("etas[0]", eta_minus, low=0.0, high=1.0, low_open=True, high_open=True, owner=owner)
        check_float("etas[1]", eta_plus, low=1.0, low_open=True, owner=owner)
        size_min, size_max = checked_pair("step_sizes", group["step_sizes"])
        self._check("step_sizes[0]", size_min)
        self._check("step_sizes[1]", size_max, low=float(size_min))
        check_bool("maximize", group["maximize"], owner=owner)

    def _rule(self, group, flat):
        lr = float(group["lr"])
        eta_minus, eta_plus = (float(e) for e in group["etas"])
        size_min, size_max = (float(s) for s in group["step_sizes"])
        t = flat.t

        def update(part, grad):
            fill_at_first_step(part, t, part.state["step_size"], lr)
            rprop(part.data, grad, part.state["prev"], part.state["step_size"], part.scratch, eta_minus, eta_plus,
                  size_min, size_max)

        return update
