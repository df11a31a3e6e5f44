"""6. Batch normalization: steps to a target accuracy, and the highest stable learning rate, with and without it."""

from __future__ import annotations

import math

import numpy as np

from ..train import Callback
from .base import Check, Claim, Experiment, SeedResult, at_least, less
from .common import accuracy, digits_split, epoch_curves, mlp, png, train

CLAIMS = (
    Claim("Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift",
          "002_f454bcaa3b381492.txt"),
    Claim("Figure 2: Single crop validation accuracy of Inception and its batch-normalized variants, vs. the number "
          "of training steps.", "002_f454bcaa3b381492.txt"),
)
LRS = (0.03, 0.1, 0.3, 1.0, 3.0)
TARGET = 0.9


def setup(quick: bool) -> str:
    return (f"Standardized digits, an MLP of 4 hidden layers of 64 ReLU units (He init), plain SGD, batch 32. "
            f"Steps until the test accuracy first reaches {TARGET} (checked every 10 steps, at most {_epochs(quick)} "
            f"epochs) at lr 0.1, with and without BatchNorm before each activation. Stability: for lr in "
            f"{', '.join(map(str, LRS))}, {_epochs(quick) // 2} epochs; stable when the final loss is finite and the "
            "test accuracy above 0.5.")


def _epochs(quick):
    return 8 if quick else 30


class _StepsToAccuracy(Callback):
    def __init__(self, X, y, every=10):
        self.X, self.y, self.every, self.steps, self.reached = X, y, every, 0, None

    def on_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.reached is None and self.steps % self.every == 0 and accuracy(self.model, self.X, self.y) >= TARGET:
            self.reached = self.steps
            self.stop_training = True


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    train_set, (X_test, y_test) = digits_split(seed)
    numbers, curves = {}, {}
    for bn in (False, True):
        tag = "bn" if bn else "plain"
        model = mlp([64, 64, 64, 64, 64, 10], "relu", weight_init="he_normal", rng=seed, batch_norm=bn)
        watch = _StepsToAccuracy(X_test, y_test)
        history = train(model, train_set, "sgd", lr=0.1, epochs=_epochs(quick), batch_size=32, seed=seed,
                        callbacks=[watch])
        numbers[f"{tag}_steps_to_{TARGET:g}"] = float(watch.reached or math.inf)
        curves[tag] = history["loss"]
        stable = []
        for lr in LRS:
            model = mlp([64, 64, 64, 64, 64, 10], "relu", weight_init="he_normal", rng=seed, batch_norm=bn)
            h = train(model, train_set, "sgd", lr=lr, epochs=_epochs(quick) // 2, batch_size=32, seed=seed)
            ok = math.isfinite(h["loss"][-1]) and accuracy(model, X_test, y_test) > 0.5
            stable.append(lr if ok else 0.0)
        numbers[f"{tag}_highest_stable_lr"] = float(max(stable))
    figures = {}
    if draw:
        labelled = {"BatchNorm" if tag == "bn" else "no BatchNorm": loss for tag, loss in curves.items()}
        figures[f"training loss until test accuracy {TARGET}"] = png(epoch_curves(labelled, ylabel="training loss (lr 0.1)"))
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        less(s, f"bn_steps_to_{TARGET:g}", f"plain_steps_to_{TARGET:g}", "BatchNorm reaches the target in fewer steps"),
        Check(f"BatchNorm's highest stable lr is higher: {s.text('bn_highest_stable_lr')} vs "
              f"{s.text('plain_highest_stable_lr')}", s.mean("bn_highest_stable_lr") > s.mean("plain_highest_stable_lr")),
        at_least(s, "bn_highest_stable_lr", LRS[0], "BatchNorm trains at some tested lr"),
    ]


EXPERIMENT = Experiment("batchnorm", "Batch normalization: faster training, higher learning rates", CLAIMS, setup,
                        measure, judge)
