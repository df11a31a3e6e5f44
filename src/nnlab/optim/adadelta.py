"""Adadelta (Zeiler), PyTorch 2's update rule, defaults and argument names."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


def adadelta(w, grad, S, D, s, s2, rho, eps_r, lr) -> None:
    """Adadelta on the rescaled state S = v/(1 − ρ), D = a/(1 − ρ), in place (13 NumPy passes).

    S ← ρ·S + ∇²;  δ = √(D + ε_r)/√(S + ε_r)·∇;  D ← ρ·D + δ²;  w ← w − η·δ, with ε_r = ε/(1 − ρ):
    PyTorch's δ = √(a + ε)/√(v + ε)·∇, whose (1 − ρ) factors cancel in the ratio.
    """
    np.multiply(S, rho, out=S)
    np.multiply(grad, grad, out=s)
    np.add(S, s, out=S)
    np.add(S, eps_r, out=s)
    np.sqrt(s, out=s)  # the root of the gradients' mean square, over √(1 − ρ)
    np.add(D, eps_r, out=s2)
    np.sqrt(s2, out=s2)  # the root of the steps' mean square, over √(1 − ρ)
    np.divide(s2, s, out=s2)
    np.multiply(s2, grad, out=s2)  # δ
    np.multiply(D, rho, out=D)
    np.multiply(s2, s2, out=s)
    np.add(D, s, out=D)
    np.multiply(s2, lr, out=s2)
    np.subtract(w, s2, out=w)


class Adadelta(Optimizer):
    """Adadelta, as PyTorch's::

        v_t = ρ·v_{t−1} + (1 − ρ)·(∇w_t)²
        δ_t = √(a_{t−1} + ε)/√(v_t + ε) · ∇w_t
        a_t = ρ·a_{t−1} + (1 − ρ)·δ_t²
        w_{t+1} = w_t − η·δ_t

    ``lr=1.0`` is PyTorch's default (Zeiler's rule has no η).  Stored state,
    rescaled as RMSProp's: ``sq_grad_sum`` S = v/(1 − ρ) and ``sq_delta_sum``
    D = a/(1 − ρ) (PyTorch's ``square_avg`` and ``acc_delta`` are v and a); the
    factors cancel in δ with ε/(1 − ρ) in both roots (:func:`adadelta`, NumPy
    reference only).  ``weight_decay``: the L2 rule, as PyTorch's.
    """

    state_names = ("sq_grad_sum", "sq_delta_sum")
    scaled_states = {"sq_grad_sum": lambda group: group["rho"], "sq_delta_sum": lambda group: group["rho"]}

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        self._check("rho", group["rho"], high=1.0, high_open=True)
        self._check("eps", group["eps"])

    def _rule(self, group, flat):
        rho, lr = float(group["rho"]), float(group["lr"])
        eps_r = float(group["eps"]) / (1.0 - rho)
        return lambda part, grad: adadelta(part.data, grad, part.state["sq_grad_sum"], part.state["sq_delta_sum"],
                                           part.scratch, part.scratch3, rho, eps_r, lr)
