"""Callbacks: code that watches ``fit`` and may steer it, with Keras's hook names.

Every hook receives the 0-based ``epoch`` or ``batch`` index and a ``logs``
dict. At the end of an epoch ``logs`` holds ``loss``, the metrics, the
``val_`` versions of both when there is validation data, and ``lr`` (the
learning rate used in that epoch); at the end of a batch it holds ``loss`` and
``size``. A callback reaches the model and the optimizer as ``self.model`` and
``self.optimizer`` and stops training by setting ``self.stop_training = True``.

Per-batch hooks cost a call per batch, so the loop only calls them for
callbacks that override them (see :meth:`Callback.wants_batch_hooks`).

The watching of one logged quantity -- its best value, whether a new value
improves on it (mode ``min``/``max``, ``min_delta``), and the epochs waited
since (``patience``) -- lives in :class:`Monitor`, which EarlyStopping,
ReduceLROnPlateau, HalveOnRise and Checkpoint share.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
import warnings

import numpy as np

from ..errors import ConfigError


# --------------------------------------------------------------------------- base


class Callback:
    """Base class: every hook does nothing. Override the ones you need.

    >>> class Count(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         self.last = epoch
    """

    model = None
    optimizer = None
    params: dict = {}
    stop_training = False

    def set_context(self, model, optimizer, params: dict) -> None:
        """Called by ``fit`` before training: the model, the optimizer and the run's settings."""
        self.model = model
        self.optimizer = optimizer
        self.params = params
        self.stop_training = False

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_nonfinite_loss(self, epoch, batch, loss):
        """Called *before* the update when a batch's loss is NaN or infinite.

        If any callback sets ``stop_training`` here the loop skips that update and
        stops, so the parameters are those from before the bad batch.
        """

    def wants_batch_hooks(self) -> bool:
        """Whether ``fit`` must call this callback's per-batch hooks (asked after ``on_train_begin``)."""
        cls = type(self)
        return cls.on_batch_begin is not Callback.on_batch_begin or cls.on_batch_end is not Callback.on_batch_end


class CallbackList:
    """Dispatches each hook to the callbacks in order; knows which of them want per-batch hooks."""

    def __init__(self, callbacks, model, optimizer, params: dict):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks must be nnlab.train.Callback instances, got {cb!r}")
            cb.set_context(model, optimizer, params)
        self.batch_callbacks = []

    @property
    def stop_training(self) -> bool:
        return any(cb.stop_training for cb in self.callbacks)

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)
        self.batch_callbacks = [cb for cb in self.callbacks if cb.wants_batch_hooks()]

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for cb in self.batch_callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for cb in self.batch_callbacks:
            cb.on_batch_end(batch, logs)

    def on_nonfinite_loss(self, epoch, batch, loss):
        for cb in self.callbacks:
            cb.on_nonfinite_loss(epoch, batch, loss)


# ------------------------------------------------------------- optimizer access


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


# ----------------------------------------------------------------- the monitor


_MAX_MODE_NAMES = ("accuracy", "acc", "auc", "f1", "precision", "recall")


class Monitor:
    """One logged quantity watched across epochs: best value, epoch of the best, epochs since.

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names,
    min otherwise). A value improves on a reference when it is better by more
    than ``min_delta``; NaN never improves, and is worse than any number.

    >>> m = Monitor("val_loss", patience=2)
    >>> [m.update({"val_loss": v}) for v in (1.0, 0.5, 0.7, 0.6)]
    [True, True, False, False]
    >>> m.best, m.best_epoch, m.wait, m.exhausted
    (0.5, 1, 2, True)
    """

    def __init__(self, key: str = "val_loss", mode: str = "auto", min_delta: float = 0.0, patience: int = 0,
                 baseline: float | None = None, owner: str = "callback"):
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not (isinstance(patience, int | np.integer) and not isinstance(patience, bool) and patience >= 0):
            raise ConfigError(f"{owner}: patience must be a whole number >= 0, got {patience!r}")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ConfigError(f"{owner}: min_delta must be a finite number >= 0, got {min_delta!r}")
        if mode == "auto":
            bare = key[4:] if key.startswith("val_") else key
            mode = "max" if bare in _MAX_MODE_NAMES or bare.endswith("accuracy") else "min"
        self.key = key
        self.mode = mode
        self.min_delta = float(min_delta)
        self.patience = int(patience)
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


