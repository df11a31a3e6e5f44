"""Every command-line case of issue 11, each in a real `nnlab` process: exit code 2 and one clear message that
names the key, value or path, never a traceback, and no file changed outside the run folder."""

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlab

SRC = str(Path(__file__).parent.parent / "src")
DATA = {"sparse": (0, 3000), "big": (0, 1000000), "names": ("dog", "cat"), "one": (7, 7)}


def _nnlab(cwd, *args, env=None, **popen):
    return subprocess.run([sys.executable, "-m", "nnlab.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": SRC, **(env or {})}, **popen)


def _csv(path, X, labels=None):
    with open(path, "w") as f:
        f.write(",".join(["a", "b", "c"] + (["label"] if labels is not None else [])) + "\n")
        for i, row in enumerate(X):
            f.write(",".join(map(str, row)) + (f",{labels[i]}" if labels is not None else "") + "\n")


def _csv_config(path, data):
    path.write_text(f'[data]\nsource = "csv"\npath = "{data}"\ntarget = "label"\n[model]\nhidden = [8]\n'
                    "[train]\nepochs = 3\n")
    return path


def _snapshot(folder):
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Data files and three trained runs: labels {0, 3000}, {0, 1000000} and the class names cat and dog."""
    w = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    for name, (neg, pos) in DATA.items():
        _csv(w / f"{name}.csv", X, [pos if x > 0 else neg for x in X[:, 0]])
        _csv_config(w / f"{name}.toml", w / f"{name}.csv")
    _csv(w / "in.csv", X[:6])
    (w / "nohead.csv").write_text("\n".join(",".join(map(str, r)) for r in X[:4]) + "\n")
    lines = (w / "in.csv").read_text().splitlines()
    (w / "blank.csv").write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n")
    for name in ("sparse", "big", "names"):
        result = _nnlab(w, "train", f"{name}.toml", "--quiet")
        assert result.returncode == 0, result.stderr
    return w


def _fails(cwd, world, *args, messages, code=2, **kwargs):
    """Run nnlab; it must exit with ``code``, print every one of ``messages``, no traceback, change no file."""
    before = _snapshot(world), _snapshot(cwd)
    result = _nnlab(cwd, *args, **kwargs)
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.startswith("nnlab: error: "), result.stderr
    for message in messages:
        assert message in result.stderr, result.stderr
    assert (_snapshot(world), _snapshot(cwd)) == before
    return result.stderr


CONFIGS = [  # config text -> what the message must name
    ("seed = -1\n", ["seed", "-1"]),
    ("[model]\nhidden = [1000000, 1000000]\n", ["model.hidden = [1000000, 1000000] needs about", "of memory"]),
    ("[model]\nhidden = [1e6, 1e6]\n", ["model.hidden.0", "1000000.0"]),
    ('[data]\nsource = "moons"\nn = 1000000000000\n', ["data.n = 1000000000000 needs about", "of memory"]),
    ('[[model.layers]]\ntype = "Linear"\nin_features = 2\nout_features = 100000000000\n[[model.layers]]\n'
     'type = "Linear"\nin_features = 100000000000\nout_features = 2\n',
     ["model.layers (500,000,000,002 parameters) needs about", "of memory", "use smaller layers"]),
    ('[data]\nsource = "moons"\nn = 2\n', ["data.n = 2", "too small to split", "data.test_size = 0.2"]),
    ('name = "."\n', ["name = '.'", "plain folder name"]),
    ('name = "a/b"\n', ["name", "'a/b'"]),
    ("[train]\nepochs = true\n", ["train.epochs", "True"]),
    ("[train]\nepochs = 2.0\n", ["train.epochs", "2.0"]),
    ('[model]\nbatch_norm = "yes"\n', ["model.batch_norm", "'yes'"]),
    ('[optimizer]\nname = "adam"\nmomentum = 0.9\n', ["optimizer.momentum = 0.9 has no effect", "'adam'"]),
    ('[model]\nactivation = "maxout"\nbias_init = 0.01\n', ["model.bias_init = 0.01 has no effect", "'maxout'"]),
    ('[model]\nactivation = "maxout"\nbatch_norm = true\n', ["model.batch_norm = True has no effect"]),
    ("[optimizer]\nlr = inf\n", ["optimizer.lr", "finite", "inf"]),
    ("[optimizer]\neps = inf\n", ["optimizer.eps", "inf"]),
    ("[optimizer]\nbetas = [0.9, 1.5]\n", ["optimizer.betas.1", "1.5"]),
    ("[optimizer]\nweight_decay = inf\n", ["optimizer.weight_decay", "inf"]),
    ("[optimizer]\nlr = -0.1\n", ["optimizer.lr", "-0.1"]),
]


@pytest.mark.parametrize("text, messages", CONFIGS, ids=[f"config{i}" for i in range(len(CONFIGS))])
def test_bad_config_values(tmp_path, world, text, messages):
    (tmp_path / "c.toml").write_text(text)
    _fails(tmp_path, world, "train", "c.toml", "--quiet", messages=messages)
    assert not (tmp_path / "runs").exists()


COMMANDS = [  # arguments (W = the world folder) -> messages
    (["train", "W/runs/sparse/model.safetensors"], ["not UTF-8 text", "`nnlab evaluate`"]),
    (["train", "--name", "..", "--quiet"], ["name = '..'", "plain folder name"]),
    (["train", "--name", "a/../b", "--quiet"], ["'a/../b'"]),
    (["train", "W/one.toml", "--quiet"], ["one class only (7)", "two or more"]),
    (["train", "W/sparse.toml", "--runs-dir", "W/in.csv"], ["runs folder", "in.csv' is a file", "--runs-dir"]),
    (["train", "W/sparse.toml", "--runs-dir", "W/runs"], ["run 'sparse' already exists", "--overwrite", "--resume"]),
    (["predict", "W/runs/sparse", "W/in.csv", "-o", "W/in.csv"], ["is the input file", "-o FILE"]),
    (["predict", "W/runs/sparse", "W/in.csv", "-o", "W/./in.csv"], ["is the input file"]),
    (["predict", "W/runs/sparse", "W/in.csv", "-o", "W/runs"], ["W/runs' is a folder", "-o FILE"]),
    (["predict", "W/runs/sparse", "W/in.csv", "-o", "W/runs/sparse/model.safetensors"],
     ["is the model file itself", "-o FILE"]),
    (["predict", "W/runs/sparse/model.safetensors", "W/in.csv", "-o", "W/runs/sparse/./model.safetensors"],
     ["is the model file itself"]),
    (["predict", "W/runs/sparse", "W/nohead.csv", "-o", "out.csv"], ["nohead.csv: the first line holds numbers",
                                                                     "add a header line"]),
    (["predict", "W/runs/sparse", "W/blank.csv", "-o", "out.csv"], ["blank.csv, line 4: blank line"]),
    (["evaluate", "W/runs/sparse", "--data", "W/nohead.csv"], ["first line holds numbers"]),
    (["evaluate", "W/runs/names", "--data", "W/sparse.csv"], ["label 3000 is not one of the model's classes",
                                                               "'cat', 'dog'"]),
    (["predict", "W/runs/sparse", "W/missing.csv"], ["'W/missing.csv' does not exist"]),
    (["info", "W/in.csv"], ["in.csv", "not an nnlab model file"]),
    (["evaluate", "W"], ["is a folder without model.safetensors"]),
]


@pytest.mark.parametrize("args, messages", COMMANDS, ids=[f"{a[0][0]}{i}" for i, a in enumerate(COMMANDS)])
def test_bad_commands(tmp_path, world, args, messages):
    fill = [a.replace("W/", f"{world}/").replace("W", str(world)) if a.startswith("W") else a for a in args]
    messages = [m.replace("W/", f"{world}/").replace("'W'", repr(str(world))) for m in messages]
    _fails(tmp_path, world, *fill, messages=messages)


def test_sparse_and_named_labels_map_to_classes_in_predict_and_evaluate(tmp_path, world):
    for name, classes in (("sparse", ["0", "3000"]), ("big", ["0", "1000000"]), ("names", ["cat", "dog"])):
        model = nnlab.load(world / "runs" / name / "model.safetensors")
        assert [str(c) for c in model.classes] == classes
        assert model(nnlab.tensor(np.zeros((1, 3), np.float32))).shape == (1, 2)  # two outputs, not 3001
        result = _nnlab(tmp_path, "predict", world / "runs" / name, world / "in.csv", "-o", f"{name}.csv")
        assert result.returncode == 0, result.stderr
        rows = (tmp_path / f"{name}.csv").read_text().splitlines()
        assert rows[0] == "prediction," + ",".join(f"p_{c}" for c in classes) and len(rows) == 1 + 6
        assert {r.split(",")[0] for r in rows[1:]} <= set(classes)
        result = _nnlab(tmp_path, "evaluate", world / "runs" / name, "--data", world / f"{name}.csv")
        assert result.returncode == 0 and "evaluated on" in result.stdout and "(60 samples)" in result.stdout


def test_mixed_runs_and_a_stored_config_that_names_a_file_are_refused(tmp_path, world):
    run = tmp_path / "mixed"
    shutil.copytree(world / "runs" / "sparse", run)
    shutil.copy(world / "runs" / "big" / "model.safetensors", run / "model.safetensors")
    _fails(tmp_path, world, "evaluate", run, messages=["belong to different runs", "--overwrite"])
    # The stored config of a CSV run names its training file: evaluate reads only what the command names.
    _fails(tmp_path, world, "evaluate", world / "runs" / "sparse" / "model.safetensors",
           messages=["this run was trained on the file", "pass --data FILE"])


def _unwritable(tmp_path):
    """A folder this process cannot write into (chmod for a normal user; root ignores modes, so /sys then)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").write_text("")
    except PermissionError:
        return folder
    (folder / "probe").unlink()
    folder.chmod(0o755)
    try:
        os.mkdir("/sys/nnlab-write-probe")
    except OSError:
        return Path("/sys")
    os.rmdir("/sys/nnlab-write-probe")
    pytest.skip("no unwritable folder on this machine")


