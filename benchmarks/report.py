"""Derived numbers (FLOP/s, ratios, floors per step) and the tables; the target checks are in ``checks.py``."""

from __future__ import annotations

import statistics

from .cases import FLOPS_PER_WEIGHT_PER_SAMPLE

def _median(results: dict, fw: str):
    r = results.get(fw) or {}
    return r.get("median")


def ratio_or_none(a, b):
    return a / b if a is not None and b else None


RATIO_PAIRS = (
    ("nnlab/torch", "nnlab", "torch"),
    ("nnlab-fit/torch", "nnlab-fit", "torch"),
    ("nnlab/sklearn", "nnlab", "sklearn"),
    ("nnlab-fit/nnlab", "nnlab-fit", "nnlab"),
    ("nnlab/gemm-floor", "nnlab", "gemm-floor"),
    ("torch/gemm-floor", "torch", "gemm-floor"),
    ("numpy-step/gemm-floor", "numpy-step", "gemm-floor"),
)


def derive(case, results: dict, peak_gflops: float | None) -> dict:
    """Add GFLOP/s and fraction of the matmul peak to each framework; return the case's ratios.

    ``ratios[name]`` is the ratio of the medians (what the targets use);
    ``ratios["paired"][name]`` the median and range of the per-repetition ratios
    (epoch i of A over epoch i of B, run back to back), which cancels slow drifts
    of the machine that hit every framework alike.
    """
    for r in results.values():
        if r.get("median"):
            r["gflops"] = case.flops_per_epoch / r["median"] / 1e9
            r["peak_fraction"] = r["gflops"] / peak_gflops if peak_gflops else None
    ratios, paired = {}, {}
    for name, a, b in RATIO_PAIRS:
        ra, rb = results.get(a) or {}, results.get(b) or {}
        ratios[name] = ratio_or_none(ra.get("median"), rb.get("median"))
        ta, tb = ra.get("times") or [], rb.get("times") or []
        if ta and len(ta) == len(tb):
            per = [x / y for x, y in zip(ta, tb)]
            paired[name] = {"median": statistics.median(per), "min": min(per), "max": max(per)}
    ratios["paired"] = paired
    return ratios


def floors(case, results: dict) -> dict:
    """Per training step (µs): each framework's step, the GEMM floor, the memory-pass floor, and nnlab's overhead.

    ``overhead_us`` is nnlab's step minus the GEMM floor; ``rest_us`` that minus
    the memory floor too (what is neither matrix products nor the least memory
    traffic of an update); ``overhead_over_gemm`` the ratio issue 17 bounds.
    """
    steps = case.steps
    out = {"steps": steps}
    for fw in ("nnlab", "nnlab-fit", "torch", "gemm-floor", "numpy-step"):
        med = (results.get(fw) or {}).get("median")
        if med:
            out[f"{fw}_step_us"] = 1e6 * med / steps
    mem = ((results.get("gemm-floor") or {}).get("extra") or {}).get("memory_pass")
    if mem:
        out["memory_pass_us"] = 1e6 * mem["best_s"]
        out["memory_pass_threads"] = mem.get("threads", 1)  # reports before 2026-12-02 copied on one thread
        out["memory_pass_method"] = mem.get("method", "copy")  # reports before 2026-12-02 17:07 UTC timed a copy
        out["parameters"] = mem["parameters"]
    gemm, step = out.get("gemm-floor_step_us"), out.get("nnlab_step_us")
    if gemm and step:
        out["overhead_us"] = step - gemm
        out["overhead_over_gemm"] = (step - gemm) / gemm
    if gemm and step and "memory_pass_us" in out:
        out["rest_us"] = step - gemm - out["memory_pass_us"]
    hand = out.get("numpy-step_step_us")
    if gemm and hand:  # what NumPy's per-call cost alone takes beyond the GEMMs (benchmarks/fw_numpy_step.py)
        out["numpy-step_overhead_over_gemm"] = (hand - gemm) / gemm
    return out


def _floor_text(c: dict) -> str:
    f = c.get("floors") or {}
    if "nnlab_step_us" not in f:
        return ""
    parts = [f"nnlab {f['nnlab_step_us']:.0f}"]
    if "torch_step_us" in f:
        parts.append(f"torch {f['torch_step_us']:.0f}")
    if "gemm-floor_step_us" in f:
        parts.append(f"GEMM floor {f['gemm-floor_step_us']:.0f}")
    if "memory_pass_us" in f:
        parts.append(f"memory pass {f['memory_pass_us']:.0f} ({f['parameters']:,} parameters)")
    text = "µs per step: " + ", ".join(parts)
    if "overhead_us" in f:
        text += f"; nnlab beyond its GEMM floor {f['overhead_us']:.0f} µs = {f['overhead_over_gemm']:.2f}× the floor"
    if "rest_us" in f:
        text += f", beyond both floors {f['rest_us']:.0f} µs"
    if "numpy-step_overhead_over_gemm" in f:
        text += (f"; the hand-written NumPy step {f['numpy-step_step_us']:.0f} µs, beyond the GEMM floor "
                 f"{f['numpy-step_overhead_over_gemm']:.2f}× the floor")
    return text


