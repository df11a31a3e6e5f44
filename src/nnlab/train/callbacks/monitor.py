"""Watching one logged quantity: its best value, whether a new value improves on it, the epochs waited since.

The one place for best value, patience and mode (``min``/``max``, ``min_delta``):
:class:`Monitor`, which EarlyStopping, ReduceLROnPlateau, HalveOnRise and
Checkpoint share through :class:`MonitorCallback`.
"""

from __future__ import annotations

import math

from ..._checks import check_choice, check_float, check_int
from ...errors import ConfigError
from .base import Callback


_MAX_MODE_NAMES = ("accuracy", "acc", "auc", "f1", "precision", "recall")


def _auto_mode(key: str) -> str:
    """``"max"`` for an accuracy-like name, also a multi-task run's ``<metric>_<task>`` (``val_accuracy_parity``).

    A loss (``loss``, ``loss_<task>``) is minimized whatever its task is called.

    >>> [_auto_mode(k) for k in ("val_loss", "val_accuracy", "accuracy_parity", "val_top_5_accuracy_digit",
    ...                          "loss_accuracy", "val_mse_digit")]
    ['min', 'max', 'max', 'max', 'min', 'min']
    """
    bare = key[4:] if key.startswith("val_") else key
    if bare == "loss" or bare.startswith("loss_"):
        return "min"
    words = bare.split("_")
    heads = ("_".join(words[:i]) for i in range(len(words), 0, -1))  # the metric's name leads a task's key
    return "max" if any(h in _MAX_MODE_NAMES or h.endswith("accuracy") for h in heads) else "min"


class Monitor:
    """One logged quantity watched across epochs: best value, epoch of the best, epochs since.

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names,
    ``<metric>_<task>`` ones included, min otherwise). A value improves on a reference when it is better by more
    than ``min_delta``; NaN never improves, and is worse than any number.

    >>> m = Monitor("val_loss", patience=2)
    >>> [m.update({"val_loss": v}) for v in (1.0, 0.5, 0.7, 0.6)]
    [True, True, False, False]
    >>> m.best, m.best_epoch, m.wait, m.exhausted
    (0.5, 1, 2, True)
    """

    def __init__(self, key: str = "val_loss", mode: str = "auto", min_delta: float = 0.0, patience: int = 0,
                 baseline: float | None = None, owner: str = "callback"):
        check_choice("mode", mode, ("auto", "min", "max"), owner=owner)
        patience = check_int("patience", patience, minimum=0, owner=owner)
        min_delta = check_float("min_delta", min_delta, low=0.0, owner=owner)
        if baseline is not None:
            baseline = check_float("baseline", baseline, allow_inf=True, owner=owner)
        if mode == "auto":
            mode = _auto_mode(key)
        self.key = key
        self.mode = mode
        self.min_delta = min_delta
        self.patience = patience
        self.baseline = baseline
        self.owner = owner
        self.reset()

    def reset(self) -> None:
        worst = math.inf if self.mode == "min" else -math.inf
        self.best = worst if self.baseline is None else float(self.baseline)
        self.best_epoch = None
        self.wait = 0
        self.epochs_seen = 0

    def value(self, logs) -> float:
        """The watched value in ``logs``, or a ConfigError naming the keys that are there."""
        if not logs or self.key not in logs:
            available = ", ".join(logs or ()) or "none"
            hint = " (pass val_data to fit for val_ metrics)" if self.key.startswith("val_") else ""
            raise ConfigError(f"{self.owner} monitors {self.key!r}, which is not logged{hint}; logged: {available}")
        return float(logs[self.key])

    def improves(self, current: float, reference: float) -> bool:
        """Whether ``current`` is better than ``reference`` by more than ``min_delta``."""
        if math.isnan(current):
            return False
        if math.isnan(reference):
            return True
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def worse(self, current: float, reference: float) -> bool:
        """Whether ``current`` is worse than ``reference`` by more than ``min_delta`` (NaN after a number is)."""
        if math.isnan(current):
            return not math.isnan(reference)
        if math.isnan(reference):
            return False
        if self.mode == "min":
            return current > reference + self.min_delta
        return current < reference - self.min_delta

    def update(self, logs, epoch: int | None = None) -> bool:
        """Record this epoch's value; return whether it is a new best (resets the wait) or not (wait + 1)."""
        current = self.value(logs)
        epoch = self.epochs_seen if epoch is None else epoch
        self.epochs_seen += 1
        if self.improves(current, self.best):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def exhausted(self) -> bool:
        """True once ``patience`` epochs in a row have brought no improvement."""
        return self.wait >= self.patience


class MonitorCallback(Callback):
    """A callback driven by a :class:`Monitor`, reset at the start of each training run.

    When ``fit`` announces the keys it will log (``params["metrics"]``), a monitored
    key that will never appear is reported before training starts.
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0, patience=0, baseline=None):
        self.monitor = Monitor(monitor, mode, min_delta, patience, baseline, owner=type(self).__name__)

    @property
    def uses_monitor(self) -> bool:
        return True

    def on_train_begin(self, logs=None):
        self.monitor.reset()
        keys = self.params.get("metrics")
        if self.uses_monitor and keys is not None:
            self.monitor.value(dict.fromkeys(keys, 0.0))
