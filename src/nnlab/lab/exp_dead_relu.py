"""4. Dead ReLUs versus learning rate and bias initialization; leaky ReLU, ELU and maxout do not die."""

from __future__ import annotations

import numpy as np

from .base import Check, Claim, Experiment, SeedResult
from .common import digits_split, mlp, png, train, zero_gradient_units

CLAIMS = (
    Claim("In practice a large fraction of ReLU units can die if the learning rate is set too high",
          "001_c1cc0bdd94be0952.txt"),
    Claim("It is advised to initialize the bias to a positive value (0.01)", "001_c1cc0bdd94be0952.txt"),
    Claim("Will not die (0.01x ensures that at least a small gradient will flow through)", "001_c1cc0bdd94be0952.txt"),
    Claim("Maxout Neuron … No saturation! No death!", "001_c1cc0bdd94be0952.txt"),
)
LRS = (0.01, 0.3, 0.7, 1.0)


def setup(quick: bool) -> str:
    return (f"Standardized digits, an MLP with 2 hidden layers of 128 units, He initialization, plain SGD, batch 32, "
            f"{_epochs(quick)} epochs, learning rates {', '.join(map(str, LRS))}; ReLU with bias 0 and 0.01, and leaky "
            "ReLU, ELU and maxout at every rate but the lowest; each is judged at the rates where some bias-0 ReLUs die "
            "(a run whose loss turns NaN is reported as diverged and left out, which the checks say). "
            "A unit is dead when the gradient of all its incoming weights "
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
        for lr in LRS[1:]:
            numbers[f"{kind}_lr{lr:g}_dead_fraction"] = run(kind, lr, 0.0)
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(5, 3.6)
        ax = fig.add_subplot()
        for bias, dead in curves.items():
            ax.plot(LRS, dead, marker="o", label=f"ReLU, bias init {bias:g}")
        for kind in ("leaky_relu", "elu", "maxout"):
            ax.plot(LRS[1:], [numbers[f"{kind}_lr{lr:g}_dead_fraction"] for lr in LRS[1:]], marker="s", linestyle="",
                    label=kind)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("dead fraction of hidden units")
        ax.legend(fontsize=8)
        figures["dead units after training"] = png(fig)
    return SeedResult(numbers, figures)


def _measured(s, key):
    """The seeds' values of ``key`` where the run did not diverge, and how many did."""
    values = np.array(s.values(key))
    return values[np.isfinite(values)], int((~np.isfinite(values)).sum())


def _fewer_dead(s, small: str, large: str, label: str) -> Check:
    """mean(small) < mean(large) over the seeds where both runs trained (no NaN), saying how many were left out."""
    a, b = np.array(s.values(small)), np.array(s.values(large))
    both = np.isfinite(a) & np.isfinite(b)
    left_out = f" ({int((~both).sum())} of {len(a)} seeds diverged, left out)" if not both.all() else ""
    if not both.any():
        return Check(f"{label}: not measurable, every seed diverged", False)
    return Check(f"{label}: {a[both].mean():.3g} vs {b[both].mean():.3g}{left_out}", bool(a[both].mean() < b[both].mean()))


def judge(s) -> list[Check]:
    low, high = LRS[0], LRS[-1]
    checks = [_fewer_dead(s, f"relu_bias0_lr{low:g}_dead_fraction", f"relu_bias0_lr{high:g}_dead_fraction",
                          f"more ReLUs die at lr {high:g} than at {low:g}")]
    dead, lost = _measured(s, f"relu_bias0_lr{high:g}_dead_fraction")
    checks.append(Check(f"a large fraction (≥ 0.1) of ReLUs die at lr {high:g}: "
                        + (f"{dead.mean():.3g} ± {dead.std():.3g}" if len(dead) else "none measured")
                        + (f" ({lost} of {lost + len(dead)} seeds diverged, left out)" if lost else ""),
                        bool(len(dead)) and dead.mean() >= 0.1))
    checks.append(_fewer_dead(s, f"relu_bias0.01_lr{high:g}_dead_fraction", f"relu_bias0_lr{high:g}_dead_fraction",
                              f"bias 0.01 leaves fewer dead ReLUs than bias 0 at lr {high:g}"))
    # the rates that kill ReLUs: only there does "does not die" say anything
    relu_dead = {lr: _measured(s, f"relu_bias0_lr{lr:g}_dead_fraction")[0] for lr in LRS[1:]}
    killing = {lr: dead.mean() for lr, dead in relu_dead.items() if len(dead) and dead.mean() > 0}
    for kind in ("leaky_relu", "elu", "maxout"):
        parts, measured, alive = [], 0, True
        for lr, relu in killing.items():
            values, diverged = _measured(s, f"{kind}_lr{lr:g}_dead_fraction")
            shown = ", ".join(f"{v:.3g}" for v in values) or "none measured"
            parts.append(f"lr {lr:g} (ReLU {relu:.3g}): {shown}"
                         + (f" ({diverged} of {diverged + len(values)} seeds diverged)" if diverged else ""))
            measured += len(values)
            alive = alive and bool((values == 0).all())
        if not killing:
            parts = ["no rate killed ReLUs"]
        elif not measured:
            parts.append("it diverged at every rate where ReLUs die: not measurable here")
        checks.append(Check(f"{kind} does not die where ReLUs do (dead fraction per seed; " + "; ".join(parts) + ")",
                            measured > 0 and alive))
    return checks


EXPERIMENT = Experiment("dead_relu", "Dead ReLUs: learning rate and bias initialization", CLAIMS, setup, measure, judge)
