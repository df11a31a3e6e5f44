"""nnlab.optim.lr_scheduler against torch.optim.lr_scheduler: two groups, 40 steps, a state-dict restore mid-way."""

import json
import math
import warnings

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError
from nnlab.optim import SGD, Adagrad, Adam, lr_scheduler as nls

torch = pytest.importorskip("torch")
tls = torch.optim.lr_scheduler

RATES = (0.1, 0.03)
STEPS, RESTORE_AT = 40, 17


def nnlab_optimizer(kind):
    groups = [{"params": [nnlab.tensor([1.0], requires_grad=True)], "lr": lr} for lr in RATES]
    return {"sgd": lambda: SGD(groups, lr=0.1, momentum=0.9), "adam": lambda: Adam(groups, lr=0.1),
            "adagrad": lambda: Adagrad(groups, lr=0.1)}[kind]()


def torch_optimizer(kind):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in RATES]
    return {"sgd": lambda: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
            "adam": lambda: torch.optim.Adam(groups, lr=0.1)}[kind]()


# name: (optimizer kind, build(module, optimizer) -> scheduler); the same code builds nnlab's and torch's
CASES = {
    "LambdaLR": ("sgd", lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e)),
    "LambdaLR per group": ("sgd", lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 0.9 ** e])),
    "MultiplicativeLR": ("sgd", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97 if e % 3 else 0.9)),
    "StepLR": ("sgd", lambda m, o: m.StepLR(o, step_size=7, gamma=0.5)),
    "MultiStepLR": ("sgd", lambda m, o: m.MultiStepLR(o, milestones=[25, 5, 12, 12], gamma=0.3)),
    "ConstantLR": ("sgd", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=9)),
    "LinearLR": ("sgd", lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=13)),
    "ExponentialLR": ("sgd", lambda m, o: m.ExponentialLR(o, gamma=0.93)),
    "CosineAnnealingLR": ("sgd", lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=0.001)),  # past T_max too
    "PolynomialLR": ("sgd", lambda m, o: m.PolynomialLR(o, total_iters=20, power=2.0)),
    "CosineAnnealingWarmRestarts": ("sgd", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2,
                                                                                        eta_min=0.002)),
    "CyclicLR triangular": ("sgd", lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.05],
                                                            step_size_up=4, step_size_down=6)),
    "CyclicLR triangular2": ("sgd", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2",
                                                             base_momentum=[0.8, 0.7], max_momentum=0.95)),
    "CyclicLR exp_range": ("sgd", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="exp_range",
                                                           gamma=0.97, cycle_momentum=False)),
    "CyclicLR adam": ("adam", lambda m, o: m.CyclicLR(o, 0.001, [0.01, 0.02], step_size_up=4)),
    "OneCycleLR cos": ("sgd", lambda m, o: m.OneCycleLR(o, max_lr=[0.2, 0.05], total_steps=STEPS)),
    "OneCycleLR linear three-phase": ("sgd", lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, epochs=4, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear", three_phase=True)),
    "OneCycleLR adam": ("adam", lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=STEPS, div_factor=10.0)),
    "SequentialLR": ("sgd", lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.StepLR(o, step_size=4, gamma=0.7),
            m.CosineAnnealingLR(o, T_max=15)], milestones=[5, 14])),
    "ChainedScheduler": ("sgd", lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=6), m.ExponentialLR(o, gamma=0.95)])),
}


def assert_same(ours, opt, theirs, topt, where):
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=0), where
    assert [g["lr"] for g in opt.param_groups] == ours.get_last_lr(), where
    for key in ("initial_lr", "momentum", "betas", "max_lr", "min_lr"):
        mine, torchs = [g.get(key) for g in opt.param_groups], [tg.get(key) for tg in topt.param_groups]
        assert np.allclose(np.array(mine, dtype=float), np.array(torchs, dtype=float), rtol=1e-12, atol=0, equal_nan=True), \
            f"{where}: {key} {mine} != {torchs}"


@pytest.mark.parametrize("name", list(CASES))
def test_scheduler_matches_torch_with_a_json_restore_midway(name):
    kind, build = CASES[name]
    opt, topt = nnlab_optimizer(kind), torch_optimizer(kind)
    ours, theirs = build(nls, opt), build(tls, topt)
    assert_same(ours, opt, theirs, topt, "built")
    for step in range(1, STEPS):
        opt.step(), topt.step()
        ours.step(), theirs.step()
        if step == RESTORE_AT:  # a new run: build, then load the optimizer's state, then the scheduler's (JSON)
            saved_opt, saved = opt.state_dict(), json.loads(json.dumps(ours.state_dict()))
            opt = nnlab_optimizer(kind)
            ours = build(nls, opt)
            opt.load_state_dict(saved_opt)
            ours.load_state_dict(saved)
        assert getattr(ours, "last_epoch", None) == getattr(theirs, "last_epoch", None)  # ChainedScheduler: none
        assert_same(ours, opt, theirs, topt, f"step {step}")


