"""10. Regularization on a deliberately small training set: every regularizer of the notes against none."""

from __future__ import annotations

import numpy as np

from .. import losses, nn, optim
from ..data import Jitter
from ..ensemble import Bagging
from ..train import EarlyStopping, predict
from .base import Check, Claim, Experiment, SeedResult, less
from .common import digits_split, epoch_curves, mlp, png, train

CLAIMS = (
    Claim("REGULARIZATION TECHNIQUES - l2 regularization - Dataset augmentation - Parameter Sharing and tying - Adding "
          "Noise to the inputs - Adding Noise to the outputs - Early stopping - Ensemble methods - Dropout",
          "001_c1cc0bdd94be0952.txt"),
    Claim("Better to have big model and regularize, than unfit with small model.", "002_f454bcaa3b381492.txt"),
    Claim("The lasso gives a sparse solution", "001_c1cc0bdd94be0952.txt"),
    Claim("If you are at step k and there was no improvement in validation error in the previous p steps then stop "
          "training and return the model stored at step k − p", "001_c1cc0bdd94be0952.txt"),
)
N_TRAIN, N_VAL, PATIENCE, MEMBERS = 150, 200, 10, 5
VARIANTS = ("none", "l2", "l1", "dropout", "input_noise", "label_smoothing", "early_stopping", "augmentation", "bagging")


def setup(quick: bool) -> str:
    return (f"Digits with only {N_TRAIN} training samples (standardized; {N_VAL} more for validation; test on the 540 "
            f"held out). MLP 64-256-256-10 ReLU (He init), SGD momentum 0.9, lr 0.02, batch 32, {_epochs(quick)} epochs. "
            "Variants: none; L2 α = 1e-3 (the notes' ∇ + αw rule); L1 α = 1e-4; dropout keep 0.5 hidden / 0.8 input; "
            "Gaussian input noise σ = 0.5; label smoothing ε = 0.1; early stopping on the validation loss with "
            f"patience {PATIENCE}; augmentation by 1-pixel jitter; bagging (nnlab.ensemble.Bagging) of {MEMBERS} models "
            "on bootstrap samples, soft voting. Sparsity: the fraction of first-layer weights below 1e-3 in magnitude.")


def _epochs(quick):
    return 40 if quick else 200


def _model(seed, **kw):
    return mlp([64, 256, 256, 10], "relu", weight_init="he_normal", rng=seed, **kw)


