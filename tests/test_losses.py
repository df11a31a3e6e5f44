"""Losses and penalties: the seeds' formulas, stability, reductions, errors, the class forms.

Every loss's float64 gradcheck, torch comparison, float32 and no-gradient checks: tests/test_table_losses.py.
"""

import numpy as np
import pytest

import nnlab
from nnlab import losses, nn
from nnlab.errors import ConfigError, DataError

F64 = np.float64
RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((5, 4)) * 2
LABELS = np.array([0, 3, 1, 1, 2])
SOFT = RNG.random((5, 4))
SOFT /= SOFT.sum(axis=1, keepdims=True)
TARGET = RNG.standard_normal((5, 4))
BINARY = (RNG.random((5, 4)) > 0.5).astype(float)


def _x(array):
    return nnlab.tensor(array, requires_grad=True, dtype=F64)


def test_mse_and_euclidean_formulas():
    p, t = LOGITS, TARGET
    assert losses.mse_loss(_x(p), t).item() == pytest.approx(np.mean((p - t) ** 2))
    assert losses.euclidean_loss(_x(p), t).item() == pytest.approx(0.5 * np.sum((p - t) ** 2) / 5)
    x = _x(p)
    losses.euclidean_loss(x, t).backward()
    np.testing.assert_allclose(x.grad, (p - t) / 5)  # the seeds' gradient (pred − target)/N


def test_cross_entropy_gradient_is_softmax_minus_target_over_n():
    x = _x(LOGITS)
    losses.cross_entropy(x, LABELS).backward()
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad, (probs - np.eye(4)[LABELS]) / 5, atol=1e-12)


def test_label_smoothing_is_the_seeds_soft_target():
    eps, K = 0.2, 4
    q = np.full((5, K), eps / (K - 1))
    q[np.arange(5), LABELS] = 1 - eps
    smoothed = losses.cross_entropy(_x(LOGITS), LABELS, label_smoothing=eps).item()
    assert smoothed == pytest.approx(losses.cross_entropy(_x(LOGITS), q).item(), rel=1e-12)
    log_probs = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True))
    assert smoothed == pytest.approx(-(q * log_probs).sum(axis=1).mean(), rel=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    x = nnlab.tensor([[1000.0, -1000.0, 0.0], [-5e4, 5e4, 0.0]], requires_grad=True)
    loss = losses.cross_entropy(x, [0, 0], label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad))
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    b = nnlab.tensor([1e4, -1e4], requires_grad=True)
    bce = losses.binary_cross_entropy_with_logits(b, [0.0, 0.0])
    bce.backward()
    assert bce.item() == pytest.approx(5e3) and np.all(np.isfinite(b.grad))


def test_cross_entropy_accepts_whole_float_labels_and_one_hot_rows():
    a = losses.cross_entropy(_x(LOGITS), LABELS).item()
    assert losses.cross_entropy(_x(LOGITS), LABELS.astype(float)).item() == pytest.approx(a)
    assert losses.cross_entropy(_x(LOGITS), np.eye(4, dtype=int)[LABELS]).item() == pytest.approx(a)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: losses.cross_entropy(_x(LOGITS), [0, 1, 2, 3, 4]), DataError, "class index 4 is out of range for 4 classes"),
        (lambda: losses.cross_entropy(_x(LOGITS), [0, -1, 2, 3, 0]), DataError, "class index -1"),
        (lambda: losses.cross_entropy(_x(LOGITS), [0.5, 1, 2, 3, 0]), DataError, "whole numbers"),
        (lambda: losses.cross_entropy(_x(LOGITS), [0, 1]), DataError, "shape \\(2,\\)"),
        (lambda: losses.cross_entropy(_x(LOGITS), LABELS, label_smoothing=1.5), ConfigError, "label_smoothing"),
        (lambda: losses.cross_entropy(_x(LOGITS[:, :1]), [0] * 5, label_smoothing=0.1), ConfigError, "at least 2 classes"),
        (lambda: losses.mse_loss(_x(LOGITS), TARGET[:2]), DataError, "target shape \\(2, 4\\)"),
        (lambda: losses.mse_loss(_x(LOGITS), TARGET, reduction="avg"), ConfigError, "mean, sum, none"),
        (lambda: losses.nll_loss(_x(LOGITS), [9] * 5), DataError, "out of range"),
    ],
)
def test_bad_loss_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_penalties_cover_weights_not_biases():
    encoder = nn.Linear(3, 2, rng=0, bias_init=nnlab.init.constant(1.0), dtype=F64)
    model = nn.Sequential(encoder, nn.BatchNorm(2, dtype=F64), nn.PReLU(dtype=F64), nn.TiedLinear(encoder))
    W = encoder.weight.data
    l2 = losses.l2_penalty(model, alpha=0.1)
    assert l2.item() == pytest.approx(0.05 * np.sum(W**2))  # the tied weight counted once
    l2.backward()
    np.testing.assert_allclose(encoder.weight.grad, 0.1 * W)
    assert encoder.bias.grad is None and model[1].gamma.grad is None
    named = losses.l2_penalty(list(model.named_parameters()), alpha=0.1)  # (name, parameter) pairs too
    assert named.item() == pytest.approx(l2.item())
    l1 = losses.l1_penalty(model, alpha=0.5)
    assert l1.item() == pytest.approx(0.5 * np.abs(W).sum())
    listed = losses.l1_penalty(list(model.parameters()), alpha=0.5).item()  # named one by one: all count
    assert listed == pytest.approx(0.5 * sum(np.abs(p.data).sum() for p in model.parameters()))
    every = losses.l2_penalty(model, alpha=1.0, weights_only=False).item()
    assert every == pytest.approx(0.5 * sum(np.sum(p.data**2) for p in model.parameters()))


