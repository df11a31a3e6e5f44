"""Optimizers against torch.optim where the formulas agree, against the seeds' equations where they do not.

One small float64 MLP (tanh hidden layer, MSE loss, a different mini-batch every step)
drives every trajectory: nnlab through its engine and optimizer, torch through torch.optim,
the seeds' equations through plain NumPy updates with gradients from the engine.
"""

import numpy as np
import pytest

import nnlab
from nnlab.functional import tanh
from nnlab.optim import SGD, Adagrad, Adam, AdamW, RMSProp

STEPS = 40
RTOL = 1e-9

_rng = np.random.default_rng(1234)
X = _rng.standard_normal((64, 5))
Y = _rng.standard_normal((64, 3))
INIT = [_rng.standard_normal((5, 8)) * 0.5, _rng.standard_normal(8) * 0.1,
        _rng.standard_normal((8, 3)) * 0.5, _rng.standard_normal(3) * 0.1]
EXTRA = _rng.standard_normal(3) * 0.1  # a bias the loss reaches only on even steps


def batch(t):
    rows = np.arange(16 * t, 16 * t + 16) % len(X)
    return X[rows], Y[rows]


def nnlab_loss(params, t, extra=None):
    x, y = batch(t)
    W1, b1, W2, b2 = params
    out = tanh(nnlab.tensor(x, dtype=np.float64) @ W1 + b1) @ W2 + b2
    if extra is not None and t % 2 == 0:
        out = out + extra
    return ((out - nnlab.tensor(y, dtype=np.float64)) ** 2).mean()


def torch_loss(torch, params, t, extra=None):
    x, y = (torch.tensor(a) for a in batch(t))
    W1, b1, W2, b2 = params
    out = torch.tanh(x @ W1 + b1) @ W2 + b2
    if extra is not None and t % 2 == 0:
        out = out + extra
    return ((out - y) ** 2).mean()


def leaves(arrays):
    return [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]


def run_nnlab(make_opt, steps=STEPS, with_extra=False, set_to_none=False, on_step=None):
    params = leaves(INIT)
    extra = leaves([EXTRA])[0] if with_extra else None
    opt = make_opt(params + ([extra] if with_extra else []))
    trajectory = []
    for t in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        nnlab_loss(params, t, extra).backward()
        opt.step()
        if on_step:
            on_step(t, opt)
        trajectory.append(np.concatenate([p.data.ravel() for p in params + ([extra] if with_extra else [])]))
    return np.array(trajectory)


def run_torch(make_opt, steps=STEPS, with_extra=False, set_to_none=False, on_step=None):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a, requires_grad=True) for a in INIT]
    extra = torch.tensor(EXTRA, requires_grad=True) if with_extra else None
    opt = make_opt(torch, params + ([extra] if with_extra else []))
    trajectory = []
    for t in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        torch_loss(torch, params, t, extra).backward()
        opt.step()
        if on_step:
            on_step(t, opt)
        trajectory.append(np.concatenate([p.detach().numpy().ravel() for p in params + ([extra] if with_extra else [])]))
    return np.array(trajectory)


def assert_same_trajectory(ours, theirs, rtol=RTOL):
    assert ours.shape == theirs.shape
    for t, (a, b) in enumerate(zip(ours, theirs)):
        err = np.linalg.norm(a - b) / np.linalg.norm(b)
        assert err <= rtol, f"step {t}: relative difference {err:.3g}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=f"step {t}")


def groups_nnlab(p):
    return [{"params": [p[0], p[2]], "lr": 0.05, "weight_decay": 0.01}, {"params": [p[1], p[3]]}]


def groups_torch(p):
    return [{"params": [p[0], p[2]], "lr": 0.05, "weight_decay": 0.01}, {"params": [p[1], p[3]]}]


# (name, nnlab optimizer factory, torch optimizer factory)
AGREEING = [
    ("sgd", lambda p: SGD(p, lr=0.1), lambda torch, p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", lambda p: SGD(p, lr=0.05, momentum=0.9),
     lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd_weight_decay", lambda p: SGD(p, lr=0.1, weight_decay=0.05),
     lambda torch, p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05)),
    ("sgd_momentum_weight_decay", lambda p: SGD(p, lr=0.05, momentum=0.8, weight_decay=0.05),
     lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0.05)),
    # Both store the look-ahead point as the parameters: no change of variables needed.
    ("nesterov", lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
     lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", lambda p: Adam(p, lr=0.01), lambda torch, p: torch.optim.Adam(p, lr=0.01)),
    ("adam_betas_eps", lambda p: Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-3),
     lambda torch, p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-3)),
    ("adam_l2", lambda p: Adam(p, lr=0.01, weight_decay=0.1),
     lambda torch, p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    ("adamw", lambda p: AdamW(p, lr=0.01, weight_decay=0.5),
     lambda torch, p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.5)),
    ("adamw_default_decay", lambda p: AdamW(p, lr=0.01), lambda torch, p: torch.optim.AdamW(p, lr=0.01)),
    ("sgd_groups", lambda p: SGD(groups_nnlab(p), lr=0.1, momentum=0.9),
     lambda torch, p: torch.optim.SGD(groups_torch(p), lr=0.1, momentum=0.9)),
    ("adam_groups", lambda p: Adam(groups_nnlab(p), lr=0.01),
     lambda torch, p: torch.optim.Adam(groups_torch(p), lr=0.01)),
]


