"""Metrics for the training loop: accuracy, the predicted-label rule, the confusion matrix.

Accuracy reads classes from the model's raw output with one rule everywhere:
the argmax for multi-column outputs, the sign (threshold 0 on a logit) for a
single column. Targets are class indices, or one-hot/probability rows (their
argmax), or 0/1 values for a single-column binary output.

In the loop a metric is an *accumulator*: ``update(output, target)`` adds one
batch with a few whole-array NumPy calls, ``result()`` gives the epoch's value.
An accumulator whose state is sums over the samples (Accuracy: correct and
total) gives them as ``totals()``, so a distributed run can validate disjoint
parts of the data on its ranks and add the parts up (``set_totals``).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..errors import ConfigError, DataError


def predicted_labels(output, threshold: float = 0.0) -> np.ndarray:
    """Class indices read from raw model outputs: argmax per row, or ``output > threshold`` for one column.

    >>> predicted_labels(np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]]))
    array([1, 0])
    >>> predicted_labels(np.array([[-0.5], [0.7]]))
    array([0, 1])
    """
    output = _array(output)
    if output.ndim == 2 and output.shape[1] > 1:
        return output.argmax(axis=1)
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        return (output.reshape(-1) > threshold).astype(np.int64)
    raise DataError(f"cannot read class predictions from outputs of shape {output.shape}; expected (N, classes) or (N,)")


def target_labels(target) -> np.ndarray:
    """Class indices of targets: integer labels as they are, one-hot or probability rows by argmax.

    >>> target_labels(np.array([[0, 1], [1, 0]]))
    array([1, 0])
    """
    target = _array(target)
    if target.ndim == 2 and target.shape[1] > 1:
        return target.argmax(axis=1)
    return target.reshape(-1)


def accuracy(output, target, threshold: float = 0.0) -> float:
    """Fraction of rows whose predicted class (:func:`predicted_labels`) equals the target class.

    >>> accuracy(np.array([[2.0, 1.0], [0.0, 1.0], [1.0, 0.0]]), np.array([0, 1, 1]))
    0.6666666666666666
    """
    counter = Accuracy(threshold)
    counter.update(_array(output), _array(target))
    return counter.result()


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class i predicted as class j (rows: truth, columns: prediction).

    ``num_classes`` defaults to one more than the largest label seen.

    >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2])
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise DataError(f"confusion_matrix: {y_true.size} true labels but {y_pred.size} predictions")
    for name, labels in (("true labels", y_true), ("predictions", y_pred)):
        if labels.size and (labels.dtype.kind not in "iub" or labels.min() < 0):
            raise DataError(f"confusion_matrix: {name} must be class indices 0..K-1")
    seen = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = seen
    elif seen > num_classes:
        raise DataError(f"confusion_matrix: label {seen - 1} is outside 0..{num_classes - 1} ({num_classes} classes)")
    flat = np.bincount(y_true.astype(np.int64) * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


class Metric:
    """An accumulator over batches. Subclasses set ``name`` and write ``update`` and ``result``."""

    name = "metric"

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def totals(self) -> list[float] | None:
        """The state as numbers that add up over disjoint parts of the data, or None when it is not such sums.

        Distributed validation adds each rank's totals and gives the sum to
        :meth:`set_totals`; a metric without them (None) makes every rank validate
        the whole validation set instead.
        """
        return None

    def set_totals(self, totals) -> None:
        """Take the state that :meth:`totals` describes (the sums over all parts)."""
        raise NotImplementedError


class Accuracy(Metric):
    """Running count of correct predictions; the rule (argmax or threshold) is chosen on the first batch."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.0):
        self.threshold = check_float("threshold", threshold, owner="Accuracy")
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        if output.ndim == 2 and output.shape[1] > 1:
            predicted = output.argmax(axis=1)
            if target.ndim == 2:
                target = target.argmax(axis=1)
        else:
            predicted = output.reshape(-1) > self.threshold
            target = target.reshape(-1)
            if target.dtype.kind == "f":
                target = target > 0.5  # 0/1 targets, or soft targets read as their nearer class
        self.correct += int(np.count_nonzero(predicted == target))
        self.total += len(predicted)

    def result(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    def totals(self) -> list[float]:
        return [self.correct, self.total]

    def set_totals(self, totals) -> None:
        self.correct, self.total = int(totals[0]), int(totals[1])


class FunctionMetric(Metric):
    """A user function ``fn(output, target) -> float`` averaged over batches, weighted by batch size.

    That average is the function's value on all the rows when it is a mean over
    rows (as mean absolute error is); distributed validation relies on it.
    """

    def __init__(self, fn, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset()

    def reset(self) -> None:
        self.sum = 0.0
        self.total = 0

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        n = len(output)
        self.sum += float(self.fn(output, target)) * n
        self.total += n

    def result(self) -> float:
        return self.sum / self.total if self.total else float("nan")

    def totals(self) -> list[float]:
        return [self.sum, self.total]

    def set_totals(self, totals) -> None:
        self.sum, self.total = float(totals[0]), int(totals[1])


METRICS = {"accuracy": Accuracy, "acc": Accuracy}


def get_metric(metric) -> Metric:
    """A fresh accumulator for a metric name (``"accuracy"``), a :class:`Metric` or a function of (output, target)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        try:
            return METRICS[metric]()
        except KeyError:
            raise ConfigError(f"unknown metric {metric!r} (allowed: {', '.join(sorted(METRICS))})") from None
    if callable(metric):
        return FunctionMetric(metric)
    raise ConfigError(f"a metric must be a name, a Metric or a function of (output, target), got {metric!r}")


def metric_list(metrics) -> list:
    """Accumulators for ``metrics`` (a name, a callable or a sequence of them), with distinct names."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics) or isinstance(metrics, Metric):
        metrics = (metrics,)
    out = [get_metric(m) for m in metrics]
    names = [m.name for m in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated or "loss" in names:
        raise ConfigError(f"metric names must be distinct and not 'loss', got {names}")
    return out


def _array(x) -> np.ndarray:
    return np.asarray(getattr(x, "data", x))
