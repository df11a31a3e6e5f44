"""Learning-rate and momentum rules: schedules applied per epoch or step, and the plateau rules.

A schedule (:mod:`nnlab.optim.schedules`) is a pure function of the epoch or
step; these callbacks apply it. They change the optimizer only through its
public setters (``optimizer.lr = x``, ``optimizer.set_group_lrs``, ``optimizer.scale_lr``,
``optimizer.set_momentum``), which validate the value.
"""

from __future__ import annotations

import math

from ..._checks import check_choice, check_float, check_int
from ...errors import ConfigError
from .base import Callback
from .monitor import MonitorCallback


def get_lr(optimizer) -> float:
    """The optimizer's learning rate (its first group's); NaN while it has none.

    A :class:`~nnlab.optim.LineSearch` has no rate before its first step, nor after
    a step where every candidate's loss was NaN (it stays put): the epoch's logs
    then record NaN, as for any value that could not be computed.
    """
    lr = getattr(optimizer, "lr", None)
    if lr is None:
        lr = optimizer.param_groups[0]["lr"]
    return math.nan if lr is None else float(lr)


class LearningRateScheduler(Callback):
    """Set the rate to ``schedule(t)`` before each epoch (t = 0-based epoch) or each step (t = global step).

    ``schedule`` is a pure function from :mod:`nnlab.optim.schedules` or any
    callable, and gives the rate itself, as Keras's ``LearningRateScheduler``:
    the first parameter group's rate is ``schedule(t)``.  Other groups keep the
    ratio to the first they had when training began, η_k = schedule(t)·η_k(0)/η_0(0)
    (PyTorch's ``LambdaLR`` with the factor schedule(t)/η_0(0)), so a head
    trained at a tenth of the body's rate stays at a tenth.  If the first
    group's rate was 0 there is no ratio, and every group gets ``schedule(t)``.
    The optimizer checks each value (finite, >= 0); a refused value is
    reported with the ``t`` that gave it.
    """

    setting = "lr"  # what the schedule sets, for messages

    def __init__(self, schedule, per: str = "epoch"):
        owner = type(self).__name__
        if not callable(schedule):
            raise ConfigError(f"{owner} needs a callable schedule(t) -> {self.setting}, got {schedule!r}")
        self.schedule = schedule
        self.per = check_choice("per", per, ("epoch", "step"), owner=owner)
        self.step = 0
        self.ratios = None  # each group's rate over the first group's, from the first value set in a run

    def on_train_begin(self, logs=None):
        self.step, self.ratios = 0, None

    def _set(self, value) -> None:
        groups = self.optimizer.param_groups
        if self.ratios is None or len(self.ratios) != len(groups):  # (a group added since: ratios of now)
            rates = [group.get("lr") for group in groups]
            # no ratio to keep when the first rate is 0, nor for a LineSearch (no rate; its setter says so)
            self.ratios = [1.0] * len(groups) if None in rates or not rates[0] else [r / rates[0] for r in rates]
        if all(ratio == 1.0 for ratio in self.ratios):
            self.optimizer.lr = value
        else:
            value = check_float("lr", value, low=0.0, owner=type(self).__name__)
            self.optimizer.set_group_lrs([value * ratio for ratio in self.ratios])

    def _apply(self, t):
        value = self.schedule(t)
        try:
            self._set(value)
        except ConfigError as exc:
            raise ConfigError(f"{type(self).__name__}: cannot set {self.setting} to the schedule's {value!r} "
                              f"at t={t}: {exc}") from None

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

    setting = "momentum"

    def _set(self, value) -> None:
        # The optimizer checks the value ([0, 1)) and that it has a momentum at all (Adam has not).
        self.optimizer.set_momentum(value)


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
        self.factor = check_float("factor", factor, 0.0, 1.0, low_open=True, high_open=True, owner="HalveOnRise")
        self.min_lr = check_float("min_lr", min_lr, low=0.0, owner="HalveOnRise")
        self.previous = None
        self.reductions = []  # 0-based epochs after which the rate was cut

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.previous = None
        self.reductions = []

    def on_epoch_end(self, epoch, logs=None):
        current = self.monitor.value(logs)
        if self.previous is not None and self.monitor.worse(current, self.previous):
            self.optimizer.scale_lr(self.factor, self.min_lr)
            self.reductions.append(epoch)
        self.previous = current


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without a new best value.

    Compared with the *best* value so far, with patience -- unlike
    :class:`HalveOnRise`, which reacts to any rise over the previous epoch. After a
    cut the wait starts again; ``cooldown`` epochs after a cut are not counted.
    Every group's rate is multiplied, so their ratios stay.

    The count is Keras's ``ReduceLROnPlateau``: the cut comes at the
    ``patience``-th epoch in a row without a new best.  PyTorch's scheduler of
    the same name cuts one epoch later (when more than ``patience`` epochs were
    bad): its ``patience=p`` is ``patience=p + 1`` here.
    """

    def __init__(self, monitor="val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 0.0,
                 mode="auto", cooldown: int = 0, min_lr: float = 0.0):
        super().__init__(monitor, mode, min_delta, patience)
        owner = "ReduceLROnPlateau"
        self.factor = check_float("factor", factor, 0.0, 1.0, low_open=True, high_open=True, owner=owner)
        self.cooldown = check_int("cooldown", cooldown, minimum=0, owner=owner)
        self.min_lr = check_float("min_lr", min_lr, low=0.0, owner=owner)
        self._cooldown_left = 0
        self.reductions = []

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._cooldown_left = 0
        self.reductions = []

    def on_epoch_end(self, epoch, logs=None):
        improved = self.monitor.update(logs, epoch)
        if self._cooldown_left > 0:  # a cooldown epoch is not counted, and never cuts (even with patience 0)
            self._cooldown_left -= 1
            self.monitor.wait = 0
            return
        if not improved and self.monitor.exhausted:
            self.optimizer.scale_lr(self.factor, self.min_lr)
            self.reductions.append(epoch)
            self.monitor.wait = 0
            self._cooldown_left = self.cooldown

