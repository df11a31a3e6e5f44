"""Averaged SGD (Polyak & Juditsky), PyTorch 2's update rule, defaults and argument names."""

from __future__ import annotations

import numpy as np

from .._checks import check_bool
from ._first_step import fill_at_first_step
from .optimizer import Optimizer


def asgd(w, grad, ax, eta, mu, s, lambd, new_eta, new_mu) -> None:
    """ASGD in place: w ← w·(1 − λ·η) − η·g;  ax ← w where μ = 1, else ax + μ·(w − ax);  then η, μ ← the next
    step's (``new_eta``, ``new_mu``: scalars, or arrays of the part's length)."""
    np.multiply(eta, lambd, out=s)
    np.subtract(1.0, s, out=s)
    np.multiply(w, s, out=w)  # the decay term
    np.multiply(grad, eta, out=s)
    np.subtract(w, s, out=w)
    np.subtract(w, ax, out=s)
    np.multiply(s, mu, out=s)
    np.add(ax, s, out=ax)
    np.copyto(ax, w, where=mu == 1)  # PyTorch copies while μ is 1 (every step before t0)
    eta[...] = new_eta
    mu[...] = new_mu


class ASGD(Optimizer):
    """Averaged stochastic gradient descent, as PyTorch's ``torch.optim.ASGD``::

        w_{t+1} = w_t·(1 − λ·η_t) − η_t·g_t          (g_t = ∇w_t, + α_wd·w_t with ``weight_decay``)
        ax_{t+1} = ax_t + μ_t·(w_{t+1} − ax_t)       (μ_t = 1: ax = w)
        η_{t+1} = lr/(1 + λ·lr·t)^alpha,  μ_{t+1} = 1/max(1, t − t0)         (η_1 = lr, μ_1 = 1)

    The weights follow plain SGD with a decaying rate; ``ax`` (state) is their
    running average from step ``t0`` on, the point Polyak averaging returns:
    copy it into the model to evaluate it.  ``maximize=True`` climbs (g = −∇).
    State, PyTorch's names: ``ax``, and ``eta`` and ``mu`` kept per element (one
    value per parameter in PyTorch), so a resumed run and a skipped parameter
    follow PyTorch's counts.
    """

    state_names = ("ax", "eta", "mu")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        for name in ("lambd", "alpha", "t0"):
            self._check(name, group[name])
        check_bool("maximize", group["maximize"], owner=type(self).__name__)

    def _rule(self, group, flat):
        lr, lambd, alpha, t0 = (float(group[k]) for k in ("lr", "lambd", "alpha", "t0"))
        t = flat.t
        new_eta = lr / ((1.0 + lambd * lr * t) ** alpha)
        new_mu = 1.0 / np.maximum(1.0, t - t0)
        per_element = not isinstance(t, int)

        def update(part, grad):
            eta, mu = part.state["eta"], part.state["mu"]
            fill_at_first_step(part, t, eta, lr)
            fill_at_first_step(part, t, mu, 1.0)
            asgd(part.data, grad, part.state["ax"], eta, mu, part.scratch, lambd,
                 new_eta[part.sl] if per_element else new_eta, new_mu[part.sl] if per_element else new_mu)

        return update
