"""Activation modules: Sigmoid Tanh ReLU LeakyReLU PReLU ELU Softmax Identity.

Each wraps one function of :mod:`nnlab.functional` (PReLU's op lives here,
since its α is a parameter).  FLOP counts per element follow the formula:
exp and tanh count as one operation each.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from .. import functional as F
from .._checks import check_dtype, check_float, check_int
from ..errors import ConfigError
from ..ops._broadcast import unbroadcast
from ..tensor import Tensor, as_tensor, make_result
from .module import Module, elements
from .parameter import Parameter

__all__ = ["Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "LogSoftmax", "Identity", "prelu"]


class _Elementwise(Module):
    """A parameter-free activation costing ``flops_per_element`` per element."""

    flops_per_element = 1

    def _count_flops(self, shape):
        return self.flops_per_element * elements(shape), shape

    def spec_args(self) -> dict:
        return {}


class _Configured(_Elementwise):
    """An activation ``fn(x, **settings)`` whose keyword settings are its spec and repr.

    A subclass with arguments checks them in its ``__init__`` into ``self.settings``;
    one without keeps the empty, read-only default.
    """

    fn = None
    settings = MappingProxyType({})

    def forward(self, x):
        return type(self).fn(x, **self.settings)

    def spec_args(self):
        return dict(self.settings)

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.settings.items())


class Identity(_Elementwise):
    """Returns its input unchanged."""

    flops_per_element = 0

    def forward(self, x):
        return x if isinstance(x, Tensor) else as_tensor(x)


class Sigmoid(_Elementwise):
    """σ(x) = 1/(1 + e^(−x)); saturates (gradient → 0) for large |x|."""

    flops_per_element = 4  # negate, exp, add, divide

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(_Elementwise):
    """tanh(x): zero-centred, saturates for large |x|."""

    def forward(self, x):
        return F.tanh(x)


class ReLU(_Elementwise):
    """max(0, x); gradient 1[x > 0]."""

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(_Configured):
    """max(αx, x) with the seeds' α = 0.01 by default (``negative_slope=``: PyTorch's and Keras's name for α)."""

    flops_per_element = 2  # multiply, max
    fn = staticmethod(F.leaky_relu)
    alpha = property(lambda self: self.settings["alpha"])
    negative_slope = alpha

    def __init__(self, alpha=None, *, negative_slope=None):
        super().__init__()
        if alpha is not None and negative_slope is not None:
            raise ConfigError(f"LeakyReLU: give alpha ({alpha!r}) or negative_slope ({negative_slope!r}), "
                              "not both: they are the same slope")
        name, value = ("negative_slope", negative_slope) if negative_slope is not None else ("alpha", alpha)
        value = 0.01 if value is None else value
        self.settings = {"alpha": check_float(name, value, 0.0, 1.0, high_open=True, owner="LeakyReLU")}


class ELU(_Configured):
    """x for x > 0, α(eˣ − 1) otherwise."""

    flops_per_element = 3  # exp, subtract, multiply
    fn = staticmethod(F.elu)
    alpha = property(lambda self: self.settings["alpha"])

    def __init__(self, alpha=1.0):
        super().__init__()
        self.settings = {"alpha": check_float("alpha", alpha, 0.0, owner="ELU")}


class Softmax(_Elementwise):
    """softmax(x / T) along ``axis`` with ``temperature=T``, or the notes' softmax(β·x) with ``beta=β``.

    The default is the usual softmax; giving both is an error (see :func:`nnlab.functional.softmax`).
    """

    def __init__(self, axis=-1, temperature=None, *, beta=None, dim=None):
        super().__init__()
        if dim is not None:  # PyTorch's name for the axis
            if axis != -1:
                raise ConfigError(f"{type(self).__name__}: give axis ({axis!r}) or PyTorch's dim ({dim!r}), not both")
            axis = dim
        self.axis = check_int("axis", axis, owner=type(self).__name__)
        F.input_scale(temperature, beta, type(self).__name__)  # validates both
        self.temperature = None if temperature is None else float(temperature)
        self.beta = None if beta is None else float(beta)

    fn = staticmethod(F.softmax)

    def forward(self, x):
        return type(self).fn(x, self.axis, self.temperature, beta=self.beta)

    def _scales(self) -> bool:
        return self.temperature not in (None, 1.0) or self.beta not in (None, 1.0)

    def _count_flops(self, shape):
        # max, subtract, exp, sum, divide (+ the β multiply)
        return (5 + self._scales()) * elements(shape), shape

    def spec_args(self):
        args = {"axis": self.axis}
        if self.temperature is not None:
            args["temperature"] = self.temperature
        if self.beta is not None:
            args["beta"] = self.beta
        return args

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.spec_args().items())


