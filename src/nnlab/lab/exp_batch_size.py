"""9. Batch, stochastic and mini-batch gradient descent; Goyal et al.'s linear scaling rule with warm-up."""

from __future__ import annotations

import numpy as np

from ..optim import schedules
from ..train import Callback, LearningRateScheduler
from .base import Check, Claim, Experiment, SeedResult, less
from .common import accuracy, digits_split, loss_of, mlp, png, train

CLAIMS = (
    Claim("Stochastic Gradient Descent - Updation of parameters for every single point. - No guarantee that loss will "
          "reduce at each iteration", "001_c1cc0bdd94be0952.txt"),
    Claim("Mini-batch gradient descent … Pros: Reduces variance of updates.", "004_2252f606abae7d36.txt"),
    Claim("[Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour, Goyal et al.] Scale learning rate with "
          "batch-size", "002_f454bcaa3b381492.txt"),
)
SUBSET = 256
SMALL, LARGE = 16, 256


def setup(quick: bool) -> str:
    return (f"Standardized digits. Noise: {SUBSET} training samples, MLP 64-32-10 ReLU, SGD lr 0.02, one epoch each with "
            f"batch size 1 (stochastic), 16 (mini-batch) and {SUBSET} (batch); after every update the loss on all "
            f"{SUBSET} samples; noise = the fraction of updates that raise it. Scaling: MLP 64-128-10, SGD momentum 0.9, "
            f"{_epochs(quick)} epochs on the full training split; batch {SMALL} at lr 0.01, batch {LARGE} at lr 0.01 "
            f"(unscaled) and at lr 0.01·{LARGE}/{SMALL} = {0.01 * LARGE / SMALL:g} with a linear per-step warm-up over the "
            "first 2 epochs from 1/16 of it; test accuracy.")


def _epochs(quick):
    return 6 if quick else 20


class _FullLoss(Callback):
    """The loss on a fixed set after every update."""

    def __init__(self, X, y):
        self.X, self.y, self.values = X, y, []

    def on_train_begin(self, logs=None):
        self.values = [loss_of(self.model, self.X, self.y)]

    def on_batch_end(self, batch, logs=None):
        self.values.append(loss_of(self.model, self.X, self.y))


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    (X, y), (X_test, y_test) = digits_split(seed)
    Xs, ys = X[:SUBSET], y[:SUBSET]
    numbers, traces = {}, {}
    for label, batch in (("stochastic", 1), ("minibatch", 16), ("batch", SUBSET)):
        watch = _FullLoss(Xs, ys)
        h = train(mlp([64, 32, 10], "relu", weight_init="he_normal", rng=seed), (Xs, ys), "sgd", lr=0.02, epochs=1,
                  batch_size=batch, seed=seed, callbacks=[watch])
        steps = np.diff(watch.values)
        numbers[f"{label}_updates_per_epoch"] = float(h.params["steps"])
        numbers[f"{label}_fraction_of_updates_raising_loss"] = float((steps > 0).mean())
        traces[label] = watch.values
    epochs = _epochs(quick)
    base = 0.01
    scaled = base * LARGE / SMALL
    steps_per_epoch = int(np.ceil(len(X) / LARGE))
    runs = {"small": (SMALL, base, None), "large_unscaled": (LARGE, base, None),
            "large_scaled_warmup": (LARGE, scaled, schedules.warmup(schedules.constant(scaled), 2 * steps_per_epoch,
                                                                   start=SMALL / LARGE))}
    for label, (batch, lr, schedule) in runs.items():
        model = mlp([64, 128, 10], "relu", weight_init="he_normal", rng=seed)
        callbacks = [LearningRateScheduler(schedule, per="step")] if schedule else []
        train(model, (X, y), "sgd", lr=lr, epochs=epochs, batch_size=batch, seed=seed, momentum=0.9,
              callbacks=callbacks)
        numbers[f"{label}_test_accuracy"] = accuracy(model, X_test, y_test)
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(6, 3.6)
        ax = fig.add_subplot()
        for label, values in traces.items():
            ax.plot(np.linspace(0, 1, len(values)), values, label=f"{label} ({len(values) - 1} updates)")
        ax.set_xlabel("fraction of the epoch")
        ax.set_ylabel(f"loss on all {SUBSET} samples")
        ax.legend(fontsize=8)
        figures["loss after every update, one epoch"] = png(fig)
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    return [
        Check(f"updates per epoch: stochastic {s.mean('stochastic_updates_per_epoch'):g}, mini-batch "
              f"{s.mean('minibatch_updates_per_epoch'):g}, batch {s.mean('batch_updates_per_epoch'):g} (= N/B)",
              s.mean("stochastic_updates_per_epoch") == SUBSET and s.mean("minibatch_updates_per_epoch") == SUBSET / 16
              and s.mean("batch_updates_per_epoch") == 1),
        less(s, "minibatch_fraction_of_updates_raising_loss", "stochastic_fraction_of_updates_raising_loss",
             "mini-batches raise the loss less often than single samples"),
        Check(f"stochastic updates do raise the loss sometimes: {s.text('stochastic_fraction_of_updates_raising_loss')}"
              " > 0", s.mean("stochastic_fraction_of_updates_raising_loss") > 0),
        Check(f"large batch with the scaled rate and warm-up matches the small batch (within 0.02): "
              f"{s.text('large_scaled_warmup_test_accuracy')} vs {s.text('small_test_accuracy')}",
              s.mean("large_scaled_warmup_test_accuracy") >= s.mean("small_test_accuracy") - 0.02),
        less(s, "large_unscaled_test_accuracy", "small_test_accuracy",
             "without scaling the large batch falls short by more than 0.02", 0.02),
    ]


EXPERIMENT = Experiment("batch_size", "Batch, stochastic and mini-batch gradient descent; the linear scaling rule",
                        CLAIMS, setup, measure, judge)
