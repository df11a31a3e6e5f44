"""ReduceLROnPlateau as PyTorch's scheduler: ``step(metric)`` cuts every group's rate after a plateau.

Not the training callback of the same name (:class:`nnlab.train.ReduceLROnPlateau`),
which follows Keras (``min_delta``, the cut at the ``patience``-th bad epoch):
this one counts as PyTorch does -- the cut comes when *more than* ``patience``
epochs in a row were not better than the best by ``threshold`` (relative or
absolute) -- so a PyTorch training script gives the same rates.
"""

from __future__ import annotations

import copy
import math

from ..._checks import check_choice, check_float, check_int
from ...errors import ConfigError
from ._base import checked_optimizer, checked_state, per_group


class ReduceLROnPlateau:
    """Multiply each group's rate by ``factor`` (not below its ``min_lr``) when the metric stops improving.

    A cut smaller than ``eps`` is skipped.  ``mode`` "min" (a loss) or "max" (an
    accuracy); ``threshold_mode`` "rel" (better than best·(1 ∓ threshold)) or
    "abs" (best ∓ threshold).  ``cooldown`` epochs after a cut count no bad epochs.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8):
        owner = "ReduceLROnPlateau"
        self.optimizer = checked_optimizer(optimizer, owner)
        self.factor = check_float("factor", factor, 0.0, 1.0, high_open=True, owner=owner)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else check_float("min_lr", min_lr, low=0.0,
                                                                                         owner=owner)
        self.min_lrs = per_group("min_lr", min_lr, self.optimizer, owner, low=0.0)
        self.patience = check_int("patience", patience, 0, owner=owner)
        self.cooldown = check_int("cooldown", cooldown, 0, owner=owner)
        self.eps = check_float("eps", eps, low=0.0, owner=owner)
        self.mode = check_choice("mode", mode, ("min", "max"), owner=owner)
        self.threshold = check_float("threshold", threshold, low=0.0, owner=owner)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"), owner=owner)
        self.mode_worse = math.inf if self.mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _group_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric ``a`` beats ``best`` by the threshold (a NaN never does, and so counts as a bad epoch)."""
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics) -> None:
        """One epoch's metric (a number, or anything ``float()`` takes, such as a 0-d array)."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step takes the epoch's metric (a number), got {metrics!r}") from None
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown are not counted
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ConfigError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups, "
                                  f"min_lr {len(self.min_lrs)} values (a group was added?); set .min_lrs")
            self.min_lrs = [self.default_min_lr] * len(groups)
        rates = []
        for group, floor in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            rates.append(new if old - new > self.eps else group["lr"])
        self.optimizer.set_group_lrs(rates)

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (``best`` may be ±inf, which Python's json writes as ±Infinity)."""
        return {key: copy.deepcopy(value) for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict) -> None:
        vars(self).update(checked_state(self, state_dict))
