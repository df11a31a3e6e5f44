"""12. Dropout as an ensemble: test-time weight scaling versus averaging many sampled thinned networks."""

from __future__ import annotations

import numpy as np

from ..tensor import as_tensor, no_grad
from ..train import predict
from .base import Check, Claim, Experiment, SeedResult, at_least, less
from .common import digits_split, mlp, png, train

CLAIMS = (
    Claim("Also gives an efficient approximate way of combining exponentially many different neural networks.",
          "001_c1cc0bdd94be0952.txt"),
    Claim("Impossible to aggregate the outputs of 2^n thinned networks - Instead we use the full Neural Network and "
          "scale the output of each node by the fraction of times it was on during training", "001_c1cc0bdd94be0952.txt"),
    Claim("Randomly set activations in layer to zero - Gives ensemble of models", "002_f454bcaa3b381492.txt"),
)
COUNTS = (1, 3, 10, 30, 100)


def setup(quick: bool) -> str:
    return (f"Standardized digits, MLP 64-256-256-10 ReLU with dropout (keep 0.5 hidden, 0.8 input), SGD momentum 0.9 "
            f"lr 0.02, batch 32, {_epochs(quick)} epochs. Test accuracy of the full network (nnlab's inverted dropout "
            "scales at training time, which is the notes' test-time weight scaling) against the average of the "
            f"softmax outputs of M sampled thinned networks, M in {COUNTS}.")


def _epochs(quick):
    return 10 if quick else 40


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    (X, y), (X_test, y_test) = digits_split(seed)
    model = mlp([64, 256, 256, 10], "relu", weight_init="he_normal", rng=seed, dropout_keep=0.5, input_keep=0.8)
    train(model, (X, y), "sgd", lr=0.02, epochs=_epochs(quick), seed=seed, momentum=0.9)
    scaled = predict(model, X_test)
    numbers = {"weight_scaling_test_accuracy": float((scaled.argmax(axis=1) == y_test).mean())}
    model.train()  # dropout active: every forward pass samples a thinned network
    total, accuracies = 0.0, {}
    with no_grad():
        for m in range(1, max(COUNTS) + 1):
            total = total + _softmax(model(as_tensor(X_test)).data)
            if m in COUNTS:
                accuracies[m] = float((total.argmax(axis=1) == y_test).mean())
                numbers[f"average_of_{m}_thinned_test_accuracy"] = accuracies[m]
    model.eval()
    numbers["agreement_scaling_vs_100"] = float((total.argmax(axis=1) == scaled.argmax(axis=1)).mean())
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(5, 3.5)
        ax = fig.add_subplot()
        ax.plot(list(accuracies), list(accuracies.values()), marker="o", label="average of M thinned networks")
        ax.axhline(numbers["weight_scaling_test_accuracy"], color="red", linestyle="--", label="weight scaling")
        ax.set_xscale("log")
        ax.set_xlabel("M")
        ax.set_ylabel("test accuracy")
        ax.legend()
        figures["dropout: weight scaling vs averaging thinned networks"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    big = f"average_of_{COUNTS[-1]}_thinned_test_accuracy"
    return [
        less(s, "average_of_1_thinned_test_accuracy", big, f"averaging {COUNTS[-1]} thinned networks beats one"),
        Check(f"weight scaling approximates the {COUNTS[-1]}-network average within 0.01: "
              f"{s.text('weight_scaling_test_accuracy')} vs {s.text(big)}",
              abs(s.mean("weight_scaling_test_accuracy") - s.mean(big)) <= 0.01),
        at_least(s, "agreement_scaling_vs_100", 0.97, "weight scaling and the average agree on the predicted class"),
    ]


EXPERIMENT = Experiment("dropout_ensemble", "Dropout as an ensemble of thinned networks", CLAIMS, setup, measure, judge)
