"""The op table, losses: every loss and penalty as a row (prediction a tensor, the target data -- or a
tensor too where the loss is differentiable in it), against torch.nn.functional.

Rows in the format of tests/optable.py (its docstring says how to add one).  Data inputs are drawn
from the prediction's shape: ``classes`` gives integer labels of shape[:-1] below K = shape[-1],
``soft`` probability rows, ``binary`` 0/1 targets.  nnlab puts classes on the LAST axis; torch's
references move them to axis 1.  nnlab's label smoothing ε gives a hard label 1 − ε (the notes' rule):
torch's label_smoothing ε·K/(K − 1) is the same target.
"""

import numpy as np
from hypothesis import strategies as st

from nnlab import losses
from nnlab.ops.fused import softmax_cross_entropy
from optable import Mode, Op, table_tests

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def _pair(draw, min_classes=1):
    """(prediction, target) of one shape: (N, K), sometimes with one more leading axis."""
    s = tuple(draw(st.lists(st.integers(1, 3), max_size=1))) + (draw(st.integers(1, 4)), draw(st.integers(min_classes, 4)))
    return [s, s], {}


def pairs(*shapes, min_classes=1):
    return Mode([([s, s], {}) for s in shapes], lambda: _pair(min_classes))


SAME = pairs((5, 4), (1, 2), (2, 2, 4), (3, 1))
CLASSES = pairs((5, 4), (1, 2), (2, 2, 4), (3, 3), min_classes=2)  # label smoothing needs K >= 2


def _classes_first(x):
    return x if x.ndim <= 2 else x.movedim(-1, 1)


def _smoothing_for_torch(x, label_smoothing):
    K = x.shape[-1]
    return label_smoothing * K / (K - 1) if label_smoothing else 0.0


def _torch_ce(T, x, target, label_smoothing=0.0, reduction="mean"):
    soft = target.is_floating_point()
    return T.nn.functional.cross_entropy(_classes_first(x), _classes_first(target) if soft else target,
                                         label_smoothing=_smoothing_for_torch(x, label_smoothing), reduction=reduction)


def _torch_euclidean(T, p, t, reduction="mean"):
    half = 0.5 * (p - t) ** 2
    per = half.reshape(half.shape[0], -1).sum(1) if half.ndim > 1 else half
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


def _torch_nll(T, logp, target, reduction="mean"):
    return T.nn.functional.nll_loss(_classes_first(logp), target, reduction=reduction)


def _tf(name):
    return lambda T, *args, **kw: getattr(T.nn.functional, name)(*args, **kw)


def _real_rows(shape, rng):
    """Target rows of any real values (negatives, sums other than 1): PyTorch's general soft-target rule."""
    return rng.uniform(-1.0, 2.0, shape)


