"""1. XOR and the 11-point table: no line separates them, one hidden layer does; the notes' hand-built XOR net."""

from __future__ import annotations

import numpy as np

from .. import datasets, nn
from ..tensor import as_tensor, no_grad
from .base import Check, Claim, Experiment, SeedResult, at_least, at_most
from .common import accuracy, mlp, png, train

CLAIMS = (
    Claim("Perceptron book [Minsky and Pappert 1969]. Showed limitations of single layer models (e.g. cannot solve XOR).",
          "002_f454bcaa3b381492.txt"),
    Claim("1-layer cannot handle XOR", "004_2252f606abae7d36.txt"),
    Claim("Why it is sometimes necessary to have a hidden layer? In order to solve problems that are not linearly "
          "separable.", "004_2252f606abae7d36.txt"),
    Claim("σ(20*0 + 20*0 - 10) ≈ 0 … σ(-20*1 - 20*1 + 30) ≈ 0 … σ(20*1 + 20*1 - 30) ≈ 1 (Solving XOR using "
          "Multilayer Perceptron)", "004_2252f606abae7d36.txt"),
)


def setup(quick: bool) -> str:
    return ("The 4 XOR points and the notes' 11-point table (Figure 5.23). Best accuracy of any line: an exhaustive "
            "search over 3,600 directions and every threshold; a trained linear softmax model (Adam, full batch); "
            "an MLP with one hidden layer of 8 tanh units (Adam lr 0.05, full batch, "
            f"{300 if quick else 1000} epochs for XOR, {800 if quick else 2000} for the table); and the notes' "
            "hand-built net (OR and NAND sigmoid units feeding an AND unit, weights ±20 and biases -10, 30, -30).")


def best_linear_accuracy(X, y, directions: int = 3600) -> float:
    """The best training accuracy of any linear threshold rule w·x > b (searched exhaustively over b)."""
    angles = np.linspace(0, np.pi, directions, endpoint=False)
    best = 0.0
    for a in angles:
        z = X @ np.array([np.cos(a), np.sin(a)])
        order = np.argsort(z)
        labels = y[order]
        # Threshold after position i: predict 0 for the first i+1 points and 1 for the rest (or the opposite).
        ones_after = labels.sum() - np.concatenate([[0], np.cumsum(labels)])
        zeros_before = np.concatenate([[0], np.cumsum(1 - labels)])
        correct = (zeros_before + ones_after) / len(y)
        best = max(best, float(correct.max()), float((1 - correct).max()))
    return best


def hand_built_xor() -> nn.Sequential:
    """The notes' network: h1 = σ(20x1 + 20x2 − 10) (OR), h2 = σ(−20x1 − 20x2 + 30) (NAND), y = σ(20h1 + 20h2 − 30)."""
    hidden, out = nn.Linear(2, 2), nn.Linear(2, 1)
    hidden.weight.data[...] = [[20, -20], [20, -20]]
    hidden.bias.data[...] = [-10, 30]
    out.weight.data[...] = [[20], [20]]
    out.bias.data[...] = [-30]
    return nn.Sequential(hidden, nn.Sigmoid(), out, nn.Sigmoid())


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    numbers, figures, models = {}, {}, {}
    for name, (X, y), epochs in (("xor", datasets.xor(), 300 if quick else 1000),
                                 ("table", datasets.mlp_table(), 800 if quick else 2000)):
        numbers[f"{name}_best_line_accuracy"] = best_linear_accuracy(X.astype(np.float64), y)
        linear = mlp([2, 2], rng=seed)
        train(linear, (X, y), "adam", lr=0.05, epochs=epochs, batch_size=len(X), seed=seed)
        numbers[f"{name}_linear_accuracy"] = accuracy(linear, X, y)
        hidden = mlp([2, 8, 2], "tanh", rng=seed)
        train(hidden, (X, y), "adam", lr=0.05, epochs=epochs, batch_size=len(X), seed=seed)
        numbers[f"{name}_one_hidden_layer_accuracy"] = accuracy(hidden, X, y)
        models[name] = (X, y, linear, hidden)
    X, y = datasets.xor()
    with no_grad():
        out = hand_built_xor()(as_tensor(X)).data[:, 0]
    numbers["hand_built_accuracy"] = float(((out > 0.5) == y).mean())
    numbers["hand_built_max_error"] = float(np.abs(out - y).max())
    if draw:
        from ..diagnostics import decision_surface
        from ..diagnostics.plots import _figure

        fig = _figure(12, 3.4)
        for i, (name, label) in enumerate((("xor", "XOR"), ("table", "11-point table"))):
            X, y, linear, hidden = models[name]
            decision_surface(linear, X, y, resolution=80, title=f"{label}: linear", ax=fig.add_subplot(1, 4, 2 * i + 1))
            decision_surface(hidden, X, y, resolution=80, title=f"{label}: 1 hidden layer",
                             ax=fig.add_subplot(1, 4, 2 * i + 2))
        figures["decision surfaces: linear vs one hidden layer"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        at_most(s, "xor_best_line_accuracy", 0.75, "best line on XOR"),
        at_most(s, "xor_linear_accuracy", 0.75, "trained linear model on XOR"),
        Check(f"no line separates the table: best line {s.text('table_best_line_accuracy')} < 1",
              s.mean("table_best_line_accuracy") < 1.0),
        at_least(s, "xor_one_hidden_layer_accuracy", 1.0, "one hidden layer on XOR"),
        at_least(s, "table_one_hidden_layer_accuracy", 1.0, "one hidden layer on the table"),
        at_least(s, "hand_built_accuracy", 1.0, "the notes' hand-built XOR net"),
    ]


EXPERIMENT = Experiment("xor", "XOR and the 11-point table need a hidden layer", CLAIMS, setup, measure, judge)
