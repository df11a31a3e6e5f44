"""Stopping rules: :class:`EarlyStopping` (patience on a monitored value) and :class:`TerminateOnNaN`."""

from __future__ import annotations

import warnings

import numpy as np

from .base import Callback
from .monitor import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop when ``patience`` epochs in a row bring no improvement, and return the best epoch's weights.

    The seeds' rule: track the validation error with patience p; at step k with no
    improvement in the previous p steps, stop and return the model stored at step
    k - p. With ``restore_best_weights`` (the default) the best epoch's
    ``state_dict`` is kept and loaded back when training ends, also when it ends
    by running out of epochs. ``stopped_epoch`` and ``best_epoch`` are 0-based.
    """

    def __init__(self, monitor="val_loss", patience: int = 5, min_delta: float = 0.0, mode="auto",
                 restore_best_weights: bool = True, baseline=None):
        super().__init__(monitor, mode, min_delta, patience, baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.best_weights = None
        self.stopped_epoch = None

    @property
    def best_epoch(self):
        return self.monitor.best_epoch

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best_weights = None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor.update(logs, epoch):
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
        elif self.monitor.exhausted:
            self.stopped_epoch = epoch
            self.stop_training = True

    @property
    def message(self):
        """Why training stopped (None if it did not stop early)."""
        if self.stopped_epoch is None:
            return None
        m = self.monitor
        best = "no finite value" if m.best_epoch is None else f"best {m.best:.6g} at epoch {m.best_epoch + 1}"
        kept = f"; restored epoch {m.best_epoch + 1}'s weights" if self.best_weights is not None else ""
        return (f"EarlyStopping: {m.key} did not improve for {m.patience} epochs ({best}), "
                f"stopped after epoch {self.stopped_epoch + 1}{kept}")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, keeping the last good weights.

    The loop asks before the update (see :meth:`Callback.on_nonfinite_loss`), so
    the bad batch never changes the parameters. If they are already non-finite
    (a finite loss with an overflowing gradient broke them one update earlier),
    the weights from the start of the epoch are restored. ``message`` names the
    epoch and batch (1-based) and is issued as a RuntimeWarning.
    """

    def __init__(self):
        self.message = None
        self._epoch_start = None

    def on_train_begin(self, logs=None):
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.model.state_dict()

    def on_nonfinite_loss(self, epoch, batch, loss):
        self.stop_training = True
        state = self.model.state_dict()
        broken = [name for name, value in state.items()
                  if value.dtype.kind == "f" and not np.isfinite(value).all()]
        if broken and self._epoch_start is not None:
            self.model.load_state_dict(self._epoch_start)
            kept = (f"parameters {', '.join(broken[:3])}{'...' if len(broken) > 3 else ''} were already "
                    f"non-finite, so the weights from the start of epoch {epoch + 1} were restored")
        else:
            kept = "the weights from before that batch were kept"
        self.message = (f"non-finite loss ({loss}) at epoch {epoch + 1}, batch {batch + 1}: "
                        f"training stopped; {kept}")
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)

    def on_train_end(self, logs=None):
        self._epoch_start = None