def measure(seed: int, quick: bool, draw: bool) -> SeedResult:
    (X, y), (X_test, y_test) = digits_split(seed)
    tr, va = (X[:N_TRAIN], y[:N_TRAIN]), (X[N_TRAIN:N_TRAIN + N_VAL], y[N_TRAIN:N_TRAIN + N_VAL])
    epochs = _epochs(quick)
    common = dict(optimizer="sgd", lr=0.02, epochs=epochs, batch_size=32, seed=seed, momentum=0.9, val=va)
    numbers, curves = {"epochs": float(epochs)}, {}

    def finish(name, model, history):
        numbers[f"{name}_test_error"] = float((predict(model, X_test).argmax(axis=1) != y_test).mean())
        curves[name] = history["val_loss"] if history is not None else None
        return model

    for name in VARIANTS[:-1]:
        kw, fit_kw = {}, {}
        if name == "dropout":
            kw = {"dropout_keep": 0.5, "input_keep": 0.8}
        model = _model(seed, **kw)
        if name == "input_noise":
            model = nn.Sequential(nn.GaussianNoise(0.5, rng=seed), *model)
        if name == "l2":
            fit_kw["weight_decay"] = 1e-3
        if name == "l1":
            fit_kw["loss"] = lambda out, t, m=model: losses.cross_entropy(out, t) + losses.l1_penalty(m, 1e-4)
        if name == "label_smoothing":
            fit_kw["loss"] = lambda out, t: losses.cross_entropy(out, t, label_smoothing=0.1)
        if name == "augmentation":
            fit_kw["augment"] = Jitter(shape=(8, 8), max_shift=1, rng=seed)
        stopper = EarlyStopping(patience=PATIENCE) if name == "early_stopping" else None
        history = train(model, tr, callbacks=[stopper] if stopper else [], **common, **fit_kw)
        finish(name, model, history)
        if name in ("none", "l1", "l2"):
            numbers[f"{name}_near_zero_weight_fraction"] = float((np.abs(model[0].weight.data) < 1e-3).mean())
        if stopper is not None:
            val = history["val_loss"]
            numbers["early_stopping_epochs_run"] = float(len(val))
            numbers["early_stopping_best_epoch"] = float(int(np.argmin(val)) + 1)
            numbers["early_stopping_restored_val_loss"] = _val_loss(model, va)
            numbers["early_stopping_best_val_loss"] = float(np.min(val))
    # n_jobs=1: this measurement already runs in one of the lab's worker processes.
    bag = Bagging(lambda member: _model(member.seed), n_models=MEMBERS, epochs=epochs, batch_size=32, lr=0.02,
                  optimizer=lambda params: optim.SGD(params, lr=0.02, momentum=0.9), n_jobs=1, seed=seed).fit(*tr)
    numbers["bagging_test_error"] = float((bag.predict(X_test) != y_test).mean())
    numbers["bagging_out_of_bag_accuracy"] = float(bag.oob_score)
    figures = {}
    if draw:
        from ..diagnostics.plots import _figure

        fig = _figure(11, 3.8)
        epoch_curves({name.replace("_", " "): v for name, v in curves.items() if v is not None},
                     ylabel="validation loss", log=True, ax=fig.add_subplot(1, 2, 1))
        ax = fig.add_subplot(1, 2, 2)
        errors = [numbers[f"{v}_test_error"] for v in VARIANTS]
        ax.barh([v.replace("_", " ") for v in VARIANTS], errors, color=["grey"] + ["steelblue"] * (len(VARIANTS) - 1))
        ax.axvline(errors[0], color="grey", linestyle=":")
        ax.set_xlabel("test error")
        figures["regularizers on 150 training samples"] = png(fig)
    return SeedResult(numbers, figures)


def _val_loss(model, data) -> float:
    from ..tensor import as_tensor

    return float(losses.cross_entropy(as_tensor(predict(model, data[0])), data[1]).data)


def judge(s) -> list[Check]:
    # A margin of 0.005 (3 of the 540 test images) keeps a difference within noise from counting as a gain.
    checks = [less(s, f"{v}_test_error", "none_test_error",
                   f"{v.replace('_', ' ')} lowers the test error (by more than 0.005)", 0.005) for v in VARIANTS[1:]]
    checks.append(less(s, "l2_near_zero_weight_fraction", "l1_near_zero_weight_fraction",
                       "L1 leaves more near-zero weights than L2 (sparsity)"))
    restored, best = s.values("early_stopping_restored_val_loss"), s.values("early_stopping_best_val_loss")
    runs, bests = s.values("early_stopping_epochs_run"), s.values("early_stopping_best_epoch")
    # A run that used every epoch never stopped: only the restored weights can be checked there; when no seed
    # stopped early the k - p rule was not measured at all, and an unmeasured claim does not pass.
    early = [(k, b) for k, b in zip(runs, bests) if k < s.values("epochs")[0]]
    checks.append(Check(f"early stopping returns the model of step k − p (p = {PATIENCE}): (k, best) = "
                        f"{[(int(k), int(b)) for k, b in early] or 'no run stopped early'}; restored validation loss "
                        f"{[f'{v:.4g}' for v in restored]} vs best {[f'{v:.4g}' for v in best]}",
                        bool(early) and all(k - PATIENCE == b for k, b in early)
                        and bool(np.allclose(restored, best, rtol=1e-4))))
    return checks


EXPERIMENT = Experiment("regularization", "Regularization on a small training set", CLAIMS, setup, measure, judge)
