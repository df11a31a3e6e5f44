""":class:`History`: the per-epoch record ``fit`` returns, kept by a callback like any other."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .base import Callback


class History(Callback, Mapping):
    """What ``fit`` returns: one value per epoch for every logged quantity.

    ``history["loss"]``, ``history["val_loss"]``, ``history["accuracy"]``,
    ``history["val_accuracy"]``, ``history["lr"]`` (the learning rate at the end of
    that epoch: the one its last step used), ... are lists; ``history.epoch`` holds the 1-based epoch numbers,
    ``history.history`` the underlying dict (as in Keras). ``stop_reason`` says why
    training ended early (None when it ran all epochs).

    As in Keras it is a callback: ``fit`` runs it after all the others, so at the
    end of each epoch it records the logs as the other callbacks left them.

    >>> h = History()
    >>> h.append(1, {"loss": 0.5, "lr": 0.1}); h.on_epoch_end(1, {"loss": 0.25, "lr": 0.1})
    >>> h["loss"], h.epoch, h.to_rows()[1]
    ([0.5, 0.25], [1, 2], {'epoch': 2, 'loss': 0.25, 'lr': 0.1})
    """

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.params: dict = {}
        self.stop_reason: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        self.append(epoch + 1, logs or {})

    def append(self, epoch: int, logs: Mapping) -> None:
        """Record the logs of (1-based) ``epoch``; a key missing in some epochs gets NaN there."""
        n = len(self.epoch)
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * n)
            column.append(value)
        self.epoch.append(epoch)
        for column in self.history.values():
            if len(column) < n + 1:
                column.append(math.nan)

    def __getitem__(self, key):
        return self.history[key]

    def __iter__(self):
        return iter(self.history)

    def __len__(self):
        return len(self.history)

    @property
    def epochs_run(self) -> int:
        return len(self.epoch)

    def to_rows(self) -> list[dict]:
        """One dict per epoch: ``{"epoch": n, "loss": ..., ...}`` (for CSV writers and DataFrames)."""
        keys = list(self.history)
        return [{"epoch": e, **{k: self.history[k][i] for k in keys}} for i, e in enumerate(self.epoch)]

    def to_csv(self, path) -> None:
        """Write :meth:`to_rows` as CSV with an ``epoch`` column first (atomically: :func:`nnlab.io.atomic_path`)."""
        import csv

        from ...io import atomic_path

        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch", *self.history])
            writer.writeheader()
            writer.writerows(self.to_rows())

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
