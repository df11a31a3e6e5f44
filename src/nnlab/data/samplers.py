"""Samplers: the order in which a :class:`~nnlab.data.DataLoader` visits a dataset, under PyTorch's names.

Each sampler yields one epoch's sample indices (a fresh draw per epoch) and has a
length; ``DataLoader(dataset, sampler=...)`` cuts them into batches.  ``generator``
is an int seed or a ``numpy.random.Generator`` fixed at construction (None:
nnlab's global generator at each epoch, so ``nnlab.seed`` applies), as the
loader's own ``rng``.

>>> sampler = WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=4, generator=0)
>>> list(sampler), len(sampler)
([1, 1, 1, 1], 4)
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import check_bool, check_int
from ..errors import ConfigError
from ..random import get_rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler"]


class Sampler:
    """Base class: ``__iter__`` yields the indices of one epoch, ``__len__`` says how many."""

    def indices(self) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        raise NotImplementedError


def _generator(generator):
    return None if generator is None else get_rng(generator)


class SequentialSampler(Sampler):
    """0, 1, …, n − 1 in order."""

    def __init__(self, data_source):
        self.n = len(data_source)

    def indices(self) -> np.ndarray:
        return np.arange(self.n)

    def __len__(self) -> int:
        return self.n


class RandomSampler(Sampler):
    """A fresh permutation each epoch; ``replacement=True`` draws ``num_samples`` indices with replacement."""

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None):
        self.n = len(data_source)
        self.replacement = check_bool("replacement", replacement, owner="RandomSampler")
        self.num_samples = self.n if num_samples is None else check_int("num_samples", num_samples, 1,
                                                                        owner="RandomSampler")
        self._rng = _generator(generator)

    def indices(self) -> np.ndarray:
        rng = get_rng(self._rng)
        if self.replacement:
            return rng.integers(0, self.n, self.num_samples)
        # num_samples beyond n: whole permutations one after another, as PyTorch's
        rounds = -(-self.num_samples // self.n)
        return np.concatenate([rng.permutation(self.n) for _ in range(rounds)])[:self.num_samples]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order each epoch."""

    def __init__(self, indices, generator=None):
        self.subset = np.asarray(indices)
        if self.subset.ndim != 1 or not (self.subset.dtype.kind in "iu" or self.subset.size == 0):
            raise ConfigError(f"SubsetRandomSampler: indices must be a 1-D sequence of integers, got "
                              f"{self.subset.dtype} of shape {self.subset.shape}")
        self._rng = _generator(generator)

    def indices(self) -> np.ndarray:
        return self.subset[get_rng(self._rng).permutation(len(self.subset))]

    def __len__(self) -> int:
        return len(self.subset)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (the usual answer to class imbalance).

    Without replacement every index is drawn at most once (``num_samples`` ≤ the
    number of non-zero weights).
    """

    def __init__(self, weights, num_samples, replacement: bool = True, generator=None):
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ConfigError("WeightedRandomSampler: weights must be a non-empty 1-D sequence of finite numbers "
                              f">= 0, not all 0; got {np.asarray(weights)!r:.80}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples < 1:
            raise ConfigError(f"WeightedRandomSampler: num_samples must be a positive integer, got {num_samples!r}")
        self.replacement = check_bool("replacement", replacement, owner="WeightedRandomSampler")
        if not self.replacement and num_samples > np.count_nonzero(w):
            raise ConfigError(f"WeightedRandomSampler: without replacement num_samples ({num_samples}) cannot exceed "
                              f"the {np.count_nonzero(w)} indices of non-zero weight")
        self.weights, self.num_samples = w / w.sum(), int(num_samples)
        self._rng = _generator(generator)

    def indices(self) -> np.ndarray:
        return get_rng(self._rng).choice(len(self.weights), self.num_samples, replace=self.replacement,
                                         p=self.weights)

    def __len__(self) -> int:
        return self.num_samples
