"""PyTorch's in-place initializers (``init.kaiming_normal_(m.weight)``, ``init.zeros_(m.bias)``, ...).

They fill a tensor or Parameter in place and return it, as ``torch.nn.init`` does,
with PyTorch's formulas and defaults (``kaiming_*_`` default to ``a=0,
mode="fan_in", nonlinearity="leaky_relu"``, a gain of √2).  Fans follow nnlab's
layouts: a 2-D weight is a Linear's (in_features, out_features), so
``fan_in = shape[0]`` (PyTorch's Linear weight is (out, in) and reads
``shape[1]``: the same number for the same layer); a weight of 3 or more axes is
a convolution's (out, in/groups, k…), read as PyTorch reads it.  ``generator``
is a ``numpy.random.Generator`` or an int seed (None: nnlab's global generator,
set by ``nnlab.seed``); draws are made in float64 and cast to the tensor's dtype.

>>> import nnlab
>>> layer = nnlab.nn.Linear(300, 100, rng=0)
>>> w = kaiming_normal_(layer.weight, nonlinearity="relu", generator=0)
>>> w is layer.weight, round(float(w.data.std() * (300 / 2) ** 0.5), 1)
(True, 1.0)
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_choice
from ..errors import ConfigError
from ..random import get_rng

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
]

_LINEAR_GAIN = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """PyTorch's recommended gain for ``nonlinearity`` (``param``: leaky_relu's negative slope, default 0.01)."""
    choices = (*_LINEAR_GAIN, "tanh", "relu", "leaky_relu", "selu")
    check_choice("nonlinearity", nonlinearity, choices, owner="init.calculate_gain")
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    slope = 0.01 if param is None else param
    if isinstance(slope, bool) or not isinstance(slope, int | float) or not math.isfinite(slope):
        raise ConfigError(f"init.calculate_gain: the negative slope must be a finite number, got {param!r}")
    return math.sqrt(2.0 / (1 + slope ** 2))


def _array(tensor, owner: str) -> np.ndarray:
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)  # an ndarray's .data is a buffer
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        raise ConfigError(f"init.{owner}: expected a floating-point tensor, Parameter or array, "
                          f"got {type(tensor).__name__}"
                          + (f" of dtype {data.dtype}" if isinstance(data, np.ndarray) else ""))
    return data


def _fill(tensor, values, owner: str):
    data = _array(tensor, owner)
    data[...] = values  # in place: a Parameter's array may be a view into the optimizer's flat buffer
    return tensor


def _fans(tensor, owner: str) -> tuple[int, int]:
    shape = _array(tensor, owner).shape
    if len(shape) < 2:
        raise ConfigError(f"init.{owner}: fan in and fan out need a tensor of 2 or more axes, got shape {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]  # nnlab's Linear layout (in, out)
    taps = math.prod(shape[2:])
    return shape[1] * taps, shape[0] * taps  # a convolution's (out, in/groups, k…)


def _mode_fan(tensor, mode: str, owner: str) -> int:
    check_choice("mode", mode, ("fan_in", "fan_out"), owner=f"init.{owner}")
    fan_in, fan_out = _fans(tensor, owner)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """U(a, b) in place."""
    return _fill(tensor, get_rng(generator).uniform(a, b, _array(tensor, "uniform_").shape), "uniform_")


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """𝒩(mean, std²) in place."""
    shape = _array(tensor, "normal_").shape
    return _fill(tensor, get_rng(generator).standard_normal(shape) * std + mean, "normal_")


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """𝒩(mean, std²) redrawn until inside [a, b] (absolute bounds, as PyTorch's)."""
    if not a < b:
        raise ConfigError(f"init.trunc_normal_: a ({a}) must be below b ({b})")
    rng, shape = get_rng(generator), _array(tensor, "trunc_normal_").shape
    values = rng.standard_normal(shape) * std + mean
    while (outside := (values < a) | (values > b)).any():
        values[outside] = rng.standard_normal(int(outside.sum())) * std + mean
    return _fill(tensor, values, "trunc_normal_")


def constant_(tensor, val):
    return _fill(tensor, val, "constant_")


def ones_(tensor):
    return _fill(tensor, 1.0, "ones_")


def zeros_(tensor):
    return _fill(tensor, 0.0, "zeros_")


def eye_(tensor):
    """The identity matrix of a 2-D tensor's shape."""
    shape = _array(tensor, "eye_").shape
    if len(shape) != 2:
        raise ConfigError(f"init.eye_: needs a 2-D tensor, got shape {shape}")
    return _fill(tensor, np.eye(*shape), "eye_")


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(−a, a), a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: std gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(−b, b), b = gain·√(3 / fan) (PyTorch's Linear and Conv use a = √5)."""
    fan = _mode_fan(tensor, mode, "kaiming_uniform_")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: std gain / √fan."""
    fan = _mode_fan(tensor, mode, "kaiming_normal_")
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR factorization of a Gaussian one, trailing axes flattened (Saxe et al.)."""
    shape = _array(tensor, "orthogonal_").shape
    if len(shape) < 2:
        raise ConfigError(f"init.orthogonal_: needs a tensor of 2 or more axes, got shape {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = get_rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # the sign rule that makes the draw uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(shape), "orthogonal_")