class LogSoftmax(Softmax):
    """log softmax(x / T) along ``axis`` (``dim=``, PyTorch's name), stable for large logits; see :class:`Softmax`."""

    fn = staticmethod(F.log_softmax)


def slope_shape(num_parameters: int, shape) -> tuple:
    """The shape PReLU's ``num_parameters`` slopes take to broadcast over an input of ``shape``.

    One slope covers any shape; C slopes lie on the channel axis, axis 1, as in
    PyTorch's PReLU: (N, C), (N, C, L), (N, C, H, W).  An input of fewer than
    two axes has no channel axis (PyTorch counts it as one channel).
    """
    shape = tuple(shape)
    if num_parameters == 1:
        return ()
    if len(shape) < 2 or shape[1] != num_parameters:
        there = (f"{shape[1]} channels on axis 1; give num_parameters={shape[1]} or 1" if len(shape) >= 2
                 else "no channel axis (fewer than 2 axes); give num_parameters=1")
        raise ConfigError(f"PReLU with num_parameters={num_parameters} puts one slope per channel on axis 1 of an "
                          f"(N, C, ...) input, as PyTorch's PReLU, but input shape {shape} has {there}")
    return (num_parameters,) + (1,) * (len(shape) - 2)


def prelu(x, alpha):
    """max(αx, x) elementwise, α one slope or one per channel (axis 1: :func:`slope_shape`), with a gradient."""
    X = x.data
    A = alpha.data.reshape(slope_shape(alpha.data.size, X.shape))  # a view: (C, 1, ..., 1) against (N, C, ...)
    positive = X > 0
    out = np.where(positive, X, A * X)
    rx, ra = x.requires_grad, alpha.requires_grad

    def backward(g):
        zero = g.dtype.type(0)
        gX = np.where(positive, g, A * g) if rx else None
        # α's gradient sums over every axis but the channel axis (all of them for one slope)
        gA = unbroadcast(np.where(positive, zero, g * X), A.shape).reshape(alpha.data.shape) if ra else None
        return gX, gA

    return make_result(out, (x, alpha), backward)


class PReLU(Module):
    """The seeds' parametric ReLU max(αx, x), α learned by backprop (parameter ``alpha``).

    ``num_parameters=1`` shares one α over every element of any input;
    ``num_parameters=C`` gives one α per channel, axis 1, as PyTorch's PReLU:
    per feature of (N, C), per channel of (N, C, L) or (N, C, H, W) (after a
    Conv1d / Conv2d), shared over the batch and the positions.  An input whose
    axis 1 is not C is refused with a ConfigError.
    """

    def __init__(self, init=0.25, num_parameters=1, dtype=np.float32):
        super().__init__()
        # Not stored as ``num_parameters``: that name is Module.num_parameters().
        self.num_alphas = check_int("num_parameters", num_parameters, 1, owner="PReLU")
        self.init = check_float("init", init, owner="PReLU")
        self.alpha = Parameter(np.full(self.num_alphas, self.init), dtype=check_dtype(dtype, owner="PReLU"))

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = as_tensor(x, like=self.alpha)
        return prelu(x, self.alpha)

    def _count_flops(self, shape):
        slope_shape(self.num_alphas, shape)  # refuse a shape the forward pass would refuse
        return 2 * elements(shape), shape

    def spec_args(self):
        return {"init": self.init, "num_parameters": self.num_alphas, "dtype": self.alpha.data.dtype.name}

    def extra_repr(self):
        return f"num_parameters={self.num_alphas}"

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        return {"alpha": (check_int("num_parameters", args.get("num_parameters", 1), 1, owner="PReLU"),)}
