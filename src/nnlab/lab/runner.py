"""Running experiments: every (experiment, seed) pair is one job for joblib's process pool.

The jobs go through :func:`nnlab.jobs.run_jobs`: local processes by default, a
Dask cluster with ``scheduler="tcp://HOST:PORT"`` (or ``DASK_SCHEDULER_ADDRESS``).
Each job is seeded by its seed alone, so the results do not depend on the backend.
A job in a pool process limits nnlab's update threads to one, since the pool already
fills the cores; jobs run in this process (``n_jobs=1``) leave its settings alone.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ..errors import ConfigError
from .base import ExperimentResult, Summary, verdict
from .registry import get


def run_seed(name: str, seed: int, quick: bool, draw: bool, one_thread: bool = True):
    """One job: measure experiment ``name`` with ``seed``; figures only when ``draw``.

    ``one_thread``: the job runs in a pool's process, where nnlab's update gets one thread
    (unless the user set ``NNLAB_OPTIM_THREADS``); the caller's own process is never changed.
    """
    if one_thread:
        import os

        from ..optim._threads import THREADS_ENV

        os.environ.setdefault(THREADS_ENV, "1")
    start = time.perf_counter()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # Diverging runs are part of several experiments: overflow is measured, not reported.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = get(name).measure(seed, quick, draw)
    result.seconds = time.perf_counter() - start
    return name, seed, result


def run(names, seeds=3, quick: bool = False, n_jobs: int = -1, progress=print,
        scheduler: str | None = None) -> list[ExperimentResult]:
    """Run the named experiments over seeds ``0 … seeds-1`` in parallel; results in the order of ``names``.

    ``progress`` receives one line per finished job (None: silent); ``scheduler``:
    a Dask scheduler address (see :mod:`nnlab.jobs`).
    """
    from ..jobs import run_jobs

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be a whole number >= 1, got {seeds!r}")
    experiments = [get(n) for n in names]
    seed_list = list(range(seeds))
    jobs = [(e.name, s) for e in experiments for s in seed_list]
    # The drawing seed's jobs go first so the figures do not wait for the end.
    jobs.sort(key=lambda job: job[1] != seed_list[0])
    start = time.perf_counter()
    finished = []

    def report(_index, job_result):
        finished.append(_index)
        name, seed, result = job_result
        if progress:
            progress(f"[lab {len(finished)}/{len(jobs)}] {name} seed {seed}: {result.seconds:.1f} s "
                     f"(elapsed {time.perf_counter() - start:.0f} s)")

    in_pool = scheduler is not None or n_jobs != 1  # n_jobs=1 runs the jobs here, in the caller's process
    outcomes = run_jobs(run_seed, [(n, s, quick, s == seed_list[0], in_pool) for n, s in jobs], n_jobs=n_jobs,
                        scheduler=scheduler, on_result=report)
    done = {(name, seed): result for name, seed, result in outcomes}
    out = []
    for e in experiments:
        results = [done[(e.name, s)] for s in seed_list]
        checks = list(e.judge(Summary(results)))
        out.append(ExperimentResult(e, seed_list, quick, results, checks, verdict(checks), results[0].figures,
                                    sum(r.seconds for r in results)))
    return out
