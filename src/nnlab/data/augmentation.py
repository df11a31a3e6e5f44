"""Per-batch data augmentation for training: callables ``X_batch -> new X_batch``.

The seeds: "Data augmentation (e.g., jittering, noise injection)"; adding Gaussian
noise to the inputs, x~ = x + eps with eps ~ N(0, sigma^2), acts like weight decay.
An augmentation never writes into its input, so the dataset stays untouched.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from ..errors import ConfigError, DataError
from ..random import draw_dtype, get_rng


class GaussianNoiseAugment:
    """Add independent N(0, std^2) noise to every input value.

    >>> batch = np.zeros((2, 3), dtype=np.float32)
    >>> noisy = GaussianNoiseAugment(0.1, rng=0)(batch)
    >>> noisy.dtype, bool(noisy.any()), bool(batch.any())
    (dtype('float32'), True, False)
    """

    def __init__(self, std: float, rng=None):
        self.std = check_float("std", std, 0.0, owner="GaussianNoiseAugment")
        self._rng = None if rng is None else get_rng(rng)

    def __call__(self, X_batch: np.ndarray) -> np.ndarray:
        X_batch = np.asarray(X_batch)
        dtype = X_batch.dtype if X_batch.dtype.kind == "f" else np.dtype(np.float32)
        noise = get_rng(self._rng).standard_normal(X_batch.shape, dtype=draw_dtype(dtype))
        noise *= self.std
        return (X_batch + noise).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"GaussianNoiseAugment(std={self.std})"


class Jitter:
    """Shift each image by a random whole number of pixels, up to ``max_shift`` each way.

    Rows of the batch are flattened images of ``shape`` (``(height, width)`` or
    ``(channels, height, width)``); pixels shifted in from outside take ``fill``.
    The output has the batch's shape.

    >>> image = np.zeros((1, 9), dtype=np.float32); image[0, 4] = 1  # a 3x3 image, centre lit
    >>> shifted = Jitter(shape=(3, 3), max_shift=1, rng=1)(image)
    >>> float(shifted.sum()), bool(shifted[0, 4] == 0 or shifted[0, 4] == 1)
    (1.0, True)
    """

    def __init__(self, shape=(8, 8), max_shift: int = 1, fill: float = 0.0, rng=None):
        shape = tuple(int(s) for s in shape)
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ConfigError(f"Jitter shape must be (height, width) or (channels, height, width), got {shape}")
        try:
            self.max_shift = check_int("max_shift", max_shift, 0, owner="Jitter")
        except ConfigError:  # check_int's rule in Jitter's words (tests/test_data_augmentation.py pins them)
            raise ConfigError(f"Jitter: max_shift must be a whole number >= 0, got {max_shift!r}") from None
        self.shape = shape
        self.fill = float(fill)
        self._rng = None if rng is None else get_rng(rng)

    def __call__(self, X_batch: np.ndarray) -> np.ndarray:
        X_batch = np.asarray(X_batch)
        size = int(np.prod(self.shape))
        if X_batch.ndim < 2 or int(np.prod(X_batch.shape[1:])) != size:
            per_row = int(np.prod(X_batch.shape[1:])) if X_batch.ndim >= 2 else 1
            raise DataError(
                f"Jitter expects rows of {size} values (images of shape {self.shape}), got {per_row} "
                f"(batch shape {X_batch.shape})"
            )
        m = self.max_shift
        images = X_batch.reshape((len(X_batch),) + self.shape)
        height, width = self.shape[-2:]
        pad = [(0, 0)] * (images.ndim - 2) + [(m, m), (m, m)]
        padded = np.pad(images, pad, constant_values=self.fill)
        shifts = get_rng(self._rng).integers(-m, m + 1, size=(len(X_batch), 2))
        out = np.empty_like(images)
        # One slice per distinct shift: at most (2m+1)^2 groups, each a vectorised copy.
        codes = (shifts[:, 0] + m) * (2 * m + 1) + (shifts[:, 1] + m)
        for code in np.unique(codes):
            rows = np.flatnonzero(codes == code)
            dy, dx = shifts[rows[0]]
            top, left = m - dy, m - dx  # content moves down/right by (dy, dx)
            out[rows] = padded[rows, ..., top:top + height, left:left + width]
        return out.reshape(X_batch.shape)

    def __repr__(self) -> str:
        return f"Jitter(shape={self.shape}, max_shift={self.max_shift})"


class Compose:
    """Apply augmentations one after the other."""

    def __init__(self, steps):
        self.steps = list(steps)
        for step in self.steps:
            if not callable(step):
                raise ConfigError(f"an augmentation must be callable, got {step!r}")

    def __call__(self, X_batch):
        for step in self.steps:
            X_batch = step(X_batch)
        return X_batch

    def __repr__(self) -> str:
        return f"Compose({self.steps!r})"
