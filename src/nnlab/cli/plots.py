"""The run folder's PNG files: a figure written atomically (matplotlib is imported only when one is drawn)."""

from __future__ import annotations

from ..io import atomic_path


def plot_history(history, path: str) -> None:
    """curves.png: loss and accuracy per epoch, training and validation (``diagnostics.training_curves``)."""
    from ..diagnostics import training_curves

    save_figure(training_curves(history), path)


def save_figure(fig, path: str) -> None:
    """Write a ``matplotlib.figure.Figure`` as a PNG atomically (no pyplot: nothing to close)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
