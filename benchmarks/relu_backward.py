"""``python -m benchmarks.relu_backward [ROWSxCOLS ...]``: ReLU's backward, NumPy's ``g * (y > 0)`` against nnlab's kernel.

Both in this process on one thread, float32, median µs of 200 calls each (with
a fresh output array per call, as in training).  The kernel is the numba pass
of ``nnlab.ops.activations._relu_grad`` (the ``fast`` extra); the check that it
gives the reference's bits is in ``tests/test_ops_kernels.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DEFAULT_SHAPES = ("512x2048", "128x2048", "128x256", "32x2048")


def _median_us(fn, calls: int = 200) -> float:
    spent = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        spent.append(time.perf_counter() - t0)
    return sorted(spent)[calls // 2] * 1e6


def main(argv=None) -> int:
    import os

    os.environ["NNLAB_JIT"] = "1"  # the kernel at every size (the rule's own threshold is 32 K elements)
    from nnlab.ops.activations import _relu_grad

    p = argparse.ArgumentParser(prog="python -m benchmarks.relu_backward", description=__doc__.splitlines()[0])
    p.add_argument("shapes", nargs="*", default=list(DEFAULT_SHAPES), help="ROWSxCOLS (default: %(default)s)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    for text in args.shapes:
        try:
            shape = tuple(int(v) for v in text.lower().split("x"))
        except ValueError:
            p.error(f"{text!r} is not ROWSxCOLS")
        g = rng.standard_normal(shape, dtype=np.float32)
        y = np.maximum(rng.standard_normal(shape, dtype=np.float32), 0)
        _relu_grad(g, y)  # compile (or load numba's cache) outside the timing
        reference, kernel = _median_us(lambda: g * (y > 0)), _median_us(lambda: _relu_grad(g, y))
        print(f"{text}: NumPy {reference:.1f} µs, kernel {kernel:.1f} µs ({reference / kernel:.2f}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
