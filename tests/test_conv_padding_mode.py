"""Conv1d/Conv2d padding_mode ("zeros", "reflect", "replicate") against torch; spec, model file, ONNX."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")

CASES = [("Conv1d", (2, 3, 9), dict(padding=2, stride=2)), ("Conv1d", (2, 3, 6), dict(padding="same")),
         ("Conv2d", (2, 3, 7, 8), dict(padding=(1, 2), stride=(2, 1))), ("Conv2d", (1, 3, 5, 5), dict(padding="same",
                                                                                                  dilation=2))]


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("cls, shape, kwargs", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_gradients_match_torch(mode, cls, shape, kwargs, dtype):
    ours = getattr(nn, cls)(3, 4, 3, padding_mode=mode, rng=0, dtype=dtype, **kwargs)
    theirs = getattr(torch.nn, cls)(3, 4, 3, padding_mode=mode, dtype=getattr(torch, np.dtype(dtype).name), **kwargs)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    xt, xr = nnlab.tensor(x, requires_grad=True, dtype=dtype), torch.tensor(x, requires_grad=True)
    out, ref = ours(xt), theirs(xr)
    g = np.random.default_rng(2).standard_normal(ref.shape).astype(dtype)
    (out * nnlab.tensor(g, dtype=dtype)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **tol)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **tol)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **tol)
    assert out.dtype == dtype


def test_gradcheck_and_model_file(tmp_path):
    layer = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect", rng=0, dtype=np.float64)
    x = nnlab.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), requires_grad=True, dtype=np.float64)
    assert nnlab.gradcheck(lambda x: layer(x), [x])
    model = nn.Sequential(nn.Unflatten(1, (1, 6)), nn.Conv1d(1, 2, 3, padding=1, padding_mode="replicate", rng=0),
                          nn.Flatten(), nn.Linear(12, 2, rng=1))
    assert nn.to_spec(model)["layers"][1]["args"]["padding_mode"] == "replicate"
    nnlab.save(model, tmp_path / "m.safetensors")
    loaded = nnlab.load(tmp_path / "m.safetensors")
    X = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded(X).data, model(X).data)
    assert "padding_mode" not in nn.to_spec(nn.Conv1d(1, 2, 3))["args"]  # the default is not written


def test_onnx_export_pads_first(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    from nnlab.onnx import export

    model = nn.Sequential(nn.Unflatten(1, (1, 5, 6)), nn.Conv2d(1, 2, 3, padding=(2, 1), padding_mode="reflect", rng=0),
                          nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1, padding_mode="replicate", rng=1), nn.Flatten())
    export(model, tmp_path / "m.onnx", input_shape=(30,))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    X = np.random.default_rng(0).standard_normal((3, 30)).astype(np.float32)
    got = session.run(None, {session.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(got, model(X).data, rtol=1e-5, atol=1e-5)


def test_circular_and_unknown_modes_are_refused():
    with pytest.raises(ConfigError, match="padding_mode must be one of 'zeros', 'reflect', 'replicate'; got 'circular'"):
        nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular")
