"""Conv and pooling layers: PyTorch weight shapes and outputs, fan-in initialization, specs, save/load,
FLOPs, per-channel BatchNorm, and the data helpers for image-shaped inputs."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.data import Jitter
from nnlab.errors import ConfigError

F64 = np.float64


def _cnn2d(dtype=np.float32):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding="same", rng=0, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, (2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2, rng=1, dtype=dtype),
        nn.ReLU(), nn.AvgPool2d(2, stride=1, padding=1), nn.AdaptiveAvgPool2d((2, 1)), nn.Flatten(),
        nn.Linear(12, 3, rng=2, dtype=dtype),
    )


def _torch_copy(model):
    """The same layers in torch.nn, weights copied (conv filters as they are, Linear transposed)."""
    torch = pytest.importorskip("torch")
    spec = nn.to_spec(model)
    layers = []
    for layer in spec["layers"]:
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in layer["args"].items()
                if k not in ("weight_init", "bias_init", "dtype")}
        layers.append(getattr(torch.nn, layer["type"])(**args))
    tmodel = torch.nn.Sequential(*layers).double()
    with torch.no_grad():
        for p, q in zip(model.parameters(), tmodel.parameters()):
            value = torch.from_numpy(np.array(p.data, dtype=F64))
            q.copy_(value if q.shape == value.shape else value.T)
    return tmodel


def test_cnn_forward_and_gradients_equal_torch_with_copied_weights():
    torch = pytest.importorskip("torch")
    model = _cnn2d(F64)
    tmodel = _torch_copy(model)
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 7))
    out = model(nnlab.tensor(x, dtype=F64))
    tout = tmodel(torch.from_numpy(x))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    for p, q in zip(model.parameters(), tmodel.parameters()):
        expected = q.grad.numpy()
        np.testing.assert_allclose(p.grad, expected if p.shape == expected.shape else expected.T, rtol=1e-9, atol=1e-12)


def test_cnn_gradcheck_float64():
    model = _cnn2d(F64)
    x = nnlab.tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)), dtype=F64)
    params = list(model.parameters())

    def loss(*_):
        return (model(x) ** 2).sum()

    assert nnlab.gradcheck(loss, params)


def test_conv_weights_have_torch_shapes_and_fan_in_scale():
    conv = nn.Conv2d(8, 16, (3, 5), groups=2, weight_init="he_normal", rng=0)
    assert conv.weight.shape == (16, 4, 3, 5) and conv.bias.shape == (16,)
    fan_in = 4 * 3 * 5
    std = float(nn.Conv1d(64, 256, 5, weight_init="he_normal", rng=0).weight.data.std())
    assert abs(std - np.sqrt(2 / (64 * 5))) < 0.05 * np.sqrt(2 / (64 * 5))
    lecun = nn.Conv2d(8, 16, (3, 5), groups=2, rng=0).weight.data
    assert abs(lecun.std() - np.sqrt(1 / fan_in)) < 0.2 * np.sqrt(1 / fan_in)
    nnlab.seed(3)
    a = nn.Conv1d(2, 3, 4).weight.data.copy()
    nnlab.seed(3)
    assert (nn.Conv1d(2, 3, 4).weight.data == a).all()  # same seed, same weights


@pytest.mark.parametrize("make", [lambda init: nn.Conv2d(16, 32, 5, groups=2, weight_init=init, rng=0),
                                  lambda init: nn.Conv1d(24, 48, 7, weight_init=init, rng=0, dtype=F64)])
def test_conv_xavier_counts_every_kernel_tap_in_the_fan_out_as_torch(make):
    torch = pytest.importorskip("torch")
    w = make("xavier_uniform").weight.data
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.from_numpy(np.asarray(w, F64)))
    bound = np.sqrt(6 / (fan_in + fan_out))  # torch.nn.init.xavier_uniform_'s, with fan_out = out_channels·k…
    assert 0.99 * bound < np.abs(w).max() <= bound * (1 + 1e-6)
    normal = make("xavier_normal").weight.data
    assert normal.dtype == w.dtype
    assert abs(normal.std() - np.sqrt(2 / (fan_in + fan_out))) < 0.03 * np.sqrt(2 / (fan_in + fan_out))


def test_float32_model_stays_float32_on_a_float64_batch():
    model = _cnn2d()
    out = model(np.random.default_rng(0).standard_normal((2, 1, 8, 8)))
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_spec_save_load_round_trip(tmp_path):
    model = _cnn2d()
    spec = nn.to_spec(model)
    copy = nn.from_spec(spec)
    assert nn.to_spec(copy) == spec
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    nnlab.save(model, tmp_path / "cnn.safetensors")
    loaded = nnlab.load(tmp_path / "cnn.safetensors")
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    same = nn.from_spec({"type": "Sequential", "layers": [
        {"type": "Unflatten", "dim": 1, "unflattened_size": [1, 40]},
        {"type": "Conv1d", "in_channels": 1, "out_channels": 2, "kernel_size": 5, "padding": "same"}]})
    assert same(np.zeros((3, 40), dtype=np.float32)).shape == (3, 2, 40)


def test_flops_count_conv_and_pooling():
    model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 13 * 13, 10))
    rows = model.flops_by_layer((1, 784))
    conv, pool = rows[1], rows[2]
    assert conv["output_shape"] == (1, 32, 26, 26)
    assert conv["flops"] == 2 * 26 * 26 * 32 * 9 + 26 * 26 * 32
    assert pool["output_shape"] == (1, 32, 13, 13) and pool["flops"] == 32 * 13 * 13 * 3
    assert rows[3]["flops"] == 0 and rows[4]["output_shape"] == (1, 10)
    grouped = nn.Conv1d(4, 6, 3, groups=2, bias=False)
    assert grouped.flops((2, 4, 10)) == 2 * 2 * 8 * 6 * 2 * 3


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
        (lambda: nn.Conv1d(1, 4, 0), "kernel_size must be an integer >= 1"),
        (lambda: nn.Conv2d(1, 4, 3, stride=2, padding="same"), "needs stride 1"),
        (lambda: nn.MaxPool2d(2, padding=2), "at most half"),
        (lambda: nn.Conv2d(1, 4, 3, weight_init="nope"), "weight_init"),
    ],
)
def test_bad_layer_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_wrong_input_shape_names_the_layer():
    with pytest.raises(ConfigError, match=r"Conv2d expects input \(N, C, H, W\) with C = 3"):
        nn.Conv2d(3, 4, 3)(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ConfigError, match="MaxPool1d expects input"):
        nn.MaxPool1d(2)(np.zeros((2, 8)))


@pytest.mark.parametrize("shape, torch_layer", [((4, 3, 5), "BatchNorm1d"), ((4, 3, 5, 6), "BatchNorm2d")])
def test_batchnorm_normalizes_per_channel_like_torch(shape, torch_layer):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape) * 3 + 1
    bn, tbn = nn.BatchNorm(3, dtype=F64), getattr(torch.nn, torch_layer)(3).double()
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor([0.5, 1.5, -2.0]))
    bn.gamma.data[:] = [0.5, 1.5, -2.0]
    a, t = nnlab.tensor(x, requires_grad=True, dtype=F64), torch.tensor(x, requires_grad=True)
    out, tout = bn(a), tbn(t)
    g = np.random.default_rng(1).standard_normal(shape)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(a.grad, t.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.gamma.grad, tbn.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), atol=1e-12)
    bn.eval(), tbn.eval()
    np.testing.assert_allclose(bn(a).data, tbn(t).detach().numpy(), atol=1e-12)


def test_batchnorm_on_2d_input_is_unchanged():
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    bn = nn.BatchNorm(3)
    from nnlab.ops.fused import batch_norm

    expected = batch_norm(nnlab.tensor(x), bn.gamma, bn.beta, training=True).data
    np.testing.assert_array_equal(bn(x).data, expected)


def test_digits_as_images_and_jitter_on_image_batches():
    X, y = nnlab.datasets.digits(as_images=True)
    flat, _ = nnlab.datasets.digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    np.testing.assert_array_equal(X.reshape(1797, 64), flat)
    shifted = Jitter(shape=(8, 8), max_shift=2, rng=0)(X[:50])
    assert shifted.shape == (50, 1, 8, 8)
    # Every image is its original moved by (dy, dx): its pixels sum to at most the original's.
    assert (shifted.sum(axis=(1, 2, 3)) <= X[:50].sum(axis=(1, 2, 3)) + 1e-3).all()
    assert not np.array_equal(shifted, X[:50])


@pytest.mark.parametrize("jit", ["0", "1"])
@pytest.mark.parametrize("dims, pool", [(2, {"kernel_size": 2}), (2, {"kernel_size": 3, "stride": 2, "padding": 1}),
                                        (1, {"kernel_size": 2}), (1, {"kernel_size": 3, "stride": 1, "padding": 1})])
def test_sequential_pools_before_the_relu_with_the_same_bits(jit, dims, pool, monkeypatch):
    """Sequential runs ReLU → max pooling as pooling → ReLU (nn/container.py); layer by layer gives the same bits,
    with ties, windows of negative values only, exact zeros and a NaN in the input."""
    monkeypatch.setenv("NNLAB_JIT", jit)
    rng = np.random.default_rng(7)
    shape = (3, 2, 6, 7) if dims == 2 else (3, 2, 9)
    X = rng.integers(-3, 3, shape).astype(np.float32)  # many ties and zeros
    X[0, 0] = -1.0  # a channel whose windows are all negative
    X[1, 1].flat[0] = np.nan  # NaN: the same position wins in both orders, and its gradient is zero
    results = []
    for planned in (True, False):
        conv = nn.Conv2d(2, 2, 1, bias=False, rng=0) if dims == 2 else nn.Conv1d(2, 2, 1, bias=False, rng=0)
        conv.weight.data[...] = np.eye(2).reshape(conv.weight.data.shape)  # identity: keeps the ties
        layers = [conv, nn.ReLU(), (nn.MaxPool2d if dims == 2 else nn.MaxPool1d)(**pool), nn.Flatten()]
        x = nnlab.tensor(X, requires_grad=True)
        if planned:
            model = nn.Sequential(*layers)
            out = model(x)
            assert [after for _, after in model.__dict__["_plan"]] == [None, layers[2], None]  # the pair ran as one step
        else:
            out = x
            for layer in layers:
                out = layer(out)
        out.backward(np.arange(out.data.size, dtype=np.float32).reshape(out.shape) - 5)
        results.append((out.data, x.grad, conv.weight.grad))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert (results[0][1] != 0).any() and (results[0][0] == 0).any() and np.isnan(results[0][0]).any()
