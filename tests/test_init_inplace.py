"""nn.init's PyTorch-style in-place initializers: PyTorch's gains, fans per nnlab layout, in place, seeded."""

import math

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError
from nnlab.nn import init

torch = pytest.importorskip("torch")

GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("selu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0)]


@pytest.mark.parametrize("name, param", GAINS)
def test_calculate_gain_is_pytorchs(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-12)


@pytest.mark.parametrize("nnlab_shape, torch_shape", [((300, 100), (100, 300)), ((16, 3, 5, 5), (16, 3, 5, 5)),
                                                      ((8, 4, 7), (8, 4, 7))])
def test_fans_read_nnlab_layouts_as_pytorch_reads_its_own(nnlab_shape, torch_shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert init._inplace._fans(np.empty(nnlab_shape, np.float32), "test") == expected


@pytest.mark.parametrize("fn, kwargs, std", [
    (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / 300)),
    (init.kaiming_normal_, {"mode": "fan_out"}, math.sqrt(2 / 100)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(300) / math.sqrt(3)),  # PyTorch Linear's own
    (init.xavier_normal_, {"gain": 2.0}, 2 * math.sqrt(2 / 400)),
    (init.xavier_uniform_, {}, math.sqrt(2 / 400)),
    (init.normal_, {"mean": 1.0, "std": 0.5}, 0.5),
    (init.trunc_normal_, {"std": 0.02}, 0.02),
])
def test_a_linear_weight_gets_the_spread_pytorch_gives_the_same_layer(fn, kwargs, std):
    layer = nnlab.nn.Linear(300, 100, rng=0)
    before = layer.weight.data
    out = fn(layer.weight, generator=0, **kwargs)
    assert out is layer.weight and layer.weight.data is before and before.dtype == np.float32
    ref = torch.nn.Linear(300, 100).weight.detach()
    getattr(torch.nn.init, fn.__name__)(ref, **kwargs)
    assert float(before.std()) == pytest.approx(float(ref.std()), rel=0.03)
    assert float(before.std()) == pytest.approx(std, rel=0.03)
    assert float(before.mean()) == pytest.approx(float(ref.mean()), abs=0.02)
    np.testing.assert_array_equal(fn(np.empty((300, 100), np.float32), generator=0, **kwargs), before)


def test_the_optimizer_sees_an_initialization_made_after_it_was_built():
    model = nnlab.nn.Sequential(nnlab.nn.Linear(4, 3, rng=0), nnlab.nn.ReLU(), nnlab.nn.Linear(3, 2, rng=1))
    opt = nnlab.optim.SGD(model.parameters(), lr=0.1)

    def reset(m):
        if isinstance(m, nnlab.nn.Linear):
            init.zeros_(m.weight)
            init.constant_(m.bias, 0.5)

    model.apply(reset)
    out = model(np.ones((2, 4), np.float32))
    out.sum().backward()
    opt.step()
    np.testing.assert_allclose(model[2].bias.data, 0.5 - 0.1 * 2)
    assert (model[0].weight.data == 0).all()


def test_ones_eye_orthogonal_and_trunc_bounds():
    w = nnlab.nn.Parameter(np.zeros((6, 4), np.float32))
    np.testing.assert_array_equal(init.eye_(w).data, np.eye(6, 4))
    np.testing.assert_array_equal(init.ones_(w).data, 1)
    q = init.orthogonal_(w, gain=2.0, generator=1).data.astype(np.float64)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    wide = init.orthogonal_(np.empty((3, 2, 4), np.float32), generator=1).reshape(3, 8).astype(np.float64)
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-5)
    t = init.trunc_normal_(np.empty(10000, np.float32), std=1.0, a=-0.5, b=0.5, generator=2)
    assert t.min() >= -0.5 and t.max() <= 0.5
    nnlab.seed(3)
    first = init.uniform_(np.empty(5), -1, 1).copy()
    nnlab.seed(3)
    np.testing.assert_array_equal(first, init.uniform_(np.empty(5), -1, 1))


@pytest.mark.parametrize("call, message", [
    (lambda: init.kaiming_normal_(np.empty((3, 2)), mode="fan"), "mode must be one of 'fan_in', 'fan_out'"),
    (lambda: init.kaiming_normal_(np.empty((3, 2)), nonlinearity="gelu"), "nonlinearity must be one of"),
    (lambda: init.xavier_uniform_(np.empty(3)), "2 or more axes, got shape \\(3,\\)"),
    (lambda: init.eye_(np.empty((2, 2, 2))), "needs a 2-D tensor"),
    (lambda: init.zeros_(np.zeros(3, np.int64)), "floating-point .* dtype int64"),
    (lambda: init.zeros_([1.0, 2.0]), "floating-point tensor, Parameter or array, got list"),
    (lambda: init.trunc_normal_(np.empty(3), a=1, b=0), "a \\(1\\) must be below b \\(0\\)"),
    (lambda: init.calculate_gain("leaky_relu", "x"), "negative slope must be a finite number"),
])
def test_mistakes_are_named(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
