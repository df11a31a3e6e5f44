"""Optimizers by name, for configs, the CLI and ``lr_search``: ``get(name, params, **settings)``.

The names are the ones a run config uses; :func:`names` lists them and
:func:`settings` tells which keyword arguments an optimizer takes, so a caller
holding a dict of every setting can hand each optimizer only its own.
"""

from __future__ import annotations

import inspect

from .._checks import check_choice
from ..errors import ConfigError
from ..nn.parameter import is_weight
from .adadelta import Adadelta
from .adam_variants import Adamax, NAdam, RAdam
from .adaptive import Adagrad, Adam, AdamW, RMSProp
from .asgd import ASGD
from .line_search import LineSearch
from .optimizer import Optimizer
from .rprop import Rprop
from .sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
    "adamax": Adamax,
    "nadam": NAdam,
    "radam": RAdam,
    "adadelta": Adadelta,
    "line_search": LineSearch,
    "rprop": Rprop,
    "asgd": ASGD,
}

#: optimizers of nnlab.optim that a name does not build, and why (the error for that name)
NOT_BY_NAME = {
    "lbfgs": "nnlab.optim.LBFGS is not built by name: it takes one parameter group and no weight decay, while a "
             "config builds two (the weights with optimizer.weight_decay, the other parameters without); build "
             "LBFGS(model.parameters()) yourself and pass it to nnlab.fit, which drives its closure",
}


def names(with_setting: str | None = None) -> tuple:
    """The optimizer names :func:`get` accepts; with ``with_setting``, those that take that setting.

    >>> names()
    ('sgd', 'adagrad', 'rmsprop', 'adam', 'adamw', 'adamax', 'nadam', 'radam', 'adadelta', 'line_search', 'rprop', 'asgd')
    >>> names(with_setting="lr")  # LineSearch chooses its own
    ('sgd', 'adagrad', 'rmsprop', 'adam', 'adamw', 'adamax', 'nadam', 'radam', 'adadelta', 'rprop', 'asgd')
    """
    return tuple(name for name in OPTIMIZERS if with_setting is None or with_setting in settings(name))


def _class(name: str) -> type[Optimizer]:
    if isinstance(name, str) and name in NOT_BY_NAME:
        raise ConfigError(f"optimizer {name!r}: {NOT_BY_NAME[name]}")
    return OPTIMIZERS[check_choice("optimizer", name, OPTIMIZERS)]


def settings(name: str) -> tuple:
    """The keyword arguments the optimizer ``name`` takes besides ``params``.

    >>> settings("sgd")
    ('lr', 'momentum', 'nesterov', 'weight_decay')
    """
    return tuple(k for k in inspect.signature(_class(name)).parameters if k != "params")


def get(name: str, params, **kwargs) -> Optimizer:
    """The optimizer called ``name`` over ``params`` (tensors or parameter groups), built with ``kwargs``.

    >>> import nnlab
    >>> get("adam", [nnlab.tensor([1.0], requires_grad=True)], lr=0.01).lr
    0.01
    """
    cls = _class(name)
    unknown = sorted(set(kwargs) - set(settings(name)))
    if unknown:
        raise ConfigError(f"optimizer {name!r}: unknown setting(s) {unknown}; allowed: {', '.join(settings(name))}")
    return cls(params, **kwargs)


def weight_decay_groups(model, weight_decay: float) -> list:
    """Two parameter groups of ``model`` (a Module, or its parameters): its weights with ``weight_decay``,
    every other parameter with none.

    Weights are chosen by the one rule of :func:`nnlab.nn.is_weight`
    (biases, BatchNorm's γ/β and PReLU's α are not decayed); an empty group
    is left out.  Parameters keep the model's order within each group.

    >>> import nnlab
    >>> groups = weight_decay_groups(nnlab.nn.Linear(3, 2), 0.01)
    >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
    [(1, 0.01), (1, 0.0)]
    """
    decay, no_decay = [], []
    for p in (model.parameters() if hasattr(model, "parameters") else model):
        (decay if is_weight(p) else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]
