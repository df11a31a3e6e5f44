"""TensorBoard event files of a run, written through tensorboardX (``pip install 'nnlab[tensorboard]'``).

tensorboardX is imported when training begins, not when nnlab is, so it stays an
optional extra.  View the files with ``tensorboard --logdir <log_dir>``.
"""

from __future__ import annotations

import math
import numbers
import os
import time

import numpy as np

from ..._checks import check_bool, check_int
from ...errors import ConfigError
from .base import Callback


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a ``logs`` key: training and validation values side by side, one group per kind.

    >>> [scalar_tag(k) for k in ("loss", "val_accuracy", "lr", "diag/0.Linear/grad_norm")]
    ['train/loss', 'val/accuracy', 'optimizer/lr', 'diagnostics/0.Linear/grad_norm']
    """
    if key == "lr":
        return "optimizer/lr"
    if key.startswith("diag/"):
        return "diagnostics/" + key[len("diag/"):]
    if key.startswith("val_"):
        return "val/" + key[len("val_"):]
    return "train/" + key


MISSING = "TensorBoard logging needs the tensorboardX package: pip install 'nnlab[tensorboard]'"


def writer_installed() -> bool:
    """Whether tensorboardX can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("tensorboardX") is not None


class TensorBoard(Callback):
    """Write every numeric value of the epoch's ``logs`` as a scalar, and weight and gradient histograms.

    Scalars (step = the 0-based epoch): the losses and metrics (``train/...``,
    ``val/...``), the learning rate (``optimizer/lr``) and, when a diagnostics
    callback runs before this one, its per-layer statistics (``diagnostics/...``);
    non-finite values are left out.  Every ``histogram_every`` epochs: each
    parameter's values (``weights/<name>``) and its gradient from the epoch's last
    batch (``gradients/<name>``), their finite elements only (none: no histogram),
    in tensorboardX's standard buckets with the outer ones widened to the extremes.  ``batch_loss=True`` adds the loss of every batch
    (``batch/loss``, step = global batch number), at the cost of a hook per batch.

    >>> board = TensorBoard("runs/demo/tensorboard", histogram_every=5)
    >>> board.log_dir, board.histogram_every
    ('runs/demo/tensorboard', 5)
    """

    writes_files = True  # a distributed run keeps it on rank 0 only (the ranks would share one event file)
    rebuilt = ("log_dir",)

    def __init__(self, log_dir, histograms: bool = True, histogram_every: int = 1, batch_loss: bool = False):
        self.log_dir = os.fspath(log_dir)
        self.histograms = check_bool("histograms", histograms, owner="TensorBoard")
        self.histogram_every = check_int("histogram_every", histogram_every, minimum=1, owner="TensorBoard")
        self.batch_loss = check_bool("batch_loss", batch_loss, owner="TensorBoard")
        self.writer = None
        self.step = 0

    def on_train_begin(self, logs=None):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ConfigError(MISSING) from None
        # tensorboardX names the file by the second and the host and opens it with "wb": a run resumed (or a
        # second fit) within the same second would truncate the first one's events. The suffix keeps them apart
        # and sorts after the earlier file of the same second, as TensorBoard reads a folder's files in order.
        self.writer = SummaryWriter(logdir=self.log_dir, filename_suffix=f".{time.time_ns()}")
        self.step = 0

    def on_batch_end(self, batch, logs=None):
        if math.isfinite(logs["loss"]):
            self.writer.add_scalar("batch/loss", logs["loss"], self.step)
        self.step += 1

    def wants_batch_hooks(self) -> bool:
        return self.batch_loss

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
                self.writer.add_scalar(scalar_tag(key), float(value), epoch)
        if self.histograms and epoch % self.histogram_every == 0:
            for name, param in self.model.named_parameters():
                self._histogram(f"weights/{name}", param.data, epoch)
                if param.grad is not None:
                    self._histogram(f"gradients/{name}", param.grad, epoch)
        self.writer.flush()

    def _histogram(self, tag, values, epoch) -> None:
        # A diverging run's weights are NaN/inf or beyond the ±1e20 of tensorboardX's standard buckets by the
        # epoch's end (TerminateOnNaN stops it there): tensorboardX then raises "The histogram is empty" or
        # drops the outliers from the counts.  As for scalars, non-finite values are left out, and the outer
        # buckets are widened to the finite extremes, so every value written is counted.
        finite = np.isfinite(values)
        if not finite.all():
            values = values[finite]
        if not values.size:
            return
        bins = self.writer.default_bins
        low, high = float(values.min()), float(values.max())
        if low < bins[0] or high > bins[-1]:
            bins = [low] * (low < bins[0]) + list(bins) + [high] * (high > bins[-1])
        self.writer.add_histogram(tag, values, epoch, bins=np.asarray(bins))

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
