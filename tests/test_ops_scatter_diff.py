"""cumprod, diff, scatter / scatter_ / scatter_add_, repeat_interleave: against torch 2.13, gradchecks, errors."""

import numpy as np
import pytest

import nnlab


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _weights(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def _compare(torch, ours_fn, theirs_fn, *arrays, rtol=1e-12):
    """Forward and every input's gradient of nnlab's op equal torch's (float64), and a gradcheck."""
    ours = [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours_fn(*ours), theirs_fn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=rtol, atol=1e-14)
    w = _weights(out.shape)
    (out * nnlab.tensor(w, dtype=np.float64)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=rtol, atol=1e-14)
    assert nnlab.gradcheck(ours_fn, [nnlab.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays])


def _with_zeros(shape, zeros, seed=0):
    x = np.random.default_rng(seed).uniform(0.5, 1.5, shape) * np.random.default_rng(seed + 1).choice([-1, 1], shape)
    x.reshape(-1)[list(zeros)] = 0.0
    return x


@pytest.mark.parametrize("shape, dim, zeros", [
    ((5,), 0, []), ((5,), 0, [2]), ((5,), -1, [0]), ((5,), 0, [4]), ((5,), 0, [1, 3]), ((6,), 0, [2, 3]),
    ((3, 4), 0, [5]), ((3, 4), 1, [1, 5, 6, 11]), ((3, 4), -1, []), ((2, 3, 4), 1, [0, 7, 13]), ((2, 3, 4), -3, [3]),
    ((2, 3, 4), 2, list(range(24))),
])
def test_cumprod_matches_torch_also_where_the_input_holds_zeros(torch, shape, dim, zeros):
    _compare(torch, lambda x: nnlab.cumprod(x, dim), lambda x: torch.cumprod(x, dim), _with_zeros(shape, zeros))


def test_cumprod_gradient_at_a_zero_is_the_product_of_the_others():
    x = nnlab.tensor([2.0, 0.0, 3.0, 0.0, 5.0], requires_grad=True, dtype=np.float64)
    x.cumprod(0).sum().backward()
    # out = 2, 0, 0, 0, 0: only x_0 and x_1 (the first zero) change the sum: d/dx_1 = 2 + 2·3 = 8
    assert x.grad.tolist() == [1.0, 8.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6])
@pytest.mark.parametrize("shape, dim", [((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -2)])
def test_diff_matches_torch(torch, shape, dim, n):
    x = np.random.default_rng(2).standard_normal(shape)
    _compare(torch, lambda x: nnlab.diff(x, n, dim), lambda x: torch.diff(x, n, dim), x)


def test_diff_with_prepend_and_append_matches_torch(torch):
    x, before, after = (np.random.default_rng(3).standard_normal(s) for s in [(3, 4), (3, 2), (3, 1)])
    _compare(torch, lambda x, b, a: x.diff(2, -1, prepend=b, append=a),
             lambda x, b, a: torch.diff(x, 2, -1, prepend=b, append=a), x, before, after)


def test_cumprod_and_diff_keep_float32():
    x = nnlab.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]], requires_grad=True)
    for out in (x.cumprod(1), x.diff(), nnlab.diff(x, 2, 1), nnlab.cumprod(x, 0)):
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


INDEX = np.array([[2, 0, 1, 2], [0, 1, 2, 0]])  # no place twice: torch's scatter is then defined


@pytest.mark.parametrize("dim, index", [
    (0, [[1, 0, 2, 1], [0, 2, 1, 0]]), (1, [[2, 0], [1, 3], [3, 2]]),
    (-1, [[2], [0]]),  # index smaller than the input off dim
    (-2, [[2, 1]]),
])
def test_scatter_and_scatter_add_match_torch(torch, dim, index):
    index = np.array(index)
    rng = np.random.default_rng(4)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal(index.shape)
    ti = torch.tensor(index)
    _compare(torch, lambda x, s: nnlab.scatter(x, dim, index, s), lambda x, s: torch.scatter(x, dim, ti, s), x, src)
    _compare(torch, lambda x, s: x.scatter_add(dim, index, s), lambda x, s: torch.scatter_add(x, dim, ti, s), x, src)
    _compare(torch, lambda x: nnlab.scatter(x, dim, index, 2.5), lambda x: torch.scatter(x, dim, ti, 2.5), x)


