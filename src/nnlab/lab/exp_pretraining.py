"""13. Greedy layer-wise pretraining versus random initialization on a deep sigmoid net."""

from __future__ import annotations

import numpy as np

from .. import datasets, nn
from ..data import train_test_split
from ..pretrain import greedy_pretrain
from .base import Check, Claim, Experiment, SeedResult, less
from .common import accuracy, epoch_curves, png, train

CLAIMS = (
    Claim("In fact, till 2006 it was very hard to train very deep networks - Typically, even after a large number of "
          "epochs the training did not converge", "000_03377fa06e07dc42.txt"),
    Claim("Today we will talk about Greedy Layer wise Pre training, Better activation functions, Better weight "
          "initialization methods, and Batch normalization.", "000_03377fa06e07dc42.txt"),
)
DEPTH, WIDTH = 6, 64


def setup(quick: bool) -> str:
    pre, sup = _epochs(quick)
    return (f"Digits scaled to [0, 1], 30 % held out. An MLP of {DEPTH} hidden layers of {WIDTH} sigmoid units from small "
            f"random weights N(0, 0.01²), trained supervised for {sup} epochs (SGD lr 0.05, momentum 0.9, batch 32) "
            f"from scratch, after greedy stacked-autoencoder pretraining and after RBM (CD-1) pretraining "
            f"(nnlab.pretrain.greedy_pretrain, {pre} epochs of Adam lr 0.01 per layer; the settings of "
            "examples/pretrain_deep_sigmoid.py).")


def _epochs(quick):
    return (5, 10) if quick else (5, 20)


def _model(seed):
    rng = np.random.default_rng(seed)
    layers, width_in = [], 64
    for _ in range(DEPTH):
        layers += [nn.Linear(width_in, WIDTH, weight_init=nn.init.normal(0.01), rng=rng), nn.Sigmoid()]
        width_in = WIDTH
    return nn.Sequential(*layers, nn.Linear(width_in, 10, weight_init=nn.init.normal(0.01), rng=rng))


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    X, y = datasets.digits()
    X_train, X_test, y_train, y_test = train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, seed=seed)
    pre, sup = _epochs(quick)
    numbers, curves = {}, {}
    for method in ("none", "autoencoder", "rbm"):
        model = _model(seed)
        if method != "none":
            greedy_pretrain(model, X_train, method=method, epochs=pre, lr=0.01, optimizer="adam", seed=seed)
        history = train(model, (X_train, y_train), "sgd", lr=0.05, epochs=sup, seed=seed, momentum=0.9)
        curves[method] = history["loss"]
        numbers[f"{method}_final_train_loss"] = float(history["loss"][-1])
        numbers[f"{method}_test_accuracy"] = accuracy(model, X_test, y_test)
    figures = {}
    if draw:
        labelled = {"random init" if method == "none" else method: loss for method, loss in curves.items()}
        figures[f"training loss of a {DEPTH}-layer sigmoid net"] = png(epoch_curves(labelled, "supervised epoch"))
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        Check(f"from small random weights the deep sigmoid net does not converge: training loss "
              f"{s.text('none_final_train_loss')} stays near log 10 = 2.30", s.mean("none_final_train_loss") > 2.0),
        less(s, "autoencoder_final_train_loss", "none_final_train_loss",
             "autoencoder pretraining reaches a clearly lower training loss (margin 0.5)", 0.5),
        less(s, "rbm_final_train_loss", "none_final_train_loss",
             "RBM pretraining reaches a clearly lower training loss (margin 0.5)", 0.5),
        less(s, "none_test_accuracy", "autoencoder_test_accuracy", "…and a higher test accuracy (autoencoder)"),
    ]


EXPERIMENT = Experiment("pretraining", "Greedy layer-wise pretraining of a deep sigmoid net", CLAIMS, setup, measure,
                        judge)
