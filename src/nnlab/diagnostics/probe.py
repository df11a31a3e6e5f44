"""Layer-by-layer outputs of a model on a probe batch, and the per-unit statistics the notes look at.

The notes' debugging slides inspect hidden units on a batch of samples: dead
ReLUs (zero on every sample, so "the weights will not get updated"), saturated
sigmoids ("σ(x) = 1 or σ(x) = 0 … cause the gradient to vanish"), activation
means and spreads. These helpers run the probe batch through a ``Sequential``
(nested ones included) one child at a time, in evaluation mode and without a
graph, so measuring moves no running statistics and draws no randomness.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..tensor import as_tensor, no_grad

# Activations whose unit outputs are recorded; the values say how to find dead and saturated units.
_BOUNDED = {nn.Sigmoid: (0.0, 1.0), nn.Tanh: (-1.0, 1.0)}
_UNIT_LAYERS = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.Maxout)


def _leaves(module, prefix=""):
    """(name, module) of each child in order, descending into nested Sequentials."""
    if isinstance(module, nn.Sequential):
        for i, child in enumerate(module):
            yield from _leaves(child, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), module


def layer_outputs(model, X) -> list[tuple[str, object, np.ndarray]]:
    """``(name, layer, output)`` for every leaf layer of a Sequential model on the batch ``X``.

    Names read ``"<index>_<type>"`` (``"1_relu"``; nested: ``"2.0_linear"``). A model
    that is not a Sequential gives one entry, its own output.

    >>> import nnlab
    >>> m = nnlab.nn.Sequential(nnlab.nn.Linear(2, 3, rng=0), nnlab.nn.ReLU())
    >>> [(name, out.shape) for name, _, out in layer_outputs(m, np.ones((5, 2)))]
    [('0_linear', (5, 3)), ('1_relu', (5, 3))]
    """
    was_training = model.training
    model.eval()
    rows = []
    try:
        with no_grad():
            h = as_tensor(np.asarray(X, dtype=_dtype(model)))
            for name, layer in _leaves(model):
                h = layer(h)
                label = f"{name}_{type(layer).__name__.lower()}" if name else type(layer).__name__.lower()
                rows.append((label, layer, h.data))
    finally:
        model.train(was_training)
    return rows


def unit_outputs(model, X) -> list[tuple[str, object, np.ndarray]]:
    """The entries of :func:`layer_outputs` that are hidden units (activations and maxout layers)."""
    return [row for row in layer_outputs(model, X)[:-1] if isinstance(row[1], _UNIT_LAYERS)]


def _dtype(model):
    for p in model.parameters():
        return p.data.dtype
    return np.float32


def unit_statistics(layer, out: np.ndarray, delta: float = 0.02) -> dict:
    """Statistics of one layer's unit outputs ``out`` (samples × units).

    - ``dead_fraction``: units whose derivative is zero on every sample. For ReLU
      that is an output of 0 everywhere; for sigmoid, tanh, leaky ReLU, ELU and
      maxout the derivative is never exactly zero (a saturated sigmoid is counted
      by the next key instead).
    - ``negative_fraction``: units that are ≤ 0 on every sample (a ReLU there is dead;
      a leaky ReLU or ELU still passes a gradient).
    - ``saturated_fraction``: for sigmoid and tanh, the fraction of outputs within
      ``delta`` of a bound (σ′ = σ(1 − σ) < δ there); 0 for unbounded units.
    - ``mean`` and ``std`` of all outputs.

    >>> import nnlab
    >>> s = unit_statistics(nnlab.nn.ReLU(), np.array([[0.0, 1.0], [0.0, 2.0]]))
    >>> s["dead_fraction"], s["negative_fraction"]
    (0.5, 0.5)
    """
    out = out.reshape(len(out), -1)
    negative = (out <= 0).all(axis=0)
    dead = negative if isinstance(layer, nn.ReLU) else np.zeros(out.shape[1], dtype=bool)
    bounds = _BOUNDED.get(type(layer))
    saturated = 0.0
    if bounds is not None:
        low, high = bounds
        saturated = float(((out < low + delta) | (out > high - delta)).mean())
    return {"dead_fraction": float(dead.mean()), "negative_fraction": float(negative.mean()),
            "saturated_fraction": saturated, "mean": float(out.mean()), "std": float(out.std())}
