"""BatchNorm over the global batch: the statistics summed over the ranks (an option; local statistics are the default).

By default each rank normalizes with its own chunk's mean and variance (as
PyTorch's DistributedDataParallel does), so a run on K ranks differs from one
process with the K-fold batch exactly where BatchNorm is.  :func:`convert_sync_batchnorm`
makes every BatchNorm of a model a :class:`SyncBatchNorm`, which all-reduces
the per-feature sums -- forward: Σx, then Σ(x − μ)²; backward: Σg and Σg·(x − μ),
one Allreduce each -- so the run equals the one-process run again.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..nn.normalization import BatchNorm, BatchNorm1d, BatchNorm2d
from ..tensor import is_grad_enabled, make_result
from . import comm as C


def sync_batch_norm(x, gamma, beta, running_mean, running_var, momentum, eps, comm):
    """:func:`nnlab.ops.fused.batch_norm` in training mode with μ, σ² and the backward's sums over all ranks.

    With n the global row count: μ = Σ_ranks Σx / n, σ² = Σ_ranks Σ(x − μ)² / n,
    y = γ(x − μ)/√(σ² + ε) + β; backward with s = 1/√(σ² + ε):
    dx = γs·(g − Σ_ranks Σg/n − (x − μ)·s²·Σ_ranks Σg·(x − μ)/n), while dγ and dβ
    stay this rank's (the optimizer's all-reduce sums them with the other gradients).
    """
    X = x.data
    Cf = X.shape[-1]
    X2 = X.reshape(-1, Cf)
    dt = X.dtype.type
    ones = np.ones(X2.shape[0], dtype=X.dtype)
    sums = np.empty(Cf + 1, dtype=np.float64)
    sums[:Cf], sums[Cf] = ones @ X2, X2.shape[0]
    C.sum_in_place(comm, [sums])
    n = sums[Cf]
    mu = (sums[:Cf] / n).astype(X.dtype)
    xc = X2 - mu
    squares = (ones @ np.square(xc)).astype(np.float64)
    C.sum_in_place(comm, [squares])
    var = (squares / n).astype(X.dtype)
    inv = 1 / np.sqrt(var + dt(eps))
    m = dt(momentum)
    running_mean *= 1 - m
    running_mean += m * mu
    running_var *= 1 - m
    running_var += (m * dt(n / (n - 1))) * var
    scale = gamma.data * inv
    out = xc * scale + beta.data
    inv_n = 1.0 / n

    def backward(g):
        g2 = g.reshape(-1, Cf)
        local = np.empty(2 * Cf, dtype=np.float64)
        local[:Cf], local[Cf:] = ones @ g2, ones @ (g2 * xc)
        g_beta, g_gamma = local[:Cf].astype(X.dtype), (local[Cf:] * inv).astype(X.dtype)
        C.sum_in_place(comm, [local])
        total_g, total_dot = local[:Cf].astype(X.dtype), local[Cf:].astype(X.dtype)
        gX = (g2 - total_g * dt(inv_n) - xc * ((inv * inv) * total_dot * dt(inv_n))) * scale
        return gX.reshape(X.shape), g_gamma, g_beta

    recording = is_grad_enabled() and (x.requires_grad or gamma.requires_grad or beta.requires_grad)
    if not recording:
        return make_result(out.reshape(X.shape), (x, gamma, beta), None)
    return make_result(out.reshape(X.shape), (x, gamma, beta), backward)


class SyncBatchNorm(BatchNorm):
    """A :class:`~nnlab.nn.BatchNorm` whose training statistics are those of the global batch (all ranks).

    Synchronization is a way of training, not part of the model: a model file
    (``nnlab.save``, a Checkpoint during training) names it BatchNorm.
    """

    saved_as = BatchNorm

    def _normalize(self, x, relu=False):
        if not self.training or not C.is_active():
            return super()._normalize(x, relu)
        out = sync_batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var, self.momentum,
                              self.eps, C.communicator())
        return F.relu(out) if relu else out


class SyncBatchNorm1d(SyncBatchNorm, BatchNorm1d):
    """A :class:`~nnlab.nn.BatchNorm1d` synchronized as :class:`SyncBatchNorm` (its rank check kept); saved as BatchNorm1d."""

    saved_as = BatchNorm1d


class SyncBatchNorm2d(SyncBatchNorm, BatchNorm2d):
    """A :class:`~nnlab.nn.BatchNorm2d` synchronized as :class:`SyncBatchNorm`; saved as BatchNorm2d."""

    saved_as = BatchNorm2d


_SYNCED = {BatchNorm: SyncBatchNorm, BatchNorm1d: SyncBatchNorm1d, BatchNorm2d: SyncBatchNorm2d}
_UNSYNCED = {synced: plain for plain, synced in _SYNCED.items()}


def convert_sync_batchnorm(model):
    """Turn every BatchNorm of ``model`` into a :class:`SyncBatchNorm` in place (same parameters); returns ``model``.

    >>> from nnlab import nn
    >>> model = convert_sync_batchnorm(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm(3)))
    >>> type(model[1]).__name__
    'SyncBatchNorm'
    """
    for module in model.modules():
        if type(module) in _SYNCED:
            object.__setattr__(module, "__class__", _SYNCED[type(module)])  # Module.__setattr__ would register it
    return model


def revert_sync_batchnorm(model):
    """Turn every :class:`SyncBatchNorm` back into a plain BatchNorm (after training: the model then normalizes
    each batch with its own statistics again, as a saved and loaded one does); returns ``model``.

    >>> from nnlab import nn
    >>> type(revert_sync_batchnorm(convert_sync_batchnorm(nn.BatchNorm(3)))).__name__
    'BatchNorm'
    """
    for module in model.modules():
        if type(module) in _UNSYNCED:
            object.__setattr__(module, "__class__", _UNSYNCED[type(module)])
    return model
