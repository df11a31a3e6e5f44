"""Layers: Linear, Sequential, Residual, Maxout, BatchNorm, Dropout, GaussianNoise, TiedLinear.

Inputs are row-major batches, features on the last axis: ``(N, features)``.
Layers with parameters take ``dtype`` (float32 by default; float64 for
gradient checks, or convert a built model with ``model.double()``) and draw
their initial values from ``rng`` (a Generator, an int seed, or None for the
global generator that ``nnlab.seed`` resets).
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from ..errors import ConfigError
from ..ops.fused import batch_norm, linear, linear_t, maxout
from ..tensor import Tensor, as_tensor, make_result
from . import init as _init
from .module import Module, Parameter, elements

__all__ = [
    "Linear",
    "Sequential",
    "Residual",
    "Maxout",
    "BatchNorm",
    "Dropout",
    "GaussianNoise",
    "TiedLinear",
]


# --------------------------------------------------------------- validation
def check_int(layer: str, name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{layer}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(layer: str, name: str, value, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite number within [low, high] (open ends where asked)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{layer}: {name} must be a number, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        span = f" in {lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ConfigError(f"{layer}: {name} must be a finite number{span}, got {value!r}")
    return value


def check_bool(layer: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{layer}: {name} must be true or false, got {value!r}")
    return bool(value)


def check_dtype(layer: str, dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"{layer}: unknown dtype {dtype!r}; use float32 or float64") from None
    if dtype.kind != "f":
        raise ConfigError(f"{layer}: dtype must be floating (float32 or float64), got {dtype}")
    return dtype


def make_parameter(layer: str, name: str, initializer, shape, rng, dtype) -> Parameter:
    """Draw ``shape`` from an initializer given by name, config dict or callable."""
    try:
        fn = _init.get(initializer)
    except ConfigError as exc:
        raise ConfigError(f"{layer}: {name}: {exc}") from None
    values = np.asarray(fn(shape, rng=rng, dtype=dtype))
    if values.shape != tuple(shape):
        raise ConfigError(f"{layer}: {name} initializer returned shape {values.shape}, expected {tuple(shape)}")
    return Parameter(values, dtype=dtype)


def init_config(layer: str, name: str, initializer):
    """What a spec stores for an initializer; a custom callable cannot be stored."""
    config = _init.to_config(initializer)
    if config is None:
        import warnings

        warnings.warn(
            f"{layer}: {name} is a custom callable that a spec cannot store; the spec records the default "
            "(the trained values travel in the state dict)",
            stacklevel=3,
        )
    return config


def _input(x, like: Tensor) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x, like=like)


def _features_input(x, like: Tensor, layer: str, features: int) -> Tensor:
    """``x`` as a Tensor of ``like``'s dtype, with ``features`` on its last axis."""
    if not isinstance(x, Tensor):
        x = as_tensor(x, like=like)
    if x.data.shape[-1:] != (features,):
        _check_features(layer, x.data.shape, features)
    return x


def _affine_flops(layer: str, shape, in_features: int, out_features: int, bias: bool):
    """x @ W (+ b): 2·in·out per row, plus out for the bias."""
    _check_features(layer, shape, in_features)
    n = elements(shape[:-1])
    return n * (2 * in_features * out_features + (out_features if bias else 0)), shape[:-1] + (out_features,)


def _check_features(layer: str, shape, expected: int) -> None:
    if not shape or shape[-1] != expected:
        raise ConfigError(f"{layer} expects {expected} features on the last axis, got input shape {tuple(shape)}")


def _affine_setup(layer, name, in_features, out_features, pieces, bias, weight_init, bias_init, rng, dtype):
    """Validate and create ``weight`` (in, pieces·out) and ``bias`` (pieces·out,) of an affine layer."""
    layer.in_features = check_int(name, "in_features", in_features)
    layer.out_features = check_int(name, "out_features", out_features)
    bias = check_bool(name, "bias", bias)
    dtype = check_dtype(name, dtype)
    layer.weight_init, layer.bias_init = weight_init, bias_init
    gen = _random.get_rng(rng)
    width = pieces * layer.out_features
    layer.weight = make_parameter(name, "weight_init", weight_init, (layer.in_features, width), gen, dtype)
    layer.bias = make_parameter(name, "bias_init", bias_init, (width,), gen, dtype) if bias else None


