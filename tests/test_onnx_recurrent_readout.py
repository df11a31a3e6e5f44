"""ONNX export of a recurrent layer followed by LastStep or FinalState inside a Sequential, with onnxruntime
against nnlab: RNN/LSTM/GRU, 1–2 layers, uni/bidirectional, batch_first both, unbatched; the output's axes;
the placements still refused; a saved classifier exported."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import nnlab  # noqa: E402
from nnlab import nn  # noqa: E402
from nnlab.errors import ConfigError  # noqa: E402
from nnlab.onnx import export  # noqa: E402

T, N, F, H = 5, 3, 4, 6  # steps, rows, input and hidden sizes
KINDS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _model(kind, readout, num_layers=1, bidirectional=False, batch_first=False):
    layer = KINDS[kind](F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, rng=0)
    rng = np.random.default_rng(0)
    for p in layer.parameters():  # away from U(±1/√H), so a wrong row or step changes the outputs clearly
        p.data[...] = rng.normal(0, 0.5, p.data.shape)
    pick = nn.LastStep(batch_first=batch_first) if readout == "last_step" else nn.FinalState()
    return nn.Sequential(layer, pick, nn.Linear((2 if bidirectional else 1) * H, 2, rng=1))


def _assert_same(path, model, x):
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    assert len(got) == 1
    expected = nnlab.train.predict(model, x)
    assert got[0].dtype == np.float32 and got[0].shape == expected.shape
    np.testing.assert_allclose(got[0], expected, rtol=1e-5, atol=1e-5)


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("readout", ["last_step", "final_state"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_readout_after_a_recurrent_layer_matches_onnxruntime(tmp_path, kind, num_layers, bidirectional,
                                                             batch_first, readout):
    model = _model(kind, readout, num_layers, bidirectional, batch_first)
    proto = export(model, tmp_path / "m.onnx", input_shape=(T, F) if batch_first else (N, F))
    ops = [node.op_type for node in proto.graph.node]
    assert "Gather" in ops and "MatMul" in ops
    rng = np.random.default_rng(5)
    # the free axis: more rows than traced for a batch_first layer, more steps for a time-major one
    x = rng.normal(0, 1, (7, T, F) if batch_first else (T + 3, N, F)).astype(np.float32)
    _assert_same(tmp_path / "m.onnx", model, x)


@pytest.mark.parametrize("readout", ["last_step", "final_state"])
def test_the_readouts_output_axes(tmp_path, readout):
    for batch_first, shape, dims in ((True, (T, F), ["batch", 2 * H]), (False, (N, F), [N, 2 * H])):
        proto = export(_model("lstm", readout, 2, True, batch_first)[:2], tmp_path / "m.onnx", input_shape=shape)
        assert [o.name for o in proto.graph.output] == ["output"] and _dims(proto.graph.output[0]) == dims


@pytest.mark.parametrize("readout", ["last_step", "final_state"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_sequences(tmp_path, kind, readout):
    model = _model(kind, readout, 2, True)[:2]  # the readout's (D·H,) vector is the output
    proto = export(model, tmp_path / "m.onnx", input_shape=(F,))  # rows of F features: one sequence of steps
    assert _dims(proto.graph.output[0]) == [2 * H]
    x = np.random.default_rng(1).normal(0, 1, (T, F)).astype(np.float32)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    model.eval()
    np.testing.assert_allclose(got, model(x).data, rtol=1e-5, atol=1e-5)


def test_laststep_on_a_plain_sequence(tmp_path):
    model = nn.Sequential(nn.Linear(F, H, rng=0), nn.LastStep(batch_first=True))  # (N, T, F) → (N, H)
    export(model, tmp_path / "m.onnx", input_shape=(T, F))
    _assert_same(tmp_path / "m.onnx", model, np.random.default_rng(2).normal(0, 1, (3, T, F)).astype(np.float32))


@pytest.mark.parametrize("model, match", [
    (lambda: nn.Sequential(nn.LSTM(F, H), nn.Identity(), nn.LastStep()), r"LSTM at '0' cannot be exported there"),
    (lambda: nn.Sequential(nn.Sequential(nn.GRU(F, H)), nn.FinalState()), r"GRU at '0.0' cannot be exported there"),
    (lambda: nn.Sequential(nn.Linear(F, H), nn.FinalState()), r"FinalState at '1' cannot be exported there: it "
                                                              r"reads a recurrent layer's tuple"),
    (lambda: nn.FinalState(), r"FinalState at '' cannot be exported there"),
], ids=["not_directly_before", "through_a_nested_sequential", "finalstate_after_linear", "finalstate_alone"])
def test_other_placements_are_still_refused(tmp_path, model, match):
    with pytest.raises(ConfigError, match=match):
        export(model(), tmp_path / "m.onnx", input_shape=(N, F))
    assert not (tmp_path / "m.onnx").exists()


def test_a_saved_classifier_exports(tmp_path):
    model = _model("gru", "final_state", 2, True, batch_first=True)
    nnlab.save(model, tmp_path / "m.safetensors")
    export(nnlab.load(tmp_path / "m.safetensors"), tmp_path / "m.onnx", input_shape=(T, F))
    _assert_same(tmp_path / "m.onnx", model, np.random.default_rng(3).normal(0, 1, (4, T, F)).astype(np.float32))
