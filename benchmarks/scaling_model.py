"""When does data parallelism pay off?  A ring all-reduce cost model fitted to measured per-step compute.

    python -m benchmarks.scaling_model benchmarks/recorded/DATE-distributed.json

Per-step compute on one machine is fitted as t_c(b) = a + c·b (b rows per machine) through two
measured points of ``benchmarks.distributed_scaling``: one process with the global batch B
(1×1) and one rank's compute with B/2 (2×1 step time minus its all-reduce time), both the
fastest step seen (the least contended, on a shared machine).  On N
machines with bandwidth β (bytes/s) and per-message latency α, a ring all-reduce of the
gradient's G bytes costs 2(N−1)/N · G/β + 2(N−1)·α, and the step's loss value adds a second,
latency-bound all-reduce (2(N−1)·α), so

    t(N) = a + c·B/N + 2(N−1)/N · G/β + 4(N−1)·α,        speed-up S(N) = t_c(B) / t(N).

It pays off from the smallest N with S(N) > 1; the table also gives the best N ≤ 64.  On a shared
machine the two points are contended unequally, so a second table takes t_c proportional to the
2×1 rank's compute alone (t_c(b) = b · its time / (B/2)): the spread between the two is the
measurement's uncertainty.
"""

from __future__ import annotations

import json
import sys

BANDWIDTHS_GBIT = (1, 10, 25, 100)
LATENCIES_US = {"TCP/Ethernet": 50.0, "RDMA/InfiniBand": 3.0}
MAX_MACHINES = 64


def fit(records: list, source: str = "fit") -> dict:
    """{case: (a, c, B, G)}: ``"fit"`` through the 1x1 and 2x1 points; ``"2x1"``: proportional to one rank's compute."""
    by = {(r["case"], r["setup"]): r for r in records}
    out = {}
    for case in sorted({r["case"] for r in records}):
        one, two = by[(case, "1x1")], by.get((case, "2x1"))
        B = one["global_batch"]
        t_full = one["step_min_s"]
        if source == "2x1":
            a, c = 0.0, (two["step_min_s"] - two["allreduce_at_min_s"]) / (B / 2)
        elif two is None:
            a, c = 0.0, t_full / B
        else:
            t_half = max(two["step_min_s"] - two["allreduce_at_min_s"], 1e-9)
            c = (t_full - t_half) / (B - B / 2)
            a = t_full - c * B
            if a < 0 or c <= 0:  # contention made half the batch less than half the cost (or no cheaper)
                a, c = 0.0, t_full / B  # not physical: assume pure proportionality t_c(b) = t_c(B)·b/B
        out[case] = (a, c, B, one["gradient_bytes"])
    return out


def step_time(a, c, B, G, N, bandwidth, latency) -> float:
    if N == 1:
        return a + c * B
    return a + c * B / N + 2 * (N - 1) / N * G / bandwidth + 4 * (N - 1) * latency


def answer(records: list, source: str = "fit") -> list[str]:
    lines = []
    for case, (a, c, B, G) in fit(records, source).items():
        t1 = a + c * B
        lines.append(f"{case} ({source}): t_c(b) = {a * 1e3:.3f} ms + {c * 1e6:.2f} µs·b (B = {B}, t_c(B) = {t1 * 1e3:.2f} ms), "
                     f"gradient {G / 1e6:.2f} MB")
        lines.append("| network | latency | pays off from | best N ≤ 64 | S(best) | S(2) | S(8) |")
        lines.append("|---|---|---|---|---|---|---|")
        for label, latency_us in LATENCIES_US.items():
            for gbit in BANDWIDTHS_GBIT:
                bw, lat = gbit * 1e9 / 8, latency_us * 1e-6
                speedups = {N: t1 / step_time(a, c, B, G, N, bw, lat) for N in range(1, MAX_MACHINES + 1)}
                pays = next((N for N in range(2, MAX_MACHINES + 1) if speedups[N] > 1.0), None)
                best = max(speedups, key=speedups.get)
                lines.append(f"| {gbit} Gbit/s {label} | {latency_us:g} µs | {pays or 'never (≤ 64)'} | {best} | "
                             f"{speedups[best]:.2f} | {speedups[2]:.2f} | {speedups[8]:.2f} |")
        lines.append("")
    return lines


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        records = json.load(f)["records"]
    for source in ("fit", "2x1"):  # the compute from the 1x1/2x1 fit, and from one rank's share alone
        print("\n".join(answer(records, source)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
