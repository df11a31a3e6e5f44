"""What every loss shares: the reduction rule, lifting the inputs, checking targets and class weights."""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int
from ..errors import ConfigError, DataError
from ..tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, where, choices=REDUCTIONS):
    try:
        check_choice("reduction", reduction, choices, owner=where)
    except ConfigError:  # check_choice's rule; the names stay unquoted, as tests/test_losses.py matches them
        raise ConfigError(f"{where}: reduction must be one of {', '.join(choices)}, got {reduction!r}") from None


def prediction(x) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def same_shape(pred: Tensor, target, where) -> Tensor:
    """The target as a Tensor of the prediction's shape and dtype (a target that requires grad is kept as it is)."""
    if not isinstance(target, Tensor) or (not target.requires_grad and target.data.dtype != pred.data.dtype):
        target = as_tensor(target.data if isinstance(target, Tensor) else target, like=pred)
    if target.data.shape != pred.data.shape:
        raise DataError(f"{where}: target shape {target.data.shape} does not match prediction shape {pred.data.shape}")
    return target


def reduce(per: np.ndarray, reduction: str, denominator, dtype):
    """(output array, factor): the reduced loss and the factor d(output)/d(per) (None for "none").

    ``"mean"`` divides the sum by ``denominator``: the number of values, or (class
    weights, PyTorch's rule) the sum of the weights of the counted targets; a zero
    denominator (every target ignored) gives NaN, as in PyTorch.
    """
    if reduction == "none":
        return per, None
    total = per.sum()
    one = dtype.type(1)
    if reduction == "sum":
        return np.asarray(total, dtype=dtype), one
    if not denominator:
        return np.asarray(np.nan, dtype=dtype), dtype.type(0)
    return np.asarray(total / dtype.type(denominator), dtype=dtype), one / dtype.type(denominator)


def reduce_tensor(per: Tensor, reduction: str) -> Tensor:
    """The reduction of a loss built from tensor ops (``per``: its unreduced values); the ops carry the gradient."""
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" else per.mean()


def upstream(g, factor):
    """The upstream gradient to multiply elementwise derivatives by."""
    return g if factor is None else g * factor


def target_array(target) -> np.ndarray:
    return np.asarray(target.data if isinstance(target, Tensor) else target)


def element_weights(weight, X: np.ndarray, where) -> np.ndarray:
    """``weight`` in ``X``'s dtype broadcast to ``X``'s shape (torch's rescaling weight), or a DataError naming both shapes."""
    w = target_array(weight).astype(X.dtype, copy=False)
    try:
        return np.broadcast_to(w, X.shape)
    except ValueError:
        raise DataError(f"{where}: weight of shape {w.shape} does not broadcast to the input's shape {X.shape}") from None


def class_targets(target, lead_shape, classes, where, ignore_index=None):
    """(indices, kept): integer class indices of ``lead_shape`` in [0, classes), or DataError.

    Targets equal to ``ignore_index`` are left out (``kept`` is False there, their
    index is set to 0 so that it can index); ``kept`` is None when nothing is ignored.
    """
    y = np.asarray(target)
    if y.shape != tuple(lead_shape):  # first: rows of the wrong width are not "fractional class indices"
        raise DataError(f"{where}: class targets of shape {y.shape} do not fit predictions of shape {lead_shape + (classes,)}")
    if y.dtype.kind == "f":
        rounded = np.rint(y)
        if not np.array_equal(rounded, y):
            raise DataError(f"{where}: class targets must be whole numbers, got {y.ravel()[:5].tolist()}…")
        y = rounded.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise DataError(f"{where}: class targets must be integers, got dtype {y.dtype}")
    kept = None
    if ignore_index is not None:
        kept = y != ignore_index
        y = np.where(kept, y, 0)
    checked = y if kept is None else y[kept]
    if checked.size and _out_of_range(checked, classes):
        low, high = int(checked.min()), int(checked.max())
        bad = low if low < 0 else high
        raise DataError(f"{where}: class index {bad} is out of range for {classes} classes (0..{classes - 1})")
    return y, kept


def _out_of_range(y: np.ndarray, classes: int) -> bool:
    """Whether an integer index lies outside [0, classes), in one pass over ``y``.

    Viewed as unsigned integers of the same width, negative indices become the
    largest values, so one maximum tests both ends (half the cost of min and max
    on a batch of labels, which every training step checks).
    """
    if y.dtype.kind == "i":
        y = y.view(y.dtype.str.replace("i", "u"))
    return int(y.max()) >= classes


def check_ignore_index(ignore_index, where):
    """None (nothing ignored; PyTorch's default is -100) or an integer."""
    return None if ignore_index is None else check_int("ignore_index", ignore_index, owner=where)


def check_weight(weight, where):
    """Class weights as a tuple of floats (one per class, finite, >= 0), or None; for the class forms' configs."""
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.ndim != 1 or w.size == 0 or w.dtype.kind not in "iuf" or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError(f"{where}: weight must be a list of finite numbers >= 0, one per class, got {weight!r}")
    return tuple(float(v) for v in w)


def class_weights(weight, classes, dtype, where):
    """The class-weight vector in the prediction's dtype (None: every class weighs 1)."""
    if weight is None:
        return None
    w = np.asarray(check_weight(weight, where), dtype=dtype)
    if w.shape != (classes,):
        raise DataError(f"{where}: weight has {w.size} entries but the predictions have {classes} classes")
    return w
