"""Small helpers the experiments share: data splits, MLP builders, a quiet ``fit``, accuracy, figures."""

from __future__ import annotations

import numpy as np

from .. import datasets, losses, nn, optim
from ..data import Standardizer, train_test_split
from ..tensor import as_tensor

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}


def digits_split(seed: int, train_size: int | None = None, test_size: float = 0.3):
    """Standardized digits: ((X_train, y_train), (X_test, y_test)); ``train_size`` keeps that many training rows."""
    X, y = datasets.digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, seed=seed)
    if train_size is not None:
        X_train, y_train = X_train[:train_size], y_train[:train_size]
    scaler = Standardizer().fit(X_train)
    return (scaler.transform(X_train), y_train), (scaler.transform(X_test), y_test)


def mlp(sizes, activation: str = "relu", weight_init="lecun_normal", bias_init=0.0, rng=None,
        batch_norm: bool = False, dropout_keep: float | None = None, input_keep: float | None = None):
    """``sizes = [in, h1, …, out]``: (Linear [BatchNorm] activation [Dropout])* Linear; maxout uses Maxout layers."""
    rng = np.random.default_rng(rng)
    bias = nn.init.constant(bias_init) if not callable(bias_init) and not isinstance(bias_init, str) else bias_init
    layers = [nn.Dropout(keep=input_keep, rng=rng)] if input_keep else []
    for width_in, width_out in zip(sizes[:-2], sizes[1:-1]):
        if activation == "maxout":
            layers.append(nn.Maxout(width_in, width_out, pieces=2, weight_init=weight_init, bias_init=bias, rng=rng))
        else:
            layers.append(nn.Linear(width_in, width_out, weight_init=weight_init, bias_init=bias, rng=rng))
            if batch_norm:
                layers.append(nn.BatchNorm(width_out))
            layers.append(ACTIVATIONS[activation]())
        if dropout_keep:
            layers.append(nn.Dropout(keep=dropout_keep, rng=rng))
    layers.append(nn.Linear(sizes[-2], sizes[-1], weight_init=weight_init, rng=rng))
    return nn.Sequential(*layers)


def make_optimizer(model, name: str = "sgd", lr: float = 0.1, **options):
    """The optimizer ``name`` of nnlab.optim's registry over ``model``'s parameters (the one name table)."""
    return optim.get(name, model.parameters(), lr=lr, **options)


def train(model, data, optimizer="sgd", lr=0.1, epochs=10, batch_size=32, seed=0, val=None, callbacks=(),
          loss=losses.cross_entropy, augment=None, **options):
    """``fit`` without output; returns the History. ``optimizer`` is a name (``options`` go to it) or an Optimizer."""
    from ..train import fit

    opt = make_optimizer(model, optimizer, lr, **options) if isinstance(optimizer, str) else optimizer
    return fit(model, loss, opt, data, val, epochs=epochs, batch_size=batch_size, seed=seed,
               callbacks=list(callbacks), augment=augment, verbose=0)


def accuracy(model, X, y) -> float:
    from ..train import predict

    return float((predict(model, X).argmax(axis=1) == np.asarray(y)).mean())


def loss_of(model, X, y) -> float:
    """Mean cross-entropy in evaluation mode (NaN stays NaN: a diverged model is measured, not hidden)."""
    from ..train import predict

    return float(losses.cross_entropy(as_tensor(predict(model, X)), np.asarray(y)).data)


def zero_gradient_units(model, X, y) -> list[float]:
    """Per hidden affine layer: the fraction of units whose incoming weights get exactly zero gradient on (X, y).

    That is the notes' dead unit: "the weights w1, w2 and b will not get updated".
    """
    model.zero_grad()
    losses.cross_entropy(model(as_tensor(X)), np.asarray(y)).backward()
    fractions = []
    affine = [m for m in model if isinstance(m, nn.Linear | nn.Maxout)][:-1]
    for layer in affine:
        g = np.abs(layer.weight.grad).sum(axis=0) + (0 if layer.bias is None else np.abs(layer.bias.grad))
        if isinstance(layer, nn.Maxout):
            g = g.reshape(layer.pieces, layer.out_features).sum(axis=0)
        # A diverged model has NaN gradients: its deadness is unknown, not zero.
        fractions.append(float((g == 0).mean()) if np.isfinite(g).all() else float("nan"))
    model.zero_grad()
    return fractions


def epoch_curves(curves: dict, xlabel: str = "epoch", ylabel: str = "training loss", log: bool = False, ax=None):
    """One line per labelled series of per-epoch values; returns the figure."""
    from ..diagnostics.plots import _figure

    fig = _figure(5, 3.5) if ax is None else ax.figure
    ax = fig.add_subplot() if ax is None else ax
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig


def png(fig) -> bytes:
    from ..diagnostics import figure_png

    return figure_png(fig)


def mean_abs_correlation(H: np.ndarray) -> float:
    """Mean |correlation| between pairs of columns (units) of H (samples × units), constant units left out."""
    H = H[:, H.std(axis=0) > 1e-6]
    if H.shape[1] < 2:
        return float("nan")
    C = np.corrcoef(H, rowvar=False)
    return float(np.abs(C[~np.eye(len(C), dtype=bool)]).mean())
