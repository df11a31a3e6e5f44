"""The margin, ranking, triplet, Poisson and Gaussian losses against torch 2.13: every reduction and option,
forward and gradient of every differentiable input, a float64 gradcheck of each, float32 kept float32.

Each case is (nnlab call, torch call, differentiable inputs); the constants (labels, class indices,
fixed variances) are in the calls.  Data keep away from the losses' kinks (hinges exactly at 0, the
Poisson target at 1, the Gaussian variance at its eps), where a finite difference is not a gradient.
"""

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as NF
from nnlab.gradcheck import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(32)
N, C = 6, 4
X = RNG.standard_normal((N, C))
X2 = RNG.standard_normal((N, C))
X3 = RNG.standard_normal((N, C))
SIGNS = np.where(RNG.random((N, C)) < 0.5, -1.0, 1.0)
ROW_SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
LABELS = np.array([0, 3, 1, 1, 2, 3])
WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
BITS = (RNG.random((N, C)) < 0.5).astype(float)
COUNTS = RNG.integers(0, 6, (N, C)).astype(float)  # 0 and 1 included: full=True leaves their Stirling term out
SMOOTH_COUNTS = RNG.uniform(1.5, 6.0, (N, C))  # targets away from 1, where the Stirling term switches on
RATES = RNG.uniform(0.2, 3.0, (N, C))
VAR = RNG.uniform(0.3, 2.0, (N, C))
REDUCTIONS = ["mean", "sum", "none"]


def _t(a):
    return torch.tensor(np.asarray(a))


def _case(name, ours, theirs, *inputs):
    return pytest.param(ours, theirs, [np.asarray(a, dtype=float) for a in inputs], id=name)


