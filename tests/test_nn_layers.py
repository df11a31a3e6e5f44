"""Layer behaviour: shapes, arguments, formulas, modes, generators.

Every layer's float64 gradcheck (inputs and parameters), torch comparison, float32 and no-gradient
checks: the layer rows of tests/test_table_nn.py.
"""

import re

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError, DataError



def test_linear_shapes_dtype_and_no_input_gradient():
    layer = nn.Linear(3, 2, rng=0)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    assert layer.weight.dtype == np.float32
    x = nnlab.tensor(np.ones((4, 3)))  # data: no gradient wanted
    out = layer(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad is None and layer.weight.grad.shape == (3, 2)
    np.testing.assert_allclose(out.numpy(), np.ones((4, 3)) @ layer.weight.data + layer.bias.data, rtol=1e-6)


def test_linear_accepts_arrays_without_upcast():
    layer = nn.Linear(3, 2, rng=0)
    assert layer(np.ones((2, 3))).dtype == np.float32  # a float64 array is cast to the layer's dtype


def test_linear_wrong_feature_count_names_shapes():
    with pytest.raises(ConfigError, match="expects 3 features"):
        nn.Linear(3, 2)(np.ones((2, 4)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"in_features": 0, "out_features": 2}, "in_features"),
        ({"in_features": 2.5, "out_features": 2}, "in_features"),
        ({"in_features": 2, "out_features": 2, "weight_init": "nope"}, "unknown initializer 'nope'"),
        ({"in_features": 2, "out_features": 2, "dtype": "int32"}, "floating"),
        ({"in_features": 2, "out_features": 2, "bias": "yes"}, "bias"),
    ],
)
def test_linear_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        nn.Linear(**kwargs)


def test_linear_bias_init_and_custom_callable():
    layer = nn.Linear(2, 3, weight_init=lambda shape, rng=None, dtype=np.float32: np.full(shape, 2.0, dtype), bias_init=nnlab.init.constant(0.01))
    assert np.all(layer.weight.data == 2.0)
    np.testing.assert_allclose(layer.bias.data, 0.01, rtol=1e-6)


def test_maxout_is_max_of_affine_pieces():
    layer = nn.Maxout(3, 2, pieces=4, rng=0, bias_init=nnlab.init.normal(1.0))
    X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    Z = (X @ layer.weight.data + layer.bias.data).reshape(5, 4, 2)
    np.testing.assert_allclose(layer(X).numpy(), Z.max(axis=1), rtol=1e-6)


def test_maxout_with_two_pieces_can_be_relu():
    # max(w·x + b, 0·x + 0) is ReLU: the seeds' "generalizes ReLU"
    layer = nn.Maxout(2, 2, pieces=2, rng=0)
    layer.weight.data[:, 2:] = 0
    layer.bias.data[:] = 0
    X = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    np.testing.assert_allclose(layer(X).numpy(), np.maximum(X @ layer.weight.data[:, :2], 0), rtol=1e-6)


