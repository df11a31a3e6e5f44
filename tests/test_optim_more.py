"""Adamax, NAdam, RAdam, Adadelta and Adam/AdamW(amsgrad=True) against torch.optim, side by side.

The same small tanh MLP and mini-batches drive both libraries for 50 steps, with two parameter groups of
different learning rates and weight decay on one; then state dicts through JSON mid-run, learning-rate
schedulers, the registry, a compiled kernel against the NumPy reference, and argument errors.
"""

import json

import numpy as np
import pytest

import nnlab
from nnlab import optim
from nnlab.errors import ConfigError
from nnlab.functional import tanh
from nnlab.optim import Adadelta, Adam, Adamax, AdamW, NAdam, RAdam, _fused, lr_scheduler

STEPS = 50
_rng = np.random.default_rng(2024)
X, Y = _rng.standard_normal((64, 5)), _rng.standard_normal((64, 3))
INIT = [_rng.standard_normal((5, 8)) * 0.5, _rng.standard_normal(8) * 0.1,
        _rng.standard_normal((8, 3)) * 0.5, _rng.standard_normal(3) * 0.1]
EXTRA = _rng.standard_normal(3) * 0.1  # a bias the loss reaches only on even steps (its .grad is None on odd ones)

# (nnlab name, settings, torch class): the settings mean the same in both
CASES = [
    ("adamax", {}, "Adamax"),
    ("adamax", {"betas": (0.8, 0.99), "eps": 1e-3}, "Adamax"),
    ("nadam", {}, "NAdam"),
    ("nadam", {"momentum_decay": 0.01, "eps": 1e-4}, "NAdam"),
    ("nadam", {"decoupled_weight_decay": True}, "NAdam"),
    ("radam", {}, "RAdam"),
    ("radam", {"betas": (0.9, 0.9)}, "RAdam"),  # ρ_∞ = 19: rectified from step 2 on
    ("radam", {"decoupled_weight_decay": True}, "RAdam"),
    ("adadelta", {}, "Adadelta"),
    ("adadelta", {"rho": 0.5, "eps": 1e-3}, "Adadelta"),
    ("adam", {"amsgrad": True}, "Adam"),
    ("adamw", {"amsgrad": True}, "AdamW"),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw, _ in CASES]
LRS = {"adadelta": (1.0, 0.3)}  # the two groups' rates (Adadelta's default is 1)


def groups(params, name):
    first, second = LRS.get(name, (0.01, 0.003))
    return [{"params": params[:2] + params[4:], "lr": first, "weight_decay": 0.05}, {"params": params[2:4], "lr": second}]


def batch(t):
    rows = np.arange(16 * t, 16 * t + 16) % len(X)
    return X[rows], Y[rows]


def run_nnlab(name, kw, dtype, steps=STEPS, with_extra=False, make=None, start=0, params=None, opt=None, on_step=None):
    params = params or [nnlab.tensor(a, requires_grad=True, dtype=dtype) for a in INIT + ([EXTRA] if with_extra else [])]
    opt = opt or (make or (lambda p: optim.get(name, groups(p, name), **kw)))(params)
    for t in range(start, start + steps):
        opt.zero_grad(set_to_none=True)
        x, y = (nnlab.tensor(a, dtype=dtype) for a in batch(t))
        W1, b1, W2, b2 = params[:4]
        out = tanh(x @ W1 + b1) @ W2 + b2
        if with_extra and t % 2 == 0:
            out = out + params[4]
        ((out - y) ** 2).mean().backward()
        opt.step()
        if on_step:
            on_step(t)
    return opt, params, np.concatenate([p.data.ravel() for p in params])


def run_torch(name, kw, tname, dtype, steps=STEPS, with_extra=False, scheduler=None):
    torch = pytest.importorskip("torch")
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)  # torch keeps step counts (and NAdam's μ product) in the default dtype
    try:
        params = [torch.tensor(a, requires_grad=True, dtype=torch_dtype) for a in INIT + ([EXTRA] if with_extra else [])]
        opt = getattr(torch.optim, tname)(groups(params, name), **kw)
        sched = scheduler(torch, opt) if scheduler else None
        for t in range(steps):
            opt.zero_grad(set_to_none=True)
            x, y = (torch.tensor(a, dtype=torch_dtype) for a in batch(t))
            W1, b1, W2, b2 = params[:4]
            out = torch.tanh(x @ W1 + b1) @ W2 + b2
            if with_extra and t % 2 == 0:
                out = out + params[4]
            ((out - y) ** 2).mean().backward()
            opt.step()
            if sched:
                sched.step()
        return np.concatenate([p.detach().numpy().ravel() for p in params])
    finally:
        torch.set_default_dtype(previous)


