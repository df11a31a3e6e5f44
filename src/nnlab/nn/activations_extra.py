"""Activation modules for the activations beyond the notes' set (PyTorch's names and keywords).

Each wraps one function of :mod:`nnlab.ops.activations` (exported by
:mod:`nnlab.functional`); the CLI config names them in lower case
(``gelu``, ``silu``, …).
"""

from __future__ import annotations

from .. import functional as F
from .._checks import check_choice, check_float
from .activations import _Configured

__all__ = ["GELU", "SiLU", "Softplus", "Softsign", "SELU", "CELU", "ReLU6", "Hardtanh", "Hardsigmoid",
           "Hardswish", "Mish"]


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