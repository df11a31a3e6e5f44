"""The functional forms of the layers, torch's ``F.linear``, ``F.conv2d``, ``F.max_pool2d``, ``F.dropout``, …

Each is a thin call into the op its layer's forward runs (never a second copy of the
math), with PyTorch's signature and PyTorch's layouts; re-exported by
:mod:`nnlab.nn.functional`.  Two differ from nnlab's layers, because they are torch's
functions in torch's namespace: ``linear`` takes torch's weight (out, in), and
``dropout``'s ``p`` is the DROP probability (README "Conventions that differ").
Inputs are batched, (N, C, *spatial) for the convolutions and pools.
"""

from __future__ import annotations

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_float, check_int
from ..errors import ConfigError
from ..ops import conv as _conv
from ..ops.elementwise import clip
from ..ops.fused import batch_norm as _batch_norm
from ..ops.fused import linear_t
from ..ops.pool import adaptive_avg_pool, adaptive_max_pool, avg_pool, check_divisor, max_pool
from ..ops.reduce import norm
from ..ops.reduce import sum as _sum
from ..tensor import Tensor, as_tensor
from ._layer_tools import as_input, check_features
from .activations import prelu as _prelu
from .embedding import lookup
from .noise import inverted_dropout
from .normalization import over_channels

__all__ = ["linear", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "embedding", "batch_norm", "dropout", "cosine_similarity", "pairwise_distance", "prelu"]


def _refuse(owner: str, **options) -> None:
    """Refuse torch's options nnlab does not have, each given as ``name=(value, default)``."""
    for name, (value, default) in options.items():
        if value != default:
            raise ConfigError(f"{owner}: {name}={value!r} is not supported (only {name}={default!r})")


def _batched(x, dims: int, owner: str) -> Tensor:
    x = as_input(x, None)
    if x.data.ndim != dims + 2:
        axes = "(N, C, L)" if dims == 1 else "(N, C, H, W)"
        raise ConfigError(f"{owner} expects input {axes}, got shape {x.data.shape}")
    return x


def linear(input, weight, bias=None):
    """torch's ``F.linear``: ``input @ weight.T + bias`` with TORCH's weight layout (out_features, in_features).

    Note the layout: ``nn.Linear`` stores its weight as (in, out) (``x @ W``, the notes'
    convention), but this function is torch's, so ``weight`` is (out, in), as
    ``torch.nn.functional.linear`` takes it: ``F.linear(x, layer.weight.T, layer.bias)``
    is ``layer(x)``.  One fused node (``ops.fused.linear_t``, what ``TiedLinear`` runs).
    """
    weight = as_input(weight, None)
    if weight.data.ndim != 2:
        raise ConfigError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.data.shape}")
    x = as_input(input, weight)
    check_features("linear", x.data.shape, weight.data.shape[1])
    return linear_t(x, weight, bias)


def _conv_form(dims: int):
    op = _conv.conv1d if dims == 1 else _conv.conv2d

    def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        weight = as_input(weight, None)
        return op(_batched(as_input(input, weight), dims, op.__name__), weight, bias, stride, padding, dilation,
                  check_int("groups", groups, 1, owner=op.__name__))

    conv.__name__ = conv.__qualname__ = op.__name__
    conv.__doc__ = (f"torch's ``F.{op.__name__}``: weight (out_channels, in_channels/groups, k…), as ``nn.Conv{dims}d``"
                    " stores it; ``padding`` also ``\"same\"`` or ``\"valid\"``.  The layer's op, ``ops.conv.conv``.")
    return conv


