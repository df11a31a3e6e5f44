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


def _weights(run):
    return nnlab.load(run / "model.safetensors").state_dict()


def _same_run(run, ref):
    """The finished run equals the reference bit for bit; nothing temporary or resumable is left."""
    got, want = _weights(run), _weights(ref)
    assert list(got) == list(want)
    for key in want:
        assert np.array_equal(got[key], want[key]), key
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
