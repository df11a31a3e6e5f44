"""CLI: [pretrain] and [ensemble] sections, initializer tables and activation parameters."""

import csv

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.cli import main
from nnlab.cli.build import build_model
from nnlab.cli.config import parse_config


def _config(tmp_path, text, name="run"):
    path = tmp_path / f"{name}.toml"
    path.write_text('[data]\nsource = "digits"\nval_size = 0.1\n' + text)
    return path


def test_pretrain_section_writes_the_pretraining_rows_and_curves(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, '[model]\nhidden = [16, 8]\nactivation = "sigmoid"\n[train]\nepochs = 2\n'
                               '[pretrain]\nmethod = "autoencoder"\nepochs = [2, 1]\nnoise_std = 0.1\n')
    assert main(["train", str(config), "--quiet"]) == 0
    run = tmp_path / "runs" / "run"
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert [(r["phase"], r["layer"], r["epoch"]) for r in rows] == [
        ("pretrain", "1", "1"), ("pretrain", "1", "2"), ("pretrain", "2", "1"), ("train", "", "1"), ("train", "", "2")]
    assert float(rows[0]["loss"]) > 0 and rows[3]["val_accuracy"] != ""
    assert (run / "pretrain_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_ensemble_section_saves_one_model_file_that_evaluate_and_info_use(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, '[model]\nhidden = [16]\n[train]\nepochs = 2\n'
                               '[ensemble]\nmethod = "bagging"\nn_models = 3\nn_jobs = 1\nfeature_fraction = 0.5\n')
    assert main(["train", str(config), "--quiet"]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "run"
    model = nnlab.load(run / "model.safetensors")
    assert type(model).__name__ == "Ensemble" and len(model.members) == 3
    assert 0 < model.metadata["ensemble"]["oob_score"] <= 1
    assert len((run / "members.csv").read_text().splitlines()) == 4
    assert main(["evaluate", str(run)]) == 0
    accuracy = out.split("test accuracy: ")[1].split()[0]
    assert f"accuracy: {accuracy}" in capsys.readouterr().out
    assert main(["info", str(run)]) == 0
    assert "Ensemble(members=3" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ('[model]\nactivation = "relu"\n[pretrain]\nmethod = "rbm"\n', "needs model.activation = 'sigmoid'"),
    ('[ensemble]\nmethod = "bagging"\n[pretrain]\nmethod = "autoencoder"\n', "cannot be combined"),
    ('[model]\nweight_init = { name = "normal", sigma = 1 }\n', "model.weight_init: initializer 'normal'"),
    ('[model]\nweight_init = "glorot"\n', "unknown initializer 'glorot'"),
    ('[model]\nactivation = "relu"\nactivation_alpha = 0.1\n', "activation_alpha = 0.1 has no effect with model.activation = 'relu'"),
])
def test_bad_technique_settings_exit_2_naming_the_key(tmp_path, capsys, text, message):
    assert main(["train", str(_config(tmp_path, text)), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_every_initializer_and_activation_parameter_is_reachable():
    cfg = parse_config({"model": {"hidden": [4], "activation": "prelu", "activation_alpha": 0.2,
                                  "prelu_per_channel": True, "weight_init": {"name": "uniform", "low": -0.1,
                                                                             "high": 0.1},
                                  "bias_init": {"name": "constant", "value": 0.5}}})
    model = build_model(cfg, 3, 2)
    assert np.abs(model[0].weight.data).max() <= 0.1 and np.all(model[0].bias.data == 0.5)
    assert model[1].alpha.data.shape == (4,) and np.allclose(model[1].alpha.data, 0.2)
    for activation, cls in (("leaky_relu", nn.LeakyReLU), ("elu", nn.ELU)):
        model = build_model(parse_config({"model": {"hidden": [4], "activation": activation,
                                                    "activation_alpha": 0.3, "weight_init": "lecun_uniform"}}), 3, 2)
        assert isinstance(model[1], cls) and model[1].alpha == 0.3


_CONV_PRELU = ('[[model.layers]]\ntype = "Unflatten"\nunflattened_size = [1, 8, 8]\n'
               '[[model.layers]]\ntype = "Conv2d"\nin_channels = 1\nout_channels = 8\nkernel_size = 3\npadding = 1\n'
               '[[model.layers]]\ntype = "PReLU"\nnum_parameters = {n}\n'
               '[[model.layers]]\ntype = "Flatten"\n'
               '[[model.layers]]\ntype = "Linear"\nin_features = 512\nout_features = 10\n[train]\nepochs = 1\n')


def test_model_layers_prelu_takes_one_slope_per_conv_channel(tmp_path, capsys):
    """Digits as 8x8 images through Conv2d(1 -> 8): PReLU(num_parameters=8) is per channel (axis 1), as torch;
    a count that is not the channel count is refused before the run folder is made."""
    runs = tmp_path / "runs"
    assert main(["train", str(_config(tmp_path, _CONV_PRELU.format(n=8))), "--runs-dir", str(runs), "--quiet"]) == 0
    capsys.readouterr()
    model = nnlab.load(runs / "run" / "model.safetensors")
    act, conv = model[2], model[1]
    assert act.alpha.data.shape == (8,) and not np.allclose(act.alpha.data, act.alpha.data[0])  # trained apart
    x = np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32)
    z = conv(x).numpy()
    np.testing.assert_allclose(act(z).numpy(), np.where(z > 0, z, act.alpha.data[:, None, None] * z), rtol=1e-6)
    bad = _config(tmp_path, _CONV_PRELU.format(n=4), name="bad")
    assert main(["train", str(bad), "--runs-dir", str(runs), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "model.layers: layer '2': PReLU with num_parameters=4" in err and "(1, 8, 8, 8) has 8 channels" in err
    assert "Traceback" not in err and not (runs / "bad").exists()


def test_jitter_with_preprocessing_probes_the_preprocessed_rows(tmp_path, capsys):
    """With jitter the training rows stay raw (preprocessed per batch); the initial-loss check and the layer
    statistics must still see standardized inputs, as the model does (raw 0..16 pixels gave 9.5 nats)."""
    config = _config(tmp_path, '[model]\nhidden = [32]\n[train]\nepochs = 1\n')
    config.write_text(config.read_text().replace("[data]\n", '[data]\npreprocessing = ["standardize"]\n'
                                                 "augment_jitter = 1\n"))
    assert main(["train", str(config), "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    assert "initial loss" not in capsys.readouterr().err


def test_bagging_without_a_test_split_names_the_members_training_accuracy(tmp_path, capsys, monkeypatch):
    # data.test_size = 0 scores the run on its training split: members.csv, the printed mean and report.html
    # must say so rather than call it a test accuracy.
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bag.toml"
    path.write_text('[data]\nsource = "moons"\ntest_size = 0.0\nval_size = 0.0\n[model]\nhidden = [8]\n'
                    '[train]\nepochs = 2\n[ensemble]\nmethod = "bagging"\nn_models = 2\nn_jobs = 1\n')
    assert main(["train", str(path)]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "bag"
    header, *rows = list(csv.reader(open(run / "members.csv")))
    assert header == ["member", "seed", "features", "final_loss", "final_accuracy", "training_accuracy"]
    assert "mean member training accuracy" in out and "test" not in out
    mean = np.mean([float(r[5]) for r in rows])
    assert f"mean member training accuracy</th><td class=\"num\">{mean:.4f}" in (run / "report.html").read_text()
