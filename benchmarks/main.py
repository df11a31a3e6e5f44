"""The entry point: parse options, run every measurement, print the table, write the JSON."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from . import cases as cases_mod
from . import checks, harness, machine, report
from .worker import FRAMEWORKS

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
DEFAULT_FRAMEWORKS = ("nnlab", "nnlab-fit", "torch", "sklearn", "gemm-floor", "numpy-step")


def run(
    mode: str = "full",
    case_names=None,
    frameworks=DEFAULT_FRAMEWORKS,
    reps: int = 5,
    samples: int | None = None,
    seed: int = 0,
    threads: int = 2,
    warmup: int = 3,
    gap: float = 0.15,
    peak_size: int = 2048,
    peak_reps: int = 10,
    startup_reps: int = 5,
    accuracy: bool = False,
    command: str = "",
    log=None,
) -> dict:
    """Run the benchmark and return the report (a JSON-able dict)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    selected = cases_mod.select(case_names, mode, samples)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "mode": mode if samples is None else f"{mode}, {samples} samples per case",
        "reps": reps,
        "threads": threads,
        "seed": seed,
        "warmup_steps": warmup,
        "cpu": f"{machine.cpu_model()} [{machine.cpu_features()}]",
        "cpus": machine.cpu_count(),
        "versions": machine.library_versions(),
        "git": machine.git_revision(),
        "flop_count": f"{cases_mod.FLOPS_PER_WEIGHT_PER_SAMPLE} FLOPs per weight per sample per step "
        "(forward 2, backward dW 2 and dX 2); biases, activations, BatchNorm and optimizer not counted",
        "thread_env": {v: str(threads) for v in harness.THREAD_VARS},
        "gap_seconds": gap,
        "loadavg_start": os.getloadavg(),
    }
    log(f"matmul peak ({peak_size}×{peak_size}, best of {peak_reps}) …")
    peak = machine.matmul_peak(threads, peak_size, peak_reps)
    out = {"meta": meta, "matmul_peak": peak, "cases": {}}
    for case in selected:
        log(f"case {case.name}: {case.describe()}")
        results = harness.run_case(case, frameworks, reps, seed, threads, warmup, gap, log)
        load = results.pop("_load", None)
        ratios = report.derive(case, results, peak["gflops_best"])
        for r in results.values():  # library versions as the workers saw them
            meta["versions"].update(r.get("versions", {}))
        out["cases"][case.name] = {
            "spec": case.to_dict(),
            "description": case.describe(),
            "weights": case.weights,
            "flops_per_epoch": case.flops_per_epoch,
            "frameworks": results,
            "ratios": ratios,
            "load": load,
            "steps": case.steps,
            "floors": report.floors(case, results),
        }
    log("start-up times …")
    out["startup"] = machine.startup_times(threads, startup_reps)
    if accuracy:
        from . import accuracy as accuracy_mod

        log("accuracy parity on digits …")
        out["accuracy"] = accuracy_mod.run_child(threads)
    meta["loadavg_end"] = os.getloadavg()
    out["targets"] = checks.targets(out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a tenth of the samples (large: a twentieth), fewer start-up runs: under a minute")
    p.add_argument("--cases", help="comma-separated subset of " + ",".join(cases_mod.DEFAULT_CASES)
                   + " (the default set), or 'sweep' (issue 17's width × batch cells), or single sweep cells")
    p.add_argument("--frameworks", default=",".join(DEFAULT_FRAMEWORKS), help="comma-separated subset of " + ",".join(FRAMEWORKS))
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions per framework (default 5)")
    p.add_argument("--samples", type=int, help="override every case's sample count (smoke tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads in every framework (default 2)")
    p.add_argument("--warmup", type=int, default=3, help="untimed training steps before the first epoch (default 3)")
    p.add_argument("--gap", type=float, help="idle seconds between two timed epochs (default 0.15, quick 0.1)")
    p.add_argument("--peak-size", type=int, default=2048, help="side of the square matmul for the peak (default 2048)")
    p.add_argument("--startup-reps", type=int, help="fresh processes per start-up measurement (default 5, quick 3)")
    p.add_argument("--accuracy", action=argparse.BooleanOptionalAction, default=None,
                   help="run the digits accuracy-parity check (3 seeds); default: on in full mode, off in --quick")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report path (default {DEFAULT_OUT})")
    args = p.parse_args(argv)

    frameworks = tuple(f.strip() for f in args.frameworks.split(",") if f.strip())
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown:
        p.error(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
    names = [c.strip() for c in args.cases.split(",")] if args.cases else None
    known = {c.name for c in cases_mod.CASES} | {"sweep"}
    if names and not set(names) <= known:
        p.error(f"unknown case(s) {sorted(set(names) - known)}; choose from {sorted(known)} ('sweep': all sweep cells)")
    quick = args.quick
    result = run(
        mode="quick" if quick else "full",
        case_names=names,
        frameworks=frameworks,
        reps=args.reps,
        samples=args.samples,
        seed=args.seed,
        threads=args.threads,
        warmup=args.warmup,
        gap=args.gap if args.gap is not None else (0.1 if quick else 0.15),
        peak_size=args.peak_size,
        peak_reps=5 if quick or args.samples else 10,
        startup_reps=args.startup_reps or (3 if quick or args.samples else 5),
        accuracy=(not quick and not args.samples) if args.accuracy is None else args.accuracy,
        command="python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    print(report.table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nJSON report: {args.out}")
    return 0
