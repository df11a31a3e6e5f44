"""Adaptive learning rates: Adagrad, RMSProp, Adam, AdamW (the seeds' update rules; Adam's AMSGrad option).

Shaped like PyTorch's ``optim/adam.py``: each class does the bookkeeping
(hyper-parameters, their checks, the step's scalars), and one function per rule
does the arithmetic on a piece of the flat buffers, in place.  The functions are
the NumPy reference; a group large enough for it runs the same arithmetic as one
compiled loop (``_fused.py``), with the same bits.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_bool
from ..errors import ConfigError
from . import _fused
from .optimizer import Optimizer


def _step_by_root(w, grad, v, s, eps, lr) -> None:
    """w ← w − η·∇/√(v + ε), ε inside the root (4 + 1 passes)."""
    np.add(v, eps, out=s)
    np.sqrt(s, out=s)
    np.divide(grad, s, out=s)
    np.multiply(s, lr, out=s)
    np.subtract(w, s, out=w)


def adagrad(w, grad, v, s, eps, lr) -> None:
    """Adagrad in place (7 NumPy passes): v ← v + ∇²;  w ← w − η·∇/√(v + ε).

    ``s`` is a scratch array as long as ``w``; ``eps`` and ``lr`` are scalars
    (or arrays sliced like ``w``).
    """
    np.multiply(grad, grad, out=s)
    np.add(v, s, out=v)
    _step_by_root(w, grad, v, s, eps, lr)


def rmsprop(w, grad, V, s, beta, eps_V, lr_V) -> None:
    """RMSProp on the rescaled state V = v/(1 − β), in place (8 NumPy passes).

    V ← β·V + ∇²;  w ← w − η_V·∇/√(V + ε_V), with η_V = η/√(1 − β) and
    ε_V = ε/(1 − β): the seeds' step η·∇/√(v + ε) with the scalars folded.
    """
    np.multiply(V, beta, out=V)
    np.multiply(grad, grad, out=s)
    np.add(V, s, out=V)
    _step_by_root(w, grad, V, s, eps_V, lr_V)


def moments(M, V, grad, s, beta1, beta2) -> None:
    """The rescaled moments in place (5 passes): M ← β₁·M + ∇;  V ← β₂·V + ∇² (Adam and its variants)."""
    np.multiply(M, beta1, out=M)
    np.add(M, grad, out=M)  # M_t = β₁M + ∇
    np.multiply(V, beta2, out=V)
    np.multiply(grad, grad, out=s)
    np.add(V, s, out=V)  # V_t = β₂V + ∇²


def root_plus(s, V, eps_r) -> None:
    """s ← √V + ε_r (2 passes): the denominator of Adam and its variants."""
    np.sqrt(V, out=s)
    np.add(s, eps_r, out=s)


def adam(w, grad, M, V, s, beta1, beta2, eps_r, step, V_max=None) -> None:
    """Adam on the rescaled moments M = m/(1 − β₁), V = v/(1 − β₂), in place (10 NumPy passes).

    M ← β₁·M + ∇;  V ← β₂·V + ∇²;  w ← w − step·M/(√V + ε_r), with
    r = √((1 − β₂)/(1 − β₂ᵗ)), ε_r = ε/r and step = η(1 − β₁)/((1 − β₁ᵗ)·r):
    the seeds' w − η·m̂/(√v̂ + ε) with every scalar folded (see :class:`Adam`).
    ``eps_r`` and ``step`` are scalars, or arrays sliced like ``w`` when the
    parameters of a group have different step counts.  AMSGrad (``V_max`` given):
    V_max ← max(V_max, V) and the step divides by √V_max + ε_r instead (11 passes).
    """
    moments(M, V, grad, s, beta1, beta2)
    if V_max is not None:
        np.maximum(V_max, V, out=V_max)
        V = V_max
    root_plus(s, V, eps_r)
    np.divide(M, s, out=s)
    np.multiply(s, step, out=s)
    np.subtract(w, s, out=w)


def betas_of(group: dict) -> tuple:
    """A group's (β₁, β₂), or the ConfigError of anything else (a scalar, None): read through here wherever
    it is read, as a user may set ``group["betas"]`` between steps (the values are checked as any β)."""
    betas = group["betas"]
    if isinstance(betas, (str, bytes)) or not isinstance(betas, (tuple, list, np.ndarray)) or len(betas) != 2:
        raise ConfigError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return betas[0], betas[1]


def betas_pair(betas):
    """``betas`` as a tuple when it is a sequence (a JSON list, an array); anything else is left for the checks."""
    return tuple(betas) if isinstance(betas, (tuple, list, np.ndarray)) else betas


def check_betas_eps(opt, group: dict) -> None:
    """The checks of Adam and its variants' ``betas`` (each in [0, 1)) and ``eps`` (>= 0)."""
    betas = betas_of(group)
    opt._check("betas[0]", betas[0], high=1.0, high_open=True)
    opt._check("betas[1]", betas[1], high=1.0, high_open=True)
    opt._check("eps", group["eps"])


