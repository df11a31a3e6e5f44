"""RMSprop (PyTorch's), Rprop, ASGD and LBFGS against torch.optim, side by side.

The small tanh MLP and mini-batches of ``test_optim_more`` drive both libraries from the same initial weights
for 20 steps; every step's weights are compared (LBFGS through its closure, PyTorch's way).  Then state dicts
through JSON mid-run, a parameter skipped on odd steps, the registry and config, and argument errors.
"""

import json

import numpy as np
import pytest

import nnlab
from nnlab import optim
from nnlab.errors import ConfigError
from nnlab.functional import tanh
from nnlab.optim import ASGD, LBFGS, RMSprop, Rprop
from test_optim_more import EXTRA, INIT, X, Y, assert_close, batch

torch = pytest.importorskip("torch")
STEPS = 20


def two_groups(params, lr, **second):
    return [{"params": params[:2] + params[4:], "lr": lr}, {"params": params[2:4], "lr": lr / 3, **second}]


# (id, nnlab optimizer of the parameters, torch optimizer of the parameters); the settings mean the same in both
CASES = [
    ("rmsprop", lambda p: RMSprop(p), lambda p: torch.optim.RMSprop(p)),
    ("rmsprop-centered-groups", lambda p: RMSprop(two_groups(p, 0.01, weight_decay=0.05), centered=True),
     lambda p: torch.optim.RMSprop(two_groups(p, 0.01, weight_decay=0.05), centered=True)),
    ("rmsprop-momentum", lambda p: RMSprop(p, lr=1e-3, momentum=0.9, alpha=0.9, eps=1e-3),
     lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.9, alpha=0.9, eps=1e-3)),
    ("rmsprop-centered-momentum-maximize", lambda p: RMSprop(p, lr=1e-3, momentum=0.5, centered=True, maximize=True,
                                                             weight_decay=0.1),
     lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True, maximize=True, weight_decay=0.1)),
    ("rprop", lambda p: Rprop(p), lambda p: torch.optim.Rprop(p)),
    ("rprop-settings-groups", lambda p: Rprop(two_groups(p, 0.02), etas=(0.3, 1.5), step_sizes=(1e-3, 0.05)),
     lambda p: torch.optim.Rprop(two_groups(p, 0.02), etas=(0.3, 1.5), step_sizes=(1e-3, 0.05))),
    ("rprop-maximize", lambda p: Rprop(p, lr=1e-3, maximize=True), lambda p: torch.optim.Rprop(p, lr=1e-3, maximize=True)),
    ("asgd", lambda p: ASGD(p), lambda p: torch.optim.ASGD(p)),
    ("asgd-averaging-groups", lambda p: ASGD(two_groups(p, 0.05, weight_decay=0.05), lambd=1e-2, alpha=0.5, t0=5),
     lambda p: torch.optim.ASGD(two_groups(p, 0.05, weight_decay=0.05), lambd=1e-2, alpha=0.5, t0=5)),
    ("asgd-maximize", lambda p: ASGD(p, lr=1e-3, t0=3, weight_decay=0.1, maximize=True),
     lambda p: torch.optim.ASGD(p, lr=1e-3, t0=3, weight_decay=0.1, maximize=True)),
    ("lbfgs", lambda p: LBFGS(p, max_iter=2), lambda p: torch.optim.LBFGS(p, max_iter=2)),
    ("lbfgs-history", lambda p: LBFGS(p, lr=0.5, max_iter=3, history_size=3),
     lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=3, history_size=3)),
    ("lbfgs-strong_wolfe", lambda p: LBFGS(p, max_iter=3, line_search_fn="strong_wolfe"),
     lambda p: torch.optim.LBFGS(p, max_iter=3, line_search_fn="strong_wolfe")),
]
IDS = [case[0] for case in CASES]
SKIPPABLE = [case for case in CASES if not case[0].startswith("lbfgs")]  # LBFGS takes a missing .grad as zeros


def loss_of(lib, params, t, dtype, with_extra, full_batch=False):
    x, y = (X, Y) if full_batch else batch(t)  # LBFGS is a full-batch method: its history assumes one loss
    if lib is torch:
        x, y = torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
        out = torch.tanh(x @ params[0] + params[1]) @ params[2] + params[3]
    else:
        x, y = nnlab.tensor(x, dtype=dtype), nnlab.tensor(y, dtype=dtype)
        out = tanh(x @ params[0] + params[1]) @ params[2] + params[3]
    if with_extra and t % 2 == 0:
        out = out + params[4]
    return ((out - y) ** 2).mean()