def plateau_metrics(n=STEPS):
    rng = np.random.default_rng(0)
    curve = 1.0 / (1.0 + 0.3 * np.minimum(np.arange(n), 12))  # improves, then a long plateau
    return list(curve + 0.002 * rng.standard_normal(n))


PLATEAU = [
    dict(patience=2, cooldown=1, min_lr=[0.004, 0.001], factor=0.5),
    dict(mode="max", threshold=0.01, threshold_mode="abs", patience=0, factor=0.7),
    dict(patience=1, threshold=0.0, eps=0.02, factor=0.5),  # a cut under eps is skipped (group 1's)
]


@pytest.mark.parametrize("settings", PLATEAU)
def test_reduce_lr_on_plateau_matches_torch_on_one_metric_sequence(settings):
    opt, topt = nnlab_optimizer("sgd"), torch_optimizer("sgd")
    ours, theirs = nls.ReduceLROnPlateau(opt, **settings), tls.ReduceLROnPlateau(topt, **settings)
    metrics = plateau_metrics()
    for step, metric in enumerate(metrics):
        ours.step(metric), theirs.step(metric)
        if step == RESTORE_AT:
            saved_opt, saved = opt.state_dict(), json.loads(json.dumps(ours.state_dict()))
            opt = nnlab_optimizer("sgd")
            ours = nls.ReduceLROnPlateau(opt, **settings)
            opt.load_state_dict(saved_opt)
            ours.load_state_dict(saved)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=0), step
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch) == \
            (theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter, theirs.last_epoch)
    assert ours.get_last_lr() != list(RATES)  # the sequence did cut the rates


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                                  "CosineAnnealingLR", "PolynomialLR", "CosineAnnealingWarmRestarts"])
def test_step_with_an_epoch_uses_the_closed_form_as_torch(name):
    kind, build = CASES[name]
    opt, topt = nnlab_optimizer(kind), torch_optimizer(kind)
    ours, theirs = build(nls, opt), build(tls, topt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for epoch in (3, 11, 4, 26, 0, 9):
            topt.step()
            ours.step(epoch), theirs.step(epoch)
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=0), epoch


def test_resuming_with_last_epoch_needs_initial_lr_and_continues_the_cosine():
    opt = nnlab_optimizer("sgd")
    with pytest.raises(ConfigError, match="initial_lr"):
        nls.StepLR(opt, step_size=2, last_epoch=4)
    topt = torch_optimizer("sgd")
    for o in (opt, topt):
        for group, lr in zip(o.param_groups, RATES):
            group["initial_lr"] = lr
    ours, theirs = nls.CosineAnnealingLR(opt, T_max=10, last_epoch=4), tls.CosineAnnealingLR(topt, T_max=10,
                                                                                             last_epoch=4)
    for _ in range(8):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=0)
        topt.step()
        ours.step(), theirs.step()


def test_state_dict_skips_lambdas_and_keeps_a_callable_objects_attributes():
    class Decay:
        def __init__(self):
            self.rate = 0.9

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = nnlab_optimizer("sgd")
    decay = Decay()
    sched = nls.LambdaLR(opt, [lambda e: 1.0, decay])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.9}]
    json.dumps(state)
    state["lr_lambdas"][1]["rate"] = 0.5
    sched.load_state_dict(state)
    assert decay.rate == 0.5


def bad(fn, error=ConfigError, match=None):
    with pytest.raises(error, match=match):
        fn(nnlab_optimizer("sgd"))


