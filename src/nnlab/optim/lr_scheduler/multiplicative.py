"""The schedules that multiply the initial rates: LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR,
LinearLR, ExponentialLR, PolynomialLR -- PyTorch's arithmetic, step by step.

Each ``get_lr`` is PyTorch's chainable form (the next rate from the group's
current one: a factor per step), so its values are PyTorch's bit for bit and
two schedulers on one optimizer compose; ``_get_closed_form_lr`` is the rate
straight from ``initial_lr`` and ``last_epoch`` (``step(epoch)``, and what
``SequentialLR`` uses at a milestone).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter

from ..._checks import check_float, check_int
from ...errors import ConfigError
from .. import schedules
from ._base import CallableScheduler, LRScheduler, checked_state


class LambdaLR(CallableScheduler):
    """η = initial_lr · lr_lambda(last_epoch), one lambda for all groups or one per group.

    The lambdas are not saved (a lambda is code, not data): a function saves
    None and an object with attributes a copy of them, as PyTorch does.
    """

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(CallableScheduler):
    """η ← η · lr_lambda(last_epoch) at each step after the first."""

    def get_lr(self):
        if self._is_initial:
            return self._group_lrs()
        return [group["lr"] * fn(self.last_epoch) for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    """η = initial_lr · gamma^⌊last_epoch/step_size⌋ (:func:`nnlab.optim.schedules.step_decay`)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = check_int("step_size", step_size, 1, owner="StepLR")
        self.gamma = check_float("gamma", gamma, low=0.0, owner="StepLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [schedules.step_decay(base, self.gamma, self.step_size)(self.last_epoch) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """η = initial_lr · gamma^(number of milestones <= last_epoch); a milestone given twice counts twice."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise ConfigError(f"MultiStepLR: milestones must be a list of epochs (integers >= 0), got {milestones!r}")
        self.milestones = Counter(check_int("milestones[]", m, 0, owner="MultiStepLR") for m in milestones)
        self.gamma = check_float("gamma", gamma, low=0.0, owner="MultiStepLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch) for base in self.base_lrs]

    def state_dict(self):
        # a Counter's int keys would come back from JSON as strings: the milestones are saved as a sorted list
        return {**super().state_dict(), "milestones": sorted(self.milestones.elements())}

    def load_state_dict(self, state_dict):
        state = checked_state(self, state_dict)
        state["milestones"] = Counter(check_int("milestones[]", m, 0, owner="MultiStepLR") for m in state["milestones"])
        vars(self).update(state)


class ConstantLR(LRScheduler):
    """η = initial_lr · factor until ``total_iters``, then initial_lr."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        # factor 0 would divide by zero at total_iters (PyTorch fails there, later)
        self.factor = check_float("factor", factor, 0.0, 1.0, low_open=True, owner="ConstantLR")
        self.total_iters = check_int("total_iters", total_iters, 0, owner="ConstantLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return self._group_lrs()
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """η = initial_lr · (s + (e − s)·min(last_epoch, total_iters)/total_iters): from factor s to e, linearly."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1):
        self.start_factor = check_float("start_factor", start_factor, 0.0, 1.0, low_open=True, owner="LinearLR")
        self.end_factor = check_float("end_factor", end_factor, 0.0, 1.0, owner="LinearLR")
        self.total_iters = check_int("total_iters", total_iters, 1, owner="LinearLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        rise = self.end_factor - self.start_factor
        factor = 1.0 + rise / (self.total_iters * self.start_factor + (self.last_epoch - 1) * rise)
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        rise = self.end_factor - self.start_factor
        return [base * (self.start_factor + rise * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """η = initial_lr · gamma^last_epoch.

    PyTorch's γ^t, not :func:`~nnlab.optim.schedules.exponential_decay`'s e^(−k·t)
    (the same curve for k = −ln γ, but other last bits).
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = check_float("gamma", gamma, low=0.0, owner="ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._group_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """η = initial_lr · (1 − min(last_epoch, total_iters)/total_iters)^power: to 0 at ``total_iters``."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters = check_int("total_iters", total_iters, 1, owner="PolynomialLR")
        # a negative power would divide by zero at total_iters
        self.power = check_float("power", power, low=0.0, owner="PolynomialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        total = self.total_iters
        decay = ((1.0 - self.last_epoch / total) / (1.0 - (self.last_epoch - 1) / total)) ** self.power
        return [group["lr"] * decay for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        left = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * left ** self.power for base in self.base_lrs]
