"""The losses added for issue 10 (BCE on probabilities, Huber, smooth L1, KL divergence, class weights and
ignore_index for cross_entropy / nll_loss, one_hot): float64 gradchecks, PyTorch forward and backward,
float32 kept, no gradient for targets, errors, class forms and registry names."""

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
RAW_SOFT = RNG.random((N, K)) * 2  # real rows that do not sum to 1
PROBS = RNG.uniform(0.05, 0.95, (N, K))
TARGET = RNG.standard_normal((N, K))
WIDE = RNG.standard_normal((N, K)) * 3  # differences on both sides of Huber's and smooth L1's thresholds
LOG_P = np.log(SOFT)
KL_TARGET = np.where(RNG.random((N, K)) < 0.2, 0.0, RNG.random((N, K)))  # some zero probabilities
KL_TARGET /= KL_TARGET.sum(axis=1, keepdims=True)
EPS_SEEDS = 0.15  # the seeds' smoothing; PyTorch's equal one is ε·K/(K − 1)


def _torch(array):
    import torch

    return torch.tensor(np.asarray(array))


# id, nnlab loss of (prediction, target), torch.nn.functional of (prediction, target), prediction, target,
# whether the target is differentiable (class indices are not)
CASES = [
    ("bce", lambda p, t: losses.binary_cross_entropy(p, t), "binary_cross_entropy", {}, PROBS, SOFT, True),
    ("bce-sum-weight", lambda p, t: losses.binary_cross_entropy(p, t, "sum", weight=WEIGHT), "binary_cross_entropy",
     {"reduction": "sum", "weight": WEIGHT}, PROBS, SOFT, True),
    ("bce-none", lambda p, t: losses.binary_cross_entropy(p, t, "none"), "binary_cross_entropy",
     {"reduction": "none"}, PROBS, (SOFT > 0.25).astype(F64), True),
    ("huber", lambda p, t: losses.huber_loss(p, t), "huber_loss", {}, WIDE, TARGET, True),
    ("huber-delta-sum", lambda p, t: losses.huber_loss(p, t, "sum", delta=2.5), "huber_loss",
     {"reduction": "sum", "delta": 2.5}, WIDE, TARGET, True),
    ("huber-none", lambda p, t: losses.huber_loss(p, t, "none", delta=0.3), "huber_loss",
     {"reduction": "none", "delta": 0.3}, WIDE, TARGET, True),
    ("smooth_l1", lambda p, t: losses.smooth_l1_loss(p, t), "smooth_l1_loss", {}, WIDE, TARGET, True),
    ("smooth_l1-beta", lambda p, t: losses.smooth_l1_loss(p, t, "sum", beta=2.0), "smooth_l1_loss",
     {"reduction": "sum", "beta": 2.0}, WIDE, TARGET, True),
    ("smooth_l1-beta0", lambda p, t: losses.smooth_l1_loss(p, t, "none", beta=0.0), "smooth_l1_loss",
     {"reduction": "none", "beta": 0.0}, WIDE, TARGET, True),
    ("kl-mean", lambda p, t: losses.kl_div(p, t), "kl_div", {}, LOG_P, SOFT, True),
    ("kl-batchmean", lambda p, t: losses.kl_div(p, t, "batchmean"), "kl_div", {"reduction": "batchmean"},
     LOG_P, SOFT, True),
    ("kl-zeros-sum", lambda p, t: losses.kl_div(p, t, "sum"), "kl_div", {"reduction": "sum"}, LOG_P, KL_TARGET, False),
    ("kl-log-target", lambda p, t: losses.kl_div(p, t, "none", log_target=True), "kl_div",
     {"reduction": "none", "log_target": True}, LOG_P, np.log(KL_TARGET + 0.1), True),
    ("ce-weight", lambda p, t: losses.cross_entropy(p, t, weight=WEIGHT), "cross_entropy", {"weight": WEIGHT},
     LOGITS, LABELS, False),
    ("ce-weight-sum", lambda p, t: losses.cross_entropy(p, t, reduction="sum", weight=WEIGHT), "cross_entropy",
     {"reduction": "sum", "weight": WEIGHT}, LOGITS, LABELS, False),
    ("ce-weight-smoothing", lambda p, t: losses.cross_entropy(p, t, EPS_SEEDS, weight=WEIGHT), "cross_entropy",
     {"weight": WEIGHT, "label_smoothing": EPS_SEEDS * K / (K - 1)}, LOGITS, LABELS, False),
    ("ce-ignore", lambda p, t: losses.cross_entropy(p, t, ignore_index=-1), "cross_entropy", {"ignore_index": -1},
     LOGITS, IGNORED, False),
    ("ce-ignore-weight-smoothing", lambda p, t: losses.cross_entropy(p, t, EPS_SEEDS, weight=WEIGHT, ignore_index=-1),
     "cross_entropy", {"weight": WEIGHT, "ignore_index": -1, "label_smoothing": EPS_SEEDS * K / (K - 1)},
     LOGITS, IGNORED, False),
    ("ce-ignore-none", lambda p, t: losses.cross_entropy(p, t, reduction="none", weight=WEIGHT, ignore_index=-1),
     "cross_entropy", {"reduction": "none", "weight": WEIGHT, "ignore_index": -1}, LOGITS, IGNORED, False),
    ("ce-soft-weight", lambda p, t: losses.cross_entropy(p, t, weight=WEIGHT), "cross_entropy", {"weight": WEIGHT},
     LOGITS, RAW_SOFT, False),
    ("ce-soft-weight-smoothing", lambda p, t: losses.cross_entropy(p, t, EPS_SEEDS, weight=WEIGHT), "cross_entropy",
     {"weight": WEIGHT, "label_smoothing": EPS_SEEDS * K / (K - 1)}, LOGITS, SOFT, False),
    ("nll-weight", lambda p, t: losses.nll_loss(p, t, weight=WEIGHT), "nll_loss", {"weight": WEIGHT},
     LOG_P, LABELS, False),
    ("nll-ignore-weight", lambda p, t: losses.nll_loss(p, t, weight=WEIGHT, ignore_index=-1), "nll_loss",
     {"weight": WEIGHT, "ignore_index": -1}, LOG_P, IGNORED, False),
    ("nll-ignore-none", lambda p, t: losses.nll_loss(p, t, "none", ignore_index=-1), "nll_loss",
     {"reduction": "none", "ignore_index": -1}, LOG_P, IGNORED, False),
]
IDS = [case[0] for case in CASES]