def test_scatter_uses_the_leading_part_of_a_larger_src():
    """torch's own backward gives such a src a gradient of the index's shape: gradcheck only (as scatter_add's)."""
    x = nnlab.tensor(np.zeros((3, 4)), requires_grad=True, dtype=np.float64)
    src = nnlab.tensor(np.arange(15.0).reshape(3, 5), requires_grad=True, dtype=np.float64)
    assert nnlab.scatter(x, 1, [[3], [0]], src).data[:2].tolist() == [[0.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0]]
    assert nnlab.gradcheck(lambda x, s: nnlab.scatter(x, 1, [[3], [0]], s), [x, src])


def test_scatter_gives_every_src_element_its_place_gradient_as_torch(torch):
    index = np.array([[0, 0, 1]])  # place (0, 0) written twice: the forward keeps one, both get its gradient
    x, src = np.zeros((2, 3)), np.array([[1.0, 2.0, 3.0]])
    ours_x, ours_s = nnlab.tensor(x, requires_grad=True), nnlab.tensor(src, requires_grad=True)
    theirs_x, theirs_s = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    out = nnlab.scatter(ours_x, 0, index, ours_s)
    assert out.data[0, 0] in (1.0, 2.0)
    (out * nnlab.tensor(_weights((2, 3)))).sum().backward()
    (torch.scatter(theirs_x, 0, torch.tensor(index), theirs_s) * torch.tensor(_weights((2, 3)))).sum().backward()
    np.testing.assert_allclose(ours_s.grad, theirs_s.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-6)


