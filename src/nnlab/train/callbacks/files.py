"""File writers: :class:`Checkpoint` (the model, atomically) and :class:`MetricsLogger` (one row per epoch)."""

from __future__ import annotations

import json
import math
import os

from ..._checks import check_choice
from .base import Callback
from .monitor import MonitorCallback


class Checkpoint(MonitorCallback):
    """Save the model at the end of epochs: every epoch (the last one wins) or only on a new best.

    ``path`` may hold ``{epoch}`` (1-based) and logged names, e.g.
    ``"model-{epoch:03d}-{val_loss:.3f}.nnlab"``. With ``save_best_only`` the file is
    written only when ``monitor`` improves, and ``save_last=True`` additionally keeps
    the latest epoch in ``<stem>-last<suffix>`` next to it (without
    ``save_best_only``, ``path`` itself always holds the latest epoch, so
    ``save_last`` adds nothing).

    Each write is atomic (:func:`nnlab.io.atomic_path`): an error midway leaves the
    previous file untouched and no temporary file behind.

    ``writer(model, path)`` defaults to ``nnlab.io.save`` called with
    ``save_options`` (e.g. ``preprocessing=...``, ``metadata=...``).
    """

    def __init__(self, path, monitor="val_loss", save_best_only: bool = False, save_last: bool = False,
                 mode="auto", min_delta: float = 0.0, writer=None, **save_options):
        super().__init__(monitor, mode, min_delta)
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.save_last = bool(save_last)
        self.writer = writer
        self.save_options = save_options
        self.saved = []  # (0-based epoch, path) of every write

    @property
    def uses_monitor(self) -> bool:
        return self.save_best_only

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        target = self.path.format(epoch=epoch + 1, **logs) if "{" in self.path else self.path
        if not self.save_best_only or self.monitor.update(logs, epoch):
            self._save(target, epoch)
        if self.save_last and self.save_best_only:
            stem, suffix = os.path.splitext(target)
            self._save(f"{stem}-last{suffix}", epoch)

    def _save(self, path, epoch):
        if self.writer is None:
            from ... import io

            io.save(self.model, path, **self.save_options)  # atomic already
        else:
            atomic_save(self.model, path, self.writer)
        self.saved.append((epoch, path))


def atomic_save(model, path, writer) -> None:
    """``writer(model, tmp)`` into a temporary file beside ``path`` that then atomically becomes ``path``.

    For writers that are not atomic themselves; the mechanics are
    :func:`nnlab.io.atomic_path`'s (same folder, same suffix, fsync, rename; on
    any error the temporary file is removed and ``path`` is left as it was).
    """
    from ...io import atomic_path

    with atomic_path(path) as tmp:
        writer(model, tmp)


class MetricsLogger(Callback):
    """Append one row per epoch (``epoch`` 1-based, then the logs) to a CSV or JSON-lines file.

    Each row is flushed as it is written, so an interrupted run leaves a readable
    log. Non-finite values are written as ``nan``/``inf`` in CSV and ``null`` in JSON.
    """

    def __init__(self, path, format: str = "csv", append: bool = False):
        check_choice("format", format, ("csv", "jsonl"), owner="MetricsLogger")
        self.path = os.fspath(path)
        self.format = format
        self.append = bool(append)
        self._file = None
        self._columns = None

    def on_train_begin(self, logs=None):
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._columns = None
        if self.append and self.format == "csv" and os.path.exists(self.path) and os.path.getsize(self.path):
            with open(self.path, newline="") as f:
                self._columns = f.readline().strip().split(",")
        self._file = open(self.path, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **(logs or {})}
        if self.format == "jsonl":
            clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in row.items()}
            self._file.write(json.dumps(clean) + "\n")
        else:
            import csv

            if self._columns is None:
                self._columns = list(row)
                csv.writer(self._file).writerow(self._columns)
            csv.writer(self._file).writerow([_csv_value(row.get(c, "")) for c in self._columns])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _csv_value(value):
    return repr(value) if isinstance(value, float) else value