TD, TT = ("t", "d"), ("t", "t")  # target as data / target needing grad too
OPS = [
    Op("mse", losses.mse_loss, _tf("mse_loss"), SAME, kinds=TD, params={"reduction": REDUCTIONS}),
    Op("mse(target tensor)", losses.mse_loss, _tf("mse_loss"), SAME, kinds=TT, params={"reduction": REDUCTIONS}),
    Op("euclidean", losses.euclidean_loss, _torch_euclidean, SAME, kinds=TD, params={"reduction": REDUCTIONS}),
    Op("euclidean(1-d)", losses.euclidean_loss, _torch_euclidean, Mode([([(5,), (5,)], {}), ([(1,), (1,)], {})]),
       kinds=TD, params={"reduction": REDUCTIONS}),
    Op("euclidean(target tensor)", losses.euclidean_loss, _torch_euclidean, SAME, kinds=TT),
    Op("cross_entropy(labels)", losses.cross_entropy, _torch_ce, CLASSES, ("logits", "classes"), TD,
       params={"label_smoothing": [0.0, 0.2, 0.3, 0.1], "reduction": REDUCTIONS}),
    Op("cross_entropy(soft)", losses.cross_entropy, _torch_ce, CLASSES, ("logits", "soft"), TD,
       params={"label_smoothing": [0.0, 0.1], "reduction": REDUCTIONS}),
    Op("cross_entropy(any real rows)", losses.cross_entropy, _torch_ce, CLASSES, ("logits", _real_rows), TD,
       params={"reduction": REDUCTIONS}),
    Op("softmax_cross_entropy", softmax_cross_entropy, _torch_ce, CLASSES, ("logits", "classes"), TD,
       params={"label_smoothing": [0.0, 0.25], "reduction": REDUCTIONS}),
    Op("bce_with_logits", losses.binary_cross_entropy_with_logits, _tf("binary_cross_entropy_with_logits"), SAME,
       ("logits", "binary"), TD, params={"reduction": REDUCTIONS}),
    Op("bce_with_logits(soft)", losses.binary_cross_entropy_with_logits, _tf("binary_cross_entropy_with_logits"), SAME,
       ("logits", "probs"), TT, params={"reduction": REDUCTIONS}),
    Op("nll", losses.nll_loss, _torch_nll, CLASSES, ("logprobs", "classes"), TD, params={"reduction": REDUCTIONS}),
    # penalties of the tensors passed (each one counts, whatever its rank)
    Op("l2_penalty", lambda a, b, alpha: losses.l2_penalty([a, b], alpha),
       lambda T, a, b, alpha: alpha / 2 * ((a**2).sum() + (b**2).sum()),
       Mode([([(3, 2), (2,)], {}), ([(), (2, 2)], {})]), params={"alpha": [0.3, 1.0]}),
    Op("l1_penalty", lambda a, b, alpha: losses.l1_penalty([a, b], alpha),
       lambda T, a, b, alpha: alpha * (a.abs().sum() + b.abs().sum()),
       Mode([([(3, 2), (2,)], {}), ([(), (2, 2)], {})]), ("kink0",), params={"alpha": [0.3]}),
]

# ---- class weights, ignore_index, BCE on probabilities, Huber, smooth L1, KL divergence ------------
K4 = Mode([([s, s], {}) for s in ((5, 4), (2, 2, 4), (1, 4), (3, 4))])  # class weights: K = 4, fixed shapes only
WEIGHTS = [np.array([0.5, 2.0, 1.0, 3.0])]
KL_REDUCTIONS = REDUCTIONS + ["batchmean"]


def _ignored_classes(shape, rng):
    """Class indices below K with about a third set to -1, the rows ignore_index=-1 leaves out (one always kept)."""
    y = rng.integers(0, shape[-1], shape[:-1])
    y = np.where(rng.random(y.shape) < 0.35, -1, y)
    y.flat[0] = 0
    return y


def _torch_weight(T, x, weight):
    return None if weight is None else T.as_tensor(weight, dtype=x.dtype)


def _torch_ce_weighted(T, x, target, weight=None, ignore_index=None, label_smoothing=0.0, reduction="mean"):
    soft = target.is_floating_point()
    extra = {} if ignore_index is None else {"ignore_index": ignore_index}
    return T.nn.functional.cross_entropy(_classes_first(x), _classes_first(target) if soft else target,
                                         weight=_torch_weight(T, x, weight), reduction=reduction,
                                         label_smoothing=_smoothing_for_torch(x, label_smoothing), **extra)


def _torch_nll_weighted(T, logp, target, weight=None, ignore_index=None, reduction="mean"):
    extra = {} if ignore_index is None else {"ignore_index": ignore_index}
    return T.nn.functional.nll_loss(_classes_first(logp), target, weight=_torch_weight(T, logp, weight),
                                    reduction=reduction, **extra)


def _torch_bce(T, p, t, weight=None, reduction="mean"):
    return T.nn.functional.binary_cross_entropy(p, t, weight=_torch_weight(T, p, weight), reduction=reduction)


