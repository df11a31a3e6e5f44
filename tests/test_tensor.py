"""The Tensor class and backward's contract: creation, dtypes, no_grad, backward basics, accumulation, DAGs, float32."""

import numpy as np
import pytest

import nnlab
from nnlab import functional as F


def f64(values, requires_grad=True):
    return nnlab.tensor(values, requires_grad=requires_grad, dtype=np.float64)


# ------------------------------------------------------------------------------ creation and API
def test_tensor_defaults_to_float32_and_keeps_asked_dtype():
    assert nnlab.tensor([1, 2]).dtype == np.float32
    assert nnlab.tensor(np.arange(3.0)).dtype == np.float32  # float64 data too, unless asked
    assert nnlab.tensor(np.arange(3.0), dtype=np.float64).dtype == np.float64
    assert nnlab.tensor([1, 2], dtype="int64").dtype == np.int64


def test_tensor_copies_its_input():
    source = np.ones(3)
    t = nnlab.tensor(source, dtype=np.float64)
    source[0] = 5.0
    assert t.data[0] == 1.0


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        nnlab.tensor([1, 2], requires_grad=True, dtype=np.int64)


def test_properties_and_conversions():
    t = nnlab.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.dtype == np.float32 and t.requires_grad and t.is_leaf and t.grad is None
    assert t.numpy() is t.data
    assert nnlab.tensor(2.5).item() == 2.5
    np.testing.assert_array_equal(t.T.data, t.data.T)
    assert "requires_grad=True" in repr(t)
    assert "float64" in repr(nnlab.tensor(1.0, dtype=np.float64))
    assert not (t * 2).is_leaf


@pytest.mark.parametrize("values, expected", [([0.0], False), (0.0, False), (3.0, True), ([[2]], True), ([True], True)])
def test_bool_of_one_value_is_that_value_as_torch(values, expected):
    assert bool(nnlab.tensor(values)) is expected


@pytest.mark.parametrize("values, amount", [([1.0, 2.0], "more than one value"), ([0.0, 0.0], "more than one value"),
                                            (np.zeros((0,)), "no values")])
def test_bool_of_several_or_no_values_is_ambiguous_as_torch(values, amount):
    with pytest.raises(RuntimeError, match=f"Boolean value of Tensor with {amount} is ambiguous"):
        bool(nnlab.tensor(values))


def test_detach_shares_data_and_cuts_the_graph():
    x = f64([1.0, 2.0])
    d = x.detach()
    assert np.shares_memory(d.data, x.data) and not d.requires_grad
    (x * d).sum().backward()  # d is a constant: d(x*d)/dx = d
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


@pytest.mark.parametrize(
    "op, expected",
    [("__gt__", [False, False, True]), ("__lt__", [True, False, False]), ("__ge__", [False, True, True]),
     ("__le__", [True, True, False]), ("__eq__", [False, True, False]), ("__ne__", [True, False, True])],
)
def test_comparisons_return_boolean_tensors_without_gradient(op, expected):
    x = f64([1.0, 2.0, 3.0])
    for other in (2.0, f64([2.0, 2.0, 2.0], requires_grad=False)):
        result = getattr(x, op)(other)
        assert isinstance(result, nnlab.Tensor) and result.dtype == bool and not result.requires_grad
        assert result.is_leaf and result.tolist() == expected


def test_numpy_operands_on_the_left_defer_to_the_tensor():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    for result in (np.ones(2) + x, np.float64(2.0) * x, np.array([3, 4]) - x, np.ones((3, 2)) @ x):
        assert isinstance(result, nnlab.Tensor) and result.dtype == np.float32 and result.requires_grad


def test_astype_is_differentiable_and_returns_the_leaf_dtype():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 4.0]


# ------------------------------------------------------------------------------ no_grad
def test_no_grad_records_nothing_and_restores_the_mode():
    x = f64([1.0])
    with nnlab.no_grad():
        assert not nnlab.is_grad_enabled()
        with nnlab.no_grad():
            pass
        assert not nnlab.is_grad_enabled()  # the inner block restored "off", not "on"
        y = F.sigmoid(x * 2 + 1)
        assert not y.requires_grad and y._parents == () and y._backward is None
    assert nnlab.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_as_decorator_restores_the_mode_after_an_exception():
    @nnlab.no_grad()
    def failing(t):
        assert not (t * 2).requires_grad
        raise KeyError("boom")

    with pytest.raises(KeyError):
        failing(f64([1.0]))
    assert nnlab.is_grad_enabled()


