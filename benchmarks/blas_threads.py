"""``python -m benchmarks.blas_threads``: wall µs per GEMM at 1 and 2 OpenBLAS threads (threadpoolctl).

Issue 17 asks whether OpenBLAS's two-thread split of the small products of the
medium step and of the batch-32 sweep cells loses to one thread, so that nnlab
should choose the thread count per shape.  Each product (forward ``x @ W`` and
weight gradient ``x.T @ g`` of every layer) is timed both ways in this one
process, median of 7 rounds; run it on an idle machine, with
``OPENBLAS_NUM_THREADS=2``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def median_us(fn, reps: int) -> float:
    """Median µs per call of ``fn`` over 7 rounds of ``reps`` calls, after 10 untimed calls."""
    for _ in range(10):
        fn()
    rounds = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        rounds.append((time.perf_counter() - t0) / reps * 1e6)
    return statistics.median(rounds)


def shapes() -> list:
    """(name, A's shape, B's shape, A transposed): forward and weight-gradient products of 784→H→H→10."""
    out = []
    for bs, h in ((128, 256), (32, 256), (32, 1024), (32, 2048)):
        for k, n in ((784, h), (h, h), (h, 10)):
            out.append((f"b{bs} h{h} fwd {bs}x{k}@{k}x{n}", (bs, k), (k, n), False))
            out.append((f"b{bs} h{h} dW {k}x{bs}@{bs}x{n}", (k, bs), (bs, n), True))
    return out


def main() -> None:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    for name, sa, sb, trans in shapes():
        A = rng.standard_normal(sa[::-1] if trans else sa, dtype=np.float32)
        A = A.T if trans else A  # x.T @ g: a transposed view, as the backward passes it
        B = rng.standard_normal(sb, dtype=np.float32)
        reps = max(5, int(1e8 / (sa[0] * sa[1] * sb[1])))
        us = {}
        for threads in (1, 2):
            with threadpool_limits(threads, user_api="blas"):
                us[threads] = median_us(lambda: A @ B, reps)
        print(f"{name:34s} 1 thread {us[1]:8.1f} µs   2 threads {us[2]:8.1f} µs   1/2 = {us[1] / us[2]:.2f}")


if __name__ == "__main__":
    main()
