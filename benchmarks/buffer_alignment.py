"""``python -m benchmarks.buffer_alignment CASE``: epoch time with nnlab's aligned flat buffers against malloc's placement.

The optimizer packs parameters, gradients and its state into flat buffers
(``nnlab/optim/_flat.py``), each starting on a cache line at its own offset
within a page (``nnlab/optim/_aligned.py``).  This measures what that buys: pairs of fresh
worker processes, one with the aligned buffers and one with plain ``np.empty``
/ ``np.zeros`` buffers wherever malloc puts them (16-byte aligned, at an offset
that depends on what the process allocated before), each training the case's
plain loop (``benchmarks/fw_nnlab.py``) for ``--epochs`` timed epochs after the
warm-up, at ``--threads`` threads, the two processes of a pair run one after the
other.  Prints each process's buffer offsets (address mod 4096) and median
epoch, whether each update chose its helper thread, and each pair's ratio
aligned/malloc; the paired ratios' median last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from .harness import ROOT, child_env


def _child(case_name: str, malloc: bool, epochs: int, threads: int) -> dict:
    import gc

    import numpy as np

    from . import fw_nnlab
    from .cases import CASES, make_data

    if malloc:
        from nnlab.optim import _aligned

        _aligned.empty = lambda size, dtype, slot=0: np.empty(size, dtype=dtype)
        _aligned.zeros = lambda size, dtype, slot=0: np.zeros(size, dtype=dtype)
    case = {c.name: c for c in CASES}[case_name]
    fw_nnlab.setup()
    X, y = make_data(case, 0)
    runner = fw_nnlab.build(case, X, y, 0, threads)
    runner.warmup()
    times = []
    for _ in range(epochs):
        time.sleep(0.15)  # let the BLAS threads of the warm-up or the last epoch go to sleep
        t0 = time.perf_counter()
        runner.epoch()
        times.append(time.perf_counter() - t0)
    from nnlab.optim._flat import FlatParams

    flats = [o for o in gc.get_objects() if isinstance(o, FlatParams)]
    offsets = [[buf.__array_interface__["data"][0] % 4096 for buf in (f.data, f.grad, *f.state.values())] for f in flats]
    # a group large enough for the update's helper thread picks threaded or not from its first timed updates
    threaded = [getattr(f, "_threaded", None) for f in flats]
    return {"times": times, "offsets": offsets, "threaded": threaded}


def _run(case: str, malloc: bool, epochs: int, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.buffer_alignment", case, "--child", "malloc" if malloc else "aligned",
         "--epochs", str(epochs), "--threads", str(threads)],
        env=child_env(threads), cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    from .cases import CASES

    p = argparse.ArgumentParser(prog="python -m benchmarks.buffer_alignment", description=__doc__.splitlines()[0])
    p.add_argument("case", nargs="?", default="sweep-adam-h2048-b32", help="a case name (default %(default)s)")
    p.add_argument("--pairs", type=int, default=6, help="pairs of processes (default 6)")
    p.add_argument("--epochs", type=int, default=6, help="timed epochs per process (default 6)")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    p.add_argument("--child", choices=("aligned", "malloc"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = [c.name for c in CASES]
    if args.case not in names:
        p.error(f"unknown case {args.case!r}; choose from {names}")
    if args.child:
        print(json.dumps(_child(args.case, args.child == "malloc", args.epochs, args.threads)))
        return 0
    ratios = []
    for pair in range(args.pairs):
        medians = {}
        for kind in ("aligned", "malloc"):
            result = _run(args.case, kind == "malloc", args.epochs, args.threads)
            medians[kind] = statistics.median(result["times"])
            print(f"pair {pair + 1} {kind:<8} offsets in page {result['offsets']}  threaded {result['threaded']}"
                  f"  median epoch {medians[kind]:.3f} s"
                  f"  ({' '.join(f'{t:.3f}' for t in result['times'])})", flush=True)
        ratios.append(medians["aligned"] / medians["malloc"])
        print(f"pair {pair + 1} aligned/malloc {ratios[-1]:.3f}", flush=True)
    print(f"{args.case}: aligned/malloc, median of {len(ratios)} pairs {statistics.median(ratios):.3f}"
          f" (range {min(ratios):.3f}–{max(ratios):.3f}), {args.threads} threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
