"""einsum, outer, trace, diagonal, diag: forward and gradients against torch 2.13, gradchecks, equation errors."""

import numpy as np
import pytest

import nnlab


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


EQUATIONS = [  # (equation, operand shapes)
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->i", [(3, 4)]),  # j summed away: its gradient is broadcast back
    ("ii->", [(3, 3)]),  # a trace
    ("ii->i", [(4, 4)]),  # a diagonal
    ("bii->b", [(2, 3, 3)]),
    ("iij,j->i", [(3, 3, 4), (4,)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("ij,jk", [(3, 4), (4, 2)]),  # implicit output: ik
    ("ba", [(3, 4)]),  # implicit output in alphabetical order: the transpose
    ("Ab,bC->AC", [(2, 3), (3, 4)]),
    ("aB,Ba", [(3, 2), (2, 3)]),  # implicit: nothing once, a scalar
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # ellipses of different lengths broadcast
    ("...ii->...i", [(2, 3, 3)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("...j,j", [(2, 3, 4), (4,)]),  # implicit with an ellipsis: ... first
    ("i...->...", [(3, 2, 2)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]),  # a letter of length 1 broadcasts
    ("i j , j k -> i k", [(3, 4), (4, 2)]),  # spaces are ignored
    (",ij->ij", [(), (2, 3)]),  # a 0-d operand
]


def _operands(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("equation, shapes", EQUATIONS)
def test_einsum_forward_and_gradients_match_torch(torch, equation, shapes):
    arrays = _operands(shapes)
    ours = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = nnlab.einsum(equation, *ours), torch.einsum(equation, *theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(out.shape)
    (out * nnlab.tensor(w, dtype=np.float64)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for a, t in zip(ours, theirs):
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("equation, shapes", EQUATIONS)
def test_einsum_gradcheck(equation, shapes):
    ours = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in _operands(shapes, seed=2)]
    assert nnlab.gradcheck(lambda *ts: nnlab.einsum(equation, *ts), ours)


def test_einsum_takes_a_list_keeps_float32_and_skips_constant_operands():
    a = nnlab.tensor(np.ones((2, 3)), requires_grad=True)
    b = np.ones((3, 4), np.float32)
    out = nnlab.einsum("ij,jk->ik", [a, b])
    assert out.dtype == np.float32 and out.grad_fn.name() == "EinsumBackward"
    out.sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [[4.0] * 3] * 2


@pytest.mark.parametrize("equation, operands, match", [
    ("ij,jk->ik", [(3, 4)], r"has 2 operand subscripts but 1 operands were given"),
    ("ij->ij", [(3, 4), (4,)], r"has 1 operand subscripts but 2"),
    ("ij->i", [(3, 4, 5)], r"gives operand 0 the subscripts 'ij' but it has 3 dimensions"),
    ("ij,j1->i", [(3, 4), (4, 4)], r"holds '1'; allowed: the letters a-z and A-Z"),
    ("ij->k", [(3, 4)], r"has the output subscript 'k', which no operand has"),
    ("ij->ii", [(3, 3)], r"repeats 'i' in the output"),
    ("ij,jk->ik", [(3, 4), (5, 2)], r"contracts axes of lengths 4 and 5"),
    ("ii->i", [(3, 4)], r"repeats a subscript in operand 0 over axes of lengths 3 and 4"),
    ("ij->i->j", [(3, 4)], r"needs at most one '->'"),
    ("i.j->i", [(3, 4)], r"uses '\.' outside one '\.\.\.'"),
    ("...i->i", [()], r"gives operand 0 the subscripts '\.\.\.i' but it has 0 dimensions"),
])
def test_einsum_refuses_a_bad_equation_by_name(equation, operands, match):
    with pytest.raises(ValueError, match=rf"einsum: equation {equation!r} " + match):
        nnlab.einsum(equation, *[nnlab.zeros(*s) for s in operands])


def test_einsum_needs_a_string_and_an_operand():
    with pytest.raises(TypeError, match="equation must be a string"):
        nnlab.einsum(3, nnlab.zeros(2))
    with pytest.raises(ValueError, match="at least one operand"):
        nnlab.einsum("i->i")


def _compare(torch, ours_fn, theirs_fn, *arrays):
    ours = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours_fn(*ours), theirs_fn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    w = np.random.default_rng(3).standard_normal(out.shape)
    (out * nnlab.tensor(w, dtype=np.float64)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-12)
    assert nnlab.gradcheck(ours_fn, [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays])


def test_outer_matches_torch(torch):
    _compare(torch, nnlab.outer, torch.outer, *_operands([(3,), (4,)]))
    assert nnlab.tensor([1.0, 2.0]).outer(nnlab.tensor([3.0])).tolist() == [[3.0], [6.0]]


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_trace_matches_torch(torch, shape):
    _compare(torch, lambda x: x.trace(), torch.trace, *_operands([shape]))


@pytest.mark.parametrize("shape, offset, dim1, dim2", [
    ((3, 4), 0, 0, 1), ((3, 4), 1, 0, 1), ((3, 4), -2, 0, 1), ((3, 4), 5, 0, 1), ((4, 3), 0, 1, 0),
    ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, -1, 0), ((2, 3, 4), -1, 2, -3), ((2, 3, 4, 3), 0, 1, 3),
])
def test_diagonal_matches_torch(torch, shape, offset, dim1, dim2):
    _compare(torch, lambda x: nnlab.diagonal(x, offset, dim1, dim2),
             lambda x: torch.diagonal(x, offset, dim1, dim2), *_operands([shape]))


@pytest.mark.parametrize("shape, diagonal", [((3,), 0), ((3,), 2), ((3,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -2)])
def test_diag_matches_torch(torch, shape, diagonal):
    _compare(torch, lambda x: x.diag(diagonal), lambda x: torch.diag(x, diagonal), *_operands([shape]))


def test_float32_in_float32_out():
    x = nnlab.tensor(np.ones((3, 3)), requires_grad=True)
    for out in (x.trace(), x.diagonal(), x.diag(1), nnlab.diag(x.diagonal()), nnlab.outer(x[0], x[1])):
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda: nnlab.diagonal(nnlab.zeros(3, 3), 0, 1, -1), ValueError, r"diagonal: dim1 and dim2 name one axis \(1, -1\)"),
    (lambda: nnlab.diagonal(nnlab.zeros(3, 3), 0, 0, 2), IndexError, r"diagonal: dim 2 is out of range"),
    (lambda: nnlab.diagonal(nnlab.zeros(3)), ValueError, r"diagonal: input needs at least 2 dimensions"),
    (lambda: nnlab.diagonal(nnlab.zeros(3, 3), 0.5), TypeError, r"diagonal: offset must be an integer"),
    (lambda: nnlab.diag(nnlab.zeros(2, 2, 2)), ValueError, r"diag: input must be 1-D .* or 2-D .*, got shape \(2, 2, 2\)"),
    (lambda: nnlab.diag(nnlab.zeros(2), "1"), TypeError, r"diag: diagonal must be an integer"),
    (lambda: nnlab.trace(nnlab.zeros(3)), ValueError, r"trace: input must be 2-D"),
    (lambda: nnlab.outer(nnlab.zeros(2, 2), nnlab.zeros(2)), ValueError, r"outer: input and vec2 must be 1-D"),
])
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
