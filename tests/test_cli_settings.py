"""CLI access to every initializer, every activation argument and the activity (sparsity) penalties."""

import tomllib

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.cli.build import build_loss, build_model
from nnlab.cli.config import parse_config
from nnlab.errors import ConfigError
from nnlab.train import fit

FACTORY_TABLES = {"constant": "{ name = 'constant', value = 0.01 }", "normal": "{ name = 'normal', std = 0.01 }",
                  "uniform": "{ name = 'uniform', low = -0.05, high = 0.05 }"}


def _model(text, features=3, classes=2):
    return build_model(parse_config(tomllib.loads(text)), features, classes)


@pytest.mark.parametrize("name", nn.init.names())
def test_every_initializer_can_be_named_in_toml(name):
    value = FACTORY_TABLES.get(name, repr(name))
    model = _model(f"[model]\nhidden = [5]\nweight_init = {value}\nbias_init = {value}\n")
    nnlab.seed(3)
    expected = nn.init.get(tomllib.loads(f"x = {value}")["x"])((3, 5))
    nnlab.seed(3)
    model = _model(f"[model]\nhidden = [5]\nweight_init = {value}\n")
    np.testing.assert_array_equal(model[0].weight.data, expected)


@pytest.mark.parametrize("activation, args, attribute, value", [
    ("softplus", "{ beta = 2.0 }", "beta", 2.0),
    ("hardtanh", "{ min_val = -2.0, max_val = 3.0 }", "max_val", 3.0),
    ("celu", "{ alpha = 0.5 }", "alpha", 0.5),
    ("gelu", "{ approximate = 'tanh' }", "approximate", "tanh"),
    ("leaky_relu", "{ alpha = 0.2 }", "alpha", 0.2),
    ("elu", "{ alpha = 0.7 }", "alpha", 0.7),
])
def test_activation_arguments_from_toml(activation, args, attribute, value):
    model = _model(f'[model]\nhidden = [4]\nactivation = "{activation}"\nactivation_args = {args}\n')
    assert model[1].spec_args()[attribute] == value


@pytest.mark.parametrize("text, message", [
    ('activation = "softplus"\nactivation_args = { gamma = 1.0 }', "Softplus takes beta, threshold"),
    ('activation = "maxout"\nactivation_args = { alpha = 1.0 }', "has no effect with model.activation = 'maxout'"),
    ('activation = "elu"\nactivation_alpha = 0.5\nactivation_args = { alpha = 1.0 }', "name the same setting"),
    ("activity_kl_weight = 0.1", "go together"),
    ("activity_kl_target = 1.5\nactivity_kl_weight = 0.1", "activity_kl_target"),
])
def test_bad_activation_and_activity_settings_name_the_key(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(tomllib.loads(f"[model]\n{text}\n"))


def test_activity_penalties_from_toml_are_layers_that_fit_counts():
    cfg = parse_config(tomllib.loads('[model]\nhidden = [6, 4]\nactivation = "sigmoid"\nactivity_l1 = 0.5\n'
                                     'activity_kl_target = 0.05\nactivity_kl_weight = 0.2\n'))
    nnlab.seed(0)
    model = build_model(cfg, 3, 2)
    layers = [m for m in model.modules() if isinstance(m, nn.ActivityRegularization)]
    assert [(a.l1, a.kl_target, a.kl_weight) for a in layers] == [(0.5, 0.05, 0.2)] * 2
    X = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    loss = build_loss(cfg, 2, model)
    history = fit(model, loss, nnlab.optim.SGD(model.parameters(), lr=0.0), (X, y), val_data=(X, y), epochs=1,
                  batch_size=8, verbose=0)
    with nnlab.no_grad():  # training mode: the penalties of this very batch
        model.train()
        out = model(nnlab.tensor(X))
        penalty = sum(float(a.penalty.data) for a in layers)
    assert penalty > 0 and history["loss"][0] == pytest.approx(history["val_loss"][0] + penalty, rel=1e-5)


def test_the_memory_check_caps_the_batch_at_the_training_rows_and_names_the_batch_size():
    cfg = parse_config(tomllib.loads('[model]\nhidden = [4]\n[train]\nbatch_size = 2000000000\n'))
    assert isinstance(build_model(cfg, 2, 2, rows=70), nn.Module)  # a batch beyond the data is the whole split
    with pytest.raises(ConfigError, match=r"train.batch_size = 2000000000 with model.hidden = \[4\] needs about .* "
                                          r"use a smaller batch size"):
        build_model(cfg, 2, 2, rows=10**12)
    with pytest.raises(ConfigError, match=r"^model.hidden = \[1000000, 1000000\] needs about .*smaller hidden layers"):
        build_model(parse_config(tomllib.loads('[model]\nhidden = [1000000, 1000000]\n')), 2, 2, rows=70)


@pytest.mark.parametrize("schedule, key", [
    ('name = "step_decay"', "schedule.name = 'step_decay'"),
    ('name = "plateau"', "schedule.name = 'plateau'"),  # failed only at the first cut, epochs into the run
    ("warmup_epochs = 1", "schedule.warmup_epochs = 1"),  # a TypeError traceback at the first batch
    ('lr_scaling = "linear"', "schedule.lr_scaling = 'linear'"),  # silently ignored
])
def test_a_rate_schedule_with_line_search_is_refused_by_the_config(schedule, key):
    text = f'[optimizer]\nname = "line_search"\n[schedule]\n{schedule}\n'
    with pytest.raises(ConfigError, match=f"{key} acts on optimizer.lr, and optimizer.name = 'line_search' has none"):
        parse_config(tomllib.loads(text))
    parse_config(tomllib.loads('[optimizer]\nname = "line_search"\n[schedule]\nname = "constant"\n'))