def assert_close(ours, theirs, dtype):
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert ours.dtype == dtype
    assert np.linalg.norm(ours - theirs) / np.linalg.norm(theirs) <= rtol
    np.testing.assert_allclose(ours, theirs, rtol=100 * rtol, atol=100 * rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kw", "tname"), CASES, ids=IDS)
def test_matches_torch_for_50_steps_with_two_groups(name, kw, tname, dtype):
    ours = run_nnlab(name, kw, dtype)[2]
    assert_close(ours, run_torch(name, kw, tname, dtype), dtype)
    assert not np.allclose(ours, np.concatenate([a.ravel() for a in INIT]))  # the weights did move


@pytest.mark.parametrize(("name", "kw", "tname"), CASES, ids=IDS)
def test_a_parameter_skipped_on_odd_steps_matches_torch(name, kw, tname):
    # the extra bias lags the others' step counts: the per-element count path of every rule
    ours = run_nnlab(name, kw, np.float64, steps=20, with_extra=True)[2]
    assert_close(ours, run_torch(name, kw, tname, np.float64, steps=20, with_extra=True), np.float64)


def to_json(state):
    """A state dict as JSON text and back (arrays as lists, tuples as lists, int keys as strings)."""
    plain = {"state": {i: {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in entry.items()}
                       for i, entry in state["state"].items()},
             "param_groups": state["param_groups"]}
    return json.loads(json.dumps(plain))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kw", "tname"), CASES, ids=IDS)
def test_state_dict_through_json_mid_run_continues_bit_for_bit(name, kw, tname, dtype):
    _, _, expected = run_nnlab(name, kw, dtype, steps=30, with_extra=True)
    opt, params, _ = run_nnlab(name, kw, dtype, steps=13, with_extra=True)  # odd: the extra bias lags by one
    saved, values = to_json(opt.state_dict()), [p.data.copy() for p in params]
    fresh = [nnlab.tensor(v, requires_grad=True, dtype=dtype) for v in values]
    resumed = optim.get(name, groups(fresh, name), **kw)
    resumed.load_state_dict(saved)
    got = run_nnlab(name, kw, dtype, steps=17, start=13, with_extra=True, params=fresh, opt=resumed)[2]
    np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


SCHEDULERS = [
    ("step", lambda s, opt: s.StepLR(opt, step_size=7, gamma=0.5)),
    ("cosine", lambda s, opt: s.CosineAnnealingLR(opt, T_max=20)),
    ("onecycle", lambda s, opt: s.OneCycleLR(opt, max_lr=[0.02, 0.01], total_steps=STEPS, cycle_momentum=False)),
]


@pytest.mark.parametrize(("sched_name", "make_sched"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
@pytest.mark.parametrize("name", ["adamax", "nadam", "radam", "adadelta", "adam"])
def test_lr_schedulers_drive_them_as_torch(name, sched_name, make_sched):
    kw = {"amsgrad": True} if name == "adam" else {}
    tname = {"adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam", "adadelta": "Adadelta", "adam": "Adam"}[name]
    box = {}

    def make(p):
        box["opt"] = optim.get(name, groups(p, name), **kw)
        box["sched"] = make_sched(lr_scheduler, box["opt"])
        return box["opt"]

    ours = run_nnlab(name, kw, np.float64, make=make, on_step=lambda t: box["sched"].step())[2]
    theirs = run_torch(name, kw, tname, np.float64, scheduler=lambda torch, opt: make_sched(torch.optim.lr_scheduler, opt))
    assert_close(ours, theirs, np.float64)


def test_cycling_beta1_on_radam_and_adamax_matches_torch():
    # OneCycleLR's momentum cycle rewrites β₁ every step: the rescaled first moment must carry over
    make_sched = lambda s, opt: s.OneCycleLR(opt, max_lr=0.02, total_steps=STEPS)  # noqa: E731
    for name, tname in (("radam", "RAdam"), ("adamax", "Adamax")):
        box = {}

        def make(p):
            box["opt"] = optim.get(name, groups(p, name))
            box["sched"] = make_sched(lr_scheduler, box["opt"])
            return box["opt"]

        ours = run_nnlab(name, {}, np.float64, make=make, on_step=lambda t: box["sched"].step())[2]
        theirs = run_torch(name, {}, tname, np.float64, scheduler=lambda torch, opt: make_sched(torch.optim.lr_scheduler, opt))
        assert_close(ours, theirs, np.float64)


def test_torch_defaults_and_registry_names():
    p = [nnlab.tensor([1.0], requires_grad=True)]
    assert Adamax(p).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    assert NAdam(p).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                                     decoupled_weight_decay=False)
    assert RAdam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                     decoupled_weight_decay=False)
    assert Adadelta(p).defaults == dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0)
    assert Adam(p).defaults["amsgrad"] is False and AdamW(p, amsgrad=True).defaults["amsgrad"] is True
    for name, cls in (("adamax", Adamax), ("nadam", NAdam), ("radam", RAdam), ("adadelta", Adadelta)):
        assert name in optim.names() and name in optim.names(with_setting="lr")
        assert type(optim.get(name, p)) is cls
    assert optim.settings("adadelta") == ("lr", "rho", "eps", "weight_decay")
    assert "amsgrad" in optim.settings("adam") and "momentum_decay" in optim.settings("nadam")
    assert set(Adam(p, amsgrad=True).state_dict()["state"][0]) == {"step", "grad_sum", "sq_grad_sum", "max_sq_grad_sum"}
    assert set(Adam(p).state_dict()["state"][0]) == {"step", "grad_sum", "sq_grad_sum"}


