"""4. Dead ReLUs versus learning rate and bias initialization; leaky ReLU, ELU and maxout do not die."""

from __future__ import annotations

import numpy as np

from .base import Check, Claim, Experiment, SeedResult, less
from .common import digits_split, mlp, png, train, zero_gradient_units

CLAIMS = (
    Claim("In practice a large fraction of ReLU units can die if the learning rate is set too high",
          "001_c1cc0bdd94be0952.txt"),
    Claim("It is advised to initialize the bias to a positive value (0.01)", "001_c1cc0bdd94be0952.txt"),
    Claim("Will not die (0.01x ensures that at least a small gradient will flow through)", "001_c1cc0bdd94be0952.txt"),
    Claim("Maxout Neuron … No saturation! No death!", "001_c1cc0bdd94be0952.txt"),
)
LRS = (0.01, 0.3, 1.0)


def setup(quick: bool) -> str:
    return (f"Standardized digits, an MLP with 2 hidden layers of 128 units, He initialization, plain SGD, batch 32, "
            f"{_epochs(quick)} epochs, learning rates {', '.join(map(str, LRS))}; ReLU with bias 0 and 0.01, and leaky "
            "ReLU, ELU and maxout at the highest rate (a run whose loss turns NaN is reported as diverged). A unit is dead when the gradient of all its incoming weights "
            "and its bias is exactly zero over the whole training set (the notes: they \"will not get updated\").")


def _epochs(quick):
    # Units die within the first epochs; longer runs at lr 1 only add divergence (NaN), so full mode adds seeds only.
    return 3


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    (X, y), _ = digits_split(seed)
    numbers, curves = {}, {}

    def run(kind, lr, bias):
        model = mlp([64, 128, 128, 10], kind, weight_init="he_normal", bias_init=bias, rng=seed)
        train(model, (X, y), "sgd", lr=lr, epochs=_epochs(quick), batch_size=32, seed=seed)
        return float(np.mean(zero_gradient_units(model, X, y)))

    for bias in (0.0, 0.01):
        curves[bias] = [run("relu", lr, bias) for lr in LRS]
        for lr, dead in zip(LRS, curves[bias]):
            numbers[f"relu_bias{bias:g}_lr{lr:g}_dead_fraction"] = dead
    for kind in ("leaky_relu", "elu", "maxout"):
        numbers[f"{kind}_lr{LRS[-1]:g}_dead_fraction"] = run(kind, LRS[-1], 0.0)
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(5, 3.6)
        ax = fig.add_subplot()
        for bias, dead in curves.items():
            ax.plot(LRS, dead, marker="o", label=f"ReLU, bias init {bias:g}")
        for kind in ("leaky_relu", "elu", "maxout"):
            ax.plot([LRS[-1]], [numbers[f"{kind}_lr{LRS[-1]:g}_dead_fraction"]], marker="s", linestyle="", label=kind)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("dead fraction of hidden units")
        ax.legend(fontsize=8)
        figures["dead units after training"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    low, high = LRS[0], LRS[-1]
    checks = [less(s, f"relu_bias0_lr{low:g}_dead_fraction", f"relu_bias0_lr{high:g}_dead_fraction",
                   f"more ReLUs die at lr {high:g} than at {low:g}"),
              Check(f"a large fraction (≥ 0.1) of ReLUs die at lr {high:g}: "
                    f"{s.text(f'relu_bias0_lr{high:g}_dead_fraction')}",
                    s.mean(f"relu_bias0_lr{high:g}_dead_fraction") >= 0.1),
              less(s, f"relu_bias0.01_lr{high:g}_dead_fraction", f"relu_bias0_lr{high:g}_dead_fraction",
                   f"bias 0.01 leaves fewer dead ReLUs than bias 0 at lr {high:g}")]
    for kind in ("leaky_relu", "elu", "maxout"):
        values = np.array(s.values(f"{kind}_lr{high:g}_dead_fraction"))
        finite = values[np.isfinite(values)]
        diverged = len(values) - len(finite)
        note = f" ({diverged} of {len(values)} seeds diverged: NaN loss, deadness not measurable)" if diverged else ""
        checks.append(Check(f"{kind} does not die at lr {high:g}: dead fraction "
                            f"{', '.join(f'{v:.3g}' for v in finite) or 'none measured'}{note}",
                            bool(len(finite)) and bool((finite == 0).all())))
    return checks


EXPERIMENT = Experiment("dead_relu", "Dead ReLUs: learning rate and bias initialization", CLAIMS, setup, measure, judge)
