"""The `nnlab` command: every example config runs; every bad input gets a clear message, a non-zero
exit, no traceback and no half-written file."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnlab.cli import main

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


def _nnlab(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "nnlab.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_default_train_reaches_97_percent_and_writes_the_run(tmp_path):
    result = _nnlab("train", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy:")[1].split()[0])
    assert accuracy >= 0.97
    run = tmp_path / "runs" / "digits-mlp"
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.safetensors", "config.json", "confusion_matrix.png", "curves.png", "diagnostics.png",
        "gradient_norms.png", "history.csv", "model.safetensors", "report.html", "weights.png",
    ]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 40

    # The saved run can be evaluated, inspected and used for predictions.
    evaluated = _nnlab("evaluate", run, cwd=tmp_path)
    assert evaluated.returncode == 0 and f"accuracy: {accuracy:.4f}" in evaluated.stdout
    info = _nnlab("info", run / "model.safetensors", cwd=tmp_path)
    assert info.returncode == 0 and "parameters: 50,826" in info.stdout and "FLOPs per example" in info.stdout
    from nnlab.datasets import digits

    X, y = digits()
    _write_csv(tmp_path / "in.csv", X[:20])
    predicted = _nnlab("predict", run, tmp_path / "in.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    rows = (tmp_path / "in.predictions.csv").read_text().splitlines()
    labels = np.array([int(r.split(",")[0]) for r in rows[1:]])
    assert (labels == y[:20]).mean() >= 0.9


@pytest.mark.parametrize("config", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_config_runs(tmp_path, config):
    result = _nnlab("train", config, "--epochs", "2", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "accuracy:" in result.stdout
    assert "initial loss" not in result.stderr  # the examples start near log K (the check's warning is for bugs)
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name == config.stem
    assert (run / "model.safetensors").exists() and (run / "curves.png").exists()
    if (run / "report.html").exists():  # the report counts a prediction's FLOPs as `nnlab info` does (eval mode)
        info = _nnlab("info", run / "model.safetensors", cwd=tmp_path)
        flops = info.stdout.split("FLOPs per example (forward, 1 multiply-add = 2 FLOPs): ")[1].split()[0]
        assert f"{flops} FLOPs per example" in (run / "report.html").read_text()


def test_lr_search_command(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nsource = "moons"\nn = 200\n[optimizer]\nname = "sgd"\n')
    result = _nnlab("lr-search", config, "--epochs", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("coarse") >= 5 and "fine" in result.stdout and "best learning rate" in result.stdout
    # the config's weight decay reaches the trials (it was dropped: the same table with and without it)
    config.write_text('[data]\nsource = "moons"\nn = 200\n[optimizer]\nname = "sgd"\nweight_decay = 5.0\n')
    decayed = _nnlab("lr-search", config, "--epochs", "1", "--no-refine", cwd=tmp_path)
    assert decayed.returncode == 0, decayed.stderr
    plain = [line for line in result.stdout.splitlines() if line.strip().startswith("coarse")]
    assert [line for line in decayed.stdout.splitlines() if line.strip().startswith("coarse")] != plain
    config.write_text('[data]\nsource = "moons"\nn = 200\n[pretrain]\nmethod = "autoencoder"\n')
    refused = _nnlab("lr-search", config, "--epochs", "1", cwd=tmp_path)
    assert refused.returncode == 2 and "without [pretrain] or [ensemble]" in refused.stderr
    config.write_text('[data]\nsource = "moons"\nn = 200\n[optimizer]\nname = "line_search"\n')
    refused = _nnlab("lr-search", config, "--epochs", "1", cwd=tmp_path)
    assert refused.returncode == 2 and "takes none (it picks its own steps)" in refused.stderr


def test_lr_search_rate_written_into_optimizer_lr_reproduces_the_best_trial_with_linear_scaling(tmp_path):
    # lr-search reports values for optimizer.lr; with lr_scaling = "linear" its trials train at lr x B/B0
    # (here 64/16 = 4), so the best one, written into optimizer.lr, trains as its trial did (the trials
    # trained at the unscaled rate, and the recommended rate trained 4 times faster)
    config = tmp_path / "c.toml"
    body = ('seed = 0\n[data]\nsource = "moons"\nn = 300\n[optimizer]\nname = "sgd"\n{lr}'
            '[train]\nbatch_size = 64\n[schedule]\nlr_scaling = "linear"\nbase_batch_size = 16\n')
    config.write_text(body.format(lr=""))
    search = _nnlab("lr-search", config, "--epochs", "1", "--no-refine", cwd=tmp_path)
    assert search.returncode == 0, search.stderr
    assert "the trials train at lr x 64/16" in search.stdout
    assert "lr=0.1        trains at 0.4 " in search.stdout
    (best_row,) = [line.split() for line in search.stdout.splitlines() if line.endswith("<- best")]
    best_lr, trial_loss = float(best_row[1]), float(best_row[2])
    assert f"set optimizer.lr = {best_lr:g}, which trains at {4 * best_lr:g}" in search.stdout
    config.write_text(body.format(lr=f"lr = {best_lr!r}\n"))
    trained = _nnlab("train", config, "--epochs", "1", "--quiet", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    header, row = (tmp_path / "runs" / "c" / "history.csv").read_text().splitlines()[:2]
    logs = dict(zip(header.split(","), map(float, row.split(","))))
    assert logs["lr"] == pytest.approx(4 * best_lr)
    assert logs["val_loss"] == pytest.approx(trial_loss, rel=1e-5)


@pytest.mark.parametrize("data, extra", [
    # Gaussian input noise on moons, with L1 and L2 penalties that start at epoch 1 ([regularization] start_epoch)
    ('source = "moons"\nn = 300\naugment_noise_std = 0.3\n',
     "[regularization]\nl1 = 1e-4\nl2 = 1e-3\nstart_epoch = 1\n"),
    # jittered digit images (the standardization runs per batch after the shift), with an L2 penalty
    ('source = "digits"\naugment_jitter = 1\npreprocessing = ["standardize"]\n',
     "[model]\nhidden = [16]\n[regularization]\nl2 = 1e-3\n"),
])
def test_lr_search_trials_have_train_s_penalties_and_augmentation(tmp_path, data, extra):
    # the trials trained without the [regularization] penalties and the augmentation nnlab train applies, so
    # the best trial's validation loss was not what `nnlab train` at the recommended optimizer.lr gives
    config = tmp_path / "c.toml"
    body = f'seed = 0\n[data]\n{data}[optimizer]\nname = "sgd"\n{{lr}}[train]\nbatch_size = 16\n{extra}'
    config.write_text(body.format(lr=""))
    search = _nnlab("lr-search", config, "--epochs", "2", "--no-refine", cwd=tmp_path)
    assert search.returncode == 0, search.stderr
    (best_row,) = [line.split() for line in search.stdout.splitlines() if line.endswith("<- best")]
    best_lr, trial_loss = float(best_row[1]), float(best_row[2])
    config.write_text(body.format(lr=f"lr = {best_lr!r}\n"))
    trained = _nnlab("train", config, "--epochs", "2", "--quiet", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    header, *rows = (tmp_path / "runs" / "c" / "history.csv").read_text().splitlines()
    logs = dict(zip(header.split(","), map(float, rows[-1].split(","))))
    assert logs["val_loss"] == pytest.approx(trial_loss, rel=1e-5)


def test_lr_search_refuses_what_its_trials_would_not_train(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nsource = "moons"\nn = 200\n[ensemble]\nmethod = "bagging"\n')
    refused = _nnlab("lr-search", config, "--epochs", "1", cwd=tmp_path)
    assert refused.returncode == 2 and "without [pretrain] or [ensemble]" in refused.stderr
    config.write_text('[data]\nsource = "digits"\n[tasks.digit]\ntarget = "label"\n[tasks.parity]\ntarget = "parity"\n')
    refused = _nnlab("lr-search", config, "--epochs", "1", cwd=tmp_path)
    assert refused.returncode == 2 and "this config has [tasks]: search optimizer.lr of the multi-task run with " \
        "nnlab tune" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and refused.stdout == "" and not (tmp_path / "runs").exists()


def _write_csv(path, X, y=None, header=None):
    columns = header or [f"f{i}" for i in range(X.shape[1])] + ([] if y is None else ["label"])
    rows = X if y is None else np.column_stack([X, y])
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for row in rows:
            f.write(",".join(str(v) for v in row) + "\n")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ is written under the working directory


def _fails(tmp_path, capsys, argv, message, writes_run=False):
    """Run the CLI in-process; it must return non-zero with ``message`` on stderr and no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert message in err, err
    assert "Traceback" not in err
    if not writes_run:
        assert not (tmp_path / "runs").exists()
    assert not list(tmp_path.rglob("*.part"))  # no temporary file left half-written
    return err


