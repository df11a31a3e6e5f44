"""The seeds' claims about the update rules, shown on 2-D surfaces."""

import numpy as np
import pytest

import nnlab
from nnlab.optim import SGD, Adagrad, RMSProp


def point(*values):
    return nnlab.tensor(values, requires_grad=True, dtype=np.float64)


def elongated_bowl(w):
    # curvature 1 along x, 50 along y: the lr is limited by y, progress along x is slow
    return 0.5 * (w[0] * w[0] + 50.0 * w[1] * w[1])


def steps_until(opt, w, loss_fn, done, limit=20_000):
    for step in range(1, limit + 1):
        opt.zero_grad()
        loss_fn(w).backward()
        opt.step()
        if done(w):
            return step
    return limit + 1


def bowl_steps(**sgd_kwargs):
    w = point(1.0, 1.0)
    opt = SGD([w], lr=0.02, **sgd_kwargs)
    return steps_until(opt, w, elongated_bowl, lambda w: elongated_bowl(w).item() < 1e-6)


def test_momentum_and_nesterov_reach_the_bowl_bottom_in_fewer_steps():
    plain = bowl_steps()
    momentum = bowl_steps(momentum=0.9)
    nesterov = bowl_steps(momentum=0.9, nesterov=True)
    assert plain < 20_000  # plain GD does get there, slowly
    assert momentum < plain / 2
    assert nesterov < plain / 2


def gentle_plateau(w):
    # a long, almost flat slope along x (gradient −0.02), a steep valley across y
    return 0.02 * (10.0 - w[0]) + 0.5 * w[1] * w[1]


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_momentum_crosses_a_gentle_plateau_in_fewer_steps(momentum):
    def crossing(**kwargs):
        w = point(0.0, 0.5)
        return steps_until(SGD([w], lr=0.1, **kwargs), w, gentle_plateau, lambda w: w.data[0] >= 10.0)

    plain, with_momentum = crossing(), crossing(momentum=momentum)
    assert with_momentum < plain
    assert with_momentum < plain * (1 - momentum) * 1.5  # the update grows towards η∇/(1 − γ)


def effective_steps(opt_cls, steps=300, **kwargs):
    """|Δw| per step on a coordinate whose gradient is always 1."""
    w = point(0.0)
    opt = opt_cls([w], lr=0.01, **kwargs)
    sizes = []
    for _ in range(steps):
        before = w.data.copy()
        opt.zero_grad()
        w.sum().backward()
        opt.step()
        sizes.append(abs(w.data[0] - before[0]))
    return np.array(sizes)


def test_adagrad_step_shrinks_while_rmsprop_levels_off():
    adagrad = effective_steps(Adagrad)
    rmsprop = effective_steps(RMSProp, beta=0.9)
    assert np.all(np.diff(adagrad) < 0)  # monotonically shrinking
    assert adagrad[-1] < 0.95 * adagrad[-50]  # ... and still shrinking at the end (like 1/√t)
    np.testing.assert_allclose(adagrad[-1], 0.01 / np.sqrt(300), rtol=1e-6)
    assert np.ptp(rmsprop[-100:]) < 1e-6 * rmsprop[-1]  # levelled off
    np.testing.assert_allclose(rmsprop[-1], 0.01, rtol=1e-6)  # at η: v → (∇w)²
    assert rmsprop[-1] > 10 * adagrad[-1]
