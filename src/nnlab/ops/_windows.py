"""Strided windows over channels-last feature maps: the shared machinery of convolution and pooling.

Ops take and return channels-first arrays (N, C, *spatial), as PyTorch does,
but work on the channels-last *view* ``np.moveaxis(X, 1, -1)``: a window then
reads C contiguous values per kernel offset, so the im2col copy moves whole
rows instead of 3-element pieces, and a conv's output (N·positions, C_out),
the GEMM's natural layout, is returned as a view without a transpose copy.

Sizes follow PyTorch: an axis of length S, padded by (lo, hi), with kernel k,
stride s and dilation d gives ⌊(S + lo + hi − d·(k − 1) − 1)/s⌋ + 1 positions.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import ConfigError


def spatial_tuple(name: str, value, d: int, minimum: int, owner: str) -> tuple:
    """``value`` (an int or a tuple of d ints, each >= minimum) as a tuple of d ints."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * d
    ok = len(values) == d and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= minimum for v in values
    )
    if not ok:
        raise ConfigError(
            f"{owner}: {name} must be an integer >= {minimum} or a tuple of {d} such integers, got {value!r}"
        )
    return tuple(int(v) for v in values)


def resolve_padding(padding, kernel: tuple, dilation: tuple, stride: tuple, owner: str) -> tuple:
    """Padding as ((lo, hi), …) per spatial axis, from an int, a tuple, ``"valid"`` or ``"same"``.

    ``"same"`` (stride 1 only, as in PyTorch) pads d·(k − 1) in total per axis,
    the odd element on the high side: (total // 2, total − total // 2).
    """
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConfigError(f"{owner}: padding='same' needs stride 1, got stride {stride}")
            totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ConfigError(f"{owner}: padding must be an integer, a tuple, 'same' or 'valid', got {padding!r}")
    return tuple((p, p) for p in spatial_tuple("padding", padding, d, 0, owner))


def output_shape(spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple, pads: tuple, owner: str,
                 ceil_mode: bool = False) -> tuple:
    """Window positions per axis; ``ceil_mode`` (pooling) rounds up, as PyTorch, keeping a last window that
    overhangs the padded input only if it starts inside the input or its left padding."""
    out = []
    for size, k, s, dl, (lo, hi) in zip(spatial, kernel, stride, dilation, pads):
        room = size + lo + hi - (dl * (k - 1) + 1)
        n = (room + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (n - 1) * s >= size + lo:
            n -= 1
        if n < 1:
            raise ConfigError(
                f"{owner}: input of spatial size {tuple(spatial)} (padded by {pads}) is smaller than the kernel "
                f"{kernel} (dilation {dilation})"
            )
        out.append(n)
    return tuple(out)


def covering_pads(spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple, pads: tuple, out: tuple) -> tuple:
    """``pads`` with the high side grown so that every one of the ``out`` windows lies inside the padded array.

    Only ceil-mode pooling needs the growth: its last window may overhang the padded input.
    """
    return tuple(
        (lo, max(hi, (o - 1) * s + dl * (k - 1) + 1 - size - lo))
        for size, k, s, dl, (lo, hi), o in zip(spatial, kernel, stride, dilation, pads, out)
    )


def pad(Xcl: np.ndarray, pads: tuple, value: float = 0.0) -> np.ndarray:
    """Pad the spatial axes of a channels-last array (N, *spatial, C); no copy when nothing is padded."""
    if not any(lo or hi for lo, hi in pads):
        return Xcl
    shape = (Xcl.shape[0],) + tuple(s + lo + hi for s, (lo, hi) in zip(Xcl.shape[1:-1], pads)) + Xcl.shape[-1:]
    out = np.full(shape, value, dtype=Xcl.dtype)
    out[interior(Xcl.shape[1:-1], pads)] = Xcl
    return out


def interior(spatial: tuple, pads: tuple) -> tuple:
    """The index of the unpadded region inside a padded channels-last array."""
    return (slice(None),) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, pads)) + (slice(None),)


def windows(Xp: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> np.ndarray:
    """A read-only view (N, *out, *kernel, C) of every window of a padded channels-last array: no copy."""
    sN, *sS, sC = Xp.strides
    shape = (Xp.shape[0],) + out + kernel + (Xp.shape[-1],)
    strides = (sN,) + tuple(a * s for a, s in zip(sS, stride)) + tuple(a * dl for a, dl in zip(sS, dilation)) + (sC,)
    return as_strided(Xp, shape, strides, writeable=False)


def offsets(kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """(kernel offset, index) pairs: ``Xp[index]`` is the (N, *out, C) slab that offset reads.

    Loops over these run kernel-size times (9 for 3×3), each step vectorized
    over every sample, position and channel.
    """
    for offset in itertools.product(*(range(k) for k in kernel)):
        index = tuple(slice(i * dl, i * dl + s * (o - 1) + 1, s) for i, s, dl, o in zip(offset, stride, dilation, out))
        yield offset, (slice(None),) + index + (slice(None),)


def channels_first(Ycl: np.ndarray) -> np.ndarray:
    """(N, *spatial, C) → the (N, C, *spatial) view."""
    return np.moveaxis(Ycl, -1, 1)


def channels_last(X: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) → the (N, *spatial, C) view."""
    return np.moveaxis(X, 1, -1)


_AXES = {1: "L", 2: "H, W", 3: "D, H, W"}


def check_input(X: np.ndarray, d: int, owner: str) -> None:
    if X.ndim != d + 2:
        raise ConfigError(
            f"{owner} expects input of shape (N, C, {_AXES.get(d, '...')}) "
            f"with {d} spatial axis{'es' if d > 1 else ''}, got shape {X.shape}"
        )
