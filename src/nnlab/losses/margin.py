"""Margin losses on (output, target): hinge embedding and soft margin on ±1 labels, multi-class and multi-label margins.

Torch's formulas, each a registered loss (``"hinge_embedding"``, ``"soft_margin"``,
``"multi_margin"``, ``"multilabel_soft_margin"``) with its class form.  The ±1
labels and the class indices never get a gradient; ``multilabel_soft_margin_loss``'s
0/1 target does when it is a Tensor that requires grad (it is the BCE's).
Labels other than ±1 are not refused, as torch does not refuse them: each loss
says what such a label gives.  ``reduction`` is keyword-only here: torch's third
and later positional parameters are its deprecated ``size_average`` and ``reduce``.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_float
from ..errors import DataError
from ..tensor import make_result
from ._common import (check_reduction, check_weight, class_targets, class_weights, element_weights, prediction, reduce,
                      reduce_tensor, same_shape, target_array, upstream)
from .base import Loss, register
from .binary import binary_cross_entropy_with_logits


def _labels(input, target, reduction, where):
    """(input Tensor, label array of its shape and dtype) after the checks of the ±1-label losses."""
    check_reduction(reduction, where)
    input = prediction(input)
    return input, same_shape(input, target, where).data


def _constant_target_node(input, per, derivative, reduction):
    """The node of Σ f(input) with ``per`` = f(x), ``derivative`` = f'(x); the labels are constants."""
    out, factor = reduce(per, reduction, per.size, per.dtype)
    return make_result(out, (input,), lambda g: (derivative * upstream(g, factor),))


def hinge_embedding_loss(input, target, margin=1.0, *, reduction="mean"):
    """x where the label is 1, max(0, margin − x) where it is −1 (x: a distance); as ``torch.nn.HingeEmbeddingLoss``.

    Torch's rule for other labels holds too: a label that is neither 1 nor −1 adds both terms.

    >>> import nnlab
    >>> hinge_embedding_loss(nnlab.tensor([0.5, 0.25]), [1, -1]).item()
    0.625
    """
    margin = check_float("margin", margin, owner="hinge_embedding_loss")
    input, y = _labels(input, target, reduction, "hinge_embedding_loss")
    X = input.data
    dt = X.dtype.type
    gap = dt(margin) - X
    pushed, kept = y != 1, y != -1  # where the margin term counts, where x itself does
    per = np.where(pushed, np.maximum(gap, dt(0)), dt(0)) + np.where(kept, X, dt(0))
    # clamp_min passes the gradient at the kink (gap = 0), as torch's
    derivative = (kept.astype(X.dtype) - (pushed & (gap >= 0))).astype(X.dtype, copy=False)
    return _constant_target_node(input, per, derivative, reduction)


