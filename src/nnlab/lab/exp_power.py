"""2. Representational power: decision surfaces of 1-, 2- and 3-layer nets on moons and spirals."""

from __future__ import annotations

from .. import datasets
from ..data import train_test_split
from .base import Check, Claim, Experiment, SeedResult, less
from .common import accuracy, mlp, png, train

CLAIMS = (
    Claim("1 layer? Linear decision surface. 2+ layers? In theory, can represent any function.",
          "002_f454bcaa3b381492.txt"),
    Claim("In practice, more layers helps.", "002_f454bcaa3b381492.txt"),
    Claim("More layers can handle more complicated spaces – but require more parameters",
          "004_2252f606abae7d36.txt"),
)
DEPTHS = (1, 2, 3)


def _sizes(quick):
    return (300, 150) if quick else (600, 400)


def setup(quick: bool) -> str:
    n, epochs = _sizes(quick)
    return (f"Two moons (noise 0.2) and two spirals (1 turn, noise 0.05), {n} points each, 30 % held out. "
            "Nets of 1 layer (linear), 2 layers (one hidden layer of 32 tanh units) and 3 layers (two hidden layers "
            f"of 32), Adam lr 0.02, batch 32, {epochs} epochs. Layers counted as in the notes: hidden + output.")


def _data(name, n, seed):
    if name == "moons":
        return datasets.moons(n, noise=0.2, seed=seed)
    return datasets.spirals(n, noise=0.05, turns=1.0, seed=seed)


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    n, epochs = _sizes(quick)
    numbers, trained = {}, {}
    for name in ("moons", "spirals"):
        X, y = _data(name, n, seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=seed)
        for depth in DEPTHS:
            model = mlp([2] + [32] * (depth - 1) + [2], "tanh", rng=seed)
            train(model, (X_train, y_train), "adam", lr=0.02, epochs=epochs, batch_size=32, seed=seed)
            numbers[f"{name}_{depth}_layer_train_accuracy"] = accuracy(model, X_train, y_train)
            numbers[f"{name}_{depth}_layer_test_accuracy"] = accuracy(model, X_test, y_test)
            numbers[f"{name}_{depth}_layer_parameters"] = float(model.num_parameters())
            trained[(name, depth)] = (model, X_train, y_train)
    figures = {}
    if draw:
        from ..diagnostics import decision_surface
        from ..diagnostics.plots import _figure

        fig = _figure(11, 7)
        for row, name in enumerate(("moons", "spirals")):
            for col, depth in enumerate(DEPTHS):
                model, X, y = trained[(name, depth)]
                decision_surface(model, X, y, resolution=90, title=f"{name}: {depth}-layer net",
                                 ax=fig.add_subplot(2, 3, 3 * row + col + 1))
        figures["decision surfaces of 1-, 2- and 3-layer nets"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    checks = []
    for name in ("moons", "spirals"):
        checks.append(less(s, f"{name}_1_layer_train_accuracy", f"{name}_2_layer_train_accuracy",
                           f"{name}: a hidden layer fits better than a line (train accuracy, margin 0.05)", 0.05))
    checks.append(less(s, "spirals_2_layer_test_accuracy", "spirals_3_layer_test_accuracy",
                       "spirals: 3 layers beat 2 on test accuracy (more layers helps)"))
    checks.append(Check(f"spirals: 3 layers fit the training set ≥ 0.95: {s.text('spirals_3_layer_train_accuracy')}",
                        s.mean("spirals_3_layer_train_accuracy") >= 0.95))
    return checks


EXPERIMENT = Experiment("power", "Representational power of 1-, 2- and 3-layer nets", CLAIMS, setup, measure, judge)
