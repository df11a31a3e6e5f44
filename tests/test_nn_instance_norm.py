"""InstanceNorm1d, InstanceNorm2d and F.instance_norm against torch 2.13: forward and backward in training and eval
mode, running statistics over several steps, gradcheck, dtypes, argument errors, state dicts and model files."""

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
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# (layer class, input shape): batched and unbatched, one and two spatial axes
SHAPES = [("InstanceNorm1d", (4, 3, 7)), ("InstanceNorm1d", (3, 7)), ("InstanceNorm2d", (2, 3, 4, 5)),
          ("InstanceNorm2d", (3, 4, 5))]
# (affine, bias): none, weight and bias, weight only (torch's keyword bias=False)
AFFINE = [(False, True), (True, True), (True, False)]


def _layer(name, dtype, affine=False, bias=True, track=False, momentum=0.1, eps=1e-3):
    layer = getattr(nn, name)(3, eps, momentum, affine, track, bias=bias, dtype=dtype)
    rng = np.random.default_rng(7)
    for p in layer.parameters():
        p.data[...] = rng.normal(1.0, 0.5, p.data.shape)
    twin = getattr(torch.nn, name)(3, eps, momentum, affine, track, bias=bias).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        for key, value in layer.state_dict().items():
            getattr(twin, key).copy_(torch.from_numpy(np.array(value)))
    return layer, twin


