"""``sample_weight`` and ``class_weight`` for the estimators, trained through :func:`nnlab.train.fit`'s ``sample_weight``.

The rule, and why.  scikit-learn's MLP minimizes, per batch,
Σwᵢlᵢ / Σwᵢ + α/(2·Σwᵢ)·Σ‖W‖²: integer weights are repeated rows (weight 2 = the
row twice, weight 0 = the row left out).  :func:`nnlab.train.fit` weighs a
batch of n samples as Keras 3 does, L = Σᵢ wᵢ·lᵢ / n (see
:mod:`nnlab.train.sample_weights`).  The estimators rescale the weights to mean
1 over the training rows (w ← w·n/Σw) and give each row the penalty
α/(2·n_batch)·Σ‖W‖² times n/Σw (Σw of the weights as given), so that

- in one full batch the loss *is* MLP's, and so that of the repeated rows (the
  check ``check_sample_weight_equivalence_on_dense_data``);
- weights of 1 are exactly the unweighted run;
- the data term does not depend on the weights' scale (``w`` and ``10*w`` differ
  only in the penalty, which is then 10 times weaker: ten times the data, as in MLP);
- a minibatch steps by its mean weight (a batch of heavy samples steps further),
  where MLP divides by each batch's own Σw; over an epoch the two agree on average.

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


def _penalized(output, target, reduction="mean", base=None, model=None, alpha=0.0, penalty_scale=1.0):
    """``base``'s loss plus α/(2·n)·Σ‖W‖²; per sample (``reduction="none"``) each row carries that times ``penalty_scale``.

    ``fit`` averages the rows' values times their weights, so a batch carries the
    penalty times ``penalty_scale`` times its mean weight (see the module docstring).
    """
    value = base(output, target, reduction)
    if reduction == "none" and value.ndim > 1:  # squared error of several targets: the mean over them, per row
        value = value.mean(axis=tuple(range(1, value.ndim)))
    if alpha:
        penalty = losses.l2_penalty(model, alpha / len(target))  # α/2·Σ‖W‖² over the batch size: MLP's term
        value = value + (penalty * penalty_scale if reduction == "none" else penalty)
    return value


class PenalizedLoss(Loss):
    """An estimator's training loss as an nnlab :class:`~nnlab.losses.base.Loss`, so ``fit`` can weigh its samples.

    ``base(output, target, reduction)`` is the data loss; the penalty is over
    ``model``'s weights (not its biases).  Not registered by name: it lives only
    for one ``fit`` call.
    """

    _fn = staticmethod(_penalized)

    def __init__(self, base, model, alpha: float, penalty_scale: float = 1.0):
        super().__init__("mean")
        self._settings = {"base": base, "model": model, "alpha": float(alpha), "penalty_scale": float(penalty_scale)}


class PenalizedClassLoss(PenalizedLoss):
    """:class:`PenalizedLoss` of a classifier: its targets are class indices (fit's data check reads this)."""

    class_targets = True


def training_weights(estimator, X, y_labels, sample_weight, classes=None) -> np.ndarray | None:
    """The per-sample weights as given (float64, before :func:`rescaled`), or None when neither weight is given.

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
    if not w.sum() > 0:
        raise ValueError(f"{type(estimator).__name__}: sample weights must contain at least one non-zero number "
                         "(every weight is zero)")
    return w


def rescaled(weights: np.ndarray | None, owner: str):
    """``(weights · n/Σw, n/Σw)``: the weights ``fit`` trains with (mean 1) and the penalty's scale; (None, 1.0) unweighted."""
    if weights is None:
        return None, 1.0
    total = weights.sum()
    if not total > 0:  # the training part of early stopping's split
        raise ValueError(f"{owner}: the sample weights of the rows left for training are all zero; give more rows "
                         "weight > 0 or a smaller 'validation_fraction'")
    scale = len(weights) / total
    return weights * scale, scale


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
