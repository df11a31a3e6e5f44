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
