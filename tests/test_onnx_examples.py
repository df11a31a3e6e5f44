"""Every example config, trained briefly, exported to ONNX: onnxruntime equals nnlab on real and random rows;
and the `nnlab export` command."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import nnlab  # noqa: E402
from nnlab.cli import main  # noqa: E402
from nnlab.cli.build import build_loss, build_model, build_optimizer, prepare_data  # noqa: E402
from nnlab.cli.config import load_config, parse_config  # noqa: E402
from nnlab.onnx import export  # noqa: E402
from nnlab.train import fit, predict  # noqa: E402

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))
ROWS = 256  # training rows per example: "trained briefly"


def _onnx_output(path, raw):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": raw})[0]


def _brief_model(cfg, splits):
    X, y = splits.prepared(splits.train)
    X, y = X[:ROWS], y[:ROWS]
    if cfg.ensemble.method == "bagging":
        from nnlab.cli.techniques import _member_model
        from nnlab.ensemble import Bagging

        e = cfg.ensemble
        bag = Bagging(_member_model(cfg, splits.num_classes), n_models=2, voting=e.voting,
                      feature_fraction=e.feature_fraction, epochs=1, batch_size=64, lr=cfg.optimizer.lr, n_jobs=1,
                      seed=cfg.seed)
        return bag.fit(np.asarray(X), np.asarray(y)).model
    model = build_model(cfg, splits.num_features, splits.num_classes)
    fit(model, build_loss(cfg, splits.num_classes), build_optimizer(cfg, model), (X, y), epochs=1,
        batch_size=cfg.train.batch_size, seed=cfg.seed, verbose=0)
    return model


@pytest.mark.parametrize("config", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_config_exports_and_matches_onnxruntime(tmp_path, config):
    cfg = load_config(str(config))
    if cfg.data.source == "mnist1d":
        pytest.importorskip("mnist1d")
    nnlab.seed(cfg.seed)
    splits = prepare_data(cfg)
    model = _brief_model(cfg, splits)
    model.preprocessing, model.classes = splits.preprocessing, splits.classes
    path = tmp_path / "model.onnx"
    export(model, path)
    real = np.asarray(splits.test[0][:200], dtype=np.float32)
    train = np.asarray(splits.train[0], dtype=np.float32)
    rng = np.random.default_rng(0)
    random_rows = (train.mean(0) + train.std(0) * rng.normal(size=(50, train.shape[1]))).astype(np.float32)
    for raw in (real, random_rows):
        inputs = splits.preprocessing.transform(raw) if splits.preprocessing else raw
        expected = predict(model, inputs)
        np.testing.assert_allclose(_onnx_output(path, raw), expected, rtol=1e-5,
                                   atol=1e-5 * max(1.0, float(np.abs(expected).max())))


def _run_folder(tmp_path):
    cfg = parse_config({"data": {"source": "xor"}, "model": {"hidden": [4]}})
    splits = prepare_data(cfg)
    model = build_model(cfg, splits.num_features, splits.num_classes)
    run = tmp_path / "runs" / "xor"
    nnlab.save(model, run / "model.safetensors", preprocessing=splits.preprocessing, classes=splits.classes,
               metadata={"config": cfg.model_dump(mode="json")})
    return run, model, splits


def test_export_command_writes_into_the_run_folder(tmp_path, capsys):
    run, model, splits = _run_folder(tmp_path)
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert "wrote" in capsys.readouterr().out
    raw = np.asarray(splits.test[0], dtype=np.float32)
    expected = predict(model, splits.preprocessing.transform(raw))
    np.testing.assert_allclose(_onnx_output(run / "model.onnx", raw), expected, rtol=1e-5, atol=1e-5)
    out = tmp_path / "elsewhere" / "xor.onnx"
    assert main(["export", str(run / "model.safetensors"), "-o", str(out), "--no-preprocessing"]) == 0
    np.testing.assert_allclose(_onnx_output(out, splits.preprocessing.transform(raw)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["--format", "tflite"], "--format 'tflite' is not supported"),
    (["--input-shape", "0,3"], "--input-shape takes positive integers"),
    (["--input-shape", "99999999999999999999"], "each size must be below 2**31"),
    (["--input-shape", "100000,100000,100", "--no-preprocessing"], "needs about 14.6 TiB of memory"),
    (["-o", "{run}"], "is a folder"),
    (["-o", "{run}/model.safetensors"], "is the model file itself"),
])
def test_export_command_user_errors(tmp_path, capsys, argv, message):
    run, _, _ = _run_folder(tmp_path)
    assert main(["export", str(run), *[a.format(run=run) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(p.name for p in run.iterdir()) == ["model.safetensors"]


def test_export_command_missing_run(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing")]) == 2
    assert "nnlab: error:" in capsys.readouterr().err
