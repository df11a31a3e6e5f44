"""PyTorch's RMSNorm: each sample's trailing ``normalized_shape`` values divided by their root mean square, one node.

The op is :func:`nnlab.ops.norms_more.rms_norm` (torch's ``F.rms_norm``).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_bool, check_float
from ..ops.norms import as_normalized_shape, check_layer_input
from ..ops.norms_more import rms_eps, rms_norm
from .module import elements
from .normalization import _AffineNorm

__all__ = ["RMSNorm"]


class RMSNorm(_AffineNorm):
    """PyTorch's ``RMSNorm(normalized_shape, eps=None, elementwise_affine=True)``.

    y = x / √(mean(x²) + ε) · weight, the mean over the last ``len(normalized_shape)``
    axes; ``weight`` (ones, of shape ``normalized_shape``; none with
    ``elementwise_affine=False``); ``eps=None``: the machine epsilon of the layer's
    dtype (float32: 1.19e-07), as torch's ``torch.finfo(x.dtype).eps``.  No bias, no
    running statistics: the same in training and eval mode.
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, *, dtype=np.float32):
        super().__init__()
        self.normalized_shape = as_normalized_shape(normalized_shape, "RMSNorm")
        self.eps = None if eps is None else check_float("eps", eps, 0.0, owner="RMSNorm")
        self.elementwise_affine = check_bool("elementwise_affine", elementwise_affine, owner="RMSNorm")
        self._affine(self.normalized_shape, self.elementwise_affine, False, dtype, "RMSNorm")

    def forward(self, x):
        x = self._input(x)
        check_layer_input(x.data.shape, self.normalized_shape, "RMSNorm")
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def resolved_eps(self) -> float:
        """The ε the layer adds: ``eps``, or for None the machine epsilon of its dtype (what ONNX export writes)."""
        return rms_eps(self.eps, self._dtype, "RMSNorm")

    def _count_flops(self, shape):
        check_layer_input(shape, self.normalized_shape, "RMSNorm")
        # square 1, mean 1, normalize 1 per element; scale 1 with a weight
        return (3 + (self.weight is not None)) * elements(shape), tuple(shape)

    def spec_args(self) -> dict:
        # eps None (the dtype's epsilon) is the default: to_spec leaves it out, and the rebuilt layer has it again
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "dtype": self._dtype.name}

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        shape = as_normalized_shape(args.get("normalized_shape"), "RMSNorm")
        return cls._state(shape, "elementwise_affine", args.get("elementwise_affine", True), False, "RMSNorm")