def _config(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


def _csv_config(tmp_path, X, y):
    _write_csv(tmp_path / "d.csv", X, y)
    return _config(tmp_path, f'[data]\nsource = "csv"\npath = "{tmp_path / "d.csv"}"\ntarget = "label"\n')


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 3)), np.arange(40) % 2


def test_nan_in_features(tmp_path, capsys, table):
    X, y = table
    X[3, 1] = np.nan
    _fails(tmp_path, capsys, ["train", _csv_config(tmp_path, X, y)], "'nan' is not a finite number")


def test_infinity_in_features(tmp_path, capsys, table):
    X, y = table
    X[5, 0] = np.inf
    _fails(tmp_path, capsys, ["train", _csv_config(tmp_path, X, y)], "'inf' is not a finite number")


def test_negative_label(tmp_path, capsys, table):
    X, y = table
    y = y.copy()
    y[7] = -1
    _fails(tmp_path, capsys, ["train", _csv_config(tmp_path, X, y)], "-1")


def test_non_integer_label(tmp_path, capsys, table):
    X, y = table
    y = y.astype(float)
    y[2] = 0.5
    _fails(tmp_path, capsys, ["train", _csv_config(tmp_path, X, y)], "0.5")


def test_empty_dataset(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,b,label\n")
    config = _config(tmp_path, f'[data]\nsource = "csv"\npath = "{tmp_path / "d.csv"}"\ntarget = "label"\n')
    _fails(tmp_path, capsys, ["train", config], "no data rows")


def test_feature_count_mismatch(tmp_path, capsys, table):
    X, y = table
    assert main(["train", _csv_config(tmp_path, X, y), "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    _write_csv(tmp_path / "wide.csv", np.ones((3, 5)))
    code = main(["predict", "runs/c", str(tmp_path / "wide.csv")])
    err = capsys.readouterr().err
    assert code != 0 and "expected 3 features, got 5" in err and "Traceback" not in err
    assert not (tmp_path / "wide.predictions.csv").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[train]\nbatch_size = 0\n", "train.batch_size"),
        ("[train]\nbatch_size = -4\n", "train.batch_size"),
        ("[train]\nepochs = 0\n", "train.epochs"),
        ('[optimizer]\nname = "adma"\n', "'sgd', 'adagrad', 'rmsprop', 'adam', 'adamw', 'adamax', 'nadam', 'radam', 'adadelta', 'line_search', 'rprop' or 'asgd'"),
        ('[model]\nactivation = "swish"\n', "model.activation"),
        ('[model]\nweight_init = "glorot"\n', "unknown initializer 'glorot'; choose one of"),
        ("[model\nhidden = [3]\n", "not valid TOML"),
        ("[model]\nhiden = [3]\n", "unknown key 'model.hiden' (allowed: hidden,"),
        ("colour = 1\n", "unknown key 'colour'"),
    ],
)
def test_bad_configs(tmp_path, capsys, text, message):
    _fails(tmp_path, capsys, ["train", _config(tmp_path, text)], message)


def test_epochs_below_one_on_the_command_line(tmp_path, capsys):
    _fails(tmp_path, capsys, ["train", "--epochs", "0"], "train.epochs")


def test_missing_config_file(tmp_path, capsys):
    _fails(tmp_path, capsys, ["train", str(tmp_path / "none.toml")], "does not exist")


def test_file_that_is_not_a_model(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello, I am not a model")
    _fails(tmp_path, capsys, ["info", str(tmp_path / "notes.txt")], "not an nnlab model")


def test_python_dash_m_nnlab_is_the_nnlab_command(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)

    top, cli = run("nnlab", "--help"), run("nnlab.cli", "--help")
    assert top.returncode == 0 and top.stderr == "", top.stderr
    assert top.stdout.startswith("usage: nnlab ") and top.stdout == cli.stdout
    missing = run("nnlab", "info", "missing.safetensors")
    assert missing.returncode == 2 and "missing.safetensors" in missing.stderr and "Traceback" not in missing.stderr


def test_user_error_in_a_real_process_has_no_traceback(tmp_path):
    result = _nnlab("train", _config(tmp_path, '[optimizer]\nname = "adma"\n'), cwd=tmp_path)
    assert result.returncode == 2
    assert "optimizer.name" in result.stderr and "Traceback" not in result.stderr


def test_divergence_stops_with_a_message(tmp_path, capsys):
    config = _config(tmp_path, '[data]\nsource = "moons"\n[optimizer]\nname = "sgd"\nlr = 1e6\n')
    err = _fails(tmp_path, capsys, ["train", config, "--epochs", "3", "--quiet"], "training diverged",
                writes_run=True)
    assert "non-finite loss" in err and "epoch 1, batch" in err and "RuntimeWarning" not in err


def test_same_config_and_seed_give_identical_weights(tmp_path, capsys):
    import nnlab

    config = str(EXAMPLES[0].parent / "digits_regularized.toml")  # dropout, noise and batch norm draw randomness
    for folder in ("a", "b"):
        assert main(["train", config, "--epochs", "2", "--quiet", "--runs-dir", folder]) == 0
    first = nnlab.load(tmp_path / "a" / "digits_regularized" / "model.safetensors").state_dict()
    second = nnlab.load(tmp_path / "b" / "digits_regularized" / "model.safetensors").state_dict()
    assert list(first) == list(second)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_image_rows_from_a_csv_get_weights_png_with_data_image_shape(tmp_path):
    from nnlab.datasets import digits

    X, y = digits()
    _write_csv(tmp_path / "digits.csv", X[:300], y[:300])
    (tmp_path / "img.toml").write_text('[data]\nsource = "csv"\npath = "digits.csv"\ntarget = "label"\n'
                                       'image_shape = [8, 8]\n[model]\nhidden = [16]\n[train]\nepochs = 2\n')
    result = _nnlab("train", "img.toml", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs" / "img" / "weights.png").exists()
