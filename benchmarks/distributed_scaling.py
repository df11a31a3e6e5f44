"""Data parallelism on one machine, measured: 1 process x 2 threads against 2 MPI ranks x 1 thread.

    PYTHONPATH=src python -m benchmarks.distributed_scaling [--cases medium large] [--steps 40] [--repeats 3]

For each MLP case (benchmarks/cases.py) the same global batch is trained for
``--steps`` steps (after 3 warm-up steps) three ways, each in a fresh process:

- ``1x1``: one process, one BLAS thread (the per-machine compute of the cost model);
- ``1x2``: one process, two BLAS threads (and two update threads);
- ``2x1``: ``mpiexec -n 2``, one thread each, half the batch per rank; the time
  inside the all-reduces (gradients, the loss value, the epoch logs; waiting for
  the slower rank included) is timed separately.

Per repeat: the median and the minimum time per step, and the all-reduce time
(at the fastest step, its minimum, its median share of a step).  On a shared
machine the minimum is the closest to the uncontended cost; the repeats are
summarized by the minimum of the minima and the median of the medians.
Results go to stdout as JSON lines and to ``--out`` (default benchmarks/recorded/).
The machine is shared: the load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .cases import CASES

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 3
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NNLAB_OPTIM_THREADS")


# ------------------------------------------------------------------ the child: train and time steps
def child(case_name: str, steps: int, distributed: bool) -> dict:
    import numpy as np

    import nnlab
    from nnlab import losses, nn, optim
    from nnlab.distributed import comm as C
    from nnlab.train import Callback, fit

    from .cases import make_data

    case = {c.name: c for c in CASES}[case_name]
    world = 1
    communicated = []
    if distributed:
        from mpi4py import MPI

        world = MPI.COMM_WORLD.Get_size()
        plain_sum = C.sum_in_place

        def timed_sum(comm, buffers):
            start = time.perf_counter()
            plain_sum(comm, buffers)
            communicated.append(time.perf_counter() - start)

        C.sum_in_place = timed_sum  # every collective of the run goes through it
    local_batch = case.batch_size // world
    samples = (steps + WARMUP) * case.batch_size
    X, y = make_data(case.with_samples(samples), seed=0)
    nnlab.seed(0)
    layers = []
    for a, b in zip(case.sizes[:-2], case.sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(case.sizes[-2], case.sizes[-1]))

    class StepTimer(Callback):
        def on_train_begin(self, logs=None):
            self.times, self.comm_before = [], []

        def on_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()
            self.comm_before.append(len(communicated))

        def on_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    timer = StepTimer()
    fit(model, losses.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y), epochs=1,
        batch_size=local_batch, metrics=(), callbacks=[timer], seed=0, verbose=0, divergence=None,
        distributed=distributed)
    per_step_comm = []
    marks = timer.comm_before + [len(communicated)]
    for i in range(len(timer.times)):
        per_step_comm.append(sum(communicated[marks[i]:marks[i + 1]]))
    times, comm = timer.times[WARMUP:], per_step_comm[WARMUP:]
    params = sum(p.data.size for p in model.parameters())
    fastest = min(range(len(times)), key=times.__getitem__)
    return {"case": case_name, "world": world, "steps": len(times), "step_median_s": statistics.median(times),
            "step_min_s": times[fastest], "allreduce_at_min_s": comm[fastest],
            "allreduce_min_s": min(comm), "allreduce_median_s": statistics.median(comm),
            "allreduce_share_median": statistics.median(c / t for c, t in zip(comm, times)),
            "gradient_bytes": params * 4, "global_batch": case.batch_size}


# ------------------------------------------------------------------ the parent: three set-ups per case
def _env(threads: int) -> dict:
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _run(case: str, steps: int, setup: str) -> dict:
    args = [sys.executable, "-m", "benchmarks.distributed_scaling", "--child", case, "--steps", str(steps)]
    if setup == "2x1":
        args = [str(Path(sys.executable).parent / "mpiexec"), "-n", "2", *args, "--distributed"]
    threads = 2 if setup == "1x2" else 1
    out = subprocess.run(args, env=_env(threads), cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{setup} {case} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[0])  # rank 0 prints first or alone
    result["setup"] = setup
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["medium", "large"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(args.child, args.steps, args.distributed)
        from nnlab.distributed import rank

        if rank() == 0:
            print(json.dumps(result), flush=True)
        return 0
    records = []
    for case in args.cases:
        for setup in ("1x1", "1x2", "2x1"):
            runs = []
            for _ in range(args.repeats):
                load = os.getloadavg()
                result = _run(case, args.steps, setup)
                result["loadavg"] = [round(x, 2) for x in load]
                runs.append(result)
            fastest = min(runs, key=lambda r: r["step_min_s"])
            best = dict(fastest, step_median_s=statistics.median(r["step_median_s"] for r in runs),
                        allreduce_share_median=statistics.median(r["allreduce_share_median"] for r in runs),
                        repeats=[{k: r[k] for k in ("step_min_s", "step_median_s", "allreduce_at_min_s")}
                                 for r in runs], loadavg=[r["loadavg"] for r in runs])
            records.append(best)
            print(json.dumps(best), flush=True)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "recorded" / time.strftime("%Y-%m-%d-distributed.json")
    out.write_text(json.dumps({"command": " ".join(["python -m benchmarks.distributed_scaling", *(argv or sys.argv[1:])]),
                               "cpu_count": os.cpu_count(), "records": records}, indent=1) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
