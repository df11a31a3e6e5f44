"""Normalization layers: BatchNorm (the seeds' batch normalization), PyTorch's LayerNorm and GroupNorm; each one fused node."""

from __future__ import annotations

import numpy as np

from .._checks import check_bool, check_dtype, check_float, check_int
from ..errors import ConfigError
from ..functional import relu
from ..ops.elementwise import astype
from ..ops.fused import batch_norm
from ..ops.norms import as_normalized_shape, check_group_input, check_layer_input, group_norm, layer_norm
from ..ops.shape import transpose
from ..tensor import Tensor, as_tensor
from ._layer_tools import check_features, features_input
from .module import Module, elements
from .parameter import Parameter

__all__ = ["BatchNorm", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]


def over_channels(x: Tensor, normalize):
    """``normalize`` (an op over the last axis) applied to axis 1 of (N, C, *spatial).

    Channels last (a view; for a conv's output, already contiguous memory), normalize, and back:
    BatchNorm's forward and ``nn.functional.batch_norm``.
    """
    axes = (0,) + tuple(range(2, x.data.ndim)) + (1,)
    back = (0, x.data.ndim - 1) + tuple(range(1, x.data.ndim - 1))
    return transpose(normalize(transpose(x, axes)), back)


class BatchNorm(Module):
    """Batch normalization, fused forward/backward: per feature of (N, C), per channel of (N, C, *spatial).

    A 2-D batch (N, C) is normalized per column, as PyTorch's BatchNorm1d.
    An input with more axes is channels first, as PyTorch's BatchNorm1d on
    (N, C, L) and BatchNorm2d on (N, C, H, W): each channel is normalized over
    the batch and every spatial position (the statistics of N·L or N·H·W values).
    Training mode normalizes with the mini-batch mean and biased variance,
    then scales by ``gamma`` and shifts by ``beta`` (the seeds' algorithm), and
    updates the buffers ``running_mean`` / ``running_var`` as PyTorch's
    BatchNorm1d does: momentum is the weight of the new batch statistic and
    the variance enters unbiased.  Eval mode normalizes with the buffers.
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.num_features = check_int("num_features", num_features, 1, owner="BatchNorm")
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, owner="BatchNorm")
        self.eps = check_float("eps", eps, 0.0, low_open=True, owner="BatchNorm")
        dtype = check_dtype(dtype, owner="BatchNorm")
        self.gamma = Parameter(np.ones(self.num_features), dtype=dtype)
        self.beta = Parameter(np.zeros(self.num_features), dtype=dtype)
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = as_tensor(x, like=self.gamma)
        if x.data.ndim <= 2:
            return self._normalize(features_input(x, self.gamma, "BatchNorm", self.num_features))
        self._check_channels(x.data.shape)
        return over_channels(x, self._normalize)

    def forward_relu(self, x):
        """``relu(self(x))``, as one node for a (N, C) batch: what ``Sequential`` runs for a BatchNorm followed by a ReLU."""
        if not isinstance(x, Tensor):
            x = as_tensor(x, like=self.gamma)
        if x.data.ndim > 2:
            return relu(self.forward(x))
        return self._normalize(features_input(x, self.gamma, "BatchNorm", self.num_features), relu=True)

    def _normalize(self, x, relu=False):
        return batch_norm(
            x, self.gamma, self.beta, self.running_mean, self.running_var, self.training, self.momentum, self.eps, relu
        )

    def _check_channels(self, shape) -> None:
        if shape[1] != self.num_features:
            raise ConfigError(
                f"BatchNorm expects {self.num_features} channels on axis 1 of a (N, C, ...) input, "
                f"got input shape {tuple(shape)}"
            )

    def _count_flops(self, shape):
        if len(shape) > 2:
            self._check_channels(shape)
        else:
            check_features("BatchNorm", shape, self.num_features)
        # Training: mean 1, centre 1, variance 2, scale-and-shift 2 per element; eval: centre, scale, shift.
        per_element = 6 if self.training else 3
        return per_element * elements(shape), shape

    def spec_args(self) -> dict:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "dtype": self.gamma.data.dtype.name,
        }

    def extra_repr(self):
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter and buffer shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        n = check_int("num_features", args.get("num_features"), 1, owner="BatchNorm")
        return {name: (n,) for name in ("gamma", "beta", "running_mean", "running_var")}


class _RankedBatchNorm(BatchNorm):
    """PyTorch's BatchNorm1d/2d: the same layer, with PyTorch's argument order and its input-rank check."""

    ranks: tuple = ()
    layouts = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, *, dtype=np.float32):
        super().__init__(num_features, momentum=momentum, eps=eps, dtype=dtype)

    def _check_rank(self, x) -> None:
        ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
        if ndim not in self.ranks:
            raise ConfigError(f"{type(self).__name__} expects {self.layouts} input, got {ndim}-D input of shape "
                              f"{np.shape(x.data if isinstance(x, Tensor) else x)}")

    def forward(self, x):
        self._check_rank(x)
        return super().forward(x)

    def forward_relu(self, x):
        self._check_rank(x)
        return super().forward_relu(x)

    def _count_flops(self, shape):
        if len(shape) not in self.ranks:
            raise ConfigError(f"{type(self).__name__} expects {self.layouts} input, got shape {tuple(shape)}")
        return super()._count_flops(shape)


class BatchNorm1d(_RankedBatchNorm):
    """:class:`BatchNorm` on (N, C) or (N, C, L) input, with PyTorch's ``BatchNorm1d(num_features, eps, momentum)``."""

    ranks, layouts = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_RankedBatchNorm):
    """:class:`BatchNorm` on (N, C, H, W) input, with PyTorch's ``BatchNorm2d(num_features, eps, momentum)``."""

    ranks, layouts = (4,), "(N, C, H, W)"


