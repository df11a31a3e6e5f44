"""The engine's core promises: the seeds' worked examples, fan-out, depth, dtype."""

import numpy as np
import pytest

import nnlab
from nnlab.functional import sigmoid


def test_seed_worked_example():
    # f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4
    x, y, z = (nnlab.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    assert f.item() == -12
    assert (x.grad, y.grad, z.grad) == (-4, -4, 3)


def test_fan_out_sums_contributions():
    x = nnlab.tensor([1.5, -2.0], requires_grad=True, dtype=np.float64)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


def test_two_branches_joined_by_addition():
    x = nnlab.tensor([0.3, -0.7], requires_grad=True, dtype=np.float64)
    branch_a = x.exp()
    branch_b = x * 3.0
    (branch_a + branch_b).sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(x.data) + 3.0)


def test_skip_connection():
    x = nnlab.tensor([0.5, 2.0], requires_grad=True, dtype=np.float64)
    h = nnlab.functional.tanh(x)
    (x + h).sum().backward()  # y = x + f(x)
    np.testing.assert_allclose(x.grad, 1 + (1 - np.tanh(x.data) ** 2))


def test_hand_built_xor_network():
    X = nnlab.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    h1 = sigmoid(X @ nnlab.tensor([20, 20]) - 10)
    h2 = sigmoid(X @ nnlab.tensor([-20, -20]) + 30)
    out = sigmoid(20 * h1 + 20 * h2 - 30)
    np.testing.assert_allclose(out.numpy(), [0, 1, 1, 0], atol=1e-3)


def test_deep_chain_without_recursion():
    x = nnlab.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.backward()
    assert x.grad[0] == 1.0


def test_float32_graph_stays_float32():
    x = nnlab.tensor(np.ones((2, 3)), requires_grad=True)
    w = nnlab.tensor(np.ones((3, 2)), requires_grad=True)
    y = (x * np.float64(2.0) / np.array([1, 2, 3]) + 0.5) @ w
    y = nnlab.functional.softmax(y - np.float64(1.0)).log().sum() * 3
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_gradients_accumulate_and_graph_is_released():
    x = nnlab.tensor([2.0], requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad[0] == 8.0
    with pytest.raises(RuntimeError, match="released"):
        y.backward()


def test_no_grad_and_detach_record_nothing():
    x = nnlab.tensor([1.0], requires_grad=True)
    with nnlab.no_grad():
        assert not (x * 2).requires_grad
    assert not x.detach().requires_grad
    assert (x * 2).requires_grad


def test_comparisons_are_plain_boolean_arrays():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    result = x > 1.5
    assert isinstance(result, np.ndarray) and result.dtype == bool
    assert result.tolist() == [False, True]


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        nnlab.gradcheck(lambda t: t * 2, [nnlab.tensor([1.0], requires_grad=True)])


def test_gradcheck_catches_a_wrong_backward():
    from nnlab.tensor import make_result

    def wrong_square(t):
        return make_result(t.data**2, (t,), lambda g: (g * t.data,))  # missing factor 2

    x = nnlab.tensor([1.0, -3.0], requires_grad=True, dtype=np.float64)
    result = nnlab.gradcheck(wrong_square, [x])
    assert not result
    assert result.input_index == 0 and result.element == (1,)
