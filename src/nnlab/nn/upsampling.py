"""Upsample: ``torch.nn.Upsample`` over :func:`nnlab.ops.resize.interpolate` (modes "nearest", "linear", "bilinear")."""

from __future__ import annotations

from ..ops.resize import interpolate, resize_plan
from ._layer_tools import as_input
from .module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    """Resize (N, C, *spatial) to ``size`` or by ``scale_factor``, PyTorch's arguments and modes but the cubic,
    trilinear and area ones (see :func:`nnlab.ops.resize.interpolate`).

    >>> import numpy as np
    >>> Upsample(scale_factor=2)(np.zeros((1, 3, 4, 5), dtype=np.float32)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        # checked now, for the rank the arguments give, so a bad layer fails when built (sizes: at each call)
        probe = size if size is not None else scale_factor
        rank = len(probe) if isinstance(probe, (tuple, list)) else 1
        resize_plan(rank, size, scale_factor, mode, align_corners, recompute_scale_factor, "Upsample")
        self.size = tuple(size) if isinstance(size, (tuple, list)) else size
        self.scale_factor = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else scale_factor
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, x):
        return interpolate(as_input(x, None), self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def plan(self, shape) -> tuple:
        """The output spatial sizes and PyTorch's scales for an input of ``shape``."""
        return resize_plan(tuple(shape[2:]), self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor, "Upsample")

    def _count_flops(self, shape):
        return 0, tuple(shape[:2]) + self.plan(shape)[0]

    def spec_args(self) -> dict:
        listed = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731  (JSON has lists)
        return {"size": listed(self.size), "scale_factor": listed(self.scale_factor), "mode": self.mode,
                "align_corners": self.align_corners, "recompute_scale_factor": self.recompute_scale_factor}

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}" + ("" if self.align_corners is None else f", align_corners={self.align_corners}")
