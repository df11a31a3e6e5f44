"""Initializers: the variance each promises, dtype, shapes, seeding, lookup by name."""

import numpy as np
import pytest

import nnlab
from nnlab import init
from nnlab.errors import ConfigError

FAN_IN, FAN_OUT = 400, 100

# name, expected standard deviation for a (FAN_IN, FAN_OUT) weight
SCALES = [
    ("lecun_normal", np.sqrt(1 / FAN_IN)),
    ("lecun_uniform", np.sqrt(1 / FAN_IN)),
    ("xavier_normal", np.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_uniform", np.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("he_normal", np.sqrt(2 / FAN_IN)),
    ("he_uniform", np.sqrt(2 / FAN_IN)),
]


@pytest.mark.parametrize("name, std", SCALES)
def test_initializer_variance(name, std):
    w = init.get(name)((FAN_IN, FAN_OUT), rng=0)
    assert w.shape == (FAN_IN, FAN_OUT) and w.dtype == np.float32
    assert abs(w.std() / std - 1) < 0.02  # 40,000 draws: standard error ≈ 0.4 %
    assert abs(w.mean()) < 4 * std / np.sqrt(w.size)
    if name.endswith("uniform"):
        assert np.abs(w).max() <= np.sqrt(3) * std * (1 + 1e-6)


@pytest.mark.parametrize("name", [n for n, _ in SCALES])
def test_float64_draws_equal_float32_up_to_rounding(name):
    fn = init.get(name)
    w32, w64 = fn((5, 4), rng=3), fn((5, 4), rng=3, dtype=np.float64)
    assert w64.dtype == np.float64
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


def test_global_generator_is_reset_by_seed():
    nnlab.seed(4)
    a = init.he_normal((3, 3))
    nnlab.seed(4)
    np.testing.assert_array_equal(init.he_normal((3, 3)), a)
    assert not np.array_equal(init.he_normal((3, 3)), a)
    gen = np.random.default_rng(2)
    assert not np.array_equal(init.he_normal((3, 3), rng=gen), init.he_normal((3, 3), rng=gen))


def test_factories_and_constants():
    np.testing.assert_array_equal(init.zeros((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(init.ones((2,), dtype=np.float64), [1.0, 1.0])
    np.testing.assert_allclose(init.constant(0.01)((3,)), 0.01, rtol=1e-7)
    w = init.normal(std=0.5, mean=1.0)((200, 200), rng=0)
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01
    u = init.uniform(-0.1, 0.3)((200, 200), rng=0)
    assert u.min() >= -0.1 and u.max() < 0.3 and abs(u.mean() - 0.1) < 0.005


def test_fans_follow_in_out_layout():
    assert init.fans((7, 3)) == (7, 3)
    assert init.fans((5,)) == (5, 5)
    assert init.fans((4, 2, 3)) == (4, 3)


def test_get_accepts_names_dicts_and_callables():
    assert init.get("he_normal") is init.he_normal
    fn = lambda shape, rng=None, dtype=np.float32: np.zeros(shape, dtype)  # noqa: E731
    assert init.get(fn) is fn
    made = init.get({"name": "constant", "value": 2.0})
    assert made((1,))[0] == 2.0 and made == init.constant(2.0)
    assert init.get({"name": "zeros"}) is init.zeros


@pytest.mark.parametrize(
    "value, match",
    [
        ("glorot", "unknown initializer 'glorot'; choose one of constant, he_normal"),
        ("constant", "needs arguments"),
        ({"name": "constant"}, "bad arguments"),
        ({"name": "uniform", "low": 1, "high": 0}, "must not exceed"),
        ({"name": "normal", "std": -1}, "std must be >= 0"),
        ({"name": "constant", "value": "x"}, "value must be a number"),
        ({"name": "nope"}, "unknown initializer 'nope'"),
        (3, "must be a name, a dict or a callable"),
    ],
)
def test_get_rejects_bad_values_naming_choices(value, match):
    with pytest.raises(ConfigError, match=match):
        init.get(value)


def test_to_config_round_trip():
    for value in ["xavier_uniform", init.constant(0.01), init.normal(0.2), init.uniform(-1, 2), init.he_uniform]:
        config = init.to_config(value)
        assert init.to_config(init.get(config)) == config
    assert init.to_config(lambda shape, rng=None, dtype=None: None) is None


def test_top_level_alias_is_the_same_module_contents():
    import nnlab.init as top
    from nnlab.nn import init as inner

    assert top.he_normal is inner.he_normal and top.get is inner.get
    assert set(top.__all__) == set(inner.__all__)