@pytest.mark.parametrize("name, ours, theirs", AGREEING, ids=[case[0] for case in AGREEING])
def test_matches_torch(name, ours, theirs):
    assert_same_trajectory(run_nnlab(ours), run_torch(theirs))


@pytest.mark.parametrize("set_to_none", [True, False], ids=["grad_none_skips", "zeroed_grad_steps"])
@pytest.mark.parametrize("name, ours, theirs", [AGREEING[2], AGREEING[4], AGREEING[7], AGREEING[8]],
                         ids=["sgd_weight_decay", "nesterov", "adam_l2", "adamw"])
def test_parameter_unused_on_some_steps_matches_torch(name, ours, theirs, set_to_none):
    # With set_to_none the extra bias has no gradient on odd steps: it is skipped (value, state and
    # Adam's step count frozen) as in torch; with zeroed gradients it takes a zero-gradient step.
    kwargs = dict(with_extra=True, set_to_none=set_to_none)
    ours_t, theirs_t = run_nnlab(ours, **kwargs), run_torch(theirs, **kwargs)
    assert_same_trajectory(ours_t, theirs_t)
    extra = ours_t[:, -3:]
    frozen = np.array_equal(extra[0], extra[1])  # step 1 (odd) leaves it alone only when skipped
    assert frozen == set_to_none


def test_momentum_set_mid_run_like_a_schedule_matches_torch():
    # A momentum schedule sets group["momentum"]; with a constant lr the seeds' form and torch agree.
    def change(t, opt):
        if t == 19:
            for group in opt.param_groups:
                group["momentum"] = 0.95

    ours = run_nnlab(lambda p: SGD(groups_nnlab(p), lr=0.1, momentum=0.5), on_step=change)
    theirs = run_torch(lambda torch, p: torch.optim.SGD(groups_torch(p), lr=0.1, momentum=0.5), on_step=change)
    assert_same_trajectory(ours, theirs)
    unchanged = run_nnlab(lambda p: SGD(groups_nnlab(p), lr=0.1, momentum=0.5))
    assert not np.allclose(ours[-1], unchanged[-1], rtol=1e-6)


# ---------------------------------------------------------------- the seeds' equations in NumPy
def grads_at(arrays, t):
    params = leaves(arrays)
    nnlab_loss(params, t).backward()
    return [p.grad for p in params]


def seed_trajectory(update, steps=STEPS, report=None):
    """Run ``update(t, w, g, state) -> w`` on NumPy arrays; ``report`` picks what is compared each step."""
    w = [a.copy() for a in INIT]
    state = {}
    trajectory = []
    for t in range(steps):
        w = update(t, w, state)
        shown = report(w, state) if report else w
        trajectory.append(np.concatenate([a.ravel() for a in shown]))
    return np.array(trajectory)


def lr_at(t):
    return 0.05 if t < 20 else 0.01


def set_lr_mid_run(t, opt):
    if t == 19:
        opt.lr = lr_at(20)


def test_seed_momentum_with_lr_changed_mid_run():
    gamma = 0.9

    def update(t, w, state):
        g = grads_at(w, t)
        u = state.setdefault("u", [np.zeros_like(a) for a in w])
        for k in range(len(w)):
            u[k] = gamma * u[k] + lr_at(t) * g[k]  # update_t = γ·update_{t−1} + η∇w_t
        return [a - b for a, b in zip(w, u)]  # w_{t+1} = w_t − update_t

    ours = run_nnlab(lambda p: SGD(p, lr=lr_at(0), momentum=gamma), on_step=set_lr_mid_run)
    assert_same_trajectory(ours, seed_trajectory(update))
    # PyTorch rescales the accumulated velocity by the new lr: the documented difference.
    theirs = run_torch(lambda torch, p: torch.optim.SGD(p, lr=lr_at(0), momentum=gamma),
                       on_step=lambda t, opt: t == 19 and [g.update(lr=lr_at(20)) for g in opt.param_groups])
    assert_same_trajectory(ours[:20], theirs[:20])
    assert np.linalg.norm(ours[-1] - theirs[-1]) > 1e-4 * np.linalg.norm(theirs[-1])


def test_seed_nesterov_look_ahead():
    gamma = 0.9

    def update(t, w, state):
        u = state.setdefault("u", [np.zeros_like(a) for a in w])
        look_ahead = [a - gamma * b for a, b in zip(w, u)]  # w_look = w_t − γ·update_{t−1}
        g = grads_at(look_ahead, t)
        for k in range(len(w)):
            u[k] = gamma * u[k] + lr_at(t) * g[k]
        return [a - b for a, b in zip(w, u)]

    # nnlab's parameters hold the look-ahead point: w_{t+1} − γ·update_t after step t.
    def next_look_ahead(w, state):
        return [a - gamma * b for a, b in zip(w, state["u"])]

    ours = run_nnlab(lambda p: SGD(p, lr=lr_at(0), momentum=gamma, nesterov=True), on_step=set_lr_mid_run)
    assert_same_trajectory(ours, seed_trajectory(update, report=next_look_ahead))


