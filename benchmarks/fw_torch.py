"""PyTorch CPU side: nn.Sequential, F.cross_entropy, torch.optim.Adam, data as tensors."""

from __future__ import annotations

import numpy as np

from .cases import conv_net
from .runner import Runner


def versions() -> dict:
    import torch

    return {"torch": torch.__version__}


def blas() -> str:
    """What PyTorch computes its matrix products with (its build configuration)."""
    import re

    import torch

    config = torch.__config__.show()
    parts = re.findall(r"\b(BLAS_INFO=\w+|USE_MKLDNN=\w+)", config)
    dnn = [line.strip(" -") for line in config.splitlines() if "oneDNN" in line or "MKL-DNN" in line]
    return ", ".join(parts + dnn[:1])


def build_model(case):
    """The case's MLP as ``nn.Sequential`` (Linear [+ BatchNorm1d] + ReLU per hidden layer), in training mode."""
    from torch import nn

    if case.net:
        return conv_net(case, nn).train()
    layers = []
    for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(case.sizes) - 2:  # hidden layer
            if case.batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.ReLU())
            if case.dropout:
                layers.append(nn.Dropout(case.dropout))
    return nn.Sequential(*layers).train()


def make_optimizer(case, params):
    """The case's optimizer, as ``fw_nnlab.make_optimizer``: Adam lr 1e-3, or SGD lr 0.01 with momentum 0.9."""
    import torch

    return torch.optim.Adam(params, lr=1e-3) if case.optimizer == "adam" else torch.optim.SGD(params, lr=0.01, momentum=0.9)


def build(case, X: np.ndarray, y: np.ndarray, seed: int, threads: int):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = build_model(case)
    opt = make_optimizer(case, model.parameters())
    X_t = torch.from_numpy(X)  # shares the array: the data are pre-made tensors
    y_t = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed + 1)
    n, bs = len(X), case.batch_size

    def run(stop):
        perm = torch.randperm(n, generator=gen)[:stop]
        loss = None
        for i in range(0, len(perm), bs):
            idx = perm[i : i + bs]
            xb, yb = X_t[idx], y_t[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return Runner(run, n, bs, info={"threads": torch.get_num_threads()})

