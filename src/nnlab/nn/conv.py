"""Convolution layers: Conv1d and Conv2d, channels first (N, C, L) and (N, C, H, W) as in PyTorch.

The notes' parameter sharing: one small filter bank is applied at every
position of the input.  ``weight`` has PyTorch's shape
(out_channels, in_channels/groups, *kernel_size), so weights copy across
without a transpose (unlike ``Linear``, whose weight is (in, out)).
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_choice, check_dtype, check_int
from ..errors import ConfigError
from ..ops._windows import output_shape, resolve_padding, spatial_tuple
from ..ops.conv import conv
from ..ops.shape import pad
from ..tensor import Tensor, as_tensor
from . import init as _init
from ._layer_tools import init_config, make_parameter
from .module import Module, elements
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d"]


_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate"}  # PyTorch's name: nnlab.pad's


class _ConvNd(Module):
    """Shared by Conv1d and Conv2d: arguments, filters, forward, FLOPs, spec."""

    dims = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, weight_init="lecun_normal", bias_init="zeros", rng=None, dtype=np.float32, *,
                 padding_mode="zeros"):
        super().__init__()
        name, d = type(self).__name__, self.dims
        # PyTorch's modes but "circular": reflect and replicate pad the input first (nnlab.pad), then convolve
        self.padding_mode = check_choice("padding_mode", padding_mode, tuple(_PAD_MODES), owner=name)
        self.in_channels = check_int("in_channels", in_channels, 1, owner=name)
        self.out_channels = check_int("out_channels", out_channels, 1, owner=name)
        self.groups = check_int("groups", groups, 1, owner=name)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ConfigError(
                f"{name}: in_channels ({self.in_channels}) and out_channels ({self.out_channels}) must both be "
                f"divisible by groups ({self.groups})"
            )
        self.kernel_size = spatial_tuple("kernel_size", kernel_size, d, 1, name)
        self.stride = spatial_tuple("stride", stride, d, 1, name)
        self.dilation = spatial_tuple("dilation", dilation, d, 1, name)
        self.padding = padding if isinstance(padding, str) else spatial_tuple("padding", padding, d, 0, name)
        self._pads = resolve_padding(self.padding, self.kernel_size, self.dilation, self.stride, name)
        bias = check_bool("bias", bias, owner=name)
        dtype = check_dtype(dtype, owner=name)
        self.weight_init, self.bias_init = weight_init, bias_init
        gen = _random.get_rng(rng)
        per_group = self.in_channels // self.groups
        fan_in = per_group * math.prod(self.kernel_size)
        # Initializers see the filters as the GEMM's (fan_in, out_channels) matrix, so
        # "he_normal" and "lecun_normal" scale by the fan-in in·k… as the notes' rule asks.
        initializer = _filter_initializer(weight_init, math.prod(self.kernel_size))
        flat = make_parameter(name, "weight_init", initializer, (fan_in, self.out_channels), gen, dtype)
        self.weight = Parameter(flat.data.T.reshape((self.out_channels, per_group) + self.kernel_size), dtype=dtype)
        self.bias = make_parameter(name, "bias_init", bias_init, (self.out_channels,), gen, dtype) if bias else None

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = as_tensor(x, like=self.weight)
        self._check_input(x.data.shape)
        if self.padding_mode != "zeros" and any(lo or hi for lo, hi in self._pads):
            x = pad(x, [p for pair in reversed(self._pads) for p in pair], mode=_PAD_MODES[self.padding_mode])
            return conv(x, self.weight, self.bias, self.stride, (0,) * self.dims, self.dilation, self.groups)
        return conv(x, self.weight, self.bias, self.stride, self._pads_argument(), self.dilation, self.groups)

    def _pads_argument(self):
        # "same" with an even kernel pads unequally; the op resolves the string itself.
        return self.padding if isinstance(self.padding, str) else tuple(lo for lo, _ in self._pads)

    def _check_input(self, shape) -> None:
        if len(shape) != self.dims + 2 or shape[1] != self.in_channels:
            axes = "(N, C, L)" if self.dims == 1 else "(N, C, H, W)"
            raise ConfigError(
                f"{type(self).__name__} expects input {axes} with C = {self.in_channels} channels, "
                f"got shape {tuple(shape)}"
            )

    def _count_flops(self, shape):
        """2 FLOPs per multiply-add: 2·N·positions·out·(in/groups)·k…, plus one add per output for the bias."""
        self._check_input(shape)
        out_sp = output_shape(shape[2:], self.kernel_size, self.stride, self.dilation, self._pads, type(self).__name__)
        outputs = shape[0] * elements(out_sp) * self.out_channels
        macs = outputs * (self.in_channels // self.groups) * elements(self.kernel_size)
        return 2 * macs + (outputs if self.bias is not None else 0), (shape[0], self.out_channels) + out_sp

    def spec_args(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "weight_init": init_config(type(self).__name__, "weight_init", self.weight_init),
            "bias_init": init_config(type(self).__name__, "bias_init", self.bias_init),
            "dtype": self.weight.data.dtype.name,
            **({"padding_mode": self.padding_mode} if self.padding_mode != "zeros" else {}),
        }

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Filter and bias shapes for spec ``args``, computed without allocating (checked before a file is loaded).

        Without it an edited ``in_channels`` or ``kernel_size`` in a model file would allocate the
        filters before ``load_state_dict`` noticed the mismatch.
        """
        name = cls.__name__
        c_in = check_int("in_channels", args.get("in_channels"), 1, owner=name)
        c_out = check_int("out_channels", args.get("out_channels"), 1, owner=name)
        groups = check_int("groups", args.get("groups", 1), 1, owner=name)
        if c_in % groups:
            raise ConfigError(f"{name}: in_channels ({c_in}) must be divisible by groups ({groups})")
        kernel = spatial_tuple("kernel_size", args.get("kernel_size"), cls.dims, 1, name)
        shapes = {"weight": (c_out, c_in // groups, *kernel)}
        if check_bool("bias", args.get("bias", True), owner=name):
            shapes["bias"] = (c_out,)
        return shapes

    def extra_repr(self):
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding != (0,) * self.dims:
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1,) * self.dims:
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode!r}")
        return ", ".join(parts)