def test_cli_config_accepts_the_new_names():
    from nnlab.cli.config import OptimizerConfig

    for name in ("adamax", "nadam", "radam", "adadelta"):
        assert OptimizerConfig(name=name).name == name
    with pytest.raises(ValueError, match="adamax"):  # the error lists the choices
        OptimizerConfig(name="adamaxx")


def test_amsgrad_keeps_the_running_maximum():
    w = nnlab.tensor([0.0], requires_grad=True, dtype=np.float64)
    opt = Adam([w], lr=0.1, betas=(0.0, 0.5), eps=0.0, amsgrad=True)
    for g in (4.0, 1.0):
        w.grad = np.array([g])
        opt.step()
    v_max = opt.state_dict()["state"][0]["max_sq_grad_sum"] * (1 - 0.5)  # stored as v/(1 − β₂)
    v = opt.state_dict()["state"][0]["sq_grad_sum"] * (1 - 0.5)
    np.testing.assert_allclose(v, [0.5 * 0.5 * 16 + 0.5 * 1])  # 4.5
    np.testing.assert_allclose(v_max, [8.0])  # step 1's v = 0.5·16, larger


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radam_rectified_steps_use_adams_kernel_with_the_references_bits(dtype, monkeypatch):
    if not _fused.available():
        pytest.skip("numba is not installed: only the NumPy reference runs")

    def trajectory(jit):
        monkeypatch.setenv(_fused.JIT_ENV, jit)
        rng = np.random.default_rng(0)
        p = nnlab.tensor(rng.standard_normal(3000), requires_grad=True, dtype=dtype)
        opt = RAdam([p], lr=1e-2, betas=(0.9, 0.9), weight_decay=0.1)
        for _ in range(8):
            p.grad = (rng.standard_normal(3000) * 10.0 ** rng.integers(-6, 6, 3000)).astype(dtype)
            opt.step()
        return [p.data.copy()] + [b.copy() for b in opt._flats[0][0].state.values()]

    for a, b in zip(trajectory("0"), trajectory("1")):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def param():
    return [nnlab.tensor([1.0], requires_grad=True)]


@pytest.mark.parametrize(("make", "argument"), [
    (lambda: Adamax(param(), lr=-1.0), "lr"),
    (lambda: Adamax(param(), betas=(1.0, 0.9)), r"betas\[0\]"),
    (lambda: NAdam(param(), betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda: NAdam(param(), betas=0.9), "betas"),
    (lambda: NAdam(param(), momentum_decay=-1e-3), "momentum_decay"),
    (lambda: NAdam(param(), decoupled_weight_decay=1), "decoupled_weight_decay"),
    (lambda: RAdam(param(), eps=-1.0), "eps"),
    (lambda: RAdam(param(), weight_decay=float("nan")), "weight_decay"),
    (lambda: RAdam(param(), decoupled_weight_decay="yes"), "decoupled_weight_decay"),
    (lambda: Adadelta(param(), rho=1.0), "rho"),
    (lambda: Adadelta(param(), eps=-1e-6), "eps"),
    (lambda: Adam(param(), amsgrad="true"), "amsgrad"),
    (lambda: AdamW(param(), amsgrad=1), "amsgrad"),
    (lambda: Adam([{"params": param(), "amsgrad": True}]), "amsgrad"),  # one setting for all groups
    (lambda: optim.get("adadelta", param(), betas=(0.9, 0.99)), "betas"),
    (lambda: optim.get("nadamw", param()), "nadam"),  # the choices are listed
])
def test_argument_errors_name_the_argument(make, argument):
    with pytest.raises(ConfigError, match=argument):
        make()


def test_a_state_dict_with_another_amsgrad_is_refused():
    saved = Adam(param(), amsgrad=True).state_dict()
    with pytest.raises(ConfigError, match="amsgrad"):
        Adam(param()).load_state_dict(saved)
