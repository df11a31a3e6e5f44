"""Optimizers, gradient clipping and learning-rate schedules (pure functions, and PyTorch's ``lr_scheduler``).

All optimizers share :class:`Optimizer`: parameter groups, one flat buffer per
group for values and gradients (the update is a few vectorized in-place NumPy
calls), the seeds' L2 weight decay, and exact ``state_dict`` round trips.
``get(name, params, **settings)`` builds one by the name a config uses.

``optim`` does not import the training package: ``nnlab.optim.lr_search`` is
an alias of :func:`nnlab.train.lr_search`, resolved on first use.
"""

from . import lr_scheduler, schedules
from .adadelta import Adadelta
from .adam_variants import Adamax, NAdam, RAdam
from .adaptive import Adagrad, Adam, AdamW, RMSProp
from .asgd import ASGD
from .clip import clip_grad_norm, clip_grad_value
from .lbfgs import LBFGS
from .line_search import LineSearch
from .optimizer import Optimizer
from .registry import get, names, settings, weight_decay_groups
from .rmsprop_torch import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSProp",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "Adadelta",
    "RMSprop",
    "Rprop",
    "ASGD",
    "LBFGS",
    "LineSearch",
    "get",
    "names",
    "settings",
    "weight_decay_groups",
    "clip_grad_norm",
    "clip_grad_value",
    "schedules",
    "lr_scheduler",
    "lr_search",
]


def __getattr__(name):
    # lr_search trains models, so it lives with the training loop, which imports optim; the alias resolves late.
    if name == "lr_search":
        from ..train.lr_search import lr_search

        return lr_search
    raise AttributeError(f"module 'nnlab.optim' has no attribute {name!r}")