def run(lib, opt, params, dtype, steps=STEPS, start=0, with_extra=False, backward_in_closure=True):
    """Every step's weights, one row per step; the loss of a closure is PyTorch's closure or fit's (forward only)."""
    rows, losses = [], []
    lbfgs = isinstance(opt, (LBFGS, torch.optim.LBFGS))
    for t in range(start, start + steps):
        def closure():
            if not backward_in_closure:
                return loss_of(lib, params, t, dtype, with_extra, lbfgs)
            opt.zero_grad(set_to_none=True)
            loss = loss_of(lib, params, t, dtype, with_extra, lbfgs)
            loss.backward()
            return loss

        if lbfgs:
            losses.append(float(opt.step(closure).detach() if lib is torch else opt.step(closure)))
        else:
            closure()
            opt.step()
        rows.append(np.concatenate([(p.detach().numpy() if lib is torch else p.data).ravel() for p in params]))
    return np.array(rows), losses


def nnlab_params(dtype, with_extra=False, arrays=None):
    return [nnlab.tensor(a, requires_grad=True, dtype=dtype) for a in arrays or INIT + ([EXTRA] if with_extra else [])]


def torch_run(make_torch, dtype, with_extra=False, steps=STEPS):
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)  # torch keeps ASGD's η and μ in the default dtype
    try:
        params = [torch.tensor(a, requires_grad=True, dtype=torch_dtype) for a in INIT + ([EXTRA] if with_extra else [])]
        opt = make_torch(params)
        return (*run(torch, opt, params, torch_dtype, steps, with_extra=with_extra), opt)
    finally:
        torch.set_default_dtype(previous)


def relative_errors(ours, theirs):
    return np.linalg.norm(ours - theirs, axis=1) / np.linalg.norm(theirs, axis=1)


def assert_rows_close(ours, theirs, dtype):
    assert ours.shape == theirs.shape
    for row, (a, b) in enumerate(zip(ours, theirs)):
        try:
            assert_close(a, b, dtype)
        except AssertionError as error:
            raise AssertionError(f"step {row + 1}: {error}") from None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "make", "make_torch"), CASES, ids=IDS)
def test_every_steps_weights_match_torch(name, make, make_torch, dtype):
    params = nnlab_params(dtype)
    opt = make(params)
    ours, our_losses = run(nnlab, opt, params, dtype)
    theirs, their_losses, torch_opt = torch_run(make_torch, dtype)
    assert not np.allclose(ours[-1], np.concatenate([a.ravel() for a in INIT]))  # the weights did move
    if name.startswith("lbfgs") and dtype == np.float32:
        # Quasi-Newton steps amplify rounding: torch's own float32 run leaves its float64 run by 1e-6 to 1e-4
        # over these 20 steps.  nnlab's float32 run must stay as near torch's float32 run (float64: below).
        rounding = relative_errors(theirs, torch_run(make_torch, np.float64)[0])
        assert (relative_errors(ours, theirs) <= np.maximum(1e-6, 10 * rounding)).all()
        assert relative_errors(ours, theirs)[:3].max() <= 1e-6
    elif name.startswith("lbfgs"):
        assert relative_errors(ours, theirs).max() <= 1e-10
    else:
        assert_rows_close(ours, theirs, dtype)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-4 if dtype == np.float32 else 1e-10)
    if name.startswith("asgd"):  # the averaged weights too
        ax = np.concatenate([opt.state_dict()["state"][i]["ax"].ravel() for i in range(4)])
        their_ax = np.concatenate([torch_opt.state[p]["ax"].numpy().ravel() for g in torch_opt.param_groups
                                   for p in g["params"]])
        if name == "asgd-averaging-groups":
            assert not np.allclose(ax, ours[-1])  # averaging started at step t0 = 5
        assert_close(ax, their_ax, dtype)  # both list the parameters group by group


