"""``python -m benchmarks.history [REPORT ...]``: every target over every recorded run, and issue 17's verdict.

Issue 17: "a target counts as met only when it holds in at least two full runs
on different days or machines".  This reads the JSON reports (default: every
file in ``benchmarks/recorded/``), checks each run's measurements against
today's targets (``checks.targets``, so a run recorded before a target existed
is judged by it too, from its own numbers), and prints one row per target: in
how many runs it was measured and held, the days (and machines) on which it
held, the range of its values, and the verdict of that rule.

Counted: full runs (not ``--quick``) at the targets' 2 threads; a run of some
cases (``--cases small``) counts for the targets of those cases.  A machine is
the CPU model and core count a report records: two VMs of one kind look alike,
so different machines show only when their CPUs differ.  The verdict is the
rule as the issue writes it; the held/measured count and the median beside it
show the misses, and a target met by the rule but held in fewer than half its
runs says so (its typical run misses).
A target that never held, where every miss that measured a bound (``checks.OVERHEAD_BOUNDS``;
older reports measured none) had one past the limit, in at least ``BOUNDED_MISSES_NEEDED``
runs, is reported out of reach, with the bounds and their days.
A target that held on one machine only and is out of reach by that rule on another machine
says so (the issue: "where a target proves out of reach on this machine").
A run that BENCHMARKS.md calls not credible is left out, with its reason (``NOT_CREDIBLE``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from . import checks

RECORDED = Path(__file__).resolve().parent / "recorded"
TARGET_THREADS = 2
DAYS_OR_MACHINES_NEEDED = 2
# Out of reach: never held, and a bound past the limit in every miss that measured one, at least this often.
BOUNDED_MISSES_NEEDED = 2
# Recorded runs whose measurements BENCHMARKS.md calls not credible: left out (they favour nnlab), with the reason.
NOT_CREDIBLE = {
    "2026-12-01-final-reps7.json": "torch's small epochs spread 0.30–16.4 s under other sessions' load (small 0.05)",
}


def load_runs(paths) -> tuple[list, list]:
    """(runs, skipped): each run ``{"path", "day", "machine", "targets"}``; skipped ``(path, reason)``."""
    runs, skipped = [], []
    for path in paths:
        if Path(path).name in NOT_CREDIBLE:
            skipped.append((str(path), f"not credible: {NOT_CREDIBLE[Path(path).name]}"))
            continue
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            skipped.append((str(path), f"unreadable: {exc}"))
            continue
        meta = data.get("meta") if isinstance(data, dict) else None
        if not isinstance(meta, dict) or "cases" not in data or "startup" not in data:
            skipped.append((str(path), "not a report of python -m benchmarks"))
            continue
        if meta.get("mode") != "full":
            skipped.append((str(path), f"{meta.get('mode')} mode, not a full run"))
            continue
        if meta.get("threads") != TARGET_THREADS:
            skipped.append((str(path), f"{meta.get('threads')} threads, the targets are for {TARGET_THREADS}"))
            continue
        try:
            judged = checks.targets(data)
        except (KeyError, TypeError, AttributeError) as exc:  # a report cut short or edited by hand
            skipped.append((str(path), f"an incomplete report ({type(exc).__name__}: {exc})"))
            continue
        runs.append({"path": str(path), "day": str(meta.get("date", "?"))[:10], "git": meta.get("git", "?"),
                     "machine": f"{meta.get('cpu', '?')}, {meta.get('cpus', '?')} cores", "targets": judged})
    return runs, skipped


def summarize(runs: list) -> list:
    """One row per target, in the order the targets first appear."""
    rows: dict = {}
    for run in runs:
        for t in run["targets"]:
            if t["status"] == "n/a":
                continue
            row = rows.setdefault(t["target"], {"target": t["target"], "limit": t["limit"], "op": t["op"],
                                                "unit": t["unit"], "values": [], **_tally(), "machine_tallies": {}})
            row["values"].append(t["value"])
            for tally in (row, row["machine_tallies"].setdefault(run["machine"], _tally())):
                _count(tally, t, run)
    for row in rows.values():
        days = sorted({day for day, _ in row["held"]})
        machines = sorted({machine for _, machine in row["held"]})
        row["days"], row["machines"] = days, machines
        bounded = sum(len(b) for b in row["bounds"].values())
        misses = row["measured"] - len(row["held"])
        if max(len(days), len(machines)) >= DAYS_OR_MACHINES_NEEDED:
            # the rule, which a target near its limit meets on a lucky run a day: say so
            row["verdict"] = "met" if 2 * len(row["held"]) >= row["measured"] else "met, but held in fewer than half its runs"
        elif _out_of_reach(row):
            row["verdict"] = (f"out of reach: a measured bound is past the limit in all {bounded} misses that measured "
                              f"one (of {misses})" + _bounds_text(row))
        else:
            row["verdict"] = "held on one day and machine only" if row["held"] else "missed in every run"
            # issue 17: "where a target proves out of reach on this machine": a machine where it never held
            out = {m: t for m, t in row["machine_tallies"].items() if len(row["machine_tallies"]) > 1 and _out_of_reach(t)}
            for machine, t in sorted(out.items()):
                n = sum(len(b) for b in t["bounds"].values())
                row["verdict"] += (f"; out of reach on {machine}: a measured bound is past the limit in all {n} misses "
                                   f"there that measured one (of {t['measured']})" + _bounds_text(t))
            if bounded and not out:
                row["verdict"] += (f"; a measured bound is past the limit in {bounded} of the {row['bounds_measured']} "
                                   f"misses that measured one" + _bounds_text(row))
    return list(rows.values())


def _tally() -> dict:
    return {"held": [], "measured": 0, "bounds_measured": 0, "bounds": {}}


def _count(tally: dict, t: dict, run: dict) -> None:
    tally["measured"] += 1
    if t["status"] == "met":
        tally["held"].append((run["day"], run["machine"]))
    else:
        tally["bounds_measured"] += bool(t.get("bounds_measured"))
        if "bound_by" in t:
            tally["bounds"].setdefault(t["bound_by"], []).append((t["bound"], run["day"]))


def _out_of_reach(tally: dict) -> bool:
    """Never held, and a bound past the limit in every miss that measured one, at least BOUNDED_MISSES_NEEDED times."""
    bounded = sum(len(b) for b in tally["bounds"].values())
    return not tally["held"] and bounded >= BOUNDED_MISSES_NEEDED and bounded == tally["bounds_measured"]


def _bounds_text(row: dict) -> str:
    return " (" + "; ".join(f"{kind} {min(v for v, _ in b):.2f}–{max(v for v, _ in b):.2f}× the floor, "
                            f"{', '.join(sorted({d for _, d in b}))}" for kind, b in row["bounds"].items()) + ")"


def markdown(rows: list, runs: list, skipped: list) -> str:
    days = sorted({r["day"] for r in runs})
    machines = sorted({r["machine"] for r in runs})
    lines = [f"{len(runs)} full runs at {TARGET_THREADS} threads on {len(days)} days ({', '.join(days)}), "
             f"{len(machines)} machine(s) ({'; '.join(machines)}); {len(skipped)} reports not counted.", "",
             "| target | limit | held / measured | days it held | values (min–max; median) | verdict |",
             "|---|---|---:|---|---|---|"]
    for row in rows:
        values = row["values"]
        lines.append(f"| {row['target']} | {row['op']} {row['limit']:g}{row['unit']} | {len(row['held'])} / {row['measured']} "
                     f"| {', '.join(row['days']) or '–'} | {min(values):.3g}–{max(values):.3g}; {statistics.median(values):.3g} "
                     f"| {row['verdict']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.history", description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="*", help="JSON reports (default: benchmarks/recorded/*.json)")
    p.add_argument("--match", default="", help="only the targets whose name contains this text (e.g. 'issue 17')")
    args = p.parse_args(argv)
    paths = args.reports or sorted(RECORDED.glob("*.json"))
    runs, skipped = load_runs(paths)
    for path, reason in skipped:
        print(f"not counted: {path}: {reason}", file=sys.stderr)
    if not runs:
        print("no full run at 2 threads among the reports given", file=sys.stderr)
        return 2
    rows = [r for r in summarize(runs) if args.match in r["target"]]
    print(markdown(rows, runs, skipped))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
