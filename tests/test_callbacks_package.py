"""The callbacks package: import paths, History and CallbackList as callbacks."""

import importlib
import re

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.losses import cross_entropy
from nnlab.optim import SGD
from nnlab.train import Callback, History, fit
from nnlab.train.callbacks import CallbackList

# Every public callback name, and the file of the package it lives in.
HOMES = {
    "Callback": "base", "CallbackList": "base", "History": "history", "Monitor": "monitor",
    "MonitorCallback": "monitor", "EarlyStopping": "stopping", "TerminateOnNaN": "stopping",
    "LearningRateScheduler": "lr", "MomentumScheduler": "lr", "HalveOnRise": "lr", "ReduceLROnPlateau": "lr",
    "Checkpoint": "files", "MetricsLogger": "files", "ProgressBar": "progress",
}


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_callback_has_one_home_and_the_old_import_paths_still_work(name):
    home = getattr(importlib.import_module(f"nnlab.train.callbacks.{HOMES[name]}"), name)
    assert getattr(importlib.import_module("nnlab.train.callbacks"), name) is home
    assert getattr(nnlab.train, name) is home and name in nnlab.train.__all__
    assert home.__module__ == f"nnlab.train.callbacks.{HOMES[name]}"


def test_history_is_a_callback_that_records_each_epoch_end():
    history = History()
    assert isinstance(history, Callback)
    history.on_epoch_end(0, {"loss": 1.0})
    history.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})
    assert history.epoch == [1, 2] and history["loss"] == [1.0, 0.5]
    assert np.isnan(history["val_loss"][0]) and history["val_loss"][1] == 0.7


def test_fit_history_sees_the_logs_the_other_callbacks_left():
    class Tag(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["tag"] = 10 * epoch

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)).astype(np.float32), rng.integers(0, 2, 16)
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=3, verbose=0,
                  callbacks=[Tag()], seed=0)
    assert history["tag"] == [0, 10, 20] and history.params["epochs"] == 3


def test_a_callback_list_is_a_callback_and_nests():
    seen = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, self.optimizer))

        def on_batch_end(self, batch, logs=None):
            seen.append(("batch", batch))

    inner = CallbackList([Record()])
    outer = CallbackList([Callback(), inner], model=None, optimizer="opt", params={"epochs": 1})
    assert isinstance(inner, Callback)
    outer.on_train_begin()
    assert outer.batch_callbacks == [inner] and inner.wants_batch_hooks()
    outer.on_batch_end(0, {})
    outer.on_epoch_end(0, {})
    assert seen == [("batch", 0), (0, "opt")] and not outer.stop_training
    inner.callbacks[0].stop_training = True
    assert outer.stop_training


def test_evaluating_switches_to_eval_without_grad_and_restores_the_mode_even_on_error():
    from nnlab.train import evaluating

    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(keep=0.5))
    for was_training in (True, False):
        model.train(was_training)
        with evaluating(model) as inside:
            assert inside is model and not model.training and not model[1].training
            assert not nnlab.is_grad_enabled()
            assert not model(nnlab.tensor(np.ones((2, 3), np.float32))).requires_grad
        assert model.training is was_training and model[1].training is was_training and nnlab.is_grad_enabled()
    with pytest.raises(KeyError), evaluating(model):
        raise KeyError("boom")
    assert model.training is False and nnlab.is_grad_enabled()


