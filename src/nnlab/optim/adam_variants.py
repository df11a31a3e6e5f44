"""Adam's relatives in PyTorch: Adamax, NAdam, RAdam (PyTorch 2's update rules, defaults and argument names).

Written as :class:`~nnlab.optim.Adam` is (``adaptive.py``): the moments are
stored rescaled, M = m/(1 − β₁) and V = v/(1 − β₂), so that they need no
multiplication by (1 − β) (``moments``), and every scalar of the step is folded
once per step.  PyTorch's ``exp_avg`` and ``exp_avg_sq`` are m = (1 − β₁)·M and
v = (1 − β₂)·V.  The rules are the NumPy reference only (no compiled loop),
except RAdam's rectified steps, which are Adam's arithmetic with other scalars
and use Adam's kernel.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_bool
from . import _fused
from .adaptive import Adam, adam, betas_of, betas_pair, check_betas_eps, moments, root_plus, scalars
from .optimizer import Optimizer


def _sliced(flat, *values):
    """``part -> the step's values``: scalars as they are, per-element arrays (some parameters were skipped on
    some steps: ``flat.t`` is an array) cast to the buffers' dtype and sliced for the part."""
    if isinstance(flat.t, int):
        return lambda part: values
    arrays = [v.astype(flat.dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for v in values]
    return lambda part: [a[part.sl] if isinstance(a, np.ndarray) else a for a in arrays]


def _counts(flat):
    """The step counts the rule computes with: an int, or one per element (0, never updated and skipped now too, as 1)."""
    return flat.t if isinstance(flat.t, int) else np.maximum(flat.t, 1)


class _AdamFamily(Optimizer):
    """Adam's settings checks (``betas``, ``eps``) and rescaled moments, without ``amsgrad``."""

    scaled_states = Adam.scaled_states

    def __init__(self, params, defaults: dict):
        super().__init__(params, {**defaults, "betas": betas_pair(defaults["betas"])})

    def _validate(self, group):
        super()._validate(group)
        check_betas_eps(self, group)
        if "decoupled_weight_decay" in group:
            check_bool("decoupled_weight_decay", group["decoupled_weight_decay"], owner=type(self).__name__)


def adamax(w, grad, M, u, s, beta1, beta2, eps, step) -> None:
    """Adamax in place (8 NumPy passes): M ← β₁·M + ∇;  u ← max(β₂·u, |∇| + ε);  w ← w − step·M/u."""
    np.multiply(M, beta1, out=M)
    np.add(M, grad, out=M)
    np.multiply(u, beta2, out=u)
    np.abs(grad, out=s)
    np.add(s, eps, out=s)
    np.maximum(u, s, out=u)
    np.divide(M, u, out=s)
    np.multiply(s, step, out=s)
    np.subtract(w, s, out=w)


class Adamax(_AdamFamily):
    """Adamax (Kingma & Ba), as PyTorch's: Adam with the infinity norm in place of the second moment::

        m_t = β₁·m_{t−1} + (1 − β₁)·∇w_t        u_t = max(β₂·u_{t−1}, |∇w_t| + ε)
        w_{t+1} = w_t − η/(1 − β₁ᵗ) · m_t/u_t

    State: ``grad_sum`` M = m/(1 − β₁) (as Adam's) and ``exp_inf`` u (PyTorch's,
    as it is); the step is η(1 − β₁)/(1 − β₁ᵗ)·M/u.  ``weight_decay``: the L2
    rule, as PyTorch's.
    """

    state_names = ("grad_sum", "exp_inf")
    scaled_states = {"grad_sum": lambda group: betas_of(group)[0]}

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _rule(self, group, flat):
        beta1, beta2 = (float(b) for b in betas_of(group))
        lr, eps, t = float(group["lr"]), float(group["eps"]), _counts(flat)
        at = _sliced(flat, lr * (1.0 - beta1) / (1.0 - beta1**t))
        return lambda part, grad: adamax(part.data, grad, part.state["grad_sum"], part.state["exp_inf"],
                                         part.scratch, beta1, beta2, eps, *at(part))


def nadam(w, grad, M, V, s, s2, beta1, beta2, eps_r, c_grad, c_avg) -> None:
    """NAdam in place (14 NumPy passes): the moments, then w ← w − c_grad·∇/(√V + ε_r) − c_avg·M/(√V + ε_r)."""
    moments(M, V, grad, s, beta1, beta2)
    root_plus(s, V, eps_r)
    for x, c in ((grad, c_grad), (M, c_avg)):  # two subtractions, as PyTorch's two addcdiv_
        np.divide(x, s, out=s2)
        np.multiply(s2, c, out=s2)
        np.subtract(w, s2, out=w)


class NAdam(_AdamFamily):
    """NAdam (Dozat), as PyTorch's: Adam with Nesterov momentum and a momentum schedule μ_t::

        μ_t = β₁·(1 − ½·0.96^(t·ψ))     (ψ = ``momentum_decay``)     Π_t = μ_1·…·μ_t
        m_t, v_t as Adam's        d_t = √(v_t/(1 − β₂ᵗ)) + ε
        w_{t+1} = w_t − η(1 − μ_t)/(1 − Π_t) · ∇w_t/d_t − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m_t/d_t

    State: Adam's ``grad_sum`` and ``sq_grad_sum`` (M, V).  PyTorch also keeps
    Π_t per parameter (``mu_product``, in float32 unless the default dtype is
    float64); nnlab computes it from the step count, in float64, so a resumed run
    needs only the counts — and a ``betas`` or ``momentum_decay`` changed mid-run
    (a ``OneCycleLR`` cycling β₁) acts as if it had always been set, where
    PyTorch's Π keeps the old factors.
    ``weight_decay``: the L2 rule, or decoupled as AdamW's with
    ``decoupled_weight_decay=True`` (PyTorch's NAdamW).
    """

    state_names = ("grad_sum", "sq_grad_sum")

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False):
        self._products = (None, [1.0])  # ((β₁, ψ), [Π_0 = 1, Π_1, …]), extended as the steps need
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, group):
        super()._validate(group)
        self._check("momentum_decay", group["momentum_decay"])

    def _mu_products(self, beta1: float, psi: float, last: int) -> np.ndarray:
        """Π_0 … Π_last, multiplied in order as PyTorch's ``mu_product *= mu`` (the same float64 bits)."""
        key, products = self._products
        if key != (beta1, psi):  # one list only: a schedule cycling β₁ (OneCycleLR) recomputes it, not hoards it
            self._products = key, products = (beta1, psi), [1.0]
        while len(products) <= last:
            products.append(products[-1] * (beta1 * (1.0 - 0.5 * (0.96 ** (len(products) * psi)))))
        return np.array(products)

    def _rule(self, group, flat):
        beta1, beta2 = (float(b) for b in betas_of(group))
        lr, eps, psi, t = float(group["lr"]), float(group["eps"]), float(group["momentum_decay"]), _counts(flat)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        product = self._mu_products(beta1, psi, int(np.max(t)))[t]
        product = float(product) if isinstance(t, int) else product
        r = ((1.0 - beta2) / (1.0 - beta2**t)) ** 0.5
        at = _sliced(flat, eps / r, lr * (1.0 - mu) / ((1.0 - product) * r),
                     lr * mu_next * (1.0 - beta1) / ((1.0 - product * mu_next) * r))
        return lambda part, grad: nadam(part.data, grad, part.state["grad_sum"], part.state["sq_grad_sum"],
                                        part.scratch, part.scratch3, beta1, beta2, *at(part))