def adaptive_update(beta, eps, eps_inside=True):
    """Adagrad (beta None) or RMSProp in the seeds' form."""
    def update(t, w, state):
        g = grads_at(w, t)
        v = state.setdefault("v", [np.zeros_like(a) for a in w])
        out = []
        for k in range(len(w)):
            v[k] = v[k] + g[k] ** 2 if beta is None else beta * v[k] + (1 - beta) * g[k] ** 2
            denom = np.sqrt(v[k] + eps) if eps_inside else np.sqrt(v[k]) + eps
            out.append(w[k] - 0.05 / denom * g[k])  # w − η/√(v_t + ε)·∇w
        return out
    return update


@pytest.mark.parametrize("name, make, beta", [
    ("adagrad", lambda p: Adagrad(p, lr=0.05, eps=1e-3), None),
    ("rmsprop", lambda p: RMSProp(p, lr=0.05, beta=0.9, eps=1e-3), 0.9),
])
def test_seed_adaptive_rules_with_eps_inside_the_root(name, make, beta):
    ours = run_nnlab(make)
    assert_same_trajectory(ours, seed_trajectory(adaptive_update(beta, 1e-3)))
    # ε = 1e-3 is large enough that its placement matters: ε outside would be a different run.
    outside = seed_trajectory(adaptive_update(beta, 1e-3, eps_inside=False))
    assert np.linalg.norm(ours[-1] - outside[-1]) > 1e-6 * np.linalg.norm(outside[-1])


def test_seed_adam_equations():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01

    def update(t, w, state):
        g = grads_at(w, t)
        m = state.setdefault("m", [np.zeros_like(a) for a in w])
        v = state.setdefault("v", [np.zeros_like(a) for a in w])
        out = []
        for k in range(len(w)):
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            m_hat, v_hat = m[k] / (1 - b1 ** (t + 1)), v[k] / (1 - b2 ** (t + 1))
            out.append(w[k] - lr / (np.sqrt(v_hat) + eps) * m_hat)
        return out

    assert_same_trajectory(run_nnlab(lambda p: Adam(p, lr=lr)), seed_trajectory(update))


def set_betas_mid_run(key, value):
    def change(t, opt):
        if t == 19:
            for group in opt.param_groups:
                group[key] = value
    return change


def test_adam_betas_changed_mid_run_matches_torch():
    # A one-cycle schedule moves β₁ between steps: the moments m, v carry over and the new β applies from then on.
    change = set_betas_mid_run("betas", (0.6, 0.9))
    ours = run_nnlab(lambda p: Adam(groups_nnlab(p), lr=0.01), on_step=change)
    theirs = run_torch(lambda torch, p: torch.optim.Adam(groups_torch(p), lr=0.01), on_step=change)
    assert_same_trajectory(ours, theirs)


def test_seed_rmsprop_with_beta_changed_mid_run():
    def update(t, w, state):
        beta = 0.9 if t < 20 else 0.5  # v_t = β·v_{t−1} + (1 − β)·∇², β as of step t
        g = grads_at(w, t)
        v = state.setdefault("v", [np.zeros_like(a) for a in w])
        out = []
        for k in range(len(w)):
            v[k] = beta * v[k] + (1 - beta) * g[k] ** 2
            out.append(w[k] - 0.05 / np.sqrt(v[k] + 1e-3) * g[k])
        return out

    ours = run_nnlab(lambda p: RMSProp(p, lr=0.05, beta=0.9, eps=1e-3), on_step=set_betas_mid_run("beta", 0.5))
    assert_same_trajectory(ours, seed_trajectory(update))


def test_state_dict_after_a_beta_change_resumes_the_same_run():
    # β changed, then saved before the next step: the loaded optimizer must continue as the original does.
    def make(params):
        return Adam(params, lr=0.01)

    params = leaves(INIT)
    opt = make(params)
    for t in range(5):
        opt.zero_grad()
        nnlab_loss(params, t).backward()
        opt.step()
    opt.param_groups[0]["betas"] = (0.7, 0.95)
    copy = leaves([p.data for p in params])
    restored = make(copy)
    restored.load_state_dict(opt.state_dict())
    for t in range(5, 10):
        for ps, o in ((params, opt), (copy, restored)):
            o.zero_grad()
            nnlab_loss(ps, t).backward()
            o.step()
    for a, b in zip(params, copy):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_beta_of_one_set_mid_run_is_refused():
    params = leaves(INIT)
    opt = RMSProp(params, lr=0.01)
    nnlab_loss(params, 0).backward()
    opt.step()
    opt.param_groups[0]["beta"] = 1.0
    with pytest.raises(nnlab.ConfigError, match=r"RMSProp: beta must be .* < 1, got 1\.0"):
        opt.step()
