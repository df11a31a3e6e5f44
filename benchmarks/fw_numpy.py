"""The floors of a case: only the GEMMs one training epoch needs, in NumPy, and one memory pass per step.

Per batch: gather the batch (one fancy index), forward ``h @ W`` for every layer,
backward ``dW = h.T @ g`` for every layer and ``dX = g @ W.T`` for every layer but
the first.  No bias, activation, loss, BatchNorm or optimizer: no NumPy framework
can train an epoch faster than this on the same BLAS, so ``epoch / floor`` is the
framework's overhead factor.  The products run where nnlab's run (``nnlab._blas.matmul``:
NumPy's BLAS, or MKL's with the ``mkl`` extra), so the floor is nnlab's own.

The second floor (:func:`memory_pass`, reported per step beside the GEMM floor)
is the memory traffic every optimizer step needs at the least: read the
parameters, the gradients and the optimizer's state once, write the parameters
and the state once.  It is timed as a ``np.copyto`` between two buffers that hold
as many elements as parameters, gradients and state together, scaled by the
bytes an update must move; it is a floor for the update and for ``zero_grad``.
The copy is also split among the run's threads (``np.copyto`` releases the GIL),
as nnlab's optimizer splits a large update, and the faster way counts: a
one-thread copy is no floor for a two-thread update.
"""

from __future__ import annotations

import time

import numpy as np

from .runner import Runner


def parameter_count(case) -> int:
    """Weights and biases of the case (BatchNorm's γ and β included)."""
    if case.net:
        from .cases import gemm_shapes

        return sum(k * n + n for _, k, n, _ in gemm_shapes(case))
    hidden = sum(case.sizes[1:-1])
    return sum(a * b + b for a, b in zip(case.sizes[:-1], case.sizes[1:])) + (2 * hidden if case.batchnorm else 0)


def memory_pass(case, threads: int = 1, reps: int = 30) -> dict:
    """Best and median seconds of one optimizer step's memory floor (see the module docstring).

    The copy is timed on one thread and split among ``threads``, alternately, and
    the faster way is the floor: handing a small buffer to a pool costs more than
    the copy (nnlab's optimizer only splits groups of 1 MiB per buffer and more).
    """
    from concurrent.futures import ThreadPoolExecutor

    params, state = parameter_count(case), case.state_buffers
    n = params * (2 + state)  # parameters, gradients, state
    src = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    dst = np.empty_like(src)
    cuts = np.linspace(0, n, threads + 1).astype(int)
    pieces = [(dst[a:b], src[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    times = {1: [], threads: []}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        def copy(split):
            if split == 1:
                np.copyto(dst, src)
            else:
                list(pool.map(lambda piece: np.copyto(*piece), pieces))

        for split in times:
            copy(split)  # page faults and thread start-up out of the timing
        for _ in range(reps):
            for split, spent in times.items():
                t0 = time.perf_counter()
                copy(split)
                spent.append(time.perf_counter() - t0)
    best = min(times, key=lambda split: min(times[split]))
    spent = sorted(times[best])
    # the copy reads n and writes n elements; an update reads 2 + state buffers and writes 1 + state
    scale = ((2 + state) + (1 + state)) / (2 * (2 + state))
    return {"parameters": params, "state_buffers": state, "threads": threads, "fastest_split": best,
            "best_s": spent[0] * scale, "median_s": spent[len(spent) // 2] * scale}


def versions() -> dict:
    from nnlab import _blas

    return {"numpy": np.__version__, "BLAS": _blas.backend()}


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    from nnlab import _blas

    if case.net:
        return _build_conv(case, seed, threads)
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
                h = _blas.matmul(h, W)
                acts.append(h)
            g = acts[-1]  # stands in for dLoss/dOut: same shape and scale
            for j in range(len(Ws) - 1, -1, -1):
                _blas.matmul(acts[j].T, g)
                if j:
                    g = _blas.matmul(g, Ws[j].T)
        return 0.0

    return Runner(run, n, bs, extra=lambda: {"memory_pass": memory_pass(case, threads)})


def _build_conv(case, seed: int, threads: int):
    from nnlab import _blas

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
                g = _blas.matmul(cols, W)  # forward; stands in for the output gradient too
                _blas.matmul(cols.T, g)
                if not first:
                    _blas.matmul(g, W.T)
        return 0.0

    return Runner(run, case.samples, bs, extra=lambda: {"memory_pass": memory_pass(case, threads)})
