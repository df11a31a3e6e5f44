"""Scheduled regularization (turned on after a couple of epochs) and per-step learning-rate schedules, API and CLI."""

import math

import numpy as np
import pytest

import nnlab
from nnlab import losses, nn, optim
from nnlab.cli.build import build_loss
from nnlab.cli.callbacks import build_regularization_scheduler, build_schedule_callbacks
from nnlab.cli.config import parse_config
from nnlab.errors import ConfigError
from nnlab.optim import schedules
from nnlab.train import Callback, RegularizationScheduler, fit


class Record(Callback):
    """The optimizer's state seen by each batch (after the schedulers set it)."""

    def __init__(self):
        self.lrs, self.decays = [], []

    def on_batch_begin(self, batch, logs=None):
        self.lrs.append(self.optimizer.lr)
        self.decays.append(self.optimizer.param_groups[0]["weight_decay"])


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _model():
    nnlab.seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_delayed_start_is_zero_then_ramps_to_its_value():
    s = schedules.delayed_start(0.5, start=2, ramp=4)
    assert [s(t) for t in range(8)] == [0.0, 0.0, 0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    assert schedules.get("delayed_start", 1.0, start=1)(0) == 0.0 and "delayed_start" not in schedules.names("lr")
    with pytest.raises(ConfigError, match="start"):
        schedules.delayed_start(1.0, start=-1)


def test_weight_decay_is_off_for_the_first_epochs_then_on():
    model, record = _model(), Record()
    opt = optim.SGD(optim.weight_decay_groups(model, 0.01), lr=0.1)
    reg = RegularizationScheduler(schedules.delayed_start(1.0, start=2, ramp=2))
    fit(model, losses.cross_entropy, opt, _data(), epochs=5, batch_size=20, callbacks=[reg, record], verbose=0)
    assert record.decays == [0.0] * 4 + [0.005] * 2 + [0.01] * 4  # 2 batches per epoch
    assert opt.param_groups[1]["weight_decay"] == 0.0  # biases stay undecayed


def test_scheduled_weight_decay_equals_switching_it_on_by_hand():
    """Two epochs without decay then three with it: the same weights as two separate fit() calls."""
    data = _data()
    model = _model()
    opt = optim.SGD(optim.weight_decay_groups(model, 0.05), lr=0.1)
    fit(model, losses.cross_entropy, opt, data, epochs=5, batch_size=10, shuffle=False, verbose=0,
        callbacks=[RegularizationScheduler(schedules.delayed_start(1.0, start=2))])
    by_hand = _model()
    opt2 = optim.SGD(optim.weight_decay_groups(by_hand, 0.0), lr=0.1)
    fit(by_hand, losses.cross_entropy, opt2, data, epochs=2, batch_size=10, shuffle=False, verbose=0)
    opt2.param_groups[0]["weight_decay"] = 0.05
    fit(by_hand, losses.cross_entropy, opt2, data, epochs=3, batch_size=10, shuffle=False, verbose=0)
    for a, b in zip(model.parameters(), by_hand.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-7)
    unregularized = _model()
    fit(unregularized, losses.cross_entropy, optim.SGD(unregularized.parameters(), lr=0.1), data, epochs=5,
        batch_size=10, shuffle=False, verbose=0)
    assert not np.allclose(unregularized[0].weight.data, model[0].weight.data)


def _cli(text):
    return parse_config(__import__("tomllib").loads(text))


def test_cli_l2_penalty_counts_from_start_epoch_only():
    cfg = _cli("[regularization]\nl2 = 0.5\nstart_epoch = 1\n[train]\nepochs = 2\n")
    model = _model()
    reg = build_regularization_scheduler(cfg)
    loss = build_loss(cfg, 2, model, reg)
    plain = build_loss(cfg, 2)
    record = []

    class Losses(Callback):
        def on_epoch_end(self, epoch, logs=None):
            record.append(logs["loss"])

    X, y = _data(10)
    with nnlab.no_grad():  # the penalty the loss adds at epoch 1: 0.5/2 * Σw² over the weights
        penalty = float(losses.l2_penalty(list(model.named_parameters()), 0.5).data)
    opt = optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay, so the losses differ by the penalty only
    fit(model, loss, opt, (X, y), epochs=2, batch_size=10, callbacks=[reg, Losses()], verbose=0)
    base = float(plain(model(nnlab.tensor(X)), y).data)
    assert record[0] == pytest.approx(base, rel=1e-5)
    assert record[1] == pytest.approx(base + penalty, rel=1e-5)
    assert build_regularization_scheduler(_cli("[regularization]\nl2 = 0.5\n")) is None


def test_cli_refuses_a_schedule_without_a_strength():
    with pytest.raises(ConfigError, match="start_epoch and ramp_epochs schedule"):
        _cli("[regularization]\nstart_epoch = 2\n")
    with pytest.raises(ConfigError, match="schedule.per = 'step' has no effect"):
        _cli('[schedule]\nname = "plateau"\nper = "step"\n')


@pytest.mark.parametrize("name, formula", [
    ("exponential_decay", lambda t: 0.1 * math.exp(-0.05 * t)),  # the notes: η = η0·e^(−kt), t the step number
    ("inverse_time_decay", lambda t: 0.1 / (1 + 0.05 * t)),  # the notes' 1/t decay: η = η0/(1 + kt)
])
def test_cli_per_step_schedule_gives_the_notes_formula_at_every_step(name, formula):
    cfg = _cli(f'[optimizer]\nname = "sgd"\nlr = 0.1\n[schedule]\nname = "{name}"\nk = 0.05\nper = "step"\n')
    callbacks, record = build_schedule_callbacks(cfg, False, steps_per_epoch=4), Record()
    model = _model()
    fit(model, losses.cross_entropy, optim.SGD(model.parameters(), lr=0.1), _data(40), epochs=3, batch_size=10,
        callbacks=[*callbacks, record], verbose=0)
    assert len(record.lrs) == 12
    np.testing.assert_allclose(record.lrs, [formula(t) for t in range(12)], rtol=1e-12)
    per_epoch = build_schedule_callbacks(_cli(f'[schedule]\nname = "{name}"\n'), False, steps_per_epoch=4)
    assert per_epoch[0].per == "epoch"


def test_cli_per_step_cosine_spans_the_run_in_steps():
    cfg = _cli('[optimizer]\nlr = 1.0\n[schedule]\nname = "cosine_decay"\nper = "step"\n[train]\nepochs = 3\n')
    (scheduler,) = build_schedule_callbacks(cfg, False, steps_per_epoch=5)
    assert scheduler.per == "step" and scheduler.schedule(0) == 1.0
    assert scheduler.schedule(7.5) == pytest.approx(0.5) and scheduler.schedule(15) == pytest.approx(0.0, abs=1e-12)
