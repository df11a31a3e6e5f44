"""15. Parameter sharing: a convolutional net against an MLP on the 8×8 digits, parameters and accuracy."""

from __future__ import annotations

import numpy as np

from .. import datasets, nn
from ..data import Standardizer, train_test_split
from .base import Check, Claim, Experiment, SeedResult, less
from .common import accuracy, epoch_curves, mlp, png, train

CLAIMS = (
    Claim("Parameter Sharing - Used in CNNs - Same filter applied at different positions of the image",
          "001_c1cc0bdd94be0952.txt"),
    Claim("Weight sharing (greatly reduce the number of parameters)", "002_f454bcaa3b381492.txt"),
)
SMALL = 300


def setup(quick: bool) -> str:
    return ("Digits as 1×8×8 images (standardized per pixel), 30 % held out. CNN: Conv2d(1, 16, 3, same) ReLU MaxPool 2 "
            "Conv2d(16, 32, 3, same) ReLU MaxPool 2 Flatten Linear(128, 10), He init; MLP 64-256-128-10 ReLU (the "
            f"default nnlab train model). Adam lr 1e-3, batch 32, {_epochs(quick)} epochs, on the whole training split "
            f"and on its first {SMALL} samples.")


def _epochs(quick):
    return 10 if quick else 40


def _cnn(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same", weight_init="he_normal", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding="same", weight_init="he_normal", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, rng=rng))


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    X, y = datasets.digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=seed)
    scaler = Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    images = lambda A: A.reshape(len(A), 1, 8, 8)
    numbers, curves = {}, {}
    for size, tag in ((len(X_train), "full"), (SMALL, "small")):
        for kind in ("cnn", "mlp"):
            model = _cnn(seed) if kind == "cnn" else mlp([64, 256, 128, 10], "relu", weight_init="he_normal", rng=seed)
            Xt = images(X_train[:size]) if kind == "cnn" else X_train[:size]
            history = train(model, (Xt, y_train[:size]), "adam", lr=1e-3, epochs=_epochs(quick), seed=seed)
            numbers[f"{kind}_{tag}_test_accuracy"] = accuracy(model, images(X_test) if kind == "cnn" else X_test, y_test)
            numbers[f"{kind}_parameters"] = float(model.num_parameters())
            if tag == "full":
                curves[kind.upper()] = history["loss"]
    figures = {"training loss, CNN vs MLP": png(epoch_curves(curves, log=True))} if draw else {}
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        Check(f"the CNN has far fewer parameters: {s.mean('cnn_parameters'):,.0f} vs {s.mean('mlp_parameters'):,.0f}",
              s.mean("cnn_parameters") * 5 < s.mean("mlp_parameters")),
        Check(f"…yet matches the MLP's test accuracy (within 0.01): {s.text('cnn_full_test_accuracy')} vs "
              f"{s.text('mlp_full_test_accuracy')}", s.mean("cnn_full_test_accuracy") >= s.mean("mlp_full_test_accuracy") - 0.01),
        less(s, "mlp_small_test_accuracy", "cnn_small_test_accuracy", f"with {SMALL} training samples the MLP is worse than the CNN (MLP vs CNN)"),
    ]


EXPERIMENT = Experiment("conv", "Parameter sharing: a convolutional net against an MLP", CLAIMS, setup, measure, judge)
