"""Activation modules for the activations beyond the notes' set (PyTorch's names and keywords).

Each wraps one function of :mod:`nnlab.ops.activations` (exported by
:mod:`nnlab.functional`); the CLI config names them in lower case
(``gelu``, ``silu``, …).
"""

from __future__ import annotations

from .. import functional as F
from .._checks import check_choice, check_float, check_int
from ..ops.activations_more import RRELU_LOWER, RRELU_UPPER, glu_axis, rrelu_bounds
from .activations import Softmax, _Configured
from .module import elements
from .noise import _Random

__all__ = ["GELU", "SiLU", "Softplus", "Softsign", "SELU", "CELU", "ReLU6", "Hardtanh", "Hardsigmoid",
           "Hardswish", "Mish", "LogSigmoid", "Softmin", "Hardshrink", "Softshrink", "Tanhshrink", "Threshold",
           "GLU", "RReLU"]


class GELU(_Configured):
    """x·Φ(x) (``approximate="none"``) or its tanh approximation (``"tanh"``), as ``torch.nn.GELU``."""

    flops_per_element = 5
    fn = staticmethod(F.gelu)

    def __init__(self, approximate="none"):
        super().__init__()
        self.settings = {"approximate": check_choice("approximate", approximate, ("none", "tanh"), owner="GELU")}


class SiLU(_Configured):
    """x·σ(x) (swish)."""

    flops_per_element = 5
    fn = staticmethod(F.silu)

class Softplus(_Configured):
    """(1/β)·log(1 + e^(βx)), linear where βx > ``threshold``."""

    flops_per_element = 4
    fn = staticmethod(F.softplus)

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.settings = {"beta": check_float("beta", beta, 0.0, low_open=True, owner="Softplus"),
                         "threshold": check_float("threshold", threshold, owner="Softplus")}


class Softsign(_Configured):
    """x / (1 + |x|)."""

    flops_per_element = 3
    fn = staticmethod(F.softsign)

class SELU(_Configured):
    """Self-normalizing scale·ELU with α ≈ 1.6733, scale ≈ 1.0507."""

    flops_per_element = 4
    fn = staticmethod(F.selu)

class CELU(_Configured):
    """max(0, x) + min(0, α(e^(x/α) − 1))."""

    flops_per_element = 4
    fn = staticmethod(F.celu)

    def __init__(self, alpha=1.0):
        super().__init__()
        self.settings = {"alpha": check_float("alpha", alpha, 0.0, low_open=True, owner="CELU")}


class ReLU6(_Configured):
    """min(max(0, x), 6)."""

    flops_per_element = 2
    fn = staticmethod(F.relu6)

class Hardtanh(_Configured):
    """x clipped to [min_val, max_val]."""

    flops_per_element = 2
    fn = staticmethod(F.hardtanh)

    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        low = check_float("min_val", min_val, owner="Hardtanh")
        self.settings = {"min_val": low, "max_val": check_float("max_val", max_val, low, owner="Hardtanh")}


class Hardsigmoid(_Configured):
    """relu6(x + 3)/6."""

    flops_per_element = 3
    fn = staticmethod(F.hardsigmoid)

class Hardswish(_Configured):
    """x·relu6(x + 3)/6."""

    flops_per_element = 4
    fn = staticmethod(F.hardswish)

class Mish(_Configured):
    """x·tanh(softplus(x))."""

    flops_per_element = 6
    fn = staticmethod(F.mish)


class LogSigmoid(_Configured):
    """log σ(x), finite for large |x|."""

    flops_per_element = 4
    fn = staticmethod(F.logsigmoid)


class Softmin(Softmax):
    """softmax(−x / T) along ``axis`` (``dim=``, PyTorch's name); see :class:`Softmax`."""

    fn = staticmethod(F.softmin)


class _Shrink(_Configured):
    """A shrink with PyTorch's ``lambd`` (λ ≥ 0)."""

    flops_per_element = 3
    lambd = property(lambda self: self.settings["lambd"])

    def __init__(self, lambd=0.5):
        super().__init__()
        self.settings = {"lambd": check_float("lambd", lambd, 0.0, owner=type(self).__name__)}


class Hardshrink(_Shrink):
    """x where |x| > λ, 0 elsewhere."""

    fn = staticmethod(F.hardshrink)


class Softshrink(_Shrink):
    """x − λ above λ, x + λ below −λ, 0 between."""

    fn = staticmethod(F.softshrink)


class Tanhshrink(_Configured):
    """x − tanh(x)."""

    flops_per_element = 2
    fn = staticmethod(F.tanhshrink)


class Threshold(_Configured):
    """x where x > ``threshold``, ``value`` elsewhere (both required, as in PyTorch)."""

    flops_per_element = 2
    fn = staticmethod(F.threshold)
    threshold = property(lambda self: self.settings["threshold"])
    value = property(lambda self: self.settings["value"])

    def __init__(self, threshold, value):
        super().__init__()
        self.settings = {"threshold": check_float("threshold", threshold, owner="Threshold"),
                         "value": check_float("value", value, owner="Threshold")}


class GLU(_Configured):
    """a·σ(b), a and b the halves of the input along ``dim`` (whose size must be even); halves that size."""

    fn = staticmethod(F.glu)
    dim = property(lambda self: self.settings["dim"])

    def __init__(self, dim=-1):
        super().__init__()
        self.settings = {"dim": check_int("dim", dim, owner="GLU")}

    def _count_flops(self, shape):
        shape = list(shape)
        shape[glu_axis(self.dim, shape, "GLU")] //= 2
        return 5 * elements(shape), tuple(shape)  # sigmoid's 4 and the product, per output element


class RReLU(_Random):
    """x for x > 0, a·x otherwise: a ~ U(lower, upper) per element in training, (lower + upper)/2 in eval.

    The slopes come from ``rng`` (an int seed, a Generator, or None for nnlab's global
    generator, which ``nnlab.seed`` resets), as Dropout's masks do: the same seed gives
    the same slopes.
    """

    def __init__(self, lower=RRELU_LOWER, upper=RRELU_UPPER, *, rng=None):
        super().__init__(rng)
        self.lower, self.upper = rrelu_bounds(lower, upper, "RReLU")

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training, rng=self.generator)

    def _count_flops(self, shape):
        # compare and multiply; in training also the scale and shift of each drawn slope
        return (4 if self.training else 2) * elements(shape), shape

    def spec_args(self):
        return {"lower": self.lower, "upper": self.upper}

    def extra_repr(self):
        return f"lower={self.lower!r}, upper={self.upper!r}"
