"""The seeds' learning-rate search: coarse log grid, then b/2, 2b, 3b around the best."""

import math

import numpy as np
import pytest

from nnlab import nn
from nnlab.errors import ConfigError
from nnlab.losses import cross_entropy, mse_loss
from nnlab.optim import SGD
from nnlab.train import LRSearchResult, lr_search


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], dtype=np.float32)
    return (centres[y] + rng.normal(scale=0.8, size=(n, 2))).astype(np.float32), y


def test_coarse_then_fine_trials_and_a_sensible_winner():
    train, val = blobs(240, 0), blobs(120, 1)
    initial = []

    def build():
        model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))
        initial.append(model.state_dict()["0.weight"].copy())
        return model

    seen = []
    result = lr_search(build, train, val, cross_entropy, optimizer="sgd", epochs=2, batch_size=16,
                       on_trial=seen.append)
    assert isinstance(result, LRSearchResult)
    assert [t.lr for t in result.coarse] == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    b = max(result.coarse, key=lambda t: -t.val_loss).lr
    assert [t.lr for t in result.fine] == [b / 2, 2 * b, 3 * b]
    assert list(result.trials) == seen and len(result.trials) == 8
    finite = [t for t in result.trials if math.isfinite(t.val_loss)]
    assert result.best_val_loss == min(t.val_loss for t in finite)
    assert result.best_lr == next(t.lr for t in finite if t.val_loss == result.best_val_loss)
    # Two epochs at 1e-4 barely move the weights; the winner is a real learning rate.
    assert result.best_lr >= 0.05
    assert result.best_val_loss < result.coarse[0].val_loss / 2
    # build() was called once per trial and gave the same starting weights each time.
    assert len(initial) == 8 and all(np.array_equal(w, initial[0]) for w in initial)
    assert "<- best" in result.table()
    # The search is reproducible.
    again = lr_search(build, train, val, cross_entropy, epochs=2, batch_size=16, refine=False)
    assert again.trials == result.coarse


def test_diverging_rates_lose_and_the_seeds_example_refines_around_0_1():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 3)).astype(np.float32) * 3
    y = X @ np.array([[1.0], [-1.0], [0.5]], dtype=np.float32)
    def build():
        return nn.Linear(3, 1)

    result = lr_search(build, (X[:96], y[:96]), (X[96:], y[96:]), mse_loss, epochs=2, batch_size=8,
                       coarse=(1e-3, 1e-2, 1e-1, 1.0), factors=(0.5, 2.0, 3.0),
                       optimizer=lambda params, lr: SGD(params, lr=lr))
    by_lr = {t.lr: t.val_loss for t in result.trials}
    assert math.isnan(by_lr[1.0])  # mean(x^2) = 9: lr 1 diverges, and ranks last
    assert result.best_lr != 1.0 and math.isfinite(result.best_val_loss)
    assert result.best_lr in (0.01, 0.005, 0.02, 0.03)
    assert [t.stage for t in result.trials] == ["coarse"] * 4 + ["fine"] * 3


def test_fine_rates_are_rounded_and_not_repeated():
    calls = []

    def factory(params, lr):
        calls.append(lr)
        return SGD(params, lr=lr)

    X, y = blobs(48, 0)
    result = lr_search(lambda: nn.Linear(2, 3), (X, y), (X, y), cross_entropy, optimizer=factory,
                       coarse=(0.1, 0.2), epochs=1, batch_size=48, factors=(0.5, 2.0, 3.0))
    # Around 0.1 the seeds' 0.05, 0.2, 0.3 (0.2 was already tried); around 0.2: 0.1 (tried), 0.4, 0.6.
    assert calls[:2] == [0.1, 0.2]
    assert len(calls) == len(set(calls)) == 4
    assert set(calls[2:]) in ({0.05, 0.3}, {0.4, 0.6})
    assert result.best_lr in calls


def test_bad_arguments():
    X, y = blobs(20, 0)

    def build():
        return nn.Linear(2, 3)

    with pytest.raises(ConfigError, match="unknown optimizer 'sgdd'.*adam"):
        lr_search(build, (X, y), (X, y), cross_entropy, optimizer="sgdd")
    with pytest.raises(ConfigError, match="val_data"):
        lr_search(build, (X, y), None, cross_entropy)
    with pytest.raises(ConfigError, match="coarse"):
        lr_search(build, (X, y), (X, y), cross_entropy, coarse=(0.1, -1.0))
    with pytest.raises(ConfigError, match="pass either a loss or setup .* not neither"):
        lr_search(build, (X, y), (X, y), None)
    with pytest.raises(ConfigError, match="not both"):
        lr_search(build, (X, y), (X, y), cross_entropy, setup=lambda model: (cross_entropy, [], None))


@pytest.mark.parametrize("kwargs, message", [
    (dict(factors=(0.5, -2.0)), r"lr_search: factors\[1\] must be a finite number > 0, got -2.0"),
    (dict(factors=(0.0,)), r"factors\[0\] must be a finite number > 0, got 0.0"),
    (dict(factors=(math.nan,)), r"factors\[0\] must be a finite number > 0, got nan"),
    (dict(factors=0.5), r"factors must be a list of numbers > 0, got 0.5"),
    (dict(coarse=0.1), r"coarse must be a list of numbers > 0, got 0.1"),
    (dict(coarse="0.1"), r"coarse must be a list of numbers > 0, got '0.1'"),
])
def test_bad_rates_and_factors_are_refused_before_any_trial_trains(kwargs, message):
    X, y = blobs(20, 0)
    built = []

    def build():
        built.append(1)
        return nn.Linear(2, 3)

    with pytest.raises(ConfigError, match=message):
        lr_search(build, (X, y), (X, y), cross_entropy, epochs=1, **kwargs)
    assert built == []  # not after the coarse grid has trained
