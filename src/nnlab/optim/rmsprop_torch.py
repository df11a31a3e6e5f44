"""PyTorch's RMSprop (ε outside the root, ``alpha``, ``centered``, ``momentum``), beside the seeds' RMSProp."""

from __future__ import annotations

import numpy as np

from .._checks import check_bool
from ..errors import ConfigError
from .optimizer import Optimizer


def lerp(a, b, weight, s) -> None:
    """a ← a + weight·(b − a) in place, PyTorch's two formulas (``torch.lerp``; ``s`` is scratch)."""
    np.subtract(b, a, out=s)
    if abs(weight) < 0.5:
        np.multiply(s, weight, out=s)
        np.add(a, s, out=a)
    else:
        np.multiply(s, 1.0 - weight, out=s)
        np.subtract(b, s, out=a)


def rmsprop_torch(w, grad, v, buf, g_avg, s, s2, lr, alpha, eps, momentum) -> None:
    """PyTorch's RMSprop in place: v ← α·v + (1 − α)·∇²;  avg = √(v − ḡ²) + ε (ḡ: ``g_avg``, centered) or √v + ε;
    with momentum buf ← μ·buf + ∇/avg, w ← w − η·buf;  else w ← w − η·∇/avg.  ``g_avg`` is None when not centered."""
    np.multiply(v, alpha, out=v)
    np.multiply(grad, 1.0 - alpha, out=s)  # addcmul's order: (1 − α)·∇·∇
    np.multiply(s, grad, out=s)
    np.add(v, s, out=v)
    if g_avg is not None:
        lerp(g_avg, grad, 1.0 - alpha, s)
        np.multiply(g_avg, g_avg, out=s)
        np.subtract(v, s, out=s)
        np.sqrt(s, out=s)
    else:
        np.sqrt(v, out=s)
    np.add(s, eps, out=s)
    np.divide(grad, s, out=s2)
    if momentum > 0.0:
        np.multiply(buf, momentum, out=buf)
        np.add(buf, s2, out=buf)
        np.multiply(buf, lr, out=s2)
    else:
        np.multiply(s2, lr, out=s2)
    np.subtract(w, s2, out=w)


class RMSprop(Optimizer):
    """RMSprop as PyTorch's ``torch.optim.RMSprop``, with its defaults (``lr=1e-2``, ``alpha=0.99``, ``eps=1e-8``)::

        v_t = α·v_{t−1} + (1 − α)·g_t²                       (g_t = ∇w_t, + λ·w_t with ``weight_decay`` λ)
        centered:  ḡ_t = α·ḡ_{t−1} + (1 − α)·g_t,  avg_t = √(v_t − ḡ_t²) + ε;   else avg_t = √v_t + ε
        momentum μ > 0:  b_t = μ·b_{t−1} + g_t/avg_t,  w_{t+1} = w_t − η·b_t;   else w_{t+1} = w_t − η·g_t/avg_t

    ``maximize=True`` climbs: g_t = −∇w_t (+ λ·w_t).  It differs from nnlab's
    :class:`RMSProp` (the seeds' rule, the ``"rmsprop"`` of configs): there ε sits
    inside the root, w ← w − η·∇/√(v + ε), β is called ``beta`` and defaults to
    0.9 with ``lr=1e-3``, and there is no centering nor momentum.  The mapping:
    ``RMSProp(beta=β, eps=ε)`` is this class with ``alpha=β`` only when ε is
    negligible beside v.  State, PyTorch's names and values: ``square_avg`` v,
    ``momentum_buffer`` b (always kept, so ``set_momentum`` may turn momentum on
    mid-run) and, with ``centered=True``, ``grad_avg`` ḡ.  ``centered`` is one
    setting for the whole optimizer (its buffer is allocated when it is built).
    """

    state_names = ("square_avg", "momentum_buffer")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False):
        if check_bool("centered", centered, owner=type(self).__name__):
            self.state_names = (*type(self).state_names, "grad_avg")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=bool(centered), maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        owner = type(self).__name__
        self._check("alpha", group["alpha"], high=1.0)
        self._check("eps", group["eps"])
        self._check("momentum", group["momentum"], high=1.0, high_open=True)
        check_bool("maximize", group["maximize"], owner=owner)
        if check_bool("centered", group["centered"], owner=owner) != self.defaults["centered"]:
            raise ConfigError(f"{owner}: centered={group['centered']!r} in a parameter group, the optimizer was built "
                              f"with centered={self.defaults['centered']}; centered is one setting for all groups")

    def _rule(self, group, flat):
        lr, alpha, eps, momentum = (float(group[k]) for k in ("lr", "alpha", "eps", "momentum"))
        centered = group["centered"]
        return lambda part, grad: rmsprop_torch(
            part.data, grad, part.state["square_avg"], part.state["momentum_buffer"],
            part.state["grad_avg"] if centered else None, part.scratch, part.scratch3, lr, alpha, eps, momentum)
