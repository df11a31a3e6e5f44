"""The callbacks package: import paths, History and CallbackList as callbacks."""

import importlib

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