def _filter_initializer(weight_init, taps: int):
    """``weight_init``, with Glorot's fan-out counting every kernel tap (out_channels·k…).

    The (fan_in, out_channels) matrix has fan-out out_channels, but a filter bank's
    fan-out is out_channels·k…, as torch.nn.init.xavier_* and Keras's glorot_* count it;
    without it "xavier_normal" drew a 3×3 conv's filters with 1.5 times their std.
    The same draw, rescaled: std and bound are both √(1/(fan_in + fan_out)) times a constant.
    """
    try:
        fn = _init.get(weight_init)
    except ConfigError:
        return weight_init  # make_parameter names the bad initializer
    if taps == 1 or fn not in (_init.xavier_normal, _init.xavier_uniform):
        return weight_init

    def glorot(shape, rng=None, dtype=np.float32):
        fan_in, fan_out = _init.fans(shape)
        scale = math.sqrt((fan_in + fan_out) / (fan_in + fan_out * taps))
        return (fn(shape, rng=rng, dtype=np.float64) * scale).astype(dtype, copy=False)

    return glorot


class Conv1d(_ConvNd):
    """1-D convolution of (N, C_in, L) into (N, C_out, L_out), PyTorch's arguments and weight shape.

    ``padding``: an int, a 1-tuple, ``"valid"`` or ``"same"`` (stride 1).
    Default initialization ``lecun_normal`` by fan-in (in_channels/groups)·k (``xavier_*``: fan-out out_channels·k);
    ``weight_init="he_normal"`` for ReLU networks.  (PyTorch draws from
    U(±1/√fan_in) for weights and bias.)

    >>> import numpy as np
    >>> layer = Conv1d(1, 4, 5, stride=2, padding=1, rng=0)
    >>> layer.weight.shape, layer(np.zeros((3, 1, 40), dtype=np.float32)).shape
    ((4, 1, 5), (3, 4, 19))
    """

    dims = 1


class Conv2d(_ConvNd):
    """2-D convolution of (N, C_in, H, W) into (N, C_out, H_out, W_out), PyTorch's arguments and weight shape.

    ``kernel_size``, ``stride``, ``dilation``: an int or a pair; ``padding``
    also ``"valid"`` or ``"same"`` (stride 1).  Initialization as :class:`Conv1d`.

    >>> import numpy as np
    >>> layer = Conv2d(1, 8, 3, padding="same", rng=0)
    >>> layer.weight.shape, layer(np.zeros((2, 1, 8, 8), dtype=np.float32)).shape
    ((8, 1, 3, 3), (2, 8, 8, 8))
    """

    dims = 2