@pytest.mark.parametrize(
    "setting, optimizer, bad, words",
    [
        ("lr", "sgd", float("inf"), r"LearningRateScheduler: cannot set lr to the schedule's inf at t=1: SGD: lr must"),
        ("lr", "sgd", -0.5, r"LearningRateScheduler: cannot set lr to the schedule's -0.5 at t=1: .*>= 0"),
        ("momentum", "sgd", 1.5, r"MomentumScheduler: cannot set momentum to the schedule's 1.5 at t=1: .*< 1"),
        ("momentum", "adam", 0.9, r"MomentumScheduler: .* at t=0: Adam has no 'momentum'"),
    ],
)
def test_schedulers_set_through_the_optimizer_and_report_the_refused_value(setting, optimizer, bad, words):
    from nnlab.errors import ConfigError
    from nnlab.optim import Adam
    from nnlab.train import LearningRateScheduler, MomentumScheduler

    model = nn.Sequential(nn.Linear(3, 2))
    opt = SGD(model.parameters(), lr=0.2, momentum=0.5) if optimizer == "sgd" else Adam(model.parameters())
    rule = (LearningRateScheduler if setting == "lr" else MomentumScheduler)(lambda t: 0.1 if t == 0 else bad)
    rule.set_context(model, opt, {})
    rule.on_train_begin()
    with pytest.raises(ConfigError, match=words):
        rule.on_epoch_begin(0)
        rule.on_epoch_begin(1)
    if optimizer == "sgd":  # the good value of t=0 was set, the bad one of t=1 refused
        assert opt.param_groups[0][setting] == 0.1


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: nnlab.train.ReduceLROnPlateau(cooldown=-1), "ReduceLROnPlateau: cooldown must be an integer >= 0, got -1"),
        (lambda: nnlab.train.HalveOnRise(min_lr=float("nan")), "HalveOnRise: min_lr must be a finite number >= 0, got nan"),
        (lambda: nnlab.train.HalveOnRise(factor=1.5), "HalveOnRise: factor must be a finite number > 0 and < 1, got 1.5"),
        (lambda: nnlab.train.EarlyStopping(min_delta=float("inf")), "EarlyStopping: min_delta must be a finite number"),
        (lambda: nnlab.train.MetricsLogger("x.csv", format="xml"), "MetricsLogger: format must be one of 'csv', 'jsonl'"),
        (lambda: fit(nn.Linear(2, 2), cross_entropy, None, (np.ones((2, 2)), [0, 1]), epochs=0),
         "fit: epochs must be an integer >= 1, got 0"),
        (lambda: nnlab.train.predict(nn.Linear(2, 2), np.ones((2, 2)), batch_size=2.0),
         "predict: batch_size must be an integer >= 1, got 2.0"),
        (lambda: nnlab.train.lr_search(lambda: nn.Linear(2, 2), None, None, cross_entropy, coarse=(0.1, -1.0)),
         "lr_search: coarse[1] must be a finite number > 0, got -1.0"),
    ],
)
def test_callback_arguments_are_checked_by_the_one_rule(make, words):
    from nnlab.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(words)):
        make()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_metrics_logger_never_leaves_a_half_written_log(tmp_path, monkeypatch, fmt):
    from nnlab import io as nnlab_io
    from nnlab.train import MetricsLogger

    path = tmp_path / f"log.{fmt}"
    logger = MetricsLogger(path, format=fmt)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5})
    first = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(nnlab_io.os, "replace", fail)  # the write of epoch 2 dies before its rename
    with pytest.raises(OSError, match="disk full"):
        logger.on_epoch_end(1, {"loss": 0.25})
    assert path.read_bytes() == first and [p.name for p in tmp_path.iterdir()] == [path.name]
    monkeypatch.undo()
    logger.on_epoch_end(2, {"loss": 0.125})
    logger.on_train_end()
    # The row whose write failed is not lost: the next write holds every epoch's row.
    assert path.read_bytes().startswith(first) and len(path.read_bytes().splitlines()) == 3 + (fmt == "csv")


def test_epoch_line_leaves_per_layer_diagnostics_to_the_history():
    from nnlab.train.callbacks.progress import _format_logs

    line = _format_logs({"loss": 0.5, "diag/1_relu/dead_fraction": 0.25, "lr": 0.01, "val_accuracy": 0.9})
    assert line == "loss 0.5000  lr 0.01  val_accuracy 0.9000"