def _load_text(c: dict) -> str:
    load = c.get("load")
    if not load:
        return ""
    steal = f"; CPU time stolen by the hypervisor during the epochs {load['steal_percent']:.1f} %" if "steal_percent" in load else ""
    return f"load average during the epochs: median {load['median']:.1f} (min {load['min']:.1f}, max {load['max']:.1f}){steal}"


def _blas_text(r: dict) -> str:
    pools = ", ".join(f"{p.get('library')} {p.get('version') or ''} {p.get('architecture') or ''} ×{p.get('threads')}".replace("  ", " ")
                      for p in r.get("blas") or [])
    build = r.get("blas_build")
    verified = "threads verified" if r.get("threads_verified") else "threads NOT verified"
    return f"{pools or 'no pool seen'}{'; build: ' + build if build else ''} ({verified})"


# ---------------------------------------------------------------- text output
def _fmt(x, spec=".3f", na="n/a"):
    return na if x is None else format(x, spec)


def _ratio_text(ratios: dict, bold: bool = False) -> str:
    parts = []
    paired = ratios.get("paired", {})
    for name, _, _ in RATIO_PAIRS:
        value = ratios.get(name)
        if value is None:
            continue
        v = f"**{value:.2f}**" if bold else f"{value:.2f}"
        p = paired.get(name)
        extra = f" ({p['median']:.2f}, {p['min']:.2f}–{p['max']:.2f})" if p else ""
        parts.append(f"{name} {v}{extra}")
    return "; ".join(parts) if parts else "n/a"