def soft_margin_loss(input, target, *, reduction="mean"):
    """log(1 + e^(−y·x)) per element (two-class logistic loss on ±1 labels), as ``torch.nn.SoftMarginLoss``.

    Computed stably (torch's overflows to inf for y·x below about −88 in float32); any label y works in the formula.

    >>> import nnlab
    >>> round(soft_margin_loss(nnlab.tensor([0.0, 2.0]), [1, -1]).item(), 4)
    1.41
    """
    input, y = _labels(input, target, reduction, "soft_margin_loss")
    X = input.data
    z = -y * X
    e = np.exp(-np.abs(z))
    per = np.maximum(z, X.dtype.type(0)) + np.log1p(e)
    sig_z = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(X.dtype, copy=False)
    return _constant_target_node(input, per, -y * sig_z, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    """Multi-class hinge: Σ_{i≠y} w[y]·max(0, margin − x[y] + x[i])^p / C per row; as ``torch.nn.MultiMarginLoss``.

    Classes on the last axis (torch's (N, C) and (C,) inputs, and any leading shape);
    ``target`` holds class indices; ``weight`` one number per class (it multiplies
    after the power, as torch's kernel); the mean is over the rows.

    >>> import nnlab
    >>> round(multi_margin_loss(nnlab.tensor([[0.1, 0.2, 0.4, 0.8]]), [3]).item(), 4)
    0.325
    """
    where = "multi_margin_loss"
    check_reduction(reduction, where)
    p = int(check_choice("p", p, (1, 2), owner=where))
    margin = check_float("margin", margin, owner=where)
    input = prediction(input)
    X = input.data
    if X.ndim == 0:
        raise DataError(f"{where}: the input needs a class axis (shape (N, C) or (C,)), got a 0-d input")
    C = X.shape[-1]
    w = class_weights(weight, C, X.dtype, where)
    y, _ = class_targets(target_array(target), X.shape[:-1], C, where)
    dt = X.dtype.type
    X2, cols = X.reshape(-1, C), y.reshape(-1)
    rows = np.arange(X2.shape[0])
    z = dt(margin) - X2[rows, cols][:, None] + X2
    z[rows, cols] = 0  # the target's own class is not a competitor
    active = z > 0
    hinge = np.where(active, z, dt(0))
    scale = (np.ones(len(cols), dtype=X.dtype) if w is None else w[cols])[:, None] / dt(C)
    per = ((hinge if p == 1 else hinge * hinge) * scale).sum(axis=1)
    out, factor = reduce(per.reshape(X.shape[:-1]), reduction, per.size, X.dtype)

    def backward(g):
        up = upstream(g, factor)
        up = up.reshape(-1, 1) if factor is None else up
        d = (active if p == 1 else hinge * dt(2)) * scale * up  # d per / d x[i] for each competitor i
        d = d.astype(X.dtype, copy=False)
        d[rows, cols] = -d.sum(axis=1)  # x[y] enters every competitor's term with the opposite sign
        return (d.reshape(X.shape),)

    return make_result(out, (input,), backward)


def multilabel_soft_margin_loss(input, target, weight=None, *, reduction="mean"):
    """One logistic loss per label: the BCE from logits of each of the C labels, averaged over C per row.

    As ``torch.nn.MultiLabelSoftMarginLoss``: ``target`` is 0/1 per label (input's
    shape), ``weight`` (broadcast to the input's shape, usually one number per class)
    rescales each label's loss; ``"none"`` gives one value per row.

    >>> import nnlab
    >>> round(multilabel_soft_margin_loss(nnlab.tensor([[0.0, 2.0]]), [[1, 0]]).item(), 4)
    1.41
    """
    where = "multilabel_soft_margin_loss"
    check_reduction(reduction, where)
    input = prediction(input)
    if input.data.ndim == 0:
        raise DataError(f"{where}: the input needs a class axis (shape (N, C) or (C,)), got a 0-d input")
    per = binary_cross_entropy_with_logits(input, same_shape(input, target, where), reduction="none")
    if weight is not None:
        per = per * element_weights(weight, input.data, where)
    per = per.sum(-1) * (1.0 / input.data.shape[-1])
    return reduce_tensor(per, reduction)


@register("hinge_embedding", hinge_embedding_loss)
class HingeEmbeddingLoss(Loss):
    """Hinge embedding loss on ±1 labels with ``margin``, as ``torch.nn.HingeEmbeddingLoss``."""

    def __init__(self, margin=1.0, *, reduction="mean"):
        super().__init__(reduction)
        self._settings = {"margin": check_float("margin", margin, owner="HingeEmbeddingLoss")}


@register("soft_margin", soft_margin_loss)
class SoftMarginLoss(Loss):
    """Logistic loss on ±1 labels, as ``torch.nn.SoftMarginLoss``."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)


@register("multi_margin", multi_margin_loss)
class MultiMarginLoss(Loss):
    """Multi-class hinge loss on class indices, as ``torch.nn.MultiMarginLoss`` (``p`` 1 or 2, ``margin``, ``weight``)."""

    class_targets = True

    def __init__(self, p=1, margin=1.0, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        where = "MultiMarginLoss"
        weight = check_weight(weight, where)
        self._settings = {"p": int(check_choice("p", p, (1, 2), owner=where)),
                          "margin": check_float("margin", margin, owner=where),
                          "weight": None if weight is None else list(weight)}


@register("multilabel_soft_margin", multilabel_soft_margin_loss)
class MultiLabelSoftMarginLoss(Loss):
    """Per-label logistic loss averaged over the labels, as ``torch.nn.MultiLabelSoftMarginLoss`` (``weight``)."""

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self._settings = {"weight": None if weight is None else np.asarray(weight, dtype=float).tolist()}