# ------------------------------------------------------------------------------ backward basics
def test_backward_from_a_single_value():
    for shape in [(), (1,), (1, 1)]:
        x = f64(np.full(shape, 3.0))
        (x * x).backward()
        assert x.grad.shape == shape and float(x.grad.reshape(())) == 6.0


def test_backward_without_gradient_needs_a_single_value():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="single-value"):
        (x * 2).backward()


def test_backward_on_a_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        f64([1.0], requires_grad=False).backward()


def test_explicit_upstream_gradient():
    x = f64(np.arange(6.0).reshape(2, 3))
    upstream = np.array([[1.0, -1.0, 2.0], [0.5, 0.0, 3.0]])
    (x * x).backward(upstream)
    np.testing.assert_array_equal(x.grad, 2 * x.data * upstream)
    x.grad = None
    (x * x).backward(nnlab.tensor(upstream, dtype=np.float64))  # a Tensor works too
    np.testing.assert_array_equal(x.grad, 2 * x.data * upstream)
    with pytest.raises(ValueError, match="does not match"):
        (x * x).backward(np.ones(3))


def test_upstream_gradient_takes_the_graph_dtype():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(np.array([1.0, 1.0]))  # a float64 upstream into a float32 graph
    assert x.grad.dtype == np.float32


def test_only_leaves_that_require_grad_get_a_gradient():
    x, data = f64([1.0, 2.0]), f64([3.0, 4.0], requires_grad=False)
    h = x * data
    (h * h).sum().backward()
    assert data.grad is None and h.grad is None
    np.testing.assert_array_equal(x.grad, 2 * x.data * data.data**2)


# ------------------------------------------------------------------------------ accumulation
def test_gradients_accumulate_until_zeroed():
    x = f64([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()  # a second, separate graph
    np.testing.assert_array_equal(x.grad, 3 + 2 * x.data)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_accumulation_is_in_place_so_a_view_into_a_flat_buffer_stays_valid():
    flat = np.zeros(5)
    w = f64([1.0, 2.0, 3.0])
    w.grad = flat[1:4]  # as an optimizer may arrange
    (w * w).sum().backward()
    assert np.shares_memory(w.grad, flat)
    np.testing.assert_array_equal(flat, [0, 2, 4, 6, 0])
    before = w.grad
    (w * 2).sum().backward()
    assert w.grad is before
    np.testing.assert_array_equal(flat, [0, 4, 6, 8, 0])


def test_leaf_gradients_never_alias_each_other_or_the_callers_arrays():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    (x + y).backward(np.ones(2))  # add hands the same upstream array to both parents
    assert not np.shares_memory(x.grad, y.grad)
    x.grad += 10
    assert y.grad.tolist() == [1.0, 1.0]

    upstream = np.ones((2, 1))
    z = f64([[5.0], [6.0]])
    z.backward(upstream)  # the root is the leaf itself
    upstream[0, 0] = 99.0
    assert z.grad.tolist() == [[1.0], [1.0]]

    w = f64(np.ones((2, 3)))
    w.T.backward(np.ones((3, 2)))  # the op hands back a strided view
    assert w.grad.flags.writeable and w.grad.flags.c_contiguous and w.grad.base is None
    v = f64(np.ones((2, 3)))
    v.backward(np.asfortranarray(np.ones((2, 3))))  # a fresh but Fortran-ordered gradient
    assert v.grad.flags.c_contiguous

    s = f64([1.0, 2.0])
    s.sum().backward()  # sum's backward broadcasts a read-only view
    s.grad += 1  # an optimizer may update .grad in place
    assert s.grad.tolist() == [2.0, 2.0]


# ------------------------------------------------------------------------------ DAGs
def test_fan_out_to_many_consumers():
    x = f64([1.0, -2.0])
    total = x * 0.0
    for i in range(1, 101):
        total = total + x * float(i)
    total.sum().backward()
    np.testing.assert_array_equal(x.grad, [5050.0, 5050.0])


def test_diamond_graph():
    x = f64([0.3, -0.4])
    h = x * 2  # used by two branches that rejoin
    out = h.exp() + h * h
    out.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * (np.exp(2 * x.data) + 2 * 2 * x.data), rtol=1e-14)


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda x: x * x, lambda v: 2 * v),
        (lambda x: x @ x, lambda v: v.sum(axis=0, keepdims=True).T + v.sum(axis=1, keepdims=True).T),
        (lambda x: nnlab.concatenate([x, x, x]), lambda v: 3 * np.ones_like(v)),
        (lambda x: nnlab.stack([x, x]), lambda v: 2 * np.ones_like(v)),
        (lambda x: x[np.array([0, 0])] + x[0], lambda v: np.array([[4.0, 4.0], [0.0, 0.0]])),
        (lambda x: nnlab.maximum(x, x), lambda v: np.ones_like(v)),
    ],
    ids=["mul", "matmul", "concatenate", "stack", "index", "maximum"],
)
def test_one_tensor_in_both_slots_of_an_op(fn, expected):
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad, expected(x.data))


