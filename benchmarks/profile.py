"""Where an nnlab training step spends its time, beside PyTorch: ``python -m benchmarks.profile CASE``.

CASE is one of the MLP cases or sweep cells of ``benchmarks/cases.py`` (each with
its own optimizer).  For the case's model, data and batch size (2 BLAS threads), each in a fresh
process of its own (allocator state is per process and changes the results):
- nnlab's plain loop and PyTorch's loop, phase by phase (gather, forward, loss,
  zero_grad, backward, step) in µs per step, median of ``--rounds`` rounds,
  with minor page faults and kernel (sys) time per step;
- the floors a NumPy framework cannot beat: the step's GEMMs alone, the memory
  pass of one update after the step's GEMMs (``fw_numpy.memory_pass``, on the 2 threads) and, for an
  Adam case, a minimal in-place NumPy Adam over one flat float32 buffer of the same size;
- nnlab's cProfile top functions by own time.

Diagnosis only; ``python -m benchmarks`` is the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from .cases import CASES, make_data, select
from .fw_numpy import parameter_count

PHASES = ("gather", "forward", "loss", "zero_grad", "backward", "step")


def _phase_loop(steps, batches, forward, loss_fn, zero_grad, backward, step):
    """Run ``steps`` training steps; return total seconds per phase."""
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


def _batcher(n, batch_size, permutation, take):
    """``batches(k)``: the k-th batch of a reshuffled-every-epoch order, like the benchmark's loops."""
    per_epoch = n // batch_size
    perm = [permutation()]

    def batches(k):
        j = k % per_epoch
        if j == 0 and k:
            perm[0] = permutation()
        return take(perm[0][j * batch_size : (j + 1) * batch_size])

    return batches


def _nnlab_step_parts(case, X, y):
    import nnlab
    from nnlab.losses import cross_entropy

    from .fw_nnlab import build_model, make_optimizer

    nnlab.seed(0)
    model = build_model(case)
    opt = make_optimizer(case, model.parameters())
    rng = np.random.default_rng(1)
    batches = _batcher(len(X), case.batch_size, lambda: rng.permutation(len(X)), lambda idx: (X[idx], y[idx]))
    return batches, model, cross_entropy, opt.zero_grad, lambda loss: loss.backward(), opt.step


def _torch_step_parts(case, X, y):
    import torch
    import torch.nn.functional as F

    from .fw_torch import build_model, make_optimizer

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.manual_seed(0)
    model = build_model(case)
    opt = make_optimizer(case, model.parameters())
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(1)
    batches = _batcher(len(X), case.batch_size, lambda: torch.randperm(len(X), generator=gen), lambda idx: (X_t[idx], y_t[idx]))
    return batches, model, F.cross_entropy, opt.zero_grad, lambda loss: loss.backward(), opt.step


def _phases_child(framework, case, steps, rounds, top) -> dict:
    if framework == "nnlab":  # before any array exists, as in the benchmark worker
        from .fw_nnlab import setup

        setup()
    X, y = make_data(case, 0)
    parts = (_nnlab_step_parts if framework == "nnlab" else _torch_step_parts)(case, X, y)
    _phase_loop(3, *parts)  # warm-up
    per = {ph: [] for ph in PHASES}
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(rounds):
        totals = _phase_loop(steps, *parts)
        for ph in PHASES:
            per[ph].append(totals[ph] / steps * 1e6)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    n = steps * rounds
    out = {
        "phases_us": {ph: statistics.median(v) for ph, v in per.items()},
        "faults_per_step": (ru1.ru_minflt - ru0.ru_minflt) / n,
        "sys_us_per_step": (ru1.ru_stime - ru0.ru_stime) / n * 1e6,
        "user_us_per_step": (ru1.ru_utime - ru0.ru_utime) / n * 1e6,
    }
    if framework == "nnlab" and top:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        _phase_loop(steps, *parts)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
        text = buf.getvalue()
        out["cprofile"] = text[text.find("   ncalls") :].rstrip()
    return out


