"""The class forms of the losses and their one registry: ``Loss``, ``register``, ``get``, ``names``.

A class form binds a loss function's settings (``HuberLoss(delta=0.5)``) and is
called as ``loss(output, target)``; ``config`` describes it as data, and
:func:`get` builds one back from its registry name or class name.
"""

from __future__ import annotations

from ..errors import ConfigError
from ._common import REDUCTIONS, check_reduction

_REGISTRY: dict[str, type] = {}


class Loss:
    """A loss with its settings bound: ``loss(output, target)``; ``config`` describes it as data."""

    name = ""  # the registry name, set by @register
    _fn = None
    reductions = REDUCTIONS
    class_targets = False  # True: targets may be class indices; else they have the prediction's shape

    def __init__(self, reduction="mean"):
        check_reduction(reduction, type(self).__name__, self.reductions)
        self.reduction = reduction
        self._settings = {}

    def __call__(self, output, target):
        return type(self)._fn(output, target, reduction=self.reduction, **self._settings)

    @property
    def config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, **self._settings}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "name")
        return f"{type(self).__name__}({args})"


class MultiInputLoss(Loss):
    """A loss of more inputs than (output, target) -- two scores and a label, a triplet, a mean with its variance.

    Called with all of its inputs, as its function (``TripletMarginLoss()(anchor, positive, negative)``).
    Not in the registry: :func:`get` and ``fit`` take losses of (output, target), so ``config`` has no name.
    """

    def __call__(self, *inputs):
        return type(self)._fn(*inputs, reduction=self.reduction, **self._settings)

    @property
    def config(self) -> dict:
        return {"reduction": self.reduction, **self._settings}


def register(name: str, fn):
    """Class decorator: the class computes ``fn`` and is known to :func:`get` as ``name`` and by its class name."""

    def decorate(cls):
        if name in _REGISTRY:
            raise ValueError(f"loss name {name!r} is registered twice")
        cls.name = name
        cls._fn = staticmethod(fn)
        _REGISTRY[name] = cls
        return cls

    return decorate


def registered(loss):
    """``(Loss class, settings, reduction)`` of an nnlab loss -- a Loss object or a registered function -- else None.

    What ``fit`` needs to recompute a loss per sample (``reduction="none"``) and to
    know whether its targets may be class indices.

    >>> from nnlab.losses import mse_loss
    >>> registered(mse_loss)[0].__name__, registered(get("huber", delta=0.5))[1:]
    ('MSELoss', ({'delta': 0.5}, 'mean'))
    """
    if isinstance(loss, Loss):
        return None if isinstance(loss, MultiInputLoss) else (type(loss), dict(loss._settings), loss.reduction)
    for cls in _REGISTRY.values():
        if cls._fn is loss:
            return cls, {}, "mean"
    return None


def names() -> tuple[str, ...]:
    """The registry names, sorted.

    >>> names()[:3]
    ('bce', 'bce_with_logits', 'cross_entropy')
    """
    return tuple(sorted(_REGISTRY))


def get(name, **settings) -> Loss:
    """A loss object by name (``"cross_entropy"``, ``"mse"``, …, or a class name such as ``"MSELoss"``).

    >>> get("huber", delta=0.5)
    HuberLoss(reduction='mean', delta=0.5)
    """
    if isinstance(name, Loss):
        return name
    by_class = {cls.__name__: cls for cls in _REGISTRY.values()}
    cls = _REGISTRY.get(name) or by_class.get(name)
    if cls is None:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(names())}")
    try:
        return cls(**settings)
    except TypeError as exc:
        raise ConfigError(f"loss {name!r}: bad settings {settings!r} ({exc})") from None
