"""nnlab.distributed: the epoch's training figures and a KL sparsity penalty under mpiexec are one process's.

The helpers (mpiexec in a subprocess, the comparison with a one-process run) are tests/test_distributed.py's.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")
HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import mpi_worker  # noqa: E402
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
