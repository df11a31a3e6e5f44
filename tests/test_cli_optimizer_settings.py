"""Every optimizer's constructor setting can be written in a config's [optimizer] table, and reaches the optimizer."""

import inspect
import tomllib

import numpy as np
import pytest

from nnlab import nn, optim
from nnlab.cli.build import build_optimizer
from nnlab.cli.config import OptimizerConfig, parse_config
from nnlab.errors import ConfigError


def _optimizer(text):
    return build_optimizer(parse_config(tomllib.loads(text)), nn.Sequential(nn.Linear(3, 2)))


@pytest.mark.parametrize("name", optim.names())
def test_every_setting_of_every_optimizer_is_a_config_key(name):
    missing = [key for key in optim.settings(name) if key not in OptimizerConfig.model_fields]
    assert not missing, f"optimizer {name!r} takes {missing}, which [optimizer] cannot set"


@pytest.mark.parametrize("name, key", [
    ("adadelta", "rho"), ("nadam", "momentum_decay"), ("adam", "amsgrad"), ("nadam", "decoupled_weight_decay")])
def test_a_config_that_leaves_a_setting_out_builds_the_class_default(name, key):
    default = inspect.signature(optim.registry._class(name)).parameters[key].default
    assert _optimizer(f'[optimizer]\nname = "{name}"\n').param_groups[0][key] == default


@pytest.mark.parametrize("text, key, value", [
    ('name = "adadelta"\nrho = 0.5', "rho", 0.5),
    ('name = "nadam"\nmomentum_decay = 0.01', "momentum_decay", 0.01),
    ('name = "nadam"\ndecoupled_weight_decay = true', "decoupled_weight_decay", True),
    ('name = "radam"\ndecoupled_weight_decay = true', "decoupled_weight_decay", True),
    ('name = "adam"\namsgrad = true', "amsgrad", True),
    ('name = "adamw"\namsgrad = true', "amsgrad", True),
])
def test_the_setting_reaches_every_parameter_group(text, key, value):
    opt = _optimizer(f"[optimizer]\n{text}\n")
    assert [group[key] for group in opt.param_groups] == [value] * len(opt.param_groups)


def test_amsgrad_from_the_config_steps_as_the_class_does():
    def run(opt_of):
        model = nn.Sequential(nn.Linear(3, 2))
        for p in model.parameters():
            p.data[...] = np.linspace(-1, 1, p.data.size, dtype=p.data.dtype).reshape(p.data.shape)
        opt = opt_of(model)
        for step in range(5):  # shrinking gradients with β2 = 0.5: v falls, and amsgrad keeps its running maximum
            for p in model.parameters():
                p.grad = np.full_like(p.data, 1.0 / (1 + step) ** 2)
            opt.step()
        return [p.data.copy() for p in model.parameters()]

    config = parse_config(tomllib.loads('[optimizer]\nname = "adam"\nlr = 0.1\nbetas = [0.9, 0.5]\namsgrad = true\n'))
    from_config = run(lambda m: build_optimizer(config, m))
    by_hand = run(lambda m: optim.Adam(m.parameters(), lr=0.1, betas=(0.9, 0.5), amsgrad=True))
    plain = run(lambda m: optim.Adam(m.parameters(), lr=0.1, betas=(0.9, 0.5)))
    for a, b in zip(from_config, by_hand):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(from_config, plain))


@pytest.mark.parametrize("text, message", [
    ('name = "sgd"\namsgrad = true', "optimizer.amsgrad = True has no effect with optimizer.name = 'sgd'"),
    ('name = "adam"\nrho = 0.5', "optimizer.rho = 0.5 has no effect with optimizer.name = 'adam'"),
    ('name = "adadelta"\nmomentum_decay = 0.01', "optimizer.momentum_decay = 0.01 has no effect"),
    ('name = "adadelta"\nrho = 1.5', "rho"),
    ('name = "nadam"\nmomentum_decay = -0.1', "momentum_decay"),
])
def test_a_setting_the_optimizer_ignores_or_a_value_out_of_range_is_refused(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_config(tomllib.loads(f"[optimizer]\n{text}\n"))
