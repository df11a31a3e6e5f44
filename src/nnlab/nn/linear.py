"""Affine layers: Linear (y = x @ W + b), the weight-tied decoder TiedLinear, and the Maxout neuron.

Weights have nnlab's layout ``(in_features, out_features)``; each layer's
forward and backward are one fused op of :mod:`nnlab.ops.fused`.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_dtype, check_int
from ..errors import ConfigError
from ..ops.fused import linear, linear_t, maxout
from ._layer_tools import check_features, features_input, init_config, make_parameter
from .module import Module, elements

__all__ = ["Linear", "TiedLinear", "Maxout"]


def _affine_flops(layer: str, shape, in_features: int, out_features: int, bias: bool):
    """x @ W (+ b): 2·in·out per row, plus out for the bias."""
    check_features(layer, shape, in_features)
    n = elements(shape[:-1])
    return n * (2 * in_features * out_features + (out_features if bias else 0)), shape[:-1] + (out_features,)


def _affine_setup(layer, name, in_features, out_features, pieces, bias, weight_init, bias_init, rng, dtype):
    """Validate and create ``weight`` (in, pieces·out) and ``bias`` (pieces·out,) of an affine layer."""
    layer.in_features = check_int("in_features", in_features, 1, owner=name)
    layer.out_features = check_int("out_features", out_features, 1, owner=name)
    bias = check_bool("bias", bias, owner=name)
    dtype = check_dtype(dtype, owner=name)
    layer.weight_init, layer.bias_init = weight_init, bias_init
    gen = _random.get_rng(rng)
    width = pieces * layer.out_features
    layer.weight = make_parameter(name, "weight_init", weight_init, (layer.in_features, width), gen, dtype)
    layer.bias = make_parameter(name, "bias_init", bias_init, (width,), gen, dtype) if bias else None


def _affine_shapes(layer: str, args: dict, pieces: int = 1) -> dict:
    """The state shapes an affine layer with these spec arguments would allocate (see ``state_shapes``)."""
    n_in = check_int("in_features", args.get("in_features"), 1, owner=layer)
    width = pieces * check_int("out_features", args.get("out_features"), 1, owner=layer)
    shapes = {"weight": (n_in, width)}
    if check_bool("bias", args.get("bias", True), owner=layer):
        shapes["bias"] = (width,)
    return shapes


def _affine_spec(layer, name) -> dict:
    return {
        "in_features": layer.in_features,
        "out_features": layer.out_features,
        "bias": layer.bias is not None,
        "weight_init": init_config(name, "weight_init", layer.weight_init),
        "bias_init": init_config(name, "bias_init", layer.bias_init),
        "dtype": layer.weight.data.dtype.name,
    }


class Linear(Module):
    """Affine map y = x @ W + b with ``weight`` of shape (in_features, out_features).

    Default initialization is the seeds' rule, ``lecun_normal``: a unit
    Gaussian scaled by 1/√in_features, and zero bias.  (PyTorch draws both
    from U(±1/√in_features) instead.)  For ReLU layers ``weight_init="he_normal"``
    and the seeds' ``bias_init=nnlab.nn.init.constant(0.01)`` are the usual choice.
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
        return linear(features_input(x, self.weight, "Linear", self.in_features), self.weight, self.bias)

    def forward_relu(self, x):
        """``relu(self(x))`` as one node: what ``Sequential`` runs for a Linear followed by a ReLU."""
        return linear(features_input(x, self.weight, "Linear", self.in_features), self.weight, self.bias, relu=True)

    def _count_flops(self, shape):
        return _affine_flops("Linear", shape, self.in_features, self.out_features, self.bias is not None)

    def spec_args(self) -> dict:
        return _affine_spec(self, "Linear")

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        return _affine_shapes("Linear", args)


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
        self.in_features = check_int("in_features", in_features, 1, owner="TiedLinear")
        self.out_features = check_int("out_features", out_features, 1, owner="TiedLinear")
        bias = check_bool("bias", bias, owner="TiedLinear")
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
        return linear_t(features_input(x, self.weight, "TiedLinear", self.in_features), self.weight, self.bias)

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

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        # The weight is the encoder's (stored under its name); only the bias is this layer's own.
        check_int("in_features", args.get("in_features"), 1, owner="TiedLinear")
        out = check_int("out_features", args.get("out_features"), 1, owner="TiedLinear")
        return {"bias": (out,)} if check_bool("bias", args.get("bias", True), owner="TiedLinear") else {}


class Maxout(Module):
    """The seeds' maxout neuron: each output unit is the maximum of ``pieces`` affine maps of x.

    ``weight`` is (in_features, pieces·out_features) and ``bias`` (pieces·out_features,):
    column p·out_features + j is piece p of unit j (a Linear with pieces·out
    outputs followed by a max over groups).  One fused op forward and backward.
    """

    def __init__(self, in_features, out_features, pieces=2, **options):
        """``options``: Linear's keyword arguments after the two sizes (bias, weight_init, bias_init, rng, dtype)."""
        super().__init__()
        self.pieces = check_int("pieces", pieces, 1, owner="Maxout")
        _affine_setup(self, "Maxout", in_features, out_features, self.pieces, **_linear_options("Maxout", options))

    def forward(self, x):
        return maxout(features_input(x, self.weight, "Maxout", self.in_features), self.weight, self.bias, self.pieces)

    def _count_flops(self, shape):
        check_features("Maxout", shape, self.in_features)
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

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        return _affine_shapes("Maxout", args, check_int("pieces", args.get("pieces", 2), 1, owner="Maxout"))


def _linear_options(owner: str, options: dict) -> dict:
    """Linear's options after the two sizes, with Linear's defaults: the one list of an affine layer's options."""
    defaults = {name: p.default for name, p in list(inspect.signature(Linear).parameters.items())[2:]}
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ConfigError(f"{owner}: unknown argument(s) {', '.join(unknown)}; allowed after in_features, "
                          f"out_features and pieces: {', '.join(defaults)}")
    return {**defaults, **options}


# Maxout's signature as help(), IDEs and the spec checks (nn.spec) read it: its own three, then Linear's options.
Maxout.__init__.__signature__ = inspect.Signature(
    list(inspect.signature(Maxout.__init__).parameters.values())[:4]
    + [p.replace(kind=p.KEYWORD_ONLY) for p in list(inspect.signature(Linear.__init__).parameters.values())[3:]])
