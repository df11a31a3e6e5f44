"""Mini-batches over a dataset, reshuffled every epoch (the seeds: shuffle the training samples)."""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..errors import ConfigError, DataError
from ..random import get_rng
from .augmentation import Compose
from .dataset import ArrayDataset, as_dataset, rng_or_generator
from .dataset import _is_custom_dataset  # noqa: F401  (train/loop.py reads it until it uses data.as_dataset)


class DataLoader:
    """Iterate ``(X_batch, y_batch)`` pairs of ``batch_size`` samples.

    ``batch_size`` equal to the number of samples (or None) is batch gradient
    descent; 1 is stochastic gradient descent. With ``shuffle`` the order is a fresh
    permutation every epoch, drawn from ``rng`` (an int seed or Generator fixed at
    construction; None draws from nnlab's global generator at the start of each
    epoch, so ``nnlab.seed`` applies). Each batch is one fancy index into the
    dataset's arrays (a slice, so no copy at all, when not shuffling); the dataset
    itself is never copied or converted per batch. ``augment`` (a callable or a list
    of them) maps each X batch to a new array, for training loaders only.

    PyTorch's keywords: ``sampler`` (a :mod:`nnlab.data.samplers` sampler, e.g.
    ``WeightedRandomSampler``) gives each epoch's order, and then ``shuffle`` is off;
    ``generator`` is ``rng``; ``collate_fn(samples) -> (X_batch, y_batch)`` builds each
    batch from ``dataset[i]`` one sample at a time; ``num_workers`` is accepted and
    changes nothing (batches are views of arrays in memory, read in this process).

    >>> loader = DataLoader((np.arange(10).reshape(5, 2), np.arange(5)), batch_size=2, shuffle=False)
    >>> len(loader), [y.tolist() for _, y in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, data, batch_size: int | None = 32, shuffle: bool = True, drop_last: bool = False,
                 rng=None, augment=None, *, sampler=None, generator=None, collate_fn=None, num_workers: int = 0):
        self.dataset = as_dataset(data)
        n = len(self.dataset)
        if n == 0:
            raise DataError("the dataset is empty: no samples to batch")
        if sampler is not None and not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
            raise DataError(f"DataLoader: sampler must be iterable and sized (a nnlab.data sampler), "
                            f"got {type(sampler).__name__}")
        self.sampler = sampler
        self.batch_size = (len(sampler) if sampler is not None else n) if batch_size is None \
            else _check_batch_size(batch_size)
        # PyTorch's rule: the sampler decides the order, so shuffle must be off (its default, True, is turned off)
        self.shuffle = bool(shuffle) and sampler is None
        self.drop_last = bool(drop_last)
        if self.drop_last and self.batch_size > self.num_samples:
            raise DataError(f"drop_last with batch_size {self.batch_size} leaves no batch: the dataset has only "
                            f"{self.num_samples} samples")
        rng = rng_or_generator("DataLoader", rng, generator)
        self._rng = None if rng is None else get_rng(rng)
        self.augment = _compose(augment)
        if collate_fn is not None and not callable(collate_fn):
            raise DataError(f"DataLoader: collate_fn must be a function of a list of samples, got {collate_fn!r}")
        self.collate_fn = collate_fn
        # accepted so that PyTorch scripts run: batches are index views of arrays in memory, read in this
        # process, so worker processes would have nothing to do (the numbers are the same for any value)
        self.num_workers = check_int("num_workers", num_workers, 0, owner="DataLoader")

    @property
    def num_samples(self) -> int:
        return len(self.sampler) if self.sampler is not None else len(self.dataset)

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.intp, count=len(self.sampler))
        return get_rng(self._rng).permutation(self.num_samples) if self.shuffle else None

    def __iter__(self):
        n, b = self.num_samples, self.batch_size
        stop = n - n % b if self.drop_last else n
        order = self._order()
        augment = self.augment
        if self.collate_fn is not None:
            source = getattr(self.dataset, "dataset", self.dataset)  # a per-sample dataset: the user's own
            for start in range(0, stop, b):
                index = range(start, min(start + b, n)) if order is None else order[start:start + b]
                X_batch, y_batch = self.collate_fn([_sample(source, int(i)) for i in index])
                yield (X_batch if augment is None else augment(X_batch)), y_batch
        elif isinstance(self.dataset, ArrayDataset):
            X, y = self.dataset.X, self.dataset.y
            for start in range(0, stop, b):
                index = slice(start, start + b) if order is None else order[start:start + b]
                X_batch = X[index]
                yield (X_batch if augment is None else augment(X_batch)), (None if y is None else y[index])
        else:
            for start in range(0, stop, b):
                index = np.arange(start, min(start + b, n)) if order is None else order[start:start + b]
                X_batch, y_batch = self.dataset[index]
                yield (X_batch if augment is None else augment(X_batch)), y_batch

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, batches={len(self)})")


def _check_batch_size(batch_size) -> int:
    """check_int's rule; a loader reports it as a DataError in its own words (tests/test_data_loader.py pins them)."""
    try:
        return check_int("batch_size", batch_size, 1, owner="DataLoader")
    except ConfigError:
        raise DataError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}") from None


def _compose(augment):
    if augment is None or callable(augment):
        return augment
    if isinstance(augment, str) or not hasattr(augment, "__iter__"):
        raise DataError(f"augment must be a callable or a list of callables, got {augment!r}")
    return Compose(augment) if len(augment := list(augment)) else None


def _sample(dataset, i: int):
    """One sample, as PyTorch's ``dataset[i]``: an ArrayDataset gives ``(x, y)`` (or ``x`` without targets)."""
    if isinstance(dataset, ArrayDataset):
        return dataset.X[i] if dataset.y is None else (dataset.X[i], dataset.y[i])
    return dataset[i]

