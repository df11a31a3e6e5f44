"""Converters for the convolution family's extra layers: transposed convolution, adaptive max pooling,
constant padding, upsampling and channel dropout (registered into :mod:`._layers`' table)."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..errors import ConfigError
from ._layers import _identity, leaf

leaf(nn.Dropout1d, nn.Dropout2d)(_identity)  # eval mode: channel dropout is the identity, like Dropout


@leaf(nn.ConvTranspose1d, nn.ConvTranspose2d)
def _conv_transpose(m, g, x, value):
    # ONNX's ConvTranspose weight is PyTorch's (C_in, C_out/groups, k…), and its output size rule is PyTorch's
    inputs = [x, g.const(m.weight.data, "conv_transpose_weight")]
    if m.bias is not None:
        inputs.append(g.const(m.bias.data, "conv_transpose_bias"))
    return g.op("ConvTranspose", inputs, "conv_transpose", kernel_shape=list(m.kernel_size), strides=list(m.stride),
                pads=list(m.padding) * 2, output_padding=list(m.output_padding), dilations=list(m.dilation),
                group=m.groups)


@leaf(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def _adaptive_max_pool(m, g, x, value):
    if all(o == 1 for o in m.output_size):
        return g.op("GlobalMaxPool", [x], "global_max_pool")
    spatial = value.shape[2:]
    if any(s % o for s, o in zip(spatial, m.output_size)):
        raise ConfigError(f"nnlab.onnx.export: {type(m).__name__}(output_size={m.output_size}) on spatial shape "
                          f"{tuple(spatial)} has bins of unequal sizes, which no ONNX pooling op computes; export "
                          "an input whose spatial sizes are multiples of output_size (or output_size=1)")
    window = [s // o for s, o in zip(spatial, m.output_size)]  # equal bins: a max pool with stride = kernel
    return g.op("MaxPool", [x], "adaptive_max_pool", kernel_shape=window, strides=window)


@leaf(nn.ConstantPad1d, nn.ConstantPad2d, nn.ZeroPad1d, nn.ZeroPad2d)
def _constant_pad(m, g, x, value):
    rank = value.ndim
    before, after = [0] * rank, [0] * rank
    for k in range(m.dims):  # PyTorch's padding lists the last axis first
        before[rank - 1 - k], after[rank - 1 - k] = m.padding[2 * k], m.padding[2 * k + 1]
    return g.op("Pad", [x, g.ints(before + after, "pads"), g.scalar(m.value, "pad_value")], "pad", mode="constant")


@leaf(nn.Upsample)
def _upsample(m, g, x, value):
    sizes, scales = m.plan(value.shape)
    if m.mode == "nearest":  # "asymmetric" coordinates and floor rounding: output j reads input ⌊j / scale⌋
        how = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:  # PyTorch's source coordinates: (j + ½)/scale − ½ (clamped at the edges), or j·(S − 1)/(O − 1)
        how = dict(mode="linear", coordinate_transformation_mode="align_corners" if m.align_corners
                   else "pytorch_half_pixel")
    if scales[0] is not None:  # PyTorch reads with 1/scale_factor itself, so the graph gets the factors
        factors = g.const(np.asarray([1.0, 1.0] + list(scales), dtype=np.float32), "scales", dtype=np.float32)
        inputs = [x, "", factors]
    else:  # the sizes, with the (dynamic) batch and channel sizes taken from the input
        lead = g.op("Shape", [x], "lead_shape", start=0, end=2)
        inputs = [x, "", "", g.op("Concat", [lead, g.ints(list(sizes), "sizes")], "out_shape", axis=0)]
    return g.op("Resize", inputs, "upsample", **how)
