"""nnlab.distributed: the epoch's training figures, a KL sparsity penalty and a per-step learning-rate schedule
under mpiexec are one process's.

The helpers (mpiexec in a subprocess, the comparison with a one-process run) are tests/test_distributed.py's.
"""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")
HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import mpi_worker  # noqa: E402
from nnlab.cli import main  # noqa: E402
from test_distributed import _equals_one_process, _mpiexec  # noqa: E402  (skips this module too without mpiexec)


@pytest.mark.parametrize("k", [2, 3])
def test_kl_sparsity_and_training_metrics_that_are_no_means_equal_one_process(tmp_path, k):
    """A KL activity penalty reads ρ̂, the mean activation over the global batch (not each rank's rows); a count's
    training figure is the sum of the ranks' counts, a maximum's the largest row of all ranks (not their means)."""
    args = ["--sparse", "--metrics", "counts"]
    result = _mpiexec(k, HERE / "mpi_worker.py", tmp_path / "many.npz", "--distributed", *args)
    assert result.returncode == 0, result.stderr
    mpi_worker.main([str(tmp_path / "one.npz"), "--batch", str(8 * k), *args])
    _equals_one_process(tmp_path / "many.npz", tmp_path / "one.npz", k, "float64")
    one = np.load(tmp_path / "one.npz")
    assert {"first_class_count", "largest_logit", "val_first_class_count"} <= set(one.files)
    assert one["first_class_count"].max() > 0 and one["first_class_count"].max() <= mpi_worker.TRAIN


# a cosine decay over the run's steps with a 1-epoch warm-up: 140 training rows, 9 global batches of 16 an epoch
STEP_SCHEDULE = ('seed = 0\n[data]\nsource = "moons"\nn = 200\n[model]\nhidden = [8]\n[train]\nepochs = 4\n'
                 'batch_size = {batch}\ncheckpoint = "none"\n[optimizer]\nname = "sgd"\nlr = 0.1\n'
                 '[schedule]\nname = "cosine_decay"\nper = "step"\nwarmup_epochs = 1\n')


def _rates(run):
    with open(run / "history.csv", newline="") as f:
        return [float(row["lr"]) for row in csv.DictReader(f)]


def test_a_per_step_schedule_spans_the_steps_each_rank_runs_as_in_one_process(tmp_path, monkeypatch):
    """With per-rank batch 8 on 2 ranks a step takes 16 rows, so an epoch is 9 steps, not ceil(140 / 8) = 18: the
    cosine reaches its end at the last epoch, as in one process with batch 16 (it stopped half-way down)."""
    (tmp_path / "k2.toml").write_text(STEP_SCHEDULE.format(batch=8))
    (tmp_path / "one.toml").write_text(STEP_SCHEDULE.format(batch=16))
    result = _mpiexec(2, "-m", "nnlab.cli", "train", "k2.toml", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    monkeypatch.chdir(tmp_path)
    assert main(["train", "one.toml", "--quiet"]) == 0
    ranks, one = _rates(tmp_path / "runs" / "k2"), _rates(tmp_path / "runs" / "one")
    # each epoch logs its last step's rate: step 9e - 1 of 36, the first epoch's scaled by the warm-up's 1/9 + 8/9 · 8/9
    cosine = [0.05 * (1 + np.cos(np.pi * (9 * e - 1) / 36)) for e in (1, 2, 3, 4)]
    assert one == pytest.approx([cosine[0] * (1 / 9 + 8 / 9 * 8 / 9), *cosine[1:]], rel=1e-9)
    assert ranks == pytest.approx(one, rel=1e-12)
