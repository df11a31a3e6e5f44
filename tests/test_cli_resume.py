"""`nnlab train` killed (SIGKILL) or interrupted (Ctrl-C) and then resumed ends bit for bit where an
uninterrupted run ends: the same weights and the same history.csv; no temporary file is left behind."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nnlab

SRC = str(Path(__file__).parent.parent / "src")
# Dropout and shuffling draw randomness, early stopping and the checkpoint keep state across epochs.
CONFIG = """
[data]
source = "moons"
n = 300
[model]
hidden = [16]
dropout_keep = 0.9
[train]
epochs = 25
batch_size = 8
early_stopping = 100
"""


def _start(cwd, *args):
    # SIGINT back to its default in the child, whatever the test runner set, so Python turns it into Ctrl-C.
    return subprocess.Popen([sys.executable, "-m", "nnlab.cli", *map(str, args)], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _nnlab(cwd, *args):
    proc = _start(cwd, *args)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _weights(run, name="model.safetensors"):
    return nnlab.load(run / name).state_dict()


def _same_run(run, ref):
    """The finished run equals the reference bit for bit (model, checkpoints, history.csv); nothing temporary or
    resumable is left."""
    from nnlab.cli.runs import CHECKPOINTS

    for name in ("model.safetensors", *(n for n in CHECKPOINTS if (ref / n).exists())):
        got, want = _weights(run, name), _weights(ref, name)
        assert list(got) == list(want), name
        for key in want:
            assert np.array_equal(got[key], want[key]), (name, key)
    assert (run / "history.csv").read_bytes() == (ref / "history.csv").read_bytes()
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in ref.iterdir())  # no .nnlab-tmp-, no state


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("reference")
    (cwd / "r.toml").write_text(CONFIG)
    code, _, err = _nnlab(cwd, "train", "r.toml", "--quiet")
    assert code == 0, err
    from nnlab.cli.runs import RUN_FILES

    written = sorted(p.name for p in (cwd / "runs" / "r").iterdir())
    assert set(written) <= set(RUN_FILES), written  # so --overwrite can replace every file of a run
    return cwd / "runs" / "r"


def _inode(path):
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _kill_at(proc, run, writes, delay):
    """SIGKILL ``proc`` ``delay`` s after it wrote its training state ``writes`` times (None: after model.safetensors).

    Every atomic write gives the state file a new inode.  Moments in training progress rather than in
    seconds, so a loaded machine moves them less.
    """
    state, seen, count = run / "resume.safetensors", _inode(run / "resume.safetensors"), 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        now = _inode(state)
        if now is not None and now != seen:
            seen, count = now, count + 1
        if (count >= writes) if writes is not None else (run / "model.safetensors").exists():
            break
        time.sleep(0.001)
    time.sleep(delay)
    killed = proc.poll() is None
    proc.kill()
    proc.communicate()
    return killed


def test_sigkill_at_random_moments_then_resume_is_bitwise_identical(tmp_path, reference):
    ref = reference
    (tmp_path / "r.toml").write_text(CONFIG)
    run = tmp_path / "runs" / "r"
    rng = np.random.default_rng(11)
    killed = 0
    # Killed early in training; in the middle and the resumed process again; while it writes the report.
    for moments in ([int(rng.integers(1, 8))], [int(rng.integers(8, 16)), int(rng.integers(1, 6))], [None]):
        shutil.rmtree(tmp_path / "runs", ignore_errors=True)
        for i, writes in enumerate(moments):
            killed += _kill_at(_start(tmp_path, "train", "r.toml", "--quiet", *(["--resume"] if i else [])), run,
                               writes, float(rng.uniform(0, 0.05)))
        code, out, err = _nnlab(tmp_path, "train", "r.toml", "--quiet", "--resume")
        # Only a kill after the last write (the state file removed) leaves a complete run.
        assert code == 0 or (code == 2 and "is complete" in err and writes is None), err
        assert "Traceback" not in err
        _same_run(run, ref)
    assert killed == 4


def test_ctrl_c_keeps_the_last_epoch_says_how_to_resume_and_the_resumed_run_is_identical(tmp_path, reference):
    ref = reference
    (tmp_path / "r.toml").write_text(CONFIG)
    run = tmp_path / "runs" / "r"
    proc = _start(tmp_path, "train", "r.toml", "--quiet")
    while not (run / "resume.safetensors").exists() and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")  # only on a very slow first epoch write
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "the last complete one, is kept in" in err and f"nnlab resume {Path('runs') / 'r'}" in err
    epoch = int(err.split("interrupted; epoch ")[1].split(",")[0])
    assert len((run / "history.csv").read_text().splitlines()) == 1 + epoch
    assert (run / "checkpoint.safetensors").exists() and (run / "resume.safetensors").exists()
    assert not list(run.glob(".*nnlab-tmp*"))

    code, out, err = _nnlab(tmp_path, "resume", "runs/r", "--quiet")
    assert code == 0, err
    _same_run(run, ref)


def test_resume_refusals(tmp_path, reference):
    ref = reference
    (tmp_path / "r.toml").write_text(CONFIG)
    code, _, err = _nnlab(tmp_path, "train", "r.toml", "--resume")
    assert code == 2 and "there is no run to resume" in err and "drop --resume" in err
    code, _, err = _nnlab(tmp_path, "resume", ref)  # a finished run
    assert code == 2 and "is complete" in err and "nothing to resume" in err
    (tmp_path / "runs").mkdir()
    os.symlink(ref, tmp_path / "runs" / "r")
    code, _, err = _nnlab(tmp_path, "train", "r.toml", "--resume", "--epochs", "3")
    assert code == 2 and "train.epochs differ" in err and "Traceback" not in err
    code, _, err = _nnlab(tmp_path, "train", "r.toml", "--resume", "--overwrite")
    assert code == 2 and "pass one of them" in err


def _tree(root):
    """Every file and folder under ``root``, as relative paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_a_run_resumed_by_its_absolute_path_from_another_directory_writes_only_in_its_folder(tmp_path, reference):
    (tmp_path / "r.toml").write_text(CONFIG)
    run = tmp_path / "runs" / "r"
    assert _kill_at(_start(tmp_path, "train", "r.toml", "--quiet"), run, 5, 0.0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, _, err = _nnlab(elsewhere, "resume", run.resolve(), "--quiet")
    assert code == 0, err
    _same_run(run, reference)
    assert _tree(tmp_path) == sorted(["elsewhere", "r.toml", "runs", "runs/r", *(f"runs/r/{n}" for n in _tree(run))])


# Validation loss is lowest in epoch 3 and the data are not preprocessed: the best checkpoint is written before the
# folder is moved, and the Checkpoint's save options (the run's metadata) are plain settings a state file can hold.
BEST_EARLY = """
[data]
source = "moons"
n = 120
noise = 0.35
preprocessing = []
val_size = 0.25
[model]
hidden = [64, 64]
[optimizer]
name = "adam"
lr = 0.03
[train]
epochs = 30
batch_size = 4
checkpoint = "best"
tensorboard = true
"""


def test_a_moved_run_folder_is_resumed_into_itself_and_ends_as_an_uninterrupted_run(tmp_path):
    (tmp_path / "o.toml").write_text(BEST_EARLY)
    code, _, err = _nnlab(tmp_path, "train", "o.toml", "--quiet", "--name", "ref")
    assert code == 0, err
    runs = tmp_path / "runs"
    assert _kill_at(_start(tmp_path, "train", "o.toml", "--quiet"), runs / "o", 8, 0.0)
    (runs / "o").rename(runs / "moved")
    code, _, err = _nnlab(tmp_path, "resume", "runs/moved", "--quiet")
    assert code == 0, err
    _same_run(runs / "moved", runs / "ref")
    # Nothing at the old place or anywhere else; the killed and the resumed process' event files are both in moved/.
    events = [n for n in _tree(runs / "moved") if n.startswith("tensorboard/")]
    assert len(events) == 2
    assert _tree(tmp_path) == sorted(["o.toml", "runs", *(f"runs/ref/{n}" for n in _tree(runs / "ref")), "runs/ref",
                                      *(f"runs/moved/{n}" for n in _tree(runs / "moved")), "runs/moved"])
    # The best checkpoint (epoch 3, written at the old place) and the resumed files are still one run.
    evaluated = [_nnlab(tmp_path, "evaluate", f"runs/{name}") for name in ("moved", "ref")]
    assert evaluated[0][0] == 0, evaluated[0][2]
    assert evaluated[0][1] == evaluated[1][1]


CONV = """
[data]
source = "digits"
preprocessing = []
augment_jitter = 1
[[model.layers]]
type = "Unflatten"
dim = 1
unflattened_size = [1, 8, 8]
[[model.layers]]
type = "Conv2d"
in_channels = 1
out_channels = 4
kernel_size = 3
[[model.layers]]
type = "BatchNorm"
num_features = 4
[[model.layers]]
type = "ReLU"
[[model.layers]]
type = "MaxPool2d"
kernel_size = 2
[[model.layers]]
type = "Flatten"
[[model.layers]]
type = "Linear"
in_features = 36
out_features = 10
[train]
epochs = 3
"""


def test_a_conv_net_with_jitter_and_batch_norm_resumes_bitwise(tmp_path):
    """Conv filters, BatchNorm running statistics and the jitter generator all come back from the state."""
    (tmp_path / "cnn.toml").write_text(CONV)
    code, _, err = _nnlab(tmp_path, "train", "cnn.toml", "--quiet", "--name", "ref")
    assert code == 0, err
    proc = _start(tmp_path, "train", "cnn.toml", "--quiet")
    while not (tmp_path / "runs" / "cnn" / "resume.safetensors").exists() and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    code, _, err = _nnlab(tmp_path, "train", "cnn.toml", "--quiet", "--resume")
    assert code == 0, err
    got, want = _weights(tmp_path / "runs" / "cnn"), _weights(tmp_path / "runs" / "ref")
    assert any("running_mean" in k for k in want) and list(got) == list(want)
    assert all(np.array_equal(got[k], want[k]) for k in want)
    assert (tmp_path / "runs" / "cnn" / "history.csv").read_bytes() == (tmp_path / "runs" / "ref" /
                                                                       "history.csv").read_bytes()
