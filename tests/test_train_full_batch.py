"""fit(batch_size=None): one batch of all the samples per step, the notes' batch gradient descent (issue 10)."""

import numpy as np
import pytest

from nnlab import nn
from nnlab.errors import ConfigError
from nnlab.losses import cross_entropy
from nnlab.optim import SGD
from nnlab.tensor import as_tensor
from nnlab.train import Callback, fit


class Batches(Callback):
    def __init__(self):
        self.sizes = []

    def on_batch_end(self, batch, logs=None):
        self.sizes.append(batch)


def test_batch_size_none_is_full_batch_gradient_descent():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    y = rng.integers(0, 2, 50)
    trained, manual = nn.Linear(3, 2, rng=0, dtype=np.float64), nn.Linear(3, 2, rng=0, dtype=np.float64)
    steps = Batches()
    history = fit(trained, cross_entropy, SGD(trained.parameters(), lr=0.5), (X, y), epochs=3, batch_size=None,
                  seed=0, callbacks=[steps], verbose=0)
    assert steps.sizes == [0, 0, 0]  # one step per epoch
    assert len(history.history["loss"]) == 3
    opt = SGD(manual.parameters(), lr=0.5)
    for _ in range(3):  # gradient descent on the whole set, written out
        opt.zero_grad()
        cross_entropy(manual(as_tensor(X)), y).backward()
        opt.step()
    for a, b in zip(trained.parameters(), manual.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)  # the same sum in a shuffled order
    assert not np.allclose(manual.weight.data, nn.Linear(3, 2, rng=0, dtype=np.float64).weight.data)


def test_other_batch_sizes_are_still_checked():
    model = nn.Linear(3, 2, rng=0)
    with pytest.raises(ConfigError, match="batch_size"):
        fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (np.zeros((4, 3)), np.zeros(4, int)),
            batch_size=0, verbose=0)
