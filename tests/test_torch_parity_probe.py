"""Torch idioms that an outside probe found diverging, each run on nnlab and on torch and compared."""

import numpy as np
import pytest

import nnlab

torch = pytest.importorskip("torch")

X = [[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]


def same(a, b):
    """nnlab result ``a`` equals torch result ``b`` in dtype, shape and values."""
    a_arr = a.data if isinstance(a, nnlab.Tensor) else np.asarray(a)
    b_arr = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a_arr.dtype == b_arr.dtype and a_arr.shape == b_arr.shape
    np.testing.assert_allclose(a_arr, b_arr, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- silent wrong values first
def test_transpose_of_two_axes_swaps_them_as_torch():
    # NumPy read (0, 1) as the identity permutation: x.transpose(0, 1) returned x unchanged.
    same(nnlab.tensor(X).transpose(0, 1), torch.tensor(X).transpose(0, 1))
    z = np.arange(24.0).reshape(2, 3, 4)
    same(nnlab.tensor(z).transpose(0, 2), torch.tensor(z, dtype=torch.float32).transpose(0, 2))
    same(nnlab.tensor(z).transpose(2, 0, 1), np.transpose(z, (2, 0, 1)).astype(np.float32))  # a permutation: NumPy


def test_int_tensor_plus_python_float_is_float32_as_torch():
    same(nnlab.tensor([1, 2], dtype=nnlab.int64) + 2.5, torch.tensor([1, 2]) + 2.5)


def test_sgd_step_under_no_grad_updates_the_leaf_in_place():
    # w -= lr * w.grad had rebound w to a new tensor that no longer required grad.
    results = []
    for m in (nnlab, torch):
        w = m.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        before = w
        with m.no_grad():
            w -= 0.1 * (w.grad if m is nnlab else w.grad)
        assert w is before and w.requires_grad and w.is_leaf
        results.append(w)
    same(*results)


@pytest.mark.parametrize("op", [lambda t: t.__iadd__(1), lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.zero_(),
                                lambda t: t.__setitem__(0, 1.0)])
def test_in_place_op_on_a_leaf_that_requires_grad_raises_as_torch(op):
    for m in (nnlab, torch):
        t = m.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op(t)


@pytest.mark.parametrize("name, args", [("add_", (1.5,)), ("sub_", (1.0,)), ("mul_", (2.0,)), ("div_", (4.0,)),
                                        ("zero_", ()), ("fill_", (3.0,)), ("clamp_", (-1.0, 1.0))])
def test_in_place_ops_write_into_the_tensor_and_return_it(name, args):
    a, b = nnlab.tensor(X), torch.tensor(X)
    view = a.detach()  # shares memory: it sees the change, as torch's detach
    assert getattr(a, name)(*args) is a
    getattr(b, name)(*args)
    same(a, b)
    same(view, b)


def test_in_place_keeps_the_dtype_and_refuses_a_float_into_an_int_tensor():
    t = nnlab.tensor([1.0, 2.0])
    t += np.float64(0.5)
    assert t.dtype == np.float32
    i = nnlab.tensor([1, 2], dtype=nnlab.int64)
    with pytest.raises(TypeError):
        i.add_(0.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(0.5)


@pytest.mark.parametrize("body", [
    lambda y: y.__iadd__(1), lambda y: y.mul_(2), lambda y: y.div_(y.detach() + 1), lambda y: y.clamp_(0.0, 5.0), lambda y: y.__setitem__(0, 0.0),
    lambda y: y.__setitem__(slice(None), 2.0),
])
def test_in_place_on_a_non_leaf_gives_torchs_gradient(body):
    grads = []
    for m in (nnlab, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        body(y)
        (y * y).sum().backward()
        grads.append(x.grad)
    same(*grads)


def test_in_place_product_with_itself():
    # torch refuses y.mul_(y) at backward (y is saved); nnlab's hidden former y makes it exact: d(3x)²/dx = 18x
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.mul_(y)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [18.0, 36.0])


def test_setitem_with_a_value_that_requires_grad():
    grads = []
    for m in (nnlab, torch):
        v = m.tensor([7.0, 8.0], requires_grad=True)
        t = m.zeros(3, 2)
        t[1] = v
        (t * m.tensor(np.arange(6.0).reshape(3, 2), dtype=m.float32)).sum().backward()
        grads.append(v.grad)
    same(*grads)


def test_add_after_a_consumer_is_exact_and_mul_after_one_is_refused():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * 2
    y += 1
    (z.sum() + y.sum()).backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = xt * 3
    zt = yt * 2
    yt += 1
    (zt.sum() + yt.sum()).backward()
    same(x.grad, xt.grad)
    y2 = x * 3
    _ = y2 * y2
    with pytest.raises(RuntimeError, match="already used by an op"):
        y2.mul_(2)


def test_setitem_outside_the_graph_writes_the_buffer():
    a, b = nnlab.tensor(X), torch.tensor(X)
    a[a < 0] = 0.0
    b[b < 0] = 0.0
    a[0, 1] = 9.0
    b[0, 1] = 9.0
    same(a, b)


# ---------------------------------------------------------------- torch's keywords and method names
@pytest.mark.parametrize("fn", [
    lambda m, t: t.sum(dim=1), lambda m, t: t.sum(1, keepdim=True), lambda m, t: t.mean(dim=(0, 1)),
    lambda m, t: t.std(dim=0), lambda m, t: t.var(1, unbiased=False), lambda m, t: t.prod(dim=1),
    lambda m, t: t.argmax(dim=1), lambda m, t: t.argmin(1, keepdim=True), lambda m, t: t.amax(dim=1),
    lambda m, t: t.logsumexp(dim=1), lambda m, t: t.cumsum(dim=1), lambda m, t: t.norm(dim=1),
    lambda m, t: t.max(), lambda m, t: t.max(dim=1).values, lambda m, t: t.min(0)[1],
    lambda m, t: m.sum(t, dim=0), lambda m, t: m.max(t, m.zeros(2, 3)),
    lambda m, t: t.unsqueeze(dim=-1), lambda m, t: t[None].squeeze(dim=0), lambda m, t: t.view(3, 2),
    lambda m, t: t.view(-1), lambda m, t: m.flatten(t[None], start_dim=1), lambda m, t: t.mT,
    lambda m, t: t[0].expand_as(t), lambda m, t: m.cat([t, t], dim=1), lambda m, t: m.stack([t, t], dim=2),
    lambda m, t: t.split(1, dim=1)[2], lambda m, t: t.chunk(2, dim=1)[0], lambda m, t: t.flip(dims=[0]),
    lambda m, t: t.roll(1, dims=1), lambda m, t: m.transpose(t, 0, 1), lambda m, t: t.T.contiguous(),
    lambda m, t: t.clone(), lambda m, t: t.masked_fill(t < 0, 0.5), lambda m, t: t.clamp(min=0.0),
    lambda m, t: t.clamp(-1, 1), lambda m, t: t.add(t, alpha=2), lambda m, t: t.pow(2), lambda m, t: t.neg(),
    lambda m, t: t.square(), lambda m, t: t.reciprocal(), lambda m, t: t.abs().log1p(), lambda m, t: t.expm1(),
    lambda m, t: t // 2, lambda m, t: t % 3, lambda m, t: abs(t), lambda m, t: t.sigmoid(), lambda m, t: t.relu(),
    lambda m, t: t.softmax(dim=1), lambda m, t: t.log_softmax(-1), lambda m, t: t.double(), lambda m, t: t.long(),
    lambda m, t: t.bool(), lambda m, t: t.to(m.float64), lambda m, t: t.cpu(), lambda m, t: m.mm(t, t.T),
    lambda m, t: m.matmul(t, m.ones(3)), lambda m, t: m.isclose(t, t), lambda m, t: m.exp(t),
])
def test_torch_spellings_give_torchs_values(fn):
    same(fn(nnlab, nnlab.tensor(X)), fn(torch, torch.tensor(X)))


@pytest.mark.parametrize("fn", [
    lambda m, x: x.max(dim=1).values.sum(), lambda m, x: x.masked_fill(x < 0, 0.0).pow(2).sum(),
    lambda m, x: (x.clamp(-1, 4) * x).sum(), lambda m, x: (x.view(3, 2).permute(1, 0) * x).sum(),
    lambda m, x: (x.clone().mT @ x).sum(), lambda m, x: (x.log1p() + x.expm1()).sum(),
    lambda m, x: (x % 0.7).sum(),
])
def test_torch_spellings_give_torchs_gradients(fn):
    z = np.array([[0.5, 1.25, 2.0], [0.1, 3.0, 0.75]])
    x, xt = nnlab.tensor(z, requires_grad=True), torch.tensor(z, dtype=torch.float32, requires_grad=True)
    fn(nnlab, x).backward()
    fn(torch, xt).backward()
    same(x.grad, xt.grad)


def test_log1p_expm1_gradcheck():
    x = nnlab.tensor([0.3, 1e-4, 2.0], requires_grad=True, dtype=np.float64)
    assert nnlab.gradcheck(lambda a: (a.log1p() * a.expm1()).sum(), [x])


def test_max_dim_returns_values_and_indices():
    v, i = nnlab.tensor(X).max(dim=1)
    vt, it = torch.tensor(X).max(dim=1)
    same(v, vt)
    same(i, it)
    assert nnlab.tensor(X).max(axis=1).shape == (2,)  # NumPy's keyword: the values alone


def test_size_dim_numel_tolist_item_float_int():
    t, tt = nnlab.tensor(X), torch.tensor(X)
    assert t.size() == tuple(tt.size()) and t.size(1) == tt.size(1) and t.size(-1) == tt.size(-1)
    assert t.size == 6  # NumPy's attribute keeps working
    assert t.dim() == tt.dim() and t.numel() == tt.numel() and t.tolist() == tt.tolist()
    assert float(nnlab.tensor([2.5])) == 2.5 and int(nnlab.tensor([3.0])) == 3


def test_backward_gradient_keyword_and_scalar_message():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(gradient=nnlab.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 40.0])
    for m in (nnlab, torch):
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            (m.tensor([1.0, 2.0], requires_grad=True) * 2).backward()


def test_requires_grad_and_grad_mode_switches():
    t = nnlab.tensor(X)
    assert t.requires_grad_() is t and t.requires_grad
    assert not t.requires_grad_(False).requires_grad
    x = nnlab.tensor([1.0], requires_grad=True)
    with nnlab.no_grad():
        with nnlab.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with nnlab.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert nnlab.is_grad_enabled()

    @nnlab.enable_grad()
    def f(a):
        return a * 2

    with nnlab.no_grad():
        assert f(x).requires_grad
    for m in (nnlab, torch):
        @m.set_grad_enabled(False)  # sets the mode when made, restores it when it decorates (torch's rule)
        def g(a):
            return a * 2

        assert m.is_grad_enabled() and not g(m.ones(1, requires_grad=True)).requires_grad and m.is_grad_enabled()


def test_creation_under_torch_names():
    same(nnlab.zeros(2, dtype=nnlab.int64), torch.zeros(2, dtype=torch.int64))
    same(nnlab.full_like(nnlab.tensor(X), 3.0), torch.full_like(torch.tensor(X), 3.0))
    assert nnlab.empty(2, 3).shape == (2, 3)
    assert nnlab.randn_like(nnlab.zeros(2, 3)).dtype == np.float32 and nnlab.rand_like(nnlab.zeros(2)).shape == (2,)
    r = nnlab.randint(0, 5, (100,), generator=np.random.default_rng(0))
    assert r.dtype == np.int64 and r.data.min() >= 0 and r.data.max() < 5
    assert np.array_equal(nnlab.randn(3, generator=0).data, nnlab.randn(3, rng=0).data)
    a = np.arange(3.0)
    t = nnlab.from_numpy(a)
    a[0] = 7.0
    assert t.dtype == np.float64 and t.data[0] == 7.0
    assert nnlab.allclose(nnlab.tensor(X), nnlab.tensor(X) + 1e-9) and nnlab.equal(nnlab.tensor(X), nnlab.tensor(X))


def test_nn_functional_is_a_reexport():
    import nnlab.nn.functional as F

    assert F.relu is nnlab.functional.relu and F.cross_entropy is nnlab.losses.cross_entropy
    same(F.softmax(nnlab.tensor(X), dim=0), torch.nn.functional.softmax(torch.tensor(X), dim=0))
    same(F.log_softmax(nnlab.tensor(X), dim=1), torch.nn.functional.log_softmax(torch.tensor(X), dim=1))
    same(F.leaky_relu(nnlab.tensor(X), negative_slope=0.2),
         torch.nn.functional.leaky_relu(torch.tensor(X), negative_slope=0.2))
    with pytest.raises(TypeError, match="not both"):
        F.softmax(nnlab.tensor(X), 0, dim=1)
