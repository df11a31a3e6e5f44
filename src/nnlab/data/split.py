"""Seeded train/validation/test splits, stratified by class for classification data."""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError
from ..random import get_rng


def train_test_split(X, y=None, test_size: float | int = 0.2, stratify: bool = True, seed=0):
    """Split into ``X_train, X_test, y_train, y_test`` (scikit-learn's order; ``X_train, X_test`` without y).

    ``test_size`` is a fraction in (0, 1) (rounded up to whole samples) or a count.
    With ``stratify`` and class labels ``y`` (integers or names), every class is split in the same
    proportion (largest-remainder rounding, keeping at least one sample of each class
    in training); float targets are split at random. ``seed`` is an int or Generator.

    >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4)
    >>> len(X_train), np.bincount(y_test).tolist()
    (6, [2, 2])
    """
    n = _num_samples(X, y)
    n_test = _count(test_size, n, "test_size")
    if n - n_test < 1:
        raise DataError(f"test_size={test_size!r} leaves no training samples out of {n}")
    train, test = _split_indices(n, n_test, _strata(y, stratify), get_rng(seed))
    return _take(X, y, (train, test))


def train_val_test_split(X, y=None, val_size: float | int = 0.1, test_size: float | int = 0.2,
                         stratify: bool = True, seed=0):
    """Split into ``X_train, X_val, X_test, y_train, y_val, y_test`` (or the three X parts without y).

    Both sizes are fractions of the whole data set (or counts); see :func:`train_test_split`.

    >>> X, y = np.zeros((20, 1)), np.array([0, 1] * 10)
    >>> parts = train_val_test_split(X, y, val_size=0.2, test_size=0.2)
    >>> [len(p) for p in parts[:3]], np.bincount(parts[4]).tolist()
    ([12, 4, 4], [2, 2])
    """
    n = _num_samples(X, y)
    n_val, n_test = _count(val_size, n, "val_size"), _count(test_size, n, "test_size")
    if n - n_val - n_test < 1:
        raise DataError(
            f"val_size={val_size!r} and test_size={test_size!r} leave no training samples out of {n}"
        )
    rng = get_rng(seed)
    strata = _strata(y, stratify)
    rest, test = _split_indices(n, n_test, strata, rng)
    train_in_rest, val_in_rest = _split_indices(len(rest), n_val, None if strata is None else strata[rest], rng)
    return _take(X, y, (rest[train_in_rest], rest[val_in_rest], test))


def _num_samples(X, y) -> int:
    n = len(X)
    if n == 0:
        raise DataError("cannot split an empty dataset")
    if y is not None and len(y) != n:
        raise DataError(f"X has {n} samples but y has {len(y)}: they must match")
    return n


def _count(size, n: int, name: str) -> int:
    """A size as a whole number of samples, between 1 and n - 1."""
    if isinstance(size, bool) or not isinstance(size, int | float | np.integer | np.floating):
        raise DataError(f"{name} must be a fraction in (0, 1) or a sample count, got {size!r}")
    if isinstance(size, float | np.floating):
        if not 0 < size < 1:
            raise DataError(f"{name} as a fraction must be strictly between 0 and 1, got {size}")
        count = math.ceil(size * n - 1e-9)
    else:
        count = int(size)
    if n < 2:
        raise DataError(f"{n} sample{'s' if n != 1 else ''} cannot be split by {name}: a split needs at least 2")
    if not 1 <= count < n:
        raise DataError(f"{name}={size!r} gives {count} samples; it must be between 1 and {n - 1} of {n}")
    return count


def _strata(y, stratify: bool):
    """Class labels to stratify by, or None for a plain random split."""
    if not stratify or y is None:
        return None
    y = np.asarray(y)
    # Class names count as classes too (scikit-learn's stratify=y stratifies them): a CSV's raw
    # "cat"/"dog" column, or an object array of strings, was split at random before.
    named = y.dtype.kind in "US" or (y.dtype.kind == "O" and all(isinstance(v, str) for v in y.ravel()))
    if y.ndim != 1 or not (y.dtype.kind in "biu" or named):
        return None  # regression or multi-output targets: no classes to keep in proportion
    return y


def _split_indices(n: int, n_second: int, strata, rng: np.random.Generator):
    """Indices of the two parts, each in shuffled order; the second part has n_second samples."""
    if strata is None:
        order = rng.permutation(n)
        return order[n_second:], order[:n_second]
    classes, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    take = _allocate(counts, n_second)
    order = rng.permutation(n)
    by_class = order[np.argsort(inverse[order], kind="stable")]  # shuffled within each class
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    second = np.concatenate([by_class[s:s + k] for s, k in zip(starts, take)])
    first = np.concatenate([by_class[s + k:s + c] for s, k, c in zip(starts, take, counts)])
    return rng.permutation(first), rng.permutation(second)


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Per-class shares of ``total`` proportional to ``counts`` (largest remainder), summing to total."""
    quota = counts * total / counts.sum()
    take = np.floor(quota).astype(np.int64)
    remainder = quota - take
    # Hand out the leftover samples by largest remainder, first to classes that keep
    # at least one sample on the other side, then to any class with samples left.
    allowed = take + 1 < counts
    while (missing := total - take.sum()) > 0:
        candidates = np.flatnonzero(allowed)
        best = candidates[np.argsort(-remainder[candidates], kind="stable")][:missing]
        take[best] += 1
        remainder[best] = -1
        allowed = take < counts
    return take


def _take(X, y, parts):
    X = np.asarray(X)
    xs = [X[p] for p in parts]
    if y is None:
        return tuple(xs)
    y = np.asarray(y)
    return tuple(xs) + tuple(y[p] for p in parts)
