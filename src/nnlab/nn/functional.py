"""``import nnlab.nn.functional as F``, the spelling of ``import torch.nn.functional as F``.

A re-export, not a copy: the activations of :mod:`nnlab.functional`, the loss functions of
:mod:`nnlab.losses` (their conventions, README "Conventions that differ"), ``pad``, ``one_hot``,
``layer_norm``, ``group_norm``, ``normalize`` and ``interpolate``.
"""

import inspect

from .. import functional as _functional
from ..losses import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div, l1_loss, mse_loss, nll_loss,
    one_hot, smooth_l1_loss,
)
from ..ops.shape import pad  # noqa: F401

_SOURCES = ("nnlab.functional", "nnlab.ops.activations", "nnlab.ops.norms", "nnlab.ops.resize")
globals().update({name: fn for name, fn in vars(_functional).items()
                  if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ in _SOURCES})
