"""Pooling layers (max, average, adaptive average), Flatten and Unflatten; channels first as in PyTorch.

Max pooling sends a window's gradient to its first maximal element (row-major
kernel order) on a tie, as PyTorch's CPU kernel does; see :mod:`nnlab.ops.pool`.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_bool, check_int
from ..errors import ConfigError
from ..ops._windows import output_shape, resolve_padding, spatial_tuple
from ..ops.pool import adaptive_avg_pool, adaptive_max_pool, avg_pool, check_divisor, max_pool
from ..ops.shape import reshape
from ..tensor import Tensor, as_tensor
from .module import Module, elements

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Flatten", "Unflatten"]


def _input(x) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _check_rank(layer: Module, shape) -> None:
    if len(shape) != layer.dims + 2:
        axes = "(N, C, L)" if layer.dims == 1 else "(N, C, H, W)"
        raise ConfigError(f"{type(layer).__name__} expects input {axes}, got shape {tuple(shape)}")


class _Pool(Module):
    """What max and average pooling share: the window, ``ceil_mode``, the shape rule and the spec."""

    dims = 0
    _per_output = None  # FLOPs per output element, from the window size

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        name, d = type(self).__name__, self.dims
        self.kernel_size = spatial_tuple("kernel_size", kernel_size, d, 1, name)
        self.stride = self.kernel_size if stride is None else spatial_tuple("stride", stride, d, 1, name)
        self.padding = spatial_tuple("padding", padding, d, 0, name)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ConfigError(f"{name}: padding must be at most half the kernel size {self.kernel_size}, got {padding!r}")
        self.ceil_mode = check_bool("ceil_mode", ceil_mode, owner=name)
        self.dilation = (1,) * d  # MaxPool's own; the shape rule reads it
        self._pads = resolve_padding(self.padding, self.kernel_size, (1,) * d, self.stride, name)

    def forward(self, x):
        x = _input(x)
        _check_rank(self, x.data.shape)
        return self._pool(x)

    def _count_flops(self, shape):
        _check_rank(self, shape)
        out_sp = output_shape(shape[2:], self.kernel_size, self.stride, self.dilation, self._pads,
                              type(self).__name__, self.ceil_mode)
        out = tuple(shape[:2]) + out_sp
        return elements(out) * self._per_output(elements(self.kernel_size)), out

    def _options(self) -> dict:
        """The PyTorch options beyond the window, by name (per-axis ones as tuples)."""
        return {"ceil_mode": self.ceil_mode}

    def spec_args(self) -> dict:
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self._options().items()}
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                **options}

    def extra_repr(self):
        shown = [f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"]
        for key, value in self._options().items():  # only the options that differ from PyTorch's defaults
            if value != (_DEFAULTS[key] if key != "dilation" else (1,) * self.dims):
                shown.append(f"{key}={value}")
        return ", ".join(shown)


_DEFAULTS = {"ceil_mode": False, "count_include_pad": True, "divisor_override": None}


class _Max(_Pool):
    _per_output = staticmethod(lambda k: k - 1)  # comparisons

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, *, ceil_mode=False):
        # ceil_mode is keyword-only: PyTorch's fifth argument is return_indices, which nnlab does not have
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = spatial_tuple("dilation", dilation, self.dims, 1, type(self).__name__)

    def _pool(self, x):
        return max_pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def _options(self) -> dict:
        return {"dilation": self.dilation, **super()._options()}


class _Avg(_Pool):
    _per_output = staticmethod(lambda k: k)  # k − 1 additions and one scaling

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        name = type(self).__name__
        self.count_include_pad = check_bool("count_include_pad", count_include_pad, owner=name)
        self.divisor_override = check_divisor(divisor_override, name)

    def _pool(self, x):
        return avg_pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                        self.divisor_override)

    def _options(self) -> dict:
        options = {**super()._options(), "count_include_pad": self.count_include_pad}
        if self.dims == 2:  # PyTorch's AvgPool1d has no divisor_override
            options["divisor_override"] = self.divisor_override
        return options


class MaxPool1d(_Max):
    """Maximum over windows of (N, C, L); ``stride`` defaults to ``kernel_size``, padding is −∞.

    >>> import nnlab
    >>> MaxPool1d(2)(nnlab.tensor([[[1.0, 3.0, 2.0, 5.0]]])).data.tolist()
    [[[3.0, 5.0]]]
    >>> MaxPool1d(2, ceil_mode=True)(nnlab.tensor([[[1.0, 3.0, 2.0]]])).data.tolist()
    [[[3.0, 2.0]]]
    """

    dims = 1


class MaxPool2d(_Max):
    """Maximum over windows of (N, C, H, W); ``stride`` defaults to ``kernel_size``, padding is −∞."""

    dims = 2


class AvgPool1d(_Avg):
    """Mean over windows of (N, C, L); zero padding counts in the divisor unless ``count_include_pad=False``."""

    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_Avg):
    """Mean over windows of (N, C, H, W); zero padding counts in the divisor unless ``count_include_pad=False``;
    ``divisor_override`` replaces the divisor of every window."""

    dims = 2


class _Adaptive(Module):
    dims = 0
    _op = staticmethod(adaptive_avg_pool)

    def __init__(self, output_size=1):
        super().__init__()
        self.output_size = spatial_tuple("output_size", output_size, self.dims, 1, type(self).__name__)

    def forward(self, x):
        x = _input(x)
        _check_rank(self, x.data.shape)
        return self._op(x, self.output_size)

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


class AdaptiveMaxPool1d(_Adaptive):
    """Maximum of (N, C, L) over ``output_size`` bins (PyTorch's bins); 1 (the default) is global max pooling.

    The gradient of a bin goes to its first maximal element, as PyTorch's CPU kernel (no ``return_indices``).
    """

    dims = 1
    _op = staticmethod(adaptive_max_pool)


class AdaptiveMaxPool2d(_Adaptive):
    """Maximum of (N, C, H, W) over ``output_size`` bins per axis; 1 (the default) is global max pooling.

    >>> import numpy as np
    >>> AdaptiveMaxPool2d((2, 3))(np.ones((2, 3, 5, 7), dtype=np.float32)).shape
    (2, 3, 2, 3)
    """

    dims = 2
    _op = staticmethod(adaptive_max_pool)


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
