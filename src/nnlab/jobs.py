"""Independent seeded jobs (bagging members, lab experiments, tuning trials) through joblib, locally or on Dask.

Every job carries its own seed, so a job's result depends only on its
arguments -- never on which process, worker or machine runs it, nor in what
order: :func:`run_jobs` returns the same list whatever the backend.

- Local (default): joblib's process pool (loky), ``n_jobs`` processes (-1: one per core).
- A Dask cluster: ``scheduler="tcp://HOST:PORT"`` or the ``DASK_SCHEDULER_ADDRESS``
  environment variable (Dask's own name for it) sends the jobs to that
  scheduler's workers through joblib's ``dask`` backend (``pip install 'nnlab[dask]'``).
  Start one with ``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786``
  on each of the others; every worker needs nnlab importable.

nnlab's global state (the global random generator of ``nnlab.seed``, grad mode)
is per process, so jobs that share a process -- the threads of one Dask worker,
or ``n_jobs=1`` -- run one at a time under a process-wide lock; jobs in
different processes run in parallel.
"""

from __future__ import annotations

import contextlib
import os
import threading

from .errors import ConfigError

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
_PROCESS_LOCK = threading.RLock()  # re-entrant: a job may run jobs of its own (n_jobs=1 runs them inline)


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The Dask scheduler to use: ``scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else None (local processes).

    >>> scheduler_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> scheduler_address("10.0.0.5")
    Traceback (most recent call last):
    ...
    nnlab.errors.ConfigError: scheduler = '10.0.0.5' is not a Dask scheduler address; give PROTOCOL://HOST:PORT, e.g. tcp://10.0.0.5:8786
    """
    address = scheduler if scheduler is not None else (os.environ.get(SCHEDULER_ENV) or None)
    if address is None:
        return None
    if not isinstance(address, str) or "://" not in address or address.endswith("://"):
        source = "scheduler" if scheduler is not None else SCHEDULER_ENV
        raise ConfigError(f"{source} = {address!r} is not a Dask scheduler address; "
                          "give PROTOCOL://HOST:PORT, e.g. tcp://10.0.0.5:8786")
    return address


def _job(index: int, fn, args: tuple):
    with _PROCESS_LOCK:
        return index, fn(*args)


@contextlib.contextmanager
def _backend(address: str | None):
    """joblib's default backend, or its Dask backend on a client of ``address`` for the duration."""
    if address is None:
        yield
        return
    import joblib

    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(f"running jobs on the Dask scheduler {address!r} needs the 'distributed' package: "
                          "pip install 'nnlab[dask]'") from None
    try:
        client = Client(address, set_as_default=False, timeout=20)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler {address!r}: {exc}") from None
    try:
        with joblib.parallel_config(backend="dask", client=client):
            yield
    finally:
        client.close()


def run_jobs(fn, jobs, n_jobs: int = -1, scheduler: str | None = None, on_result=None) -> list:
    """``[fn(*args) for args in jobs]``, computed in parallel jobs; the results in the order of ``jobs``.

    ``fn`` and the arguments must be picklable (cloudpickle: lambdas work).
    ``n_jobs``: local processes (-1: one per core; 1: in this process, one by
    one); on Dask, -1 uses every worker.  ``scheduler``: see
    :func:`scheduler_address`.  ``on_result(index, result)`` is called as each
    job finishes (in the order they finish), for progress lines.

    >>> run_jobs(pow, [(2, 3), (3, 2)], n_jobs=1)
    [8, 9]
    """
    import joblib

    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ConfigError(f"n_jobs must be -1 (one process per core) or a whole number >= 1, got {n_jobs!r}")
    jobs = [tuple(args) for args in jobs]
    results = [None] * len(jobs)
    with _backend(scheduler_address(scheduler)):
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for index, result in parallel(joblib.delayed(_job)(i, fn, args) for i, args in enumerate(jobs)):
            results[index] = result
            if on_result is not None:
                on_result(index, result)
    return results
