"""The matrix-multiply floor of a case: only the GEMMs one training epoch needs, in NumPy.

Per batch: gather the batch (one fancy index), forward ``h @ W`` for every layer,
backward ``dW = h.T @ g`` for every layer and ``dX = g @ W.T`` for every layer but
the first.  No bias, activation, loss, BatchNorm or optimizer: no NumPy framework
can train an epoch faster than this on the same BLAS, so ``epoch / floor`` is the
framework's overhead factor.
"""

from __future__ import annotations

import numpy as np

from .runner import Runner


def versions() -> dict:
    return {"numpy": np.__version__}


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    if case.net:
        return _build_conv(case, seed)
    rng = np.random.default_rng(seed + 2)
    # Scaled so activations keep unit variance: no overflow, no denormals.
    Ws = [
        (rng.standard_normal((a, b), dtype=np.float32) / np.float32(np.sqrt(a)))
        for a, b in zip(case.sizes[:-1], case.sizes[1:])
    ]
    perm_rng = np.random.default_rng(seed + 1)
    n, bs = len(X), case.batch_size

    def run(stop):
        perm = perm_rng.permutation(n)[:stop]
        for i in range(0, len(perm), bs):
            h = X[perm[i : i + bs]]
            acts = [h]
            for W in Ws:
                h = h @ W
                acts.append(h)
            g = acts[-1]  # stands in for dLoss/dOut: same shape and scale
            for j in range(len(Ws) - 1, -1, -1):
                acts[j].T @ g
                if j:
                    g = g @ Ws[j].T
        return 0.0

    return Runner(run, n, bs)


def _build_conv(case, seed: int):
    from .cases import gemm_shapes

    rng = np.random.default_rng(seed + 2)
    bs = case.batch_size
    layers = []
    for positions, k, n, first in gemm_shapes(case):
        cols = rng.standard_normal((bs * positions, k), dtype=np.float32)
        W = rng.standard_normal((k, n), dtype=np.float32) / np.float32(np.sqrt(k))
        layers.append((cols, W, first))
    steps = -(-case.samples // bs)

    def run(stop):
        for _ in range(min(steps, -(-stop // bs))):
            for cols, W, first in layers:
                g = cols @ W  # forward; stands in for the output gradient too
                cols.T @ g
                if not first:
                    g @ W.T
        return 0.0

    return Runner(run, case.samples, bs)
