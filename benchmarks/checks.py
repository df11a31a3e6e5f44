"""The target checks of issues 6, 12 and 17 (met / missed / n/a), from a finished report's numbers.

Used by ``python -m benchmarks`` on its own run and by ``benchmarks.history`` on
every recorded run, so a run recorded before a target existed is judged by it too.
"""

from __future__ import annotations

from .report import ratio_or_none

# Plain-loop epoch-time ratio nnlab/torch (medians) per case, as each issue asks (cnn: issue 12).
RATIO_TARGETS = {"small": 0.35, "medium": 0.85, "large": 1.0, "deep": 0.9, "cnn1d": 1.5, "cnn2d": 1.5}
RATIO_TARGETS_17 = {"small": 0.30, "medium": 0.90, "large": 1.0, "deep": 0.85}
SWEEP_RATIO_MAX = 1.0  # issue 17: every cell of the width × batch sweep
FIT_OVER_LOOP_MAX = 1.10
FIT_OVER_LOOP_MAX_17 = 1.05
OVERHEAD_OVER_GEMM_MAX = 0.5  # issue 17: (nnlab step − GEMM floor) / GEMM floor, every MLP case
PEAK_FRACTION_MIN = 0.60
PEAK_FRACTION_CASES = ("medium", "large")
IMPORT_NNLAB_MAX_S = 0.3
ACCURACY_GAP_MAX_PP = 0.5  # mean test accuracy over 3 seeds, percentage points


# Measured lower bounds on the overhead ratio, from a report's floors (so recorded runs are judged
# too).  The memory pass binds any framework; the hand-written step (benchmarks/fw_numpy_step.py:
# no graph, no checks, every buffer preallocated) shows what NumPy's per-call cost alone takes.
# The memory pass is a minimum set against the floor's median, so that bound errs low.  Only the
# in-place pass over the step's own buffers, timed after its GEMMs, is a bound: the copy that earlier
# reports timed took more than nnlab's whole overhead on the Intel Xeon (BENCHMARKS.md, "memory floor").
MEMORY_BOUND_METHOD = "in-place pass after the step's GEMMs"
OVERHEAD_BOUNDS = (
    ("memory pass", "any framework: one pass over the parameters, gradients and optimizer state takes"),
    ("hand-written NumPy step", "a NumPy framework: the hand-written NumPy step's own overhead is"),
)


def _overhead_bounds(f: dict, threads) -> dict:
    gemm, mem = f.get("gemm-floor_step_us"), f.get("memory_pass_us")
    bounds = {}
    if (gemm and mem is not None and f.get("memory_pass_method") == MEMORY_BOUND_METHOD
            and f.get("memory_pass_threads", 1) == threads):  # a 1-thread pass bounds no 2-thread update
        bounds["memory pass"] = mem / gemm
    if f.get("numpy-step_overhead_over_gemm") is not None:
        bounds["hand-written NumPy step"] = f["numpy-step_overhead_over_gemm"]
    return bounds


def _out_of_reach(check: dict, f: dict, threads) -> dict:
    """Mark a missed overhead check that a measured bound already puts beyond the limit.

    A bound counts only between the limit and the measured overhead: one that nnlab's own
    step beat (a noisy floor, or a hand-written step slow at that shape) proves nothing.
    """
    if check["status"] == "missed":
        bounds = _overhead_bounds(f, threads)
        check["bounds_measured"] = bool(bounds)
        for kind, who in OVERHEAD_BOUNDS:
            if check["limit"] < bounds.get(kind, 0.0) <= check["value"]:
                check["bound_by"], check["bound"] = kind, bounds[kind]
                check["out_of_reach"] = f"out of reach for {who} {bounds[kind]:.2f}× the GEMM floor"
                break
    return check


def _check(name: str, value, limit, op: str, unit: str = "") -> dict:
    if value is None:
        status = "n/a"
    elif op == "<=":
        status = "met" if value <= limit else "missed"
    else:
        status = "met" if value >= limit else "missed"
    return {"target": name, "value": value, "limit": limit, "op": op, "unit": unit, "status": status}


def _paired(check: dict, ratios: dict, name: str) -> dict:
    """Attach the paired per-repetition ratio, for context (the status uses the ratio of medians)."""
    p = ratios.get("paired", {}).get(name)
    if p:
        check["paired_median"] = p["median"]
    return check


def targets(report: dict) -> list:
    """The targets of issues 6, 12 and 17, each met / missed / n/a, from a finished report."""
    out = []
    cases = report["cases"]

    def ratio_check(label, name, limit):
        out.append(_paired(_check(label, cases[name]["ratios"]["nnlab/torch"], limit, "<="), cases[name]["ratios"], "nnlab/torch"))

    for name, limit in RATIO_TARGETS.items():
        if name in cases:
            issue = "issue 12" if name.startswith("cnn") else "issue 6"
            ratio_check(f"{issue}, {name}: epoch time nnlab/torch (plain loop)", name, limit)
    for name, limit in RATIO_TARGETS_17.items():
        if name in cases:
            ratio_check(f"issue 17, {name}: epoch time nnlab/torch (plain loop)", name, limit)
    for name in cases:
        if name.startswith("sweep-"):
            ratio_check(f"issue 17, {name}: epoch time nnlab/torch", name, SWEEP_RATIO_MAX)
    for name, c in cases.items():
        for label, limit in (("issue 6", FIT_OVER_LOOP_MAX), ("issue 17", FIT_OVER_LOOP_MAX_17)):
            if c["ratios"].get("nnlab-fit/nnlab") is not None:
                out.append(_paired(_check(f"{label}, {name}: epoch time fit/plain loop", c["ratios"]["nnlab-fit/nnlab"], limit, "<="),
                                   c["ratios"], "nnlab-fit/nnlab"))
    for name, c in cases.items():
        if not c["spec"].get("net"):  # MLP cases
            f = c.get("floors") or {}
            if f.get("overhead_over_gemm") is not None:
                check = _check(f"issue 17, {name}: nnlab step beyond GEMM floor / GEMM floor",
                               f["overhead_over_gemm"], OVERHEAD_OVER_GEMM_MAX, "<=")
                paired = c["ratios"].get("paired", {}).get("nnlab/gemm-floor")
                if paired:  # epoch i of nnlab against epoch i of the floor, back to back: drifts cancel
                    check["paired_median"] = paired["median"] - 1
                out.append(_out_of_reach(check, f, (report.get("meta") or {}).get("threads")))
    for name in PEAK_FRACTION_CASES:
        if name in cases:
            frac = cases[name]["frameworks"].get("nnlab", {}).get("peak_fraction")
            out.append(_check(f"issue 6, {name}: nnlab FLOP/s / matmul peak", frac, PEAK_FRACTION_MIN, ">="))
    for name, c in cases.items():
        fws = c["frameworks"]
        torch_rss = fws.get("torch", {}).get("maxrss_mb")
        for fw in ("nnlab", "nnlab-fit"):
            rss = fws.get(fw, {}).get("maxrss_mb")
            if rss is not None:
                out.append(_check(f"{name}: peak RSS {fw}/torch", ratio_or_none(rss, torch_rss), 1.0, "<="))
    acc = report.get("accuracy")
    if acc is not None:
        gap = acc.get("gap_pp")
        out.append(_check("digits accuracy gap abs(nnlab − torch), pp", None if gap is None else abs(gap), ACCURACY_GAP_MAX_PP, "<=", "pp"))
    imp = report["startup"].get("import nnlab", {}).get("median")
    out.append(_check("import nnlab (s)", imp, IMPORT_NNLAB_MAX_S, "<=", "s"))
    return out


