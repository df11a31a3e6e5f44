"""Transposed convolution layers: ConvTranspose1d and ConvTranspose2d, PyTorch's arguments, weight shape and init.

``weight`` has PyTorch's shape (in_channels, out_channels/groups, *kernel_size):
the filters of the convolution this layer is the transpose of, so a torch
state dict copies across unchanged.  The default initialization is PyTorch's:
weight and bias from U(±1/√fan_in) with torch's fan_in (out_channels/groups)·k…
(what ``kaiming_uniform_(a=√5)`` draws for this weight shape).
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_dtype, check_int
from ..errors import ConfigError
from ..ops._windows import spatial_tuple
from ..ops.conv_transpose import conv_transpose, transposed_shape
from ..tensor import Tensor, as_tensor
from . import init as _init
from ._layer_tools import init_config, make_parameter
from .module import Module, elements

__all__ = ["ConvTranspose1d", "ConvTranspose2d"]


class _ConvTransposeNd(Module):
    dims = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, weight_init=None, bias_init=None, rng=None, dtype=np.float32):
        super().__init__()
        name, d = type(self).__name__, self.dims
        self.in_channels = check_int("in_channels", in_channels, 1, owner=name)
        self.out_channels = check_int("out_channels", out_channels, 1, owner=name)
        self.groups = check_int("groups", groups, 1, owner=name)
        _check_groups(name, self.in_channels, self.out_channels, self.groups)
        self.kernel_size = spatial_tuple("kernel_size", kernel_size, d, 1, name)
        self.stride = spatial_tuple("stride", stride, d, 1, name)
        if isinstance(padding, str):
            raise ConfigError(f"{name}: padding must be an integer or a tuple of {d} integers (PyTorch's "
                              f"ConvTranspose has no {padding!r}), got {padding!r}")
        self.padding = spatial_tuple("padding", padding, d, 0, name)
        self.output_padding = spatial_tuple("output_padding", output_padding, d, 0, name)
        self.dilation = spatial_tuple("dilation", dilation, d, 1, name)
        transposed_shape((1,) * d, self.kernel_size, self.stride, (0,) * d, self.output_padding, self.dilation, name)
        bias = check_bool("bias", bias, owner=name)
        dtype = check_dtype(dtype, owner=name)
        bound = 1.0 / math.sqrt(self.out_channels // self.groups * math.prod(self.kernel_size))
        self.weight_init = _init.uniform(-bound, bound) if weight_init is None else weight_init
        self.bias_init = _init.uniform(-bound, bound) if bias_init is None else bias_init
        gen = _random.get_rng(rng)
        shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        self.weight = make_parameter(name, "weight_init", self.weight_init, shape, gen, dtype)
        self.bias = make_parameter(name, "bias_init", self.bias_init, (self.out_channels,), gen, dtype) if bias else None

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = as_tensor(x, like=self.weight)
        self._check_input(x.data.shape)
        return conv_transpose(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                              self.groups, self.dilation)

    def _check_input(self, shape) -> None:
        if len(shape) != self.dims + 2 or shape[1] != self.in_channels:
            axes = "(N, C, L)" if self.dims == 1 else "(N, C, H, W)"
            raise ConfigError(f"{type(self).__name__} expects input {axes} with C = {self.in_channels} channels, "
                              f"got shape {tuple(shape)}")

    def _count_flops(self, shape):
        """2 FLOPs per multiply-add: every input value meets out/groups·k… filter taps; one add per output for the bias."""
        self._check_input(shape)
        out_sp = transposed_shape(shape[2:], self.kernel_size, self.stride, self.padding, self.output_padding,
                                  self.dilation, type(self).__name__)
        macs = elements(shape) * (self.out_channels // self.groups) * elements(self.kernel_size)
        outputs = shape[0] * elements(out_sp) * self.out_channels
        return 2 * macs + (outputs if self.bias is not None else 0), (shape[0], self.out_channels) + out_sp

    def spec_args(self) -> dict:
        name = type(self).__name__
        return {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
            "output_padding": list(self.output_padding), "groups": self.groups, "bias": self.bias is not None,
            "dilation": list(self.dilation),
            "weight_init": init_config(name, "weight_init", self.weight_init),
            "bias_init": init_config(name, "bias_init", self.bias_init),
            "dtype": self.weight.data.dtype.name,
        }

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Weight and bias shapes for spec ``args``, computed without allocating."""
        name = cls.__name__
        c_in = check_int("in_channels", args.get("in_channels"), 1, owner=name)
        c_out = check_int("out_channels", args.get("out_channels"), 1, owner=name)
        groups = check_int("groups", args.get("groups", 1), 1, owner=name)
        _check_groups(name, c_in, c_out, groups)
        kernel = spatial_tuple("kernel_size", args.get("kernel_size"), cls.dims, 1, name)
        shapes = {"weight": (c_in, c_out // groups, *kernel)}
        if check_bool("bias", args.get("bias", True), owner=name):
            shapes["bias"] = (c_out,)
        return shapes

    def extra_repr(self):
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}", f"stride={self.stride}"]
        for key, default in (("padding", 0), ("output_padding", 0), ("dilation", 1)):
            if getattr(self, key) != (default,) * self.dims:
                parts.append(f"{key}={getattr(self, key)}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)


def _check_groups(name, c_in, c_out, groups):
    if c_in % groups or c_out % groups:
        raise ConfigError(f"{name}: in_channels ({c_in}) and out_channels ({c_out}) must both be divisible by "
                          f"groups ({groups})")


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (N, C_in, L) → (N, C_out, (L − 1)·s − 2·pad + d·(k − 1) + output_padding + 1).

    >>> import numpy as np
    >>> layer = ConvTranspose1d(4, 2, 3, stride=2, padding=1, output_padding=1, rng=0)
    >>> layer.weight.shape, layer(np.zeros((3, 4, 10), dtype=np.float32)).shape
    ((4, 2, 3), (3, 2, 20))
    """

    dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (N, C_in, H, W) → (N, C_out, H_out, W_out), PyTorch's arguments and weight shape.

    >>> import numpy as np
    >>> layer = ConvTranspose2d(8, 3, 4, stride=2, padding=1, rng=0)
    >>> layer.weight.shape, layer(np.zeros((2, 8, 5, 5), dtype=np.float32)).shape
    ((8, 3, 4, 4), (2, 3, 10, 10))
    """

    dims = 2
