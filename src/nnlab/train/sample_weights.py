"""Keras's ``class_weight`` and ``sample_weight`` for :func:`nnlab.train.fit`: each sample's loss term weighted.

The rule is Keras 3's (a ``keras.losses.Loss`` with its default reduction
``"sum_over_batch_size"``): a batch of n samples with per-sample losses lᵢ and
weights wᵢ has the loss

    L = Σᵢ wᵢ·lᵢ / n

the weighted sum divided by the batch *size*, not by Σᵢ wᵢ (the alternative,
discussed in keras-team/keras#19740).  Why this rule, beyond being what a Keras
user's numbers will match: weights of 1 give exactly the unweighted mean; a
weight of 0 removes a sample's term without making the others weigh more; and
a batch's step size does not depend on which samples it happens to hold (with
Σwᵢ as the denominator, a batch of a few rare-class samples would step as far
as a batch of common ones, undoing the class weights).  In one full batch, a
weight of 2 is the sample counted twice in the sum -- duplicating it, up to the
constant factor (n+1)/n of the mean, i.e. a rescaled learning rate.  A loss with
``reduction="sum"`` gives Σᵢ wᵢ·lᵢ.

The per-sample values lᵢ are the loss's own ``reduction="none"`` values,
averaged over any axes after the first (MSE of (n, k) outputs: the mean over the
k outputs, as Keras's losses do; KL divergence's ``"batchmean"`` sums them).  A
loss's own settings (cross-entropy's class ``weight``, ``ignore_index``) still
shape each lᵢ.  Only training is weighted; validation reports the plain mean.

Nothing here runs without weights: ``fit`` then keeps its dataset and loss as
they are, so the unweighted step does no extra work.
"""

from __future__ import annotations

import numpy as np

from ..data import ArrayDataset
from ..errors import ConfigError
from ..losses.base import registered
from .fit_data import evaluating, model_dtype, probe_forward


def weighting(model, loss, dataset, class_weight, sample_weight, distributed) -> SampleWeighting | None:
    """The :class:`SampleWeighting` of ``fit``'s ``class_weight`` or ``sample_weight`` (None when neither is given)."""
    if class_weight is None and sample_weight is None:
        return None
    if class_weight is not None and sample_weight is not None:
        raise ConfigError("fit: give class_weight or sample_weight, not both (as in Keras 3); for both, pass "
                          "sample_weight multiplied by each sample's class weight")
    if distributed:
        raise ConfigError("fit: class_weight and sample_weight are not supported with distributed=True")
    from .multitask import MultiTaskLoss

    if isinstance(loss, MultiTaskLoss):
        raise ConfigError("fit: class_weight and sample_weight are not supported for multi-task training")
    dtype = model_dtype(model)
    weights = (check_sample_weight(sample_weight, len(dataset), dtype) if class_weight is None
               else class_sample_weights(class_weight, model, dataset, dtype))
    return SampleWeighting(weights, loss)


class SampleWeighting:
    """The training samples' weights, handed to the weighted loss batch by batch.

    :meth:`dataset` wraps the training set so that reading a batch's rows also
    picks their weights (in the loader's shuffled order); :attr:`loss` is ``loss``
    as Σ wᵢ·lᵢ / n over that batch (see the module docstring).
    """

    def __init__(self, weights: np.ndarray, loss):
        self.weights = weights
        self.batch = None
        self.loss = self._weighted(loss)

    def dataset(self, dataset):
        """``dataset`` (the training rows, the first ``len(dataset)`` of the weights) read with its weights."""
        self.weights = self.weights[:len(dataset)]  # validation_split took the last rows for validation
        return _WeightedRows(dataset, self)

    def _weighted(self, loss):
        spec = registered(loss)
        if spec is None:
            raise ConfigError(f"fit: class_weight and sample_weight need a loss that gives per-sample values: an "
                              f"nnlab loss (a name such as 'cross_entropy', a Loss such as CrossEntropyLoss(), or a "
                              f"function of nnlab.losses), got {getattr(loss, '__name__', type(loss).__name__)}")
        cls, settings, reduction = spec
        if reduction == "none":
            raise ConfigError(f"fit: the loss {cls.__name__} has reduction='none'; fit needs one value per batch: "
                              f"use 'mean' or 'sum'")
        fn = cls._fn

        def weighted(output, target):
            per = fn(output, target, reduction="none", **settings)
            if per.ndim > 1:
                axes = tuple(range(1, per.ndim))
                per = per.sum(axis=axes) if reduction == "batchmean" else per.mean(axis=axes)
            w = self.batch
            total = (per * w).sum()
            return total if reduction == "sum" else total * w.dtype.type(1.0 / len(w))

        return weighted


