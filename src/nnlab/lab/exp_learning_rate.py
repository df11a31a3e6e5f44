"""8. Learning rate: too small, too large, good; the coarse-then-fine search; the notes' annealing schedules."""

from __future__ import annotations

import math

import numpy as np

from .. import losses
from ..data import train_test_split
from ..optim import schedules
from ..train import HalveOnRise, LearningRateScheduler, lr_search
from .base import Check, Claim, Experiment, SeedResult, less
from .common import digits_split, epoch_curves, loss_of, mlp, png, train

CLAIMS = (
    Claim("if we pick a learning rate that's too small, we risk taking too long during the training process. But if we "
          "pick a learning rate that's too big, we'll mostly likely start diverging away from the minimum.",
          "004_2252f606abae7d36.txt"),
    Claim("Tune learning rate [Try different values on a log scale: 0.0001, 0.001, 0.01, 0.1, 1.0] … Now do a finer "
          "search around this value", "001_c1cc0bdd94be0952.txt"),
    Claim("Constant learning rate η typically not optimal.", "002_f454bcaa3b381492.txt"),
)
RATES = {"too small": 1e-5, "good": 0.01, "too large": 5.0}


def setup(quick: bool) -> str:
    e = _epochs(quick)
    return (f"Standardized digits (a validation split of 20 % of the training part), MLP 64-64-64-10 ReLU (He init), SGD "
            f"with momentum 0.9, batch 32, {e} epochs. Rates {', '.join(f'{k} {v:g}' for k, v in RATES.items())}; "
            f"nnlab.train.lr_search over 1e-4 … 1 then ½, 2, 3 × the best ({max(1, e // 4)} epochs a trial); schedules "
            "from η₀ = 0.1 without momentum: constant, step decay (halve every 5 epochs), exponential η₀e^(−0.1t), "
            "1/t decay η₀/(1 + 0.3t) (t in epochs) and halve-on-rise of the validation loss.")


def _epochs(quick):
    return 8 if quick else 30


def _model(seed):
    return mlp([64, 64, 64, 10], "relu", weight_init="he_normal", rng=seed)


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    (X, y), _ = digits_split(seed)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, seed=seed)
    tr, va = (X_train, y_train), (X_val, y_val)
    epochs = _epochs(quick)
    numbers, curves = {}, {}
    for label, lr in RATES.items():
        h = train(_model(seed), tr, "sgd", lr=lr, epochs=epochs, seed=seed, momentum=0.9)
        loss = [v if math.isfinite(v) else np.nan for v in h["loss"]]
        curves[label] = loss
        final = h["loss"][-1]
        numbers[f"{label.replace(' ', '_')}_final_loss"] = float(final) if math.isfinite(final) else math.inf
    numbers["initial_loss"] = loss_of(_model(seed), X_train, y_train)  # every run starts from these weights
    result = lr_search(lambda: _model(seed), tr, va, losses.cross_entropy, "sgd", epochs=max(1, epochs // 4),
                       seed=seed, momentum=0.9)
    coarse_best = min(t.val_loss for t in result.coarse if math.isfinite(t.val_loss))
    numbers["search_best_lr"] = result.best_lr
    numbers["search_coarse_best_val_loss"] = coarse_best
    numbers["search_best_val_loss"] = result.best_val_loss
    sched = {
        "constant": LearningRateScheduler(schedules.constant(0.1)),
        "step decay": LearningRateScheduler(schedules.step_decay(0.1, factor=0.5, every=5)),
        "exponential": LearningRateScheduler(schedules.exponential_decay(0.1, k=0.1)),
        "1/t": LearningRateScheduler(schedules.inverse_time_decay(0.1, k=0.3)),
        "halve on rise": HalveOnRise(),
    }
    val_curves = {}
    for label, callback in sched.items():
        h = train(_model(seed), tr, "sgd", lr=0.1, epochs=epochs, seed=seed, val=va, callbacks=[callback])
        val_curves[label] = h["val_loss"]
        numbers[f"schedule_{label.replace(' ', '_').replace('/', '')}_final_val_loss"] = float(h["val_loss"][-1])
    figures = {}
    if draw:
        from ..diagnostics import lr_search_curve
        from ..diagnostics.plots import _figure

        fig = _figure(11, 3.6)
        epoch_curves(curves, ylabel="training loss by learning rate", log=True, ax=fig.add_subplot(1, 2, 1))
        epoch_curves(val_curves, ylabel="validation loss by schedule", log=True, ax=fig.add_subplot(1, 2, 2))
        figures["learning rates and schedules"] = png(fig)
        figures["coarse-then-fine learning-rate search"] = png(lr_search_curve(result))
    return SeedResult(numbers, figures)


def judge(s) -> list[Check]:
    schedules_ = [k for k in s.keys() if k.startswith("schedule_") and "constant" not in k]
    best = min(schedules_, key=s.mean)
    return [
        Check(f"too small (1e-5): the loss barely moves, final {s.text('too_small_final_loss')} > 0.7 × initial "
              f"{s.text('initial_loss')}", s.mean("too_small_final_loss") > 0.7 * s.mean("initial_loss")),
        less(s, "good_final_loss", "too_small_final_loss", "a good rate ends far lower than a too-small one"),
        Check(f"too large (5): training diverges or ends above its initial loss: {s.text('too_large_final_loss')} vs "
              f"{s.text('initial_loss')}", s.mean("too_large_final_loss") >= s.mean("initial_loss")),
        less(s, "search_best_val_loss", "search_coarse_best_val_loss",
             "the fine search improves on the best coarse rate (validation loss)"),
        less(s, best, "schedule_constant_final_val_loss",
             f"an annealing schedule ({best}) beats a constant rate (validation loss, margin 0.005)", 0.005),
    ]


EXPERIMENT = Experiment("learning_rate", "Learning rate: too small, too large, search and annealing", CLAIMS, setup,
                        measure, judge)