def radam(w, grad, M, V, s, beta1, beta2, eps_r, step, rectified) -> None:
    """RAdam in place: the moments, then w ← w − step·M/(√V + ε_r) where ``rectified`` (True, False, or one
    boolean per element), else w ← w − step·M (the rectified case is :func:`adam`'s arithmetic)."""
    moments(M, V, grad, s, beta1, beta2)
    if rectified is False:
        np.multiply(M, step, out=s)
    else:
        root_plus(s, V, eps_r)
        if rectified is not True:
            np.copyto(s, 1, where=~rectified)  # M/1 is M: the unrectified elements' step
        np.divide(M, s, out=s)
        np.multiply(s, step, out=s)
    np.subtract(w, s, out=w)


class RAdam(_AdamFamily):
    """RAdam (Liu et al.), as PyTorch's: Adam whose adaptive step is rectified, and off while v is unreliable::

        ρ_∞ = 2/(1 − β₂) − 1        ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
        ρ_t > 5:  w ← w − η·rect_t·m̂_t·√(1 − β₂ᵗ)/(√v_t + ε),  rect_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞/((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
        else:     w ← w − η·m̂_t                                  (m̂_t = m_t/(1 − β₁ᵗ))

    ε is added to √v_t, not to the bias-corrected root as in Adam.  State: Adam's
    ``grad_sum`` and ``sq_grad_sum`` (M, V); a rectified step is Adam's
    arithmetic with other scalars (and its compiled loop, for a large group).
    ``weight_decay``: the L2 rule, or decoupled with ``decoupled_weight_decay=True``
    (PyTorch's RAdamW).
    """

    state_names = ("grad_sum", "sq_grad_sum")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _rule(self, group, flat):
        beta1, beta2 = (float(b) for b in betas_of(group))
        lr, eps, t = float(group["lr"]), float(group["eps"]), _counts(flat)
        correction2 = 1.0 - beta2**t
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho = rho_inf - 2.0 * t * beta2**t / correction2
        rectified, per_element = rho > 5.0, not isinstance(t, int)
        safe = np.maximum(rho, 5.0) if per_element else max(rho, 5.0)  # no √ of a negative where unrectified
        rect = ((safe - 4.0) * (safe - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe)) ** 0.5
        q = (1.0 - beta2) ** 0.5  # √v = q·√V
        plain = lr * (1.0 - beta1) / (1.0 - beta1**t)
        adaptive = plain * rect * correction2**0.5 / q
        if per_element:
            step = np.where(rectified, adaptive, plain)
        else:
            step = adaptive if rectified else plain
        M, V = "grad_sum", "sq_grad_sum"
        if rectified is True:
            fused = _fused.kernel("adam", flat.data.size, flat.dtype)
            if fused is not None:
                scalars_t = scalars(flat, beta1, beta2, eps / q, step)
                return lambda part, grad: fused(part.data, grad, part.state[M], part.state[V], *scalars_t)
            return lambda part, grad: adam(part.data, grad, part.state[M], part.state[V], part.scratch,
                                           beta1, beta2, eps / q, step)
        at = _sliced(flat, eps / q, step, rectified)
        return lambda part, grad: radam(part.data, grad, part.state[M], part.state[V], part.scratch,
                                        beta1, beta2, *at(part))
