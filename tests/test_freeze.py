"""Freezing: Module.requires_grad_/freeze/unfreeze, and every optimizer skips frozen parameters (no decay)."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError
from nnlab.optim import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, LineSearch, NAdam, RAdam, RMSProp

OPTIMIZERS = {
    "sgd": lambda p: SGD(p, lr=0.1, weight_decay=0.1),
    "momentum": lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    "adagrad": lambda p: Adagrad(p, lr=0.05, weight_decay=0.1),
    "rmsprop": lambda p: RMSProp(p, lr=0.01, weight_decay=0.1),
    "adam": lambda p: Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: AdamW(p, lr=0.01, weight_decay=0.1),
    "line_search": lambda p: LineSearch(p, weight_decay=0.1),
    "amsgrad": lambda p: Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "adamax": lambda p: Adamax(p, lr=0.01, weight_decay=0.1),
    "nadam": lambda p: NAdam(p, lr=0.01, weight_decay=0.1),
    "radam": lambda p: RAdam(p, lr=0.01, weight_decay=0.1),
    "adadelta": lambda p: Adadelta(p, weight_decay=0.1),
}
X = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)


def _model():
    return nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1))


def _steps(model, opt, n):
    for _ in range(n):
        def closure():
            out = model(nnlab.tensor(X))
            return (out * out).mean()
        opt.zero_grad()
        closure().backward()
        opt.step(closure) if opt.requires_closure else opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_frozen_layer_is_not_updated_nor_decayed_by_any_optimizer(name):
    model = _model()
    opt = OPTIMIZERS[name](model.parameters())
    _steps(model, opt, 2)  # the frozen layer had gradients (and state) before it was frozen
    model[0].freeze()
    frozen = {k: v.copy() for k, v in model[0].state_dict().items()}
    state = opt.state_dict()["state"]
    before_head = model[2].weight.data.copy()
    _steps(model, opt, 3)
    for key, value in model[0].state_dict().items():
        np.testing.assert_array_equal(value, frozen[key])
    assert not np.array_equal(model[2].weight.data, before_head)  # the rest still learns
    after = opt.state_dict()["state"]
    assert after[0]["step"] == state[0]["step"]  # parameter 0 is model[0].weight
    model[0].unfreeze()
    _steps(model, opt, 1)
    assert not np.array_equal(model[0].weight.data, frozen["weight"])


def test_optimizer_built_on_a_frozen_model_skips_it_until_unfrozen():
    model = _model().freeze()
    assert all(not p.requires_grad for p in model.parameters())
    opt = SGD(model.parameters(), lr=0.1, weight_decay=0.5)
    out = model(nnlab.tensor(X))
    assert not out.requires_grad  # nothing to differentiate: no graph is built
    model[2].unfreeze()
    w = model[0].weight.data.copy()
    _steps(model, opt, 2)
    np.testing.assert_array_equal(model[0].weight.data, w)
    assert model[0].weight.grad is None


def test_requires_grad_checks_its_argument_and_plain_tensors_still_must_require_grad():
    with pytest.raises(ConfigError, match="requires_grad_ takes a bool"):
        _model().requires_grad_(0)
    with pytest.raises(ConfigError, match="requires_grad=True"):
        SGD([nnlab.tensor([1.0])], lr=0.1)
