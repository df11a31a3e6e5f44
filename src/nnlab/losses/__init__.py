"""Losses and weight penalties; each loss is one graph node with an analytic backward.

Losses take the prediction as a Tensor (an ndarray is lifted) and the target
as an ndarray or Tensor, and return a 0-d Tensor (``reduction="mean"``, the
default, or ``"sum"``) or the per-element / per-example values
(``reduction="none"``).  Names, keywords and reductions are PyTorch's
(``torch.nn.functional``); where nnlab differs (the seeds' label smoothing,
classes on the last axis, ``ignore_index`` off by default) the function says so.
Class-index targets never get a gradient; the elementwise losses (MSE, Euclidean,
Huber, smooth L1, both binary cross-entropies, KL divergence) give one to a
target Tensor that itself requires grad.

One module per family: ``regression`` (mse, euclidean, huber, smooth L1),
``classification`` (cross-entropy, NLL, one_hot), ``binary`` (BCE from logits
and from probabilities), ``divergence`` (KL), ``penalties`` (L1/L2 on weights).
The class forms (``MSELoss()``, ``CrossEntropyLoss(label_smoothing=0.1)``, …)
are callables ``loss(output, target)`` for configs, registered in the one registry
of ``base``; :func:`get` builds one by name and :func:`names` lists the names.
"""

from .base import Loss, get, names
from .binary import BCELoss, BCEWithLogitsLoss, binary_cross_entropy, binary_cross_entropy_with_logits
from .classification import CrossEntropyLoss, NLLLoss, cross_entropy, nll_loss, one_hot
from .divergence import KLDivLoss, kl_div
from .penalties import l1_penalty, l2_penalty
from .regression import (
    EuclideanLoss, HuberLoss, L1Loss, MSELoss, SmoothL1Loss, euclidean_loss, huber_loss, l1_loss, mse_loss, smooth_l1_loss,
)

__all__ = [
    "mse_loss",
    "l1_loss",
    "euclidean_loss",
    "huber_loss",
    "smooth_l1_loss",
    "cross_entropy",
    "nll_loss",
    "one_hot",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "l1_penalty",
    "l2_penalty",
    "Loss",
    "MSELoss",
    "L1Loss",
    "EuclideanLoss",
    "HuberLoss",
    "SmoothL1Loss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
    "get",
    "names",
]
