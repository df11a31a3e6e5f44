"""Pooling's PyTorch options: ceil_mode, dilation (max), count_include_pad and divisor_override (average).

torch is the oracle for the values, the gradients, the output sizes and what is refused;
nnlab.gradcheck checks the backward in float64; onnxruntime checks the export.
"""

import numpy as np
import pytest

import nnlab
from nnlab import _jit, nn
from nnlab.errors import ConfigError
from nnlab.ops import pool
from nnlab.ops._windows import output_shape

torch = pytest.importorskip("torch")


def _all_padding_window(spatial, kernel, stride, padding, dilation, ceil_mode) -> bool:
    """Whether a dilated window reads padding only: torch's CPU max pooling then indexes outside the input
    (its backward corrupts memory), where nnlab gives −∞ and no gradient."""
    pads = tuple((p, p) for p in padding)
    try:
        out = output_shape(spatial, kernel, stride, dilation, pads, "check", ceil_mode)
    except ConfigError:
        return False
    return any(not any(0 <= o * s - p + j * dl < size for j in range(k))
               for size, k, s, p, dl, n in zip(spatial, kernel, stride, padding, dilation, out) for o in range(n))


def _random_case(seed):
    """A random layer (nnlab and torch, same arguments) and input shape: odd sizes, any stride, padding."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 3))
    kernel = tuple(int(v) for v in rng.integers(1, 5, d))
    stride = tuple(int(v) for v in rng.integers(1, 5, d))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    ceil_mode = bool(rng.integers(0, 2))
    spatial = tuple(int(v) for v in rng.integers(kernel[0], 12, d))
    if seed % 2:
        dilation = tuple(int(v) for v in rng.integers(1, 3, d))
        if _all_padding_window(spatial, kernel, stride, padding, dilation, ceil_mode):
            dilation = (1,) * d
        args, kwargs = (kernel, stride, padding, dilation), {"ceil_mode": ceil_mode}
        kind = f"MaxPool{d}d"
    else:
        args = (kernel, stride, padding, ceil_mode, bool(rng.integers(0, 2)))
        if d == 2 and rng.random() < 0.4:
            args += (int(rng.integers(1, 7)),)
        kwargs, kind = {}, f"AvgPool{d}d"
    return kind, args, kwargs, (int(rng.integers(1, 4)), int(rng.integers(1, 4))) + spatial


def _torch_run(kind, args, kwargs, X, G):
    x = torch.tensor(X, requires_grad=True)
    y = getattr(torch.nn, kind)(*args, **kwargs)(x)
    y.backward(torch.tensor(G))
    return y.detach().numpy(), x.grad.numpy()


def _nnlab_run(layer, X, G):
    x = nnlab.tensor(X, requires_grad=True, dtype=X.dtype)
    y = layer(x)
    y.backward(G)
    return y.data, x.grad


def _torch_shape(kind, args, kwargs, shape):
    with torch.no_grad():
        return tuple(getattr(torch.nn, kind)(*args, **kwargs)(torch.zeros(shape)).shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(40))
def test_random_layers_match_torch(seed, dtype):
    kind, args, kwargs, shape = _random_case(seed)
    rng = np.random.default_rng(100 + seed)
    X = rng.standard_normal(shape).astype(dtype)
    try:
        out_shape = _torch_shape(kind, args, kwargs, shape)
    except RuntimeError:  # torch refuses (an output size below 1): so must nnlab
        with pytest.raises(ConfigError):
            getattr(nn, kind)(*args, **kwargs)(X)
        return
    G = rng.standard_normal(out_shape).astype(dtype)
    expected = _torch_run(kind, args, kwargs, X, G)
    got = _nnlab_run(getattr(nn, kind)(*args, **kwargs), X, G)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for a, b in zip(got, expected):
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# (layer type, positional arguments, keyword arguments, input shape): the cases the options are about
CASES = [
    ("AvgPool1d", (2, 2, 1, True, True), {}, (1, 1, 5)),  # the ceil window overhangs: padding counts, overhang not
    ("AvgPool1d", (2, 2, 1, True, False), {}, (2, 3, 5)),
    ("AvgPool1d", (3, 2, 0, True), {}, (1, 2, 2)),  # ceil mode: one window larger than the input
    ("AvgPool1d", (3, 2, 1, False, False), {}, (2, 2, 9)),
    ("AvgPool2d", ((3, 2), (2, 3), (1, 1), True, True), {}, (2, 3, 8, 7)),
    ("AvgPool2d", ((3, 2), (2, 3), (1, 1), True, False), {}, (2, 3, 8, 7)),
    ("AvgPool2d", (3, 2, 1, False, True, 5), {}, (2, 2, 7, 9)),
    ("AvgPool2d", (2, 1, 1, True, False, -3), {}, (1, 2, 5, 4)),  # torch takes a negative divisor too
    ("MaxPool1d", (3, 2, 1), {"ceil_mode": True}, (2, 3, 10)),
    ("MaxPool1d", (2, 3, 1, 2), {"ceil_mode": True}, (2, 2, 9)),
    ("MaxPool2d", (3, 2, 1, 2), {}, (2, 3, 9, 8)),
    ("MaxPool2d", ((2, 3), (3, 2), (1, 0), (2, 1)), {"ceil_mode": True}, (2, 3, 9, 8)),
    ("MaxPool2d", (2, 2), {"ceil_mode": True}, (2, 4, 7, 9)),  # non-overlapping: the numba kernels with JIT on
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, args, kwargs, shape", CASES)
def test_cases_match_torch_and_pass_gradcheck(kind, args, kwargs, shape, dtype):
    rng = np.random.default_rng(len(shape) + sum(shape))
    X = rng.standard_normal(shape).astype(dtype)
    layer = getattr(nn, kind)(*args, **kwargs)
    G = rng.standard_normal(_torch_shape(kind, args, kwargs, shape)).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for a, b in zip(_nnlab_run(layer, X, G), _torch_run(kind, args, kwargs, X, G)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    if dtype == np.float64:
        x = nnlab.tensor(X, requires_grad=True, dtype="float64")
        assert nnlab.gradcheck(layer, [x])


def test_ceil_mode_takes_torchs_last_window_rule():
    # 5 + 2·1 padding, kernel 2, stride 2: ceil gives 4 windows, but the 4th would start in the right padding
    assert output_shape((5,), (2,), (2,), (1,), ((1, 1),), "t", ceil_mode=True) == (3,)
    assert output_shape((6,), (2,), (2,), (1,), ((0, 0),), "t", ceil_mode=True) == (3,)
    assert output_shape((7,), (2,), (2,), (1,), ((0, 0),), "t", ceil_mode=True) == (4,)
    y = nn.AvgPool1d(2, 2, 1, ceil_mode=True)(np.arange(1.0, 6.0).reshape(1, 1, 5))
    np.testing.assert_allclose(y.data, [[[0.5, 2.5, 4.5]]])


@pytest.mark.skipif(not _jit.available(pool._KERNELS), reason="numba is not installed")
@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 9, 7), 2, None), ((2, 5, 11), 3, 3)])
def test_ceil_mode_max_pooling_gives_the_same_bits_with_the_kernels(shape, kernel, stride, monkeypatch):
    X = np.maximum(np.random.default_rng(0).standard_normal(shape), 0).astype(np.float32)  # ties at zero
    runs = []
    for jit in ("0", "1"):
        monkeypatch.setenv(_jit.JIT_ENV, jit)
        x = nnlab.tensor(X, requires_grad=True)
        y = pool.max_pool(x, kernel, stride, 1, ceil_mode=True)
        y.backward(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
        runs.append((y.data, x.grad))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_the_kernels_run_for_undilated_pooling_only(monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, "1")
    Xp = np.zeros((2, 8, 8, 3), np.float32)
    if not _jit.available(pool._KERNELS):
        pytest.skip("numba is not installed")
    assert pool._pool_kernels(Xp, (2, 2), (2, 2), (1, 1)) is not None
    assert pool._pool_kernels(Xp, (2, 2), (4, 4), (2, 1)) is None


def test_relu_then_dilated_max_pool_is_not_reordered():
    """A dilated window of padding only is −∞ after the ReLU and 0 before it: Sequential keeps the order."""
    X = np.full((1, 1, 1), 0.5)
    model = nn.Sequential(nn.ReLU(), nn.MaxPool1d(2, 1, 1, 2))
    assert np.isneginf(model(X).data).all()
    assert model(X).data.tolist() == torch.nn.MaxPool1d(2, 1, 1, 2)(torch.relu(torch.tensor(X))).tolist()


@pytest.mark.parametrize("build, match", [
    (lambda: nn.MaxPool2d(2, ceil_mode="yes"), r"MaxPool2d: ceil_mode must be true or false, got 'yes'"),
    (lambda: nn.AvgPool1d(2, ceil_mode=1), r"AvgPool1d: ceil_mode must be true or false, got 1"),
    (lambda: nn.AvgPool2d(2, count_include_pad=None), r"count_include_pad must be true or false, got None"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), r"AvgPool2d: divisor_override must be a nonzero integer .*got 0"),
    (lambda: nn.AvgPool2d(2, divisor_override=1.5), r"divisor_override must be an integer, got 1.5"),
    (lambda: nn.MaxPool1d(2, dilation=0), r"MaxPool1d: dilation must be an integer >= 1 .*got 0"),
    (lambda: nn.MaxPool2d(3, dilation=(1, 2, 3)), r"dilation must be .*got \(1, 2, 3\)"),
    (lambda: nn.AvgPool2d(3, padding=2), r"AvgPool2d: padding must be at most half the kernel size \(3, 3\), got 2"),
    (lambda: nn.MaxPool1d(2, 2, 0, 1, False, True), r"positional argument"),  # torch's 5th is return_indices
    (lambda: pool.avg_pool(np.zeros((1, 1, 4)), 2, divisor_override=0), r"avg_pool: divisor_override .*got 0"),
    (lambda: pool.max_pool(np.zeros((1, 1, 4)), 2, ceil_mode=None), r"max_pool: ceil_mode must be true or false"),
])
def test_bad_options_are_refused(build, match):
    with pytest.raises((ConfigError, TypeError), match=match):
        build()


def test_avgpool1d_has_torchs_signature():
    with pytest.raises(TypeError, match="divisor_override"):
        nn.AvgPool1d(2, divisor_override=2)
    assert nn.AvgPool1d(2, 1, 1, True, False).count_include_pad is False  # torch's positional order


def test_torch_refuses_what_nnlab_refuses():
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        torch.nn.AvgPool2d(2, divisor_override=0)(torch.zeros(1, 1, 4, 4))
    with pytest.raises(RuntimeError, match="at most half"):
        torch.nn.MaxPool1d(2, padding=2)(torch.zeros(1, 1, 4))
    with pytest.raises(ConfigError, match="smaller than the kernel"):
        nn.MaxPool1d(3, dilation=3)(np.zeros((1, 1, 5)))
    with pytest.raises(RuntimeError, match="output size"):
        torch.nn.MaxPool1d(3, dilation=3)(torch.zeros(1, 1, 5))


LAYERS = [
    nn.MaxPool1d(3, 2, 1, 2, ceil_mode=True),
    nn.MaxPool2d((3, 2), 1, (1, 0), dilation=(1, 2)),
    nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    nn.AvgPool2d(2, 1, 1, ceil_mode=True, divisor_override=3),
]


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_options_round_trip_through_specs_and_model_files(layer, tmp_path):
    spec = nn.to_spec(layer)
    copy = nn.from_spec(spec)
    assert repr(copy) == repr(layer) and copy.spec_args() == layer.spec_args()
    shape = (1, 2, 12) if layer.dims == 1 else (1, 2, 4, 5)
    model = nn.Sequential(nn.Unflatten(1, shape[1:]), layer, nn.Flatten())
    nnlab.save(model, tmp_path / "m.nnlab")
    loaded = nnlab.load(tmp_path / "m.nnlab")
    assert repr(loaded[1]) == repr(layer)
    X = np.random.default_rng(0).standard_normal((3, int(np.prod(shape)))).astype(np.float32)
    np.testing.assert_array_equal(loaded(X).data, model(X).data)


def test_repr_shows_the_options_that_differ_from_the_defaults():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.MaxPool1d(3, 2, 1, 2, ceil_mode=True)) == (
        "MaxPool1d(kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), ceil_mode=True)")
    assert repr(nn.AvgPool2d(2, count_include_pad=False, divisor_override=3)) == (
        "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), count_include_pad=False, divisor_override=3)")


def test_old_specs_without_the_options_still_load():
    layer = nn.from_spec({"type": "AvgPool2d", "args": {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]}})
    assert (layer.ceil_mode, layer.count_include_pad, layer.divisor_override) == (False, True, None)


def test_cli_model_layers_take_the_options():
    from nnlab.cli.build import _layers_model

    layers = [{"type": "Unflatten", "dim": 1, "unflattened_size": [1, 7, 7]},
              {"type": "MaxPool2d", "kernel_size": 2, "ceil_mode": True, "dilation": 1},
              {"type": "AvgPool2d", "kernel_size": 2, "padding": 1, "count_include_pad": False, "divisor_override": 2},
              {"type": "Flatten"}]
    model = _layers_model(layers, 49, 9)  # 7×7 → 4×4 (ceil) → 3×3
    assert model[1].ceil_mode and model[2].divisor_override == 2
    with pytest.raises(ConfigError, match="model.layers: .*ceil_mode must be true or false"):
        _layers_model([dict(layers[0]), {"type": "MaxPool2d", "kernel_size": 2, "ceil_mode": "on"}], 49, 9)


onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ONNX_LAYERS = [
    nn.MaxPool1d(3, 2, 1, ceil_mode=True),
    nn.MaxPool1d(2, 3, 1, 2, ceil_mode=True),
    nn.MaxPool2d((3, 2), (2, 3), (1, 1), dilation=(2, 1), ceil_mode=True),
    nn.AvgPool1d(2, 2, 1, ceil_mode=True),
    nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    nn.AvgPool2d((3, 2), (2, 3), (1, 1), ceil_mode=True, count_include_pad=True),
    nn.AvgPool2d(3, 2, 1, count_include_pad=False),
]


@pytest.mark.parametrize("layer", ONNX_LAYERS, ids=repr)
def test_export_matches_onnxruntime(layer, tmp_path):
    from nnlab.onnx import export
    from nnlab.train import predict

    shape = (2, 11) if layer.dims == 1 else (2, 9, 8)
    model = nn.Sequential(nn.Unflatten(1, shape), layer, nn.Flatten())
    width = int(np.prod(shape))
    X = np.random.default_rng(0).normal(0, 2, (5, width)).astype(np.float32)
    export(model, tmp_path / "m.onnx", input_shape=(width,))
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    expected = predict(model, X)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_divisor_override_is_refused_by_the_export(tmp_path):
    from nnlab.onnx import export

    model = nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.AvgPool2d(2, divisor_override=3), nn.Flatten())
    with pytest.raises(ConfigError, match=r"AvgPool2d\(divisor_override=3\) has no ONNX form"):
        export(model, tmp_path / "m.onnx", input_shape=(16,))
    assert not (tmp_path / "m.onnx").exists()
