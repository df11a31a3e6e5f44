"""5. Initialization: equal weights stay equal; small weights vanish, large ones saturate; 1/√n, Xavier, He keep the variance."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..diagnostics import unit_outputs, unit_statistics
from .base import Check, Claim, Experiment, SeedResult, at_least, at_most
from .common import digits_split, mlp, png, train

CLAIMS = (
    Claim("All neurons in layer 1 will get the same activation … ∴ ∇w11 = ∇w21 (scenario of equal weight "
          "initialization)", "001_c1cc0bdd94be0952.txt"),
    Claim("If all the activations in a layer are very close to 0 gradient of the weights will all be close to 0 "
          "(vanishing gradient problem)", "001_c1cc0bdd94be0952.txt"),
    Claim("Let us try to initialize the weights to large random numbers … Most activations have saturated",
          "001_c1cc0bdd94be0952.txt"),
    Claim("We draw the weights from a unit Gaussian and scale them by 1/√n", "001_c1cc0bdd94be0952.txt"),
)
DEPTH, WIDTH = 10, 100
# name -> (activation, initializer)
SCHEMES = {
    "small N(0, 0.01²), tanh": ("tanh", nn.init.normal(0.01)),
    "large N(0, 1), tanh": ("tanh", nn.init.normal(1.0)),
    "1/√n, tanh": ("tanh", "lecun_normal"),
    "Xavier, tanh": ("tanh", "xavier_normal"),
    "He, ReLU": ("relu", "he_normal"),
}


def setup(quick: bool) -> str:
    return (f"Standardized digits. Symmetry: a tanh MLP 64-32-32-10 with every weight 0.1 and zero biases, SGD lr 0.1, "
            f"{_epochs(quick)} epochs; the largest difference between two hidden units' incoming weights. Depth: "
            f"{DEPTH} hidden layers of {WIDTH} units, one batch of 500 samples at initialization, per-layer activation "
            "std and saturation (tanh outputs within 0.02 of ±1), and ‖∇W‖ of the first layer.")


def _epochs(quick):
    return 3 if quick else 20


def _key(name):
    return name.split(",")[0].split(" ")[0].replace("/", "").replace("√", "sqrt").lower()


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    from .. import losses
    from ..tensor import as_tensor

    (X, y), _ = digits_split(seed)
    numbers = {}
    equal = mlp([64, 32, 32, 10], "tanh", weight_init=nn.init.constant(0.1), rng=seed)
    history = train(equal, (X, y), "sgd", lr=0.1, epochs=_epochs(quick), batch_size=32, seed=seed)
    for i in (0, 2):
        W = equal[i].weight.data
        numbers[f"equal_init_layer{i // 2 + 1}_max_unit_difference"] = float(np.abs(W - W[:, :1]).max())
    numbers["equal_init_weight_change"] = float(np.abs(equal[0].weight.data - 0.1).max())
    numbers["equal_init_final_loss"] = float(history["loss"][-1])
    batch = X[np.random.default_rng(seed).choice(len(X), 500, replace=False)]
    hist_rows = {}
    for name, (activation, init) in SCHEMES.items():
        key = _key(name)
        model = mlp([64] + [WIDTH] * DEPTH + [10], activation, weight_init=init, rng=seed)
        rows = unit_outputs(model, batch)
        stats = [unit_statistics(layer, out) for _, layer, out in rows]
        numbers[f"{key}_std_layer1"] = stats[0]["std"]
        numbers[f"{key}_std_layer{DEPTH}"] = stats[-1]["std"]
        numbers[f"{key}_std_ratio_last_over_first"] = stats[-1]["std"] / max(stats[0]["std"], 1e-30)
        numbers[f"{key}_saturated_fraction"] = float(np.mean([s["saturated_fraction"] for s in stats]))
        model.zero_grad()
        losses.cross_entropy(model(as_tensor(batch[:100])), y[:100]).backward()
        numbers[f"{key}_first_layer_grad_norm"] = float(np.linalg.norm(model[0].weight.grad))
        hist_rows[name] = rows
    figures = {}
    if draw:
        from matplotlib.figure import Figure

        # One grid (initializations × layers); constrained layout would cost seconds for 50 axes.
        fig = Figure(figsize=(16, 1.7 * len(hist_rows)))
        axes = fig.subplots(len(hist_rows), DEPTH, squeeze=False)
        for r, (name, rows) in enumerate(hist_rows.items()):
            for c, (_, _, out) in enumerate(rows):
                ax = axes[r, c]
                ax.hist(out.ravel(), bins=30, color="steelblue")
                ax.set_yticks([])
                ax.tick_params(labelsize=6)
                ax.set_title(f"layer {c + 1}" if r == 0 else "", fontsize=8)
            axes[r, 0].set_ylabel(name, fontsize=7)
        fig.subplots_adjust(left=0.04, right=0.99, bottom=0.05, top=0.93, hspace=0.5)
        figures["activation histograms per layer (rows: initialization)"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    checks = [
        at_most(s, "equal_init_layer1_max_unit_difference", 1e-6,
                "equal init: hidden units of layer 1 still identical (up to float32 rounding of 0.1)"),
        at_most(s, "equal_init_layer2_max_unit_difference", 1e-6,
                "equal init: hidden units of layer 2 still identical (up to float32 rounding)"),
        Check(f"…although the weights did move: {s.text('equal_init_weight_change')} > 0",
              s.mean("equal_init_weight_change") > 0),
        Check(f"small weights: activations vanish with depth (layer {DEPTH} std / layer 1 std < 0.01): "
              f"{s.text('small_std_ratio_last_over_first')}", s.mean("small_std_ratio_last_over_first") < 0.01),
        Check(f"small weights: the first layer's gradient is < 1/100 of 1/√n's: {s.text('small_first_layer_grad_norm')}"
              f" vs {s.text('1sqrtn_first_layer_grad_norm')}",
              s.mean("small_first_layer_grad_norm") < 0.01 * s.mean("1sqrtn_first_layer_grad_norm")),
        at_least(s, "large_saturated_fraction", 0.5, "large weights: fraction of saturated tanh outputs"),
    ]
    for key in ("1sqrtn", "xavier", "he"):
        ratio = f"{key}_std_ratio_last_over_first"
        checks.append(Check(f"{key}: activation std kept across {DEPTH} layers (last/first in [0.2, 5]): {s.text(ratio)}",
                            0.2 <= s.mean(ratio) <= 5))
    return checks


EXPERIMENT = Experiment("init", "Weight initialization: symmetry, vanishing and saturating activations", CLAIMS, setup,
                        measure, judge)
