"""One converter per nnlab layer type: the ONNX nodes that compute what the layer's eval-mode forward computes.

A leaf converter ``f(layer, graph, x, value) -> name`` adds the nodes for input
tensor ``x`` (whose example value, an ndarray, gives the static sizes a
reshape needs) and returns its output's name.  A container converter also
gets ``emit`` (convert a child) and returns ``(name, value)``.  Both tables
are keyed by the exact class, so a subclass (whose forward may differ) is
refused rather than exported as its parent.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ensemble, nn
from ..errors import ConfigError
from ..nn import activations_extra
from ..nn.activations import slope_shape
from ..nn.sparsity import ActivityRegularization
from ..ops.activations import SELU_ALPHA, SELU_SCALE
from ..ops.pool import _bins

LEAVES: dict = {}
CONTAINERS: dict = {}
#: registered layer types with no conversion, and why: export names the layer and the reason
_ONE_STEP = ("it is one step of a recurrence that the module around it loops over in Python, carrying the state "
             "itself; a graph of that one step would not be the model. Export nn.RNN, nn.LSTM or nn.GRU over the "
             "whole sequence instead (the same weights: weight_ih_l0 is the cell's weight_ih)")
NOT_EXPORTABLE: dict = {nn.RNNCell: _ONE_STEP, nn.LSTMCell: _ONE_STEP, nn.GRUCell: _ONE_STEP}


def leaf(*classes):
    def add(fn):
        for cls in classes:
            LEAVES[cls] = fn
        return fn

    return add


def container(cls):
    def add(fn):
        CONTAINERS[cls] = fn
        return fn

    return add


# ------------------------------------------------------------------ identities
@leaf(nn.Identity, nn.Dropout, nn.GaussianNoise, ActivityRegularization)
def _identity(m, g, x, value):
    return x  # eval mode: noise and dropout are the identity, the activity penalty records nothing


# ---------------------------------------------------------------- affine layers
def _affine(g, x, weight, bias, transpose=False):
    w = g.const(weight.data, "weight")
    if transpose:  # TiedLinear: the encoder's initializer, transposed in the graph (stored once)
        w = g.op("Transpose", [w], "weight_t", perm=[1, 0])
    y = g.op("MatMul", [x, w], "matmul")
    return y if bias is None else g.op("Add", [y, g.const(bias.data, "bias")], "linear")


@leaf(nn.Linear)
def _linear(m, g, x, value):
    return _affine(g, x, m.weight, m.bias)


@leaf(nn.Embedding)
def _embedding(m, g, x, value):
    # The graph's input is float (nnlab's datasets hold float32 features): whole numbers, cast to indices.
    idx = g.op("Cast", [x], "indices", to=7)  # 7: TensorProto.INT64
    return g.op("Gather", [g.const(m.weight.data, "embeddings"), idx], "embedding", axis=0)


@leaf(nn.TiedLinear)
def _tied_linear(m, g, x, value):
    return _affine(g, x, m.weight, m.bias, transpose=True)


@leaf(nn.Maxout)
def _maxout(m, g, x, value):
    z = _affine(g, x, m.weight, m.bias)
    # column p·out + j is piece p of unit j: (..., pieces·out) -> (..., pieces, out), max over pieces
    shape = g.ints([0] * (value.ndim - 1) + [m.pieces, m.out_features])
    pieces = g.op("Reshape", [z, shape], "pieces")
    return g.op("ReduceMax", [pieces], "maxout", axes=[-2], keepdims=0)


# ------------------------------------------------------------------ activations
_SIMPLE = {nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh", nn.ReLU: "Relu", activations_extra.Softsign: "Softsign",
           activations_extra.Hardswish: "HardSwish"}


@leaf(*_SIMPLE)
def _simple(m, g, x, value):
    return g.op(_SIMPLE[type(m)], [x])


@leaf(nn.LeakyReLU)
def _leaky_relu(m, g, x, value):
    return g.op("LeakyRelu", [x], alpha=m.alpha)


@leaf(nn.ELU)
def _elu(m, g, x, value):
    return g.op("Elu", [x], alpha=m.alpha)


@leaf(nn.PReLU)
def _prelu(m, g, x, value):
    # ONNX broadcasts the slope from the trailing axes: per-channel α is stored (C, 1, ..., 1) for
    # this input's rank (fixed at export), so it lands on axis 1 as nnlab's.
    shape = slope_shape(m.num_alphas, value.shape) or (1,)
    alpha = m.alpha.data if shape == m.alpha.data.shape else m.alpha.data.reshape(shape)
    return g.op("PRelu", [x, g.const(alpha, "alpha")])


@leaf(nn.Softmax, nn.LogSoftmax)
def _softmax(m, g, x, value):
    from ..functional import input_scale

    scale = input_scale(m.temperature, m.beta, type(m).__name__)
    if scale != 1.0:
        x = g.op("Mul", [x, g.scalar(scale, "softmax_scale")], "scaled")
    return g.op(type(m).__name__, [x], axis=m.axis)  # the ONNX ops share the layers' names


@leaf(activations_extra.GELU)
def _gelu(m, g, x, value):
    half = g.scalar(0.5, "half")
    one = g.scalar(1.0, "one")
    if m.settings["approximate"] == "tanh":  # ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x], "cube")
        inner = g.op("Add", [x, g.op("Mul", [cube, g.scalar(0.044715)])])
        gate = g.op("Tanh", [g.op("Mul", [inner, g.scalar(math.sqrt(2 / math.pi))])])
    else:  # x·½(1 + erf(x/√2))
        gate = g.op("Erf", [g.op("Mul", [x, g.scalar(1 / math.sqrt(2))])])
    cdf = g.op("Mul", [g.op("Add", [gate, one]), half], "cdf")
    return g.op("Mul", [x, cdf], "gelu")


@leaf(activations_extra.SiLU)
def _silu(m, g, x, value):
    return g.op("Mul", [x, g.op("Sigmoid", [x])], "silu")


@leaf(activations_extra.Softplus)
def _softplus(m, g, x, value):
    # (1/β)·log(1 + e^(βx)), and x itself where βx > threshold (PyTorch's rule, as nnlab)
    beta = g.scalar(m.settings["beta"], "softplus_beta")
    bx = g.op("Mul", [x, beta], "bx")
    smooth = g.op("Div", [g.op("Softplus", [bx]), beta])
    linear = g.op("Greater", [bx, g.scalar(m.settings["threshold"], "threshold")], "linear")
    return g.op("Where", [linear, x, smooth], "softplus")


@leaf(activations_extra.SELU)
def _selu(m, g, x, value):
    return g.op("Selu", [x], alpha=SELU_ALPHA, gamma=SELU_SCALE)


@leaf(activations_extra.CELU)
def _celu(m, g, x, value):
    return g.op("Celu", [x], alpha=m.settings["alpha"])


@leaf(activations_extra.ReLU6, activations_extra.Hardtanh)
def _clip(m, g, x, value):
    low, high = (0.0, 6.0) if type(m) is activations_extra.ReLU6 else (m.settings["min_val"], m.settings["max_val"])
    return g.op("Clip", [x, g.scalar(low, "low"), g.scalar(high, "high")])


@leaf(activations_extra.Hardsigmoid)
def _hardsigmoid(m, g, x, value):
    return g.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)


@leaf(activations_extra.Mish)
def _mish(m, g, x, value):
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])], "mish")  # ONNX's Mish op needs opset 18


# ---------------------------------------------------------------- normalization
@leaf(nn.BatchNorm, nn.BatchNorm1d, nn.BatchNorm2d)
def _batch_norm(m, g, x, value):
    # Eval mode, running statistics; ONNX normalizes axis 1 of (N, C, ...), nnlab's channel (or feature) axis.
    inputs = [x] + [g.const(a, n) for a, n in ((m.gamma.data, "gamma"), (m.beta.data, "beta"),
                                               (m.running_mean, "running_mean"), (m.running_var, "running_var"))]
    return g.op("BatchNormalization", inputs, "batch_norm", epsilon=m.eps)


@leaf(nn.LayerNorm)
def _layer_norm(m, g, x, value):
    # LayerNormalization normalizes axes [axis, rank): the trailing normalized_shape; its Scale is required
    shape = m.normalized_shape
    scale = m.weight.data if m.weight is not None else np.ones(shape)
    inputs = [x, g.const(scale, "ln_weight")] + ([g.const(m.bias.data, "ln_bias")] if m.bias is not None else [])
    return g.op("LayerNormalization", inputs, "layer_norm", axis=-len(shape), epsilon=m.eps)


@leaf(nn.GroupNorm)
def _group_norm(m, g, x, value):
    # GroupNormalization needs opset 18: (N, G, rest) normalized per (sample, group) by InstanceNormalization
    # with unit scale and zero shift, back to the input's shape, then the per-channel weight and bias.
    groups = m.num_groups
    grouped = g.op("Reshape", [x, g.ints([0, groups, -1])], "groups")
    unit = [g.const(np.ones(groups), "gn_ones"), g.const(np.zeros(groups), "gn_zeros")]
    y = g.op("InstanceNormalization", [grouped] + unit, "group_norm", epsilon=m.eps)
    y = g.op("Reshape", [y, g.ints([0] + list(value.shape[1:]))], "ungrouped")
    per_channel = (m.num_channels,) + (1,) * (value.ndim - 2)  # broadcast from the trailing axes onto axis 1
    if m.weight is not None:
        y = g.op("Mul", [y, g.const(m.weight.data.reshape(per_channel), "gn_weight")], "gn_scaled")
    if m.bias is not None:
        y = g.op("Add", [y, g.const(m.bias.data.reshape(per_channel), "gn_bias")], "gn_shifted")
    return y


# ---------------------------------------------------------- convolution, pooling
def _window(m, pads=None):
    pads = m._pads if pads is None else pads
    return {"kernel_shape": list(m.kernel_size), "strides": list(m.stride),
            "pads": [lo for lo, _ in pads] + [hi for _, hi in pads]}


@leaf(nn.Conv1d, nn.Conv2d)
def _conv(m, g, x, value):
    pads = m._pads
    if m.padding_mode != "zeros" and any(lo or hi for lo, hi in pads):  # the input padded first, as nnlab does
        onnx_pads = [0, 0] + [lo for lo, _ in pads] + [0, 0] + [hi for _, hi in pads]
        mode = "edge" if m.padding_mode == "replicate" else m.padding_mode
        x = g.op("Pad", [x, g.ints(onnx_pads, "conv_pads")], "conv_padded", mode=mode)
        pads = [(0, 0)] * len(pads)
    inputs = [x, g.const(m.weight.data, "conv_weight")]
    if m.bias is not None:
        inputs.append(g.const(m.bias.data, "conv_bias"))
    return g.op("Conv", inputs, "conv", dilations=list(m.dilation), group=m.groups, **_window(m, pads))


@leaf(nn.MaxPool1d, nn.MaxPool2d)
def _max_pool(m, g, x, value):
    # padding never wins a max, as nnlab's −∞; ONNX's ceil mode has PyTorch's output size rule
    return g.op("MaxPool", [x], "max_pool", ceil_mode=int(m.ceil_mode), dilations=list(m.dilation), **_window(m))


@leaf(nn.AvgPool1d, nn.AvgPool2d)
def _avg_pool(m, g, x, value):
    if m.divisor_override is not None:
        raise ConfigError(f"nnlab.onnx.export: {type(m).__name__}(divisor_override={m.divisor_override}) has no "
                          "ONNX form (AveragePool divides by the window's element count); export a model built "
                          "with divisor_override=None")
    return g.op("AveragePool", [x], "avg_pool", ceil_mode=int(m.ceil_mode),
                count_include_pad=int(m.count_include_pad), **_window(m))


@leaf(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def _adaptive_avg_pool(m, g, x, value):
    if all(o == 1 for o in m.output_size):
        return g.op("GlobalAveragePool", [x], "global_avg_pool")
    # nnlab's separable form: along each spatial axis, a product with the fixed (out, size) bin matrix
    rank = value.ndim
    for k, (size, out) in enumerate(zip(value.shape[2:], m.output_size)):
        axis = 2 + k
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        moved = g.op("Transpose", [x], "to_last", perm=perm) if axis != rank - 1 else x
        pooled = g.op("MatMul", [moved, g.const(_bins(size, out, g.dtype).T, "bins")], "bin_means")
        x = g.op("Transpose", [pooled], "from_last", perm=perm) if axis != rank - 1 else pooled
    return x


# -------------------------------------------------------------------- reshapes
def _reshape(g, x, target, batch_kept: bool):
    # 0 copies the (dynamic) batch size; the other sizes are fixed by the example input
    dims = ([0] + list(target[1:])) if batch_kept else [-1] + list(target[1:])
    return g.op("Reshape", [x, g.ints(dims)], "reshape")


@leaf(nn.Flatten)
def _flatten(m, g, x, value):
    return _reshape(g, x, m._target(value.shape), batch_kept=m.start_dim % value.ndim > 0)


@leaf(nn.Unflatten)
def _unflatten(m, g, x, value):
    return _reshape(g, x, m._target(value.shape), batch_kept=m.dim % value.ndim > 0)


# ------------------------------------------------------------------- containers
@container(nn.Sequential)
def _sequential(m, g, x, value, emit):
    for layer in m:
        x, value = emit(layer, x, value)
    return x, value


@container(nn.Residual)
def _residual(m, g, x, value, emit):
    y, inner = emit(m.module, x, value)
    return g.op("Add", [x, y], "residual"), value + inner


@container(ensemble.Ensemble)
def _ensemble(m, g, x, value, emit):
    outs, values = [], []
    for i, member in enumerate(m.members):
        cols, cols_value = x, value
        if m.features is not None:
            cols = g.op("Gather", [x, g.ints(m.features[i], "columns")], "member_input", axis=1)
            cols_value = value[:, m.features[i]]
        out, out_value = emit(member, cols, cols_value)
        outs.append(out)
        values.append(out_value)
    if m.voting == "mean":
        combined = g.op("Mean", outs, "ensemble_mean")
    else:
        if m.voting == "soft":
            parts = [g.op("Softmax", [o], "member_probabilities", axis=1) for o in outs]
        else:  # the fraction of members voting for each class (argmax: first maximum, as NumPy)
            classes = g.ints(np.arange(values[0].shape[1])[None, :], "classes")
            parts = [g.op("Cast", [g.op("Equal", [g.op("ArgMax", [o], "vote", axis=1, keepdims=1), classes])],
                          "votes", to=g.elem) for o in outs]
        mean = g.op("Mean", parts, "ensemble_mean")
        combined = g.op("Log", [g.op("Max", [mean, g.scalar(1e-12, "floor")])], "ensemble_log")
    return combined, None  # the ensemble's own value is recomputed by the caller


try:  # multi-task models (nnlab.nn.MultiHead): one graph output per task
    from ..nn.multihead import Heads, MultiHead
except ImportError:  # an nnlab without multi-task models
    Heads = MultiHead = None

if MultiHead is not None:
    @container(MultiHead)
    def _multi_head(m, g, x, value, emit):
        h, h_value = emit(m.trunk, x, value)
        return emit(m.heads, h, h_value)

    @container(Heads)
    def _heads(m, g, x, value, emit):
        outs, values = {}, {}
        for task, head in m._modules.items():
            outs[task], values[task] = emit(head, x, value)
        return outs, values