def _torch_kl(T, x, t, **kw):
    import warnings

    with warnings.catch_warnings():  # torch's note that its "mean" is not the KL divergence (nnlab's docstring says it)
        warnings.simplefilter("ignore", UserWarning)
        return T.nn.functional.kl_div(x, t, **kw)


def _with_zeros(shape, rng):
    """Probability rows with some exact zeros (0·log 0 counts as 0); at least one class kept per row."""
    p = rng.random(shape) * (rng.random(shape) > 0.3)
    p[..., 0] += 0.1
    return p / p.sum(axis=-1, keepdims=True)


def _apart(shape, rng):
    """Predictions whose distance to the "real" targets is rarely near the thresholds (kinks of f'')."""
    return 3 * rng.standard_normal(shape)


OPS += [
    Op("bce(probs)", losses.binary_cross_entropy, _torch_bce, SAME, ("probs", "binary"), TD,
       params={"reduction": REDUCTIONS}),
    Op("bce(probs, target tensor)", losses.binary_cross_entropy, _torch_bce, SAME, ("probs", "probs"), TT,
       params={"reduction": REDUCTIONS}),
    Op("bce(weight)", losses.binary_cross_entropy, _torch_bce, K4, ("probs", "probs"), TT,
       params={"weight": WEIGHTS, "reduction": REDUCTIONS}),
    Op("huber", losses.huber_loss, _tf("huber_loss"), SAME, (_apart, "real"), TT,
       params={"delta": [1.0, 0.5, 2.5], "reduction": REDUCTIONS}),
    Op("l1", losses.l1_loss, _tf("l1_loss"), SAME, (_apart, "real"), TT, params={"reduction": REDUCTIONS}),
    Op("smooth_l1", losses.smooth_l1_loss, _tf("smooth_l1_loss"), SAME, (_apart, "real"), TT,
       params={"beta": [1.0, 0.5, 0.0, 2.0], "reduction": REDUCTIONS}),
    Op("kl_div", losses.kl_div, _torch_kl, SAME, ("logprobs", "soft"), TT, params={"reduction": KL_REDUCTIONS}),
    Op("kl_div(zero targets)", losses.kl_div, _torch_kl, SAME, ("logprobs", _with_zeros), TD,
       params={"reduction": KL_REDUCTIONS}),
    Op("kl_div(log_target)", losses.kl_div, _torch_kl, SAME, ("logprobs", "logprobs"), TT,
       params={"reduction": KL_REDUCTIONS, "log_target": [True]}),
    Op("cross_entropy(weight)", losses.cross_entropy, _torch_ce_weighted, K4, ("logits", "classes"), TD,
       params={"weight": WEIGHTS, "label_smoothing": [0.0, 0.15], "reduction": REDUCTIONS}),
    Op("cross_entropy(ignore_index)", losses.cross_entropy, _torch_ce_weighted, K4, ("logits", _ignored_classes), TD,
       params={"ignore_index": [-1], "weight": [None] + WEIGHTS, "label_smoothing": [0.0, 0.2],
               "reduction": REDUCTIONS}),
    Op("cross_entropy(soft, weight)", losses.cross_entropy, _torch_ce_weighted, K4, ("logits", "soft"), TD,
       params={"weight": WEIGHTS, "label_smoothing": [0.0, 0.1], "reduction": REDUCTIONS}),
    Op("cross_entropy(any real rows, weight)", losses.cross_entropy, _torch_ce_weighted, K4, ("logits", _real_rows), TD,
       params={"weight": WEIGHTS, "reduction": REDUCTIONS}),
    Op("nll(weight, ignore_index)", losses.nll_loss, _torch_nll_weighted, K4, ("logprobs", _ignored_classes), TD,
       params={"ignore_index": [-1], "weight": [None] + WEIGHTS, "reduction": REDUCTIONS}),
]

globals().update(table_tests(OPS, gradcheck_examples=15, torch_examples=10))