def table(report: dict) -> str:
    meta = report["meta"]
    lines = [
        f"nnlab benchmarks — {meta['mode']} mode, {meta['reps']} interleaved repetitions, "
        f"{meta['threads']} BLAS threads, float32, Adam lr 1e-3, one epoch per repetition",
        f"CPU: {meta['cpu']} ({meta['cpus']} cores)   " + "  ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    ]
    lines.append(
        "load average at start / end: "
        + " / ".join(", ".join(f"{x:.2f}" for x in meta.get(k, ())) for k in ("loadavg_start", "loadavg_end"))
        + "  (other work on the machine disturbs the timings)"
    )
    peak = report.get("matmul_peak") or {}
    if peak:
        lines.append(
            f"float32 matmul peak: {peak['gflops_best']:.1f} GFLOP/s (NumPy {peak['n']}×{peak['n']}, best of {peak['reps']}; "
            f"median {peak['gflops_median']:.1f}).  FLOP count: {FLOPS_PER_WEIGHT_PER_SAMPLE} per weight per sample "
            "(forward 2 + backward 4)."
        )
    header = f"  {'framework':<22}{'median s':>10}{'min–max s':>19}{'×torch':>8}{'GFLOP/s':>9}{'% peak':>8}{'peak RSS MB':>13}"
    for name, c in report["cases"].items():
        lines += ["", f"{name}: {c['description']}  ({c['flops_per_epoch'] / 1e9:.1f} GFLOP/epoch)", header]
        torch_med = (c["frameworks"].get("torch") or {}).get("median")
        for fw, r in c["frameworks"].items():
            label = r.get("label", fw)
            if "median" not in r:
                why = r.get("skipped") or r.get("error") or "no result"
                lines.append(f"  {label:<22}  n/a — {why[:90]}")
                continue
            rng = f"{r['min']:.3f}–{r['max']:.3f}"
            frac = r.get("peak_fraction")
            lines.append(
                f"  {label:<22}{r['median']:>10.3f}{rng:>19}{_fmt(ratio_or_none(r['median'], torch_med), '.2f'):>8}"
                f"{_fmt(r.get('gflops'), '.1f'):>9}{_fmt(None if frac is None else 100 * frac, '.0f'):>8}"
                f"{_fmt(r.get('maxrss_mb'), '.0f'):>13}"
            )
        lines.append("  ratios of medians (paired per-repetition median, min–max):")
        lines.append("    " + _ratio_text(c["ratios"]))
        for extra in (_floor_text(c), _load_text(c)):
            if extra:
                lines.append("  " + extra)
    lines += ["", "start-up (fresh processes; median, min–max):"]
    for name, s in report["startup"].items():
        if "median" in s:
            lines.append(f"  {name:<32}{s['median']:.3f} s  ({s['min']:.3f}–{s['max']:.3f})")
        else:
            lines.append(f"  {name:<32}n/a ({s.get('na', '')})")
    if report.get("accuracy"):
        lines += ["", "accuracy parity on digits (test accuracy, mean over seeds):"]
        acc = report["accuracy"]
        if "error" in acc:
            lines.append(f"  n/a — {acc['error']}")
        else:
            lines.append(f"  {acc['setup']}")
            for fw, a in acc["frameworks"].items():
                if "mean" not in a:
                    lines.append(f"  {fw:<10}n/a — {a.get('error', '')[:90]}")
                    continue
                lines.append(f"  {fw:<10}{100 * a['mean']:.2f}%  per seed {', '.join(f'{100 * v:.2f}' for v in a['per_seed'])}")
    lines += ["", "targets:"]
    for t in report["targets"]:
        paired = f"; paired {t['paired_median']:.3f}" if "paired_median" in t else ""
        why = f"; {t['out_of_reach']}" if "out_of_reach" in t else ""
        lines.append(f"  [{t['status']:^6}] {t['target']:<62} {_fmt(t['value'])} (target {t['op']} {t['limit']}{paired}{why})")
    return "\n".join(lines)


# ------------------------------------------------------------ markdown output
def markdown(report: dict) -> str:
    """The report as Markdown tables (for BENCHMARKS.md): ``python -m benchmarks.report results.json``."""
    meta = report["meta"]
    peak = report.get("matmul_peak") or {}
    out = [
        f"- date: {meta['date']}",
        f"- command: `{meta['command'].strip()}` (repository at `{meta.get('git', 'unknown')}`)",
        f"- CPU: {meta['cpu']}, {meta['cpus']} cores; load average at start {', '.join(f'{x:.2f}' for x in meta.get('loadavg_start', ()))}, "
        f"at end {', '.join(f'{x:.2f}' for x in meta.get('loadavg_end', ()))}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- {meta['reps']} interleaved repetitions of one epoch per framework, {meta['threads']} BLAS/OpenMP threads, "
        f"{meta['warmup_steps']} untimed warm-up steps, {meta.get('gap_seconds', 0)} s idle between epochs",
        f"- float32 matmul peak: **{peak.get('gflops_best', float('nan')):.1f} GFLOP/s** (NumPy {peak.get('n')}×{peak.get('n')}, "
        f"best of {peak.get('reps')}); FLOP count: {meta['flop_count']}",
        "",
    ]
    for name, c in report["cases"].items():
        out += [
            f"#### {name}: {c['description']} — {c['flops_per_epoch'] / 1e9:.1f} GFLOP per epoch",
            "",
            "| framework | median s | min–max s | × torch | GFLOP/s | % of peak | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        torch_med = (c["frameworks"].get("torch") or {}).get("median")
        for fw, r in c["frameworks"].items():
            if "median" not in r:
                out.append(f"| {r.get('label', fw)} | n/a ({r.get('skipped') or r.get('error')}) | | | | | |")
                continue
            frac = r.get("peak_fraction")
            out.append(
                f"| {r.get('label', fw)} | {r['median']:.3f} | {r['min']:.3f}–{r['max']:.3f} | "
                f"{_fmt(ratio_or_none(r['median'], torch_med), '.2f')} | {_fmt(r.get('gflops'), '.1f')} | "
                f"{_fmt(None if frac is None else 100 * frac, '.0f')} | {_fmt(r.get('maxrss_mb'), '.0f')} |"
            )
        out += ["", "ratios of medians (in brackets: median and range of the per-repetition ratios): "
                + _ratio_text(c["ratios"], bold=True), ""]
        out += [f"{text}" for text in (_floor_text(c), _load_text(c)) if text]
        out.append("")
    blas = {}
    for c in report["cases"].values():
        for fw, r in c["frameworks"].items():
            if r.get("blas") is not None and fw not in blas:
                blas[fw] = _blas_text(r)
    if blas:
        out += ["#### BLAS and threads of each worker (threadpoolctl)", ""]
        out += [f"- {fw}: {text}" for fw, text in blas.items()]
        out.append("")
    out += ["#### Start-up", "", "| measurement | median s | min–max s |", "|---|---:|---:|"]
    for name, s in report["startup"].items():
        if "median" in s:
            out.append(f"| `{name}` | {s['median']:.3f} | {s['min']:.3f}–{s['max']:.3f} |")
        else:
            out.append(f"| `{name}` | n/a ({s.get('na', '')}) | |")
    acc = report.get("accuracy")
    if acc:
        out += ["", "#### Accuracy parity on digits", ""]
        if "error" in acc:
            out.append(f"n/a: {acc['error']}")
        else:
            out += [acc["setup"], "", "| framework | mean test accuracy | per seed |", "|---|---:|---|"]
            for fw, a in acc["frameworks"].items():
                if "mean" in a:
                    out.append(f"| {fw} | {100 * a['mean']:.2f}% | {', '.join(f'{100 * v:.2f}' for v in a['per_seed'])} |")
                else:
                    out.append(f"| {fw} | n/a ({a.get('error')}) | |")
    out += ["", "#### Targets", "", "| target | value | paired | limit | status |", "|---|---:|---:|---:|---|"]
    for t in report["targets"]:
        paired = _fmt(t.get("paired_median"), na="")
        why = f" ({t['out_of_reach']})" if "out_of_reach" in t else ""
        out.append(f"| {t['target']} | {_fmt(t['value'])} | {paired} | {t['op']} {t['limit']} | **{t['status']}**{why} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import json
    import sys

    with open(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results.json") as f:
        print(markdown(json.load(f)), end="")