def scalars(flat, *values):
    """The step's scalars in the buffers' dtype, as NumPy 2 casts a Python float (what a kernel needs)."""
    return tuple(flat.dtype.type(x) for x in values)


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
        self._check("eps", group["eps"])

    def _rule(self, group, flat):
        eps, lr = float(group["eps"]), float(group["lr"])
        fused = _fused.kernel("adagrad", flat.data.size, flat.dtype)
        if fused is not None:
            scalars_t = scalars(flat, eps, lr)
            return lambda part, grad: fused(part.data, grad, part.state["sum_sq"], *scalars_t)
        return lambda part, grad: adagrad(part.data, grad, part.state["sum_sq"], part.scratch, eps, lr)


class RMSProp(Optimizer):
    """RMSProp, the seeds' rule (ε inside the root)::

        v_t     = β·v_{t−1} + (1 − β)·(∇w_t)²
        w_{t+1} = w_t − η/√(v_t + ε) · ∇w_t

    PyTorch's RMSprop puts ε outside the root and calls β ``alpha``.

    Stored state, rescaled for speed: ``sq_grad_sum`` holds V = v/(1 − β), so
    v = (1 − β)·V (PyTorch's ``square_avg`` is v itself).  Then the moment needs
    no multiplication by (1 − β), V_t = β·V_{t−1} + (∇w_t)², and the step is the
    same update with the scalars folded, η/√(1 − β) · ∇w_t/√(V_t + ε/(1 − β)):
    8 passes over the buffers instead of 9 (:func:`rmsprop`; one compiled loop
    with the same bits for a large group, ``_fused.py``).  The equations above are checked
    line by line in ``tests/test_optim_reference.py::test_seed_adaptive_rules_with_eps_inside_the_root``.
    """

    state_names = ("sq_grad_sum",)
    scaled_states = {"sq_grad_sum": lambda group: group["beta"]}  # β changed mid-run: V is rescaled, v carries over

    def __init__(self, params, lr: float = 0.001, beta: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, eps=eps, weight_decay=weight_decay))

    def _validate(self, group):
        super()._validate(group)
        self._check("beta", group["beta"], high=1.0, high_open=True)
        self._check("eps", group["eps"])

    def _rule(self, group, flat):
        beta = float(group["beta"])
        eps = float(group["eps"]) / (1.0 - beta)
        lr = float(group["lr"]) / math.sqrt(1.0 - beta)
        fused = _fused.kernel("rmsprop", flat.data.size, flat.dtype)
        if fused is not None:
            scalars_t = scalars(flat, beta, eps, lr)
            return lambda part, grad: fused(part.data, grad, part.state["sq_grad_sum"], *scalars_t)
        return lambda part, grad: rmsprop(part.data, grad, part.state["sq_grad_sum"], part.scratch, beta, eps, lr)