class _AffineNorm(Module):
    """What LayerNorm and GroupNorm share: optional ``weight`` (ones) and ``bias`` (zeros) of one shape, the dtype."""

    def _affine(self, shape, affine, bias, dtype, owner):
        self._dtype = check_dtype(dtype, owner=owner)
        self.weight = Parameter(np.ones(shape), dtype=self._dtype) if affine else None
        self.bias = Parameter(np.zeros(shape), dtype=self._dtype) if affine and bias else None

    def _input(self, x):
        """``x`` in the layer's dtype (a float64 batch must not turn a float32 layer's graph float64)."""
        if not isinstance(x, Tensor):
            x = as_tensor(np.asarray(x, dtype=self._dtype))
        return x if x.data.dtype == self._dtype else astype(x, self._dtype)

    def _affine_flops(self, shape):
        # mean 1, centre 1, variance 2, normalize 1 per element; scale 1 and shift 1 where the layer has them
        per_element = 5 + (self.weight is not None) + (self.bias is not None)
        return per_element * elements(shape), tuple(shape)

    @staticmethod
    def _state(shape, affine_name, affine, bias, owner) -> dict:
        shapes = {}
        if check_bool(affine_name, affine, owner=owner):
            shapes["weight"] = shape
            if check_bool("bias", bias, owner=owner):
                shapes["bias"] = shape
        return shapes


class LayerNorm(_AffineNorm):
    """PyTorch's ``LayerNorm``: each sample normalized over its trailing ``normalized_shape`` axes, one fused node.

    Mean and biased variance of the last ``len(normalized_shape)`` axes, then
    ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape`` elementwise
    (``elementwise_affine=False``: neither; ``bias=False``: no bias).  The same in
    training and eval mode: no running statistics.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, dtype=np.float32):
        super().__init__()
        self.normalized_shape = as_normalized_shape(normalized_shape, "LayerNorm")
        self.eps = check_float("eps", eps, 0.0, owner="LayerNorm")
        self.elementwise_affine = check_bool("elementwise_affine", elementwise_affine, owner="LayerNorm")
        bias = check_bool("bias", bias, owner="LayerNorm")
        self._affine(self.normalized_shape, self.elementwise_affine, bias, dtype, "LayerNorm")

    def forward(self, x):
        x = self._input(x)
        check_layer_input(x.data.shape, self.normalized_shape, "LayerNorm")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def _count_flops(self, shape):
        check_layer_input(shape, self.normalized_shape, "LayerNorm")
        return self._affine_flops(shape)

    def spec_args(self) -> dict:
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.bias is not None,
                "dtype": self._dtype.name}

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        shape = as_normalized_shape(args.get("normalized_shape"), "LayerNorm")
        return cls._state(shape, "elementwise_affine", args.get("elementwise_affine", True), args.get("bias", True), "LayerNorm")


class GroupNorm(_AffineNorm):
    """PyTorch's ``GroupNorm``: the C channels of (N, C, *) in ``num_groups`` groups, each normalized per sample.

    Mean and biased variance over a group's C/num_groups channels and all their
    positions, then a per-channel ``weight`` (ones) and ``bias`` (zeros)
    (``affine=False``: neither; torch's keyword ``bias=False``: no bias).  The
    same in training and eval mode.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True, dtype=np.float32):
        super().__init__()
        self.num_groups = check_int("num_groups", num_groups, 1, owner="GroupNorm")
        self.num_channels = check_int("num_channels", num_channels, 1, owner="GroupNorm")
        if self.num_channels % self.num_groups:
            raise ConfigError(f"GroupNorm: num_channels ({self.num_channels}) must be divisible by num_groups "
                              f"({self.num_groups})")
        self.eps = check_float("eps", eps, 0.0, owner="GroupNorm")
        self.affine = check_bool("affine", affine, owner="GroupNorm")
        bias = check_bool("bias", bias, owner="GroupNorm")
        self._affine((self.num_channels,), self.affine, bias, dtype, "GroupNorm")

    def forward(self, x):
        x = self._input(x)
        check_group_input(x.data.shape, self.num_groups, self.num_channels, "GroupNorm")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def _count_flops(self, shape):
        check_group_input(shape, self.num_groups, self.num_channels, "GroupNorm")
        return self._affine_flops(shape)

    def spec_args(self) -> dict:
        return {"num_groups": self.num_groups, "num_channels": self.num_channels, "eps": self.eps,
                "affine": self.affine, "bias": self.bias is not None, "dtype": self._dtype.name}

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        c = check_int("num_channels", args.get("num_channels"), 1, owner="GroupNorm")
        return cls._state((c,), "affine", args.get("affine", True), args.get("bias", True), "GroupNorm")
