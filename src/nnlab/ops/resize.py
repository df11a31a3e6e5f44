"""Resizing: ``interpolate`` (``torch.nn.functional.interpolate``), modes "nearest", "linear" and "bilinear".

PyTorch's rule per spatial axis of length S resized to O: output position j
reads input ⌊j·scale⌋ (capped at S − 1), with scale = 1/scale_factor when a
scale factor is given (and not recomputed), else S/O, computed in float32 as
PyTorch's CPU kernel does; O = ⌊S·scale_factor⌋ when only the factor is given.
The forward is one gather per axis; the backward sums the gradient of the
positions that read each input element (a run of neighbours, the indices never
decrease), one ``add.reduceat`` per axis.

The linear modes ("linear" on (N, C, L), "bilinear" on (N, C, H, W)) are
separable: along each axis a fixed (O, S) matrix with two weights per row, from
PyTorch's source coordinate (j + ½)·scale − ½ clamped at 0, or j·(S − 1)/(O − 1)
with ``align_corners=True``; the backward multiplies by its transpose.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_bool
from ..errors import ConfigError
from ..tensor import as_tensor, make_result
from .pool import separable

MODES = ("nearest", "linear", "bilinear")
LINEAR_RANK = {"linear": 1, "bilinear": 2}  # the spatial axes each linear mode takes, as PyTorch


def resize_plan(spatial, size, scale_factor, mode, align_corners, recompute_scale_factor, owner) -> tuple:
    """The output sizes and the scales PyTorch's kernel uses (None per axis: S/O), checked as torch checks them.

    ``spatial`` an int (a rank): only the arguments are checked (a layer at construction), None returned.
    """
    rank_only = isinstance(spatial, int)
    spatial = (1,) * spatial if rank_only else tuple(spatial)
    if mode not in MODES:
        raise ConfigError(f"{owner}: mode must be one of {', '.join(map(repr, MODES))} (nnlab has no other "
                          f"interpolation yet), got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ConfigError(f"{owner}: align_corners only applies to the linear modes; mode={mode!r} takes "
                          f"align_corners=None, got {align_corners!r}")
    if align_corners is not None:
        check_bool("align_corners", align_corners, owner=owner)
    d = len(spatial)
    if mode in LINEAR_RANK and d != LINEAR_RANK[mode] and not rank_only:
        raise ConfigError(f"{owner}: mode={mode!r} takes input with {LINEAR_RANK[mode]} spatial "
                          f"ax{'is' if LINEAR_RANK[mode] == 1 else 'es'}, got spatial shape {spatial}")
    if (size is None) == (scale_factor is None):
        raise ConfigError(f"{owner}: give exactly one of size and scale_factor, got size={size!r}, "
                          f"scale_factor={scale_factor!r}")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * d
        if len(sizes) != d or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                                      for s in sizes):
            raise ConfigError(f"{owner}: size must be a positive integer or a tuple of {d} (one per spatial "
                              f"axis of an input with spatial shape {tuple(spatial)}), got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * d
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * d
    if len(factors) != d or not all(isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, bool)
                                    and math.isfinite(f) and f > 0 for f in factors):
        raise ConfigError(f"{owner}: scale_factor must be a positive number or a tuple of {d} (one per spatial "
                          f"axis of an input with spatial shape {tuple(spatial)}), got {scale_factor!r}")
    recompute = recompute_scale_factor is not None and check_bool(
        "recompute_scale_factor", recompute_scale_factor, owner=owner)
    if rank_only:
        return None
    sizes = tuple(int(math.floor(s * float(f))) for s, f in zip(spatial, factors))
    if min(sizes) < 1:
        raise ConfigError(f"{owner}: scale_factor {scale_factor!r} gives an empty output for spatial shape "
                          f"{tuple(spatial)}")
    return sizes, ((None,) * d if recompute else tuple(float(f) for f in factors))


def nearest_index(size: int, out: int, scale_factor) -> np.ndarray:
    """The input position each of ``out`` outputs reads (PyTorch's nearest_idx, float32 arithmetic)."""
    if out == size:
        return np.arange(out)
    if out == 2 * size:
        return np.arange(out) >> 1
    scale = np.float32(1.0 / scale_factor) if scale_factor is not None else np.float32(size) / np.float32(out)
    return np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64), size - 1)


def linear_weights(size: int, out: int, scale_factor, align_corners: bool, dtype) -> np.ndarray:
    """The (out, size) matrix of linear interpolation along one axis, PyTorch's source coordinates."""
    j = np.arange(out, dtype=np.float64)
    if align_corners:
        src = j * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        scale = 1.0 / scale_factor if scale_factor is not None else size / out
        src = np.maximum((j + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    frac = src - lo
    A = np.zeros((out, size))
    np.add.at(A, (np.arange(out), lo), 1.0 - frac)
    np.add.at(A, (np.arange(out), hi), frac)
    return A.astype(dtype)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize the spatial axes of x (N, C, *spatial) to ``size`` or by ``scale_factor``.

    ``mode``: "nearest" (any number of spatial axes), "linear" (N, C, L) or "bilinear" (N, C, H, W),
    these two with ``align_corners`` (default False, as PyTorch).

    >>> import nnlab
    >>> interpolate(nnlab.tensor([[[1.0, 2.0, 3.0]]]), scale_factor=2).data.tolist()
    [[[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]]]
    """
    x = as_tensor(x)
    X = x.data
    if X.ndim < 3:
        raise ConfigError(f"interpolate expects input of shape (N, C, *spatial), got shape {X.shape}")
    spatial = X.shape[2:]
    sizes, scales = resize_plan(spatial, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                "interpolate")
    if mode != "nearest":
        return separable(x, [linear_weights(s, o, f, bool(align_corners), X.dtype)
                             for s, o, f in zip(spatial, sizes, scales)])
    plan = [(2 + k, nearest_index(s, o, f)) for k, (s, o, f) in enumerate(zip(spatial, sizes, scales))]
    Y = X
    for axis, index in plan:
        Y = np.take(Y, index, axis=axis)

    def backward(g):
        for axis, index in reversed(plan):
            read, first = np.unique(index, return_index=True)  # indices never decrease: each read is one run
            summed = np.add.reduceat(g, first, axis=axis)
            if len(read) == X.shape[axis]:
                g = summed
            else:  # a downsampling skips inputs: their gradient is zero
                shape = list(g.shape)
                shape[axis] = X.shape[axis]
                full = np.zeros(shape, dtype=g.dtype)
                full[(slice(None),) * axis + (read,)] = summed
                g = full
        return (g,)

    return make_result(Y, (x,), backward)
