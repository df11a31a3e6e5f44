"""Divergence: training that blows up while the loss stays finite is stopped, with the last good epoch's weights."""

from __future__ import annotations

import math

import numpy as np

from ..._checks import check_bool, check_float, check_int
from .base import Callback


class DivergenceGuard(Callback):
    """Stop when the monitored loss stays above ``factor`` × the initial loss for ``patience`` epochs in a row,
    or when a parameter becomes NaN or infinite; put back the weights of the last good epoch.

    A NaN loss is TerminateOnNaN's to catch; this catches what it cannot: Adam at
    lr 1e6 reaches a validation loss of 1e18 with every value finite, and would
    otherwise run all its epochs and return a chance-level model.  An epoch is
    *good* when its loss is at most ``factor`` × the reference (the first
    batch's loss, before any update) and every parameter is finite; the good epoch's ``state_dict`` is kept
    (one copy), and loaded back when the guard stops training, before any later
    callback (a Checkpoint) writes the model.  ``message`` names that epoch
    (1-based), ``good_epoch`` is 0-based.  ``fit`` adds one by default
    (``divergence=``).  With ``restore_on_nonfinite=True`` an epoch whose loss is
    NaN or infinite (which TerminateOnNaN stops mid-epoch) also ends with the last
    good epoch's weights rather than those from before the bad batch: ``nnlab
    train`` does so, so its model file holds a whole good epoch in both cases.

    >>> guard = DivergenceGuard(factor=10, patience=2)
    >>> guard.factor, guard.patience
    (10.0, 2)
    """

    def __init__(self, monitor: str = "loss", factor: float = 1e3, patience: int = 3,
                 restore_on_nonfinite: bool = False):
        self.monitor = monitor
        self.restore_on_nonfinite = check_bool("restore_on_nonfinite", restore_on_nonfinite, owner="DivergenceGuard")
        self.factor = check_float("factor", factor, low=1.0, low_open=True, owner="DivergenceGuard")
        self.patience = check_int("patience", patience, minimum=1, owner="DivergenceGuard")
        self.reference = None
        self.wait = 0
        self.good_epoch = None
        self.good_state = None
        self.message = None

    def on_train_begin(self, logs=None):
        # Until an epoch ends well, the weights to go back to are the ones training started from.
        self.reference, self.wait, self.good_epoch, self.message = None, 0, None, None
        self.good_state = self.model.state_dict()

    def on_batch_end(self, batch, logs=None):
        # The initial loss: the first batch's, computed before its update changed anything.
        if self.reference is None and math.isfinite((logs or {}).get("loss", math.nan)):
            self.reference = logs["loss"]

    def wants_batch_hooks(self) -> bool:
        return self.reference is None  # only until the first finite batch loss

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor, (logs or {}).get("loss"))
        state = self.model.state_dict()
        broken = [k for k, v in state.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
        if value is None or not math.isfinite(value):
            if value is not None and self.restore_on_nonfinite:
                self.model.load_state_dict(self.good_state)
            return  # stopping on a non-finite loss is TerminateOnNaN's case
        too_high = self.reference is not None and value > self.factor * max(self.reference, 1e-12)
        if not broken and not too_high:
            self.wait, self.good_epoch, self.good_state = 0, epoch, state
            return
        self.wait += 1
        if not broken and self.wait < self.patience:
            return
        self.stop_training = True
        why = (f"parameters {', '.join(broken[:3])} became non-finite" if broken else
               f"{self.monitor} stayed above {self.factor:g} x the initial loss ({self.reference:.4g}) for "
               f"{self.wait} epochs (now {value:.4g})")
        self.model.load_state_dict(self.good_state)
        kept = ("no epoch ended well, so the initial weights were restored" if self.good_epoch is None else
                f"the weights of epoch {self.good_epoch + 1}, the last good one, were restored")
        self.message = f"training diverged at epoch {epoch + 1}: {why}; {kept}"
