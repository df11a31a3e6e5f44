"""Pooling layers (max, average, adaptive average), Flatten and Unflatten; channels first as in PyTorch.

Max pooling sends a window's gradient to its first maximal element (row-major
kernel order) on a tie, as PyTorch's CPU kernel does; see :mod:`nnlab.ops.pool`.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..errors import ConfigError
from ..ops._windows import output_shape, resolve_padding, spatial_tuple
from ..ops.pool import adaptive_avg_pool, avg_pool, max_pool
from ..ops.shape import reshape
from ..tensor import Tensor, as_tensor
from .module import Module, elements

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Flatten", "Unflatten"]


def _input(x) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _check_rank(layer: Module, shape) -> None:
    if len(shape) != layer.dims + 2:
        axes = "(N, C, L)" if layer.dims == 1 else "(N, C, H, W)"
        raise ConfigError(f"{type(layer).__name__} expects input {axes}, got shape {tuple(shape)}")


class _Pool(Module):
    dims = 0
    _op = None
    _per_output = None  # FLOPs per output element, from the window size

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name, d = type(self).__name__, self.dims
        self.kernel_size = spatial_tuple("kernel_size", kernel_size, d, 1, name)
        self.stride = self.kernel_size if stride is None else spatial_tuple("stride", stride, d, 1, name)
        self.padding = spatial_tuple("padding", padding, d, 0, name)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ConfigError(f"{name}: padding must be at most half the kernel size {self.kernel_size}, got {padding!r}")
        self._pads = resolve_padding(self.padding, self.kernel_size, (1,) * d, self.stride, name)

    def forward(self, x):
        x = _input(x)
        _check_rank(self, x.data.shape)
        return type(self)._op(x, self.kernel_size, self.stride, self.padding)

    def _count_flops(self, shape):
        _check_rank(self, shape)
        out_sp = output_shape(shape[2:], self.kernel_size, self.stride, (1,) * self.dims, self._pads,
                              type(self).__name__)
        out = tuple(shape[:2]) + out_sp
        return elements(out) * self._per_output(elements(self.kernel_size)), out

    def spec_args(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding)}

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _Max(_Pool):
    _op = staticmethod(max_pool)
    _per_output = staticmethod(lambda k: k - 1)  # comparisons


class _Avg(_Pool):
    _op = staticmethod(avg_pool)
    _per_output = staticmethod(lambda k: k)  # k − 1 additions and one scaling


class MaxPool1d(_Max):
    """Maximum over windows of (N, C, L); ``stride`` defaults to ``kernel_size``, padding is −∞.

    >>> import nnlab
    >>> MaxPool1d(2)(nnlab.tensor([[[1.0, 3.0, 2.0, 5.0]]])).data.tolist()
    [[[3.0, 5.0]]]
    """

    dims = 1


class MaxPool2d(_Max):
    """Maximum over windows of (N, C, H, W); ``stride`` defaults to ``kernel_size``, padding is −∞."""

    dims = 2


class AvgPool1d(_Avg):
    """Mean over windows of (N, C, L); zero padding counts in the divisor (PyTorch's default)."""

    dims = 1


class AvgPool2d(_Avg):
    """Mean over windows of (N, C, H, W); zero padding counts in the divisor (PyTorch's default)."""

    dims = 2


class _Adaptive(Module):
    dims = 0

    def __init__(self, output_size=1):
        super().__init__()
        self.output_size = spatial_tuple("output_size", output_size, self.dims, 1, type(self).__name__)

    def forward(self, x):
        x = _input(x)
        _check_rank(self, x.data.shape)
        return adaptive_avg_pool(x, self.output_size)

    def _count_flops(self, shape):
        _check_rank(self, shape)
        out = tuple(shape[:2]) + self.output_size
        return elements(shape) + elements(out), out  # about one addition per input, one scaling per output

    def spec_args(self) -> dict:
        return {"output_size": list(self.output_size)}

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """Average of (N, C, L) over ``output_size`` bins; 1 (the default) is global average pooling."""

    dims = 1


class AdaptiveAvgPool2d(_Adaptive):
    """Average of (N, C, H, W) over ``output_size`` bins per axis; 1 (the default) is global average pooling.

    >>> import numpy as np
    >>> AdaptiveAvgPool2d()(np.ones((2, 3, 4, 4), dtype=np.float32)).shape
    (2, 3, 1, 1)
    """

    dims = 2


class _Reshape(Module):
    """A layer that only reshapes, to the shape its subclass's ``_target(shape)`` gives: no FLOPs."""

    def forward(self, x):
        x = _input(x)
        return reshape(x, self._target(x.data.shape))

    def _count_flops(self, shape):
        return 0, self._target(shape)


class Flatten(_Reshape):
    """Merge axes ``start_dim`` … ``end_dim`` into one (default: all but the batch axis), as PyTorch.

    >>> import numpy as np
    >>> Flatten()(np.zeros((2, 3, 4, 5), dtype=np.float32)).shape
    (2, 60)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int("start_dim", start_dim, owner="Flatten")
        self.end_dim = check_int("end_dim", end_dim, owner="Flatten")

    def _target(self, shape) -> tuple:
        n = len(shape)
        start, end = self.start_dim % max(n, 1), self.end_dim % max(n, 1)
        if not (-n <= self.start_dim < n and -n <= self.end_dim < n) or start > end:
            raise ConfigError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does not fit input shape {tuple(shape)}"
            )
        return tuple(shape[:start]) + (int(np.prod(shape[start : end + 1])),) + tuple(shape[end + 1 :])

    def spec_args(self) -> dict:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(_Reshape):
    """Split axis ``dim`` into ``unflattened_size``, as PyTorch's: rows of 40 values → (N, 1, 40) for a Conv1d.

    As the first layer of a model it lets rows (a CSV file, a preprocessing
    pipeline, the CLI) feed a convolutional network; ``in_features`` is the
    length of the axis it splits.

    >>> import numpy as np
    >>> Unflatten(1, (1, 8, 8))(np.zeros((2, 64), dtype=np.float32)).shape
    (2, 1, 8, 8)
    """

    def __init__(self, dim=1, unflattened_size=(1,)):
        super().__init__()
        self.dim = check_int("dim", dim, owner="Unflatten")
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, (tuple, list)) else (unflattened_size,)
        self.unflattened_size = tuple(check_int("unflattened_size", s, 1, owner="Unflatten") for s in sizes)
        if not self.unflattened_size:
            raise ConfigError("Unflatten: unflattened_size must name at least one axis size, got ()")
        self.in_features = elements(self.unflattened_size)

    def _target(self, shape) -> tuple:
        n = len(shape)
        if not -n <= self.dim < n or shape[self.dim] != self.in_features:
            raise ConfigError(
                f"Unflatten({self.dim}, {self.unflattened_size}) needs {self.in_features} values on axis {self.dim}, "
                f"got input shape {tuple(shape)}"
            )
        axis = self.dim % n
        return tuple(shape[:axis]) + self.unflattened_size + tuple(shape[axis + 1 :])

    def spec_args(self) -> dict:
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
