"""Optimizer machinery: flat buffers and re-syncing, groups, dtypes, state dicts.

Clipping and the line search: test_optim_clipping_line_search.py.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnlab
from nnlab.errors import ConfigError, NnlabError
from nnlab.optim import SGD, Adagrad, Adam, LineSearch, Optimizer, RMSProp
from optim_helpers import FACTORIES, SHAPES, X, Y, lives_in, loss_of, make_params, train


# ---------------------------------------------------------------- flat buffers
def test_parameters_and_gradients_live_in_one_buffer():
    params = make_params()
    before = [p.data.copy() for p in params]
    opt = SGD(params, lr=0.1)
    (flat,) = opt._flats[0]
    assert all(lives_in(p.data, flat.data) for p in params)
    assert all(np.array_equal(p.data, b) for p, b in zip(params, before))
    loss_of(params).backward()
    opt.step()
    views = [p.grad for p in params]
    assert all(lives_in(g, flat.grad) for g in views)
    for t in range(3):
        opt.zero_grad()
        assert all(p.grad is v and not p.grad.any() for p, v in zip(params, views))
        loss_of(params, t).backward()  # the engine adds into the views in place
        assert all(p.grad is v for p, v in zip(params, views))
        opt.step()
    assert all(lives_in(p.data, flat.data) for p in params)



def test_flat_buffers_start_on_cache_lines_at_different_page_offsets():
    # the same layout in every process; buffers an update streams through together never share a page offset
    params = make_params()
    opt = FACTORIES["adam"](params)
    loss_of(params).backward()
    opt.step()
    (flat,) = opt._flats[0]
    buffers = (flat.data, flat.grad, *flat.state.values(), flat.scratch)
    addresses = [buf.__array_interface__["data"][0] for buf in buffers]
    assert all(a % 64 == 0 for a in addresses) and all(buf.size == sum(flat.sizes) for buf in buffers)
    assert len({a % 4096 for a in addresses}) == len(buffers)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_none_gradients_every_step_give_the_same_trajectory(name):
    # Module.zero_grad sets .grad = None: every step re-syncs by copying, with the same result.
    fast, synced = make_params(), make_params()
    a = train(FACTORIES[name](fast), fast, 6)
    b = train(FACTORIES[name](synced), synced, 6, none_grads=True)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_replaced_gradient_and_data_are_copied_in():
    params = make_params(np.float64)
    opt = SGD(params, lr=0.5)
    new_value = np.full(SHAPES[0], 2.0)
    params[0].data = new_value  # rebinding, not an in-place change
    params[1].grad = np.ones(SHAPES[1])
    for p in (params[0], params[2], params[3]):
        p.grad = np.full(p.shape, 0.5)
    opt.step()
    np.testing.assert_array_equal(params[0].data, 2.0 - 0.25)
    assert params[0].data is not new_value and lives_in(params[0].data, opt._flats[0][0].data)
    assert lives_in(params[1].grad, opt._flats[0][0].grad)
    params[0].data[...] = 0.0  # in-place edits reach the buffer directly
    opt.step()
    np.testing.assert_array_equal(params[0].data, -0.25)


def test_parameter_without_gradient_is_skipped():
    params = make_params(np.float64)
    opt = Adam(params, lr=0.1)
    train(opt, params, 2)
    frozen = params[3].data.copy()
    state_before = opt.state_dict()["state"][3]
    opt.zero_grad()
    loss_of(params).backward()
    params[3].grad = None
    moved = params[0].data.copy()
    opt.step()
    np.testing.assert_array_equal(params[3].data, frozen)
    assert not np.array_equal(params[0].data, moved)
    state = opt.state_dict()["state"]
    assert state[3]["step"] == 2 and state[0]["step"] == 3
    for key in opt.state_names:
        np.testing.assert_array_equal(state[3][key], state_before[key])
    assert params[3].grad is None  # left as the user set it
    for p in params:
        p.grad = None
    opt.step()  # nothing has a gradient: nothing changes
    assert opt.state_dict()["state"][0]["step"] == 3


@pytest.mark.parametrize("name", [name for name in FACTORIES if name != "adam_groups"])
def test_a_parameter_the_loss_never_reaches_changes_nothing_else(name):
    params, alone = make_params(), make_params()
    unused = nnlab.tensor(np.ones(3), requires_grad=True)
    opt, ref = FACTORIES[name](params + [unused]), FACTORIES[name](alone)
    a, b = train(opt, params, 5), train(ref, alone, 5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert unused.grad is None and np.array_equal(unused.data, np.ones(3))
    assert opt._flats[0][0].t == 5


def test_zero_grad_set_to_none_and_shape_errors():
    params = make_params()
    opt = SGD(params, lr=0.1)
    loss_of(params).backward()
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in params)
    params[0].data = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(NnlabError, match="build a new optimizer"):
        opt.step()
    params[0].data = np.zeros(SHAPES[0], dtype=np.float64)
    with pytest.raises(NnlabError, match="float64"):
        opt.step()


@settings(max_examples=25, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=6),
       seed=st.integers(0, 2**16))
def test_flat_update_equals_per_parameter_update(shapes, seed):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(3)]
    params = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in init]
    opt = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)
    ref, update = [a.copy() for a in init], [np.zeros(s) for s in shapes]
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        opt.step()
        for k, g in enumerate(step_grads):
            update[k] = 0.9 * update[k] + 0.1 * (g + 0.01 * ref[k])
            ref[k] = ref[k] - update[k]
    for p, r in zip(params, ref):
        assert p.shape == r.shape
        np.testing.assert_allclose(p.data, r, rtol=1e-12, atol=1e-14)


def test_with_an_nn_module():
    nn = pytest.importorskip("nnlab.nn")
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    opt = Adam(model.parameters(), lr=0.01)
    x, y = nnlab.tensor(X[:8]), nnlab.tensor(Y[:8])

    def step(zero_grad):
        zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()

    losses = [step(opt.zero_grad) for _ in range(5)] + [step(model.zero_grad) for _ in range(5)]
    assert losses[-1] < losses[0]
    (flat,) = opt._flats[0]
    assert all(lives_in(p.data, flat.data) and lives_in(p.grad, flat.grad) for p in model.parameters())
    saved = model.state_dict()
    step(opt.zero_grad)
    model.load_state_dict(saved)  # copies in place: the views survive
    assert all(lives_in(p.data, flat.data) for p in model.parameters())
    np.testing.assert_array_equal(flat.data, np.concatenate([v.ravel() for v in saved.values()]))


# ---------------------------------------------------------------- dtypes
ALL_OPTIMIZERS = list(FACTORIES.items()) + [("line_search", lambda p: LineSearch(p, candidates=(0.01, 0.1)))]


def run(make, params, steps=5):
    opt = make(params)
    for t in range(steps):
        opt.zero_grad()
        loss = loss_of(params, t)
        loss.backward()
        if isinstance(opt, LineSearch):
            opt.step(lambda: loss_of(params, t))
        else:
            opt.step()
    return opt


@pytest.mark.parametrize("name, make", ALL_OPTIMIZERS, ids=[n for n, _ in ALL_OPTIMIZERS])
def test_float32_stays_float32(name, make):
    params32, params64 = make_params(np.float32), make_params(np.float64)
    opt = run(make, params32)
    run(make, params64)
    for p32, p64 in zip(params32, params64):
        assert p32.data.dtype == np.float32 and p32.grad.dtype == np.float32
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-3, atol=1e-4)
    for entry in opt.state_dict()["state"].values():
        assert all(v.dtype == np.float32 for k, v in entry.items() if k != "step")


def test_mixed_dtypes_in_one_group():
    a = nnlab.tensor([1.0, 2.0], requires_grad=True)
    b = nnlab.tensor([3.0], requires_grad=True, dtype=np.float64)
    opt = Adam([a, b], lr=0.1)
    assert len(opt._flats[0]) == 2
    ((a * a).sum() + (b * b).sum().astype(np.float32)).backward()
    opt.step()
    assert a.data.dtype == np.float32 and b.data.dtype == np.float64
    np.testing.assert_allclose(a.data, [0.9, 1.9], rtol=1e-6)
    np.testing.assert_allclose(b.data, [2.9])


# ---------------------------------------------------------------- state dicts
@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("skip_one", [False, True], ids=["all", "one_skipped"])
def test_state_dict_continues_bit_for_bit(name, skip_one):
    make = FACTORIES[name]
    params = make_params()
    opt = make(params)
    train(opt, params, 4)
    if skip_one:  # a parameter with a lagging step count
        opt.zero_grad()
        loss_of(params, 4).backward()
        params[1].grad = None
        opt.step()
    opt.param_groups[0]["lr"] *= 0.5  # hyper-parameters are part of the state
    saved_values, saved_state = [p.data.copy() for p in params], opt.state_dict()
    expected = train(opt, params, 5, start=10)

    fresh = [nnlab.tensor(v, requires_grad=True) for v in saved_values]
    resumed = make(fresh)
    resumed.load_state_dict(saved_state)
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    got = train(resumed, fresh, 5, start=10)
    assert all(np.array_equal(x, y) for x, y in zip(expected, got))
    # parameters are numbered in group order; the state dict holds copies, unchanged by stepping on
    skipped = next(i for i, p in enumerate(p for g in opt.param_groups for p in g["params"]) if p is params[1])
    assert [e["step"] for e in saved_state["state"].values()] == [4 + skip_one * (i != skipped) for i in range(4)]
    assert opt.state_dict()["state"][skipped]["step"] == 9


def test_state_dict_layout_and_bad_loads():
    params = make_params()
    opt = SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1, momentum=0.9)
    train(opt, params, 2)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["momentum"] == 0.9
    assert sd["state"][2]["update"].shape == SHAPES[2] and sd["state"][2]["step"] == 2
    with pytest.raises(ConfigError, match="parameter groups"):
        SGD(params, lr=0.1).load_state_dict(sd)
    with pytest.raises(ConfigError, match="unknown key.*momentum"):  # SGD's group settings are not Adam's
        Adam([{"params": params[:2]}, {"params": params[2:]}]).load_state_dict(sd)
    for group in sd["param_groups"]:
        del group["momentum"], group["nesterov"]
    with pytest.raises(ConfigError, match="expects"):
        Adam([{"params": params[:2]}, {"params": params[2:]}]).load_state_dict(sd)
    bad = opt.state_dict()
    bad["state"][1]["update"] = np.zeros((7,))
    before = opt.state_dict()
    with pytest.raises(ConfigError, match="shape"):
        opt.load_state_dict(bad)
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["update"], before["state"][0]["update"])
    with pytest.raises(ConfigError):
        opt.load_state_dict({"state": {}})


# ---------------------------------------------------------------- groups and hyper-parameters
def test_groups_lr_property_and_add_param_group():
    params = make_params()
    opt = SGD([{"params": params[:2], "lr": 0.5, "name": "weights"}, {"params": params[2:3]}], lr=0.1, momentum=0.9)
    assert opt.lr == 0.5
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["momentum"] == 0.9
    opt.add_param_group({"params": [params[3]], "weight_decay": 0.01})
    opt.lr = 0.01
    assert [g["lr"] for g in opt.param_groups] == [0.01] * 3
    assert opt.param_groups[2]["weight_decay"] == 0.01
    assert "group 2: 1 params" in repr(opt)


def test_per_group_lr_and_weight_decay_apply_to_their_group_only():
    a = nnlab.tensor([1.0], requires_grad=True, dtype=np.float64)
    b = nnlab.tensor([1.0], requires_grad=True, dtype=np.float64)
    opt = SGD([{"params": [a], "lr": 0.5}, {"params": [b], "weight_decay": 0.5}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    np.testing.assert_allclose(a.data, [1 - 0.5 * 1.0])
    np.testing.assert_allclose(b.data, [1 - 0.1 * (1.0 + 0.5 * 1.0)])


@pytest.mark.parametrize("build, message", [
    (lambda p: SGD([], lr=0.1), "empty"),
    (lambda p: SGD(p[0], lr=0.1), "single Tensor"),
    (lambda p: SGD(p, lr=-1.0), "lr"),
    (lambda p: SGD(p, lr=0.1, momentum=1.0), "momentum"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: SGD(p + p[:1], lr=0.1), "more than once"),
    (lambda p: SGD([{"params": p, "lr": 0.1, "weight_deacy": 0.1}]), "weight_deacy"),
    (lambda p: SGD([p[0] * 2.0]), "leaf"),
    (lambda p: SGD([nnlab.tensor([1.0])]), "requires_grad"),
    (lambda p: Adam(p, betas=(0.9,)), "betas"),
    (lambda p: Adam(p, betas=(0.9, 1.0)), "betas"),
    (lambda p: RMSProp(p, beta=1.5), "beta"),
    (lambda p: Adagrad(p, eps=-1.0), "eps"),
    (lambda p: LineSearch(p, candidates=()), "candidate"),
    (lambda p: LineSearch(p, candidates=(0.1, -1.0)), "candidate"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_bad_configuration_is_reported(build, message):
    with pytest.raises(ConfigError, match=message):
        build(make_params())


def test_lr_setter_validates_and_step_returns_closure_loss():
    params = make_params()
    opt = Adam(params)
    with pytest.raises(ConfigError, match="lr"):
        opt.lr = -0.1

    def closure():
        opt.zero_grad()
        loss = loss_of(params)
        loss.backward()
        return loss

    first = opt.step(closure)
    assert isinstance(first.item(), float) and loss_of(params).item() < first.item()
    assert isinstance(opt, Optimizer)
