"""`nnlab tune` on Optuna: search spaces, the pruning callback, a local study, parallel jobs, two processes on one study."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("tomli_w")

import nnlab  # noqa: E402
from nnlab.cli import main  # noqa: E402
from nnlab.cli.config import load_config, parse_config  # noqa: E402
from nnlab.errors import ConfigError  # noqa: E402
from nnlab.tune import PruningCallback, apply, parse_space  # noqa: E402

SRC = Path(nnlab.__file__).resolve().parents[1]

CONFIG = """
seed = 0
[data]
source = "moons"
n = 160
val_size = 0.25
[model]
hidden = [6]
[train]
epochs = 3
batch_size = 32
[tune]
metric = "val_accuracy"
startup_trials = 1
[tune.space]
"optimizer.lr" = { type = "float", low = 1e-3, high = 0.3, log = true }
"model.hidden.0" = { type = "int", low = 2, high = 16 }
"model.activation" = ["relu", "tanh"]
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "moons.toml"
    path.write_text(CONFIG)
    return path


def _study(storage, name):
    return optuna.load_study(study_name=name, storage=storage)


def test_local_study_writes_a_best_config_that_train_runs(tmp_path, config, capsys):
    runs = tmp_path / "runs"
    assert main(["tune", str(config), "--trials", "4", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    folder = runs / "moons-tune"
    assert sorted(p.name for p in folder.iterdir()) == ["best.toml", "study.db", "summary.json", "summary.txt"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["complete"] + summary["pruned"] == 4
    assert f"best trial {summary['best_trial']}" in out and "parameter importances" in out
    assert (folder / "summary.txt").read_text().splitlines()[0] in out
    study = _study(f"sqlite:///{folder / 'study.db'}", "moons")
    assert summary["best_value"] == study.best_value
    best = tomllib.loads((folder / "best.toml").read_text())
    cfg = parse_config(best)
    assert cfg.optimizer.lr == study.best_params["optimizer.lr"]
    assert cfg.model.hidden == [study.best_params["model.hidden.0"]]
    stored = dict(study.best_trial.user_attrs["config"], name=cfg.name)
    assert json.loads(cfg.model_dump_json()) == stored  # best.toml is the best trial's config
    if summary["complete"] >= 2:
        assert set(summary["importances"]) <= set(study.best_params)
    # the study resumes: a second invocation adds trials to the same SQLite file
    assert main(["tune", str(config), "--trials", "1", "--runs-dir", str(runs), "--quiet"]) == 0
    assert len(_study(f"sqlite:///{folder / 'study.db'}", "moons").trials) == 5
    capsys.readouterr()
    assert main(["train", str(folder / "best.toml"), "--quiet", "--runs-dir", str(runs)]) == 0
    assert (runs / "moons-best" / "model.safetensors").exists()
    import csv

    with open(runs / "moons-best" / "history.csv") as f:
        last = list(csv.DictReader(f))[-1]
    # the trial trained exactly as `nnlab train` does: the same final validation accuracy
    assert float(last["val_accuracy"]) == _study(f"sqlite:///{folder / 'study.db'}", "moons").best_value


def test_parallel_jobs_share_the_study(tmp_path, config):
    storage = f"sqlite:///{tmp_path / 'jobs.db'}"
    assert main(["tune", str(config), "--trials", "3", "--jobs", "2", "--storage", storage, "--study", "par",
                 "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    trials = _study(storage, "par").trials
    assert len(trials) == 3 and all(t.state.is_finished() for t in trials)


def test_two_worker_processes_on_one_sqlite_study(tmp_path, config):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    env = dict(os.environ, PYTHONPATH=str(SRC))
    command = [sys.executable, "-m", "nnlab.cli", "tune", str(config), "--trials", "3", "--storage", storage,
               "--study", "shared", "--runs-dir", str(tmp_path / "runs"), "--quiet"]
    workers = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    results = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], results
    trials = _study(storage, "shared").trials
    assert sorted(t.number for t in trials) == list(range(6))
    assert all(t.state.is_finished() for t in trials)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 1


class _FakeTrial:
    """Stands in for an Optuna trial: records reports, prunes from epoch ``prune_at`` on."""

    def __init__(self, prune_at):
        self.prune_at, self.reports = prune_at, []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) > self.prune_at


def test_pruning_callback_stops_training_when_the_trial_says_so():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nnlab.nn.Sequential(nnlab.nn.Linear(3, 2, rng=0))
    trial = _FakeTrial(prune_at=1)
    pruning = PruningCallback(trial, "val_loss")
    history = nnlab.train.fit(model, nnlab.losses.cross_entropy, nnlab.optim.SGD(model.parameters(), lr=0.1),
                              (X, y), (X, y), epochs=10, callbacks=[pruning], verbose=0)
    assert pruning.pruned and len(history.epoch) == 2
    assert [s for s, _ in trial.reports] == [0, 1]
    assert [v for _, v in trial.reports] == pytest.approx(history["val_loss"])
    with pytest.raises(ConfigError, match="'val_f1' is not logged.*val_loss"):
        nnlab.train.fit(model, nnlab.losses.cross_entropy, nnlab.optim.SGD(model.parameters(), lr=0.1), (X, y),
                        (X, y), epochs=1, callbacks=[PruningCallback(_FakeTrial(9), "val_f1")], verbose=0)


def test_search_space_parsing_and_apply():
    space = parse_space({"optimizer": {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
                         "model.hidden": [[64], [128, 64]], "train.batch_size": {"type": "int", "low": 16,
                                                                                 "high": 64, "step": 16}})
    assert space["model.hidden"] == {"type": "categorical", "choices": [[64], [128, 64]]}
    assert space["train.batch_size"]["step"] == 16
    assert apply({}, {"model.hidden.1": 5}, {"model": {"hidden": [256, 128]}}) == {"model": {"hidden": [256, 5]}}
    with pytest.raises(ConfigError, match="indexes a list of 2 elements"):
        apply({"model": {"hidden": [1, 2]}}, {"model.hidden.2": 5})
    for bad, message in [({"x": {"type": "normal"}}, "type must be one of"),
                         ({"x": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "needs low > 0"),
                         ({"x": {"type": "int", "low": 1.5, "high": 3}}, "low must be an integer"),
                         ({"x": {"type": "float", "low": 2.0, "high": 1.0}}, "must not exceed"),
                         ({"x": {"type": "categorical", "choices": []}}, "non-empty list"),
                         ({"x": {"type": "float", "low": 0, "high": 1, "lg": True}}, "unknown key"), ({}, "table")]:
        with pytest.raises(ConfigError, match=message):
            parse_space(bad)


def test_study_with_list_choices_decodes_them(tmp_path, config, capsys):
    config.write_text(CONFIG.split("[tune.space]")[0] + '[tune.space]\n"model.hidden" = [[4], [6, 3]]\n')
    assert main(["tune", str(config), "--trials", "2", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    best = tomllib.loads((tmp_path / "moons-tune" / "best.toml").read_text())
    assert best["model"]["hidden"] in ([4], [6, 3])
    capsys.readouterr()


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace('"optimizer.lr"', '"optimizer.lrr"'), "unknown key 'optimizer.lrr'"),
    (lambda s: s.replace('low = 2, high = 16', 'low = 0, high = 16'), "model.hidden.0"),
    (lambda s: s.replace('metric = "val_accuracy"', 'metric = "val_accuracy"\nprune = 1'), "tune.prune"),
    (lambda s: s.replace("val_size = 0.25", "val_size = 0.0"), "needs a validation set"),
    (lambda s: s.split("[tune]")[0], "has no [tune] section"),
    # suggest_float draws floats: integer-written ends over an integer key are refused too (every trial failed)
    (lambda s: s + '"train.epochs" = {type = "float", low = 1, high = 4}\n',
     "train.epochs: Input should be a valid integer (got 1.0)"),
    # a trial trains one network: bagging or pretraining, in the config or in the space, is refused up front
    (lambda s: s.replace("[tune]", '[ensemble]\nmethod = "bagging"\n[tune]'),
     "without [pretrain] or [ensemble]: the config sets ensemble.method = 'bagging'"),
    (lambda s: s + '"pretrain.method" = ["none", "autoencoder"]\n',
     "tune.space 'pretrain.method' = 'autoencoder' sets pretrain.method = 'autoencoder'; tune without it"),
    # a [tasks] run logs its weighted loss and per-task accuracies, no plain val_accuracy
    (lambda s: s.replace("[tune]", _TASKS + "[tune]"),
     "tune.metric = 'val_accuracy' is not logged by a run with [tasks] (the config has tasks label, parity)"),
])
def test_user_errors_exit_2_before_any_trial(tmp_path, config, capsys, edit, message):
    config.write_text(edit(CONFIG))
    assert main(["tune", str(config), "--trials", "2", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


_TASKS = '[tasks.label]\ntarget = "label"\n[tasks.parity]\ntarget = "parity"\nweight = 0.5\n'


def _best_trial_and_its_train_run(tmp_path, config, name):
    """(the study's best value, the last history row of `nnlab train` on its best.toml) after 2 trials."""
    import csv

    runs = tmp_path / "runs"
    assert main(["tune", str(config), "--trials", "2", "--runs-dir", str(runs), "--quiet"]) == 0
    assert main(["train", str(runs / f"{name}-tune" / "best.toml"), "--quiet", "--runs-dir", str(runs)]) == 0
    with open(runs / f"{name}-best" / "history.csv") as f:
        last = list(csv.DictReader(f))[-1]
    return _study(f"sqlite:///{runs / f'{name}-tune' / 'study.db'}", name).best_value, last


def test_a_multitask_config_is_tuned_on_the_weighted_validation_loss_nnlab_train_logs(tmp_path, capsys):
    # its trials trained one network on the label alone, and best.toml then trained another (the MultiHead)
    config = tmp_path / "tasks.toml"
    config.write_text(CONFIG.replace('metric = "val_accuracy"', 'metric = "val_loss"')
                      .replace("[tune]", _TASKS + "[tune]")
                      + '"tasks.parity.weight" = { type = "float", low = 0.1, high = 2.0 }\n')
    best, last = _best_trial_and_its_train_run(tmp_path, config, "tasks")
    assert "val_accuracy_parity" in last
    assert float(last["val_loss"]) == best  # the weighted sum of the tasks' validation losses
    capsys.readouterr()


@pytest.mark.parametrize("section", [
    '[regularization]\nl2 = 0.01\nstart_epoch = 1\n',  # the trials had the penalty from epoch 0
    '[schedule]\nname = "cosine_decay"\nper = "step"\n',  # their cosine spanned train.epochs steps, not the run's
])
def test_trials_schedule_the_penalties_and_the_rate_as_train_does(tmp_path, capsys, section):
    config = tmp_path / "sched.toml"
    config.write_text(CONFIG.replace('metric = "val_accuracy"', 'metric = "val_loss"')
                      .replace("[tune]", section + "[tune]"))
    best, last = _best_trial_and_its_train_run(tmp_path, config, "sched")
    assert float(last["val_loss"]) == best
    capsys.readouterr()


def test_a_resumed_study_with_another_direction_is_refused(tmp_path, config, capsys):
    runs = str(tmp_path / "runs")
    assert main(["tune", str(config), "--trials", "1", "--runs-dir", runs, "--quiet"]) == 0
    config.write_text(CONFIG.replace('metric = "val_accuracy"', 'metric = "val_accuracy"\ndirection = "minimize"'))
    assert main(["tune", str(config), "--trials", "1", "--runs-dir", runs, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "it was created to maximize val_accuracy, this [tune] section asks to minimize it" in err
    assert len(_study(f"sqlite:///{tmp_path / 'runs' / 'moons-tune' / 'study.db'}", "moons").trials) == 1


def test_a_misspelled_metric_is_refused_before_any_trial(tmp_path, config):
    # it was found at the end of the first trial's first epoch, after the study had been created to minimize
    # 'val_acc' (so the corrected config, maximizing val_accuracy, then found the study's direction wrong)
    config.write_text(CONFIG.replace('metric = "val_accuracy"', 'metric = "val_acc"'))
    done = subprocess.run([sys.executable, "-m", "nnlab.cli", "tune", str(config), "--trials", "2", "--runs-dir",
                           str(tmp_path / "runs")], env=dict(os.environ, PYTHONPATH=str(SRC)), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "tune.metric: Input should be 'val_loss', 'val_accuracy', 'loss' or 'accuracy' (got 'val_acc')" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == "" and not (tmp_path / "runs").exists()  # no study, no trial


def test_workers_of_one_study_never_share_a_sampler_seed():
    from nnlab.cli.tune import sampler_seed

    seeds = {(trials, worker): sampler_seed(0, trials, worker) for trials in range(50) for worker in range(4)}
    assert len(set(seeds.values())) == len(seeds)  # worker 1 at n + 1 trials is not worker 0 at n (a sum was)
    assert sampler_seed(0, 0, 0) == sampler_seed(0, 0, 0) != sampler_seed(1, 0, 0)


def test_bad_arguments_exit_2(tmp_path, config, capsys):
    assert main(["tune", str(config), "--trials", "0"]) == 2
    assert main(["tune", str(config), "--trials", "1", "--storage", "nosuchdb://x", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--trials must be" in err and "--storage 'nosuchdb://x'" in err and "Traceback" not in err
    (tmp_path / "not.db").write_text("a,b\n1,2\n" * 100)
    assert main(["tune", str(config), "--trials", "1", "--storage", f"sqlite:///{tmp_path / 'not.db'}",
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "file is not a database" in capsys.readouterr().err
    assert main(["tune", str(config), "--trials", "1", "--study", "../escaped", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "--study '../escaped' is not a plain name" in capsys.readouterr().err
    assert not (tmp_path / "escaped-tune").exists() and not (tmp_path / "runs").exists()


def test_train_ignores_the_tune_section(config):
    cfg = load_config(str(config))
    assert "tune" not in cfg.model_dump()


def test_the_shipped_example_tunes(tmp_path, capsys):
    example = Path(__file__).parent.parent / "examples" / "tune_moons.toml"
    assert main(["tune", str(example), "--trials", "2", "--epochs", "2", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    assert parse_config(tomllib.loads((tmp_path / "tune_moons-tune" / "best.toml").read_text())).train.epochs == 2
    capsys.readouterr()


def test_values_valid_only_together(tmp_path, config, capsys):
    # momentum has an effect with SGD only: valid when the space sets optimizer.name to "sgd" ...
    space = (CONFIG.split("[tune.space]")[0]
             + '[tune.space]\n"optimizer.momentum" = { type = "float", low = 0.5, high = 0.9 }\n')
    config.write_text(space + '"optimizer.name" = ["sgd"]\n')
    assert main(["tune", str(config), "--trials", "2", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    assert json.loads((tmp_path / "moons-tune" / "summary.json").read_text())["fail"] == 0
    # ... refused when it may be "adam", which no momentum goes with
    config.write_text(space + '"optimizer.name" = ["sgd", "adam"]\n')
    assert main(["tune", str(config), "--trials", "2", "--runs-dir", str(tmp_path / "b"), "--quiet"]) == 2
    assert "'optimizer.name' = 'adam' gives no valid config" in capsys.readouterr().err


def test_trials_run_on_a_dask_cluster(tmp_path, config):
    distributed = pytest.importorskip("distributed")
    storage = f"sqlite:///{tmp_path / 'dask.db'}"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        assert main(["tune", str(config), "--trials", "2", "--jobs", "2", "--storage", storage, "--study", "dask",
                     "--scheduler", c.scheduler_address, "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    trials = _study(storage, "dask").trials
    assert len(trials) == 2 and all(t.state.is_finished() for t in trials)