@pytest.mark.parametrize("fn, error, match", [
    (lambda o: nls.StepLR(o, step_size=0), ConfigError, "StepLR: step_size must be an integer >= 1, got 0"),
    (lambda o: nls.StepLR(o, step_size=2, gamma=-0.1), ConfigError, "gamma must be"),
    (lambda o: nls.MultiStepLR(o, milestones=5), ConfigError, "milestones must be a list"),
    (lambda o: nls.ConstantLR(o, factor=1.5), ConfigError, "factor must be"),
    (lambda o: nls.LinearLR(o, start_factor=0.0), ConfigError, "start_factor must be"),
    (lambda o: nls.CosineAnnealingLR(o, T_max=0), ConfigError, "T_max"),
    (lambda o: nls.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=0), ConfigError, "T_mult"),
    (lambda o: nls.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), ConfigError, "mode must be one of 'triangular'.*got 'sawtooth'"),
    (lambda o: nls.CyclicLR(o, [0.01], 0.1), ConfigError, "base_lr has 1 values, the optimizer 2"),
    (lambda o: nls.CyclicLR(o, 0.01, 0.1, max_momentum=1.0), ConfigError, "max_momentum must be"),
    (lambda o: nls.OneCycleLR(o, max_lr=0.1), ConfigError, "total_steps, or epochs and steps_per_epoch"),
    (lambda o: nls.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="cosine"), ConfigError, "anneal_strategy"),
    (lambda o: nls.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ConfigError, "pct_start"),
    (lambda o: nls.ReduceLROnPlateau(o, mode="avg"), ConfigError, "mode must be one of"),
    (lambda o: nls.ReduceLROnPlateau(o, threshold_mode="pct"), ConfigError, "threshold_mode"),
    (lambda o: nls.ReduceLROnPlateau(o, factor=1.0), ConfigError, "factor must be"),
    (lambda o: nls.ReduceLROnPlateau(o).step("low"), TypeError, "metric"),
    (lambda o: nls.LambdaLR(o, 0.5), TypeError, "lr_lambda should be a function"),
    (lambda o: nls.LambdaLR(o, [lambda e: 1.0]), ConfigError, "expected 2 lr_lambdas"),
    (lambda o: nls.StepLR("sgd", 2), TypeError, "not an nnlab Optimizer"),
    (lambda o: nls.SequentialLR(o, [nls.StepLR(o, 2), nls.StepLR(o, 3)], milestones=[]), ConfigError,
     "2 schedulers need 1 milestones"),
    (lambda o: nls.SequentialLR(o, [nls.StepLR(nnlab_optimizer("sgd"), 2)], milestones=[]), ConfigError,
     "another optimizer"),
    (lambda o: nls.ChainedScheduler([nls.ReduceLROnPlateau(o)]), ConfigError, "ReduceLROnPlateau"),
    (lambda o: nls.StepLR(o, 2).load_state_dict({"last_epoch": 3}), ConfigError, "missing key"),
    (lambda o: nls.LambdaLR(o, lambda e: -1.0), ConfigError, "LambdaLR at last_epoch=0.*lr must be"),
    (lambda o: nls.CyclicLR(Adagrad([nnlab.tensor([1.0], requires_grad=True)]), 0.01, 0.1), ConfigError,
     "neither 'momentum' nor 'betas'; pass cycle_momentum=False"),
])
def test_bad_arguments_are_refused_naming_them(fn, error, match):
    bad(fn, error, match)


def test_one_cycle_refuses_a_step_past_total_steps_as_torch():
    sched = nls.OneCycleLR(nnlab_optimizer("sgd"), 0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        sched.step()


def test_nesterov_sgd_refuses_a_momentum_cycle_through_zero():
    groups = [{"params": [nnlab.tensor([1.0], requires_grad=True)]}]
    opt = SGD(groups, lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ConfigError, match="nesterov=True needs momentum > 0"):
        nls.CyclicLR(opt, 0.01, 0.1, base_momentum=0.0, max_momentum=0.0)
    assert opt.param_groups[0]["momentum"] == 0.9 and math.isclose(opt.lr, 0.1)


# ------------------------------------------------- the LearningRateScheduler callback keeps the groups' ratios


def test_learning_rate_scheduler_callback_keeps_group_ratios_as_torch_lambda_lr():
    from nnlab.optim import schedules
    from nnlab.train import LearningRateScheduler

    schedule = schedules.step_decay(0.4, factor=0.5, every=3)
    for per in ("epoch", "step"):
        opt, topt = nnlab_optimizer("sgd"), torch_optimizer("sgd")
        callback = LearningRateScheduler(schedule, per=per)
        callback.set_context(model=None, optimizer=opt, params={})
        callback.on_train_begin()
        # the same rates in PyTorch: each group's initial rate times schedule(t) / the first group's initial rate
        theirs = tls.LambdaLR(topt, lambda t: schedule(t) / RATES[0])
        for t in range(12):
            callback.on_epoch_begin(t) if per == "epoch" else callback.on_batch_begin(t)
            assert opt.lr == schedule(t)  # the first group's rate is the schedule's, as in Keras
            assert [g["lr"] for g in opt.param_groups] == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=0)
            topt.step()
            theirs.step()


def test_learning_rate_scheduler_callback_sets_every_group_when_the_first_rate_is_zero():
    from nnlab.optim import schedules
    from nnlab.train import LearningRateScheduler

    groups = [{"params": [nnlab.tensor([1.0], requires_grad=True)], "lr": lr} for lr in (0.0, 0.05)]
    opt = SGD(groups, lr=0.1)
    callback = LearningRateScheduler(schedules.constant(0.2))
    callback.set_context(model=None, optimizer=opt, params={})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2]
    with pytest.raises(ConfigError, match="cannot set lr to the schedule's -1.0 at t=1"):
        cb = LearningRateScheduler(lambda t: -1.0 * t)
        cb.set_context(None, nnlab_optimizer("sgd"), {})
        cb.on_train_begin(), cb.on_epoch_begin(0), cb.on_epoch_begin(1)