def _floors_child(case, steps) -> dict:
    from .fw_numpy import build

    X, _ = make_data(case, 0)
    runner = build(case, X, None, 0, 2)
    samples = min(len(X), steps * case.batch_size)
    runner.warmup(3)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        runner._run(samples)
        times.append(time.perf_counter() - t0)
    gemm = min(times) / -(-samples // case.batch_size)
    mem = runner.extra()["memory_pass"]
    out = {"gemm_us": gemm * 1e6, "memory_us": mem["median_s"] * 1e6,
           "memory_spread_us": (mem["best_s"] * 1e6, mem["max_s"] * 1e6)}
    if case.optimizer == "adam":
        out["adam_us"] = adam_floor(parameter_count(case)) * 1e6
    return out


def adam_floor(size, reps=20):
    """Seconds of a minimal in-place float32 Adam over ``size`` elements (11 single-threaded ufunc passes)."""
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal(size, dtype=np.float32), rng.standard_normal(size, dtype=np.float32)
    m, v, s = np.zeros_like(w), np.zeros_like(w), np.empty_like(w)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.multiply(m, 0.9, out=m)
        np.multiply(g, 0.1, out=s)
        np.add(m, s, out=m)
        np.multiply(g, g, out=s)
        np.multiply(v, 0.999, out=v)
        np.multiply(s, 0.001, out=s)
        np.add(v, s, out=v)
        np.sqrt(v, out=s)
        np.add(s, 1e-8, out=s)
        np.divide(m, s, out=s)
        np.multiply(s, 1e-3, out=s)
        np.subtract(w, s, out=w)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _child(kind: str, args) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.profile", args.case, "--child", kind, "--steps", str(args.steps),
           "--rounds", str(args.rounds), "--top", str(args.top)]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    from .harness import ROOT, child_env

    proc = subprocess.run(cmd, env=child_env(2), cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("case", choices=[c.name for c in CASES if not c.net])
    p.add_argument("--steps", type=int, default=100, help="steps per measurement round (default 100)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the median per phase is shown (default 3)")
    p.add_argument("--top", type=int, default=25, help="cProfile rows (default 25; 0: no cProfile)")
    p.add_argument("--samples", type=int, help="dataset size (default: the benchmark's full size for the case)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--child", choices=["nnlab", "torch", "floors"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    case = select([args.case], samples=args.samples)[0]  # the data size matters (cache and TLB misses)

    if args.child:
        if args.child == "floors":
            print(json.dumps(_floors_child(case, args.steps)))
        else:
            print(json.dumps(_phases_child(args.child, case, args.steps, args.rounds, args.top)))
        return 0

    print(f"case {case.name}: {case.describe()}; {parameter_count(case):,} parameters; "
          f"{args.steps} steps × {args.rounds} rounds; 2 threads; each framework in its own process")
    runs = {"nnlab": _child("nnlab", args)}
    if not args.no_torch:
        runs["torch"] = _child("torch", args)
    for name, r in list(runs.items()):
        if "error" in r:
            print(f"{name}: {r['error']}")
            del runs[name]
    if not runs:
        return 1
    names = list(runs)
    print(f"\nµs per step (median of {args.rounds} rounds of {args.steps} steps)")
    print(f"  {'phase':<14}" + "".join(f"{n:>12}" for n in names) + ("   nnlab/torch" if len(names) == 2 else ""))
    rows = [(ph, [runs[n]["phases_us"][ph] for n in names]) for ph in PHASES]
    rows.append(("total", [sum(runs[n]["phases_us"].values()) for n in names]))
    rows += [(k.replace("_per_step", "").replace("_us", " µs"), [runs[n][k] for n in names])
             for k in ("faults_per_step", "sys_us_per_step", "user_us_per_step")]
    for label, vals in rows:
        ratio = f"{vals[0] / vals[1]:>14.2f}" if len(vals) == 2 and vals[1] else ""
        print(f"  {label:<14}" + "".join(f"{v:>12.1f}" for v in vals) + ratio)
    floors = _child("floors", args)
    if "error" not in floors:
        adam = (f"; a minimal in-place NumPy Adam over {parameter_count(case):,} float32 (12 ufunc calls) "
                f"{floors['adam_us']:.1f} µs") if "adam_us" in floors else ""
        best, worst = floors["memory_spread_us"]
        print(f"\nfloors (NumPy, own process): the GEMMs of one step {floors['gemm_us']:.1f} µs; the memory pass of "
              f"one update (median, 2 threads) {floors['memory_us']:.1f} µs (best {best:.1f}, worst {worst:.1f}){adam}")
    if runs.get("nnlab", {}).get("cprofile"):
        print(f"\nnnlab cProfile, {args.steps} steps, by own time (tottime):\n{runs['nnlab']['cprofile']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