CASES = [
    _case("hinge_embedding", lambda x, r: NF.hinge_embedding_loss(x, SIGNS, reduction=r),
          lambda x, r: TF.hinge_embedding_loss(x, _t(SIGNS), reduction=r), X * 2),
    _case("hinge_embedding-margin", lambda x, r: NF.hinge_embedding_loss(x, SIGNS, 0.5, reduction=r),
          lambda x, r: TF.hinge_embedding_loss(x, _t(SIGNS), 0.5, reduction=r), X),
    _case("soft_margin", lambda x, r: NF.soft_margin_loss(x, SIGNS, reduction=r),
          lambda x, r: TF.soft_margin_loss(x, _t(SIGNS), reduction=r), X * 3),
    _case("multi_margin", lambda x, r: NF.multi_margin_loss(x, LABELS, reduction=r),
          lambda x, r: TF.multi_margin_loss(x, _t(LABELS), reduction=r), X),
    _case("multi_margin-p2-margin-weight", lambda x, r: NF.multi_margin_loss(x, LABELS, 2, 0.7, WEIGHT, reduction=r),
          lambda x, r: TF.multi_margin_loss(x, _t(LABELS), 2, 0.7, _t(WEIGHT), reduction=r), X),
    _case("multi_margin-p1-weight", lambda x, r: NF.multi_margin_loss(x, LABELS, weight=WEIGHT, reduction=r),
          lambda x, r: TF.multi_margin_loss(x, _t(LABELS), weight=_t(WEIGHT), reduction=r), X),
    _case("multi_margin-1d", lambda x, r: NF.multi_margin_loss(x, np.int64(2), 2, reduction=r),
          lambda x, r: TF.multi_margin_loss(x, _t(2), 2, reduction=r), X[0]),
    _case("multilabel_soft_margin", lambda x, t, r: NF.multilabel_soft_margin_loss(x, t, reduction=r),
          lambda x, t, r: TF.multilabel_soft_margin_loss(x, t, reduction=r), X * 2, BITS),
    _case("multilabel_soft_margin-weight", lambda x, r: NF.multilabel_soft_margin_loss(x, BITS, WEIGHT, reduction=r),
          lambda x, r: TF.multilabel_soft_margin_loss(x, _t(BITS), _t(WEIGHT), reduction=r), X),
    _case("multilabel_soft_margin-1d", lambda x, r: NF.multilabel_soft_margin_loss(x, BITS[0], reduction=r),
          lambda x, r: TF.multilabel_soft_margin_loss(x, _t(BITS[0]), reduction=r), X[0]),
    _case("poisson_nll", lambda x, r: NF.poisson_nll_loss(x, COUNTS, reduction=r),
          lambda x, r: TF.poisson_nll_loss(x, _t(COUNTS), reduction=r), X),
    _case("poisson_nll-target", lambda x, t, r: NF.poisson_nll_loss(x, t, reduction=r),
          lambda x, t, r: TF.poisson_nll_loss(x, t, reduction=r), X, SMOOTH_COUNTS),
    _case("poisson_nll-full", lambda x, r: NF.poisson_nll_loss(x, COUNTS, full=True, reduction=r),
          lambda x, r: TF.poisson_nll_loss(x, _t(COUNTS), full=True, reduction=r), X),
    _case("poisson_nll-full-target", lambda x, t, r: NF.poisson_nll_loss(x, t, True, True, reduction=r),
          lambda x, t, r: TF.poisson_nll_loss(x, t, True, True, reduction=r), X, SMOOTH_COUNTS),
    _case("poisson_nll-rates", lambda x, t, r: NF.poisson_nll_loss(x, t, log_input=False, reduction=r),
          lambda x, t, r: TF.poisson_nll_loss(x, t, log_input=False, reduction=r), RATES, SMOOTH_COUNTS),
    _case("poisson_nll-rates-full-eps",
          lambda x, r: NF.poisson_nll_loss(x, COUNTS, log_input=False, full=True, eps=0.1, reduction=r),
          lambda x, r: TF.poisson_nll_loss(x, _t(COUNTS), log_input=False, full=True, eps=0.1, reduction=r), RATES),
    _case("gaussian_nll", lambda x, t, v, r: NF.gaussian_nll_loss(x, t, v, reduction=r),
          lambda x, t, v, r: TF.gaussian_nll_loss(x, t, v, reduction=r), X, X2, VAR),
    _case("gaussian_nll-full-eps", lambda x, t, v, r: NF.gaussian_nll_loss(x, t, v, True, 0.1, reduction=r),
          lambda x, t, v, r: TF.gaussian_nll_loss(x, t, v, True, 0.1, reduction=r), X, X2, VAR),
    _case("gaussian_nll-var-per-row", lambda x, v, r: NF.gaussian_nll_loss(x, X2, v, reduction=r),
          lambda x, v, r: TF.gaussian_nll_loss(x, _t(X2), v, reduction=r), X, VAR[:, 0]),
    _case("gaussian_nll-var-column", lambda x, v, r: NF.gaussian_nll_loss(x, X2, v, reduction=r),
          lambda x, v, r: TF.gaussian_nll_loss(x, _t(X2), v, reduction=r), X, VAR[:, :1]),
    _case("gaussian_nll-var-one-axis-of-1", lambda x, v, r: NF.gaussian_nll_loss(x, X2[None], v, reduction=r),
          lambda x, v, r: TF.gaussian_nll_loss(x, _t(X2[None]), v, reduction=r), X[None], VAR[None, :1]),
    _case("gaussian_nll-var-number", lambda x, r: NF.gaussian_nll_loss(x, X2, 0.7, reduction=r),
          lambda x, r: TF.gaussian_nll_loss(x, _t(X2), 0.7, reduction=r), X),
    _case("margin_ranking", lambda a, b, r: NF.margin_ranking_loss(a, b, ROW_SIGNS, reduction=r),
          lambda a, b, r: TF.margin_ranking_loss(a, b, _t(ROW_SIGNS), reduction=r), X[:, 0], X2[:, 0]),
    _case("margin_ranking-2d-margin", lambda a, b, r: NF.margin_ranking_loss(a, b, SIGNS, 0.3, reduction=r),
          lambda a, b, r: TF.margin_ranking_loss(a, b, _t(SIGNS), 0.3, reduction=r), X, X2),
    _case("cosine_embedding", lambda a, b, r: NF.cosine_embedding_loss(a, b, ROW_SIGNS, reduction=r),
          lambda a, b, r: TF.cosine_embedding_loss(a, b, _t(ROW_SIGNS), reduction=r), X, X2),
    _case("cosine_embedding-margin", lambda a, b, r: NF.cosine_embedding_loss(a, b, ROW_SIGNS, -0.2, reduction=r),
          lambda a, b, r: TF.cosine_embedding_loss(a, b, _t(ROW_SIGNS), -0.2, reduction=r), X, X2),
    _case("cosine_embedding-1d", lambda a, b, r: NF.cosine_embedding_loss(a, b, np.float64(-1), reduction=r),
          lambda a, b, r: TF.cosine_embedding_loss(a, b, _t(-1.0), reduction=r), X[0], -X[0] + 0.3 * X2[0]),
    _case("triplet_margin", lambda a, p, n, r: NF.triplet_margin_loss(a, p, n, reduction=r),
          lambda a, p, n, r: TF.triplet_margin_loss(a, p, n, reduction=r), X, X2 * 0.5, X3),
    _case("triplet_margin-p1-swap", lambda a, p, n, r: NF.triplet_margin_loss(a, p, n, 0.5, 1, swap=True, reduction=r),
          lambda a, p, n, r: TF.triplet_margin_loss(a, p, n, 0.5, 1, swap=True, reduction=r), X, X2 * 0.5, X3),
    _case("triplet_margin-p3-eps", lambda a, p, n, r: NF.triplet_margin_loss(a, p, n, 2.0, 3, 0.01, reduction=r),
          lambda a, p, n, r: TF.triplet_margin_loss(a, p, n, 2.0, 3, 0.01, reduction=r), X, X2, X3),
    _case("triplet_margin-1d-swap", lambda a, p, n, r: NF.triplet_margin_loss(a, p, n, swap=True, reduction=r),
          lambda a, p, n, r: TF.triplet_margin_loss(a, p, n, swap=True, reduction=r), X[0], X2[0], X[0] + 0.5),
]


