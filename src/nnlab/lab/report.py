"""The lab report: one self-contained HTML page with every experiment's claim, setup, figures, numbers and verdict."""

from __future__ import annotations

import datetime as _dt

from .base import FAILS, HOLDS, PARTLY
from .registry import WAITING

_CLASSES = {HOLDS: "v-holds", PARTLY: "v-partly", FAILS: "v-fails"}


def render_report(results, wall_seconds: float = 0.0, command: str = "nnlab lab report") -> str:
    """The page for a list of :class:`~nnlab.lab.base.ExperimentResult` (experiments still waiting listed at the end)."""
    from .. import __version__
    from ..reports import render

    quick = bool(results) and results[0].quick
    return render("lab.html.j2", results=results, verdict_class=_CLASSES, waiting=WAITING, quick=quick,
                  seeds=len(results[0].seeds) if results else 0, wall=wall_seconds, command=command,
                  version=__version__, created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(results, path, wall_seconds: float = 0.0, command: str = "nnlab lab report") -> None:
    """Write :func:`render_report` to ``path`` atomically."""
    from ..reports import write

    write(path, render_report(results, wall_seconds, command))