@pytest.mark.parametrize(("name", "make", "make_torch"), SKIPPABLE, ids=[c[0] for c in SKIPPABLE])
def test_a_parameter_skipped_on_odd_steps_matches_torch(name, make, make_torch):
    # the extra bias lags the others' step counts: Rprop's and ASGD's first-step values per element
    params = nnlab_params(np.float64, with_extra=True)
    ours = run(nnlab, make(params), params, np.float64, with_extra=True)[0]
    assert_rows_close(ours, torch_run(make_torch, np.float64, with_extra=True)[0], np.float64)


def test_lbfgs_with_fits_forward_only_closure_takes_the_same_steps():
    def trajectory(backward_in_closure):
        params = nnlab_params(np.float64)
        opt = LBFGS(params, max_iter=3, line_search_fn="strong_wolfe")
        return run(nnlab, opt, params, np.float64, steps=5, backward_in_closure=backward_in_closure)

    (with_backward, losses), (forward_only, losses_too) = trajectory(True), trajectory(False)
    np.testing.assert_array_equal(with_backward, forward_only)
    assert losses == losses_too


def to_json(value):
    """A state dict as JSON text and back: arrays and NumPy scalars as lists and numbers, int keys as strings."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.loads(json.dumps(plain(value)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "make", "make_torch"), CASES, ids=IDS)
def test_state_dict_through_json_mid_run_continues_bit_for_bit(name, make, make_torch, dtype):
    with_extra = name in {c[0] for c in SKIPPABLE}
    params = nnlab_params(dtype, with_extra)
    expected = run(nnlab, make(params), params, dtype, with_extra=with_extra)[0]
    params = nnlab_params(dtype, with_extra)
    opt = make(params)
    run(nnlab, opt, params, dtype, steps=13, with_extra=with_extra)  # odd: the extra bias lags by one
    saved = to_json(opt.state_dict())
    fresh = nnlab_params(dtype, arrays=[p.data.copy() for p in params])
    resumed = make(fresh)
    resumed.load_state_dict(saved)
    got = run(nnlab, resumed, fresh, dtype, steps=STEPS - 13, start=13, with_extra=with_extra)[0]
    np.testing.assert_array_equal(got.view(np.uint8), expected[13:].view(np.uint8))


def test_state_names_and_torch_defaults():
    p = nnlab_params(np.float32)
    assert RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                                       maximize=False)
    assert Rprop(p).defaults == dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False, weight_decay=0.0)
    assert ASGD(p).defaults == dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False)
    lbfgs = LBFGS(p)
    assert {k: v for k, v in lbfgs.param_groups[0].items() if k != "params"} == dict(
        lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100,
        line_search_fn=None)
    assert set(RMSprop(p).state_dict()["state"][0]) == {"step", "square_avg", "momentum_buffer"}
    assert set(RMSprop(p, centered=True).state_dict()["state"][0]) == {"step", "square_avg", "momentum_buffer",
                                                                      "grad_avg"}
    assert set(Rprop(p).state_dict()["state"][0]) == {"step", "prev", "step_size"}
    assert set(ASGD(p).state_dict()["state"][0]) == {"step", "ax", "eta", "mu"}
    assert lbfgs.state_dict()["state"] == {} and lbfgs.requires_closure


def test_the_registry_and_the_config_build_rprop_and_asgd_but_name_why_not_lbfgs():
    import tomllib

    from nnlab import nn
    from nnlab.cli.build import build_optimizer
    from nnlab.cli.config import OptimizerConfig, parse_config

    p = nnlab_params(np.float32)
    assert type(optim.get("rprop", p)) is Rprop and type(optim.get("asgd", p)) is ASGD
    with pytest.raises(ConfigError, match="LBFGS is not built by name: it takes one parameter group"):
        optim.get("lbfgs", p)
    with pytest.raises(ValueError, match="LBFGS is not built by name"):
        OptimizerConfig(name="lbfgs")
    text = '[optimizer]\nname = "rprop"\netas = [0.4, 1.3]\nstep_sizes = [1e-5, 1.0]\n'
    opt = build_optimizer(parse_config(tomllib.loads(text)), nn.Sequential(nn.Linear(3, 2)))
    assert type(opt) is Rprop and all(g["etas"] == (0.4, 1.3) and g["step_sizes"] == (1e-5, 1.0)
                                      for g in opt.param_groups)
    text = '[optimizer]\nname = "asgd"\nlambd = 0.01\nalpha = 0.5\nt0 = 10.0\n'
    opt = build_optimizer(parse_config(tomllib.loads(text)), nn.Sequential(nn.Linear(3, 2)))
    assert [(g["lambd"], g["alpha"], g["t0"]) for g in opt.param_groups] == [(0.01, 0.5, 10.0)] * 2
    with pytest.raises(ConfigError, match="optimizer.etas"):
        parse_config(tomllib.loads('[optimizer]\nname = "asgd"\netas = [0.4, 1.3]\n'))


def test_lbfgs_trains_with_fit():
    from nnlab import nn

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(3, 1))
    history = nnlab.train.fit(model, "mse", LBFGS(model.parameters(), line_search_fn="strong_wolfe"), (X, y),
                        epochs=3, batch_size=None, metrics=(), verbose=0)
    assert history.history["loss"][-1] < 1e-6 < history.history["loss"][0]


def param():
    return nnlab_params(np.float32)


@pytest.mark.parametrize(("make", "argument"), [
    (lambda: RMSprop(param(), alpha=1.5), "alpha"),
    (lambda: RMSprop(param(), eps=-1.0), "eps"),
    (lambda: RMSprop(param(), momentum=1.0), "momentum"),
    (lambda: RMSprop(param(), centered="yes"), "centered"),
    (lambda: RMSprop([{"params": param(), "centered": True}]), "centered"),  # one setting for all groups
    (lambda: RMSprop(param(), maximize=1), "maximize"),
    (lambda: Rprop(param(), etas=(1.0, 1.2)), r"etas\[0\]"),
    (lambda: Rprop(param(), etas=(0.5, 1.0)), r"etas\[1\]"),
    (lambda: Rprop(param(), etas=0.5), "etas"),
    (lambda: Rprop(param(), step_sizes=(1.0, 0.1)), r"step_sizes\[1\]"),
    (lambda: Rprop(param(), step_sizes=(-1.0, 0.1)), r"step_sizes\[0\]"),
    (lambda: Rprop(param(), lr=-0.1), "lr"),
    (lambda: ASGD(param(), lambd=-1.0), "lambd"),
    (lambda: ASGD(param(), alpha=float("nan")), "alpha"),
    (lambda: ASGD(param(), t0=-1.0), "t0"),
    (lambda: ASGD(param(), maximize="no"), "maximize"),
    (lambda: LBFGS(param(), max_iter=0), "max_iter"),
    (lambda: LBFGS(param(), max_eval=2.5), "max_eval"),
    (lambda: LBFGS(param(), history_size=0), "history_size"),
    (lambda: LBFGS(param(), tolerance_grad=-1.0), "tolerance_grad"),
    (lambda: LBFGS(param(), line_search_fn="armijo"), "line_search_fn.*'strong_wolfe'"),
    (lambda: LBFGS(two_groups(param(), 1.0)), "one parameter group"),
    (lambda: LBFGS([nnlab.tensor([1.0], requires_grad=True), nnlab.tensor([1.0], requires_grad=True,
                                                                           dtype=np.float64)]), "share a dtype"),
    (lambda: LBFGS(param()).step(), "closure"),
])
def test_argument_errors_name_the_argument(make, argument):
    with pytest.raises(ConfigError, match=argument):
        make()


def test_a_bad_lbfgs_state_dict_is_refused_and_changes_nothing():
    params = nnlab_params(np.float64)
    opt = LBFGS(params, max_iter=3)
    run(nnlab, opt, params, np.float64, steps=2)
    good = opt.state_dict()
    for change, message in [
        (lambda s: s["state"][0].pop("d"), "expected"),
        (lambda s: s["state"][0].update(d=np.zeros(3)), "'d' has shape"),
        (lambda s: s["state"][0]["old_dirs"].pop(), "as long"),
        (lambda s: s["state"][0].update(n_iter=-1), "n_iter"),
        (lambda s: s["param_groups"][0].update(history_size=0), "history_size"),
        (lambda s: s.update(state={1: s["state"][0]}), "parameter 0"),
    ]:
        bad = opt.state_dict()
        change(bad)
        with pytest.raises(ConfigError, match=message):
            opt.load_state_dict(bad)
        after = opt.state_dict()
        assert after["state"][0]["n_iter"] == good["state"][0]["n_iter"]
        np.testing.assert_array_equal(after["state"][0]["d"], good["state"][0]["d"])
