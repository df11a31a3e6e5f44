"""Callbacks: the shared monitor, learning-rate and momentum rules, checkpoints, logs, progress output.

How fit dispatches them: test_callbacks_dispatch.py.
"""

import io
import json
import math
import os

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError
from nnlab.losses import cross_entropy
from nnlab.optim import SGD, Adam, schedules
from nnlab.train import (
    Callback,
    Checkpoint,
    HalveOnRise,
    LearningRateScheduler,
    MetricsLogger,
    Monitor,
    MomentumScheduler,
    ProgressBar,
    ReduceLROnPlateau,
    evaluate,
    fit,
    predict,
)
from nnlab.train.callbacks import atomic_save


def two_groups(lr=1.0):
    """An optimizer with two parameter groups with different rates: rules must keep their ratio."""
    groups = [{"params": [nnlab.tensor([0.0], requires_grad=True)], "lr": rate} for rate in (lr, lr / 10)]
    return SGD(groups, lr=lr)


def drive(callback, values, key="val_loss", same_ratio=True):
    """Feed ``values`` as the end-of-epoch logs; return the rate in force during each epoch."""
    optimizer = two_groups()
    callback.set_context(model=None, optimizer=optimizer, params={})
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        rates.append(optimizer.lr)
        callback.on_epoch_end(epoch, {key: value})
        if same_ratio:
            assert optimizer.param_groups[1]["lr"] == pytest.approx(optimizer.lr / 10)
    return rates


def blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return rng.normal(size=(n, 4)).astype(np.float32) + 1.5 * (2 * y[:, None] - 1), y


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


