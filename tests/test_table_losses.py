"""The op table, losses: every loss and penalty as a row (prediction a tensor, the target data -- or a
tensor too where the loss is differentiable in it), against torch.nn.functional.

Rows in the format of tests/optable.py (its docstring says how to add one).  Data inputs are drawn
from the prediction's shape: ``classes`` gives integer labels of shape[:-1] below K = shape[-1],
``soft`` probability rows, ``binary`` 0/1 targets.  nnlab puts classes on the LAST axis; torch's
references move them to axis 1.  nnlab's label smoothing ε gives a hard label 1 − ε (the notes' rule):
torch's label_smoothing ε·K/(K − 1) is the same target.
"""

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

globals().update(table_tests(OPS, gradcheck_examples=15, torch_examples=10))
