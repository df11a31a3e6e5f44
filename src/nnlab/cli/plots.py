"""Training curves as a PNG (matplotlib is imported only here)."""

from __future__ import annotations

from ..io import atomic_path


def plot_history(history, path: str) -> None:
    """Loss and accuracy per epoch, training and validation, side by side; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = list(range(1, len(history["loss"]) + 1))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in history and len(history[key]) == len(epochs):
                ax.plot(epochs, history[key], label=label, marker="o", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


def save_figure(fig, path: str) -> None:
    """Lay out ``fig``, write it as a PNG atomically and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
