"""`train.class_weight` of `nnlab train`: "balanced" is scikit-learn's rule on the training split, a table names
CSV labels as text, a list follows the run's class order; every bad value exits 2 naming the key; resume is
bit for bit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_cli_resume import _kill_at, _same_run, _start

SRC = str(Path(__file__).parent.parent / "src")
CLASSES = ["cat", "dog", "eel"]  # sorted: the run's class order


def _imbalanced_csv(path, n=(90, 30, 12), seed=0):
    """Three text classes of very different sizes, two features each."""
    rng = np.random.default_rng(seed)
    rows = [f"{x0:.5f},{x1:.5f},{label}" for label, k, centre in zip(CLASSES, n, (0.0, 1.5, 3.0))
            for x0, x1 in rng.normal(centre, 0.7, size=(k, 2))]
    order = rng.permutation(len(rows))
    path.write_text("a,b,label\n" + "\n".join(rows[i] for i in order) + "\n")


def _config(tmp_path, class_weight: str, extra: str = "", epochs: int = 2) -> Path:
    _imbalanced_csv(tmp_path / "data.csv")
    (tmp_path / "c.toml").write_text(
        f'[data]\nsource = "csv"\npath = "data.csv"\ntarget = "label"\n[model]\nhidden = [8]\n'
        f"[train]\nepochs = {epochs}\nbatch_size = 16\nclass_weight = {class_weight}\n{extra}")
    return tmp_path / "c.toml"


def _fit_arguments(tmp_path, monkeypatch, config: Path) -> dict:
    """Train ``config`` in-process; the arguments ``nnlab train`` gave fit (it still trains)."""
    from nnlab.cli import commands, main

    seen = {}
    real = commands.fit

    def spy(model, loss, optimizer, train_data, *args, **kwargs):
        seen.update(kwargs, train_data=train_data)
        return real(model, loss, optimizer, train_data, *args, **kwargs)

    monkeypatch.setattr(commands, "fit", spy)
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(config), "--quiet"]) == 0
    return seen


def test_balanced_is_sklearns_rule_on_the_training_split(tmp_path, monkeypatch):
    from sklearn.utils.class_weight import compute_class_weight

    from nnlab.cli.build import prepare_data
    from nnlab.cli.config import load_config

    config = _config(tmp_path, '"balanced"')
    seen = _fit_arguments(tmp_path, monkeypatch, config)
    monkeypatch.chdir(tmp_path)
    splits = prepare_data(load_config(str(config)))
    y_train = splits.train[1]
    assert np.array_equal(seen["train_data"][1], y_train) and len(y_train) < 132  # not the whole file
    want = compute_class_weight("balanced", classes=np.arange(3), y=y_train)
    assert sorted(seen["class_weight"]) == [0, 1, 2]
    np.testing.assert_allclose([seen["class_weight"][i] for i in range(3)], want, rtol=1e-12)
    # the whole file's counts would give other weights: the validation and test rows do not count
    y_all = np.searchsorted(CLASSES, np.loadtxt(tmp_path / "data.csv", dtype=str, delimiter=",", skiprows=1)[:, 2])
    assert not np.allclose(want, compute_class_weight("balanced", classes=np.arange(3), y=y_all))
    stored = json.loads((tmp_path / "runs" / "c" / "config.json").read_text())
    assert stored["train"]["class_weight"] == "balanced"
    assert (tmp_path / "runs" / "c" / "report.html").exists() and (tmp_path / "runs" / "c" / "history.csv").exists()


def test_a_table_names_text_labels_and_a_list_follows_the_class_order(tmp_path, monkeypatch):
    seen = _fit_arguments(tmp_path, monkeypatch, _config(tmp_path, "{ dog = 3.0, eel = 5 }"))
    assert seen["class_weight"] == {1: 3.0, 2: 5.0}  # cat left out: weighs 1, as in Keras
    stored = json.loads((tmp_path / "runs" / "c" / "config.json").read_text())
    assert stored["train"]["class_weight"] == {"dog": 3.0, "eel": 5.0}
    listed = tmp_path / "listed"
    listed.mkdir()
    seen = _fit_arguments(listed, monkeypatch, _config(listed, "[1, 2.5, 4]"))
    assert seen["class_weight"] == {0: 1.0, 1: 2.5, 2: 4.0}


def test_the_weights_change_the_training_also_with_a_one_hot_loss(tmp_path, monkeypatch):
    import nnlab

    def weights(class_weight, loss):
        folder = tmp_path / f"{loss}-{len(class_weight)}"
        folder.mkdir()
        _fit_arguments(folder, monkeypatch, _config(folder, class_weight, f'[loss]\nname = "{loss}"\n'))
        return nnlab.load(folder / "runs" / "c" / "model.safetensors").state_dict()

    for loss in ("cross_entropy", "mse"):
        ones, weighted = weights("[1, 1, 1]", loss), weights("[1, 1, 10]", loss)
        assert any(not np.array_equal(ones[k], weighted[k]) for k in ones), loss


def _nnlab(cwd, *args):
    result = subprocess.run([sys.executable, "-m", "nnlab.cli", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": SRC})
    return result.returncode, result.stdout, result.stderr


BAD = [  # (class_weight, extra config text) -> what the message must name
    ('"auto"', "", ["train.class_weight = 'auto' is not a choice", '"balanced"', "a list of one weight per class"]),
    ("[1, -2, 1]", "", ["train.class_weight[1] = -2", "finite number >= 0"]),
    ("[1, true, 1]", "", ["train.class_weight[1] = True"]),
    ("[1, nan, 1]", "", ["train.class_weight[1] = nan"]),
    ('{ dog = "heavy" }', "", ["train.class_weight.dog = 'heavy'"]),
    ("[]", "", ["train.class_weight = [] is empty"]),
    ("[0, 0, 0]", "", ["train.class_weight = [0, 0, 0]", "every class weighs 0"]),
    ("3", "", ["train.class_weight = 3 (int) is not a choice"]),
    ("[1, 2]", "", ["train.class_weight has 2 weights", "3 classes ('cat', 'dog', 'eel', in this order)"]),
    ("{ cow = 2.0 }", "", ["train.class_weight names the label 'cow'", "'cat', 'dog', 'eel'"]),
    ("{ cat = 0, dog = 0, eel = 0 }", "", ["every class weighs 0"]),
    ('"balanced"', "[regularization]\nl2 = 0.01\n", ["train.class_weight cannot be combined with regularization.l2",
                                                      "optimizer.weight_decay"]),
    ('"balanced"', '[ensemble]\nmethod = "bagging"\nn_models = 2\n',
     ["train.class_weight is not supported with ensemble.method = 'bagging'"]),
    ('"balanced"', '[tasks.kind]\ntarget = "label"\n[tasks.size]\ntarget = "a"\nloss = "mse"\n',
     ["train.class_weight weighs the classes of a single-task run", "[tasks]"]),
]


@pytest.mark.parametrize("class_weight, extra, messages", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_class_weights_exit_2_naming_the_key(tmp_path, class_weight, extra, messages):
    _config(tmp_path, class_weight, extra)
    code, _, err = _nnlab(tmp_path, "train", "c.toml", "--quiet")
    assert code == 2 and err.startswith("nnlab: error: ") and "Traceback" not in err, err
    for message in messages:
        assert message in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_misspelt_key_and_lr_search_are_refused(tmp_path):
    _config(tmp_path, "[1, 1, 1]")
    (tmp_path / "typo.toml").write_text("[train]\nclass_weights = 'balanced'\n")
    code, _, err = _nnlab(tmp_path, "train", "typo.toml", "--quiet")
    assert code == 2 and "unknown key 'train.class_weights'" in err and "class_weight" in err.split("allowed:")[1]
    code, _, err = _nnlab(tmp_path, "lr-search", "c.toml")
    assert code == 2 and "lr-search trains without class weights" in err and "Traceback" not in err


def test_a_class_weighted_run_killed_and_resumed_is_bitwise_identical(tmp_path):
    extra = "early_stopping = 100\n"  # state kept across epochs, as the checkpoint's
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "resumed"
    for folder in (ref_dir, run_dir):
        folder.mkdir()
        _config(folder, '"balanced"', extra, epochs=20)
    code, _, err = _nnlab(ref_dir, "train", "c.toml", "--quiet")
    assert code == 0, err
    run = run_dir / "runs" / "c"
    for writes in (3, 9):  # killed twice, the second time while resumed
        assert _kill_at(_start(run_dir, "train", "c.toml", "--quiet", *(["--resume"] if writes > 3 else [])), run,
                        writes, 0)
    code, _, err = _nnlab(run_dir, "train", "c.toml", "--quiet", "--resume")
    assert code == 0, err
    _same_run(run, ref_dir / "runs" / "c")
    # another weighting is another run: refused, the differing key named
    _config(run_dir, "[1, 2, 3]", extra, epochs=20)
    code, _, err = _nnlab(run_dir, "train", "c.toml", "--quiet", "--resume")
    assert code == 2 and "train.class_weight" in err and "differ" in err, err


def test_balanced_refuses_a_class_missing_from_the_training_split():
    from types import SimpleNamespace

    from nnlab.cli.class_weights import fit_class_weight
    from nnlab.cli.config import parse_config
    from nnlab.errors import ConfigError

    cfg = parse_config({"train": {"class_weight": "balanced"}})
    splits = SimpleNamespace(classes=["cat", "dog", "eel"], train=(None, np.array([0, 0, 1, 0])))
    with pytest.raises(ConfigError, match="class 'eel' has no sample in the training split"):
        fit_class_weight(cfg, splits)


def test_under_mpiexec_class_weight_is_refused_naming_the_key(tmp_path, monkeypatch, capsys):
    from nnlab.cli import main
    from nnlab.distributed import cli as ranks

    _config(tmp_path, '"balanced"')
    monkeypatch.setattr(ranks, "start", lambda args: True)  # as one rank of `mpiexec -n 2 nnlab train`
    monkeypatch.chdir(tmp_path)
    assert main(["train", "c.toml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "train.class_weight is not supported under mpiexec" in err and not (tmp_path / "runs").exists()
