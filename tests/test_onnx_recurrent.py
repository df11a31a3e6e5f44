"""ONNX export of RNN, LSTM and GRU, with onnxruntime against nnlab's eval-mode forward: every stack
nnlab builds (layers, directions, batch_first, bias, relu), the tuple's outputs and their free axes,
the placements refused, and `nnlab export` on a saved recurrent model."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import nnlab  # noqa: E402
from nnlab import nn  # noqa: E402
from nnlab.cli import main  # noqa: E402
from nnlab.errors import ConfigError  # noqa: E402
from nnlab.onnx import export  # noqa: E402
from nnlab.tensor import Tensor, no_grad  # noqa: E402

T, N, F, H = 5, 3, 4, 6  # steps, rows, input and hidden sizes
KINDS = {"rnn_tanh": (nn.RNN, {}), "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}), "lstm": (nn.LSTM, {}),
         "gru": (nn.GRU, {})}


def _layer(kind, seed=0, **settings):
    cls, extra = KINDS[kind]
    layer = cls(F, H, rng=seed, **extra, **settings)
    rng = np.random.default_rng(seed)
    for p in layer.parameters():  # away from U(±1/√H), so a swapped gate block changes the outputs clearly
        p.data[...] = rng.normal(0, 0.5, p.data.shape)
    return layer


def _flat(result) -> list:
    """nnlab's (output, h_n) or (output, (h_n, c_n)) as a list of arrays, the graph's output order."""
    if isinstance(result, tuple):
        return [a for part in result for a in _flat(part)]
    return [np.asarray(result.data)]


def _nnlab(model, x) -> list:
    was = model.training
    model.eval()  # dropout between the layers is off, as in the graph
    with no_grad():
        out = _flat(model(Tensor(x)))
    model.train(was)
    return out


def _assert_same(path, model, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})
    expected = _nnlab(model, x)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(b).max())))


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_layer_matches_onnxruntime(tmp_path, kind, num_layers, bidirectional, batch_first):
    layer = _layer(kind, seed=num_layers, num_layers=num_layers, bidirectional=bidirectional,
                   batch_first=batch_first, dropout=0.5 if num_layers > 1 else 0.0)
    path = tmp_path / "rnn.onnx"
    # one input without the graph's free first axis: (T, F) rows of a batch_first layer, else (N, F) steps
    proto = export(layer, path, input_shape=(T, F) if batch_first else (N, F))
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    free = "batch" if batch_first else "sequence"
    D = 2 if bidirectional else 1
    assert _dims(proto.graph.input[0]) == ([free, T, F] if batch_first else [free, N, F])
    states = [num_layers * D, free if batch_first else N, H]
    expected = {"output": [free, T, D * H] if batch_first else [free, N, D * H], "h_n": states}
    if kind == "lstm":
        expected["c_n"] = states
    assert {o.name: _dims(o) for o in proto.graph.output} == expected
    assert [n.op_type for n in proto.graph.node].count(type(layer).__name__) == num_layers
    rng = np.random.default_rng(7)
    # the traced size of the free axis was 2: other sizes run, as the free axis promises
    for size in (1, 7):
        _assert_same(path, layer, rng.normal(0, 1, (size, T, F) if batch_first else (size, N, F)).astype(np.float32))


@pytest.mark.parametrize("kind", list(KINDS))
def test_without_bias_and_unbatched_sequences(tmp_path, kind):
    rng = np.random.default_rng(3)
    layer = _layer(kind, bias=False, bidirectional=True, num_layers=2)
    proto = export(layer, tmp_path / "nobias.onnx", input_shape=(N, F))
    assert all(len(n.input) == 3 for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU"))  # X, W, R
    _assert_same(tmp_path / "nobias.onnx", layer, rng.normal(0, 1, (T, N, F)).astype(np.float32))
    # input_shape=(F,): a 2-D input is one unbatched sequence (L, F) for nnlab, its first axis the steps
    proto = export(layer, tmp_path / "unbatched.onnx", input_shape=(F,))
    assert _dims(proto.graph.input[0]) == ["sequence", F]
    assert _dims(proto.graph.output[1]) == [4, H]
    _assert_same(tmp_path / "unbatched.onnx", layer, rng.normal(0, 1, (T, F)).astype(np.float32))


def test_a_model_ending_with_a_recurrent_layer(tmp_path):
    rng = np.random.default_rng(4)
    model = nn.Sequential(nn.Linear(3, F, rng=0), nn.Tanh(),
                          nn.Sequential(nn.Identity(), _layer("lstm", batch_first=True, bidirectional=True)))
    proto = export(model, tmp_path / "m.onnx", input_shape=(T, 3))
    assert [o.name for o in proto.graph.output] == ["output", "h_n", "c_n"]
    _assert_same(tmp_path / "m.onnx", model, rng.normal(0, 1, (N, T, 3)).astype(np.float32))


def test_a_float64_model_exports_as_float32(tmp_path):
    # onnxruntime's recurrent kernels are float32 only ("LSTM operator does not support double yet")
    layer = nn.GRU(F, H, num_layers=2, dtype=np.float64, rng=0)
    proto = export(layer, tmp_path / "m.onnx", input_shape=(N, F), dtype="float32")
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    x = np.random.default_rng(5).normal(0, 1, (T, N, F))
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x.astype(np.float32)})
    for a, b in zip(got, _nnlab(layer, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model, where", [
    (lambda: nn.Sequential(nn.LSTM(F, H), nn.Linear(H, 2)), "'0'"),
    (lambda: nn.Residual(nn.GRU(F, F)), "'module'"),
    (lambda: nn.Sequential(nn.Sequential(nn.RNN(F, H), nn.Identity())), "'0.0'"),
], ids=["before_a_layer", "inside_a_residual", "not_last_of_a_nested_sequential"])
def test_a_recurrent_layer_before_the_models_end_is_refused(tmp_path, model, where):
    model = model()
    kind = next(type(m).__name__ for m in model.modules() if isinstance(m, (nn.RNN, nn.LSTM, nn.GRU)))
    with pytest.raises(ConfigError, match=rf"{kind} at {where} cannot be exported there: it returns PyTorch's "
                                          r"tuple \(output, .*only when the model ends with the layer"):
        export(model, tmp_path / "m.onnx", input_shape=(N, F))
    assert not (tmp_path / "m.onnx").exists()


def test_wrong_input_shape_names_the_layer_rule(tmp_path):
    with pytest.raises(ConfigError, match=r"does not take inputs of shape \(3, 5\).*input.size\(-1\) must be equal"):
        export(nn.LSTM(F, H), tmp_path / "m.onnx", input_shape=(3, 5))


def test_export_command_on_a_saved_recurrent_model(tmp_path, capsys):
    model = _layer("gru", num_layers=2, bidirectional=True, batch_first=True)
    nnlab.save(model, tmp_path / "gru.safetensors")
    assert main(["export", str(tmp_path / "gru.safetensors"), "--input-shape", f"{T},{F}"]) == 0
    assert f"input ('batch', {T}, {F})" in capsys.readouterr().out
    loaded = nnlab.load(tmp_path / "gru.safetensors")
    _assert_same(tmp_path / "gru.onnx", loaded, np.random.default_rng(6).normal(0, 1, (N, T, F)).astype(np.float32))
    # without --input-shape the exporter cannot tell a sequence's shape: the message says what to pass
    assert main(["export", str(tmp_path / "gru.safetensors"), "-o", str(tmp_path / "again.onnx")]) == 2
    assert "pass input_shape=(...)" in capsys.readouterr().err
