"""The seeds' worked examples, as the issue names them.

The engine's general contract is in test_tensor.py, every op in test_ops.py,
gradcheck in test_gradcheck.py.
"""

import numpy as np

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