class Adam(Optimizer):
    """Adam, as in the seeds and PyTorch (bias-corrected moments, ε outside the root)::

        m_t     = β₁·m_{t−1} + (1 − β₁)·∇w_t
        v_t     = β₂·v_{t−1} + (1 − β₂)·(∇w_t)²
        m̂_t     = m_t/(1 − β₁ᵗ)        v̂_t = v_t/(1 − β₂ᵗ)
        w_{t+1} = w_t − η/(√v̂_t + ε) · m̂_t

    ``weight_decay`` is the L2 rule (∇ + α·w, as PyTorch's Adam); see :class:`AdamW` for decoupled decay.

    Stored state, rescaled for speed: ``grad_sum`` holds M = m/(1 − β₁) and
    ``sq_grad_sum`` V = v/(1 − β₂), so m = (1 − β₁)·M and v = (1 − β₂)·V
    (PyTorch's ``exp_avg`` and ``exp_avg_sq`` are m and v).  Then the moments
    need no multiplication by (1 − β): M_t = β₁·M_{t−1} + ∇w_t,
    V_t = β₂·V_{t−1} + (∇w_t)², and with r = √((1 − β₂)/(1 − β₂ᵗ)) the step is
    η(1 − β₁)/((1 − β₁ᵗ)·r) · M_t/(√V_t + ε/r) — the same update with every
    scalar folded: 10 in-place NumPy calls over the buffers per step (12 with
    PyTorch's scaling) in :func:`adam`, or one compiled loop with the same bits
    (``_fused.py``) for a large group.  ``state_dict()`` saves M and V as they are (scaling them
    to PyTorch's on the way out would not round-trip bit for bit).  In float32,
    V overflows for gradients above about 6e17 rather than 2e19.  The equations
    above are checked line by line in ``tests/test_optim_reference.py::test_seed_adam_equations``.
    When ``betas`` change between steps, M and V are rescaled once so that m and
    v carry over, as in PyTorch (``Optimizer.scaled_states``).

    ``amsgrad=True`` (PyTorch's AMSGrad): the state ``max_sq_grad_sum`` keeps
    V_max = max over the steps of V (PyTorch's ``max_exp_avg_sq`` is its
    v = (1 − β₂)·V_max), and the step divides by √V_max + ε/r, with the NumPy
    reference (11 passes; no compiled loop).  It is one setting for the whole
    optimizer: a parameter group cannot change it, as the buffer is allocated
    when the optimizer is built.

    >>> import nnlab
    >>> w = nnlab.tensor([1.0, 1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * nnlab.tensor([100.0, -0.01])).sum().backward()
    >>> opt.step()  # the first step moves every weight by ≈ η, whatever its gradient's size
    >>> w.data.round(4)
    array([0.9, 1.1], dtype=float32)
    """

    state_names = ("grad_sum", "sq_grad_sum")
    scaled_states = {"grad_sum": lambda group: betas_of(group)[0], "sq_grad_sum": lambda group: betas_of(group)[1]}

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False):
        if check_bool("amsgrad", amsgrad, owner=type(self).__name__):  # V_max is scaled as V (1/(1 − β₂))
            self.state_names = (*type(self).state_names, "max_sq_grad_sum")
            self.scaled_states = {**type(self).scaled_states, "max_sq_grad_sum": type(self).scaled_states["sq_grad_sum"]}
        super().__init__(params, dict(lr=lr, betas=betas_pair(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=bool(amsgrad)))

    def _validate(self, group):
        super()._validate(group)
        check_betas_eps(self, group)
        if check_bool("amsgrad", group["amsgrad"], owner=type(self).__name__) != self.defaults["amsgrad"]:
            raise ConfigError(f"{type(self).__name__}: amsgrad={group['amsgrad']!r} in a parameter group, the optimizer "
                              f"was built with amsgrad={self.defaults['amsgrad']}; amsgrad is one setting for all groups")

    def _rule(self, group, flat):
        beta1, beta2 = (float(b) for b in betas_of(group))
        lr, eps = float(group["lr"]), float(group["eps"])
        V_max = "max_sq_grad_sum" if group["amsgrad"] else None
        t = flat.t
        if isinstance(t, int):
            r = math.sqrt((1.0 - beta2) / (1.0 - beta2**t))
            eps_r, step = eps / r, lr * (1.0 - beta1) / ((1.0 - beta1**t) * r)
        else:  # some parameters were skipped on some steps: per-element counts, sliced per part
            t = np.maximum(t, 1)  # a count of 0 is a parameter never updated, skipped now too: no 0/0
            r = np.sqrt((1.0 - beta2) / (1.0 - beta2**t))
            eps_all = (eps / r).astype(flat.dtype)
            step_all = (lr * (1.0 - beta1) / ((1.0 - beta1**t) * r)).astype(flat.dtype)
            return lambda part, grad: adam(part.data, grad, part.state["grad_sum"], part.state["sq_grad_sum"],
                                           part.scratch, beta1, beta2, eps_all[part.sl], step_all[part.sl],
                                           part.state.get(V_max))
        fused = None if V_max else _fused.kernel("adam", flat.data.size, flat.dtype)
        if fused is not None:
            scalars_t = scalars(flat, beta1, beta2, eps_r, step)
            return lambda part, grad: fused(part.data, grad, part.state["grad_sum"], part.state["sq_grad_sum"], *scalars_t)
        return lambda part, grad: adam(part.data, grad, part.state["grad_sum"], part.state["sq_grad_sum"],
                                       part.scratch, beta1, beta2, eps_r, step, part.state.get(V_max))


class AdamW(Adam):
    """Adam with decoupled weight decay, as PyTorch's AdamW: w ← w·(1 − η·α), then the Adam step.

    The default ``weight_decay=0.01`` is PyTorch's.  The decay is computed in
    :meth:`Optimizer._gradient`, with the L2 rule of the other optimizers.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01,
                 amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