def _residual_net(x, w1, w2, v):
    h1 = x + F.tanh(x @ w1)  # skip connection
    h2 = h1 + F.sigmoid(h1 @ w2) * h1  # skip + fan-out of h1 into three places
    return (F.log_softmax(h2 @ v) * x.sum(axis=1, keepdims=True)).mean()  # x reused at the end


def _residual_inputs():
    rng = np.random.default_rng(3)
    return [f64(rng.standard_normal(s)) for s in [(4, 3), (3, 3), (3, 3), (3, 2)]]


def test_skip_connections_and_fan_out_pass_gradcheck():
    assert nnlab.gradcheck(_residual_net, _residual_inputs())


def test_skip_connections_and_fan_out_match_torch():
    torch = pytest.importorskip("torch")
    inputs = _residual_inputs()
    tin = [torch.tensor(t.data, requires_grad=True) for t in inputs]
    _residual_net(*inputs).backward()
    x, w1, w2, v = tin
    h1 = x + torch.tanh(x @ w1)
    h2 = h1 + torch.sigmoid(h1 @ w2) * h1
    (torch.log_softmax(h2 @ v, -1) * x.sum(1, keepdim=True)).mean().backward()
    for mine, theirs in zip(inputs, tin):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------------------ float32 end to end
def _graph_nodes(root):
    nodes, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node._parents)
    return nodes


def test_float32_graph_is_float32_at_every_node():
    X = nnlab.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    W = nnlab.tensor(np.full((3, 4), 0.1), requires_grad=True)
    b = nnlab.tensor(np.zeros(4), requires_grad=True)
    labels = np.array([0, 1, 3, 2, 1])
    h = F.relu(X @ W + b) * np.float64(1.5) - np.arange(4) / 10 + 2.0
    h = nnlab.maximum(h, np.float64(0.0)) + nnlab.where(h > 2, h, np.int64(1))
    h = (h ** 2 + 1).sqrt() / np.array([1, 2, 3, 4]) + F.elu(-h, alpha=np.float64(0.5))
    h = h + F.softmax(h, temperature=np.float64(2.0)) * F.sigmoid(h) * F.leaky_relu(h, np.float64(0.1))
    logp = F.log_softmax(h, axis=1)
    loss = -(logp[np.arange(5), labels]).mean() + 1e-3 * (W * W).sum() + 0.5 * F.logsumexp(h).sum()
    for node in _graph_nodes(loss):
        assert node.dtype == np.float32, node
    loss.backward()
    assert W.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_float64_batch_into_float32_layers_stays_float32():
    from nnlab import nn

    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm(4), nn.Maxout(4, 2, pieces=2), nn.Linear(2, 2))
    x = nnlab.tensor(np.ones((5, 3)), dtype=np.float64, requires_grad=True)
    y = model(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