class Script(Callback):
    """Overwrites the logged validation loss with a scripted sequence (put it first in the list)."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


# ------------------------------------------------------------------ monitor


def test_monitor_modes_min_delta_and_nan():
    m = Monitor("val_loss", min_delta=0.1, patience=1)
    assert m.mode == "min"
    assert [m.update({"val_loss": v}) for v in (1.0, 0.95, 0.85)] == [True, False, True]
    assert m.best == 0.85 and m.best_epoch == 2 and m.wait == 0
    assert not m.update({"val_loss": math.nan}) and m.exhausted
    acc = Monitor("val_accuracy")
    assert acc.mode == "max"
    assert [acc.update({"val_accuracy": v}) for v in (0.5, 0.7, 0.6)] == [True, True, False]
    assert Monitor("val_loss").worse(math.nan, 1.0) and not Monitor("val_loss").improves(math.nan, 1.0)
    assert Monitor("loss", baseline=0.5).update({"loss": 0.6}) is False


def test_monitor_errors_name_the_problem():
    with pytest.raises(ConfigError, match="mode"):
        Monitor("val_loss", mode="lowest")
    with pytest.raises(ConfigError, match="patience"):
        Monitor("val_loss", patience=-1)
    with pytest.raises(ConfigError, match=r"monitors 'val_loss'.*pass val_data.*logged: loss, lr"):
        Monitor("val_loss").value({"loss": 1.0, "lr": 0.1})


# ------------------------------------------------------------ rate rules


VALUES = [1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.75]


def test_halve_on_rise_halves_only_after_a_rise_over_the_previous_epoch():
    rule = HalveOnRise()
    rates = drive(rule, VALUES)
    # Rises: epoch 2 (0.9 > 0.8), epoch 4 (0.95 > 0.85), epoch 6 (0.75 > 0.7). 0.85 after 0.9 is no rise,
    # even though it is worse than the best (0.8).
    assert rule.reductions == [2, 4, 6]
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_plateau_rule_compares_with_the_best_and_differs_from_halve_on_rise():
    rule = ReduceLROnPlateau(factor=0.5, patience=1)
    rates = drive(rule, VALUES)
    # No new best at epochs 2, 3, 4 (0.8 stays best), 6: with patience 1 each of them cuts the rate.
    assert rule.reductions == [2, 3, 4, 6]
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.25, 0.125, 0.125]
    assert rates != drive(HalveOnRise(), VALUES)  # they differ at epoch 3: 0.85 < 0.9 but > 0.8
    patient = ReduceLROnPlateau(factor=0.5, patience=2)
    drive(patient, VALUES)
    assert patient.reductions == [3]  # epochs 2 and 3 without a new best; then the wait starts again


@pytest.mark.parametrize("patience, cooldown", [(0, 0), (1, 0), (2, 0), (2, 1), (3, 2)])
def test_plateau_counts_as_keras_so_torchs_patience_p_is_nnlabs_p_plus_one(patience, cooldown):
    torch = pytest.importorskip("torch")
    values = [1.0, 1.1, 0.9, 1.2, 1.3, 1.4, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05]
    ours = drive(ReduceLROnPlateau(factor=0.5, patience=patience + 1, cooldown=cooldown), values)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, factor=0.5, patience=patience, cooldown=cooldown,
                                                         threshold=0.0, threshold_mode="abs")
    theirs = []
    for value in values:
        theirs.append(topt.param_groups[0]["lr"])
        plateau.step(value)
    assert ours == theirs


@pytest.mark.parametrize("patience", [0, 1])
def test_plateau_never_cuts_during_its_cooldown_even_with_patience_0(patience):
    # patience 0 and 1 both cut at the first epoch without a new best (Keras's count); the cooldown epochs after
    # a cut are not counted, so with a flat loss the cuts come every cooldown + 1 epochs for both.
    rule = ReduceLROnPlateau(factor=0.5, patience=patience, cooldown=2)
    drive(rule, [1.0] * 10)
    assert rule.reductions == [1, 4, 7]


def test_plateau_min_lr_and_cooldown():
    rule = ReduceLROnPlateau(factor=0.1, patience=1, cooldown=1, min_lr=0.05)
    rates = drive(rule, [1.0, 2.0, 2.0, 2.0, 2.0], same_ratio=False)
    assert rule.reductions == [1, 3]  # epoch 2 is the cooldown
    assert rates == [1.0, 1.0, 0.1, 0.1, 0.05]
    optimizer = two_groups(lr=0.01)
    rule.set_context(None, optimizer, {})
    rule.on_train_begin()
    for epoch in range(3):
        rule.on_epoch_end(epoch, {"val_loss": 1.0})
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.001]  # the floor never raises a rate


def test_rate_rules_log_the_rate_into_history():
    X, y = blobs()
    model = mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.4), (X, y), (X, y), epochs=5,
                  callbacks=[Script([1.0, 0.8, 0.9, 0.85, 0.95]), HalveOnRise()], verbose=0)
    assert history["lr"] == [0.4, 0.4, 0.4, 0.2, 0.2]
    assert history["val_loss"] == [1.0, 0.8, 0.9, 0.85, 0.95]


@pytest.mark.parametrize("factor", [0, 1, 1.5, -0.5])
def test_rate_rules_reject_bad_factors(factor):
    with pytest.raises(ConfigError, match="factor"):
        HalveOnRise(factor=factor)
    with pytest.raises(ConfigError, match="factor"):
        ReduceLROnPlateau(factor=factor)


# --------------------------------------------------------------- schedules


def test_learning_rate_schedule_per_epoch():
    X, y = blobs()
    model = mlp()
    schedule = schedules.step_decay(0.4, factor=0.5, every=2)
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=1.0), (X, y), epochs=5,
                  callbacks=[LearningRateScheduler(schedule)], verbose=0)
    assert history["lr"] == [schedule(t) for t in range(5)] == [0.4, 0.4, 0.2, 0.2, 0.1]


def test_learning_rate_schedule_per_step_counts_steps_across_epochs():
    rates = []

    class Watch(Callback):
        def on_batch_end(self, batch, logs=None):
            rates.append(self.optimizer.lr)

    X, y = blobs(40)
    model = mlp()
    schedule = schedules.inverse_time_decay(1.0, k=0.5)
    fit(model, cross_entropy, SGD(model.parameters(), lr=1.0), (X, y), epochs=2, batch_size=16,
        callbacks=[LearningRateScheduler(schedule, per="step"), Watch()], verbose=0)
    assert rates == pytest.approx([schedule(t) for t in range(6)])  # 3 batches per epoch


def test_momentum_schedule_sets_every_groups_momentum():
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([g["momentum"] for g in self.optimizer.param_groups])

    X, y = blobs()
    model = mlp()
    first, second = model[0], model[2]
    optimizer = SGD([{"params": first.parameters()}, {"params": second.parameters(), "lr": 0.01}], lr=0.1,
                    momentum=0.5)
    fit(model, cross_entropy, optimizer, (X, y), epochs=4,
        callbacks=[MomentumScheduler(schedules.momentum_schedule(0.5, 0.9, switch=2)), Watch()], verbose=0)
    assert seen == [[0.5, 0.5], [0.5, 0.5], [0.9, 0.9], [0.9, 0.9]]
    with pytest.raises(ConfigError, match="Adam has no 'momentum'"):
        fit(model, cross_entropy, Adam(model.parameters()), (X, y), epochs=1,
            callbacks=[MomentumScheduler(schedules.constant(0.9))], verbose=0)


def test_schedulers_validate_arguments():
    with pytest.raises(ConfigError, match="per must be"):
        LearningRateScheduler(schedules.constant(0.1), per="batch")
    with pytest.raises(ConfigError, match="callable"):
        LearningRateScheduler(0.1)


# -------------------------------------------------------------- checkpoint


def fake_writer(log, fail_on=None):
    """Writes the call number into the file; on call ``fail_on`` writes half of it, then raises."""

    def write(model, path):
        log.append(path)
        with open(path, "w") as f:
            f.write(f"model #{len(log)}")
            if len(log) == fail_on:
                raise OSError("disk full")

    return write


def test_interrupted_checkpoint_write_leaves_the_previous_file_intact(tmp_path):
    calls = []
    X, y = blobs()
    model = mlp()
    target = tmp_path / "ckpt.nnlab"
    checkpoint = Checkpoint(target, writer=fake_writer(calls, fail_on=3))
    with pytest.raises(OSError, match="disk full"):
        fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=5, callbacks=[checkpoint],
            verbose=0)
    assert target.read_text() == "model #2"  # epoch 3's write failed midway
    assert os.listdir(tmp_path) == ["ckpt.nnlab"]  # no temporary file left behind
    # Every write went to a temporary file beside the target, with the target's suffix.
    assert all(os.path.dirname(p) == str(tmp_path) and p.endswith(".nnlab") and p != str(target) for p in calls)


def test_atomic_save_never_exposes_a_partial_file(tmp_path):
    target = tmp_path / "sub" / "m.bin"

    def writer(model, path):
        assert not target.exists() or target.read_text() == "old"
        with open(path, "w") as f:
            f.write("new")

    atomic_save(None, target, lambda m, p: open(p, "w").write("old"))
    atomic_save(None, target, writer)
    assert target.read_text() == "new"
    with pytest.raises(KeyboardInterrupt):
        atomic_save(None, target, lambda m, p: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert target.read_text() == "new" and sorted(os.listdir(target.parent)) == ["m.bin"]


def test_checkpoint_best_only_and_last(tmp_path):
    calls = []
    X, y = blobs()
    model = mlp()
    checkpoint = Checkpoint(tmp_path / "best.bin", save_best_only=True, save_last=True, writer=fake_writer(calls))
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), (X, y), epochs=4,
        callbacks=[Script([0.5, 0.4, 0.6, 0.45]), checkpoint], verbose=0)
    best = [(e, os.path.basename(p)) for e, p in checkpoint.saved if "last" not in p]
    assert best == [(0, "best.bin"), (1, "best.bin")]
    assert [e for e, p in checkpoint.saved if p.endswith("best-last.bin")] == [0, 1, 2, 3]
    assert (tmp_path / "best.bin").read_text() == "model #3"  # epoch 2's best write (after epoch 1's last)
    assert (tmp_path / "best-last.bin").read_text() == "model #6"


def test_checkpoint_path_template(tmp_path):
    X, y = blobs()
    model = mlp()
    checkpoint = Checkpoint(tmp_path / "m-{epoch:02d}.bin", save_last=True, writer=fake_writer([]))
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=2, callbacks=[checkpoint], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["m-01.bin", "m-02.bin"]


def test_checkpoint_with_the_model_file_writer_round_trips(tmp_path):
    nnlab.seed(0)
    X, y = blobs()
    model = mlp()
    path = tmp_path / "best.nnlab"
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), (X, y), epochs=3,
        callbacks=[Checkpoint(path, save_best_only=True)], verbose=0)
    loaded = nnlab.io.load(path)
    np.testing.assert_array_equal(predict(loaded, X), predict(model, X))  # val loss fell each epoch
    assert evaluate(loaded, cross_entropy, (X, y)) == evaluate(model, cross_entropy, (X, y))


# ------------------------------------------------------------------- logs


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_metrics_logger(tmp_path, fmt):
    X, y = blobs()
    model = mlp()
    path = tmp_path / "logs" / f"history.{fmt}"
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), (X, y), epochs=3,
                  callbacks=[MetricsLogger(path, format=fmt)], verbose=0)
    text = path.read_text().splitlines()
    if fmt == "csv":
        assert text[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr"
        rows = [line.split(",") for line in text[1:]]
        assert [int(r[0]) for r in rows] == [1, 2, 3]
        assert [float(r[1]) for r in rows] == history["loss"]
    else:
        rows = [json.loads(line) for line in text]
        assert rows == history.to_rows()


def test_metrics_logger_writes_nan_as_null_in_json(tmp_path):
    logger = MetricsLogger(tmp_path / "h.jsonl", format="jsonl")
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": math.nan})
    logger.on_train_end()
    assert json.loads((tmp_path / "h.jsonl").read_text()) == {"epoch": 1, "loss": None}
    with pytest.raises(ConfigError, match="csv"):
        MetricsLogger(tmp_path / "x", format="xml")


# --------------------------------------------------------------- progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_prints_lines_when_not_a_terminal():
    out = io.StringIO()
    X, y = blobs()
    model = mlp()
    bar = ProgressBar(file=out)
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=2, callbacks=[bar], verbose=0)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and "loss" in lines[0]
    assert not bar.wants_batch_hooks()  # no per-batch cost when there is no live display


def test_progress_bar_in_a_terminal_shows_a_live_bar():
    out = FakeTerminal()
    X, y = blobs()
    model = mlp()
    bar = ProgressBar(file=out, refresh_seconds=0.0)
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), (X, y), epochs=2, batch_size=16,
        callbacks=[bar], verbose=0)
    text = out.getvalue()
    assert "epoch 2/2" in text and "/4" in text and "val_loss" in text
