"""Activity regularization: penalties on a layer's activations, the notes' "sparsity in the hidden units".

The notes list "Sparsity in the hidden units" among the ways of regularizing a
model, and for debugging training: "Inspect hidden units.  Should be sparse
across samples and features.  In bad training, strong correlations are seen."

:class:`ActivityRegularization` is an identity layer placed after the
activation it regularizes.  In training mode it records the penalty of the
activations a passing through it (a batch of N rows, units j):

- L1: λ · (1/N) Σₙ Σⱼ |aₙⱼ|  (``l1=λ``; Keras's ``ActivityRegularization(l1)`` sums
  over the batch instead of averaging, so its λ is N times nnlab's);
- KL (sparse autoencoders): β · Σⱼ KL(ρ ‖ ρ̂ⱼ) with ρ̂ⱼ = (1/N) Σₙ aₙⱼ the mean
  activation of unit j and KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂))
  (``kl_target=ρ``, ``kl_weight=β``; activations in (0, 1), e.g. after a sigmoid).

:func:`nnlab.train.fit` adds every such layer's penalty to the loss it
minimizes and reports (see :func:`with_activity_penalties`); in evaluation mode
nothing is recorded, so validation and test losses are the plain loss.

In a distributed run (:mod:`nnlab.distributed`) ρ̂ is the mean over the whole
global batch, all ranks' rows (one Allreduce of the column sums), so the KL
penalty and its gradient are those of one process with that batch; the L1
penalty is a mean over rows and adds up over the ranks as the loss does.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..errors import ConfigError
from ..tensor import as_tensor, make_result
from .module import Module
from .spec import register

__all__ = ["ActivityRegularization", "activity_penalty", "with_activity_penalties", "hidden_unit_statistics"]

_EPS = 1e-6  # ρ̂ is kept inside [ε, 1 − ε] so the logarithms stay finite


@register
class ActivityRegularization(Module):
    """Identity in the forward pass; in training mode ``self.penalty`` is the L1 and/or KL penalty of its input.

    >>> import nnlab
    >>> layer = ActivityRegularization(l1=0.5)
    >>> out = layer(nnlab.tensor([[1.0, -2.0], [0.0, 3.0]]))
    >>> float(layer.penalty.data)  # 0.5 * (3 + 3) / 2
    1.5
    """

    def __init__(self, l1: float = 0.0, kl_target=None, kl_weight: float = 0.0):
        super().__init__()
        self.l1 = check_float("l1", l1, 0.0, owner="ActivityRegularization")
        self.kl_weight = check_float("kl_weight", kl_weight, 0.0, owner="ActivityRegularization")
        if kl_target is None and self.kl_weight:
            raise ConfigError("ActivityRegularization: kl_weight needs kl_target, the target mean activation ρ")
        self.kl_target = None if kl_target is None else check_float(
            "kl_target", kl_target, 0.0, 1.0, low_open=True, high_open=True, owner="ActivityRegularization")
        self.penalty = None
        self.global_penalty = None  # the part of ``penalty`` read from the global batch's ρ̂ (distributed only)

    def forward(self, x):
        x = as_tensor(x)
        self.global_penalty = None
        self.penalty = self.penalty_of(x) if self.training and (self.l1 or self.kl_weight) else None
        return x

    def penalty_of(self, a):
        """The penalty Tensor of activations ``a`` (rows are samples), differentiable in ``a``."""
        n = a.shape[0]
        total = None
        if self.l1:
            total = a.abs().sum() * (self.l1 / n)
        if self.kl_weight:
            rho = self.kl_target
            rho_hat, is_global = _batch_mean(a.reshape(n, -1))
            rho_hat = rho_hat.clip(_EPS, 1 - _EPS)
            kl = (rho * np.log(rho) + (1 - rho) * np.log(1 - rho)
                  - rho * rho_hat.log() - (1 - rho) * (1 - rho_hat).log()).sum()
            kl = kl * self.kl_weight
            if is_global:  # the same value on every rank: the distributed loss weighs it apart from the rest
                self.global_penalty = kl
            total = kl if total is None else total + kl
        return total

    def _count_flops(self, shape):
        return 0, shape

    def spec_args(self) -> dict:
        return {"l1": self.l1, "kl_target": self.kl_target, "kl_weight": self.kl_weight}

    def extra_repr(self):
        parts = [f"l1={self.l1}"] if self.l1 else []
        if self.kl_weight:
            parts.append(f"kl_target={self.kl_target}, kl_weight={self.kl_weight}")
        return ", ".join(parts)


def _batch_mean(a):
    """``(mean over the rows of a, global)``: in a distributed run's sharded batch the mean over the global batch.

    ρ̂ is not a mean of per-row terms: a rank's own rows would give another ρ̂,
    and the KL of the ranks' ρ̂s is not the KL of the batch's.  So the column
    sums are all-reduced and divided by the global row count m; the backward
    hands each local row g/m, its share of the gradient of the one-process ρ̂.
    """
    from ..random import batch_shard

    shard = batch_shard()
    if shard is None:
        return a.mean(axis=0), False
    from ..distributed import comm as C

    if not C.is_active():
        return a.mean(axis=0), False
    m, lo, hi = shard
    X = a.data
    if X.shape[0] != hi - lo:
        raise ConfigError(f"distributed training: ActivityRegularization's KL penalty averages over the global batch "
                          f"and needs the batch on axis 0, but got an input of {X.shape[0]} rows while this rank "
                          f"holds {hi - lo}")
    sums = X.sum(axis=0, dtype=np.float64)
    C.sum_in_place(C.communicator(), [sums])
    dt = X.dtype.type
    inv = dt(1.0 / m)

    def backward(g):
        out = np.empty_like(X)
        out[...] = g * inv
        return (out,)

    return make_result((sums / m).astype(X.dtype), (a,), backward), True


def activity_penalty(model):
    """The sum of the penalties the model's ActivityRegularization layers recorded in its last forward pass (or None)."""
    total = None
    for m in model.modules():
        if isinstance(m, ActivityRegularization) and m.penalty is not None:
            total = m.penalty if total is None else total + m.penalty
    return total


