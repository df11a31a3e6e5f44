"""A run killed with SIGKILL at random moments and resumed ends bit for bit where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = r"""
import json, sys
import numpy as np
import nnlab
from nnlab import nn, optim, datasets
from nnlab.train import EarlyStopping, TrainingState, fit

state, out, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
nnlab.seed(0)
X, y = datasets.load("moons", n=200, noise=0.2, seed=0)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(keep=0.9), nn.Linear(16, 2))
opt = optim.Adam(model.parameters(), lr=0.01)
h = fit(model, nnlab.losses.cross_entropy, opt, (X[:150], y[:150]), (X[150:], y[150:]), epochs=40, batch_size=16,
        seed=1, verbose=0, callbacks=[EarlyStopping(patience=50), TrainingState(state)],
        resume_from=state if resume else None)
np.savez(out, **{k: v for k, v in model.state_dict().items()})
open(out + ".json", "w").write(json.dumps({"history": h.history, "epoch": h.epoch}))
"""


def _run(tmp, state, out, resume, kill_after=None):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(state), str(out), "1" if resume else "0"], env=env,
                            stderr=subprocess.PIPE)
    if kill_after is None:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        return True
    deadline = time.time() + 60
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    time.sleep(kill_after)
    if proc.poll() is not None:
        return False  # finished before the kill
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def test_sigkill_at_random_moments_then_resume_is_bitwise_identical(tmp_path):
    _run(tmp_path, tmp_path / "ref.state", tmp_path / "ref.npz", resume=False)
    ref = np.load(tmp_path / "ref.npz")
    ref_history = json.loads((tmp_path / "ref.npz.json").read_text())
    rng = np.random.default_rng(0)
    killed = 0
    for trial in range(3):
        state, out = tmp_path / f"t{trial}.state", tmp_path / f"t{trial}.npz"
        killed += _run(tmp_path, state, out, resume=False, kill_after=float(rng.uniform(0.0, 0.4)))
        _run(tmp_path, state, out, resume=True)
        got = np.load(out)
        assert sorted(got.files) == sorted(ref.files)
        for k in ref.files:
            assert np.array_equal(got[k], ref[k]), k  # bit for bit
        assert json.loads((tmp_path / f"t{trial}.npz.json").read_text()) == ref_history
    assert killed >= 1


def test_resuming_a_run_that_had_stopped_trains_no_further_epoch(tmp_path):
    import nnlab
    from nnlab import datasets, nn, optim
    from nnlab.train import EarlyStopping, TrainingState, fit

    def run(resume):
        nnlab.seed(0)
        X, y = datasets.load("moons", n=120, noise=0.2, seed=0)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        h = fit(model, nnlab.losses.cross_entropy, optim.SGD(model.parameters(), lr=1.0), (X[:90], y[:90]),
                (X[90:], y[90:]), epochs=60, batch_size=30, seed=1, verbose=0,
                callbacks=[EarlyStopping(patience=1), TrainingState(tmp_path / "s")],
                resume_from=tmp_path / "s" if resume else None)
        return model.state_dict(), h

    first, h1 = run(False)
    again, h2 = run(True)
    assert len(h1.epoch) < 60 and h2.epoch == h1.epoch and h2.history == h1.history
    assert h2.stop_reason == h1.stop_reason and "EarlyStopping" in h2.stop_reason
    assert all(np.array_equal(first[k], again[k]) for k in first)


def test_a_moved_run_resumes_into_its_new_folder(tmp_path):
    """File writers write where the resumed run built them, not where the saved state's run wrote."""
    import shutil

    import nnlab
    from nnlab import datasets, nn, optim
    from nnlab.train import Checkpoint, MetricsLogger, TensorBoard, TrainingState, fit

    def run(folder, epochs, resume):
        nnlab.seed(0)
        X, y = datasets.load("moons", n=120, noise=0.2, seed=0)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        callbacks = [Checkpoint(folder / "ckpt.safetensors", metadata={"folder": str(folder)}),
                     MetricsLogger(folder / "log.csv"), TensorBoard(folder / "tb"), TrainingState(folder / "state")]
        fit(model, nnlab.losses.cross_entropy, optim.Adam(model.parameters(), lr=0.01), (X[:90], y[:90]),
            (X[90:], y[90:]), epochs=epochs, batch_size=30, seed=1, verbose=0, callbacks=callbacks,
            resume_from=folder / "state" if resume else None)
        return callbacks

    run(tmp_path / "ref", 4, False)
    run(tmp_path / "old", 2, False)
    shutil.move(tmp_path / "old", tmp_path / "new")
    checkpoint, logger, board, _ = run(tmp_path / "new", 4, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "ref"]
    assert checkpoint.saved == [(e, os.fspath(tmp_path / "new" / "ckpt.safetensors")) for e in range(4)]
    assert (logger.path, board.log_dir) == (os.fspath(tmp_path / "new" / "log.csv"), os.fspath(tmp_path / "new" / "tb"))
    assert (tmp_path / "new" / "log.csv").read_bytes() == (tmp_path / "ref" / "log.csv").read_bytes()
    stored = nnlab.io.read_metadata(tmp_path / "new" / "ckpt.safetensors")["metadata"]
    assert stored == {"folder": str(tmp_path / "new")}  # the save options are the new run's, not the saved ones