def test_penalties_count_explicitly_passed_vectors():
    """Regression: a 1-D tensor the caller passes is never filtered out (it gave 0 before)."""
    v = _x([3.0, -4.0])
    assert losses.l2_penalty(v, alpha=2.0).item() == pytest.approx(25.0)
    assert losses.l1_penalty([v], alpha=0.5).item() == pytest.approx(3.5)
    bias = nn.Linear(2, 2, rng=0, bias_init=nnlab.init.constant(1.0)).bias
    assert losses.l2_penalty(bias, alpha=1.0).item() == pytest.approx(1.0)
    assert losses.l2_penalty([("bias", bias)], alpha=1.0).item() == 0.0  # named pairs: weights only


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), float("inf"), "a", None, True])
@pytest.mark.parametrize("penalty", [losses.l1_penalty, losses.l2_penalty], ids=["l1", "l2"])
def test_penalty_alpha_must_be_a_finite_number_at_least_zero(penalty, alpha):
    with pytest.raises(ConfigError, match="alpha must be a finite number >= 0"):
        penalty(nn.Linear(3, 2, rng=0), alpha)


@pytest.mark.parametrize("target", [np.full((4, 2), 0.5), np.full((4, 4), 0.25), np.eye(2)[[0, 1, 0, 1]]],
                         ids=["narrow", "wide", "one-hot narrow"])
def test_cross_entropy_rows_of_the_wrong_width_report_the_shapes(target):
    with pytest.raises(DataError, match=r"\(4, \d\) do not fit logits of shape \(4, 3\)"):
        losses.cross_entropy(_x(np.zeros((4, 3))), target)
    with pytest.raises(DataError, match="do not fit predictions"):  # class indices of the wrong shape, not "whole numbers"
        losses.nll_loss(_x(np.zeros((3, 3))), np.full(4, 0.5))


def test_penalty_gradchecks_and_empty():
    a, b = _x(RNG.standard_normal((3, 2))), _x(RNG.standard_normal((2, 2)))
    assert nnlab.gradcheck(lambda a, b: losses.l2_penalty([a, b], 0.3), [a, b])
    assert nnlab.gradcheck(lambda a, b: losses.l1_penalty([a, b], 0.3), [a, b])
    assert losses.l2_penalty([], 1.0).item() == 0.0


def test_class_forms_and_lookup():
    loss = losses.CrossEntropyLoss(label_smoothing=0.1)
    assert loss(_x(LOGITS), LABELS).item() == pytest.approx(losses.cross_entropy(_x(LOGITS), LABELS, 0.1).item())
    assert loss.config == {"name": "cross_entropy", "reduction": "mean", "label_smoothing": 0.1, "weight": None,
                           "ignore_index": None}
    assert losses.get(loss.config["name"], label_smoothing=0.1).config == loss.config
    assert isinstance(losses.get("MSELoss"), losses.MSELoss)
    assert losses.EuclideanLoss()(_x(LOGITS), TARGET).item() == pytest.approx(losses.euclidean_loss(_x(LOGITS), TARGET).item())
    assert losses.NLLLoss(reduction="sum")(_x(np.log(SOFT)), LABELS).shape == ()
    assert losses.BCEWithLogitsLoss()(_x(LOGITS), BINARY).shape == ()
    with pytest.raises(ConfigError, match="unknown loss 'hinge'; choose one of bce, bce_with_logits"):
        losses.get("hinge")
    with pytest.raises(ConfigError, match="bad settings"):
        losses.get("mse", label_smoothing=0.1)
    with pytest.raises(ConfigError):
        losses.CrossEntropyLoss(label_smoothing=-0.1)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64", ">i4"])
def test_class_index_range_is_checked_for_every_integer_dtype(dtype):
    # one unsigned maximum tests both ends: a negative index must not pass as a small one
    logits = np.zeros((3, 4), np.float32)
    assert np.isfinite(losses.cross_entropy(_x(logits), np.array([0, 3, 1], dtype=dtype)).item())
    with pytest.raises(DataError, match="class index 4 is out of range"):
        losses.cross_entropy(_x(logits), np.array([0, 4, 1], dtype=dtype))
    if np.dtype(dtype).kind == "i":
        with pytest.raises(DataError, match="class index -1 is out of range"):
            losses.cross_entropy(_x(logits), np.array([0, -1, 1], dtype=dtype))


@pytest.mark.parametrize("shape", [(8, 10), (40, 10), (40, 32), (40, 33), (200, 3)])
def test_cross_entropy_rows_reduced_either_way_match_the_formula(shape):
    # the row max and row sums take another route for short rows (ops/fused.py): same loss and gradient
    rng = np.random.default_rng(1)
    Z = rng.standard_normal(shape) * 30
    Z[0, 0] = np.nan if shape[0] == 200 else Z[0, 0]
    y = rng.integers(0, shape[1], shape[0])
    x = nnlab.tensor(Z, requires_grad=True, dtype=np.float64)
    loss = losses.cross_entropy(x, y)
    loss.backward()
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss.item(), -log_p[np.arange(shape[0]), y].mean(), rtol=1e-12)
    expected = np.exp(log_p)
    expected[np.arange(shape[0]), y] -= 1
    np.testing.assert_allclose(x.grad, expected / shape[0], rtol=1e-12, atol=1e-15)
