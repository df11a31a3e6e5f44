"""``python -m benchmarks.noise_layers``: µs per Dropout / GaussianNoise call on a (128, 256) float32 batch, 1 thread.

Issue 17's BatchNorm + dropout cell spends part of its overhead in Dropout's
draw.  Each line is the best of 15 rounds of 200 calls (timeit), in this one
process, with the allocator tuned as ``fit`` tunes it: nnlab's layers (forward,
then forward + backward), their random draws alone, and the draws of before
session 21 beside them (Dropout's masks were ``rng.random(dtype=float32) < keep``,
GaussianNoise's float32 noise ``rng.standard_normal(dtype=float32)``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NNLAB_OPTIM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its pools

import timeit  # noqa: E402

import numpy as np  # noqa: E402

SHAPE, KEEP = (128, 256), 0.9


def _best_us(fn) -> float:
    fn()
    return min(timeit.repeat(fn, number=200, repeat=15)) / 200 * 1e6


def main() -> int:
    import nnlab
    from nnlab import nn
    from nnlab._malloc import tune_allocator_once
    from nnlab.random import bernoulli, standard_normal

    tune_allocator_once()

    gen = np.random.default_rng(0)
    X = gen.standard_normal(SHAPE).astype(np.float32)
    g = np.ones_like(X)
    x = nnlab.tensor(X, requires_grad=True)
    dropout, noise = nn.Dropout(keep=KEEP, rng=0), nn.GaussianNoise(0.1, rng=0)
    s = np.float32(1 / KEEP)

    def earlier_dropout():  # the float32-uniform mask of before session 21, forward and backward
        scale = np.multiply(gen.random(SHAPE, dtype=np.float32) < KEEP, s)
        return X * scale, g * scale

    lines = {
        "Dropout forward": lambda: dropout(x),
        "Dropout forward + backward": lambda: dropout(x)._backward(g),
        "  its mask: nnlab.random.bernoulli": lambda: bernoulli(gen, KEEP, SHAPE),
        "earlier Dropout forward + backward (NumPy only)": earlier_dropout,
        "  its mask: rng.random(dtype=float32) < keep": lambda: gen.random(SHAPE, dtype=np.float32) < KEEP,
        "GaussianNoise forward + backward": lambda: noise(x)._backward(g),
        "  its draw: nnlab.random.standard_normal": lambda: standard_normal(gen, SHAPE),
        "  earlier draw: rng.standard_normal(dtype=float32)": lambda: gen.standard_normal(SHAPE, dtype=np.float32),
    }
    for name, fn in lines.items():
        print(f"{name:50s} {_best_us(fn):7.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
