"""The notes' pictures, each a function returning a matplotlib ``Figure`` (usable in a notebook).

Figures are built with ``matplotlib.figure.Figure`` directly, not ``pyplot``, so
drawing in a worker process or a test keeps no global state; matplotlib is
imported inside each function so that ``import nnlab`` stays light.
:func:`figure_png` turns a figure into PNG bytes.
"""

from __future__ import annotations

import io
import math

import numpy as np

from .callback import PREFIX, diagnostic_keys
from .probe import unit_outputs


def _figure(width=6.0, height=4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_png(fig, dpi: int = 80) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _grid(count: int, columns: int):
    columns = max(1, min(columns, count))
    return math.ceil(count / columns), columns


def decision_surface(model, X, y, resolution: int = 120, margin: float = 0.3, title: str | None = None, ax=None):
    """The class the model predicts over the plane around 2-D data, with the training points on top.

    >>> import nnlab
    >>> fig = decision_surface(nnlab.nn.Linear(2, 2, rng=0), np.eye(2), np.array([0, 1]), resolution=10)
    >>> len(fig.axes[0].collections) >= 2
    True
    """
    from ..train import predict

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    outputs = predict(model, np.stack([gx.ravel(), gy.ravel()], axis=1))
    classes = outputs.argmax(axis=1) if outputs.shape[1] > 1 else (outputs[:, 0] > 0).astype(int)
    fig = _figure(4.2, 3.8) if ax is None else ax.figure
    ax = fig.add_subplot() if ax is None else ax
    levels = np.arange(max(int(classes.max()), int(y.max()), 1) + 2) - 0.5
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=levels, cmap="coolwarm", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=18, vmin=0, vmax=levels[-1] - 0.5)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    return fig


