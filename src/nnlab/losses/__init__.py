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
and from probabilities), ``divergence`` (KL), ``margin`` (hinge embedding, soft
margin, multi-class and multi-label margins), ``likelihood`` (Poisson, Gaussian),
``ranking`` (margin ranking, cosine embedding, triplet), ``penalties`` (L1/L2 on weights).
The class forms (``MSELoss()``, ``CrossEntropyLoss(label_smoothing=0.1)``, …)
are callables ``loss(output, target)`` for configs, registered in the one registry
of ``base``; :func:`get` builds one by name and :func:`names` lists the names.
The losses of more inputs (ranking pairs, triplets, the Gaussian's variance) are
:class:`MultiInputLoss` class forms, called with all their inputs and not registered.
"""

# MultiInputLoss: importable as the base of a loss of more inputs, not in __all__ (it is no loss itself)
from .base import Loss, MultiInputLoss, get, names  # noqa: F401
from .binary import BCELoss, BCEWithLogitsLoss, binary_cross_entropy, binary_cross_entropy_with_logits
from .classification import CrossEntropyLoss, NLLLoss, cross_entropy, nll_loss, one_hot
from .divergence import KLDivLoss, kl_div
from .likelihood import GaussianNLLLoss, PoissonNLLLoss, gaussian_nll_loss, poisson_nll_loss
from .margin import (
    HingeEmbeddingLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, SoftMarginLoss, hinge_embedding_loss,
    multi_margin_loss, multilabel_soft_margin_loss, soft_margin_loss,
)
from .penalties import l1_penalty, l2_penalty
from .ranking import (
    CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss, cosine_embedding_loss, margin_ranking_loss,
    triplet_margin_loss,
)
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
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "margin_ranking_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
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
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "MultiMarginLoss",
    "MultiLabelSoftMarginLoss",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    "MarginRankingLoss",
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
    "get",
    "names",
]