def test_batchnorm_training_normalizes_and_eval_uses_running_stats():
    layer = nn.BatchNorm(4)
    X = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype(np.float32)
    out = layer(X).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(layer.running_mean, 0.1 * X.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * X.var(axis=0, ddof=1), rtol=1e-5)
    layer.eval()
    expected = (X - layer.running_mean) / np.sqrt(layer.running_var + 1e-5)
    np.testing.assert_allclose(layer(X).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert layer.running_mean.dtype == np.float32


def test_batchnorm_single_example_in_training_is_an_error():
    with pytest.raises(DataError, match="more than one value"):
        nn.BatchNorm(3)(np.ones((1, 3)))
    assert nn.BatchNorm(3).eval()(np.ones((1, 3))).shape == (1, 3)


def test_dropout_keyword_meaning_and_modes():
    assert nn.Dropout(keep=0.8).keep == 0.8
    assert nn.Dropout(rate=0.2).keep == pytest.approx(0.8)
    for kwargs in ({}, {"keep": 0.5, "rate": 0.5}, {"keep": 0.0}, {"rate": 1.0}, {"keep": 1.5}):
        with pytest.raises(ConfigError):
            nn.Dropout(**kwargs)
    layer = nn.Dropout(keep=0.25, rng=0)
    x = nnlab.tensor(np.ones((200, 50)))
    out = layer(x).numpy()
    assert set(np.unique(out)) == {0.0, 4.0}  # inverted scaling by 1/keep
    assert abs((out > 0).mean() - 0.25) < 0.02
    assert layer.eval()(x) is x  # eval mode: identity


def test_dropout_masks_come_from_its_generator():
    a, b = nn.Dropout(keep=0.5, rng=3), nn.Dropout(keep=0.5, rng=3)
    x = np.ones((10, 10), dtype=np.float32)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert not np.array_equal(a(x).numpy(), a(x).numpy())  # a new mask every call
    nnlab.seed(5)
    first = nn.Dropout(keep=0.5)(x).numpy()
    nnlab.seed(5)
    np.testing.assert_array_equal(nn.Dropout(keep=0.5)(x).numpy(), first)


def test_dropout_gradient_uses_the_same_mask():
    layer = nn.Dropout(keep=0.5, rng=0)
    x = nnlab.tensor(np.ones((4, 5)), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.numpy())


def test_gaussian_noise_training_only():
    layer = nn.GaussianNoise(0.5, rng=0)
    x = nnlab.tensor(np.zeros((400, 50)))
    noise = layer(x).numpy()
    assert noise.dtype == np.float32
    assert abs(noise.std() - 0.5) < 0.01 and abs(noise.mean()) < 0.01
    assert layer.eval()(x) is x
    with pytest.raises(ConfigError):
        nn.GaussianNoise(-1.0)


def test_tied_linear_uses_transposed_weight_and_own_bias():
    encoder = nn.Linear(4, 2, rng=0)
    decoder = nn.TiedLinear(encoder, bias_init=nnlab.init.constant(0.5))
    X = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    np.testing.assert_allclose(decoder(X).numpy(), X @ encoder.weight.data.T + 0.5, rtol=1e-6)
    model = nn.Sequential(encoder, nn.ReLU(), decoder)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    with pytest.raises(ConfigError):
        nn.TiedLinear(nn.ReLU())


def test_prelu_alpha_is_a_learned_parameter():
    layer = nn.PReLU(init=0.25, num_parameters=3)
    assert [n for n, _ in layer.named_parameters()] == ["alpha"]
    assert layer.num_parameters() == 3 and layer.num_alphas == 3
    x = nnlab.tensor([[-2.0, 1.0, -4.0]])
    out = layer(x)
    np.testing.assert_allclose(out.numpy(), [[-0.5, 1.0, -1.0]])
    out.sum().backward()
    np.testing.assert_allclose(layer.alpha.grad, [-2.0, 0.0, -4.0])


def test_prelu_slopes_lie_on_the_channel_axis_and_a_wrong_axis_1_is_named():
    layer = nn.PReLU(init=0.5, num_parameters=2)
    layer.alpha.data[...] = [0.5, 2.0]
    x = -np.ones((1, 2, 3, 2), dtype=np.float32)  # W == C: slopes on the last axis would also broadcast
    out = layer(x).numpy()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 0], np.full((3, 2), -0.5))  # channel 0: α₀ everywhere
    np.testing.assert_array_equal(out[0, 1], np.full((3, 2), -2.0))
    # axis 1 of the wrong size (the last axis of 2 that the old convention took), no channel axis at all
    for shape in [(4, 3, 2), (6, 1), (2,), ()]:
        named = rf"PReLU with num_parameters=2 .*axis 1.*input shape {re.escape(str(shape))}"
        with pytest.raises(ConfigError, match=named):
            layer(np.ones(shape, dtype=np.float32))
    with pytest.raises(ConfigError, match=r"num_parameters=2 .*input shape \(4, 3, 2\) has 3 channels"):
        nn.Sequential(nn.Identity(), layer).flops_by_layer((4, 3, 2))  # what model.layers checks before training
    shared = nn.PReLU(init=0.5)  # one slope: any shape, the shape kept
    for shape in [(), (3,), (2, 5), (2, 4, 3, 3)]:
        assert shared(-np.ones(shape, dtype=np.float32)).shape == shape


def test_softmax_module_temperature_flattens_and_beta_sharpens():
    x = nnlab.tensor([[1.0, 2.0, 3.0]])
    soft = nn.Softmax()(x).numpy()
    flat, sharp = nn.Softmax(temperature=5.0)(x).numpy(), nn.Softmax(beta=5.0)(x).numpy()
    np.testing.assert_allclose(soft.sum(), 1, rtol=1e-6)
    assert flat[0, 2] < soft[0, 2] < sharp[0, 2]
    np.testing.assert_allclose(flat, nn.Softmax(beta=0.2)(x).numpy(), rtol=1e-6)  # T = 1/β
    for bad in ({"temperature": 0}, {"beta": -1.0}, {"temperature": 2.0, "beta": 0.5}):
        with pytest.raises(ConfigError, match="temperature|beta"):
            nn.Softmax(**bad)


def test_residual_adds_input():
    inner = nn.Linear(3, 3, rng=0)
    X = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_allclose(nn.Residual(inner)(X).numpy(), X + inner(X).numpy(), rtol=1e-6)


def test_sequential_indexing_and_append():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    model.append(nn.Linear(3, 1))
    assert len(model) == 3 and isinstance(model[2], nn.Linear)
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert [n for n, _ in model.named_modules()] == ["", "0", "1", "2"]
    assert model(np.ones((4, 2))).shape == (4, 1)
    assert nn.Sequential([nn.ReLU(), nn.Tanh()])[1].__class__ is nn.Tanh


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_nnlab_random_bernoulli_and_keeps_the_dtype(dtype):
    X = np.random.default_rng(1).standard_normal((6, 5)).astype(dtype)
    out = nn.Dropout(keep=0.7, rng=2)(nnlab.tensor(X, dtype=dtype)).numpy()
    assert out.dtype == dtype
    kept = nnlab.random.bernoulli(np.random.default_rng(2), 0.7, X.shape)
    np.testing.assert_array_equal(out, X * np.where(kept, dtype(1 / 0.7), dtype(0)))
    nnlab.random.set_batch_shard((18, 6, 12))  # rows [6, 12) of a global batch of 18: that batch's mask, these rows
    try:
        mine = nn.Dropout(keep=0.7, rng=2)(nnlab.tensor(X, dtype=dtype)).numpy()
    finally:
        nnlab.random.set_batch_shard(None)
    np.testing.assert_array_equal(mine != 0, nnlab.random.bernoulli(np.random.default_rng(2), 0.7, (18, 5))[6:12])


def test_gaussian_noise_is_nnlab_random_standard_normal():
    X = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)
    out = nn.GaussianNoise(0.5, rng=2)(nnlab.tensor(X)).numpy()
    noise = nnlab.random.standard_normal(np.random.default_rng(2), X.shape, np.float32)
    np.testing.assert_array_equal(out, X + noise * np.float32(0.5))