def test_in_place_scatter_follows_torchs_rules(torch):
    src = np.arange(8.0).reshape(2, 4)
    # outside the graph: written into the tensor itself, an integer tensor keeps its dtype
    buffer = nnlab.zeros(3, 4)
    assert buffer.scatter_(0, INDEX, nnlab.tensor(src)) is buffer
    np.testing.assert_array_equal(buffer.data, torch.zeros(3, 4).scatter_(0, torch.tensor(INDEX),
                                                                          torch.tensor(src, dtype=torch.float32)))
    counts = nnlab.zeros(3, dtype=np.int64).scatter_add_(0, [0, 2, 0], nnlab.tensor([1, 1, 1], dtype=np.int64))
    assert counts.dtype == np.int64 and counts.tolist() == [2, 0, 1]
    assert nnlab.zeros(2, 3, dtype=np.int64).scatter_(1, [[1], [2]], 7).tolist() == [[0, 7, 0], [0, 0, 7]]
    # in the graph: a non-leaf becomes the node, gradients as torch's
    x = nnlab.tensor(np.ones((3, 4)), requires_grad=True, dtype=np.float64)
    s = nnlab.tensor(src, requires_grad=True, dtype=np.float64)
    s2 = nnlab.tensor(src[:, 1:].reshape(3, 2), requires_grad=True, dtype=np.float64)
    places = [[0, 0], [1, 1], [3, 2]]  # (0, 0) twice: the additions add up
    y = x * 2.0
    y.scatter_(0, INDEX, s).scatter_add_(1, places, s2)
    tx, ts = torch.ones(3, 4, dtype=torch.float64, requires_grad=True), torch.tensor(src, requires_grad=True)
    ts2 = torch.tensor(src[:, 1:].reshape(3, 2), requires_grad=True)
    ty = tx * 2.0
    ty.scatter_(0, torch.tensor(INDEX), ts).scatter_add_(1, torch.tensor(places), ts2)
    w = _weights((3, 4))
    (y * nnlab.tensor(w, dtype=np.float64)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(s.grad, ts.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(s2.grad, ts2.grad.numpy(), rtol=1e-12)


def test_in_place_scatter_refusals():
    leaf = nnlab.tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        leaf.scatter_(0, INDEX, 1.0)
    y = leaf * 2.0
    z = y.exp()  # exp used y: overwriting places of y would send exp's gradient through the new values
    with pytest.raises(RuntimeError, match=r"scatter_: this tensor was already used .* y\.scatter\(\.\.\.\)"):
        y.scatter_(0, INDEX, 1.0)
    y.scatter_add_(0, INDEX, nnlab.ones(2, 4))  # derivative 1 for y: allowed, as add_
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(leaf.grad, 2.0 * np.exp(0.0) + 2.0)
    # an input of a recorded op written in place outside the graph: backward refuses (the version check)
    w = nnlab.tensor(np.ones((3, 4)), requires_grad=True)
    data = nnlab.zeros(3, 4)
    loss = (w * data).sum()
    data.scatter_(0, INDEX, 5.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize("call, error, match", [
    (lambda x: nnlab.scatter(x, 0, [[3, 0, 0, 0]], nnlab.ones(1, 4)), IndexError,
     r"scatter: index 3 is out of bounds for dim 0 with size 3 \(allowed: 0 to 2\)"),
    (lambda x: nnlab.scatter_add(x, 1, [[-1]], nnlab.ones(1, 1)), IndexError, r"scatter_add: index -1 is out of bounds"),
    (lambda x: x.scatter_(-1, [[4]], 1.0), IndexError, r"scatter: index 4 is out of bounds for dim -1 with size 4"),
    (lambda x: nnlab.scatter(x, 2, [[0]], 1.0), IndexError, r"scatter: dim 2 is out of range"),
    (lambda x: nnlab.scatter(x, 0, [0, 1], 1.0), IndexError, r"scatter: input, index and src need one number"),
    (lambda x: nnlab.scatter(x, 0, [[0, 1]], nnlab.ones(1, 1)), IndexError, r"index of shape \(1, 2\) is larger than src"),
    (lambda x: nnlab.scatter(x, 0, [[0.5]], 1.0), IndexError, r"scatter: index must hold integers"),
    (lambda x: nnlab.scatter_add(x, 0, [[0]], 1.0), TypeError, r"scatter_add: src must be a tensor"),
])
def test_scatter_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(nnlab.zeros(3, 4))


@pytest.mark.parametrize("shape, repeats, dim", [
    ((3,), 2, None), ((2, 3), 2, None), ((2, 3), [1, 0, 3], 1), ((2, 3), [2, 1], 0), ((2, 3), [3], -1),
    ((2, 3, 2), 3, -2), ((2, 3, 2), [0, 2], 2),
])
def test_repeat_interleave_matches_torch(torch, shape, repeats, dim):
    x = np.random.default_rng(5).standard_normal(shape)
    ours = repeats if isinstance(repeats, int) else nnlab.tensor(repeats)  # a float tensor of whole counts
    theirs = repeats if isinstance(repeats, int) else torch.tensor(repeats)
    _compare(torch, lambda x: x.repeat_interleave(ours, dim), lambda x: torch.repeat_interleave(x, theirs, dim), x)
    assert nnlab.repeat_interleave(nnlab.ones(*shape), ours, dim).dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.repeat_interleave(-1), ValueError, r"repeat_interleave: repeats must be non-negative, got -1"),
    (lambda x: x.repeat_interleave([1, 2], dim=1), ValueError, r"repeats has 2 counts for a dim of size 3"),
    (lambda x: x.repeat_interleave(1.5), TypeError, r"repeats must be an integer or a 1-D tensor of integers"),
    (lambda x: x.repeat_interleave(2, dim=2), IndexError, r"repeat_interleave: dim 2 is out of range"),
    (lambda x: x.repeat_interleave(2, dim=0, output_size=3), ValueError, r"output_size=3 but the repeats add up to 4"),
])
def test_repeat_interleave_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(nnlab.zeros(2, 3))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.cumprod(2), IndexError, r"cumprod: dim 2 is out of range for a 2-d tensor"),
    (lambda x: x.diff(dim=-3), IndexError, r"diff: dim -3 is out of range"),
    (lambda x: x.diff(-1), ValueError, r"diff: n must be an integer >= 0, got -1"),
    (lambda x: nnlab.diff(nnlab.tensor(1.0)), ValueError, r"diff: input must have at least one dimension"),
    (lambda x: x.diff(prepend=nnlab.zeros(2)), ValueError, r"diff: prepend must have the input's 2 dimensions"),
])
def test_cumprod_diff_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(nnlab.zeros(2, 3))


def test_in_place_scatter_gradcheck():
    x = nnlab.tensor(np.random.default_rng(6).standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    s = nnlab.tensor(np.random.default_rng(7).standard_normal((2, 4)), requires_grad=True, dtype=np.float64)
    assert nnlab.gradcheck(lambda x, s: (x * 1.0).scatter_(0, INDEX, s), [x, s])
    assert nnlab.gradcheck(lambda x, s: (x * 1.0).scatter_add_(0, INDEX, s), [x, s])