conv1d, conv2d = _conv_form(1), _conv_form(2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch's ``F.max_pool1d`` of (N, C, L) (``return_indices`` only False); ``nn.MaxPool1d``'s op."""
    _refuse("max_pool1d", return_indices=(return_indices, False))
    return max_pool(_batched(input, 1, "max_pool1d"), kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch's ``F.max_pool2d`` of (N, C, H, W) (``return_indices`` only False); ``nn.MaxPool2d``'s op."""
    _refuse("max_pool2d", return_indices=(return_indices, False))
    return max_pool(_batched(input, 2, "max_pool2d"), kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """torch's ``F.avg_pool1d`` of (N, C, L); ``nn.AvgPool1d``'s op."""
    return avg_pool(_batched(input, 1, "avg_pool1d"), kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch's ``F.avg_pool2d`` of (N, C, H, W); ``nn.AvgPool2d``'s op."""
    return avg_pool(_batched(input, 2, "avg_pool2d"), kernel_size, stride, padding, ceil_mode, count_include_pad,
                    check_divisor(divisor_override, "avg_pool2d"))


def adaptive_avg_pool1d(input, output_size):
    """torch's ``F.adaptive_avg_pool1d`` of (N, C, L); ``nn.AdaptiveAvgPool1d``'s op."""
    return adaptive_avg_pool(_batched(input, 1, "adaptive_avg_pool1d"), output_size)


def adaptive_avg_pool2d(input, output_size):
    """torch's ``F.adaptive_avg_pool2d`` of (N, C, H, W); ``nn.AdaptiveAvgPool2d``'s op."""
    return adaptive_avg_pool(_batched(input, 2, "adaptive_avg_pool2d"), output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """torch's ``F.adaptive_max_pool1d`` of (N, C, L) (``return_indices`` only False); ``nn.AdaptiveMaxPool1d``'s op."""
    _refuse("adaptive_max_pool1d", return_indices=(return_indices, False))
    return adaptive_max_pool(_batched(input, 1, "adaptive_max_pool1d"), output_size)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """torch's ``F.adaptive_max_pool2d`` of (N, C, H, W) (``return_indices`` only False); ``nn.AdaptiveMaxPool2d``'s op."""
    _refuse("adaptive_max_pool2d", return_indices=(return_indices, False))
    return adaptive_max_pool(_batched(input, 2, "adaptive_max_pool2d"), output_size)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """torch's ``F.embedding``: the rows of ``weight`` (num_embeddings, embedding_dim) at the indices ``input``.

    Row ``padding_idx`` (negative counts from the end) gets no gradient; ``nn.Embedding``'s op.
    ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` only at their defaults.
    """
    _refuse("embedding", max_norm=(max_norm, None), scale_grad_by_freq=(scale_grad_by_freq, False),
            sparse=(sparse, False))
    weight = as_input(weight, None)
    if weight.data.ndim != 2:
        raise ConfigError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {weight.data.shape}")
    n = weight.data.shape[0]
    if padding_idx is not None:
        padding_idx = check_int("padding_idx", padding_idx, -n, n - 1, owner="embedding") % n
    return lookup(input, weight, padding_idx)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """torch's ``F.batch_norm`` of (N, C) or (N, C, *spatial), per channel C; ``nn.BatchNorm``'s op.

    In training mode the batch statistics normalize and ``running_mean`` / ``running_var``
    (Tensors or arrays of C values, or None) are updated in place, as torch does;
    in eval mode they normalize.  ``weight`` / ``bias`` None: 1 and 0.
    """
    x = as_input(input, None)
    if x.data.ndim < 2:
        raise ConfigError(f"batch_norm expects input (N, C, *spatial), got shape {x.data.shape}")
    C, dtype = x.data.shape[1], x.data.dtype
    if momentum is None:
        raise ConfigError("batch_norm: momentum=None (a cumulative average) is not supported; give a float in [0, 1]")
    running = [r.data if isinstance(r, Tensor) else r for r in (running_mean, running_var)]
    gamma, beta = (as_tensor(np.full(C, fill, dtype=dtype)) if p is None else as_input(p, x)
                   for p, fill in ((weight, 1.0), (bias, 0.0)))
    for name, value in (("running_mean", running[0]), ("running_var", running[1]), ("weight", gamma.data),
                        ("bias", beta.data)):
        if value is not None and np.shape(value) != (C,):
            raise ConfigError(f"batch_norm: {name} must have shape ({C},) for input {x.data.shape}, "
                              f"got {np.shape(value)}")

    options = (check_bool("training", training, owner="batch_norm"),
               check_float("momentum", momentum, 0.0, 1.0, owner="batch_norm"),
               check_float("eps", eps, 0.0, low_open=True, owner="batch_norm"))

    def normalize(z):
        return _batch_norm(z, gamma, beta, *running, *options)

    return normalize(x) if x.data.ndim == 2 else over_channels(x, normalize)


def dropout(input, p=0.5, training=True, inplace=False, *, rng=None):
    """torch's ``F.dropout``: ``p`` is the DROP probability, as in torch — ``dropout(x, 0.2)`` zeroes 20 %.

    Unlike ``nn.Dropout``, whose ``keep=`` is the notes' retain probability (``nn.Dropout(rate=0.2)``
    is this with p = 0.2).  Kept units are scaled by 1/(1 − p); ``training=False`` returns
    ``input``.  The mask is ``nn.Dropout``'s (``nnlab.random.bernoulli``), drawn from ``rng`` (an
    int seed or a Generator; None: nnlab's global generator, so ``nnlab.seed`` makes a run repeat).
    ``inplace`` only False.
    """
    p = check_float("p", p, 0.0, 1.0, owner="dropout")
    _refuse("dropout", inplace=(inplace, False))
    x = as_input(input, None)
    if not check_bool("training", training, owner="dropout") or p == 0.0:
        return x
    if p == 1.0:  # everything dropped: zeros, and a zero gradient (torch's result; keep = 0 has no 1/keep)
        return x * 0.0
    return inverted_dropout(x, 1.0 - p, _random.get_rng(rng), x.data.shape, "dropout")


def prelu(input, weight):
    """torch's ``F.prelu``: max(αx, x) with ``weight`` α of one slope, or C (one per channel, axis 1); ``nn.PReLU``'s op."""
    weight = as_input(weight, None)
    if weight.data.ndim > 1:
        raise ConfigError(f"prelu: weight must be 1-D (num_parameters,): one slope or one per channel, "
                          f"got shape {weight.data.shape}")
    x = as_input(input, weight)
    if x.data.dtype != weight.data.dtype:  # refused rather than computed in the wider dtype
        raise ConfigError(f"prelu: input is {x.data.dtype} but weight is {weight.data.dtype}; give both one dtype")
    return _prelu(x, weight)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """torch's ``F.cosine_similarity``: Σ (x1/‖x1‖)(x2/‖x2‖) along ``dim``, each norm at least ``eps``.

    Built from differentiable tensor ops (the norms are clipped below at ``eps``, as torch clamps them).
    """
    x1, x2 = as_input(x1, None), as_input(x2, None)
    units = [a / clip(norm(a, 2, dim, keepdims=True), eps) for a in (x1, x2)]
    return _sum(units[0] * units[1], dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """torch's ``F.pairwise_distance``: the p-norm of ``x1 − x2 + eps`` along the last axis (tensor ops)."""
    x1, x2 = as_input(x1, None), as_input(x2, None)
    return norm(x1 - x2 + eps, p, -1, keepdims=keepdim)