def _upstream(shape):
    """A fixed random weighting of a 'none' output (1 for a scalar), so every value's gradient counts."""
    return np.random.default_rng(1).standard_normal(shape) if shape else np.ones(())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ours, theirs, inputs", CASES)
def test_forward_and_gradients_match_torch(ours, theirs, inputs, reduction):
    xs = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    got, expected = ours(*xs, reduction), theirs(*ts, reduction)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = _upstream(got.shape)
    (got * v).sum().backward()
    (expected * _t(v)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"input {i}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ours, theirs, inputs", CASES)
def test_float64_gradcheck(ours, theirs, inputs, reduction):
    xs = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in inputs]
    result = gradcheck(lambda *t: ours(*t, reduction), xs)
    assert result, str(result)


@pytest.mark.parametrize("ours, theirs, inputs", CASES)
def test_float32_stays_float32(ours, theirs, inputs):
    xs = [nnlab.tensor(a, requires_grad=True, dtype=np.float32) for a in inputs]
    out = ours(*xs, "none")
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(x.grad.dtype == np.float32 for x in xs)
    exact = ours(*[nnlab.tensor(a, dtype=np.float64) for a in inputs], "none").numpy()
    np.testing.assert_allclose(out.numpy(), exact, rtol=1e-4, atol=1e-5)


def test_labels_outside_plus_minus_one_give_torchs_values():
    """Torch does not check the ±1 labels; neither does nnlab: each loss gives what torch's formula gives."""
    odd = np.array([[1.0, -1.0, 0.0, 2.0]] * N)
    x = nnlab.tensor(X, requires_grad=True, dtype=np.float64)
    got = NF.hinge_embedding_loss(x, odd, reduction="none")
    np.testing.assert_allclose(got.numpy(), TF.hinge_embedding_loss(_t(X), _t(odd), reduction="none").numpy())
    got.sum().backward()
    xt = _t(X).requires_grad_()
    TF.hinge_embedding_loss(xt, _t(odd), reduction="sum").backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    odd_rows = np.array([1.0, -1.0, 0.0, 2.0, 0.5, -3.0])
    for ours, theirs in ((NF.cosine_embedding_loss, TF.cosine_embedding_loss),
                         (NF.margin_ranking_loss, TF.margin_ranking_loss)):
        a, b = (X, X2) if ours is NF.cosine_embedding_loss else (X[:, 0], X2[:, 0])
        np.testing.assert_allclose(ours(nnlab.tensor(a, dtype=np.float64), b, odd_rows, reduction="none").numpy(),
                                   theirs(_t(a), _t(b), _t(odd_rows), reduction="none").numpy(), rtol=1e-12)
    np.testing.assert_allclose(NF.soft_margin_loss(nnlab.tensor(X, dtype=np.float64), odd).numpy(),
                               TF.soft_margin_loss(_t(X), _t(odd)).numpy(), rtol=1e-12)


def test_gaussian_variance_below_eps_is_clamped_with_torchs_gradient():
    """Torch clamps var at eps under no_grad: the value uses eps, the gradient passes as if unclamped."""
    var = VAR.copy()
    var[0, :2] = [0.0, 1e-9]
    v, vt = nnlab.tensor(var, requires_grad=True, dtype=np.float64), _t(var).requires_grad_()
    got, expected = NF.gaussian_nll_loss(nnlab.tensor(X, dtype=np.float64), X2, v), TF.gaussian_nll_loss(_t(X), _t(X2), vt)
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)
    got.backward()
    expected.backward()
    np.testing.assert_allclose(v.grad, vt.grad.numpy(), rtol=1e-10)


def test_extremes_stay_finite_where_torch_does():
    """Soft margin and multi-label soft margin are computed stably; a zero vector's cosine is 0 (torch's 1e-12)."""
    big = np.array([[-100.0, 100.0]], dtype=np.float32)
    assert np.isfinite(NF.soft_margin_loss(nnlab.tensor(big), [[1.0, -1.0]]).item())
    assert NF.soft_margin_loss(nnlab.tensor(big), [[1.0, -1.0]]).item() == pytest.approx(100.0)
    assert NF.multilabel_soft_margin_loss(nnlab.tensor(big), [[1.0, 0.0]]).item() == pytest.approx(100.0)
    zero = np.zeros((1, 3))
    x = nnlab.tensor(zero, requires_grad=True, dtype=np.float64)
    loss = NF.cosine_embedding_loss(x, np.ones((1, 3)), [1])
    assert loss.item() == TF.cosine_embedding_loss(_t(zero), _t(np.ones((1, 3))), _t([1])).item() == 1.0
    loss.backward()
    assert np.all(np.isfinite(x.grad))
