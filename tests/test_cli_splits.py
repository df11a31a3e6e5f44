"""CLI: how [data] test_size and val_size cut the rows, and which rows each reported figure is on."""

import json

from nnlab.cli import main
from nnlab.cli.build import prepare_data
from nnlab.cli.config import load_config


def _config(tmp_path, data):
    path = tmp_path / "run.toml"
    path.write_text(f'[data]\nsource = "moons"\nn = 100\n{data}[model]\nhidden = [8]\n[train]\nepochs = 1\n')
    return path


def test_without_a_test_split_the_training_figures_leave_the_validation_rows_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, "test_size = 0\nval_size = 0.2\n")
    splits = prepare_data(load_config(str(config)))
    assert splits.test_is_train and len(splits.train[0]) == 80 and len(splits.val[0]) == 20
    assert splits.test[0] is splits.train[0]
    assert main(["train", str(config), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "training accuracy:" in out and "(80 samples)" in out
    assert main(["evaluate", "runs/run"]) == 0
    assert "evaluated on the run's training data (80 samples)" in capsys.readouterr().out


def test_a_test_split_is_cut_first_and_val_size_counts_the_whole_data_set(tmp_path):
    splits = prepare_data(load_config(str(_config(tmp_path, "test_size = 0.2\nval_size = 0.2\n"))))
    assert (len(splits.train[0]), len(splits.val[0]), len(splits.test[0])) == (60, 20, 20)
    assert not splits.test_is_train
