"""LayerNorm, GroupNorm and functional layer_norm / group_norm / normalize against torch: forward, backward, errors.

The layers' comparisons run twice: ``NNLAB_JIT=0`` (the NumPy reference) and ``1`` (the numba kernels of
``ops/_norm_fast.py`` at every size; the reference again where numba is not installed).
"""

import json

import numpy as np
import pytest

import nnlab
from nnlab import _jit, nn
from nnlab.errors import ConfigError
from nnlab.nn import functional as F
from nnlab.nn.shapes import row_output_shape
from nnlab.ops import _norm_fast

torch = pytest.importorskip("torch")

F64 = np.float64
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# (input shape, normalized_shape): rows, sequences (N, L, D), images (N, C, H, W); one and two axes
LAYER_CASES = [((8, 5), (5,)), ((4, 7, 6), (6,)), ((4, 7, 6), (7, 6)), ((2, 3, 4, 5), (5,)), ((2, 3, 4, 5), (4, 5))]
# (input shape, num_groups): rows (N, C), sequences (N, C, L), images; one group, one channel a group
GROUP_CASES = [((8, 6), 3), ((4, 6, 7), 2), ((2, 4, 5, 3), 2), ((2, 4, 5, 3), 1), ((3, 4, 2, 3), 4)]


JIT = pytest.mark.parametrize("jit", ["0", "1"])
NUMBA = pytest.mark.skipif(not _jit.available(_jit.OPS_KERNELS), reason="numba is not installed")


def _randomize(layer, rng):
    for p in layer.parameters():
        p.data[...] = rng.normal(1.0, 0.5, p.data.shape)
    return layer


def _torch_twin(layer, torch_layer, dtype):
    torch_layer = torch_layer.to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        for name, p in layer.named_parameters():
            getattr(torch_layer, name).copy_(torch.from_numpy(p.data.copy()))
    return torch_layer