def test_read_only_runs_folder_and_output_path(tmp_path, world):
    locked = _unwritable(tmp_path)
    try:
        err = _fails(tmp_path, world, "train", world / "sparse.toml", "--runs-dir", locked / "runs",
                     messages=[str(locked / "runs")])
        assert "permission" in err.lower() or "not permitted" in err.lower()
        _fails(tmp_path, world, "predict", world / "runs" / "sparse", world / "in.csv", "-o", locked / "p.csv",
               messages=[str(locked), "choose another path"])
    finally:
        if locked.is_relative_to(tmp_path):
            locked.chmod(0o755)


def test_unreadable_config(tmp_path, world):
    config = tmp_path / "c.toml"
    config.write_text("seed = 1\n")
    config.chmod(0)
    try:
        if os.access(config, os.R_OK):
            pytest.skip("this user reads files whatever their mode (root)")
        _fails(tmp_path, world, "train", config, messages=["cannot read config file", "permission denied"])
    finally:
        config.chmod(0o644)


FULL_DISK = """
import errno, os
_fsync = os.fsync
def fsync(fd):
    if os.path.isfile(f"/proc/self/fd/{fd}"):  # files, not folders: the disk fills while data is flushed
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _fsync(fd)
os.fsync = fsync
"""


def test_full_disk_and_file_size_limit_leave_no_partial_file(tmp_path, world):
    # ENOSPC, as a full disk reports it when written data is flushed: os.fsync fails in the real writer,
    # through a sitecustomize module (the only thing replaced); the error path is nnlab's own.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FULL_DISK)
    env = {"PYTHONPATH": f"{SRC}{os.pathsep}{hook}"}
    (tmp_path / "out.csv").write_text("previous\n")
    _fails(tmp_path, world, "predict", world / "runs" / "sparse", world / "in.csv", "-o", "out.csv", env=env,
           messages=["out.csv: No space left on device", "free some disk space"])
    assert (tmp_path / "out.csv").read_text() == "previous\n"
    err = _fails(tmp_path, world, "train", world / "sparse.toml", "--runs-dir", "elsewhere", env=env,
                 messages=["No space left on device"])
    assert "elsewhere/sparse/config.json" in err
    assert not [p for p in (tmp_path / "elsewhere").rglob("*") if p.is_file()]  # no temporary file left
    shutil.rmtree(tmp_path / "elsewhere")
    # A real kernel refusal in write(): the file-size limit (EFBIG), the same path as a write that fails midway.
    import resource

    _fails(tmp_path, world, "predict", world / "runs" / "sparse", world / "in.csv", "-o", "out.csv",
           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)),
           messages=["out.csv: File too large", "ulimit -f"])
    assert (tmp_path / "out.csv").read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hook", "out.csv"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_device_is_named(tmp_path, world):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "nnlab.cli", "info", str(world / "runs" / "sparse")], cwd=tmp_path,
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=300,
                                env={**os.environ, "PYTHONPATH": SRC})
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nnlab: error: standard output: No space left on device")


