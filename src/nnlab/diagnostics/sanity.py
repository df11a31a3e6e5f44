"""The notes' "check the loss" before training: an untrained K-class softmax model should score ≈ log K."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .. import losses, nn
from .._checks import check_float
from ..tensor import as_tensor, no_grad
from .probe import _dtype

# Label-independent logits of variance v cost about (1 - 1/K)·v/2 nats over log K, whatever K is, and
# variance-preserving initializations (He, Xavier) give v of 1-2 plus a class offset that non-centred
# features (ReLU outputs) share: on the 2-class examples/moons_relu.toml, 200 seeds of its default
# initialization start up to 2.14 nats above log 2. The bugs the check is for are far above that
# (digits MLP on raw 0..16 pixels: 12-19 nats over log 10). A tolerance of a fraction of log K
# (0.35 nats for K = 2, 1.15 for K = 10) flagged 41 % of those healthy 2-class runs, so the margin is
# in nats.
MARGIN = 3.0


class InitialLossCheck(NamedTuple):
    loss: float
    expected: float
    ok: bool
    margin: float = MARGIN

    def message(self) -> str:
        verdict = (f"near log K = {self.expected:.4g} (within {self.margin:g} nats" if self.ok else
                   f"far from log K = {self.expected:.4g} (more than {self.margin:g} nats off")
        return f"initial loss {self.loss:.4g} is {verdict}; an untrained softmax classifier should predict about 1/K " \
               "for every class)"


def check_initial_loss(model, X, y, num_classes: int | None = None, margin: float = MARGIN,
                       warn: bool = True) -> InitialLossCheck:
    """Mean softmax cross-entropy of the untrained ``model`` on ``(X, y)`` against log K.

    With small random weights the logits are near zero, softmax gives ≈ 1/K to every
    class and the loss is −log(1/K) = log K; the unit-scale logits of He or Xavier
    initialization add a fraction of a nat (about 2 on an unlucky draw). A loss more
    than ``margin`` nats from log K (the true class gets, on geometric average, less
    than e^−margin of 1/K: 1/20 at the default 3) points at a bug: wrong labels, a bad
    initialization scale, unscaled inputs. The loss is the first training step's:
    BatchNorm layers normalize with the batch's statistics (their running averages
    are put back), everything else runs in eval mode (no dropout, no randomness drawn).
    Warns (``RuntimeWarning``) when off, unless ``warn=False``.

    >>> import nnlab
    >>> model = nnlab.nn.Linear(4, 3, weight_init="zeros")
    >>> check_initial_loss(model, np.ones((6, 4)), np.arange(6) % 3).ok
    True
    """
    margin = check_float("margin", margin, 0.0, owner="check_initial_loss")
    was_training = model.training
    # An untrained BatchNorm's running averages (mean 0, variance 1) normalize nothing: in eval mode a
    # network on raw pixels would score tens of nats that its first training batch never sees.
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm)]
    saved = [(m.running_mean.copy(), m.running_var.copy()) for m in norms]
    model.eval()
    for m in norms:
        m.train()
    try:
        with no_grad():
            logits = model(as_tensor(np.asarray(X, dtype=_dtype(model))))
            k = num_classes or logits.shape[-1]
            value = float(losses.cross_entropy(logits, np.asarray(y)).data)
    finally:
        for m, (mean, var) in zip(norms, saved):
            m.running_mean[...] = mean
            m.running_var[...] = var
        model.train(was_training)
    expected = math.log(k)
    result = InitialLossCheck(value, expected, bool(abs(value - expected) <= margin), margin)
    if warn and not result.ok:
        warnings.warn(result.message(), RuntimeWarning, stacklevel=2)
    return result
