"""``sample_weight`` and ``class_weight`` for the estimators, trained through :func:`nnlab.train.fit`'s ``sample_weight``.

The rule, and why.  :func:`nnlab.train.fit` weighs a batch of n samples as
Keras 3 does, L = Σᵢ wᵢ·lᵢ / n (see :mod:`nnlab.train.sample_weights`).  The
estimators first rescale the weights to mean 1 over the training rows
(w ← w·n/Σw), so that

- the weights' scale does not matter: ``w`` and ``10*w`` give the same fit, as
  for scikit-learn's MLP, whose data term is Σwᵢlᵢ / Σwᵢ;
- in one full batch the data term *is* MLP's Σwᵢlᵢ / Σwᵢ, and weights of 1 are
  exactly the unweighted run;
- a minibatch steps by its mean weight (a batch of heavy samples steps further).

The L2 penalty α/(2·n_batch)·Σ‖W‖² is shared equally by a batch's rows, so a
batch carries it times its mean (rescaled) weight: 1 on average over an epoch and
exactly 1 in a full batch.  scikit-learn's MLP divides the penalty by Σw instead
(a weight scale changes its regularization); nnlab keeps α's meaning fixed.

``class_weight`` becomes per-sample weights, multiplied with ``sample_weight``
when both are given, as in scikit-learn's classifiers: ``"balanced"`` is
scikit-learn's n_samples / (n_classes · count of the class); a dict
{label: weight} weighs the classes it names (the others 1), and a key that is
no class of the estimator is refused (scikit-learn would refuse a class
missing from one ``partial_fit`` batch; nnlab checks against ``classes_``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight

from .. import losses
from ..losses.base import Loss


def _penalized(output, target, reduction="mean", base=None, model=None, alpha=0.0):
    """``base``'s loss plus α/(2·n)·Σ‖W‖²; per sample (``reduction="none"``) each row carries 1/n of the penalty."""
    value = base(output, target, reduction)
    if reduction == "none" and value.ndim > 1:  # squared error of several targets: the mean over them, per row
        value = value.mean(axis=tuple(range(1, value.ndim)))
    if alpha:
        # l2_penalty is α/2·Σ‖W‖²; divided by the batch size it is MLP's term, which per row is 1/n of that again
        n = len(target)
        penalty = losses.l2_penalty(model, alpha / n)
        value = value + (penalty * (1.0 / n) if reduction == "none" else penalty)
    return value


class PenalizedLoss(Loss):
    """An estimator's training loss as an nnlab :class:`~nnlab.losses.base.Loss`, so ``fit`` can weigh its samples.

    ``base(output, target, reduction)`` is the data loss; the penalty is over
    ``model``'s weights (not its biases).  Not registered by name: it lives only
    for one ``fit`` call.
    """

    _fn = staticmethod(_penalized)

    def __init__(self, base, model, alpha: float):
        super().__init__("mean")
        self._settings = {"base": base, "model": model, "alpha": float(alpha)}


class PenalizedClassLoss(PenalizedLoss):
    """:class:`PenalizedLoss` of a classifier: its targets are class indices (fit's data check reads this)."""

    class_targets = True


def training_weights(estimator, X, y_labels, sample_weight, classes=None) -> np.ndarray | None:
    """The per-sample weights ``fit`` trains with (mean 1), or None when neither weight is given.

    ``y_labels`` are the labels as given and ``classes`` the labels they will be
    encoded to (a classifier's; ``class_weight``'s keys are labels, as in
    scikit-learn).  Weights are checked by scikit-learn's rule: one finite number >= 0
    per row, not all zero.
    """
    class_weight = getattr(estimator, "class_weight", None)
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(len(X)) if sample_weight is None else _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if class_weight == "balanced":
        w = w * compute_sample_weight("balanced", y_labels)
    elif class_weight is not None:
        w = w * _class_table(type(estimator).__name__, class_weight, classes)[
            np.searchsorted(classes, y_labels).clip(max=len(classes) - 1)]  # an unknown label: _encode_targets refuses it
    total = w.sum()
    if not total > 0:
        raise ValueError(f"{type(estimator).__name__}: sample weights must contain at least one non-zero number "
                         "(every weight is zero)")
    return w * (len(w) / total)


def _class_table(owner: str, class_weight: dict, classes: np.ndarray) -> np.ndarray:
    """One weight per class of ``classes`` (sorted labels) from ``{label: weight}``; classes left out weigh 1."""
    table = np.ones(len(classes))
    for label, weight in class_weight.items():
        at = np.searchsorted(classes, label) if np.ndim(label) == 0 else len(classes)
        if at >= len(classes) or classes[at] != label:
            raise ValueError(f"{owner}: class_weight key {label!r} is not one of the classes {classes.tolist()[:20]}")
        if isinstance(weight, bool | np.bool_) or not isinstance(weight, int | float | np.number) \
                or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"{owner}: class_weight[{label!r}] must be a finite number >= 0, got {weight!r}")
        table[at] = weight
    return table
