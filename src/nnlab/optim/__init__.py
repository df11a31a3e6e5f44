"""Optimizers, gradient clipping and learning-rate schedules.

All optimizers share :class:`Optimizer`: parameter groups, one flat buffer per
group for values and gradients (the update is a few vectorized in-place NumPy
calls), the seeds' L2 weight decay, and exact ``state_dict`` round trips.
"""

from . import schedules
from .adaptive import Adagrad, Adam, AdamW, RMSProp
from .clip import clip_grad_norm, clip_grad_value
from .line_search import LineSearch
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSProp",
    "Adam",
    "AdamW",
    "LineSearch",
    "clip_grad_norm",
    "clip_grad_value",
    "schedules",
    "lr_search",
]


def __getattr__(name):
    # lr_search trains models, so it lives with the training loop; imported on first use to avoid a cycle.
    if name == "lr_search":
        from ..train.lr_search import lr_search

        return lr_search
    raise AttributeError(f"module 'nnlab.optim' has no attribute {name!r}")