# ------------------------------------------------------------------ stopping


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


# ---------------------------------------------------------- learning rate etc.


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


# ------------------------------------------------------------------- files


class Checkpoint(MonitorCallback):
    """Save the model at the end of epochs: every epoch (the last one wins) or only on a new best.

    ``path`` may hold ``{epoch}`` (1-based) and logged names, e.g.
    ``"model-{epoch:03d}-{val_loss:.3f}.nnlab"``. With ``save_best_only`` the file is
    written only when ``monitor`` improves, and ``save_last=True`` additionally keeps
    the latest epoch in ``<stem>-last<suffix>`` next to it (without
    ``save_best_only``, ``path`` itself always holds the latest epoch, so
    ``save_last`` adds nothing).

    Each write is atomic: the model goes to a temporary file in the same folder,
    which then replaces the target with ``os.replace``. An error midway leaves the
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
        atomic_save(self.model, path, self._writer())
        self.saved.append((epoch, path))

    def _writer(self):
        if self.writer is not None:
            return self.writer
        from .. import io

        options = self.save_options
        return lambda model, path: io.save(model, path, **options)


def atomic_save(model, path, writer) -> None:
    """``writer(model, tmp)`` into a temporary file beside ``path``, then ``os.replace(tmp, path)``.

    The temporary name keeps ``path``'s suffix, so a writer that looks at the
    extension behaves the same. On any error the temporary file is removed and
    ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, suffix = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    try:
        writer(model, tmp)
        with open(tmp, "rb+") as f:  # the bytes reach the disk before the rename makes them visible
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class MetricsLogger(Callback):
    """Append one row per epoch (``epoch`` 1-based, then the logs) to a CSV or JSON-lines file.

    Each row is flushed as it is written, so an interrupted run leaves a readable
    log. Non-finite values are written as ``nan``/``inf`` in CSV and ``null`` in JSON.
    """

    def __init__(self, path, format: str = "csv", append: bool = False):
        if format not in ("csv", "jsonl"):
            raise ConfigError(f"MetricsLogger: format must be 'csv' or 'jsonl', got {format!r}")
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


# ------------------------------------------------------------------ progress


class ProgressBar(Callback):
    """Show training progress: a live rich bar in a terminal, one line per epoch otherwise.

    In a terminal (or notebook) the bar shows the epoch, batches done, the running
    loss and the time left; rich is imported only then. When output goes to a file
    or pipe, one short line is printed per epoch (``always_lines=True`` forces that).
    """

    def __init__(self, file=None, always_lines: bool = False, refresh_seconds: float = 0.1):
        self.file = file
        self.always_lines = bool(always_lines)
        self.refresh_seconds = float(refresh_seconds)
        self._progress = None
        self._task = None

    def _out(self):
        return self.file if self.file is not None else sys.stdout

    def on_train_begin(self, logs=None):
        self._progress = None
        out = self._out()
        if self.always_lines or not _is_interactive(out):
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(),
            console=Console(file=out),
            transient=False,
        )
        self._progress.start()

    def wants_batch_hooks(self) -> bool:
        return self._progress is not None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()
        self._seen = self._loss_sum = 0.0
        self._last_refresh = 0.0
        self._done = 0
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"epoch {epoch + 1}/{self.params.get('epochs', '?')}", total=self.params.get("steps"), loss="-"
            )

    def on_batch_end(self, batch, logs=None):
        size = logs["size"]
        self._loss_sum += logs["loss"] * size
        self._seen += size
        self._done = batch + 1
        now = time.perf_counter()
        if now - self._last_refresh >= self.refresh_seconds:
            self._last_refresh = now
            self._progress.update(self._task, completed=self._done, loss=f"{self._loss_sum / self._seen:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_started
        line = f"epoch {epoch + 1}/{self.params.get('epochs', '?')} {seconds:.1f}s  {_format_logs(logs or {})}"
        if self._progress is not None:
            # The finished epoch's bar gives way to its summary line; one live bar at a time.
            self._progress.remove_task(self._task)
            self._progress.console.print(line, highlight=False)
        else:
            print(line, file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _format_logs(logs) -> str:
    parts = []
    for key, value in logs.items():
        if key == "lr":
            parts.append(f"lr {value:.3g}")
        elif isinstance(value, float):
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


def _is_interactive(stream) -> bool:
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):
        return False
    return "ipykernel" in sys.modules and stream is sys.stdout
