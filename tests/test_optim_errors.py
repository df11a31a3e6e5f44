"""Optimizer misuse is a ConfigError naming the mistake, and a refused call changes nothing (from an outside probe)."""

import copy

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError
from nnlab.optim import SGD, Adam
from optim_helpers import FACTORIES, make_params, train


# ---------------------------------------------------------------- load_state_dict
def _spoil_then(bad_edit):
    """A state dict whose lr and moments differ from the optimizer's, then broken by ``bad_edit``."""
    def edit(sd):
        sd["param_groups"][0]["lr"] = 0.5
        for entry in sd["state"].values():
            entry["grad_sum"] = np.full_like(entry["grad_sum"], 7.0)
        bad_edit(sd)
    return edit


@pytest.mark.parametrize("edit, message", [
    (lambda sd: sd["state"][1].__setitem__("step", "x"), "'step' must be a whole number"),
    (lambda sd: sd["state"][1].__setitem__("step", 2.5), "'step' must be a whole number"),
    (lambda sd: sd["state"][1].__setitem__("step", -1), "'step' must be a whole number"),
    (lambda sd: sd["state"].__setitem__(1, 5), "must be a dict"),
    (lambda sd: sd["param_groups"][0].pop("params"), "no 'params' key"),
    (lambda sd: sd["param_groups"][0].__setitem__("params", 3), "'params' must be a list"),
    (lambda sd: sd["param_groups"].__setitem__(0, 3), "must be a dict"),
    (lambda sd: sd["state"][1].__setitem__("grad_sum", np.array(["a"] * 2)), "must be numbers"),
    (lambda sd: sd["state"].__setitem__(9, sd["state"][0]), "parameter 9"),
    (lambda sd: sd.__setitem__("state", [1]), "'state' must be a dict"),
], ids=["text step", "fraction step", "negative step", "entry not a dict", "no params", "params not a list",
        "group not a dict", "text array", "index of no parameter", "state a list"])
