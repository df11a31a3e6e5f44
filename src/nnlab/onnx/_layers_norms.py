"""Converters for InstanceNorm1d, InstanceNorm2d and RMSNorm, from standard ONNX ops at opset 17 (registered into
:mod:`._layers`' table).

Export traces eval mode: an instance norm without running statistics is ONNX's
InstanceNormalization (each (sample, channel) over its positions); one with
``track_running_stats`` normalizes with its running statistics, BatchNormalization's
eval form.  RMSNormalization needs opset 23, so RMSNorm is x / √(ReduceMean(x·x) + ε) · w.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..nn.instance_norm import InstanceNorm1d, InstanceNorm2d
from ..nn.rms_norm import RMSNorm
from ._layers import leaf


@leaf(InstanceNorm1d, InstanceNorm2d)
def _instance_norm(m, g, x, value):
    if value.ndim != m.spatial + 2:  # the graph's first axis is the batch: an unbatched input has none to keep
        raise ConfigError(f"nnlab.onnx.export: {type(m).__name__} exports batched input {m.layouts.split(' or ')[0]} "
                          f"only, got input shape {value.shape}")
    c = value.shape[1]  # num_features, or the input's channels where neither weight nor running statistics fix it
    scale = g.const(m.weight.data if m.weight is not None else np.ones(c), "in_weight")
    shift = g.const(m.bias.data if m.bias is not None else np.zeros(c), "in_bias")
    if m.track_running_stats:
        stats = [g.const(m.running_mean, "in_running_mean"), g.const(m.running_var, "in_running_var")]
        return g.op("BatchNormalization", [x, scale, shift] + stats, "instance_norm", epsilon=m.eps)
    return g.op("InstanceNormalization", [x, scale, shift], "instance_norm", epsilon=m.eps)


@leaf(RMSNorm)
def _rms_norm(m, g, x, value):
    axes = list(range(-len(m.normalized_shape), 0))
    mean_square = g.op("ReduceMean", [g.op("Mul", [x, x], "squares")], "mean_square", axes=axes, keepdims=1)
    rms = g.op("Sqrt", [g.op("Add", [mean_square, g.scalar(m.resolved_eps(), "rms_eps")], "mean_square_eps")], "rms")
    y = g.op("Div", [x, rms], "rms_normalized")
    return y if m.weight is None else g.op("Mul", [y, g.const(m.weight.data, "rms_weight")], "rms_norm")