def test_output_onto_a_fifo_is_refused_and_left_alone(tmp_path, world):
    os.mkfifo(tmp_path / "pipe")
    _fails(tmp_path, world, "predict", world / "runs" / "sparse", world / "in.csv", "-o", "pipe",
           messages=["pipe: not a regular file (a device, FIFO or socket)"])
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


def test_evaluate_counts_the_bad_rows_of_the_whole_file_and_lab_checks_its_output_first(tmp_path, world):
    X = np.full((6, 3), np.nan)
    np.savez(tmp_path / "x.npz", X=X, y=np.zeros(6, dtype=int))
    _fails(tmp_path, world, "evaluate", world / "runs" / "sparse", "--data", "x.npz",
           messages=["x.npz: array 'X', row 0, column 0 (counting from 0): nan is not a finite number "
                     "(6 rows have such values)"])
    (tmp_path / "folder").mkdir()
    _fails(tmp_path, world, "lab", "report", "--quick", "-o", "folder", messages=["'folder' is a folder; pass -o FILE"])


def test_broken_pipe(tmp_path, world):
    """`nnlab evaluate ... | head -2`: the reader goes away; one message, exit 2, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "nnlab.cli", "evaluate", str(world / "runs" / "names"), "--data",
                             str(world / "names.csv")], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": SRC}, text=True)
    proc.stdout.close()  # before nnlab writes its first line
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 2, err
    assert err == "nnlab: error: the output was closed before nnlab finished writing (broken pipe)\n"
    shell = subprocess.run(f"'{sys.executable}' -m nnlab.cli evaluate '{world}/runs/names' --data "
                           f"'{world}/names.csv' | head -2", shell=True, cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert shell.stdout.startswith("evaluated on") and len(shell.stdout.splitlines()) == 2
    assert "Traceback" not in shell.stderr


def test_divergence_at_a_finite_loss_exits_1_and_keeps_the_initial_weights(tmp_path, world):
    """Adam at lr 1e6: every loss finite (val_loss near 1e18) yet far above the initial one."""
    from nnlab.cli.build import build_model, prepare_data
    from nnlab.cli.config import load_config

    (tmp_path / "c.toml").write_text('[data]\nsource = "moons"\n[optimizer]\nname = "adam"\nlr = 1e6\n')
    result = _nnlab(tmp_path, "train", "c.toml", "--quiet")
    assert result.returncode == 1, result.stderr
    err = result.stderr
    assert "Traceback" not in err and "stopped early" not in result.stdout
    assert "nnlab: error: training diverged at epoch 3: loss stayed above 1000 x the initial loss" in err
    assert "model.safetensors holds the initial weights (no epoch ended well)" in err
    assert "try a lower learning rate than optimizer.lr = 1e+06" in err
    history = (tmp_path / "runs" / "c" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3 and all(float(r.split(",")[1]) > 1e3 for r in history[1:])
    cfg = load_config(str(tmp_path / "c.toml"))
    nnlab.seed(cfg.seed)
    splits = prepare_data(cfg)
    initial = build_model(cfg, splits.num_features, splits.num_classes).state_dict()
    for file in ("model.safetensors", "checkpoint.safetensors"):
        saved = nnlab.load(tmp_path / "runs" / "c" / file).state_dict()
        assert all(np.array_equal(saved[k], initial[k]) for k in initial), file
    assert not (tmp_path / "runs" / "c" / "resume.safetensors").exists()


def test_an_overflowing_weight_decay_is_named_not_the_learning_rate(tmp_path, world):
    (tmp_path / "c.toml").write_text('[data]\nsource = "moons"\nn = 100\n[optimizer]\nname = "sgd"\n'
                                     "weight_decay = 1e300\n[train]\nepochs = 2\n")
    result = _nnlab(tmp_path, "train", "c.toml", "--quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "optimizer.weight_decay = 1e+300 times optimizer.lr = 0.001" in result.stderr
    assert "lower learning rate" not in result.stderr


def test_npz_non_finite_feature_refused_before_the_run_folder(tmp_path, world):
    """Row 3 lands in the held-out split: still refused up front, no run folder left behind (was after an epoch)."""
    X = np.random.default_rng(0).normal(size=(40, 2))
    X[3, 0] = np.inf
    np.savez(tmp_path / "inf.npz", X=X, y=np.array([0, 1] * 20))
    (tmp_path / "c.toml").write_text('[data]\nsource = "npz"\npath = "inf.npz"\npreprocessing = []\n'
                                     "[model]\nhidden = [4]\n[train]\nepochs = 1\n")
    err = _fails(tmp_path, world, "train", "c.toml", "--quiet", messages=["inf.npz: array 'X', row 3, column 0"])
    assert len(err.splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_config_problems_on_one_line(tmp_path, world):
    """README: one `nnlab: error: ...` line; several problems are joined by "; " (was a header line, then one each)."""
    (tmp_path / "bad.toml").write_text('[train]\nepochs = "3"\nbatch_size = "x"\n')
    err = _fails(tmp_path, world, "train", "bad.toml", "--quiet",
                 messages=["nnlab: error: invalid config file 'bad.toml': train.epochs: ", "(got '3'); train.batch_size"])
    assert err.count("\n") == 1, err