def _affine_spec(layer, name) -> dict:
    return {
        "in_features": layer.in_features,
        "out_features": layer.out_features,
        "bias": layer.bias is not None,
        "weight_init": init_config(name, "weight_init", layer.weight_init),
        "bias_init": init_config(name, "bias_init", layer.bias_init),
        "dtype": layer.weight.data.dtype.name,
    }


# -------------------------------------------------------------------- Linear
class Linear(Module):
    """Affine map y = x @ W + b with ``weight`` of shape (in_features, out_features).

    Default initialization is the seeds' rule, ``lecun_normal``: a unit
    Gaussian scaled by 1/√in_features, and zero bias.  (PyTorch draws both
    from U(±1/√in_features) instead.)  For ReLU layers ``weight_init="he_normal"``
    and the seeds' ``bias_init=nnlab.init.constant(0.01)`` are the usual choice.
    Forward and backward are one fused op; no input gradient is computed
    for a data batch.

    >>> import nnlab
    >>> layer = Linear(3, 2, rng=0)
    >>> layer.weight.shape, layer(nnlab.tensor([[1.0, 2.0, 3.0]])).shape
    ((3, 2), (1, 2))
    """

    def __init__(
        self,
        in_features,
        out_features,
        bias=True,
        weight_init="lecun_normal",
        bias_init="zeros",
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        _affine_setup(self, "Linear", in_features, out_features, 1, bias, weight_init, bias_init, rng, dtype)

    def forward(self, x):
        return linear(_features_input(x, self.weight, "Linear", self.in_features), self.weight, self.bias)

    def _count_flops(self, shape):
        return _affine_flops("Linear", shape, self.in_features, self.out_features, self.bias is not None)

    def spec_args(self) -> dict:
        return _affine_spec(self, "Linear")

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# ---------------------------------------------------------------- containers
class Sequential(Module):
    """Modules applied in order; registered as "0", "1", … (so state-dict keys read "0.weight").

    >>> model = Sequential(Linear(4, 3, rng=0), Linear(3, 2, rng=1))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        self.__dict__["_layers"] = []
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "Sequential":
        if not isinstance(module, Module):
            raise ConfigError(f"Sequential holds Modules, got {type(module).__name__}")
        setattr(self, str(len(self._layers)), module)
        self._layers.append(module)
        return self

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def _flops(self, shape, name, rows):
        for i, layer in enumerate(self._layers):
            shape = layer._flops(shape, f"{name}.{i}" if name else str(i), rows)
        return shape


class Residual(Module):
    """The seeds' skip connection: y = x + f(x); f must keep the shape of x."""

    def __init__(self, module):
        super().__init__()
        if not isinstance(module, Module):
            raise ConfigError(f"Residual wraps a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x):
        return x + self.module(x)

    def _flops(self, shape, name, rows):
        inner = self.module._flops(shape, f"{name}.module" if name else "module", rows)
        if tuple(inner) != tuple(shape):
            raise ConfigError(f"Residual: the wrapped module maps shape {shape} to {inner}; it must keep the shape")
        rows.append({"name": name, "type": "Residual", "flops": elements(shape), "output_shape": tuple(shape)})
        return shape


# -------------------------------------------------------------------- Maxout
class Maxout(Module):
    """The seeds' maxout neuron: each output unit is the maximum of ``pieces`` affine maps of x.

    ``weight`` is (in_features, pieces·out_features) and ``bias`` (pieces·out_features,):
    column p·out_features + j is piece p of unit j (a Linear with pieces·out
    outputs followed by a max over groups).  One fused op forward and backward.
    """

    def __init__(
        self,
        in_features,
        out_features,
        pieces=2,
        bias=True,
        weight_init="lecun_normal",
        bias_init="zeros",
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        self.pieces = check_int("Maxout", "pieces", pieces)
        _affine_setup(self, "Maxout", in_features, out_features, self.pieces, bias, weight_init, bias_init, rng, dtype)

    def forward(self, x):
        return maxout(_features_input(x, self.weight, "Maxout", self.in_features), self.weight, self.bias, self.pieces)

    def _count_flops(self, shape):
        _check_features("Maxout", shape, self.in_features)
        n = elements(shape[:-1])
        width = self.pieces * self.out_features
        bias = n * width if self.bias is not None else 0
        compare = n * (self.pieces - 1) * self.out_features
        return 2 * n * self.in_features * width + bias + compare, shape[:-1] + (self.out_features,)

    def spec_args(self) -> dict:
        return {**_affine_spec(self, "Maxout"), "pieces": self.pieces}

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
            f"bias={self.bias is not None}"
        )


# ----------------------------------------------------------------- BatchNorm
class BatchNorm(Module):
    """Batch normalization of (N, C) inputs (any leading axes; features last), fused forward/backward.

    Training mode normalizes with the mini-batch mean and biased variance,
    then scales by ``gamma`` and shifts by ``beta`` (the seeds' algorithm), and
    updates the buffers ``running_mean`` / ``running_var`` as PyTorch's
    BatchNorm1d does: momentum is the weight of the new batch statistic and
    the variance enters unbiased.  Eval mode normalizes with the buffers.
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.num_features = check_int("BatchNorm", "num_features", num_features)
        self.momentum = check_float("BatchNorm", "momentum", momentum, 0.0, 1.0)
        self.eps = check_float("BatchNorm", "eps", eps, 0.0, low_open=True)
        dtype = check_dtype("BatchNorm", dtype)
        self.gamma = Parameter(np.ones(self.num_features), dtype=dtype)
        self.beta = Parameter(np.zeros(self.num_features), dtype=dtype)
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))

    def forward(self, x):
        x = _features_input(x, self.gamma, "BatchNorm", self.num_features)
        return batch_norm(
            x, self.gamma, self.beta, self.running_mean, self.running_var, self.training, self.momentum, self.eps
        )

    def _count_flops(self, shape):
        _check_features("BatchNorm", shape, self.num_features)
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


# ------------------------------------------------------------ noise layers
class _Random(Module):
    """A layer that draws from its own generator at every training-mode call."""

    def __init__(self, rng):
        super().__init__()
        # None: resolved at each call, so a later nnlab.seed(n) reaches this layer too.
        self._generator = None if rng is None else _random.get_rng(rng)

    @property
    def generator(self) -> np.random.Generator:
        return _random.get_rng(self._generator)

    def reseed(self, rng) -> None:
        """Replace the generator (an int seed, a Generator, or None for the global one)."""
        self._generator = None if rng is None else _random.get_rng(rng)


def _uniform_like(gen, X):
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return gen.random(X.shape, dtype=dtype)


class Dropout(_Random):
    """Dropout with the meaning fixed by keyword: ``Dropout(keep=0.8)`` or ``Dropout(rate=0.2)``.

    ``keep`` is the seeds' retain probability p (0.5 for hidden units, 0.8
    for inputs); ``rate`` = 1 − keep is PyTorch's and Keras's drop probability.
    Give exactly one.  Inverted dropout: in training mode each unit is kept
    with probability ``keep`` and scaled by 1/keep, so eval mode is the
    identity and the expected output is the same in both (the seeds scale by
    p at test time instead — the same expectation).  Masks come from ``rng``.

    >>> import nnlab
    >>> layer = Dropout(keep=0.5, rng=0)
    >>> sorted(set(layer(nnlab.tensor(np.ones(100))).numpy().tolist()))
    [0.0, 2.0]
    >>> layer.eval()(nnlab.tensor([1.0, 2.0])).numpy().tolist()
    [1.0, 2.0]
    """

    def __init__(self, keep=None, rate=None, rng=None):
        super().__init__(rng)
        if (keep is None) == (rate is None):
            raise ConfigError(
                "Dropout takes exactly one of keep= (retain probability, the seeds' p) "
                f"or rate= (drop probability); got keep={keep!r}, rate={rate!r}"
            )
        if keep is not None:
            self.keep = check_float("Dropout", "keep", keep, 0.0, 1.0, low_open=True)
        else:
            self.keep = 1.0 - check_float("Dropout", "rate", rate, 0.0, 1.0, high_open=True)

    @property
    def rate(self) -> float:
        return 1.0 - self.keep

    def forward(self, x):
        x = _input(x, None)
        if not self.training or self.keep == 1.0:
            return x
        X = x.data
        dt = X.dtype.type
        scale = np.multiply(_uniform_like(self.generator, X) < self.keep, dt(1.0 / self.keep))
        return make_result(X * scale, (x,), lambda g: (g * scale,))

    def _count_flops(self, shape):
        return (elements(shape) if self.training and self.keep < 1.0 else 0), shape

    def spec_args(self) -> dict:
        return {"keep": self.keep}

    def extra_repr(self):
        return f"keep={self.keep}"


class GaussianNoise(_Random):
    """Adds 𝒩(0, std²) noise in training mode only (the seeds' input-noise regularizer); identity in eval."""

    def __init__(self, std, rng=None):
        super().__init__(rng)
        self.std = check_float("GaussianNoise", "std", std, 0.0)

    def forward(self, x):
        x = _input(x, None)
        if not self.training or self.std == 0.0:
            return x
        X = x.data
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        noise = self.generator.standard_normal(X.shape, dtype=dtype)
        noise *= dtype.type(self.std)
        return make_result((X + noise).astype(X.dtype, copy=False), (x,), lambda g: (g,))

    def _count_flops(self, shape):
        return (2 * elements(shape) if self.training and self.std > 0 else 0), shape

    def spec_args(self) -> dict:
        return {"std": self.std}

    def extra_repr(self):
        return f"std={self.std}"


# ---------------------------------------------------------------- TiedLinear
class TiedLinear(Module):
    """A decoder tied to an encoder ``Linear``: y = x @ linear.weight.T + b, with a bias of its own.

    The weight is the encoder's Parameter object itself, so the gradients of
    both uses accumulate into it and ``parameters()`` yields it once (under the
    encoder's name, when the encoder comes first in the model).  In a spec the
    tie is stored as the dotted path of the encoder inside the saved model
    (see :func:`nnlab.nn.to_spec`).

    >>> encoder = Linear(6, 3, rng=0)
    >>> decoder = TiedLinear(encoder)
    >>> decoder.weight is encoder.weight, decoder.in_features, decoder.out_features
    (True, 3, 6)
    """

    def __init__(self, linear, bias=True, bias_init="zeros", rng=None):
        super().__init__()
        if not isinstance(linear, Linear):
            raise ConfigError(f"TiedLinear ties to a Linear layer, got {type(linear).__name__}")
        self._setup(linear.out_features, linear.in_features, bias, bias_init, rng, linear.weight.data.dtype)
        self.weight = linear.weight

    @classmethod
    def _untied(cls, in_features, out_features, bias=True, bias_init="zeros", rng=None) -> "TiedLinear":
        """A decoder whose encoder is not known yet (``from_spec``); :meth:`_tie` completes it."""
        self = cls.__new__(cls)
        Module.__init__(self)
        self._setup(in_features, out_features, bias, bias_init, rng, np.dtype(np.float32))
        return self

    def _setup(self, in_features, out_features, bias, bias_init, rng, dtype):
        self.in_features = check_int("TiedLinear", "in_features", in_features)
        self.out_features = check_int("TiedLinear", "out_features", out_features)
        bias = check_bool("TiedLinear", "bias", bias)
        self.bias_init = bias_init
        gen = _random.get_rng(rng)
        self.bias = make_parameter("TiedLinear", "bias_init", bias_init, (self.out_features,), gen, dtype) if bias else None

    def _tie(self, linear: "Linear") -> None:
        if linear.weight.shape != (self.out_features, self.in_features):
            raise ConfigError(
                f"TiedLinear({self.in_features} -> {self.out_features}) cannot tie to a Linear with weight "
                f"shape {linear.weight.shape}; it needs ({self.out_features}, {self.in_features})"
            )
        self.weight = linear.weight
        if self.bias is not None and self.bias.data.dtype != linear.weight.data.dtype:
            self.bias.data = self.bias.data.astype(linear.weight.data.dtype)

    def forward(self, x):
        return linear_t(_features_input(x, self.weight, "TiedLinear", self.in_features), self.weight, self.bias)

    def _count_flops(self, shape):
        return _affine_flops("TiedLinear", shape, self.in_features, self.out_features, self.bias is not None)

    def spec_args(self) -> dict:
        # "tied_to" is filled in by to_spec, which knows the model the encoder lives in.
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "bias_init": init_config("TiedLinear", "bias_init", self.bias_init),
        }

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, tied"
