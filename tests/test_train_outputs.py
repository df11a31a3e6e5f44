"""fit, evaluate and predict with models whose forward returns something other than one Tensor."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.train import evaluate, fit, predict


class Pair(nn.Module):
    """Returns (logits, hidden): a loss that also penalizes the hidden code unpacks both."""

    def __init__(self):
        super().__init__()
        self.encode, self.classify = nn.Linear(4, 3), nn.Linear(3, 2)

    def forward(self, x):
        hidden = self.encode(x)
        return self.classify(hidden), hidden


def pair_loss(output, y):
    logits, hidden = output
    return nnlab.losses.cross_entropy(logits, y) + 0.01 * (hidden * hidden).mean()


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def test_a_model_returning_a_tuple_trains_on_arrays_without_metrics():
    nnlab.seed(0)
    model, (X, y) = Pair(), data()
    history = fit(model, pair_loss, nnlab.optim.SGD(model.parameters(), lr=0.5), (X, y), val_data=(X, y),
                  epochs=5, metrics=(), verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert evaluate(model, pair_loss, (X, y), metrics=())["loss"] == pytest.approx(history.history["val_loss"][-1])


def test_metrics_on_a_tuple_output_name_the_problem():
    model, (X, y) = Pair(), data()
    with pytest.raises(nnlab.ConfigError, match="the model returns tuple: pass metrics=()"):
        fit(model, pair_loss, nnlab.optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1, verbose=0)
    with pytest.raises(nnlab.ConfigError, match="the model returns tuple"):
        evaluate(model, pair_loss, (X, y), metrics=(), confusion=True)
    with pytest.raises(nnlab.ConfigError, match="predict needs a model that returns a Tensor .* got tuple"):
        predict(model, X)
