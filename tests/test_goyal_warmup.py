"""Goyal et al.'s rules: linear lr scaling by the (global) batch and the per-step gradual warm-up, exact lr per step."""

import numpy as np
import pytest

import nnlab
from nnlab import nn, optim
from nnlab.cli.build import build_optimizer, scaled_lr
from nnlab.cli.callbacks import build_schedule_callbacks
from nnlab.cli.config import parse_config
from nnlab.errors import ConfigError
from nnlab.optim import schedules
from nnlab.train import Callback, GradualWarmup, LearningRateScheduler, TrainingState, fit

N, BATCH = 10, 4  # 3 steps per epoch (the last batch holds 2 samples)
STEPS = 3


class RecordLR(Callback):
    """The rate each update uses (read when the batch begins, after the schedules set it)."""

    def on_train_begin(self, logs=None):
        self.rates = []

    def on_batch_begin(self, batch, logs=None):
        self.rates.append(self.optimizer.lr)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, 3)).astype(np.float32), rng.integers(0, 2, N)


def _run(callbacks, lr=0.8, epochs=4, resume_from=None, optimizer="sgd"):
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    opt = optim.get(optimizer, model.parameters(), lr=lr)
    recorder = RecordLR()
    fit(model, nnlab.losses.cross_entropy, opt, _data(), epochs=epochs, batch_size=BATCH, seed=1, verbose=0,
        callbacks=[*callbacks, recorder], resume_from=resume_from)
    return recorder.rates, model


def test_warmup_ramps_per_step_from_a_non_zero_start_to_the_target():
    rates, _ = _run([GradualWarmup(epochs=2, start_factor=0.25)])
    total = 2 * STEPS
    expected = [0.8 * (0.25 + 0.75 * t / total) if t < total else 0.8 for t in range(4 * STEPS)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    assert rates[0] == pytest.approx(0.2) and len(set(rates[:total])) == total  # a new rate every step


def test_default_start_is_one_over_the_warmup_steps():
    rates, _ = _run([GradualWarmup(epochs=1)], epochs=2)
    np.testing.assert_allclose(rates, [0.8 * (1 / 3 + (2 / 3) * t / 3) for t in range(3)] + [0.8] * 3, rtol=1e-12)


def test_warmup_multiplies_an_epoch_schedule():
    decay = LearningRateScheduler(schedules.step_decay(0.8, factor=0.5, every=1))
    rates, _ = _run([decay, GradualWarmup(epochs=2, start_factor=0.5)])
    total = 2 * STEPS
    expected = [0.8 * 0.5 ** (t // STEPS) * (0.5 + 0.5 * t / total if t < total else 1.0) for t in range(4 * STEPS)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)


def test_warmup_keeps_the_ratio_of_per_group_rates_as_torchs_linear_lr():
    torch = pytest.importorskip("torch")
    a, b = nnlab.tensor([1.0], requires_grad=True), nnlab.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    warmup = GradualWarmup(epochs=2, start_factor=0.5)
    warmup.set_context(None, opt, {"steps": 2})
    warmup.on_train_begin()
    ta, tb = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.01}], lr=0.1)
    linear = torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.5, end_factor=1.0, total_iters=4)
    for t in range(6):
        warmup.on_epoch_begin(t // 2)
        warmup.on_batch_begin(t % 2)
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups],
                                   rtol=1e-12)
        topt.step()
        linear.step()
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    with pytest.raises(ConfigError, match="1 rates for 2 parameter groups"):
        opt.set_group_lrs([0.1])


def test_resumed_inside_the_warmup_continues_the_same_ramp(tmp_path):
    full, whole = _run([GradualWarmup(epochs=2, start_factor=0.25)], optimizer="adam")
    state = tmp_path / "state.safetensors"
    _run([GradualWarmup(epochs=2, start_factor=0.25), TrainingState(state)], epochs=1, optimizer="adam")
    rest, resumed = _run([GradualWarmup(epochs=2, start_factor=0.25), TrainingState(state)], resume_from=state,
                         optimizer="adam")
    assert rest == full  # the recorder is saved state too: its first epoch comes from the file
    for a, b in zip(whole.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_cli_linear_scaling_and_goyal_warmup():
    """lr_scaling = "linear": eta = eta0 * B / B0; the warm-up starts at eta0 (a factor B0/B) and ramps per step."""
    cfg = parse_config({"optimizer": {"name": "sgd", "lr": 0.1}, "train": {"batch_size": BATCH, "epochs": 3},
                        "schedule": {"lr_scaling": "linear", "base_batch_size": 1, "warmup_epochs": 2}})
    assert scaled_lr(cfg) == pytest.approx(0.4)
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    opt = build_optimizer(cfg, model)
    assert opt.lr == pytest.approx(0.4)
    recorder = RecordLR()
    fit(model, nnlab.losses.cross_entropy, opt, _data(), epochs=3, batch_size=BATCH, seed=1, verbose=0,
        callbacks=[*build_schedule_callbacks(cfg, has_val=False), recorder])
    total = 2 * STEPS
    expected = [0.4 * (0.25 + 0.75 * t / total) if t < total else 0.4 for t in range(3 * STEPS)]
    np.testing.assert_allclose(recorder.rates, expected, rtol=1e-12)
    assert recorder.rates[0] == pytest.approx(0.1)  # Goyal: the first steps use the unscaled eta0


def test_cli_warmup_start_and_no_scaling():
    cfg = parse_config({"optimizer": {"name": "sgd", "lr": 0.1},
                        "schedule": {"warmup_epochs": 1, "warmup_start": 0.1}})
    assert scaled_lr(cfg) == 0.1
    (warm,) = build_schedule_callbacks(cfg, has_val=False)
    assert isinstance(warm, GradualWarmup) and warm.start_factor == 0.1 and warm.epochs == 1


@pytest.mark.parametrize("schedule, message", [
    ({"warmup_start": 0.5}, "warmup_start has no effect without schedule.warmup_epochs"),
    ({"base_batch_size": 128}, "base_batch_size = 128 has no effect with schedule.lr_scaling = 'none'"),
    ({"lr_scaling": "square_root"}, "lr_scaling"),
    ({"warmup_epochs": 1, "warmup_start": 0.0}, "warmup_start"),
])
def test_cli_refuses_bad_goyal_settings(schedule, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"schedule": schedule})


def test_gradual_warmup_checks_its_arguments():
    with pytest.raises(ConfigError, match="epochs"):
        GradualWarmup(epochs=0)
    with pytest.raises(ConfigError, match="start_factor"):
        GradualWarmup(epochs=1, start_factor=1.5)
