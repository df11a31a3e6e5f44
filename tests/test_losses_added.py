"""What the op table's rows (tests/test_table_losses.py) cannot say about the losses added for issue 10
(BCE on probabilities, Huber, smooth L1, KL divergence, class weights and ignore_index for cross_entropy /
nll_loss, one_hot): the formulas written out, PyTorch's weighted mean, p = 0 and 1, errors, class forms and
registry names.  Gradchecks, PyTorch forward/backward, float32 and no-gradient checks are the table's rows."""

import numpy as np
import pytest

import nnlab
from nnlab import losses
from nnlab.errors import ConfigError, DataError

F64 = np.float64
RNG = np.random.default_rng(10)
N, K = 6, 4
LOGITS = RNG.standard_normal((N, K)) * 2
LABELS = np.array([0, 3, 1, 1, 2, 3])
IGNORED = np.array([0, -1, 1, -1, 2, 3])  # -1 marks rows to leave out
WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
SOFT = RNG.random((N, K))
SOFT /= SOFT.sum(axis=1, keepdims=True)
PROBS = RNG.uniform(0.05, 0.95, (N, K))
TARGET = RNG.standard_normal((N, K))
WIDE = RNG.standard_normal((N, K)) * 3  # differences on both sides of Huber's and smooth L1's thresholds
LOG_P = np.log(SOFT)
KL_TARGET = np.where(RNG.random((N, K)) < 0.2, 0.0, RNG.random((N, K)))  # some zero probabilities
KL_TARGET /= KL_TARGET.sum(axis=1, keepdims=True)


def _torch(array):
    import torch

    return torch.tensor(np.asarray(array))


def _x(array, grad=True):
    return nnlab.tensor(array, requires_grad=grad, dtype=F64)


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.one_hot(_torch(LABELS), num_classes=5).numpy()
    np.testing.assert_array_equal(losses.one_hot(LABELS, num_classes=5), expected)
    assert losses.one_hot(LABELS).shape == (N, K)  # K inferred from the largest label, as num_classes=-1 does
    assert losses.one_hot is nnlab.data.one_hot  # one implementation


def test_weighted_mean_divides_by_the_counted_targets_weights():
    """PyTorch's rule, written out: Σ_n w[y_n]·nll_n / Σ_n w[y_n] over the rows not ignored."""
    log_probs = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True))
    kept = IGNORED != -1
    y = IGNORED[kept]
    nll = -log_probs[kept][np.arange(y.size), y]
    expected = (WEIGHT[y] * nll).sum() / WEIGHT[y].sum()
    got = losses.cross_entropy(_x(LOGITS), IGNORED, weight=WEIGHT, ignore_index=-1).item()
    assert got == pytest.approx(expected, rel=1e-12)
    x = _x(LOGITS)
    losses.cross_entropy(x, IGNORED, ignore_index=-1).backward()
    assert np.all(x.grad[~kept] == 0)
    all_ignored = losses.nll_loss(_x(LOG_P), np.full(N, -1), ignore_index=-1)
    assert np.isnan(all_ignored.item())  # 0/0, as in PyTorch


def test_huber_smooth_l1_and_kl_formulas():
    d = WIDE - TARGET
    huber = np.where(np.abs(d) < 0.7, 0.5 * d**2, 0.7 * (np.abs(d) - 0.35))
    assert losses.huber_loss(_x(WIDE), TARGET, delta=0.7).item() == pytest.approx(huber.mean(), rel=1e-12)
    assert losses.smooth_l1_loss(_x(WIDE), TARGET, beta=0.7).item() == pytest.approx(huber.mean() / 0.7, rel=1e-12)
    assert losses.smooth_l1_loss(_x(WIDE), TARGET, beta=0.0).item() == pytest.approx(np.abs(d).mean(), rel=1e-12)
    kl = np.where(KL_TARGET > 0, KL_TARGET * (np.log(np.where(KL_TARGET > 0, KL_TARGET, 1)) - LOG_P), 0).sum() / N
    assert losses.kl_div(_x(LOG_P), KL_TARGET, "batchmean").item() == pytest.approx(kl, rel=1e-12)


