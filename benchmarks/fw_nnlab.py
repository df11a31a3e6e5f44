"""nnlab side, written against the team contract (nnlab.nn, nnlab.losses, nnlab.optim, nnlab.train).

Two variants: the plain loop a user writes by hand, and ``nnlab.train.fit`` for
one epoch, so the training loop's own overhead is visible.
"""

from __future__ import annotations

import numpy as np

from .cases import conv_net
from .runner import Runner


def setup() -> None:
    """Process-wide settings, before any model is built: the allocator tuning ``fit`` applies (nnlab/_malloc.py).

    ``import nnlab`` no longer tunes glibc's malloc, so the plain loop asks for it
    here, as ``fit`` does when it starts; ``NNLAB_MALLOC_TUNING=0`` still switches it off.
    """
    from nnlab._malloc import tune_allocator_once

    tune_allocator_once()


def versions() -> dict:
    import nnlab
    from nnlab import _blas

    return {"nnlab": nnlab.__version__, "nnlab BLAS": _blas.describe()}


def build_model(case):
    """The case's MLP as an nnlab ``Sequential`` (Linear [+ BatchNorm] + ReLU per hidden layer)."""
    from nnlab import nn

    if case.net:
        model = conv_net(case, nn)  # default initialization, as every framework uses its own
        model.train()
        return model
    layers = []
    for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(case.sizes) - 2:
            if case.batchnorm:
                layers.append(nn.BatchNorm(b))
            layers.append(nn.ReLU())
            if case.dropout:
                layers.append(nn.Dropout(rate=case.dropout))  # PyTorch's meaning: the drop probability
    model = nn.Sequential(*layers)
    model.train()
    return model


def make_optimizer(case, params):
    """The case's optimizer: Adam lr 1e-3, or SGD lr 0.01 with momentum 0.9 (the seeds' momentum, same as PyTorch's at constant lr)."""
    from nnlab.optim import SGD, Adam

    return Adam(params, lr=1e-3) if case.optimizer == "adam" else SGD(params, lr=0.01, momentum=0.9)


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    """Plain loop: ``out = model(xb); loss = cross_entropy(out, yb); opt.zero_grad(); loss.backward(); opt.step()``."""
    import nnlab
    from nnlab.losses import cross_entropy

    nnlab.seed(seed)
    model = build_model(case)
    opt = make_optimizer(case, model.parameters())
    rng = np.random.default_rng(seed + 1)
    n, bs = len(X), case.batch_size

    def run(stop):
        perm = rng.permutation(n)[:stop]
        loss = None
        for i in range(0, len(perm), bs):
            idx = perm[i : i + bs]
            xb, yb = X[idx], y[idx]
            out = model(xb)  # layers take ndarrays: no copy into a Tensor
            loss = cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.item())

    return Runner(run, n, bs, info=_dtype_info(model))


def build_fit(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    """``nnlab.train.fit(model, cross_entropy, Adam, (X, y), epochs=1, batch_size, metrics=(), verbose=0)``."""
    import nnlab
    from nnlab.losses import cross_entropy
    from nnlab.train import fit

    nnlab.seed(seed)
    model = build_model(case)
    opt = make_optimizer(case, model.parameters())
    n, bs = len(X), case.batch_size
    calls = [0]

    def run(stop):
        calls[0] += 1
        data = (X, y) if stop >= n else (X[:stop], y[:stop])
        # metrics=(): the plain loop computes no accuracy either; verbose=0: no progress
        # output; a new seed per call reshuffles.
        history = fit(model, cross_entropy, opt, data, epochs=1, batch_size=bs, metrics=(), seed=seed + calls[0], verbose=0)
        return _last_loss(history)

    return Runner(run, n, bs, info=_dtype_info(model))


def _last_loss(history) -> float:
    logs = getattr(history, "history", history)
    try:
        return float(logs["loss"][-1])
    except (KeyError, TypeError, IndexError):
        return float("nan")


def _dtype_info(model) -> dict:
    return {"param_dtypes": lambda: sorted({str(p.data.dtype) for p in model.parameters()})}
