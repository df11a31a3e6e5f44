"""ONNX export of InstanceNorm1d, InstanceNorm2d and RMSNorm, with onnxruntime as the oracle."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nnlab import nn  # noqa: E402
from nnlab.errors import ConfigError  # noqa: E402
from nnlab.onnx import OPSET, export  # noqa: E402
from nnlab.train import predict  # noqa: E402


def _randomized(model, rng):
    """Weights and running statistics away from their initial values."""
    for p in model.parameters():
        p.data[...] = rng.normal(0, 0.7, p.data.shape)
    for m in model.modules():
        if getattr(m, "running_mean", None) is not None:
            m.running_mean[...] = rng.normal(0, 1, m.running_mean.shape)
            m.running_var[...] = rng.uniform(0.3, 2.0, m.running_var.shape)
    return model


def _conv1d(*layers):
    return nn.Sequential(nn.Unflatten(1, (2, 12)), nn.Conv1d(2, 4, 3, padding=1, rng=0), *layers, nn.Flatten())


def _conv2d(*layers):
    return nn.Sequential(nn.Unflatten(1, (2, 6, 7)), nn.Conv2d(2, 4, 3, padding="same", rng=0), *layers,
                         nn.Flatten())


# (case id, model factory, input width, the ONNX op the layer becomes)
CASES = [
    ("InstanceNorm1d", lambda: _conv1d(nn.InstanceNorm1d(4), nn.ReLU()), 24, "InstanceNormalization"),
    ("InstanceNorm1d-affine", lambda: _conv1d(nn.InstanceNorm1d(4, eps=1e-3, affine=True)), 24,
     "InstanceNormalization"),
    ("InstanceNorm1d-weight-only", lambda: _conv1d(nn.InstanceNorm1d(4, affine=True, bias=False)), 24,
     "InstanceNormalization"),
    ("InstanceNorm1d-running-stats", lambda: _conv1d(nn.InstanceNorm1d(4, track_running_stats=True)), 24,
     "BatchNormalization"),
    ("InstanceNorm2d", lambda: _conv2d(nn.InstanceNorm2d(4, affine=True)), 84, "InstanceNormalization"),
    ("InstanceNorm2d-running-stats-affine", lambda: _conv2d(
        nn.InstanceNorm2d(4, 1e-4, 0.2, True, True), nn.ReLU()), 84, "BatchNormalization"),
    ("RMSNorm", lambda: nn.Sequential(nn.Linear(5, 6, rng=0), nn.RMSNorm(6), nn.ReLU(), nn.Linear(6, 3, rng=1)),
     5, "ReduceMean"),
    ("RMSNorm-eps", lambda: nn.Sequential(nn.Linear(5, 6, rng=0), nn.RMSNorm(6, eps=0.5)), 5, "ReduceMean"),
    ("RMSNorm-2-axes-no-affine", lambda: nn.Sequential(
        nn.Unflatten(1, (4, 6)), nn.RMSNorm((4, 6), elementwise_affine=False), nn.Flatten()), 24, "ReduceMean"),
    ("RMSNorm-conv", lambda: _conv2d(nn.RMSNorm((6, 7))), 84, "ReduceMean"),
]


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.mark.parametrize("name, factory, width, op", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_onnxruntime(tmp_path, name, factory, width, op):
    rng = np.random.default_rng(len(name))
    model = _randomized(factory(), rng)
    model.train()  # export traces eval mode whatever the model's mode
    path = tmp_path / "model.onnx"
    proto = export(model, path, input_shape=(width,))
    assert proto.opset_import[0].version == OPSET == 17
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert op in [node.op_type for node in proto.graph.node]
    assert model.training  # and the model's mode is given back
    for x in (rng.normal(0.5, 2, (7, width)).astype(np.float32), rng.normal(0, 1, (1, width)).astype(np.float32)):
        expected = predict(model, x)
        got = _run(path, x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


def test_rms_norm_eps_none_is_written_as_the_dtypes_epsilon(tmp_path):
    model = nn.Sequential(nn.RMSNorm(4, elementwise_affine=False))
    proto = export(model, tmp_path / "m.onnx", input_shape=(4,))
    eps = [onnx.numpy_helper.to_array(i) for i in proto.graph.initializer if i.name == "rms_eps"]
    assert len(eps) == 1 and eps[0] == np.finfo(np.float32).eps
    x = np.full((3, 4), 1e-4, np.float32)  # where ε matters: mean(x²) = 1e-8
    np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), predict(model, x), rtol=1e-5)


def test_running_statistics_trained_in_nnlab_are_exported(tmp_path):
    rng = np.random.default_rng(9)
    model = _conv1d(nn.InstanceNorm1d(4, momentum=0.5, affine=True, track_running_stats=True))
    before = model[2].running_mean.copy()
    for _ in range(3):
        model(rng.normal(1.0, 3.0, (6, 24)).astype(np.float32))
    assert not np.allclose(model[2].running_mean, before)
    export(model, tmp_path / "m.onnx", input_shape=(24,))
    x = rng.normal(0, 1, (5, 24)).astype(np.float32)
    np.testing.assert_allclose(_run(tmp_path / "m.onnx", x), predict(model, x), rtol=1e-5, atol=1e-5)


def test_unbatched_instance_norm_input_is_refused_by_name(tmp_path):
    # rows (N, 12) reach InstanceNorm1d as one unbatched (C=N, L=12) input: the graph's batch axis would be channels
    with pytest.raises(ConfigError, match=r"InstanceNorm1d exports batched input \(N, C, L\) only, got input "
                                          r"shape \(2, 12\)"):
        export(nn.Sequential(nn.InstanceNorm1d(2)), tmp_path / "m.onnx", input_shape=(12,))
    assert not (tmp_path / "m.onnx").exists()
