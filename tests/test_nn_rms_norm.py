"""RMSNorm and F.rms_norm against torch 2.13: forward and backward, eps=None as the dtype's epsilon, gradcheck,
dtypes, argument errors, state dicts and model files."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

F64 = np.float64
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# (input shape, normalized_shape): rows, sequences, images; one and two axes, an int
CASES = [((8, 5), 5), ((4, 7, 6), (6,)), ((4, 7, 6), (7, 6)), ((2, 3, 4, 5), [5]), ((2, 3, 4, 5), (3, 4, 5)), ((6,), 6)]


def _pair(normalized, dtype, eps=None, affine=True):
    layer = nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine, dtype=dtype)
    if affine:
        layer.weight.data[...] = np.random.default_rng(1).normal(1.0, 0.5, layer.weight.data.shape)
    twin = torch.nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        for name, p in layer.named_parameters():
            getattr(twin, name).copy_(torch.from_numpy(p.data.copy()))
    return layer, twin


def _compare(layer, twin, shape, dtype, scale=2.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.15 * scale, scale, shape).astype(dtype)
    G = rng.normal(0, 1, shape).astype(dtype)
    x = nnlab.tensor(X, requires_grad=True, dtype=dtype)
    y = layer(x)
    # one node: its parents are the input and the weight themselves
    assert y._parents[0] is x and list(y._parents[1:]) == list(layer.parameters())
    y.backward(G)
    tx = torch.tensor(X, requires_grad=True)
    ty = twin(tx)
    ty.backward(torch.from_numpy(G))
    assert y.dtype == dtype and x.grad.dtype == dtype and y.shape == tuple(ty.shape)
    tol = dict(TOL[dtype], atol=TOL[dtype]["atol"] * max(1.0, float(np.abs(tx.grad.numpy()).max())))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **tol)
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in twin.named_parameters()]
    for name, p in layer.named_parameters():
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, getattr(twin, name).grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps, affine", [(None, True), (1e-3, True), (None, False), (0.0, True)])
@pytest.mark.parametrize("shape, normalized", CASES)
def test_rms_norm_matches_torch(shape, normalized, eps, affine, dtype):
    layer, twin = _pair(normalized, dtype, eps, affine)
    _compare(layer, twin, shape, dtype)
    layer.eval(), twin.eval()  # no running statistics: the same in eval mode
    _compare(layer, twin, shape, dtype, seed=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eps_none_is_the_machine_epsilon_of_the_dtype(dtype):
    # values of 1e-4: mean(x²) ~ 1e-8, so float32's ε = 1.19e-7 dominates, float64's 2.2e-16 does not
    layer, twin = _pair(8, dtype)
    _compare(layer, twin, (5, 8), dtype, scale=1e-4)
    assert layer.eps is None and layer.resolved_eps() == float(torch.finfo(TORCH_DTYPE[dtype]).eps)
    x = np.full((1, 8), 1e-4, dtype)
    expected = 1e-4 / np.sqrt(1e-8 + np.finfo(dtype).eps)
    np.testing.assert_allclose(F.rms_norm(x, 8).data, expected, rtol=1e-5)
    # a float64 batch into a float32 layer is computed in float32, with float32's ε
    assert nn.RMSNorm(8, elementwise_affine=False)(x.astype(F64)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_matches_torch(dtype):
    rng = np.random.default_rng(2)
    X, G, W = rng.normal(size=(3, 4, 5)).astype(dtype), rng.normal(size=(3, 4, 5)).astype(dtype), \
        rng.normal(1, 0.3, (4, 5)).astype(dtype)
    for weight, eps in ((True, None), (True, 1e-2), (False, 1e-6)):
        x = nnlab.tensor(X, requires_grad=True, dtype=dtype)
        w = nnlab.tensor(W, requires_grad=True, dtype=dtype) if weight else None
        y = F.rms_norm(x, (4, 5), w, eps=eps)
        y.backward(G)
        tx = torch.tensor(X, requires_grad=True)
        tw = torch.tensor(W, requires_grad=True) if weight else None
        ty = TF.rms_norm(tx, (4, 5), tw, eps=eps)
        ty.backward(torch.from_numpy(G))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL[dtype])
        if weight:
            np.testing.assert_allclose(w.grad, tw.grad.numpy(), **TOL[dtype])
    assert F.rms_norm(X, [5]).dtype == dtype  # an ndarray input keeps its floating dtype


def test_gradcheck_float64():
    rng = np.random.default_rng(3)
    x = nnlab.tensor(rng.normal(size=(3, 2, 4)), requires_grad=True, dtype=F64)
    w = nnlab.tensor(rng.normal(1, 0.5, (2, 4)), requires_grad=True, dtype=F64)
    w1 = nnlab.tensor(rng.normal(1, 0.5, 4), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x, w: F.rms_norm(x, (2, 4), w), [x, w])
    assert nnlab.gradcheck(lambda x, w: F.rms_norm(x, 4, w, eps=0.5), [x, w1])
    assert nnlab.gradcheck(lambda x: F.rms_norm(x, 4), [x])
    layer = nn.RMSNorm(4, dtype=F64)
    layer.weight.data[...] = w1.data
    assert nnlab.gradcheck(lambda x: layer(x), [x])


def test_output_is_not_the_saved_normalized_values():
    # without a weight the output is x̂ itself unless copied: an in-place write must not change the gradient
    x = nnlab.tensor(np.random.default_rng(4).normal(size=(2, 3)), requires_grad=True, dtype=F64)
    y = F.rms_norm(x, 3)
    twin = nnlab.tensor(x.data.copy(), requires_grad=True, dtype=F64)
    expected = F.rms_norm(twin, 3)
    g = np.random.default_rng(5).normal(size=(2, 3))
    y.data[...] = 100.0
    y.backward(g)
    expected.backward(g)
    np.testing.assert_allclose(x.grad, twin.grad)


def test_float32_is_kept():
    layer = nn.RMSNorm((2, 3))
    x = nnlab.tensor(np.ones((4, 2, 3)), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == layer.weight.grad.dtype == np.float32
    assert layer(np.ones((4, 2, 3))).dtype == np.float32
    assert F.rms_norm(np.arange(6).reshape(2, 3), 3).dtype == np.float32  # integers compute in float32


def test_argument_and_shape_errors():
    with pytest.raises(ConfigError, match=r"RMSNorm: normalized_shape=\(4,\) must equal the input's trailing shape, "
                                          r"got input shape \(2, 5\)"):
        nn.RMSNorm(4)(np.ones((2, 5)))
    with pytest.raises(ConfigError, match=r"rms_norm: normalized_shape=\(2, 3\) must equal"):
        F.rms_norm(np.ones((3,)), (2, 3))
    with pytest.raises(ConfigError, match=r"rms_norm: weight must have shape \(3,\), got \(4,\)"):
        F.rms_norm(np.ones((2, 3)), 3, nnlab.tensor(np.ones(4)))
    with pytest.raises(ConfigError, match="RMSNorm: eps must be a finite number >= 0, got -1"):
        nn.RMSNorm(4, eps=-1)
    with pytest.raises(ConfigError, match="rms_norm: eps must be a finite number >= 0, got 'small'"):
        F.rms_norm(np.ones((2, 3)), 3, eps="small")
    with pytest.raises(ConfigError, match="RMSNorm: normalized_shape must be an int or a non-empty list of ints"):
        nn.RMSNorm([])
    with pytest.raises(ConfigError, match="RMSNorm: normalized_shape must be an integer >= 1, got 0"):
        nn.RMSNorm((3, 0))
    with pytest.raises(ConfigError, match="RMSNorm: elementwise_affine must be true or false"):
        nn.RMSNorm(3, elementwise_affine=None)
    with pytest.raises(ConfigError, match="RMSNorm: dtype must be floating"):
        nn.RMSNorm(3, dtype="int64")


def test_state_dict_keys_and_repr_are_torchs():
    for args in ((4,), ((2, 3), 1e-6), ((2, 3), None, False)):
        ours, theirs = nn.RMSNorm(*args), torch.nn.RMSNorm(*args)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert ours.extra_repr() == theirs.extra_repr()
        assert {k: v.shape for k, v in ours.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        np.testing.assert_array_equal(ours.weight.data if ours.weight is not None else 0,
                                      theirs.weight.detach().numpy() if theirs.weight is not None else 0)


def test_model_file_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(6, 6, rng=0), nn.RMSNorm(6), nn.ReLU(), nn.Unflatten(1, (2, 3)),
                          nn.RMSNorm((2, 3), eps=1e-3, elementwise_affine=False), nn.Flatten(),
                          nn.RMSNorm(6, eps=0.25, dtype=np.float32))
    model[1].weight.data[...] = np.linspace(-1, 2, 6)
    nnlab.save(model, tmp_path / "m.nnlab")
    loaded = nnlab.load(tmp_path / "m.nnlab")
    assert [repr(m) for m in loaded] == [repr(m) for m in model]
    assert loaded[1].eps is None and loaded[4].eps == 1e-3
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    x = np.random.default_rng(6).normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    specs = nn.to_spec(loaded)["layers"]
    assert specs[1] == {"type": "RMSNorm", "args": {"normalized_shape": [6], "elementwise_affine": True,
                                                    "dtype": "float32"}}  # eps None: the default, left out
    assert nn.RMSNorm.state_shapes(specs[4]["args"]) == {}
    assert nn.RMSNorm.state_shapes(specs[1]["args"]) == {"weight": (6,)}


def test_flops_and_output_shape():
    assert nn.RMSNorm(5).flops((2, 3, 5)) == 4 * 30
    assert nn.RMSNorm(5, elementwise_affine=False).flops((2, 5)) == 3 * 10
    with pytest.raises(ConfigError, match="RMSNorm: normalized_shape"):
        nn.RMSNorm(5).flops((2, 4))