def _compare(layer, torch_layer, shape, dtype, seed=0):
    """Output and the gradients of input and every parameter, against torch, for a random output weighting."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.5, 2.0, shape).astype(dtype)
    G = rng.normal(0, 1, shape).astype(dtype)
    x = nnlab.tensor(X, requires_grad=True, dtype=dtype)
    y = layer(x)
    # one node, not a chain of primitives: its parents are the input and the parameters themselves
    assert y._parents[0] is x and list(y._parents[1:]) == list(layer.parameters())
    (y * nnlab.tensor(G, dtype=dtype)).sum().backward()
    tx = torch.tensor(X, requires_grad=True)
    ty = torch_layer(tx)
    ty.backward(torch.from_numpy(G))
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL[dtype])
    names = [n for n, _ in layer.named_parameters()]
    assert names == [n for n, _ in torch_layer.named_parameters()]
    for name, p in layer.named_parameters():
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, getattr(torch_layer, name).grad.numpy(), **TOL[dtype])


@JIT
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, normalized", LAYER_CASES)
def test_layer_norm_matches_torch(shape, normalized, dtype, jit, monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    layer = _randomize(nn.LayerNorm(normalized, eps=1e-4, dtype=dtype), np.random.default_rng(1))
    twin = _torch_twin(layer, torch.nn.LayerNorm(normalized, eps=1e-4), dtype)
    _compare(layer, twin, shape, dtype)


@JIT
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, groups", GROUP_CASES)
def test_group_norm_matches_torch(shape, groups, dtype, jit, monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    layer = _randomize(nn.GroupNorm(groups, shape[1], eps=1e-3, dtype=dtype), np.random.default_rng(2))
    twin = _torch_twin(layer, torch.nn.GroupNorm(groups, shape[1], eps=1e-3), dtype)
    _compare(layer, twin, shape, dtype)


@JIT
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_affine_and_without_bias(dtype, jit, monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    for layer, twin, shape in [
        (nn.LayerNorm((3, 4), elementwise_affine=False, dtype=dtype),
         torch.nn.LayerNorm((3, 4), elementwise_affine=False), (5, 3, 4)),
        (nn.LayerNorm(4, bias=False, dtype=dtype), torch.nn.LayerNorm(4, bias=False), (5, 3, 4)),
        (nn.GroupNorm(2, 4, affine=False, dtype=dtype), torch.nn.GroupNorm(2, 4, affine=False), (3, 4, 5)),
        (nn.GroupNorm(2, 4, bias=False, dtype=dtype), torch.nn.GroupNorm(2, 4, bias=False), (3, 4, 5)),
    ]:
        _randomize(layer, np.random.default_rng(3))
        _compare(layer, _torch_twin(layer, twin, dtype), shape, dtype)
        assert layer.bias is None and (layer.weight is None) == (twin.weight is None)


def _run(jit, monkeypatch, make, shape, dtype, x_grad=True):
    """Output and gradients of one forward and backward of the layer ``make(dtype)`` under ``NNLAB_JIT=jit``."""
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    rng = np.random.default_rng(12)
    layer = _randomize(make(dtype), rng)
    x = nnlab.tensor(rng.normal(1.0, 3.0, shape), requires_grad=x_grad, dtype=dtype)
    y = layer(x)
    y.backward(rng.normal(size=shape).astype(dtype))
    return [y.data, x.grad] + [p.grad for p in layer.parameters()]


@NUMBA
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_grad", [True, False])
@pytest.mark.parametrize("make, shape", [
    (lambda d: nn.LayerNorm((6, 5), dtype=d), (4, 3, 6, 5)), (lambda d: nn.LayerNorm(7, bias=False, dtype=d), (5, 7)),
    (lambda d: nn.GroupNorm(3, 6, dtype=d), (4, 6, 5)), (lambda d: nn.GroupNorm(2, 4, bias=False, dtype=d), (3, 4, 2, 3)),
])
def test_kernels_agree_with_the_numpy_passes(make, shape, dtype, x_grad, monkeypatch):
    reference = _run("0", monkeypatch, make, shape, dtype, x_grad)
    kernel = _run("1", monkeypatch, make, shape, dtype, x_grad)
    assert _norm_fast.kernels(np.zeros((2, 3), dtype)) is not None  # the kernels ran
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(reference, kernel, strict=True):
        if a is None:
            assert b is None
            continue
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol * max(1.0, float(np.abs(a).max())))


@NUMBA
def test_kernel_gradients_pass_gradcheck(monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, "1")
    rng = np.random.default_rng(13)
    x = nnlab.tensor(rng.normal(size=(3, 4, 5)), requires_grad=True, dtype=F64)
    w = nnlab.tensor(rng.normal(size=4), requires_grad=True, dtype=F64)
    b = nnlab.tensor(rng.normal(size=4), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    w5 = nnlab.tensor(rng.normal(size=5), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x, w: F.layer_norm(x, 5, w), [x, w5])


def test_parameters_are_torch_named_and_initialized():
    ln, gn = nn.LayerNorm((2, 3)), nn.GroupNorm(2, 6)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"] == [n for n, _ in gn.named_parameters()]
    assert ln.weight.shape == (2, 3) and gn.weight.shape == (6,)
    for layer in (ln, gn):
        assert layer.weight.dtype == np.float32
        np.testing.assert_array_equal(layer.weight.data, 1)
        np.testing.assert_array_equal(layer.bias.data, 0)
    assert list(nn.LayerNorm(3, elementwise_affine=False).parameters()) == []
    assert [n for n, _ in nn.GroupNorm(1, 2, bias=False).named_parameters()] == ["weight"]


def test_repr_is_torch_repr():
    for ours, theirs in [
        (nn.LayerNorm(4), torch.nn.LayerNorm(4)),
        (nn.LayerNorm([3, 4], eps=1e-3, bias=False), torch.nn.LayerNorm([3, 4], eps=1e-3, bias=False)),
        (nn.LayerNorm(4, elementwise_affine=False), torch.nn.LayerNorm(4, elementwise_affine=False)),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (nn.GroupNorm(2, 4, 1e-3, affine=False), torch.nn.GroupNorm(2, 4, 1e-3, affine=False)),
        (nn.GroupNorm(1, 4, bias=False), torch.nn.GroupNorm(1, 4, bias=False)),
    ]:
        assert repr(ours) == repr(theirs)


def test_float32_layer_keeps_float32_and_eval_equals_train():
    layer = nn.LayerNorm(4)
    X = np.random.default_rng(4).normal(size=(3, 4))  # float64 data
    y = layer(X)
    assert y.dtype == np.float32
    assert nn.GroupNorm(2, 4, affine=False)(X).dtype == np.float32
    layer.eval()
    np.testing.assert_array_equal(layer(X).numpy(), y.numpy())  # no running statistics


@pytest.mark.parametrize("shape, normalized", LAYER_CASES[:3])
def test_layer_norm_gradcheck(shape, normalized):
    rng = np.random.default_rng(5)
    x = nnlab.tensor(rng.normal(size=shape), requires_grad=True, dtype=F64)
    w = nnlab.tensor(rng.normal(size=normalized), requires_grad=True, dtype=F64)
    b = nnlab.tensor(rng.normal(size=normalized), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-3), [x, w, b])
    assert nnlab.gradcheck(lambda x: F.layer_norm(x, normalized), [x])


@pytest.mark.parametrize("shape, groups", GROUP_CASES[:3])
def test_group_norm_gradcheck(shape, groups):
    rng = np.random.default_rng(6)
    x = nnlab.tensor(rng.normal(size=shape), requires_grad=True, dtype=F64)
    w = nnlab.tensor(rng.normal(size=shape[1]), requires_grad=True, dtype=F64)
    b = nnlab.tensor(rng.normal(size=shape[1]), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-3), [x, w, b])
    assert nnlab.gradcheck(lambda x: F.group_norm(x, groups), [x])


def test_functional_forms_match_torch():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3, 4, 5)).astype(np.float32)
    W = rng.normal(size=5).astype(np.float32)
    tX = torch.from_numpy(X)
    # weight only, bias only (torch allows either alone)
    got = F.layer_norm(X, 5, weight=nnlab.tensor(W)).numpy()
    np.testing.assert_allclose(got, torch.nn.functional.layer_norm(tX, [5], torch.from_numpy(W)), rtol=1e-5, atol=1e-5)
    got = F.layer_norm(X, [5], bias=nnlab.tensor(W)).numpy()
    np.testing.assert_allclose(got, torch.nn.functional.layer_norm(tX, [5], None, torch.from_numpy(W)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(F.group_norm(X, 2).numpy(), torch.nn.functional.group_norm(tX, 2), rtol=1e-5, atol=1e-5)
    assert nnlab.functional.layer_norm is F.layer_norm and nnlab.functional.normalize is F.normalize


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 2)])
def test_normalize_matches_torch(p, dim):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3, 4, 5))
    X[0, :, 0] = 0.0  # a zero vector along dim 1: the ε clamp
    G = rng.normal(size=X.shape)
    for dtype in (np.float32, np.float64):
        x = nnlab.tensor(X, requires_grad=True, dtype=dtype)
        y = F.normalize(x, p=p, dim=dim)
        (y * nnlab.tensor(G, dtype=dtype)).sum().backward()
        tx = torch.tensor(X.astype(dtype), requires_grad=True)
        ty = torch.nn.functional.normalize(tx, p=p, dim=dim)
        ty.backward(torch.from_numpy(G.astype(dtype)))
        assert y.dtype == dtype
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL[dtype])
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL[dtype])


def test_normalize_gradcheck():
    x = nnlab.tensor(np.random.default_rng(9).normal(size=(4, 3)), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x: F.normalize(x), [x])
    assert nnlab.gradcheck(lambda x: F.normalize(x, p=3.0, dim=0), [x])


def test_spec_save_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Unflatten(1, (2, 6)), nn.GroupNorm(2, 2, eps=1e-3), nn.LayerNorm(6, bias=False),
                          nn.Flatten(), nn.Linear(12, 3))
    _randomize(model, np.random.default_rng(10))
    spec = nn.to_spec(model)
    assert spec["layers"][2]["args"] == {"normalized_shape": [6], "eps": 1e-5, "elementwise_affine": True,
                                         "bias": False, "dtype": "float32"}
    assert nn.to_spec(nn.from_spec(json.loads(json.dumps(spec)))) == spec
    path = tmp_path / "m.safetensors"
    nnlab.save(model, path)
    loaded = nnlab.load(path)
    X = np.random.default_rng(11).normal(size=(4, 12)).astype(np.float32)
    model.eval()
    np.testing.assert_array_equal(loaded(X).numpy(), model(X).numpy())
    with pytest.raises(ConfigError, match=r"LayerNorm needs weight of shape \(7,\)"):
        nn.spec.check_state_shapes({"type": "LayerNorm", "args": {"normalized_shape": [7]}}, {"weight": (6,)})


def test_flop_counts_and_shape_rule():
    assert nn.LayerNorm(4)._count_flops((2, 3, 4)) == (7 * 24, (2, 3, 4))
    assert nn.LayerNorm(4, elementwise_affine=False)._count_flops((2, 4)) == (5 * 8, (2, 4))
    assert nn.GroupNorm(2, 4, bias=False)._count_flops((2, 4, 5)) == (6 * 40, (2, 4, 5))
    assert row_output_shape(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))) == (1, 4)
    with pytest.raises(ConfigError, match=r"layer '1': LayerNorm: normalized_shape=\(5,\)"):
        row_output_shape(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(5)))
    with pytest.raises(ConfigError, match=r"layer '1': GroupNorm: expects 6 channels"):
        row_output_shape(nn.Sequential(nn.Linear(3, 4), nn.GroupNorm(2, 6)))


def test_errors():
    with pytest.raises(ConfigError, match=r"normalized_shape=\(4,\) must equal the input's trailing shape, "
                                          r"got input shape \(2, 3\)"):
        nn.LayerNorm(4)(np.ones((2, 3)))
    with pytest.raises(ConfigError, match=r"got input shape \(3,\)"):
        nn.LayerNorm((2, 3))(np.ones(3))
    with pytest.raises(ConfigError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ConfigError, match=r"GroupNorm: expects 4 channels on axis 1, got input shape \(2, 3\)"):
        nn.GroupNorm(2, 4)(np.ones((2, 3)))
    with pytest.raises(ConfigError, match=r"at least 2 axes, got input shape \(4,\)"):
        nn.GroupNorm(2, 4)(np.ones(4))
    with pytest.raises(ConfigError, match=r"channels \(3\) must be divisible by num_groups \(2\)"):
        F.group_norm(np.ones((2, 3)), 2)
    for bad in ([], "4", (2, 0), 2.5, None):
        with pytest.raises(ConfigError, match="normalized_shape"):
            nn.LayerNorm(bad)
    with pytest.raises(ConfigError, match="eps must be"):
        nn.LayerNorm(4, eps=-1.0)
    with pytest.raises(ConfigError, match="num_groups must be"):
        nn.GroupNorm(0, 4)
    with pytest.raises(ConfigError, match="elementwise_affine must be"):
        nn.LayerNorm(4, elementwise_affine="yes")
    with pytest.raises(ConfigError, match=r"layer_norm: weight must have shape \(4,\), got \(3,\)"):
        F.layer_norm(np.ones((2, 4)), 4, weight=nnlab.ones(3))
    with pytest.raises(ConfigError, match=r"group_norm: bias must have shape \(4,\), got \(2,\)"):
        F.group_norm(np.ones((2, 4)), 2, bias=nnlab.ones(2))
    with pytest.raises(ConfigError, match="normalize: eps must be"):
        F.normalize(np.ones((2, 4)), eps=-1.0)
