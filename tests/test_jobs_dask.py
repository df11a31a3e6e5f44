"""nnlab.jobs: seeded jobs give the same results on local processes and on a Dask cluster (2 workers)."""

import numpy as np
import pytest

from nnlab import datasets, lab, nn
from nnlab.cli import main
from nnlab.ensemble import Bagging
from nnlab.errors import ConfigError
from nnlab.jobs import SCHEDULER_ENV, run_jobs, scheduler_address

distributed = pytest.importorskip("distributed")

X_ALL, Y_ALL = datasets.load("digits")
X = (X_ALL[:160] / 16.0).astype(np.float32)
Y = Y_ALL[:160]
LAB = ["debugging", "noise_l2"]  # the two quickest experiments


def small(member):
    return nn.Sequential(nn.Linear(member.num_features, 16), nn.ReLU(), nn.Linear(16, 10))


def _worker_address(_):
    return distributed.get_worker().address


@pytest.fixture(scope="module")
def cluster():
    # Threads of one process keep the test quick; nnlab.jobs runs jobs that share a process one at a time.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c


def test_jobs_reach_the_cluster_by_argument_and_by_environment(cluster, monkeypatch):
    workers = set(cluster.scheduler_info["workers"])
    assert len(workers) == 2
    ran_on = run_jobs(_worker_address, [(i,) for i in range(4)], scheduler=cluster.scheduler_address)
    assert set(ran_on) <= workers
    monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
    assert set(run_jobs(_worker_address, [(0,), (1,)])) <= workers
    with pytest.raises(ValueError, match="No worker found"):  # without the variable: no cluster, so no Dask worker
        monkeypatch.delenv(SCHEDULER_ENV)
        run_jobs(_worker_address, [(0,)], n_jobs=1)


def test_bagging_on_the_cluster_equals_the_local_run(cluster):
    kwargs = dict(n_models=4, epochs=2, lr=0.01, feature_fraction=0.75, seed=3)
    local = Bagging(small, n_jobs=1, **kwargs).fit(X, Y)
    remote = Bagging(small, scheduler=cluster.scheduler_address, **kwargs).fit(X, Y)
    for (name, a), b in zip(local.model.state_dict().items(), remote.model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert local.oob_score == remote.oob_score
    assert [h.history["loss"] for h in local.histories] == [h.history["loss"] for h in remote.histories]


def test_lab_experiments_on_the_cluster_equal_the_local_run(cluster):
    local = lab.run(LAB, seeds=1, quick=True, n_jobs=1, progress=None)
    lines = []
    remote = lab.run(LAB, seeds=1, quick=True, scheduler=cluster.scheduler_address, progress=lines.append)
    assert len(lines) == len(LAB)
    for a, b in zip(local, remote):
        assert a.experiment.name == b.experiment.name
        assert a.results[0].numbers == b.results[0].numbers and a.results[0].numbers
        assert a.verdict == b.verdict


def test_a_bad_scheduler_address_is_a_clear_error(capsys, monkeypatch):
    with pytest.raises(ConfigError, match="PROTOCOL://HOST:PORT"):
        scheduler_address("localhost:8786")
    monkeypatch.setenv(SCHEDULER_ENV, "nowhere")
    with pytest.raises(ConfigError, match=SCHEDULER_ENV):
        run_jobs(pow, [(2, 2)])
    monkeypatch.delenv(SCHEDULER_ENV)
    assert main(["lab", "run", "debugging", "--quick", "--scheduler", "8786"]) == 2
    assert "is not a Dask scheduler address" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="n_jobs"):
        run_jobs(pow, [(2, 2)], n_jobs=0)
