"""fit() drives LineSearch through a closure, and each of its steps never raises the batch loss."""

import numpy as np

import nnlab
from nnlab import losses, nn, optim
from nnlab.train import fit


def test_fit_with_line_search_lowers_the_loss():
    X, y = nnlab.datasets.moons(n=200, noise=0.1, seed=0)
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.LineSearch(model.parameters(), candidates=(0.0, 0.01, 0.1, 1.0))
    history = fit(model, losses.cross_entropy, opt, (X, y), epochs=5, batch_size=200, verbose=0, seed=0)
    # Full-batch steps that each keep the best candidate (0.0 included): the loss never rises.
    assert all(b <= a + 1e-6 for a, b in zip(history["loss"], history["loss"][1:]))
    assert history["loss"][-1] < history["loss"][0]
    assert np.isfinite(history["loss"]).all()


def test_an_epoch_whose_last_step_kept_no_candidate_logs_lr_nan_instead_of_crashing():
    # every candidate's loss NaN: LineSearch stays put and has no rate (lr None); fit used to raise a TypeError
    X, y = nnlab.datasets.moons(n=64, noise=0.1, seed=0)
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    start = [p.data.copy() for p in model.parameters()]
    opt = optim.LineSearch(model.parameters(), candidates=(0.1,))
    nan_loss = lambda output, target: losses.cross_entropy(output, target) * float("nan")  # noqa: E731
    calls = []

    def loss(output, target):  # the batch loss is finite, every candidate's (under no_grad) is NaN
        calls.append(nnlab.is_grad_enabled())
        return losses.cross_entropy(output, target) if calls[-1] else nan_loss(output, target)

    history = fit(model, loss, opt, (X, y), (X, y), epochs=2, batch_size=32, verbose=0, seed=0)
    assert np.isnan(history["lr"]).all() and len(history["lr"]) == 2
    assert np.isfinite(history["loss"]).all()
    for before, p in zip(start, model.parameters()):
        np.testing.assert_array_equal(before, p.data)  # no candidate kept: the weights never moved
