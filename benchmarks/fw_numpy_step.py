"""A minimal hand-written NumPy training step of an MLP case: what any NumPy framework must at least do.

Issue 17 asks for nnlab's time per step beyond its GEMM floor to be at most half
the floor.  On a case whose GEMMs are tiny (small: 64→64→10, batch 32) the floor
is a few dozen µs, and each further NumPy call costs about a microsecond of
interpreter and ufunc dispatch whatever its size.  This module writes the step by
hand with no framework at all — no graph, no modules, no checks, every buffer
allocated once and reused, Adam in place over one flat buffer — so its overhead
beyond the same GEMM floor is the least a NumPy framework can reach:

- forward: ``z = h @ W`` (into a kept buffer), ``z += b``, ReLU in place;
- loss: the softmax cross-entropy and its gradient in place over the logits;
- backward: ``dW = h.T @ g`` and ``db = ones @ g`` straight into the flat gradient
  buffer, ``g @ W.T`` and the ReLU mask for every layer but the first;
- Adam (lr 1e-3, PyTorch's defaults) over the flat buffers in 13 in-place calls.

Run it as a framework of the harness (``--frameworks numpy-step``) or with
``python -m benchmarks.cpu_step numpy-step small``.  MLP cases without
BatchNorm or dropout only; SGD + momentum cases use momentum in 4 calls.
"""

from __future__ import annotations

import numpy as np

from .runner import Runner


def versions() -> dict:
    return {"numpy": np.__version__}


def supports(case) -> bool:
    return not (case.net or case.batchnorm or case.dropout)


def make_step(case, seed: int):
    """``(train_step, weights, biases)``: ``train_step(xb, yb)`` trains one batch in place and returns its loss.

    The matrix products go where nnlab's go (``nnlab._blas.matmul``), so the step and the floor share a BLAS.
    """
    from nnlab import _blas
    if not supports(case):
        raise ValueError(f"the hand-written NumPy step covers plain MLP cases, not {case.name}")
    f32 = np.float32
    shapes = [(a, b) for a, b in zip(case.sizes[:-1], case.sizes[1:])]
    total = sum(a * b + b for a, b in shapes)
    flat_w, flat_g = np.empty(total, f32), np.empty(total, f32)
    m, v, tmp = np.zeros(total, f32), np.zeros(total, f32), np.empty(total, f32)
    rng = np.random.default_rng(seed + 2)
    Ws, bs_, gWs, gbs, offset = [], [], [], [], 0
    for a, b in shapes:
        for store, grads, shape in ((Ws, gWs, (a, b)), (bs_, gbs, (b,))):
            size = int(np.prod(shape))
            store.append(flat_w[offset : offset + size].reshape(shape))
            grads.append(flat_g[offset : offset + size].reshape(shape))
            offset += size
        Ws[-1][...] = rng.uniform(-1, 1, (a, b)).astype(f32) / f32(np.sqrt(a))
        bs_[-1][...] = 0
    acts = {}  # batch size -> the kept activation buffers of every layer
    ones = {}
    b1, b2, eps, lr = f32(0.9), f32(0.999), f32(1e-8), 1e-3
    step = [0]
    adam = case.optimizer == "adam"

    def train_step(xb, yb):
        k = len(xb)
        if k not in acts:
            acts[k] = [np.empty((k, b), f32) for _, b in shapes]
            ones[k] = np.ones(k, f32)
        zs, one = acts[k], ones[k]
        h = xb
        for j, (W, b) in enumerate(zip(Ws, bs_)):
            z = _blas.matmul(h, W, out=zs[j])
            z += b
            if j < len(Ws) - 1:
                np.maximum(z, 0, out=z)
            h = z
        rows = np.arange(k)
        z -= z.max(axis=1, keepdims=True)  # softmax cross-entropy, its gradient over the logits
        np.exp(z, out=z)
        s = z.sum(axis=1)
        loss = float(np.log(s).sum() - np.log(z[rows, yb]).sum()) / k
        z /= s[:, None]
        z[rows, yb] -= 1
        z *= f32(1.0 / k)
        g = z
        for j in range(len(Ws) - 1, -1, -1):
            _blas.matmul((zs[j - 1] if j else xb).T, g, out=gWs[j])
            np.matmul(one, g, out=gbs[j])
            if j:
                g = _blas.matmul(g, Ws[j].T)
                g *= zs[j - 1] > 0
        step[0] += 1
        if adam:  # 13 in-place calls (``out=``: the closure rebinds no name)
            t = step[0]
            np.multiply(m, b1, out=m)
            np.multiply(flat_g, f32(1 - b1), out=tmp)
            np.add(m, tmp, out=m)
            np.multiply(v, b2, out=v)
            np.multiply(flat_g, flat_g, out=tmp)
            np.multiply(tmp, f32(1 - b2), out=tmp)
            np.add(v, tmp, out=v)
            np.sqrt(v, out=tmp)
            np.multiply(tmp, f32(1 / np.sqrt(1 - 0.999**t)), out=tmp)
            np.add(tmp, eps, out=tmp)
            np.divide(m, tmp, out=tmp)
            np.multiply(tmp, f32(lr / (1 - 0.9**t)), out=tmp)
            np.subtract(flat_w, tmp, out=flat_w)
        else:  # SGD lr 0.01, momentum 0.9: u = 0.9u + g, w -= 0.01u
            np.multiply(m, f32(0.9), out=m)
            np.add(m, flat_g, out=m)
            np.multiply(m, f32(0.01), out=tmp)
            np.subtract(flat_w, tmp, out=flat_w)
        return loss

    return train_step, Ws, bs_


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    train_step = make_step(case, seed)[0]
    perm_rng = np.random.default_rng(seed + 1)
    n, bs = len(X), case.batch_size

    def run(stop):
        perm = perm_rng.permutation(n)[:stop]
        loss = 0.0
        for i in range(0, len(perm), bs):
            idx = perm[i : i + bs]
            loss = train_step(X[idx], y[idx])
        return loss

    return Runner(run, n, bs)
