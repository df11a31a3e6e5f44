"""Learning-rate and momentum rules: schedules applied per epoch or step, and the plateau rules.

A schedule (:mod:`nnlab.optim.schedules`) is a pure function of the epoch or
step; these callbacks apply it. They change the optimizer only through its
public setters (``optimizer.lr = x``, ``optimizer.scale_lr``,
``optimizer.set_momentum``), which validate the value.
"""

from __future__ import annotations

import math

from ...errors import ConfigError
from .base import Callback
from .monitor import MonitorCallback


def get_lr(optimizer) -> float:
    """The optimizer's learning rate (its first group's)."""
    lr = getattr(optimizer, "lr", None)
    if lr is None:
        lr = optimizer.param_groups[0]["lr"]
    return float(lr)


def set_lr(optimizer, value: float) -> None:
    """Set the learning rate of every parameter group."""
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"a learning rate must be a finite number >= 0, got {value}")
    for group in optimizer.param_groups:
        group["lr"] = value


def scale_lr(optimizer, factor: float, min_lr: float = 0.0) -> None:
    """Multiply every group's learning rate by ``factor`` (keeping ratios between groups), not below ``min_lr``.

    A rate already below ``min_lr`` is left alone: the floor never raises a rate.
    """
    for group in optimizer.param_groups:
        lr = group["lr"]
        group["lr"] = max(lr * factor, min(min_lr, lr))


_PER = ("epoch", "step")


def _check_per(per, owner):
    if per not in _PER:
        raise ConfigError(f"{owner}: per must be 'epoch' or 'step', got {per!r}")
    return per


class LearningRateScheduler(Callback):
    """Set ``optimizer.lr = schedule(t)`` before each epoch (t = 0-based epoch) or each step (t = global step).

    ``schedule`` is a pure function from :mod:`nnlab.optim.schedules` or any callable.
    """

    def __init__(self, schedule, per: str = "epoch"):
        if not callable(schedule):
            raise ConfigError(f"LearningRateScheduler needs a callable schedule(t) -> lr, got {schedule!r}")
        self.schedule = schedule
        self.per = _check_per(per, "LearningRateScheduler")
        self.step = 0

    def on_train_begin(self, logs=None):
        self.step = 0

    def _apply(self, t):
        set_lr(self.optimizer, self.schedule(t))

    def on_epoch_begin(self, epoch, logs=None):
        if self.per == "epoch":
            self._apply(epoch)

    def on_batch_begin(self, batch, logs=None):
        self._apply(self.step)
        self.step += 1

    def wants_batch_hooks(self) -> bool:
        return self.per == "step"


class MomentumScheduler(LearningRateScheduler):
    """Set each parameter group's ``"momentum"`` to ``schedule(t)``, per epoch or per step.

    The seeds' advice (momentum 0.5 until learning stabilizes, then 0.9) is a
    momentum schedule from :mod:`nnlab.optim.schedules` applied with this.
    """

    def __init__(self, schedule, per: str = "epoch"):
        super().__init__(schedule, per)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not any("momentum" in g for g in self.optimizer.param_groups):
            raise ConfigError(
                f"MomentumScheduler: {type(self.optimizer).__name__} has no 'momentum' setting to schedule "
                "(use SGD with momentum)"
            )

    def _apply(self, t):
        value = float(self.schedule(t))
        if not (math.isfinite(value) and 0 <= value < 1):
            raise ConfigError(f"MomentumScheduler: momentum must be in [0, 1), the schedule gave {value} at t={t}")
        for group in self.optimizer.param_groups:
            if "momentum" in group:
                group["momentum"] = value


class HalveOnRise(MonitorCallback):
    """The seeds' step decay: halve the learning rate after an epoch whose validation error rose.

    "Halve the learning rate after an epoch if the validation error is more than
    what it was at the end of the previous epoch": the comparison is with the
    previous epoch, not the best (contrast :class:`ReduceLROnPlateau`). ``factor``
    multiplies every group's rate (0.5 halves it); ``min_lr`` is a floor.
    """

    def __init__(self, monitor="val_loss", factor: float = 0.5, min_delta: float = 0.0, mode="auto",
                 min_lr: float = 0.0):
        super().__init__(monitor, mode, min_delta)
        self.factor = _check_factor(factor, "HalveOnRise")
        self.min_lr = float(min_lr)
        self.previous = None
        self.reductions = []  # 0-based epochs after which the rate was cut

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.previous = None
        self.reductions = []

    def on_epoch_end(self, epoch, logs=None):
        current = self.monitor.value(logs)
        if self.previous is not None and self.monitor.worse(current, self.previous):
            scale_lr(self.optimizer, self.factor, self.min_lr)
            self.reductions.append(epoch)
        self.previous = current


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without a new best value.

    Compared with the *best* value so far, with patience -- unlike
    :class:`HalveOnRise`, which reacts to any rise over the previous epoch. After a
    cut the wait starts again; ``cooldown`` epochs after a cut are not counted.
    """

    def __init__(self, monitor="val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 0.0,
                 mode="auto", cooldown: int = 0, min_lr: float = 0.0):
        super().__init__(monitor, mode, min_delta, patience)
        self.factor = _check_factor(factor, "ReduceLROnPlateau")
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._cooldown_left = 0
        self.reductions = []

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._cooldown_left = 0
        self.reductions = []

    def on_epoch_end(self, epoch, logs=None):
        improved = self.monitor.update(logs, epoch)
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            self.monitor.wait = 0
        if not improved and self.monitor.exhausted:
            scale_lr(self.optimizer, self.factor, self.min_lr)
            self.reductions.append(epoch)
            self.monitor.wait = 0
            self._cooldown_left = self.cooldown


def _check_factor(factor, owner):
    if not (isinstance(factor, int | float) and 0 < factor < 1):
        raise ConfigError(f"{owner}: factor must be between 0 and 1 (exclusive), got {factor!r}")
    return float(factor)