def _x(array, grad=True):
    return nnlab.tensor(array, requires_grad=grad, dtype=F64)


def _target(target, grad):
    return _x(target, True) if grad else (target if target.dtype.kind in "iu" else _x(target, False))


@pytest.mark.parametrize("name, loss, torch_name, torch_kw, pred, target, target_grad", CASES, ids=IDS)
def test_gradcheck_float64(name, loss, torch_name, torch_kw, pred, target, target_grad):
    inputs = [_x(pred)] + ([_x(target)] if target_grad else [])
    fn = (lambda p, t: loss(p, t)) if target_grad else (lambda p: loss(p, target))
    assert nnlab.gradcheck(fn, inputs)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's note on KLDivLoss's mean
@pytest.mark.parametrize("name, loss, torch_name, torch_kw, pred, target, target_grad", CASES, ids=IDS)
def test_against_torch_forward_and_backward(name, loss, torch_name, torch_kw, pred, target, target_grad):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    kw = {k: (_torch(v) if isinstance(v, np.ndarray) else v) for k, v in torch_kw.items()}
    tp = _torch(pred).requires_grad_(True)
    tt = _torch(target).requires_grad_(target_grad)
    expected = getattr(F, torch_name)(tp, tt, **kw)
    p, t = _x(pred), _target(target, target_grad)
    out = loss(p, t)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = RNG.standard_normal(out.shape)
    expected.backward(_torch(upstream))
    out.backward(upstream)
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-12)
    if target_grad:
        np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, loss, torch_name, torch_kw, pred, target, target_grad", CASES, ids=IDS)
def test_float32_kept_and_no_gradient_for_a_target_that_needs_none(name, loss, torch_name, torch_kw, pred, target,
                                                                   target_grad):
    p = nnlab.tensor(pred, requires_grad=True)
    t = target if target.dtype.kind in "iu" else nnlab.tensor(target)  # float32, requires_grad False
    out = loss(p, t)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert p.grad.dtype == np.float32 and np.all(np.isfinite(p.grad))
    if isinstance(t, nnlab.Tensor):
        assert t.grad is None


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