def test_binary_cross_entropy_agrees_with_the_logits_form_and_stays_finite_at_0_and_1():
    sig = 1 / (1 + np.exp(-LOGITS))
    a = losses.binary_cross_entropy(_x(sig), SOFT).item()
    assert a == pytest.approx(losses.binary_cross_entropy_with_logits(_x(LOGITS), SOFT).item(), rel=1e-10)
    p = nnlab.tensor([0.0, 1.0, 1.0], requires_grad=True)
    out = losses.binary_cross_entropy(p, [1.0, 0.0, 1.0])
    out.backward()
    assert out.item() == pytest.approx(200 / 3) and np.all(np.isfinite(p.grad))  # each log floored at -100


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: losses.huber_loss(_x(WIDE), TARGET, delta=0.0), ConfigError, "huber_loss: delta must be"),
        (lambda: losses.smooth_l1_loss(_x(WIDE), TARGET, beta=-1.0), ConfigError, "smooth_l1_loss: beta must be"),
        (lambda: losses.binary_cross_entropy(_x(LOGITS), SOFT), DataError, "probabilities in \\[0, 1\\]"),
        (lambda: losses.binary_cross_entropy(_x([0.5, 0.5]), [1.0, 0.0], weight=[1.0, 2.0, 3.0]), DataError,
         r"weight of shape \(3,\) does not broadcast to the input's shape \(2,\)"),
        (lambda: losses.kl_div(_x(LOG_P), SOFT, "avg"), ConfigError, "mean, sum, none, batchmean"),
        (lambda: losses.kl_div(_x(LOG_P), SOFT, log_target=1), ConfigError, "log_target must be true or false"),
        (lambda: losses.cross_entropy(_x(LOGITS), LABELS, weight=[1.0, 2.0]), DataError, "weight has 2 entries"),
        (lambda: losses.cross_entropy(_x(LOGITS), LABELS, weight=[1, -1, 1, 1]), ConfigError, "weight must be"),
        (lambda: losses.cross_entropy(_x(LOGITS), SOFT, ignore_index=0), DataError, "ignore_index applies to"),
        (lambda: losses.cross_entropy(_x(LOGITS), IGNORED), DataError, "class index -1 is out of range"),
        (lambda: losses.nll_loss(_x(LOG_P), IGNORED, ignore_index=-2), DataError, "class index -1"),
        (lambda: losses.nll_loss(_x(LOG_P), LABELS, ignore_index=0.5), ConfigError, "ignore_index must be an integer"),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_class_forms_are_registered_by_name_and_class_name():
    expect = {"huber": losses.HuberLoss, "smooth_l1": losses.SmoothL1Loss, "kl_div": losses.KLDivLoss,
              "bce": losses.BCELoss}
    for name, cls in expect.items():
        assert name in losses.names() and isinstance(losses.get(name), cls) and isinstance(losses.get(cls.__name__), cls)
    huber = losses.get("huber", delta=0.5, reduction="sum")
    assert huber(_x(WIDE), TARGET).item() == pytest.approx(losses.huber_loss(_x(WIDE), TARGET, "sum", 0.5).item())
    assert losses.get(**huber.config).config == huber.config == {"name": "huber", "reduction": "sum", "delta": 0.5}
    kl = losses.KLDivLoss(reduction="batchmean", log_target=True)
    assert kl(_x(LOG_P), LOG_P).item() == pytest.approx(0.0, abs=1e-12)
    ce = losses.CrossEntropyLoss(weight=WEIGHT, ignore_index=-1)
    assert ce.config["weight"] == WEIGHT.tolist()
    assert ce(_x(LOGITS), IGNORED).item() == pytest.approx(
        losses.cross_entropy(_x(LOGITS), IGNORED, weight=WEIGHT, ignore_index=-1).item())
    nll = losses.NLLLoss(weight=WEIGHT, reduction="sum")
    assert nll(_x(LOG_P), LABELS).item() == pytest.approx(losses.nll_loss(_x(LOG_P), LABELS, "sum", weight=WEIGHT).item())
    assert losses.BCELoss(weight=WEIGHT)(_x(PROBS), SOFT).item() == pytest.approx(
        losses.binary_cross_entropy(_x(PROBS), SOFT, weight=WEIGHT).item())
    for bad in (lambda: losses.HuberLoss(delta=-1), lambda: losses.KLDivLoss(reduction="avg"),
                lambda: losses.NLLLoss(weight="abc"), lambda: losses.get("kl_div", log_target="yes")):
        with pytest.raises(ConfigError):
            bad()
