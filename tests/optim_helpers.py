"""A small two-layer regression problem and one factory per optimizer, shared by the optimizer tests."""

import numpy as np

import nnlab
from nnlab.functional import tanh
from nnlab.optim import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSProp

SHAPES = [(4, 6), (6,), (6, 2), (2,)]


def make_params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [nnlab.tensor(rng.standard_normal(s) * 0.5, requires_grad=True, dtype=dtype) for s in SHAPES]


_data_rng = np.random.default_rng(7)
X = _data_rng.standard_normal((32, 4))
Y = _data_rng.standard_normal((32, 2))


def loss_of(params, t=0):
    W1, b1, W2, b2 = params[:4]
    rows = slice(8 * (t % 4), 8 * (t % 4) + 8)
    dtype = W1.dtype
    out = tanh(nnlab.tensor(X[rows], dtype=dtype) @ W1 + b1) @ W2 + b2
    return ((out - nnlab.tensor(Y[rows], dtype=dtype)) ** 2).mean()


def train(opt, params, steps, start=0, none_grads=False):
    for t in range(start, start + steps):
        if none_grads:
            for p in params:
                p.grad = None  # what Module.zero_grad does
        else:
            opt.zero_grad()
        loss_of(params, t).backward()
        opt.step()
    return [p.data.copy() for p in params]


FACTORIES = {
    "sgd": lambda p: SGD(p, lr=0.1),
    "momentum": lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda p: Adagrad(p, lr=0.05, eps=1e-3),
    "rmsprop": lambda p: RMSProp(p, lr=0.01, weight_decay=1e-2),
    "adam": lambda p: Adam(p, lr=0.01),
    "adamw": lambda p: AdamW(p, lr=0.01, weight_decay=0.1),
    "adam_amsgrad": lambda p: Adam(p, lr=0.01, weight_decay=0.01, amsgrad=True),
    "adamax": lambda p: Adamax(p, lr=0.01, weight_decay=0.01),
    "nadam": lambda p: NAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.1),
    "radam": lambda p: RAdam(p, lr=0.01, betas=(0.9, 0.9), weight_decay=0.01),
    "adadelta": lambda p: Adadelta(p, rho=0.8, weight_decay=0.01),
    "adam_groups": lambda p: Adam([{"params": p[::2], "lr": 0.02}, {"params": p[1::2], "weight_decay": 0.1}],
                                  lr=0.01),
}


def lives_in(view, buf) -> bool:
    """Whether the contiguous array ``view`` lies inside the 1-D buffer ``buf`` (an optimizer's flat buffer)."""
    start, size = view.__array_interface__["data"][0], view.nbytes
    origin = buf.__array_interface__["data"][0]
    return view.flags.c_contiguous and origin <= start and start + size <= origin + buf.nbytes