def hidden_activations(model, X, max_samples: int = 100):
    """Each hidden layer's outputs as an image, units × samples (the notes' "inspect hidden units").

    Good training gives sparse, uncorrelated rows; bad training strong correlations.

    >>> import nnlab
    >>> m = nnlab.nn.Sequential(nnlab.nn.Linear(3, 4, rng=0), nnlab.nn.Tanh(), nnlab.nn.Linear(4, 2, rng=1))
    >>> hidden_activations(m, np.ones((7, 3))).axes[0].images[0].get_array().shape
    (4, 7)
    """
    layers = unit_outputs(model, np.asarray(X)[:max_samples])
    fig = _figure(3.2 * max(len(layers), 1), 3.2)
    for i, (name, _, out) in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), i + 1)
        image = ax.imshow(out.reshape(len(out), -1).T, aspect="auto", cmap="gray", interpolation="nearest")
        ax.set_xlabel("sample")
        ax.set_ylabel("hidden unit")
        ax.set_title(name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def weight_images(weight, image_shape, max_units: int = 64, columns: int = 8, title: str | None = None):
    """Each unit's incoming weights reshaped to the input image, tiled into one mosaic (one tile per unit).

    ``weight`` is a Linear layer or its (in_features, units) weight matrix. Each tile
    is scaled by its own largest |w| (red positive, blue negative), with a one-pixel
    gap between tiles.

    >>> fig = weight_images(np.zeros((64, 5)), (8, 8), columns=4)
    >>> fig.axes[0].images[0].get_array().shape  # 2 rows × 4 columns of 8×8 tiles
    (17, 35)
    """
    W = np.asarray(getattr(getattr(weight, "weight", None), "data", weight))
    units = min(W.shape[1], max_units)
    rows, cols = _grid(units, columns)
    h, w = image_shape
    mosaic = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for j in range(units):
        tile = W[:, j].reshape(image_shape)
        r, c = divmod(j, cols)
        mosaic[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tile / (float(np.abs(tile).max()) or 1.0)
    fig = _figure(0.9 * cols + 0.4, 0.9 * rows + (0.5 if title else 0.2))
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def activation_histograms(model, X, bins: int = 40, columns: int = 5, layers=None):
    """A histogram of each hidden layer's outputs on the batch ``X``.

    ``layers``: precomputed ``(name, layer, output)`` rows instead of a model pass.

    >>> import nnlab
    >>> m = nnlab.nn.Sequential(nnlab.nn.Linear(3, 4, rng=0), nnlab.nn.ReLU(), nnlab.nn.Linear(4, 2, rng=1))
    >>> [ax.get_title() for ax in activation_histograms(m, np.ones((7, 3))).axes]
    ['1_relu']
    """
    rows_data = layers if layers is not None else unit_outputs(model, X)
    rows, cols = _grid(len(rows_data), columns)
    fig = _figure(2.6 * cols, 2.2 * rows)
    for i, (name, _, out) in enumerate(rows_data):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.hist(np.ravel(out), bins=bins, color="steelblue")
        ax.set_title(name, fontsize=9)
        ax.set_yticks([])
        ax.text(0.98, 0.95, f"std {np.std(out):.2g}", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    return fig


def _epochs(history):
    return list(getattr(history, "epoch", None) or range(1, len(history["loss"]) + 1))


def _short(key: str, stat: str) -> str:
    return key[len(PREFIX):-len(stat) - 1]


def gradient_norms(history, weights_only: bool = True):
    """‖∇w‖ of each parameter over the epochs (from :class:`LayerStatistics`), log scale.

    >>> h = {"loss": [1, 1], "diag/0.weight/grad_norm": [1.0, 0.5], "diag/0.bias/grad_norm": [1.0, 0.5]}
    >>> len(gradient_norms(h).axes[0].lines)
    1
    """
    keys = [k for k in diagnostic_keys(history, "grad_norm") if not weights_only or not k.endswith("bias/grad_norm")]
    fig = _figure()
    ax = fig.add_subplot()
    epochs = _epochs(history)
    for key in keys:
        ax.plot(epochs, history[key], marker="o", markersize=3, label=_short(key, "grad_norm"))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    if keys:
        ax.legend(fontsize=7)
    return fig


def diagnostics_over_epochs(history):
    """Four panels over the epochs: dead fraction, saturated fraction, activation std, update/weight ratio.

    >>> h = {"loss": [1, 1], "diag/1_relu/dead_fraction": [0.0, 0.1], "diag/1_relu/std": [1.0, 0.9]}
    >>> [len(ax.lines) for ax in diagnostics_over_epochs(h).axes]
    [1, 0, 1, 0]
    """
    panels = (("dead_fraction", "dead units"), ("saturated_fraction", "saturated outputs"),
              ("std", "activation std"), ("update_ratio", "update / weight"))
    fig = _figure(10, 6.5)
    epochs = _epochs(history)
    for i, (stat, title) in enumerate(panels):
        ax = fig.add_subplot(2, 2, i + 1)
        keys = diagnostic_keys(history, stat)
        if stat == "update_ratio":
            keys = [k for k in keys if not k.endswith("bias/update_ratio")]
        for key in keys:
            ax.plot(epochs, history[key], marker="o", markersize=2, label=_short(key, stat))
        if stat == "update_ratio" and keys:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if keys:
            ax.legend(fontsize=7)
    return fig


def training_curves(history, tasks=()):
    """Loss and accuracy per epoch, training and validation, side by side.

    With ``tasks`` (a multi-task history), each task's ``loss_<task>`` and
    ``accuracy_<task>`` too: training solid, validation dashed.

    >>> [len(ax.lines) for ax in training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}).axes]
    [2, 0]
    >>> h = {"loss": [1.0, 0.5], "loss_a": [0.9, 0.4], "accuracy_a": [0.5, 0.8], "val_accuracy_a": [0.4, 0.7]}
    >>> [len(ax.lines) for ax in training_curves(h, tasks=["a"]).axes]
    [2, 2]
    """
    fig = _figure(10, 3.8)
    epochs = _epochs(history)
    for i, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        # (training key, label) per curve; with tasks, one colour per task in both panels, validation dashed
        curves = [(metric, "weighted sum" if tasks else "")] + [(f"{metric}_{task}", task) for task in tasks]
        for k, (key, name) in enumerate(curves):
            for prefix, label, style in (("", "train", "-"), ("val_", "validation", "--" if tasks else "-")):
                if prefix + key in history and len(history[prefix + key]) == len(epochs):
                    ax.plot(epochs, history[prefix + key], style, color=f"C{k}" if tasks else None,
                            label=f"{name} {label}".strip(), marker="o", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7 if tasks else None)
    return fig


def member_curves(histories):
    """Each ensemble member's training loss and accuracy per epoch (thin lines) and their mean (thick).

    >>> h = [{"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}, {"loss": [0.9, 0.6], "accuracy": [0.6, 0.8]}]
    >>> [len(ax.lines) for ax in member_curves(h).axes]
    [3, 3]
    """
    fig = _figure(10, 3.8)
    for i, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        curves = [(_epochs(h), h[metric]) for h in histories if metric in h]
        for k, (epochs, values) in enumerate(curves):
            ax.plot(epochs, values, linewidth=0.8, alpha=0.6, label=f"member {k}" if len(curves) <= 10 else None)
        if curves:
            ax.plot(curves[0][0], np.mean([v for _, v in curves], axis=0), color="black", linewidth=2.2, label="mean")
            ax.legend(fontsize=7, ncol=2)
        ax.set_xlabel("epoch")
        ax.set_title(f"training {metric} of each member")
        ax.grid(alpha=0.3)
    return fig


def member_scores(scores, ensemble: float, which: str = "test"):
    """Each member's accuracy (bars) against the ensemble's (a line): what voting gains over one network.

    >>> len(member_scores([0.8, 0.9], 0.92).axes[0].patches)
    2
    """
    fig = _figure(6, 3.6)
    ax = fig.add_subplot()
    ax.bar(range(len(scores)), scores, color="#8aa", label="member")
    ax.axhline(ensemble, color="#c62828", linewidth=2, label=f"ensemble {ensemble:.4f}")
    finite = [v for v in (*scores, ensemble) if math.isfinite(v)]  # a diverged member scores nan
    low = min(finite, default=0.0)
    ax.set_ylim(max(0.0, low - 0.1 * (1 - low) - 0.02), 1.0)
    ax.set_xticks(range(len(scores)))
    ax.set_xlabel("member")
    ax.set_ylabel(f"{which} accuracy")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def confusion_matrix_image(matrix, title: str | None = None, ax=None):
    """The confusion matrix (rows: true class, columns: predicted) with the counts written in.

    >>> confusion_matrix_image(np.eye(3, dtype=int)).axes[0].images[0].get_array().shape
    (3, 3)
    """
    matrix = np.asarray(matrix)
    fig = _figure(4.5, 4) if ax is None else ax.figure
    ax = fig.add_subplot() if ax is None else ax
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > matrix.max() / 2 else "black")
    if len(matrix) <= 20:  # a tick per class (matplotlib's own would put 0.5 steps on 2 classes)
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return fig


def confusion_matrices(matrices: dict, columns: int = 3):
    """One confusion matrix per entry of ``matrices`` ({title: matrix}, e.g. one per task), side by side.

    >>> len(confusion_matrices({"a": np.eye(2, dtype=int), "b": np.eye(3, dtype=int)}).axes)
    2
    """
    rows, columns = _grid(len(matrices), columns)
    fig = _figure(4.5 * columns, 4 * rows)
    for k, (title, matrix) in enumerate(matrices.items(), start=1):
        confusion_matrix_image(matrix, title=title, ax=fig.add_subplot(rows, columns, k))
    return fig


def optimizer_trajectories(surface, paths: dict, extent, levels: int = 30, title: str | None = None, ax=None):
    """Optimizer paths on the contour lines of a 2-D loss ``surface(x, y)`` (vectorized over arrays).

    ``paths`` maps a label to a (steps, 2) array of visited points; ``extent`` is
    ``(xmin, xmax, ymin, ymax)``.

    >>> bowl = lambda x, y: x ** 2 + 10 * y ** 2
    >>> fig = optimizer_trajectories(bowl, {"gd": np.array([[1, 1], [0.5, 0.2]])}, (-2, 2, -2, 2))
    >>> len(fig.axes[0].lines)
    1
    """
    xmin, xmax, ymin, ymax = extent
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 200))
    z = surface(gx, gy)
    fig = _figure(5, 4.2) if ax is None else ax.figure
    ax = fig.add_subplot() if ax is None else ax
    ax.contour(gx, gy, z, levels=levels, cmap="Greys", linewidths=0.6)
    for label, path in paths.items():
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], marker=".", markersize=3, linewidth=1, label=label)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    if title:
        ax.set_title(title)
    if paths:
        ax.legend(fontsize=7)
    return fig


def lr_search_curve(result):
    """Validation loss against learning rate (log scale) of an ``lr_search`` result, coarse and fine trials.

    >>> from nnlab.train import LRSearchResult, Trial
    >>> r = LRSearchResult(0.1, 0.2, (Trial(0.01, 0.5, "coarse"), Trial(0.1, 0.2, "coarse")))
    >>> len(lr_search_curve(r).axes[0].lines)
    2
    """
    fig = _figure()
    ax = fig.add_subplot()
    for stage, style in (("coarse", "o-"), ("fine", "s")):
        trials = sorted((t for t in result.trials if t.stage == stage), key=lambda t: t.lr)
        if trials:
            ax.plot([t.lr for t in trials], [t.val_loss for t in trials], style, label=stage)
    ax.axvline(result.best_lr, color="green", linestyle=":", label=f"best {result.best_lr:g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation loss")
    ax.legend()
    return fig
