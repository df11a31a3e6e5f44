"""The notes' "check the loss" before training: an untrained K-class softmax model should score ≈ log K."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .. import losses
from ..tensor import as_tensor, no_grad
from .probe import _dtype


class InitialLossCheck(NamedTuple):
    loss: float
    expected: float
    ok: bool

    def message(self) -> str:
        verdict = "near" if self.ok else "far from"
        return (f"initial loss {self.loss:.4g} is {verdict} log K = {self.expected:.4g} "
                f"(an untrained softmax classifier should predict about 1/K for every class)")


def check_initial_loss(model, X, y, num_classes: int | None = None, tolerance: float = 0.5,
                       warn: bool = True) -> InitialLossCheck:
    """Mean softmax cross-entropy of the untrained ``model`` on ``(X, y)`` against log K.

    With small random weights the logits are near zero, softmax gives ≈ 1/K to every
    class and the loss is −log(1/K) = log K. A loss further than ``tolerance``·log K
    from it points at a bug (wrong labels, a bad initialization scale, a loss that
    is not averaged). Warns (``RuntimeWarning``) when off, unless ``warn=False``.

    >>> import nnlab
    >>> model = nnlab.nn.Linear(4, 3, weight_init="zeros")
    >>> check_initial_loss(model, np.ones((6, 4)), np.arange(6) % 3).ok
    True
    """
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            logits = model(as_tensor(np.asarray(X, dtype=_dtype(model))))
            k = num_classes or logits.shape[-1]
            value = float(losses.cross_entropy(logits, np.asarray(y)).data)
    finally:
        model.train(was_training)
    expected = math.log(k)
    result = InitialLossCheck(value, expected, bool(abs(value - expected) <= tolerance * expected))
    if warn and not result.ok:
        warnings.warn(result.message(), RuntimeWarning, stacklevel=2)
    return result
