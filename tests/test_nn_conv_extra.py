"""The convolution family's extra layers against PyTorch: ConvTranspose1d/2d, AdaptiveMaxPool1d/2d, Dropout1d/2d,
ZeroPad/ConstantPad1d/2d and Upsample / functional.interpolate (forward, backward, gradcheck, init, errors)."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def _compare(layer, tlayer, x, dtype, check_grad=True):
    """Forward and backward (input and every parameter) of an nnlab layer and its torch twin, weights copied."""
    with torch.no_grad():
        for (name, p), (tname, q) in zip(layer.named_parameters(), tlayer.named_parameters(), strict=True):
            assert name == tname and tuple(p.shape) == tuple(q.shape)
            q.copy_(torch.from_numpy(np.array(p.data)))
    xt = torch.tensor(x, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    xn = nnlab.tensor(x, dtype=dtype, requires_grad=True)
    y, yt = layer(xn), tlayer(xt)
    assert y.dtype == dtype and tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **TOL[dtype])
    if not check_grad:
        return
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    y.backward(nnlab.tensor(g, dtype=dtype))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), **TOL[dtype])
    for p, q in zip(layer.parameters(), tlayer.parameters()):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, q.grad.numpy(), **TOL[dtype])


# (in, out, kernel, kwargs, input spatial shape)
TRANSPOSED = [
    (3, 5, 3, {}, (7,)),
    (4, 6, 4, dict(stride=3, padding=2, output_padding=1, groups=2), (9,)),
    (2, 3, 2, dict(stride=2, dilation=3, output_padding=2, bias=False), (5,)),
    (6, 3, 1, dict(groups=3, stride=2), (4,)),
    (3, 4, (3, 2), dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0)), (5, 6)),
    (4, 4, 3, dict(groups=4, dilation=(1, 2), padding=(0, 2)), (3, 7)),
    (2, 6, (2, 3), dict(stride=(3, 2), groups=2, bias=False, output_padding=(2, 1)), (4, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c_in, c_out, kernel, kwargs, spatial", TRANSPOSED)
def test_conv_transpose_matches_torch(c_in, c_out, kernel, kwargs, spatial, dtype):
    cls = "ConvTranspose1d" if len(spatial) == 1 else "ConvTranspose2d"
    layer = getattr(nn, cls)(c_in, c_out, kernel, rng=0, dtype=dtype, **kwargs)
    tlayer = getattr(torch.nn, cls)(c_in, c_out, kernel, dtype=TORCH_DTYPE[dtype], **kwargs)
    x = np.random.default_rng(0).standard_normal((3, c_in) + spatial)
    _compare(layer, tlayer, x, dtype)
    flops, shape = layer._count_flops((3, c_in) + spatial)
    assert shape == tuple(tlayer(torch.zeros((3, c_in) + spatial, dtype=TORCH_DTYPE[dtype])).shape) and flops > 0


@pytest.mark.parametrize("c_in, c_out, kernel, kwargs, spatial", TRANSPOSED[1::2])
def test_conv_transpose_gradcheck(c_in, c_out, kernel, kwargs, spatial):
    cls = nn.ConvTranspose1d if len(spatial) == 1 else nn.ConvTranspose2d
    layer = cls(c_in, c_out, kernel, rng=0, dtype=np.float64, **kwargs)
    x = nnlab.tensor(np.random.default_rng(2).standard_normal((2, c_in) + spatial), dtype=np.float64,
                     requires_grad=True)
    assert nnlab.gradcheck(layer, [x])
    assert nnlab.gradcheck(lambda w: layer(x.detach()), [layer.weight])


def test_conv_transpose_is_the_input_gradient_of_conv():
    """y = conv_transpose(x, W) is ∂⟨conv(z, W), x⟩/∂z: the transposed op is the adjoint of the convolution."""
    rng = np.random.default_rng(3)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, rng=0)
    up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, bias=False, dtype=np.float64)
    up.weight.data[...] = conv.weight.data
    z = nnlab.tensor(rng.standard_normal((2, 3, 8, 8)), dtype=np.float64, requires_grad=True)
    x = rng.standard_normal((2, 4, 4, 4))
    ((conv(z) - conv.bias.data[:, None, None]) * nnlab.tensor(x, dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(up(nnlab.tensor(x, dtype=np.float64)).data, z.grad, rtol=1e-12, atol=1e-12)


def test_conv_transpose_init_is_torchs_uniform_and_keeps_float32():
    layer = nn.ConvTranspose2d(8, 6, 3, groups=2, rng=0)
    bound = 1 / np.sqrt(6 // 2 * 9)
    assert layer.weight.shape == (8, 3, 3, 3) and layer.weight.dtype == np.float32
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.8 * bound
    assert layer(np.zeros((1, 8, 2, 2))).dtype == np.float32  # a float64 batch does not upcast the graph
    rebuilt = nn.from_spec(nn.to_spec(layer))
    assert nn.to_spec(rebuilt) == nn.to_spec(layer) and rebuilt.weight.shape == layer.weight.shape


@pytest.mark.parametrize("make, match", [
    (lambda: nn.ConvTranspose1d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, output_padding=2), "output_padding must be smaller"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), "no 'same'"),
    (lambda: nn.ConvTranspose2d(3, 4, (3, 3, 3)), "kernel_size"),
    (lambda: nn.ConvTranspose1d(3, 4, 3)(np.zeros((1, 2, 5))), "C = 3 channels"),
    (lambda: nn.ConvTranspose1d(3, 4, 3, padding=4)(np.zeros((1, 3, 2))), "empty output"),
])
def test_conv_transpose_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, out, spatial", [
    ("AdaptiveMaxPool1d", 3, (7,)), ("AdaptiveMaxPool1d", 5, (5,)), ("AdaptiveMaxPool1d", 4, (3,)),
    ("AdaptiveMaxPool1d", 1, (9,)), ("AdaptiveMaxPool2d", (3, 2), (7, 5)), ("AdaptiveMaxPool2d", 4, (6, 9)),
    ("AdaptiveMaxPool2d", (1, 3), (4, 4)),
])
def test_adaptive_max_pool_matches_torch(cls, out, spatial, dtype):
    x = np.random.default_rng(4).standard_normal((2, 3) + spatial)
    _compare(getattr(nn, cls)(out), getattr(torch.nn, cls)(out), x, dtype)


def test_adaptive_max_pool_ties_go_to_the_first_maximum_and_gradcheck():
    x = nnlab.tensor(np.ones((1, 1, 4, 5)), dtype=np.float64, requires_grad=True)
    nn.AdaptiveMaxPool2d((2, 2))(x).sum().backward()
    xt = torch.ones((1, 1, 4, 5), dtype=torch.float64, requires_grad=True)
    torch.nn.AdaptiveMaxPool2d((2, 2))(xt).sum().backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())  # overlapping bins: the shared winner adds both
    z = nnlab.tensor(np.random.default_rng(5).standard_normal((2, 2, 5, 7)), dtype=np.float64, requires_grad=True)
    assert nnlab.gradcheck(nn.AdaptiveMaxPool2d((3, 4)), [z])
    with pytest.raises(ConfigError, match="output_size"):
        nn.AdaptiveMaxPool1d(0)
    with pytest.raises(ConfigError, match=r"\(N, C, H, W\)"):
        nn.AdaptiveMaxPool2d(2)(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("cls, keep, shape", [("Dropout1d", 0.6, (50, 40, 7)), ("Dropout2d", 0.25, (40, 50, 3, 2))])
def test_channel_dropout_zeroes_whole_channels(cls, keep, shape):
    layer = getattr(nn, cls)(keep=keep, rng=0)
    x = nnlab.tensor(np.random.default_rng(0).uniform(1, 2, shape), requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    kept = (y.data != 0).reshape(shape[:2] + (-1,))
    assert np.all(kept.all(axis=2) == kept.any(axis=2))  # one draw per (sample, channel)
    assert abs(kept[..., 0].mean() - keep) < 0.05
    kept = kept.reshape(shape)
    np.testing.assert_allclose(y.data[kept], x.data[kept] / keep, rtol=1e-6)
    y.backward(nnlab.ones(shape))
    np.testing.assert_allclose(x.grad, kept / np.float32(keep), rtol=1e-6)
    assert layer.eval()(x) is x
    assert getattr(nn, cls)(rate=0.3).keep == pytest.approx(0.7)


def test_channel_dropout_errors():
    with pytest.raises(ConfigError, match="Dropout2d takes its probability by keyword"):
        nn.Dropout2d(0.5)
    with pytest.raises(ConfigError, match="exactly one of keep="):
        nn.Dropout1d(keep=0.5, rate=0.5)
    with pytest.raises(ConfigError, match=r"Dropout1d expects input \(N, C, L\)"):
        nn.Dropout1d(rate=0.5)(np.ones((2, 3, 4, 5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, args, shape", [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad1d", ((0, 3),), (3, 4)), ("ConstantPad1d", ((1, 2), -2.5), (2, 3, 4)),
    ("ZeroPad2d", ((1, 0, 2, 3),), (2, 3, 4, 5)), ("ConstantPad2d", (1, 0.5), (2, 2, 3, 3)),
    ("ConstantPad2d", ((0, 2, 1, 0), 3.0), (3, 4, 2)),
])
def test_padding_layers_match_torch(cls, args, shape, dtype):
    layer = getattr(nn, cls)(*args)
    _compare(layer, getattr(torch.nn, cls)(*args), np.random.default_rng(6).standard_normal(shape), dtype)
    assert layer._count_flops(shape)[1] == tuple(getattr(torch.nn, cls)(*args)(torch.zeros(shape)).shape)


def test_padding_gradcheck_and_errors():
    x = nnlab.tensor(np.random.default_rng(7).standard_normal((2, 2, 3, 3)), dtype=np.float64, requires_grad=True)
    assert nnlab.gradcheck(nn.ConstantPad2d((1, 2, 0, 1), 0.3), [x])
    for bad in (-1, (1, 2, 3), (1.5, 1)):
        with pytest.raises(ConfigError, match="padding must be a non-negative integer"):
            nn.ZeroPad1d(bad)
    with pytest.raises(ConfigError, match="value"):
        nn.ConstantPad1d(1, "zero")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs, shape", [
    (dict(scale_factor=2), (2, 3, 5)), (dict(scale_factor=3), (2, 2, 4, 3)), (dict(scale_factor=1.7), (1, 2, 7)),
    (dict(scale_factor=(0.5, 2.5)), (2, 1, 7, 3)), (dict(size=11), (2, 2, 4)), (dict(size=(3, 8)), (1, 2, 7, 5)),
    (dict(size=(5, 5)), (1, 1, 5, 5)), (dict(scale_factor=1.3, recompute_scale_factor=True), (1, 2, 6, 7)),
    (dict(scale_factor=0.6), (2, 2, 9)),
])
def test_upsample_and_interpolate_match_torch(kwargs, shape, dtype):
    x = np.random.default_rng(8).standard_normal(shape)
    _compare(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x, dtype)
    got = nnlab.functional.interpolate(nnlab.tensor(x, dtype=dtype), **kwargs)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), **kwargs)
    np.testing.assert_array_equal(got.data, expected.numpy().astype(dtype))
    assert nnlab.nn.functional.interpolate is nnlab.functional.interpolate


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs, shape", [
    (dict(scale_factor=2, mode="linear"), (2, 3, 5)), (dict(size=4, mode="linear"), (2, 2, 9)),
    (dict(scale_factor=1.7, mode="linear", align_corners=True), (1, 2, 7)),
    (dict(size=1, mode="linear", align_corners=True), (1, 2, 3)),
    (dict(scale_factor=(0.6, 2.5), mode="bilinear"), (2, 1, 7, 3)), (dict(size=(3, 8), mode="bilinear"), (1, 2, 7, 5)),
    (dict(scale_factor=2, mode="bilinear", align_corners=True), (2, 2, 3, 4)),
    (dict(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True), (1, 2, 6, 7)),
])
def test_linear_modes_match_torch(kwargs, shape, dtype):
    x = np.random.default_rng(10).standard_normal(shape)
    _compare(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x, dtype)
    z = nnlab.tensor(x, dtype=np.float64, requires_grad=True)
    assert nnlab.gradcheck(lambda t: nnlab.functional.interpolate(t, **kwargs), [z])


def test_upsample_gradcheck_and_errors():
    x = nnlab.tensor(np.random.default_rng(9).standard_normal((2, 2, 5, 4)), dtype=np.float64, requires_grad=True)
    assert nnlab.gradcheck(nn.Upsample(size=(7, 3)), [x])
    assert nnlab.gradcheck(nn.Upsample(scale_factor=(0.5, 2)), [x])
    with pytest.raises(ConfigError, match="mode must be one of 'nearest', 'linear', 'bilinear'"):
        nn.Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(ConfigError, match="mode='bilinear' takes input with 2 spatial axes"):
        nn.Upsample(scale_factor=2, mode="bilinear")(np.zeros((1, 1, 4)))
    with pytest.raises(ConfigError, match="exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ConfigError, match="align_corners"):
        nn.Upsample(scale_factor=2, align_corners=True)
    with pytest.raises(ConfigError, match="size must be a positive integer or a tuple of 2"):
        nn.Upsample(size=(3, 4, 5))(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ConfigError, match="scale_factor"):
        nnlab.functional.interpolate(np.zeros((1, 1, 4)), scale_factor=-1.0)
    with pytest.raises(ConfigError, match="empty output"):
        nnlab.functional.interpolate(np.zeros((1, 1, 4)), scale_factor=0.1)
