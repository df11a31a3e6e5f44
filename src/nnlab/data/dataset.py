"""Datasets held in memory as NumPy arrays."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .validation import as_features, as_targets


class ArrayDataset:
    """Features ``X`` (one row per sample) and optional targets ``y``, validated once.

    ``X`` is cast to ``dtype`` (float32 by default) here and only here, so the loader
    never converts per batch. Integer targets become int64 (class labels); float
    targets take ``dtype``. The stored arrays are read-only views: batches never
    write back into the data.

    >>> ds = ArrayDataset([[0, 0], [0, 1], [1, 0]], [0, 1, 1])
    >>> len(ds), ds.X.dtype, ds.y.dtype
    (3, dtype('float32'), dtype('int64'))
    >>> ds[[2, 0]]
    (array([[1., 0.],
           [0., 0.]], dtype=float32), array([1, 0]))
    """

    def __init__(self, X, y=None, dtype=np.float32):
        X = _read_only(as_features(X, dtype=dtype))
        self.X = X
        self.y = None if y is None else _read_only(as_targets(y, len(X), dtype=dtype))

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, indices):
        """``(X[indices], y[indices])``; ``y`` part is None for an unlabelled dataset."""
        return self.X[indices], (None if self.y is None else self.y[indices])

    @property
    def num_features(self) -> int:
        return int(np.prod(self.X.shape[1:]))

    @property
    def arrays(self):
        return self.X, self.y

    def __repr__(self) -> str:
        target = "" if self.y is None else f", y={self.y.dtype}{list(self.y.shape)}"
        return f"ArrayDataset(X={self.X.dtype}{list(self.X.shape)}{target})"


class _Rows:
    """Rows [lo, hi) of a user's dataset (anything indexable by an index array), read through it without a copy."""

    def __init__(self, dataset, lo: int, hi: int):
        self.dataset, self.lo, self.hi = dataset, lo, hi

    def __len__(self) -> int:
        return self.hi - self.lo

    def __getitem__(self, index):
        return self.dataset[np.asarray(index) + self.lo]


def dataset_rows(dataset, lo: int, hi: int):
    """Rows [lo, hi) of ``dataset``: an ArrayDataset of views of its arrays (batches stay slices), or a view.

    >>> dataset_rows(ArrayDataset(np.arange(10.0).reshape(5, 2), [0, 1, 0, 1, 0]), 1, 3)[:]
    (array([[2., 3.],
           [4., 5.]], dtype=float32), array([1, 0]))
    """
    if isinstance(dataset, ArrayDataset):
        y = dataset.y
        return ArrayDataset(dataset.X[lo:hi], None if y is None else y[lo:hi], dtype=dataset.X.dtype)
    return _Rows(dataset, lo, hi)


def rng_or_generator(owner: str, rng, generator):
    """``rng``, or PyTorch's name for it, ``generator``: a seed or NumPy generator, not both."""
    if rng is not None and generator is not None:
        raise DataError(f"{owner}: give rng or PyTorch's generator (the same thing), not both")
    return generator if rng is None else rng


def as_dataset(data, dtype=None):
    """The dataset that a loader, ``fit`` or ``evaluate`` reads, from any of the forms they accept.

    - a user's own dataset (anything sized and indexable by an index array,
      other than arrays, lists and tuples): returned as it is; one indexable only
      by an int, as a PyTorch ``Dataset`` is (``dataset[i] -> (x, y)``), is read
      sample by sample through a :class:`PerSampleDataset`;
    - an :class:`ArrayDataset`: returned as it is, or rebuilt with ``dtype``
      features when ``dtype`` names another one;
    - an ``(X, y)`` tuple, or an array (or nested list) ``X`` alone: validated once
      into an ArrayDataset of ``dtype`` features (float32 when ``dtype`` is None).

    >>> ds = as_dataset(([[0.0, 1.0], [2.0, 3.0]], [0, 1]), dtype=np.float64)
    >>> ds, as_dataset(ds) is ds, as_dataset(ds, dtype=np.float32).X.dtype
    (ArrayDataset(X=float64[2, 2], y=int64[2]), True, dtype('float32'))
    """
    if isinstance(data, PerSampleDataset):
        return data
    if _is_custom_dataset(data):
        return _batched(data)
    if isinstance(data, ArrayDataset):
        if dtype is None or data.X.dtype == dtype:
            return data
        return ArrayDataset(data.X, data.y, dtype=dtype)
    dtype = np.float32 if dtype is None else dtype
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DataError(f"a data tuple must be (X, y), got a tuple of {len(data)} items")
        return ArrayDataset(data[0], data[1], dtype=dtype)
    if isinstance(data, np.ndarray | list):
        return ArrayDataset(data, dtype=dtype)
    raise DataError(f"expected a dataset, an (X, y) tuple or an array, got {type(data).__name__}")


def _is_custom_dataset(data) -> bool:
    """A user's own dataset class: anything sized and indexable by an index array except raw arrays."""
    return (not isinstance(data, np.ndarray | list | tuple | ArrayDataset)
            and hasattr(data, "__len__") and hasattr(data, "__getitem__"))


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class PerSampleDataset:
    """A dataset read one sample at a time (``dataset[i] -> (x, y)`` or ``x``), batched as PyTorch's loader does.

    A batch is ``dataset[i]`` for each index, stacked: the ``x`` parts into one array,
    the ``y`` parts into another (a dict of targets key by key; y None for samples
    without one), as ``torch.utils.data.default_collate`` stacks them.  The original
    dataset is ``.dataset``.

    >>> class Squares:  # a PyTorch-style Dataset: int index, one sample
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return [float(i), float(i * i)], int(i) % 2
    >>> X, y = as_dataset(Squares())[np.array([3, 1])]
    >>> X.tolist(), y.tolist()
    ([[3.0, 9.0], [1.0, 1.0]], [1, 1])
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices):
        samples = [self.dataset[int(i)] for i in np.asarray(indices).reshape(-1)]
        if all(isinstance(s, tuple | list) and len(s) == 2 for s in samples):
            return _stack([s[0] for s in samples]), _stack_targets([s[1] for s in samples])
        return _stack(samples), None

    def __repr__(self) -> str:
        return f"PerSampleDataset({type(self.dataset).__name__}, {len(self)} samples)"


def _batched(data):
    """``data`` itself when it takes an index array, else a :class:`PerSampleDataset` over it."""
    n = len(data)
    if n == 0:
        return data  # the caller names the empty dataset
    try:
        data[np.arange(min(n, 2))]
        return data
    except (TypeError, IndexError, ValueError, KeyError) as error:  # an int-only __getitem__ (PyTorch's protocol)
        array_error = error
    try:
        data[0]
    except Exception as error:
        raise DataError(
            f"cannot read samples from {type(data).__name__}: dataset[index_array] raised "
            f"{type(array_error).__name__}: {array_error}, and dataset[0] raised {type(error).__name__}: {error}; "
            "a dataset returns (X_batch, y_batch) for an array of indices, or one sample (x, y) for an int index"
        ) from None
    return PerSampleDataset(data)


def _stack(parts):
    try:
        return np.stack([np.asarray(p) for p in parts])
    except ValueError as error:
        shapes = sorted({np.shape(p) for p in parts})
        raise DataError(f"samples of one batch have different shapes {shapes[:4]}: {error}") from None


def _stack_targets(targets):
    if all(t is None for t in targets):
        return None
    if all(isinstance(t, dict) for t in targets):
        return {key: _stack([t[key] for t in targets]) for key in targets[0]}
    return _stack(targets)
