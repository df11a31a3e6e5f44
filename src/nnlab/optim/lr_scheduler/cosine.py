"""Cosine annealing (Loshchilov & Hutter's SGDR): CosineAnnealingLR and CosineAnnealingWarmRestarts, as PyTorch's.

The half-cosine itself is :func:`nnlab.optim.schedules.cosine_between`, the one
formula nnlab has for it.
"""

from __future__ import annotations

import math

from ..._checks import check_float, check_int
from ..schedules import cosine_between
from ._base import LRScheduler


class CosineAnnealingLR(LRScheduler):
    """η = η_min + (initial_lr − η_min)·(1 + cos(π·last_epoch/T_max))/2, computed step by step as PyTorch does.

    Beyond ``T_max`` the rate climbs back up (a cosine of period 2·T_max), as in
    PyTorch; for a restart at each period use :class:`CosineAnnealingWarmRestarts`.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = check_int("T_max", T_max, 1, owner="CosineAnnealingLR")
        self.eta_min = check_float("eta_min", eta_min, low=0.0, owner="CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, period, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and t > 0:  # resumed with last_epoch > 0: nothing to recurse from
            return [cosine_between(base, low, t, period) for base in self.base_lrs]
        groups = self.optimizer.param_groups
        if (t - 1 - period) % (2 * period) == 0:  # the bottom: the ratio below would divide by 1 + cos(π) = 0
            return [group["lr"] + (base - low) * (1 - math.cos(math.pi / period)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
                * (group["lr"] - low) + low for group in groups]

    def _get_closed_form_lr(self):
        return [cosine_between(base, self.eta_min, self.last_epoch, self.T_max) for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """η = η_min + (initial_lr − η_min)·(1 + cos(π·T_cur/T_i))/2, restarting (T_cur = 0) after T_i steps.

    The periods are T_0, T_0·T_mult, T_0·T_mult², ...  ``step(epoch)`` takes a
    fractional epoch too (a step within an epoch), as in PyTorch (and without
    the deprecation warning of the other schedulers' ``step(epoch)``).
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        owner = "CosineAnnealingWarmRestarts"
        self.T_0 = check_int("T_0", T_0, 1, owner=owner)
        self.T_i = self.T_0
        self.T_mult = check_int("T_mult", T_mult, 1, owner=owner)
        self.eta_min = check_float("eta_min", eta_min, low=0.0, owner=owner)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [cosine_between(base, self.eta_min, self.T_cur, self.T_i) for base in self.base_lrs]

    def step(self, epoch=None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            check_float("epoch", epoch, low=0.0, owner="CosineAnnealingWarmRestarts")  # an int stays an int
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._write(self.get_lr())
