"""CPU time per training step of one framework on one case: ``python -m benchmarks.cpu_step FRAMEWORK CASE``.

On a machine shared with other jobs the wall time of a step measures the
scheduler more than the code; the CPU time this process itself used
(``time.process_time``) is far less disturbed, as long as every thread pool is
pinned to one thread (the default here: no spinning helper threads, no time
slices shared between a process's own threads).  Run it for two frameworks, or
for one framework at two commits, in turn, and compare the medians.

Diagnosis beside ``python -m benchmarks`` (which times whole epochs on the wall
clock with the thread count of the targets), not a replacement for it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time

MODULES = {"nnlab": "fw_nnlab", "torch": "fw_torch", "gemm-floor": "fw_numpy", "numpy-step": "fw_numpy_step"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu_step", description=__doc__.splitlines()[0])
    p.add_argument("framework", choices=sorted(MODULES))
    p.add_argument("case", help="a case name of benchmarks/cases.py (sweep cells included)")
    p.add_argument("--steps", type=int, default=30, help="steps per round (default 30)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the median is printed (default 3)")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/optimizer threads (default 1)")
    p.add_argument("--stat", choices=("median", "min"), default="median",
                   help="the rounds' median (default), or their minimum: what the code costs when nothing "
                        "else got in the way, the steadier figure for an A/B on a noisy machine")
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NNLAB_OPTIM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy or torch loads its pools

    from .cases import CASES, make_data

    by_name = {c.name: c for c in CASES}
    if args.case not in by_name:
        p.error(f"unknown case {args.case!r}; choose from {sorted(by_name)}")
    case = by_name[args.case].with_samples(by_name[args.case].batch_size * args.steps)
    module = importlib.import_module(f"{__package__}.{MODULES[args.framework]}")
    if hasattr(module, "setup"):
        module.setup()
    X, y = make_data(case, 0)
    runner = module.build(case, X, y, 0, args.threads)
    runner.warmup(3)
    cpu, wall = [], []
    for _ in range(args.rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        runner.epoch()
        cpu.append((time.process_time() - c0) / args.steps)
        wall.append((time.perf_counter() - w0) / args.steps)
    stat = statistics.median if args.stat == "median" else min
    print(f"{args.framework} {args.case}: CPU {1e6 * stat(cpu):.1f} µs per step "
          f"(wall {1e6 * stat(wall):.1f} µs; {args.threads} thread(s), {args.stat} of {args.rounds} rounds "
          f"of {args.steps} steps; load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
