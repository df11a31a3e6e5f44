"""PyTorch's InstanceNorm1d and InstanceNorm2d: each (sample, channel) normalized over its positions, one fused node.

The op is :func:`nnlab.ops.norms_more.instance_norm` (torch's ``F.instance_norm``); the
layers add torch's module rules: an unbatched input ((C, L) or (C, H, W)) gets a batch
axis of one; ``track_running_stats=True`` keeps ``running_mean``/``running_var`` (and
torch's ``num_batches_tracked``, which torch's instance norms never advance) and
normalizes with them in eval mode; ``momentum=None`` is torch's 0.0 for these layers
(``_InstanceNorm`` passes ``momentum or 0.0``), so the running statistics stay where they are.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._checks import check_bool, check_dtype, check_float, check_int
from ..errors import ConfigError
from ..ops.elementwise import astype
from ..ops.norms_more import instance_norm
from ..ops.shape import reshape
from ..tensor import Tensor, as_tensor
from .module import Module, elements
from .parameter import Parameter

__all__ = ["InstanceNorm1d", "InstanceNorm2d"]


class _InstanceNorm(Module):
    """What InstanceNorm1d and InstanceNorm2d share; ``spatial`` is the number of spatial axes."""

    spatial = 0
    layouts = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, *,
                 bias=True, dtype=np.float32):
        super().__init__()
        owner = type(self).__name__
        self.num_features = check_int("num_features", num_features, 1, owner=owner)
        self.eps = check_float("eps", eps, 0.0, owner=owner)
        self.momentum = None if momentum is None else check_float("momentum", momentum, 0.0, 1.0, owner=owner)
        self.affine = check_bool("affine", affine, owner=owner)
        self.track_running_stats = check_bool("track_running_stats", track_running_stats, owner=owner)
        bias = check_bool("bias", bias, owner=owner)
        self._dtype = check_dtype(dtype, owner=owner)
        c = self.num_features
        self.weight = Parameter(np.ones(c), dtype=self._dtype) if self.affine else None
        self.bias = Parameter(np.zeros(c), dtype=self._dtype) if self.affine and bias else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype=self._dtype))
            self.register_buffer("running_var", np.ones(c, dtype=self._dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))  # torch's key; stays 0 as torch's
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = as_tensor(np.asarray(x, dtype=self._dtype))
        elif x.data.dtype != self._dtype:  # a float64 batch must not turn a float32 layer's graph float64
            x = astype(x, self._dtype)
        shape = x.data.shape
        self._check_shape(shape)
        unbatched = len(shape) == self.spatial + 1
        if unbatched:
            x = reshape(x, (1,) + shape)
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_input_stats=self.training or not self.track_running_stats,
                          momentum=0.0 if self.momentum is None else self.momentum, eps=self.eps)
        return reshape(y, shape) if unbatched else y

    def _check_shape(self, shape) -> None:
        name = type(self).__name__
        if len(shape) not in (self.spatial + 1, self.spatial + 2):
            raise ConfigError(f"{name} expects {self.layouts} input, got {len(shape)}-D input of shape {tuple(shape)}")
        channels = shape[len(shape) - self.spatial - 1]
        if channels == self.num_features:
            return
        if self.affine or self.track_running_stats:  # torch: a ValueError with affine, a size error with running stats
            raise ConfigError(f"{name} expects {self.num_features} channels (num_features) on axis "
                              f"{len(shape) - self.spatial - 1}, got input shape {tuple(shape)}")
        warnings.warn(f"{name}: the input's {channels} channels do not match num_features={self.num_features}, "
                      "which is not used because affine=False and track_running_stats=False", stacklevel=3)

    def _count_flops(self, shape):
        self._check_shape(shape)
        # mean 1, centre 1, variance 2, normalize 1 per element; scale 1 and shift 1 where the layer has them
        per_element = 5 + (self.weight is not None) + (self.bias is not None)
        return per_element * elements(shape), tuple(shape)

    def spec_args(self) -> dict:
        # momentum=None is torch's 0.0 here (the running statistics never move): stored as 0.0, the same layer
        # (a None would be dropped from the spec, and the rebuilt layer's default, 0.1, would move them)
        return {"num_features": self.num_features, "eps": self.eps,
                "momentum": 0.0 if self.momentum is None else self.momentum, "affine": self.affine,
                "track_running_stats": self.track_running_stats, "bias": self.bias is not None or not self.affine,
                "dtype": self._dtype.name}

    def extra_repr(self):
        # torch's _NormBase.extra_repr, bias= included
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter and buffer shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        owner = cls.__name__
        c = check_int("num_features", args.get("num_features"), 1, owner=owner)
        shapes = {}
        if check_bool("affine", args.get("affine", False), owner=owner):
            shapes["weight"] = (c,)
            if check_bool("bias", args.get("bias", True), owner=owner):
                shapes["bias"] = (c,)
        if check_bool("track_running_stats", args.get("track_running_stats", False), owner=owner):
            shapes.update(running_mean=(c,), running_var=(c,), num_batches_tracked=())
        return shapes


class InstanceNorm1d(_InstanceNorm):
    """PyTorch's ``InstanceNorm1d(num_features, eps, momentum, affine, track_running_stats)`` on (N, C, L) or (C, L).

    Each (sample, channel) normalized by its own mean and biased variance over L; with
    ``affine`` a per-channel ``weight`` (ones) and ``bias`` (zeros).  With
    ``track_running_stats``, training updates ``running_mean``/``running_var`` (torch's
    rule, the variance unbiased) and eval mode normalizes with them.
    """

    spatial, layouts = 1, "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """PyTorch's ``InstanceNorm2d(num_features, eps, momentum, affine, track_running_stats)`` on (N, C, H, W) or (C, H, W).

    As :class:`InstanceNorm1d`, each (sample, channel) over its H·W positions.
    """

    spatial, layouts = 2, "(N, C, H, W) or (C, H, W)"
