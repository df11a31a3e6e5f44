"""Constant padding layers: ZeroPad1d/2d and ConstantPad1d/2d, PyTorch's arguments, around :func:`nnlab.pad`.

``padding`` is an int (every side) or PyTorch's tuple, last axis first:
(left, right) for the 1-D layers, (left, right, top, bottom) for the 2-D ones.
Negative padding (PyTorch crops) is refused.
"""

from __future__ import annotations

from .._checks import check_float
from ..errors import ConfigError
from ..ops.shape import pad
from ._layer_tools import as_input
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d"]


class _ConstantPad(Module):
    dims = 0

    def __init__(self, padding, value):
        super().__init__()
        name, n = type(self).__name__, 2 * self.dims
        sides = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * n
        if len(sides) != n or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in sides):
            raise ConfigError(f"{name}: padding must be a non-negative integer or a tuple of {n} such integers "
                              f"({'(left, right)' if n == 2 else '(left, right, top, bottom)'}), got {padding!r}")
        self.padding = sides
        self.value = check_float("value", value, allow_inf=True, owner=name)

    def forward(self, x):
        x = as_input(x, None)
        if x.data.ndim < self.dims + 1:
            raise ConfigError(f"{type(self).__name__} pads the last {self.dims} axes of an input with at least "
                              f"{self.dims + 1}, got shape {tuple(x.data.shape)}")
        return pad(x, self.padding, value=self.value)

    def _target(self, shape) -> tuple:
        grow = [0] * (len(shape) - self.dims) + [self.padding[i] + self.padding[i + 1]
                                                  for i in range(2 * self.dims - 2, -1, -2)]
        return tuple(s + g for s, g in zip(shape, grow))

    def _count_flops(self, shape):
        return 0, self._target(tuple(shape))

    def spec_args(self) -> dict:
        return {"padding": list(self.padding), "value": self.value}

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPad):
    """Pad the last axis with ``value``: (left, right), as ``torch.nn.ConstantPad1d``.

    >>> import nnlab
    >>> ConstantPad1d((1, 2), 3.5)(nnlab.tensor([[[1.0]]])).numpy().tolist()
    [[[3.5, 1.0, 3.5, 3.5]]]
    """

    dims = 1


class ConstantPad2d(_ConstantPad):
    """Pad the last two axes with ``value``: (left, right, top, bottom), as ``torch.nn.ConstantPad2d``."""

    dims = 2


class ZeroPad1d(_ConstantPad):
    """Zero-pad the last axis: (left, right), as ``torch.nn.ZeroPad1d``."""

    dims = 1

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def spec_args(self) -> dict:
        return {"padding": list(self.padding)}


class ZeroPad2d(ZeroPad1d):
    """Zero-pad the last two axes: (left, right, top, bottom), as ``torch.nn.ZeroPad2d``.

    >>> import numpy as np
    >>> ZeroPad2d((1, 0, 2, 3))(np.ones((1, 1, 2, 2), dtype=np.float32)).shape
    (1, 1, 7, 3)
    """

    dims = 2
