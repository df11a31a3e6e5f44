"""Converters for torch's remaining activations, each from standard ONNX ops at opset 17 (registered into
:mod:`._layers`' table): LogSigmoid, Softmin, Hardshrink, Softshrink, Tanhshrink, Threshold, GLU and RReLU."""

from __future__ import annotations

from ..nn import activations_extra as act
from ._layers import leaf


@leaf(act.LogSigmoid)
def _logsigmoid(m, g, x, value):
    # log σ(x) = −softplus(−x): onnxruntime's Softplus is the stable max(z, 0) + log1p(e^(−|z|)) form
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x], "negated")])], "logsigmoid")


@leaf(act.Softmin)
def _softmin(m, g, x, value):
    from ..functional import input_scale

    # softmax(−s·x): the input scale of temperature= or beta= with its sign flipped, one Mul
    scaled = g.op("Mul", [x, g.scalar(-input_scale(m.temperature, m.beta, "Softmin"), "softmin_scale")], "scaled")
    return g.op("Softmax", [scaled], "softmin", axis=m.axis)


@leaf(act.Hardshrink, act.Softshrink)
def _shrink(m, g, x, value):
    # Shrink: x − bias above λ, x + bias below −λ, 0 between (λ itself included, as nnlab and PyTorch)
    bias = m.lambd if type(m) is act.Softshrink else 0.0
    return g.op("Shrink", [x], type(m).__name__.lower(), lambd=m.lambd, bias=bias)


@leaf(act.Tanhshrink)
def _tanhshrink(m, g, x, value):
    return g.op("Sub", [x, g.op("Tanh", [x])], "tanhshrink")


@leaf(act.Threshold)
def _threshold(m, g, x, value):
    above = g.op("Greater", [x, g.scalar(m.threshold, "threshold")], "above")
    return g.op("Where", [above, x, g.scalar(m.value, "threshold_value")], "threshold")


@leaf(act.GLU)
def _glu(m, g, x, value):
    from ..ops.activations_more import glu_axis

    a, b = g.split(x, 2, glu_axis(m.dim, value.shape, "GLU"), "glu_half")  # an odd size is refused here, named
    return g.op("Mul", [a, g.op("Sigmoid", [b], "gate")], "glu")


@leaf(act.RReLU)
def _rrelu(m, g, x, value):
    # export traces eval mode, where the slope is fixed at the mean; the training-mode draws have no graph form
    return g.op("LeakyRelu", [x], "rrelu", alpha=(m.lower + m.upper) / 2)