def with_activity_penalties(loss, model):
    """``loss`` itself when ``model`` has no ActivityRegularization layer, else ``loss(output, y)`` + their penalties.

    The penalties are those of the forward pass that produced ``output``: call
    the returned function right after the model, as ``fit`` does.
    """
    layers = [m for m in model.modules() if isinstance(m, ActivityRegularization)]
    if not layers:
        return loss

    def penalized(output, target):
        total = loss(output, target)
        for layer in layers:
            if layer.penalty is not None:
                total = total + layer.penalty
        return total

    return penalized


def hidden_unit_statistics(activations, threshold: float = 0.01) -> dict:
    """What the notes say to inspect: sparsity across samples and features, and correlation between units.

    ``activations`` is (samples, units).  Returns ``fraction_near_zero`` (|a| <
    ``threshold`` · max|a| of the whole matrix), ``mean_abs_correlation`` (the mean
    |Pearson r| over all pairs of units that vary; constant units are left out and
    counted in ``dead_units``).

    >>> a = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    >>> stats = hidden_unit_statistics(a)
    >>> round(stats["fraction_near_zero"], 3), stats["dead_units"]
    (0.667, 0)
    """
    a = np.asarray(activations, dtype=np.float64).reshape(len(activations), -1)
    scale = float(np.abs(a).max()) or 1.0
    near_zero = float(np.mean(np.abs(a) < threshold * scale))
    live = a.std(axis=0) > 1e-12 * scale
    corr = np.corrcoef(a[:, live], rowvar=False) if live.sum() > 1 else np.ones((1, 1))
    pairs = np.abs(corr[np.triu_indices(len(corr), k=1)])
    return {"fraction_near_zero": near_zero, "mean_abs_correlation": float(pairs.mean()) if pairs.size else 0.0,
            "dead_units": int((~live).sum())}