def _compare(layer, twin, shape, dtype, seed=0):
    """Output and the gradients of input and every parameter, for a random output weighting."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.5, 2.0, shape).astype(dtype)
    G = rng.normal(0, 1, shape).astype(dtype)
    for p in layer.parameters():
        p.grad = None
    twin.zero_grad()
    x = nnlab.tensor(X, requires_grad=True, dtype=dtype)
    y = layer(x)
    y.backward(G)
    tx = torch.tensor(X, requires_grad=True)
    ty = twin(tx)
    ty.backward(torch.from_numpy(G))
    assert y.dtype == dtype and x.grad.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL[dtype])
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in twin.named_parameters()]
    for name, p in layer.named_parameters():
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, getattr(twin, name).grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine, bias", AFFINE)
@pytest.mark.parametrize("name, shape", SHAPES)
def test_input_statistics_match_torch_in_training_and_eval(name, shape, affine, bias, dtype):
    layer, twin = _layer(name, dtype, affine, bias)
    _compare(layer, twin, shape, dtype)
    layer.eval(), twin.eval()  # without track_running_stats eval mode normalizes with the input's statistics too
    _compare(layer, twin, shape, dtype, seed=1)
    assert layer.running_mean is None and "running_mean" not in layer.state_dict()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", [0.1, 0.35, None])
@pytest.mark.parametrize("name, shape", SHAPES)
def test_running_statistics_follow_torch_over_several_steps(name, shape, momentum, dtype):
    layer, twin = _layer(name, dtype, affine=True, track=True, momentum=momentum)
    for step in range(4):
        _compare(layer, twin, shape, dtype, seed=10 + step)
        for key in ("running_mean", "running_var"):
            assert getattr(layer, key).dtype == dtype
            np.testing.assert_allclose(getattr(layer, key), getattr(twin, key).numpy(), **TOL[dtype])
    if momentum is None:  # torch's instance norms pass momentum 0.0: the statistics stay at zeros and ones
        np.testing.assert_array_equal(layer.running_mean, 0.0)
        np.testing.assert_array_equal(layer.running_var, 1.0)
    else:
        assert np.abs(layer.running_mean).max() > 0.01
    assert int(layer.num_batches_tracked) == int(twin.num_batches_tracked) == 0  # neither advances it
    layer.eval(), twin.eval()
    _compare(layer, twin, shape, dtype, seed=20)  # eval: the running statistics normalize


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_input_stats", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 6), (2, 4, 3, 5)])
def test_functional_matches_torch(shape, use_input_stats, dtype):
    rng = np.random.default_rng(3)
    X, G = rng.normal(1.0, 2.0, shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    W, B = rng.normal(1.0, 0.5, 4).astype(dtype), rng.normal(0.0, 0.5, 4).astype(dtype)
    mean, var = rng.normal(0, 1, 4).astype(dtype), rng.uniform(0.5, 2.0, 4).astype(dtype)
    x, w, b = (nnlab.tensor(a, requires_grad=True, dtype=dtype) for a in (X, W, B))
    ours_mean, ours_var = mean.copy(), var.copy()
    y = F.instance_norm(x, ours_mean, ours_var, w, b, use_input_stats=use_input_stats, momentum=0.2, eps=1e-4)
    y.backward(G)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (X, W, B))
    t_mean, t_var = torch.tensor(mean), torch.tensor(var)
    ty = TF.instance_norm(tx, t_mean, t_var, tw, tb, use_input_stats=use_input_stats, momentum=0.2, eps=1e-4)
    ty.backward(torch.from_numpy(G))
    assert y.dtype == dtype
    for ours, theirs in ((y.data, ty), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad),
                         (ours_mean, t_mean), (ours_var, t_var)):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs.detach().numpy(), **TOL[dtype])
    plain = F.instance_norm(X)  # no weight, no statistics, an array input
    np.testing.assert_allclose(plain.data, TF.instance_norm(torch.tensor(X)).numpy(), **TOL[dtype])


def test_the_batch_statistics_are_one_fused_node():
    layer = nn.InstanceNorm1d(4, affine=True)
    x = nnlab.tensor(np.random.default_rng(0).normal(size=(2, 4, 5)), requires_grad=True)
    y = layer(x)
    assert y._parents[0] is x and list(y._parents[1:]) == list(layer.parameters())


def test_gradcheck_float64():
    rng = np.random.default_rng(4)
    x = nnlab.tensor(rng.normal(size=(2, 3, 5)), requires_grad=True, dtype=F64)
    x2 = nnlab.tensor(rng.normal(size=(2, 3, 2, 3)), requires_grad=True, dtype=F64)
    w = nnlab.tensor(rng.normal(1, 0.5, 3), requires_grad=True, dtype=F64)
    b = nnlab.tensor(rng.normal(size=3), requires_grad=True, dtype=F64)
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2, 3)
    assert nnlab.gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [x, w, b])
    assert nnlab.gradcheck(lambda x2, w, b: F.instance_norm(x2, weight=w, bias=b, eps=0.1), [x2, w, b])
    assert nnlab.gradcheck(lambda x: F.instance_norm(x), [x2])
    assert nnlab.gradcheck(lambda x, w, b: F.instance_norm(x, mean, var, w, b, use_input_stats=False), [x, w, b])
    layer = nn.InstanceNorm2d(3, affine=True, dtype=F64)
    layer.weight.data[...], layer.bias.data[...] = w.data, b.data
    single = nnlab.tensor(rng.normal(size=(3, 2, 4)), requires_grad=True, dtype=F64)
    assert nnlab.gradcheck(lambda x: layer(x), [single])  # unbatched: through the batch axis added and removed


def test_float32_is_kept():
    layer = nn.InstanceNorm1d(2, affine=True, track_running_stats=True)
    y = layer(np.random.default_rng(0).normal(size=(3, 2, 4)))  # float64 data: computed in the layer's float32
    assert y.dtype == np.float32 and layer.running_mean.dtype == layer.running_var.dtype == np.float32
    layer.eval()
    assert layer(nnlab.tensor(np.ones((3, 2, 4)), dtype=F64)).dtype == np.float32
    x = nnlab.tensor(np.ones((2, 2, 3)), requires_grad=True)
    F.instance_norm(x, weight=nnlab.tensor([1.0, 2.0])).sum().backward()
    assert x.grad.dtype == np.float32
    assert nn.InstanceNorm2d(2, dtype=F64)(np.ones((1, 2, 2, 2))).dtype == F64
    assert F.instance_norm(np.arange(6).reshape(1, 2, 3)).dtype == np.float32  # integers compute in float32


def test_argument_and_shape_errors():
    with pytest.raises(ConfigError, match=r"InstanceNorm1d expects \(N, C, L\) or \(C, L\) input, got 4-D"):
        nn.InstanceNorm1d(3)(np.ones((2, 3, 4, 5)))
    with pytest.raises(ConfigError, match=r"InstanceNorm2d expects \(N, C, H, W\) or \(C, H, W\) input, got 2-D"):
        nn.InstanceNorm2d(3)(np.ones((3, 4)))
    with pytest.raises(ConfigError, match=r"expects 3 channels \(num_features\) on axis 1, got input shape \(2, 4, 5\)"):
        nn.InstanceNorm1d(3, affine=True)(np.ones((2, 4, 5)))
    with pytest.raises(ConfigError, match="expects 3 channels"):
        nn.InstanceNorm2d(3, track_running_stats=True)(np.ones((4, 2, 2)))
    with pytest.warns(UserWarning, match="4 channels do not match num_features=3"):  # torch warns too
        assert nn.InstanceNorm1d(3)(np.ones((2, 4, 5))).shape == (2, 4, 5)
    with pytest.raises(ConfigError, match=r"more than 1 spatial element when training, got input shape \(2, 3, 1\)"):
        nn.InstanceNorm1d(3)(np.ones((2, 3, 1)))
    with pytest.raises(ConfigError, match=r"momentum must be a finite number >= 0 and <= 1, got 1.5"):
        nn.InstanceNorm1d(3, momentum=1.5)
    for bad in ({"num_features": 0}, {"eps": -1.0}, {"affine": 1}, {"track_running_stats": "yes"}, {"dtype": "int32"}):
        with pytest.raises(ConfigError, match="InstanceNorm2d: " + next(iter(bad))):
            nn.InstanceNorm2d(**{"num_features": 3, **bad})
    x = np.ones((2, 3, 4))
    with pytest.raises(ConfigError, match=r"at least one spatial axis, got input shape \(2, 3\)"):
        F.instance_norm(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="use_input_stats=False .* give running_mean and running_var"):
        F.instance_norm(x, running_mean=np.zeros(3), use_input_stats=False)
    with pytest.raises(ConfigError, match=r"running_var must have shape \(3,\), got \(4,\)"):
        F.instance_norm(x, np.zeros(3), np.ones(4))
    with pytest.raises(ConfigError, match="running_mean must be a floating Tensor or ndarray"):
        F.instance_norm(x, [0.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match=r"weight must have shape \(3,\), got \(2,\)"):
        F.instance_norm(x, weight=nnlab.tensor([1.0, 1.0]))
    with pytest.raises(ConfigError, match="use_input_stats must be true or false"):
        F.instance_norm(x, use_input_stats=0)
    with pytest.raises(ConfigError, match="instance_norm: momentum must be"):
        F.instance_norm(x, momentum=None)


def test_state_dict_keys_and_repr_are_torchs():
    for kwargs in ({}, {"affine": True}, {"affine": True, "bias": False}, {"track_running_stats": True},
                   {"affine": True, "track_running_stats": True, "momentum": None}):
        ours, theirs = nn.InstanceNorm2d(5, **kwargs), torch.nn.InstanceNorm2d(5, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict()), kwargs
        assert ours.extra_repr() == theirs.extra_repr()
        for key, value in theirs.state_dict().items():
            assert ours.state_dict()[key].shape == tuple(value.shape)
    assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.shape == ()


def test_a_torch_state_dict_loads_and_gives_torchs_eval_output():
    theirs = torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    theirs(torch.randn(4, 3, 6) * 3 + 1)  # move the running statistics
    with torch.no_grad():
        theirs.weight.mul_(2.0), theirs.bias.add_(0.5)
    ours = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = np.random.default_rng(5).normal(size=(2, 3, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), **TOL[np.float32])


def test_model_file_round_trip(tmp_path):
    model = nn.Sequential(nn.Unflatten(1, (3, 4)), nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                          nn.Flatten(), nn.Linear(12, 4, rng=0),
                          nn.Unflatten(1, (1, 2, 2)), nn.InstanceNorm2d(1, eps=1e-3, momentum=None), nn.Flatten())
    x = np.random.default_rng(6).normal(size=(5, 12)).astype(np.float32)
    for _ in range(3):
        model(x)  # training steps move the running statistics
    model[1].weight.data[...] = [0.5, 2.0, -1.0]
    nnlab.save(model, tmp_path / "m.nnlab")
    loaded = nnlab.load(tmp_path / "m.nnlab")
    assert [repr(m) for m in loaded] == [repr(m) for m in model[:5]] + [
        "InstanceNorm2d(1, eps=0.001, momentum=0.0, affine=False, bias=False, track_running_stats=False)", repr(model[6])]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
        assert loaded.state_dict()[key].dtype == value.dtype
    model.eval(), loaded.eval()
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    spec = nn.to_spec(loaded)["layers"][1]
    assert spec == {"type": "InstanceNorm1d", "args": {"num_features": 3, "eps": 1e-5, "momentum": 0.1, "affine": True,
                                                       "track_running_stats": True, "bias": True, "dtype": "float32"}}
    assert nn.InstanceNorm1d.state_shapes(spec["args"]) == {"weight": (3,), "bias": (3,), "running_mean": (3,),
                                                            "running_var": (3,), "num_batches_tracked": ()}


def test_flops_and_output_shape():
    layer = nn.InstanceNorm2d(3, affine=True)
    assert layer.flops((2, 3, 4, 5)) == 7 * 2 * 3 * 4 * 5
    with pytest.raises(ConfigError, match="InstanceNorm2d expects"):
        layer.flops((2, 3))