class _WeightedRows:
    """The training set, read as it is; each read of rows also sets the weighting's batch weights to theirs."""

    def __init__(self, dataset, weighting: SampleWeighting):
        self.data, self.weighting = dataset, weighting

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        self.weighting.batch = self.weighting.weights[index]
        return self.data[index]


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray:
    """``sample_weight`` as an (n,) array of ``dtype``: finite numbers >= 0, one per training sample."""
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"fit: sample_weight must be an array of numbers, got "
                          f"{type(sample_weight).__name__}") from None
    if w.shape != (n,):
        raise ConfigError(f"fit: sample_weight must have shape ({n},), one weight per sample of train_data, "
                          f"got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise ConfigError(f"fit: sample_weight must be finite numbers >= 0, got {float(w[row])!r} at row {row}")
    return w.astype(dtype)


def class_sample_weights(class_weight, model, dataset, dtype) -> np.ndarray:
    """Each sample's weight from its class (Keras: the label; the argmax of a one-hot row); other classes weigh 1."""
    if not isinstance(class_weight, dict):
        raise ConfigError(f"fit: class_weight must be a dict {{class index: weight}}, "
                          f"got {type(class_weight).__name__}")
    if isinstance(dataset, ArrayDataset):
        X_rows, y = dataset.X[:2], dataset.y
    else:
        X_rows, y = dataset[np.arange(min(2, len(dataset)))][0], dataset[np.arange(len(dataset))][1]
    if y is None:
        raise ConfigError("fit: class_weight needs class targets, but train_data has none (X is its own target)")
    with evaluating(model):
        output = probe_forward(model, X_rows, "train_data")
    width = output.shape[1] if isinstance(output, np.ndarray) and output.ndim == 2 else 1
    classes = width if width > 1 else 2  # one output: a binary classifier's classes 0 and 1
    table = np.ones(classes, dtype=dtype)
    for key, weight in class_weight.items():
        if isinstance(key, bool | np.bool_) or not isinstance(key, int | np.integer) or not 0 <= key < classes:
            raise ConfigError(f"fit: class_weight key {key!r} is not a class index of this model's {classes} "
                              f"classes (0..{classes - 1})")
        if isinstance(weight, bool | np.bool_) or not isinstance(weight, int | float | np.number) \
                or not np.isfinite(weight) or weight < 0:
            raise ConfigError(f"fit: class_weight[{key}] must be a finite number >= 0, got {weight!r}")
        table[key] = weight
    return table[_sample_classes(np.asarray(y), classes)]


def _sample_classes(y: np.ndarray, classes: int) -> np.ndarray:
    if y.ndim > 1 and y.shape[-1] != 1:
        return np.argmax(y.reshape(len(y), -1), axis=1)
    labels = y.reshape(len(y))
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        row = int(np.argmax(labels != np.round(labels)))
        raise ConfigError(f"fit: class_weight needs class-index targets, got {float(labels[row])!r} at row {row}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ConfigError(f"fit: class_weight needs targets that are class indices 0..{classes - 1}, "
                          f"got {labels.min()}..{labels.max()}")
    return labels
