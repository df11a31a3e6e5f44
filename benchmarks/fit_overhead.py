"""``python -m benchmarks.fit_overhead CASE``: what ``fit`` costs beyond the plain loop, in one process.

Issue 17 asks for ``fit`` within 5 % of the plain loop.  The main benchmark runs
``nnlab`` and ``nnlab-fit`` in two worker processes, and two processes running the
same code can differ by several per cent (memory layout), which is as large as
the target.  Here both run in this one process, alternately, on the case's data
at one thread, and ``fit`` is split with public calls only:

- ``plain``: the hand-written loop of ``benchmarks/fw_nnlab.py`` for one epoch, on the same
  model and optimizer as ``fit``;
- ``fit ×1`` and ``fit ×2``: ``fit(epochs=1)`` and ``fit(epochs=2)``;
- per epoch, ``fit ×2 − fit ×1``: what each further epoch of ``fit`` costs;
- fixed, ``2·(fit ×1) − fit ×2``: what one call costs once (checking the data,
  setting up the callbacks), whatever the number of epochs.

Medians of ``--rounds`` alternations, CPU time (``time.process_time``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fit_overhead", description=__doc__.splitlines()[0])
    p.add_argument("case", nargs="?", default="small", help="a case name of benchmarks/cases.py (default small)")
    p.add_argument("--rounds", type=int, default=7, help="alternations; medians are printed (default 7)")
    p.add_argument("--samples", type=int, help="override the case's sample count")
    args = p.parse_args(argv)
    import numpy  # noqa: F401  (loads OpenBLAS, so that the limit below reaches it)
    from threadpoolctl import threadpool_limits

    # CPU time counts every thread of the process: a BLAS thread left spinning would count too
    with threadpool_limits(1):  # BLAS at one thread for the measurement only (a test calls main in its process)
        return _measure(p, args)


def _measure(p, args) -> int:
    from . import fw_nnlab
    from .cases import CASES, make_data

    by_name = {c.name: c for c in CASES}
    if args.case not in by_name:
        p.error(f"unknown case {args.case!r}; choose from {sorted(by_name)}")
    case = by_name[args.case]
    if args.samples:
        case = case.with_samples(args.samples)
    from nnlab.losses import cross_entropy
    from nnlab.train import fit

    import numpy as np

    fw_nnlab.setup()
    X, y = make_data(case, 0)
    # one model and optimizer for both: two models' arrays lie elsewhere in memory, which alone moves a step
    model = fw_nnlab.build_model(case)
    opt = fw_nnlab.make_optimizer(case, model.parameters())
    rng = np.random.default_rng(1)
    seeds = iter(range(1, 1 << 30))

    def plain():  # fw_nnlab.build's loop
        perm = rng.permutation(len(X))
        for i in range(0, len(perm), case.batch_size):
            idx = perm[i : i + case.batch_size]
            loss = cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.item())

    def fit_epochs(epochs):
        fit(model, cross_entropy, opt, (X, y), epochs=epochs, batch_size=case.batch_size, metrics=(),
            seed=next(seeds), verbose=0)

    runs = {"plain": plain, "fit ×1": lambda: fit_epochs(1), "fit ×2": lambda: fit_epochs(2)}
    plain()
    fit_epochs(1)
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            t0 = time.process_time()
            run()
            times[name].append(time.process_time() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}
    per_epoch = statistics.median(b - a for a, b in zip(times["fit ×1"], times["fit ×2"]))
    fixed = statistics.median(2 * a - b for a, b in zip(times["fit ×1"], times["fit ×2"]))
    print(f"{case.name}: {case.describe()}; CPU ms, one thread, medians of {args.rounds} alternations "
          f"(load average {os.getloadavg()[0]:.1f})")
    for name in runs:
        print(f"  {name:8s} {med[name] * 1e3:9.2f} ms")
    print(f"  fit per epoch {per_epoch * 1e3:9.2f} ms = {per_epoch / med['plain']:.3f} × the plain loop; "
          f"fixed per call {fixed * 1e3:.2f} ms; fit ×1 / plain = {med['fit ×1'] / med['plain']:.3f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NNLAB_OPTIM_THREADS", "1")  # before nnlab reads it: the update on one thread too
    raise SystemExit(main())
