"""14. Debugging: gradient checking catches a wrong backward; hidden units and filters in good and bad training."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..diagnostics import unit_outputs
from ..gradcheck import gradcheck
from ..tensor import make_result, tensor
from .base import Check, Claim, Experiment, SeedResult, less
from .common import accuracy, digits_split, mean_abs_correlation, mlp, png, train

CLAIMS = (
    Claim("Training diverges: … BPROP is buggy → numerical gradient checking", "002_f454bcaa3b381492.txt"),
    Claim("Inspect hidden units. Should be sparse across samples and features (left). In bad training, strong "
          "correlations are seen (right), and also units ignore input.", "002_f454bcaa3b381492.txt"),
    Claim("Visualize weights … too noisy … Good training: learned filters exhibit structure and are uncorrelated.",
          "002_f454bcaa3b381492.txt"),
)


def setup(quick: bool) -> str:
    return ("Gradient check: nnlab.gradcheck on a sigmoid op whose backward is right, σ(1 − σ), and on one whose "
            "backward forgets the (1 − σ) factor, inside a small float64 network. Hidden units: standardized digits, "
            f"MLP 64-64-10 ReLU, SGD momentum 0.9 lr 0.02, {_epochs(quick)} epochs; good = He initialization; bad = "
            "every weight 0.05 plus N(0, 0.001²) (symmetry barely broken). On 300 test samples: mean |correlation| "
            "between hidden units, the fraction of zero activations (sparsity) and of units constant over the samples "
            "(they ignore the input). Filters: first-layer weights as 8×8 images; structure = mean correlation of "
            "horizontally and vertically neighbouring weights within a filter; good = trained with L2 (weight decay "
            f"1e-3) on the full training split, noisy = N(0, 1) weights trained on 100 samples without it.")


def _epochs(quick):
    return 8 if quick else 30


def _sigmoid_op(x, buggy: bool):
    s = 1 / (1 + np.exp(-x.data))
    if buggy:
        return make_result(s, (x,), lambda g: (g * s,))  # forgot the (1 − σ) factor
    return make_result(s, (x,), lambda g: (g * s * (1 - s),))


def _gradcheck_error(buggy: bool, seed: int) -> float:
    rng = np.random.default_rng(seed)
    x = tensor(rng.normal(size=(4, 3)), requires_grad=True, dtype="float64")
    W = tensor(rng.normal(size=(3, 2)), requires_grad=True, dtype="float64")
    result = gradcheck(lambda a, b: (_sigmoid_op(a @ b, buggy) ** 2).sum(), [x, W], seed=seed)
    return float(result.worst_abs), bool(result)


def _nearly_equal(shape, rng=None, dtype=np.float32):
    """The bad initialization: every weight 0.05 plus N(0, 0.001²)."""
    from ..random import get_rng

    return (0.05 + 0.001 * get_rng(rng).standard_normal(shape)).astype(dtype)


def _neighbour_correlation(W) -> float:
    """Mean correlation of horizontally and vertically adjacent weights within each 8×8 filter."""
    F = W.T.reshape(-1, 8, 8)
    F = (F - F.mean(axis=(1, 2), keepdims=True)) / (F.std(axis=(1, 2), keepdims=True) + 1e-12)
    return float(0.5 * ((F[:, :, 1:] * F[:, :, :-1]).mean() + (F[:, 1:, :] * F[:, :-1, :]).mean()))


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    numbers, figures = {}, {}
    for label, buggy in (("correct", False), ("buggy", True)):
        error, ok = _gradcheck_error(buggy, seed)
        numbers[f"{label}_backward_gradcheck_worst_abs_error"] = error
        numbers[f"{label}_backward_gradcheck_passes"] = float(ok)
    (X, y), (X_test, y_test) = digits_split(seed)
    probe = X_test[:300]
    hidden = {}
    for label, init in (("good", "he_normal"), ("bad", _nearly_equal)):
        model = mlp([64, 64, 10], "relu", weight_init=init, rng=seed)
        train(model, (X, y), "sgd", lr=0.02, epochs=_epochs(quick), seed=seed, momentum=0.9)
        H = unit_outputs(model, probe)[0][2]
        hidden[label] = (model, H)
        numbers[f"{label}_hidden_mean_abs_correlation"] = mean_abs_correlation(H)
        numbers[f"{label}_hidden_zero_fraction"] = float((H == 0).mean())
        numbers[f"{label}_units_ignoring_input"] = float((H.std(axis=0) < 1e-6).mean())
        numbers[f"{label}_test_accuracy"] = accuracy(model, X_test, y_test)
    filters = {}
    for label, (init, data, decay) in {"structured": ("he_normal", (X, y), 1e-3),
                                       "noisy": (nn.init.normal(1.0), (X[:100], y[:100]), 0.0)}.items():
        model = mlp([64, 64, 10], "relu", weight_init=init, rng=seed)
        train(model, data, "sgd", lr=0.02, epochs=_epochs(quick), seed=seed, momentum=0.9, weight_decay=decay)
        W = model[0].weight.data
        filters[label] = W
        numbers[f"{label}_filters_neighbour_correlation"] = _neighbour_correlation(W)
        numbers[f"{label}_filters_mean_abs_correlation"] = mean_abs_correlation(W)
        numbers[f"{label}_filters_test_accuracy"] = accuracy(model, X_test, y_test)
    if draw:
        from ..diagnostics import hidden_activations, weight_images

        for label, (model, _) in hidden.items():
            figures[f"hidden units × samples, {label} training"] = png(hidden_activations(model, probe, 100))
        for label, W in filters.items():
            figures[f"first-layer filters, {label}"] = png(weight_images(W, (8, 8), max_units=32, title=label))
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        Check(f"gradcheck passes the correct backward (worst error {s.text('correct_backward_gradcheck_worst_abs_error')})"
              f" and fails the buggy one (worst error {s.text('buggy_backward_gradcheck_worst_abs_error')})",
              s.mean("correct_backward_gradcheck_passes") == 1 and s.mean("buggy_backward_gradcheck_passes") == 0),
        less(s, "good_hidden_mean_abs_correlation", "bad_hidden_mean_abs_correlation",
             "hidden units are less correlated in good training"),
        less(s, "bad_hidden_zero_fraction", "good_hidden_zero_fraction",
             "hidden activations are sparser in good training (fraction of zeros, margin 0.02)", 0.02),
        less(s, "noisy_filters_neighbour_correlation", "structured_filters_neighbour_correlation",
             "good filters are smoother (neighbouring weights correlate more)"),
        less(s, "structured_filters_mean_abs_correlation", "noisy_filters_mean_abs_correlation",
             "good filters are less correlated with each other"),
    ]


EXPERIMENT = Experiment("debugging", "Debugging: gradient checks, hidden units, filters", CLAIMS, setup, measure, judge)
