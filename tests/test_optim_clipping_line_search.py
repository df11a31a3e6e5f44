"""Optimizer machinery, continued: gradient clipping and the line search over learning rates."""

import math

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError, NnlabError
from nnlab.optim.clip import _grad_blocks
from nnlab.optim import SGD, LineSearch, clip_grad_norm, clip_grad_value
from optim_helpers import loss_of, make_params, train


# ---------------------------------------------------------------- clipping
def grads_of(params):
    return np.concatenate([p.grad.ravel() for p in params])


@pytest.mark.parametrize("in_optimizer", [True, False], ids=["flat_buffer", "loose_tensors"])
def test_clip_grad_norm(in_optimizer):
    params = make_params(np.float64)
    if in_optimizer:  # after its first step the optimizer's views are the gradients
        opt = SGD(params, lr=0.1)
        train(opt, params, 1)
        opt.zero_grad()
    (loss_of(params) * 100.0).backward()
    assert len(_grad_blocks(params)) == (1 if in_optimizer else len(params))  # one call for the whole buffer
    raw = grads_of(params)
    norm = clip_grad_norm(params, max_norm=1.0)
    np.testing.assert_allclose(norm, np.linalg.norm(raw), rtol=1e-12)
    np.testing.assert_allclose(grads_of(params), raw / (norm + 1e-6), rtol=1e-12)
    assert clip_grad_norm(params, max_norm=10.0) <= 1.0  # already small: unchanged
    np.testing.assert_allclose(grads_of(params), raw / (norm + 1e-6), rtol=1e-12)
    inf_norm = clip_grad_norm(params, max_norm=1e-3, norm_type=math.inf)
    assert np.abs(grads_of(params)).max() <= 1e-3 and inf_norm > 1e-3


def test_clip_grad_norm_matches_torch_and_skips_missing_grads():
    torch = pytest.importorskip("torch")
    params = make_params(np.float64)
    SGD(params, lr=0.1)
    (loss_of(params) * 50.0).backward()
    params[1].grad = None
    theirs = [torch.tensor(p.data, requires_grad=True) for p in params]
    for p, q in zip(params, theirs):
        q.grad = None if p.grad is None else torch.tensor(p.grad)
    norm = clip_grad_norm(params, 0.5)
    torch_norm = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    np.testing.assert_allclose(norm, torch_norm.item(), rtol=1e-12)
    for p, q in zip(params, theirs):
        if q.grad is not None:
            np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12)


def test_clipping_part_of_the_parameters_leaves_the_rest():
    params = make_params(np.float64)
    SGD(params, lr=0.1)
    (loss_of(params) * 100.0).backward()
    untouched = params[2].grad.copy()
    clip_grad_value(params[:2], 0.01)
    assert np.abs(grads_of(params[:2])).max() <= 0.01
    np.testing.assert_array_equal(params[2].grad, untouched)
    clip_grad_value(params, 0.001)
    assert np.abs(grads_of(params)).max() == 0.001


# ---------------------------------------------------------------- line search
def candidate_losses(params, candidates, t):
    """Each candidate's loss, recomputed independently from the current point and gradient."""
    origin, grads = [p.data.copy() for p in params], [p.grad.copy() for p in params]
    out = []
    for lr in candidates:
        trial = [nnlab.tensor(w - lr * g, dtype=w.dtype) for w, g in zip(origin, grads)]
        out.append(loss_of(trial, t).item())
    return out


def test_line_search_keeps_the_best_candidate():
    params = make_params()
    candidates = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    opt = LineSearch(params, candidates=candidates)
    start = loss_of(params, 0).item()
    chosen = set()
    for t in range(8):
        opt.zero_grad()
        loss_of(params, t).backward()
        expected = candidate_losses(params, candidates, t)
        best = opt.step(lambda: loss_of(params, t))
        after = loss_of(params, t).item()
        assert after == best == min(opt.last_losses)  # never worse than the best candidate
        assert all(after <= c for c in expected)
        np.testing.assert_allclose(opt.last_losses, expected, rtol=1e-5)
        assert opt.lr == candidates[int(np.argmin(expected))]
        chosen.add(opt.lr)
    assert loss_of(params, 0).item() < start
    assert opt.state_dict()["state"][0]["step"] == 8


def test_line_search_edge_cases():
    w = nnlab.tensor([2.0], requires_grad=True, dtype=np.float64)
    opt = LineSearch([w], candidates=(0.0, 5.0))
    with pytest.raises(NnlabError, match="backward"):
        opt.step(lambda: (w * w).sum())
    (w * w).sum().backward()
    with pytest.raises(ConfigError, match="closure"):
        opt.step()
    assert opt.requires_closure and not SGD([nnlab.tensor([1.0], requires_grad=True)]).requires_closure
    with pytest.raises(ConfigError, match="candidates"):
        opt.lr = 0.1
    assert opt.step(lambda: (w * w).sum()) == 4.0  # staying put (η = 0) beats overshooting
    assert opt.lr == 0.0 and w.data[0] == 2.0
    # NaN losses are never chosen; if all are NaN the parameters stay where they were
    assert opt.step(lambda: float("nan") if w.data[0] == 2.0 else (w * w).sum()) == 18 ** 2
    w.data[...] = 2.0
    assert math.isnan(opt.step(lambda: float("nan"))) and w.data[0] == 2.0 and opt.lr is None

    def failing():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        opt.step(failing)
    assert w.data[0] == 2.0  # restored


@pytest.mark.parametrize("candidates", [0.1, "0.1", None])
def test_line_search_candidates_that_are_no_list_are_refused_by_name(candidates):
    w = nnlab.tensor([2.0], requires_grad=True)
    with pytest.raises(ConfigError, match=r"LineSearch: candidates must be a list of learning rates, got "):
        LineSearch([w], candidates=candidates)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("where", [0, 1])  # the non-finite value in the first or the second tensor
def test_clip_grad_norm_of_non_finite_gradients_matches_torch(norm_type, bad, where):
    torch = pytest.importorskip("torch")
    grads = [np.array([3.0, -4.0], dtype=np.float32), np.array([1e3, 0.5], dtype=np.float32)]
    grads[where][0] = bad
    ours = [nnlab.tensor(np.ones(2, dtype=np.float32), requires_grad=True) for _ in grads]
    theirs = [torch.ones(2, requires_grad=True) for _ in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = g.copy(), torch.tensor(g)
    with np.errstate(invalid="ignore"):
        norm = clip_grad_norm(ours, max_norm=1.0, norm_type=norm_type)
    torch_norm = float(torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type))
    np.testing.assert_equal(norm, torch_norm)  # NaN == NaN here
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())  # a NaN norm: every gradient NaN, as in torch

    for p, g in zip(ours, grads):
        p.grad = g.copy()
    with pytest.raises(NnlabError, match=r"clip_grad_norm: the total norm of the gradients is non-finite \((nan|inf)\)"):
        clip_grad_norm(ours, max_norm=1.0, norm_type=norm_type, error_if_nonfinite=True)
    for p, g in zip(ours, grads):
        np.testing.assert_array_equal(p.grad, g)  # refused before any change
    for q in theirs:
        q.grad = torch.tensor([bad, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type, error_if_nonfinite=True)
