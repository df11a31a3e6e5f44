"""Losses of pairs and triplets: margin ranking, cosine embedding and triplet margin, as torch's.

Each compares two or three inputs, so each is a class form called with all of them
(``TripletMarginLoss()(anchor, positive, negative)``), outside the registry of
(output, target) losses.  They are built from differentiable tensor ops (the
distances of ``F.pairwise_distance``), so every input that requires grad gets its
gradient; the ±1 labels are constants.  Labels other than ±1 are not refused
(torch does not refuse them); each function says what they give.
``reduction`` is keyword-only: torch's positional parameters after the margin
are the deprecated ``size_average`` and ``reduce``.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_bool, check_float
from ..errors import DataError
from ..ops.elementwise import clip, minimum, sqrt, where
from ..ops.reduce import sum as _sum
from ..tensor import Tensor, as_tensor
from ._common import check_reduction, prediction, reduce_tensor, target_array
from .base import MultiInputLoss

_COSINE_EPS = 1e-12  # torch's: added to each squared length, so a zero vector gives cosine 0, not NaN


def _inputs(where, reduction, **inputs):
    """The inputs as Tensors in the first one's dtype (labels as constant arrays), all of one shape, else a DataError."""
    check_reduction(reduction, where)
    names = list(inputs)
    first = prediction(inputs[names[0]])
    lifted = {names[0]: first}
    for name in names[1:]:
        x = inputs[name]
        if name == "target":
            lifted[name] = target_array(x).astype(first.data.dtype, copy=False)
        elif isinstance(x, Tensor) and (x.requires_grad or x.data.dtype == first.data.dtype):
            lifted[name] = x
        else:
            lifted[name] = as_tensor(x.data if isinstance(x, Tensor) else x, like=first)
    shapes = {name: np.shape(x.data if isinstance(x, Tensor) else x) for name, x in lifted.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise DataError(f"{where}: the inputs must have one shape, got {listed}")
    return [lifted[name] for name in names]


def margin_ranking_loss(input1, input2, target, margin=0.0, *, reduction="mean"):
    """max(0, −y·(x1 − x2) + margin): y = 1 asks for x1 above x2 by ``margin``, y = −1 for x2 above x1.

    As ``torch.nn.MarginRankingLoss``; the three inputs have one shape (torch needs one
    number of dimensions and broadcasts).  A label y of another value scales the difference as written.

    >>> import nnlab
    >>> margin_ranking_loss(nnlab.tensor([1.0, 0.0]), nnlab.tensor([0.0, 1.0]), [1, 1], margin=0.5).item()
    0.75
    """
    margin = check_float("margin", margin, owner="margin_ranking_loss")
    x1, x2, y = _inputs("margin_ranking_loss", reduction, input1=input1, input2=input2, target=target)
    return reduce_tensor(clip((x2 - x1) * y + margin, 0.0), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, *, reduction="mean"):
    """1 − cos(x1, x2) where the label is 1, max(0, cos(x1, x2) − margin) where it is −1; cosines along the last axis.

    As ``torch.nn.CosineEmbeddingLoss``: inputs (N, D) with labels (N,), or (D,) with one
    label; the cosine is torch's Σx1·x2 / √((Σx1² + 1e-12)(Σx2² + 1e-12)).  A label
    that is neither 1 nor −1 gives 0, as in torch.

    >>> import nnlab
    >>> cosine_embedding_loss(nnlab.tensor([[1.0, 0.0]]), nnlab.tensor([[0.0, 1.0]]), [1]).item()
    1.0
    """
    where_ = "cosine_embedding_loss"
    margin = check_float("margin", margin, owner=where_)
    y = target_array(target)
    x1, x2 = _inputs(where_, reduction, input1=input1, input2=input2)
    if y.ndim > 1 or x1.data.ndim != y.ndim + 1 or x1.data.shape[:-1] != y.shape:
        raise DataError(f"{where_}: labels of shape {y.shape} do not fit inputs of shape {x1.data.shape} "
                        "(inputs (N, D) take labels (N,); inputs (D,) take one label)")
    cos = _sum(x1 * x2, -1) / sqrt((_sum(x1 * x1, -1) + _COSINE_EPS) * (_sum(x2 * x2, -1) + _COSINE_EPS))
    zero = np.zeros(y.shape, dtype=x1.data.dtype)
    per = where(y == 1, 1.0 - cos, zero) + where(y == -1, clip(cos - margin, 0.0), zero)
    return reduce_tensor(per, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, *, reduction="mean"):
    """max(0, margin + d(a, p) − d(a, n)) with d torch's ``F.pairwise_distance(·, ·, p, eps)`` along the last axis.

    As ``torch.nn.TripletMarginLoss``; ``swap`` (Balntas et al.) uses the smaller of
    d(a, n) and d(p, n) as the negative's distance.  The three inputs have one shape.

    >>> import nnlab
    >>> a, p, n = nnlab.tensor([[0.0, 0.0]]), nnlab.tensor([[3.0, 4.0]]), nnlab.tensor([[0.0, 1.0]])
    >>> round(triplet_margin_loss(a, p, n).item(), 4)
    5.0
    """
    from ..nn.functional_forms import pairwise_distance  # nnlab.nn imports the losses: loaded on first use

    where_ = "triplet_margin_loss"
    margin = check_float("margin", margin, owner=where_)
    p = check_float("p", p, 0.0, low_open=True, allow_inf=True, owner=where_)
    eps = check_float("eps", eps, owner=where_)
    swap = check_bool("swap", swap, owner=where_)
    a, pos, neg = _inputs(where_, reduction, anchor=anchor, positive=positive, negative=negative)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return reduce_tensor(clip(pairwise_distance(a, pos, p, eps) - d_neg + margin, 0.0), reduction)


class MarginRankingLoss(MultiInputLoss):
    """``loss(input1, input2, target)``: the ranking hinge with ``margin``, as ``torch.nn.MarginRankingLoss``."""

    _fn = staticmethod(margin_ranking_loss)

    def __init__(self, margin=0.0, *, reduction="mean"):
        super().__init__(reduction)
        self._settings = {"margin": check_float("margin", margin, owner="MarginRankingLoss")}


class CosineEmbeddingLoss(MultiInputLoss):
    """``loss(input1, input2, target)``: cosine similarity for ±1 pairs, as ``torch.nn.CosineEmbeddingLoss``."""

    _fn = staticmethod(cosine_embedding_loss)

    def __init__(self, margin=0.0, *, reduction="mean"):
        super().__init__(reduction)
        self._settings = {"margin": check_float("margin", margin, owner="CosineEmbeddingLoss")}


class TripletMarginLoss(MultiInputLoss):
    """``loss(anchor, positive, negative)``, as ``torch.nn.TripletMarginLoss`` (``margin``, ``p``, ``eps``, ``swap``)."""

    _fn = staticmethod(triplet_margin_loss)

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, *, reduction="mean"):
        super().__init__(reduction)
        where_ = "TripletMarginLoss"
        self._settings = {"margin": check_float("margin", margin, owner=where_),
                          "p": check_float("p", p, 0.0, low_open=True, allow_inf=True, owner=where_),
                          "eps": check_float("eps", eps, owner=where_), "swap": check_bool("swap", swap, owner=where_)}
