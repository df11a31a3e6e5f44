"""What layers share: a parameter drawn from an initializer, an initializer as a spec stores it, checked inputs.

Inputs are row-major batches, features on the last axis: ``(N, features)``.
Layers with parameters take ``dtype`` (float32 by default; float64 for
gradient checks, or convert a built model with ``model.double()``) and draw
their initial values from ``rng`` (a Generator, an int seed, or None for the
global generator that ``nnlab.seed`` resets).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..tensor import Tensor, as_tensor
from . import init as _init
from .parameter import Parameter


def make_parameter(layer: str, name: str, initializer, shape, rng, dtype) -> Parameter:
    """Draw ``shape`` from an initializer given by name, config dict or callable."""
    try:
        fn = _init.get(initializer)
    except ConfigError as exc:
        raise ConfigError(f"{layer}: {name}: {exc}") from None
    values = np.asarray(fn(shape, rng=rng, dtype=dtype))
    if values.shape != tuple(shape):
        raise ConfigError(f"{layer}: {name} initializer returned shape {values.shape}, expected {tuple(shape)}")
    return Parameter(values, dtype=dtype)


def init_config(layer: str, name: str, initializer):
    """What a spec stores for an initializer; a custom callable cannot be stored."""
    config = _init.to_config(initializer)
    if config is None:
        import warnings

        warnings.warn(
            f"{layer}: {name} is a custom callable that a spec cannot store; the spec records the default "
            "(the trained values travel in the state dict)",
            stacklevel=3,
        )
    return config


def as_input(x, like: Tensor | None) -> Tensor:
    """``x`` as a Tensor (of ``like``'s dtype when it is converted from an array)."""
    return x if isinstance(x, Tensor) else as_tensor(x, like=like)


def features_input(x, like: Tensor, layer: str, features: int) -> Tensor:
    """``x`` as a Tensor of ``like``'s dtype, with ``features`` on its last axis."""
    if not isinstance(x, Tensor):
        x = as_tensor(x, like=like)
    if x.data.shape[-1:] != (features,):
        check_features(layer, x.data.shape, features)
    return x


def check_features(layer: str, shape, expected: int) -> None:
    """Refuse a shape without ``expected`` features on its last axis, naming the layer and the shape."""
    if not shape or shape[-1] != expected:
        raise ConfigError(f"{layer} expects {expected} features on the last axis, got input shape {tuple(shape)}")

