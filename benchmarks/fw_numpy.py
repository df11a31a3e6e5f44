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
and the state once.  It is timed as that pass itself, in place, over flat
float32 buffers of the update's sizes (a numba loop, ``benchmarks/memory_kernels.py``),
each time right after one step's GEMMs, so it meets the caches and the BLAS
threads an update meets in training.  The pass is also split among the run's
threads, as nnlab's optimizer splits a large update, and the faster way counts:
a one-thread pass is no floor for a two-thread update.  Without numba it is a
``np.copyto`` between two buffers as large as parameters, gradients and state
together, scaled by the bytes an update moves (the method before 2026-12-02
17:07 UTC, which ``checks`` no longer takes as a bound: see BENCHMARKS.md).
"""

from __future__ import annotations

import time

import numpy as np

from .runner import Runner


#: elements per buffer in one block of the threaded memory pass (nnlab's optimizer walks 512 KiB blocks)
BLOCK_ELEMENTS = (512 << 10) // 4


def parameter_count(case) -> int:
    """Weights and biases of the case (BatchNorm's γ and β included)."""
    if case.net:
        from .cases import gemm_shapes

        return sum(k * n + n for _, k, n, _ in gemm_shapes(case))
    hidden = sum(case.sizes[1:-1])
    return sum(a * b + b for a, b in zip(case.sizes[:-1], case.sizes[1:])) + (2 * hidden if case.batchnorm else 0)


def memory_pass(case, threads: int = 1, reps: int = 30, step=None, flat=None) -> dict:
    """Best and median seconds of one optimizer step's memory floor (see the module docstring).

    ``step()`` runs one training step's GEMMs before each timed pass (untimed); ``flat`` is
    its ``(parameters, gradients)`` pair of flat buffers (:func:`_flat_buffers`), which the
    pass updates as an optimizer would (parameters left unchanged: ``p + 0·s``).  The pass is
    timed on one thread and split among ``threads``, alternately, and the faster way is the
    floor: handing a small buffer to a pool costs more than the pass.
    """
    from concurrent.futures import ThreadPoolExecutor

    from . import memory_kernels

    params, state = parameter_count(case), case.state_buffers
    rng = np.random.default_rng(0)
    # small values: the passes add into these buffers every repetition and must stay finite and normal
    buffers = list(flat or [rng.uniform(0.5, 1.0, params).astype(np.float32) for _ in range(2)])
    buffers += [rng.uniform(0.5, 1.0, params).astype(np.float32) for _ in range(state)]
    one_pass = memory_kernels.update_pass(state)
    if one_pass is None:  # numba is not installed: the old copy, scaled
        return _copy_pass(params, state, threads, reps)
    # Blocks shared out at run time, as nnlab's optimizer does (optim/_threads.py): a static
    # split waits for the slower thread whenever a BLAS thread still spins on one core.
    cuts = list(range(0, params, BLOCK_ELEMENTS)) + [params]
    blocks = [[b[a:z] for b in buffers] for a, z in zip(cuts[:-1], cuts[1:])]
    with ThreadPoolExecutor(max_workers=threads - 1 or 1) as pool:
        def worker(next_block):
            for k in iter(next_block, None):
                one_pass(*blocks[k])

        def run(split):
            if split == 1:
                one_pass(*buffers)
                return
            order = iter(range(len(blocks)))
            take = lambda: next(order, None)  # noqa: E731 (next() on one iterator is atomic under the GIL)
            helpers = [pool.submit(worker, take) for _ in range(split - 1)]
            worker(take)
            for h in helpers:
                h.result()

        times = {1: [], threads: []}
        for split in times:
            run(split)  # compilation, page faults and thread start-up out of the timing
        for _ in range(reps):
            for split, spent in times.items():
                if step is not None:
                    step()
                t0 = time.perf_counter()
                run(split)
                spent.append(time.perf_counter() - t0)
    return _result(params, state, threads, times, "in-place pass after the step's GEMMs", 1.0)


def _copy_pass(params: int, state: int, threads: int, reps: int) -> dict:
    from concurrent.futures import ThreadPoolExecutor

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
            copy(split)
        for _ in range(reps):
            for split, spent in times.items():
                t0 = time.perf_counter()
                copy(split)
                spent.append(time.perf_counter() - t0)
    # the copy reads n and writes n elements; an update reads 2 + state buffers and writes 1 + state
    return _result(params, state, threads, times, "copy", ((2 + state) + (1 + state)) / (2 * (2 + state)))


def _result(params: int, state: int, threads: int, times: dict, method: str, scale: float) -> dict:
    best = min(times, key=lambda split: min(times[split]))
    spent = sorted(times[best])
    return {"parameters": params, "state_buffers": state, "threads": threads, "fastest_split": best,
            "method": method, "best_s": spent[0] * scale, "median_s": spent[len(spent) // 2] * scale,
            "max_s": spent[-1] * scale}


def _flat_buffers(shapes, size: int):
    """One flat float32 buffer of ``size`` parameters and one of their gradients, as nnlab keeps
    them, with a matrix view of each into both (the weights; biases and BatchNorm fill the rest)."""
    params, grads = np.zeros(size, np.float32), np.zeros(size, np.float32)
    weights, dweights, at = [], [], 0
    for k, n in shapes:
        weights.append(params[at : at + k * n].reshape(k, n))
        dweights.append(grads[at : at + k * n].reshape(k, n))
        at += k * n
    return (params, grads), weights, dweights


def versions() -> dict:
    from nnlab import _blas

    return {"numpy": np.__version__, "BLAS": _blas.backend()}


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    from nnlab import _blas

    if case.net:
        return _build_conv(case, seed, threads)
    rng = np.random.default_rng(seed + 2)
    flat, Ws, dWs = _flat_buffers(list(zip(case.sizes[:-1], case.sizes[1:])), parameter_count(case))
    for W in Ws:  # scaled so activations keep unit variance: no overflow, no denormals
        W[...] = rng.standard_normal(W.shape, dtype=np.float32) / np.float32(np.sqrt(W.shape[0]))
    perm_rng = np.random.default_rng(seed + 1)
    n, bs = len(X), case.batch_size

    def one_step(rows):
        h = X[rows]
        acts = [h]
        for W in Ws:
            h = _blas.matmul(h, W)
            acts.append(h)
        g = acts[-1]  # stands in for dLoss/dOut: same shape and scale
        for j in range(len(Ws) - 1, -1, -1):
            _blas.matmul(acts[j].T, g, out=dWs[j])  # into the gradient buffer, as nnlab writes .grad
            if j:
                g = _blas.matmul(g, Ws[j].T)

    def run(stop):
        perm = perm_rng.permutation(n)[:stop]
        for i in range(0, len(perm), bs):
            one_step(perm[i : i + bs])
        return 0.0

    first_batch = np.arange(min(bs, n))
    return Runner(run, n, bs, extra=lambda: {
        "memory_pass": memory_pass(case, threads, step=lambda: one_step(first_batch), flat=flat)})


def _build_conv(case, seed: int, threads: int):
    from nnlab import _blas

    from .cases import gemm_shapes

    rng = np.random.default_rng(seed + 2)
    bs = case.batch_size
    shapes = gemm_shapes(case)
    flat, Ws, dWs = _flat_buffers([(k, n) for _, k, n, _ in shapes], parameter_count(case))
    layers = []
    for (positions, k, n, first), W, dW in zip(shapes, Ws, dWs):
        cols = rng.standard_normal((bs * positions, k), dtype=np.float32)
        W[...] = rng.standard_normal((k, n), dtype=np.float32) / np.float32(np.sqrt(k))
        layers.append((cols, W, dW, first))
    steps = -(-case.samples // bs)

    def one_step():
        for cols, W, dW, first in layers:
            g = _blas.matmul(cols, W)  # forward; stands in for the output gradient too
            _blas.matmul(cols.T, g, out=dW)
            if not first:
                _blas.matmul(g, W.T)

    def run(stop):
        for _ in range(min(steps, -(-stop // bs))):
            one_step()
        return 0.0

    return Runner(run, case.samples, bs, extra=lambda: {"memory_pass": memory_pass(case, threads, step=one_step, flat=flat)})
