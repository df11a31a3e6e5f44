"""File writers: :class:`Checkpoint` (the model, atomically) and :class:`MetricsLogger` (one row per epoch)."""

from __future__ import annotations

import io
import json
import math
import os

from ..._checks import check_choice
from ...errors import ConfigError
from .base import Callback
from .monitor import MonitorCallback


class Checkpoint(MonitorCallback):
    """Save the model at the end of epochs: every epoch (the last one wins) or only on a new best.

    ``path``'s file name may hold ``{epoch}`` (1-based) and logged names, e.g.
    ``"model-{epoch:03d}-{val_loss:.3f}.nnlab"``; its folders are taken as they are
    (a folder named ``r{0}`` is no template), and a placeholder that ``fit`` does not
    fill is refused before the first epoch. With ``save_best_only`` the file is
    written only when ``monitor`` improves, and ``save_last=True`` additionally keeps
    the latest epoch in ``<stem>-last<suffix>`` next to it (without
    ``save_best_only``, ``path`` itself always holds the latest epoch, so
    ``save_last`` adds nothing).

    Each write is atomic (:func:`nnlab.io.atomic_path`): an error midway leaves the
    previous file untouched and no temporary file behind.

    ``writer(model, path)`` defaults to ``nnlab.io.save`` called with
    ``save_options`` (e.g. ``preprocessing=...``, ``metadata=...``).
    """

    rebuilt = ("path", "save_options")  # save_options too: a run's metadata names its folder, which may have moved

    def __init__(self, path, monitor="val_loss", save_best_only: bool = False, save_last: bool = False,
                 mode="auto", min_delta: float = 0.0, writer=None, **save_options):
        super().__init__(monitor, mode, min_delta)
        self.path = os.fspath(path)
        self.save_best_only = bool(save_best_only)
        self.save_last = bool(save_last)
        self.writer = writer
        self.save_options = save_options
        self._written = []  # (0-based epoch, path relative to the folder of ``path``) of every write

    @property
    def saved(self) -> list:
        """(0-based epoch, path) of every write, in the folder ``path`` names now (they are kept relative to it,
        so a run resumed in a moved folder names its own files)."""
        folder = os.path.dirname(self.path)
        return [(epoch, os.path.normpath(os.path.join(folder, name))) for epoch, name in self._written]

    @property
    def uses_monitor(self) -> bool:
        return self.save_best_only

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._written = []
        keys = self.params.get("metrics")
        if keys is not None:  # a wrong placeholder is found now, not after the first epoch's work
            self._target(0, dict.fromkeys(keys, 0.0))

    def _target(self, epoch, logs) -> str:
        """``path`` with its file name's placeholders filled; a ConfigError names one that cannot be."""
        folder, name = os.path.split(self.path)
        if "{" not in name:
            return self.path
        try:
            return os.path.join(folder, name.format(epoch=epoch + 1, **logs))
        except (KeyError, IndexError, ValueError) as exc:
            fill = ", ".join(["epoch", *logs])
            raise ConfigError(f"Checkpoint path {self.path!r}: its file name cannot be filled in ({exc}); the "
                              f"placeholders are {{name}} or {{name:format}} with name one of: {fill} (write {{{{ "
                              f"and }}}} for literal braces)") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        target = self._target(epoch, logs)
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
        self._written.append((epoch, os.path.relpath(path, os.path.dirname(self.path) or os.curdir)))


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

    After every epoch the whole log is written again atomically
    (:func:`nnlab.io.atomic_write`), so an interrupted run -- even one killed in the
    middle of a write -- leaves a readable log with whole rows only. The price, one
    rewrite and fsync of a file of a few kB per epoch, is small next to an epoch.
    Non-finite values are written as ``nan``/``inf`` in CSV and ``null`` in JSON.
    With ``append=True`` the rows go after those already in the file.
    """

    rebuilt = ("path",)

    def __init__(self, path, format: str = "csv", append: bool = False):
        check_choice("format", format, ("csv", "jsonl"), owner="MetricsLogger")
        self.path = os.fspath(path)
        self.format = format
        self.append = bool(append)
        self._text = None
        self._columns = None

    def on_train_begin(self, logs=None):
        from ...io import atomic_write

        self._columns = None
        self._text = io.StringIO()  # the log so far; newlines kept as written (csv ends rows with \r\n)
        if self.append and os.path.exists(self.path):
            with open(self.path, newline="") as f:
                self._text.write(f.read())
            if self.format == "csv" and self._text.tell():
                self._columns = self._text.getvalue().partition("\n")[0].strip().split(",")
        atomic_write(self.path, self._text.getvalue())  # the file exists (or is emptied) from the start

    def on_epoch_end(self, epoch, logs=None):
        from ...io import atomic_write

        row = {"epoch": epoch + 1, **(logs or {})}
        if self.format == "jsonl":
            clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in row.items()}
            self._text.write(json.dumps(clean) + "\n")
        else:
            import csv

            if self._columns is None:
                self._columns = list(row)
                csv.writer(self._text).writerow(self._columns)
            csv.writer(self._text).writerow([_csv_value(row.get(c, "")) for c in self._columns])
        atomic_write(self.path, self._text.getvalue())

    def on_train_end(self, logs=None):
        from ...io import atomic_write

        # Written once more: a resumed run whose saved state had no epoch left runs none, yet its log is restored.
        if self._text is not None and self._text.tell():
            atomic_write(self.path, self._text.getvalue())
        self._text = None


def _csv_value(value):
    return repr(value) if isinstance(value, float) else value
