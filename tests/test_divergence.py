"""DivergenceGuard: a finite but exploding loss stops training with the last good epoch's weights."""

import numpy as np

import nnlab
from nnlab import datasets, nn, optim
from nnlab.train import Callback, DivergenceGuard, fit


class _Keep(Callback):
    def __init__(self):
        self.states = []

    def on_epoch_end(self, epoch, logs=None):
        self.states.append(self.model.state_dict())


def test_exploding_loss_is_stopped_and_the_last_good_weights_kept():
    nnlab.seed(0)
    X, y = datasets.load("moons", n=100, noise=0.2, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    guard, keep = DivergenceGuard(factor=10, patience=2), _Keep()
    initial = model.state_dict()
    history = fit(model, nnlab.losses.cross_entropy, optim.Adam(model.parameters(), lr=1e6), (X, y),
                  epochs=30, batch_size=10, verbose=0, callbacks=[keep], divergence=guard)
    assert guard.stop_training and "training diverged" in history.stop_reason
    assert len(history.epoch) < 30
    good = initial if guard.good_epoch is None else keep.states[guard.good_epoch]
    for k, v in model.state_dict().items():
        assert np.array_equal(v, good[k])
    assert ("initial weights were restored" if guard.good_epoch is None else
            f"epoch {guard.good_epoch + 1}, the last good one") in history.stop_reason


def test_a_healthy_run_is_not_stopped():
    nnlab.seed(0)
    X, y = datasets.load("moons", n=100, noise=0.2, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    history = fit(model, nnlab.losses.cross_entropy, optim.Adam(model.parameters(), lr=0.01), (X, y),
                  epochs=5, batch_size=10, verbose=0)
    assert history.stop_reason is None and len(history.epoch) == 5
