"""``import nnlab.nn.functional as F``, the spelling of ``import torch.nn.functional as F``.

A re-export, not a copy: the activations of :mod:`nnlab.functional`, the loss functions of
:mod:`nnlab.losses` (their conventions, README "Conventions that differ"), ``pad``, ``one_hot``,
``layer_norm``, ``group_norm``, ``instance_norm``, ``rms_norm``, ``normalize`` and ``interpolate``; and the
layers' functional forms of :mod:`nnlab.nn.functional_forms` (``linear``, ``conv2d``, ``max_pool2d``, ``batch_norm``,
``dropout``, …; ``linear`` takes torch's (out, in) weight, ``dropout``'s ``p`` drops).
"""

import inspect

from .. import functional as _functional
from ..losses import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss,
    one_hot, smooth_l1_loss,
)
from ..losses import (  # noqa: F401
    cosine_embedding_loss, gaussian_nll_loss, hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
    multilabel_soft_margin_loss, poisson_nll_loss, soft_margin_loss, triplet_margin_loss,
)
from ..ops.shape import pad  # noqa: F401
from .functional_forms import (  # noqa: F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d, avg_pool2d,
    batch_norm, conv1d, conv2d, cosine_similarity, dropout, embedding, linear, max_pool1d, max_pool2d,
    pairwise_distance, prelu,
)

_SOURCES = ("nnlab.functional", "nnlab.ops.activations", "nnlab.ops.activations_more", "nnlab.ops.norms",
            "nnlab.ops.norms_more", "nnlab.ops.resize")
globals().update({name: fn for name, fn in vars(_functional).items()
                  if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ in _SOURCES})
