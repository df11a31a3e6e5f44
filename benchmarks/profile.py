"""Where an nnlab training step spends its time, beside PyTorch: ``python -m benchmarks.profile CASE``.

Prints, per training step of the case (same model, data and batch size as the
benchmark, 2 BLAS threads):
- the time of each phase (gather, forward, loss, zero_grad, backward, step) in
  nnlab's plain loop and in PyTorch's, in µs per step (median of ``--rounds``);
- the floors a NumPy framework cannot beat: the step's GEMMs alone, and a
  minimal in-place Adam over one flat float32 buffer of the same size;
- nnlab's cProfile top functions by own time over ``--steps`` steps.

Diagnosis only (nnlab and PyTorch share the process here); the benchmark
itself runs every framework in its own process.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from .cases import make_data, select  # noqa: E402

PHASES = ("gather", "forward", "loss", "zero_grad", "backward", "step")


def _phase_loop(steps, batches, forward, loss_fn, zero_grad, backward, step):
    """Run ``steps`` steps; return total seconds per phase."""
    totals = dict.fromkeys(PHASES, 0.0)
    clock = time.perf_counter
    for k in range(steps):
        t0 = clock()
        xb, yb = batches(k)
        t1 = clock()
        out = forward(xb)
        t2 = clock()
        loss = loss_fn(out, yb)
        t3 = clock()
        zero_grad()
        t4 = clock()
        backward(loss)
        t5 = clock()
        step()
        t6 = clock()
        for name, a, b in zip(PHASES, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
            totals[name] += b - a
    return totals


def _batcher(X, y, batch_size, seed, wrap=lambda a: a):
    rng = np.random.default_rng(seed)
    n = len(X)
    perm = rng.permutation(n)
    per_epoch = n // batch_size

    def batches(k):
        nonlocal perm
        j = k % per_epoch
        if j == 0 and k:
            perm = rng.permutation(n)
        idx = perm[j * batch_size : (j + 1) * batch_size]
        return wrap(X[idx]), wrap(y[idx])

    return batches


def nnlab_phases(case, X, y, steps):
    import nnlab
    from nnlab.losses import cross_entropy
    from nnlab.optim import Adam

    from .fw_nnlab import build_model

    nnlab.seed(0)
    model = build_model(case)
    opt = Adam(model.parameters(), lr=1e-3)
    batches = _batcher(X, y, case.batch_size, 1)
    run = lambda n: _phase_loop(n, batches, model, cross_entropy, opt.zero_grad, lambda l: l.backward(), opt.step)  # noqa: E731
    return run, (model, opt, batches, cross_entropy)


def torch_phases(case, X, y, steps):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(2)
    from . import fw_torch

    runner = fw_torch.build(case, X, y, 0, 2)  # builds model + optimizer; we reuse its pieces below
    del runner
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(case.sizes) - 2:
            if case.batchnorm:
                layers.append(torch.nn.BatchNorm1d(b))
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(1)
    n, bs = len(X), case.batch_size
    per_epoch = n // bs
    perm = [torch.randperm(n, generator=gen)]

    def batches(k):
        j = k % per_epoch
        if j == 0 and k:
            perm[0] = torch.randperm(n, generator=gen)
        idx = perm[0][j * bs : (j + 1) * bs]
        return X_t[idx], y_t[idx]

    return lambda s: _phase_loop(s, batches, model, F.cross_entropy, opt.zero_grad, lambda l: l.backward(), opt.step)


def gemm_floor_per_step(case, X, steps):
    """Seconds per step of only the GEMMs (forward, dW, dX except for the input)."""
    from .fw_numpy import build

    runner = build(case, X, None, 0, 2)
    samples = min(len(X), steps * case.batch_size)
    runner._run(samples)
    t0 = time.perf_counter()
    runner._run(samples)
    return (time.perf_counter() - t0) / -(-samples // case.batch_size)


def adam_floor(size, reps=20):
    """Seconds of a minimal in-place float32 Adam over ``size`` elements (7 ufunc passes)."""
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal(size, dtype=np.float32), rng.standard_normal(size, dtype=np.float32)
    m, v, s = np.zeros_like(w), np.zeros_like(w), np.empty_like(w)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        m *= 0.9
        m += 0.1 * g  # one temporary: still counts as a pass
        np.multiply(g, g, out=s)
        v *= 0.999
        s *= 0.001
        v += s
        np.sqrt(v, out=s)
        s += 1e-8
        np.divide(m, s, out=s)
        s *= 1e-3
        w -= s
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("case", choices=["small", "medium", "large", "deep"])
    p.add_argument("--steps", type=int, default=100, help="steps per measurement round (default 100)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the median per phase is shown (default 3)")
    p.add_argument("--top", type=int, default=25, help="cProfile rows (default 25)")
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)

    case = select([args.case], samples=max(args.steps * 256, 4096))[0]
    X, y = make_data(case, 0)
    steps = args.steps
    n_params = sum(a * b + b for a, b in zip(case.sizes[:-1], case.sizes[1:]))
    if case.batchnorm:
        n_params += 2 * sum(case.sizes[1:-1])
    print(f"case {case.name}: {case.describe()}; {n_params:,} parameters; {steps} steps × {args.rounds} rounds; "
          f"threads {os.environ['OMP_NUM_THREADS']}")

    run_nnlab, (model, opt, batches, ce) = nnlab_phases(case, X, y, steps)
    run_nnlab(3)
    runs = {"nnlab": run_nnlab}
    if not args.no_torch:
        try:
            run_torch = torch_phases(case, X, y, steps)
            run_torch(3)
            runs["torch"] = run_torch
        except ImportError:
            pass
    per = {name: {ph: [] for ph in PHASES} for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():  # interleaved
            totals = run(steps)
            for ph in PHASES:
                per[name][ph].append(totals[ph] / steps * 1e6)
    med = {name: {ph: statistics.median(v) for ph, v in phases.items()} for name, phases in per.items()}
    print(f"\nµs per step (median of {args.rounds} rounds of {steps} steps)")
    print(f"  {'phase':<10}" + "".join(f"{name:>12}" for name in runs) + ("   nnlab/torch" if "torch" in runs else ""))
    for ph in PHASES + ("total",):
        vals = [sum(med[n].values()) if ph == "total" else med[n][ph] for n in runs]
        ratio = f"{vals[0] / vals[1]:>14.2f}" if len(vals) > 1 and vals[1] else ""
        print(f"  {ph:<10}" + "".join(f"{v:>12.1f}" for v in vals) + ratio)
    gemm = gemm_floor_per_step(case, X, steps) * 1e6
    adam = adam_floor(n_params) * 1e6
    print(f"\nfloors (NumPy, this process): GEMMs of one step {gemm:.1f} µs; "
          f"minimal in-place Adam over {n_params:,} float32 {adam:.1f} µs")

    prof = cProfile.Profile()
    prof.enable()
    _phase_loop(steps, batches, model, ce, opt.zero_grad, lambda l: l.backward(), opt.step)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"\nnnlab cProfile, {steps} steps, by own time (tottime):")
    text = buf.getvalue()
    print(text[text.find("   ncalls"):].rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
