"""Weight initializers: callables ``(shape, rng=None, dtype=np.float32) -> ndarray``.

Their one documented home is ``nnlab.nn.init`` (``nnlab.init`` re-exports the
same functions unchanged, nothing more).

PyTorch's in-place forms (``kaiming_normal_(layer.weight)``, ``zeros_``, …) live in
:mod:`nnlab.nn.init_inplace` and are re-exported here.

Fans follow nnlab's weight layout ``(in_features, out_features)``: for a 2-D
shape ``fan_in = shape[0]`` and ``fan_out = shape[1]``; a 1-D shape ``(n,)``
has ``fan_in = fan_out = n``; a higher-rank shape uses ``shape[0]`` and
``shape[-1]`` (middle axes are independent copies).

Random draws are made in float64 and then cast, so a float32 and a float64
model built after the same ``nnlab.seed(n)`` hold the same numbers up to
rounding.  ``rng`` goes through :func:`nnlab.random.get_rng` (None → the global
generator that ``nnlab.seed`` resets).

>>> import numpy as np
>>> from nnlab.nn import init
>>> w = init.get("he_normal")((300, 100), rng=0)
>>> w.dtype, round(float(w.std() * np.sqrt(300 / 2)), 1)
(dtype('float32'), 1.0)
>>> init.get({"name": "constant", "value": 0.01})((2,)).tolist()
[0.009999999776482582, 0.009999999776482582]
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float
from ..errors import ConfigError
from ..random import get_rng
from . import init_inplace as _inplace
from .init_inplace import (  # PyTorch's in-place forms, init.kaiming_normal_(weight) and the rest
    calculate_gain, constant_, eye_, kaiming_normal_, kaiming_uniform_, normal_, ones_, orthogonal_, trunc_normal_,
    uniform_, xavier_normal_, xavier_uniform_, zeros_,
)

__all__ = [
    "zeros",
    "ones",
    "xavier_normal",
    "xavier_uniform",
    "lecun_normal",
    "lecun_uniform",
    "he_normal",
    "he_uniform",
    "constant",
    "normal",
    "uniform",
    "get",
    "to_config",
    "fans",
    "names",
    *_inplace.__all__,
]


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` in nnlab's (in, out) layout."""
    shape = tuple(shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[-1]


def _normal(shape, std, rng, dtype):
    return (get_rng(rng).standard_normal(tuple(shape)) * std).astype(dtype, copy=False)


def _uniform(shape, low, high, rng, dtype):
    return get_rng(rng).uniform(low, high, tuple(shape)).astype(dtype, copy=False)


def zeros(shape, rng=None, dtype=np.float32):
    """All zeros (the usual bias initializer)."""
    return np.zeros(tuple(shape), dtype=dtype)


def ones(shape, rng=None, dtype=np.float32):
    """All ones (BatchNorm's γ)."""
    return np.ones(tuple(shape), dtype=dtype)


def lecun_normal(shape, rng=None, dtype=np.float32):
    """The seeds' rule: a unit Gaussian scaled by 1/√n, n = fan-in (std √(1/fan_in))."""
    return _normal(shape, math.sqrt(1.0 / fans(shape)[0]), rng, dtype)


def lecun_uniform(shape, rng=None, dtype=np.float32):
    """U(−√(3/fan_in), √(3/fan_in)): the same variance 1/fan_in as :func:`lecun_normal`."""
    limit = math.sqrt(3.0 / fans(shape)[0])
    return _uniform(shape, -limit, limit, rng, dtype)


def xavier_normal(shape, rng=None, dtype=np.float32):
    """Glorot normal: std √(2 / (fan_in + fan_out)) (for tanh / sigmoid layers)."""
    fan_in, fan_out = fans(shape)
    return _normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def xavier_uniform(shape, rng=None, dtype=np.float32):
    """Glorot uniform: U(−a, a) with a = √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(shape, -limit, limit, rng, dtype)


def he_normal(shape, rng=None, dtype=np.float32):
    """He (Kaiming) normal for ReLU layers: std √(2/fan_in) (not truncated, as torch.nn.init.kaiming_normal_)."""
    return _normal(shape, math.sqrt(2.0 / fans(shape)[0]), rng, dtype)


def he_uniform(shape, rng=None, dtype=np.float32):
    """He uniform: U(−a, a) with a = √(6/fan_in), variance 2/fan_in."""
    limit = math.sqrt(6.0 / fans(shape)[0])
    return _uniform(shape, -limit, limit, rng, dtype)


class _Factory:
    """An initializer made by a factory; ``config`` is its JSON-able description."""

    def __init__(self, config: dict, fn):
        self.config = config
        self._fn = fn

    def __call__(self, shape, rng=None, dtype=np.float32):
        return self._fn(tuple(shape), rng, dtype)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "name")
        return f"{self.config['name']}({args})"

    def __eq__(self, other):
        return isinstance(other, _Factory) and other.config == self.config

    __hash__ = None


def _number(name, value, factory):
    try:
        return check_float(name, value, owner=f"init.{factory}")
    except ConfigError:  # check_float's rule in init's words (tests/test_init.py pins them)
        raise ConfigError(f"init.{factory}: {name} must be a number (finite: not inf or nan), got {value!r}") from None


def constant(value):
    """Every element equal to ``value``; e.g. the seeds' ReLU bias ``constant(0.01)``."""
    value = _number("value", value, "constant")
    return _Factory({"name": "constant", "value": value}, lambda s, rng, dtype: np.full(s, value, dtype=dtype))


def normal(std=1.0, mean=0.0):
    """Gaussian 𝒩(mean, std²)."""
    std, mean = _number("std", std, "normal"), _number("mean", mean, "normal")
    if std < 0:
        raise ConfigError(f"init.normal: std must be >= 0, got {std}")
    return _Factory(
        {"name": "normal", "std": std, "mean": mean},
        lambda s, rng, dtype: (get_rng(rng).standard_normal(s) * std + mean).astype(dtype, copy=False),
    )


def uniform(low=-1.0, high=1.0):
    """Uniform on [low, high)."""
    low, high = _number("low", low, "uniform"), _number("high", high, "uniform")
    if low > high:
        raise ConfigError(f"init.uniform: low ({low}) must not exceed high ({high})")
    return _Factory({"name": "uniform", "low": low, "high": high}, lambda s, rng, dtype: _uniform(s, low, high, rng, dtype))


_NAMED = {
    f.__name__: f
    for f in (zeros, ones, xavier_normal, xavier_uniform, lecun_normal, lecun_uniform, he_normal, he_uniform)
}
_FACTORIES = {"constant": constant, "normal": normal, "uniform": uniform}


def names() -> list[str]:
    """Names :func:`get` accepts (factories need a dict with their arguments)."""
    return sorted([*_NAMED, *_FACTORIES])


def get(init):
    """An initializer from a name, a config dict, or a callable (returned as it is).

    A dict names a factory and its arguments: ``{"name": "constant", "value": 0.01}``.
    """
    if callable(init):
        return init
    if isinstance(init, str):
        if init in _NAMED:
            return _NAMED[init]
        if init in _FACTORIES:
            raise ConfigError(
                f"initializer {init!r} needs arguments: pass a dict such as "
                f"{{'name': {init!r}, ...}} or call nnlab.nn.init.{init}(...)"
            )
        raise ConfigError(f"unknown initializer {init!r}; choose one of {', '.join(names())}")
    if isinstance(init, dict):
        args = dict(init)
        name = args.pop("name", None)
        if name in _NAMED and not args:
            return _NAMED[name]
        if name not in _FACTORIES:
            raise ConfigError(f"unknown initializer {name!r}; choose one of {', '.join(names())}")
        try:
            return _FACTORIES[name](**args)
        except TypeError as exc:
            raise ConfigError(f"initializer {name!r}: bad arguments {args!r} ({exc})") from None
    raise ConfigError(f"an initializer must be a name, a dict or a callable, got {type(init).__name__}")


def to_config(init):
    """The JSON-able description of an initializer (a name or a dict), or None for a custom callable."""
    if isinstance(init, str):
        return init
    if isinstance(init, dict):
        init = get(init)
    if isinstance(init, _Factory):
        return dict(init.config)
    for name, fn in _NAMED.items():
        if fn is init:
            return name
    return None
