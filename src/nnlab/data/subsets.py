"""PyTorch's dataset helpers under their own names: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``
and ``random_split``.

A PyTorch user's ``random_split(ds, [0.8, 0.2], generator=g)`` becomes
``random_split(ds, [0.8, 0.2], rng=seed)``: nnlab draws from a seeded NumPy
generator (None: nnlab's global one, set by ``nnlab.seed``).  The parts are
views through an index array, never copies of the data; the loader reads a batch
of a :class:`Subset` with one fancy index, as it reads a shuffled
:class:`~nnlab.data.ArrayDataset`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import DataError
from ..random import get_rng
from .dataset import ArrayDataset, as_dataset, rng_or_generator


class Dataset:
    """The base class of a user's own dataset, as PyTorch's: define ``__len__`` and ``__getitem__(i) -> (x, y)``.

    ``fit``, ``evaluate`` and :class:`~nnlab.data.DataLoader` read it sample by sample
    (or a batch at a time, if ``__getitem__`` also takes an index array); ``a + b``
    is their :class:`ConcatDataset`.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) -> (x, y)")

    def __add__(self, other) -> "ConcatDataset":
        return ConcatDataset([self, other])


class ConcatDataset(Dataset):
    """Several datasets one after another: sample i of the whole is sample i − offset of its part.

    >>> both = ConcatDataset([(np.zeros((2, 1)), np.array([0, 1])), (np.ones((1, 1)), np.array([2]))])
    >>> len(both), int(both[2][1])
    (3, 2)
    """

    def __init__(self, datasets):
        self.datasets = [as_dataset(d) for d in datasets]
        if not self.datasets:
            raise DataError("ConcatDataset: give at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"ConcatDataset indices are integers, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset index {index} is out of range for {n} samples")
        index = int(index) % n
        part = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[part - 1] if part else 0
        X, y = self.datasets[part][np.array([index - start])]
        return X[0] if y is None else (X[0], y[0])


class TensorDataset(ArrayDataset):
    """``TensorDataset(X)`` or ``TensorDataset(X, y)``: arrays or nnlab tensors, one row per sample.

    PyTorch's class takes any number of tensors; nnlab's loader and ``fit`` read
    ``(X, y)`` pairs, so a third array is refused (a dict of targets, one per task,
    is the way to several targets).  X becomes float32 as in :class:`ArrayDataset`.

    >>> ds = TensorDataset(np.zeros((4, 2)), np.array([0, 1, 1, 0]))
    >>> len(ds), ds[np.array([1, 2])][1].tolist()
    (4, [1, 1])
    """

    def __init__(self, *arrays, dtype=np.float32):
        if not 1 <= len(arrays) <= 2:
            raise DataError(f"TensorDataset takes X or (X, y), got {len(arrays)} arrays; "
                            "several targets go in one dict of arrays, {task: y}")
        super().__init__(arrays[0], arrays[1] if len(arrays) == 2 else None, dtype=dtype)

    def __repr__(self) -> str:
        return "TensorDataset" + super().__repr__().removeprefix("ArrayDataset")


class Subset:
    """The samples ``indices`` of ``dataset``, in that order (``.dataset`` and ``.indices`` as in PyTorch).

    >>> part = Subset((np.arange(10).reshape(5, 2), np.arange(5)), [4, 0])
    >>> len(part), part[np.array([0, 1])][1].tolist()
    (2, [4, 0])
    """

    def __init__(self, dataset, indices):
        self.dataset = as_dataset(dataset)
        n = len(self.dataset)
        idx = np.asarray(indices)
        if idx.ndim != 1 or not (idx.dtype.kind in "iu" or idx.size == 0):
            raise DataError(f"Subset indices must be a 1-D sequence of integers, got {np.asarray(indices).dtype} "
                            f"of shape {idx.shape}")
        idx = idx.astype(np.int64)
        if idx.size and not (-n <= idx.min() and idx.max() < n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise DataError(f"Subset index {bad} is out of range for a dataset of {n} samples")
        self.indices = idx % n if n else idx

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


def random_split(dataset, lengths, rng=None, *, generator=None) -> list[Subset]:
    """Split ``dataset`` at random into parts of ``lengths``: counts summing to its size, or fractions summing to 1.

    ``generator`` is ``rng`` under PyTorch's name (a seed or NumPy generator), as in ``DataLoader``.

    Fractions follow PyTorch's rule: each part gets ``floor(fraction · n)`` samples and
    the samples left over go one each to the first parts, in order.

    >>> parts = random_split((np.zeros((10, 1)), np.arange(10)), [0.75, 0.25], rng=0)
    >>> [len(p) for p in parts]
    [8, 2]
    """
    rng = rng_or_generator("random_split", rng, generator)
    data = as_dataset(dataset)
    n = len(data)
    counts = _counts(lengths, n)
    order = get_rng(rng).permutation(n)
    cuts = np.cumsum([0] + counts)
    return [Subset(data, order[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


def _counts(lengths, n: int) -> list[int]:
    try:
        values = list(lengths)
    except TypeError:
        raise DataError(f"random_split lengths must be a list of counts or fractions, got {lengths!r}") from None
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values):
        raise DataError(f"random_split lengths must be a non-empty list of counts or fractions, got {lengths!r}")
    if all(isinstance(v, numbers.Integral) for v in values):
        counts = [int(v) for v in values]
        if min(counts) < 0 or sum(counts) != n:
            raise DataError(f"random_split lengths {counts} must be counts >= 0 summing to the dataset's {n} samples")
        return counts
    fractions = [float(v) for v in values]
    if not all(0.0 <= f <= 1.0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise DataError(f"random_split fractions {fractions} must each be in [0, 1] and sum to 1")
    counts = [math.floor(f * n) for f in fractions]
    for i in range(n - sum(counts)):  # PyTorch's round robin over the parts, from the first
        counts[i % len(counts)] += 1
    return counts
