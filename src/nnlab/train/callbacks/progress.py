"""The progress display: a live rich bar in a terminal, one line per epoch otherwise."""

from __future__ import annotations

import sys
import time

from ..._checks import check_float
from .base import Callback


class ProgressBar(Callback):
    """Show training progress: a live rich bar in a terminal, one line per epoch otherwise.

    In a terminal (or notebook) the bar shows the epoch, batches done, the running
    loss and the time left; rich is imported only then. When output goes to a file
    or pipe, one short line is printed per epoch (``always_lines=True`` forces that).
    """

    def __init__(self, file=None, always_lines: bool = False, refresh_seconds: float = 0.1):
        self.file = file
        self.always_lines = bool(always_lines)
        self.refresh_seconds = check_float("refresh_seconds", refresh_seconds, low=0.0, owner="ProgressBar")
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
        if "/" in key:
            # namespaced per-layer records (diagnostics' "diag/<layer>/<stat>") belong in history.csv and the
            # run's pictures; printed on the epoch line they bury the loss and accuracy a reader looks for
            continue
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