def test_a_bad_state_dict_is_a_config_error_and_changes_nothing(edit, message):
    params = make_params()
    opt = Adam(params, lr=0.01)
    train(opt, params, 3)
    before = opt.state_dict()
    bad = copy.deepcopy(before)
    _spoil_then(edit)(bad)
    with pytest.raises(ConfigError, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, entry in before["state"].items():
        assert after["state"][i]["step"] == entry["step"]
        for name in ("grad_sum", "sq_grad_sum"):
            np.testing.assert_array_equal(after["state"][i][name], entry[name])


def test_unknown_group_keys_are_refused_on_load_as_by_add_param_group():
    torch = pytest.importorskip("torch")
    foreign = torch.optim.Adam([torch.zeros(3, requires_grad=True)], lr=0.05, amsgrad=True, maximize=True).state_dict()
    opt = Adam([nnlab.tensor(np.zeros(3), requires_grad=True)], lr=0.01)
    with pytest.raises(ConfigError, match="unknown key.*amsgrad"):
        opt.load_state_dict(foreign)
    assert opt.lr == 0.01 and "maximize" not in opt.param_groups[0]
    typo = opt.state_dict()
    typo["param_groups"][0]["lrr"] = 1.0
    with pytest.raises(ConfigError, match="lrr"):
        opt.load_state_dict(typo)


@pytest.mark.parametrize("name", [n for n in FACTORIES if n != "adam_groups"])
def test_every_optimizer_reloads_its_own_state_dict_with_a_name_and_a_changed_setting(name):
    params = make_params()
    opt = FACTORIES[name]([{"params": params[:2], "name": "first"}, {"params": params[2:]}])
    train(opt, params, 2)
    opt.param_groups[1]["weight_decay"] = 0.01  # as WeightDecayScheduler writes it
    saved = copy.deepcopy(opt.state_dict())
    fresh = FACTORIES[name]([{"params": params[:2]}, {"params": params[2:]}])
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["name"] == "first" and fresh.param_groups[1]["weight_decay"] == 0.01


# ---------------------------------------------------------------- Adam's betas
def _betas_mid_run(betas):
    params = make_params()
    opt = Adam(params)
    train(opt, params, 1)
    opt.param_groups[0]["betas"] = betas
    train(opt, params, 1)


@pytest.mark.parametrize("betas", [0.9, None, "ab", (0.9,)], ids=["scalar", "None", "text", "one"])
@pytest.mark.parametrize("where", ["constructor", "adamw", "group", "mid-run"])
def test_betas_that_are_not_a_pair_are_a_config_error(betas, where):
    from nnlab.optim import AdamW
    build = {"constructor": lambda: Adam(make_params(), betas=betas),
             "adamw": lambda: AdamW(make_params(), betas=betas),
             "group": lambda: Adam([{"params": make_params(), "betas": betas}]),
             "mid-run": lambda: _betas_mid_run(betas)}[where]
    with pytest.raises(ConfigError, match="betas must be a pair"):
        build()


# ---------------------------------------------------------------- what is passed where model.parameters() belongs
def _model():
    return nnlab.nn.Linear(2, 2, rng=0)


@pytest.mark.parametrize("call, message", [
    (lambda: SGD(_model()), r"got the model \(Linear\) itself; pass model.parameters\(\)"),
    (lambda: Adam(None), "iterable of tensors such as model.parameters"),
    (lambda: SGD(3.0), "iterable of tensors"),
    (lambda: nnlab.optim.clip_grad_norm(_model(), 1.0), r"pass model.parameters\(\) or an optimizer"),
    (lambda: nnlab.optim.clip_grad_value(_model(), 1.0), r"pass model.parameters\(\) or an optimizer"),
    (lambda: nnlab.optim.clip_grad_norm(None, 1.0), "iterable of tensors"),
    (lambda: nnlab.optim.clip_grad_value([np.ones(2)], 1.0), "got an item of type ndarray"),
    (lambda: SGD(make_params(), lr=0.1).set_group_lrs(0.1), "one learning rate per group"),
    (lambda: SGD(make_params()[:1]).add_param_group(make_params()[1:]), "add_param_group takes one dict"),
], ids=["SGD(model)", "Adam(None)", "SGD(number)", "clip_norm(model)", "clip_value(model)", "clip(None)",
        "clip(arrays)", "set_group_lrs(number)", "add_param_group(list)"])
def test_a_model_or_none_where_parameters_belong_is_a_config_error(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


# ---------------------------------------------------------------- skipped parameters with eps = 0
@pytest.mark.parametrize("make", [lambda p: nnlab.optim.Adagrad(p, lr=0.1, eps=0.0),
                                  lambda p: nnlab.optim.RMSProp(p, lr=0.01, eps=0.0),
                                  lambda p: Adam(p, lr=0.1, eps=0.0)], ids=["adagrad", "rmsprop", "adam"])
def test_a_skipped_parameter_computes_no_zero_by_zero(make):
    a, b = nnlab.tensor([1.0, 2.0], requires_grad=True), nnlab.tensor([3.0], requires_grad=True)
    alone = nnlab.tensor([1.0, 2.0], requires_grad=True)
    opt, reference = make([a, b]), make([alone])
    for _ in range(2):
        a.grad, alone.grad = np.array([0.5, -0.5], np.float32), np.array([0.5, -0.5], np.float32)
        with np.errstate(all="raise"):  # b has no gradient: skipped, and nothing of it is divided
            opt.step()
        reference.step()
        np.testing.assert_array_equal(a.data, alone.data)  # the same bits as without b
        np.testing.assert_array_equal(b.data, [3.0])
    # a 0/0 of a parameter that IS updated still shows (ε = 0 and a zero first gradient)
    c = nnlab.tensor([1.0], requires_grad=True)
    opt.add_param_group({"params": [c]})
    a.grad, c.grad = np.array([0.5, -0.5], np.float32), np.zeros(1, np.float32)
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        opt.step()


# ---------------------------------------------------------------- Nesterov needs momentum
def test_set_momentum_applies_the_nesterov_rule_and_changes_nothing_when_refused():
    w = nnlab.tensor([1.0, 2.0], requires_grad=True)
    plain = nnlab.tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [plain]}, {"params": [w], "nesterov": True}], lr=0.1, momentum=0.9)
    with pytest.raises(ConfigError, match="parameter group 1: nesterov=True needs momentum > 0"):
        opt.set_momentum(0.0)
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    opt.set_momentum(0.5)
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # its own state dict loads
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0.5]


def test_a_momentum_schedule_reaching_zero_on_nesterov_fails_at_once():
    from nnlab.optim.schedules import momentum_schedule
    from nnlab.train import MomentumScheduler, fit
    model = nnlab.nn.Linear(3, 2, rng=0)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    X, y = np.zeros((8, 3), np.float32), np.zeros(8, dtype=int)
    with pytest.raises(ConfigError, match="nesterov=True needs momentum > 0"):
        fit(model, nnlab.losses.cross_entropy, opt, (X, y), epochs=1, verbose=0,
            callbacks=[MomentumScheduler(momentum_schedule(initial=0.0, final=0.9, switch=3))])
