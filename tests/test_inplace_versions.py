"""backward refuses a gradient from values an in-place op overwrote after the op used them (PyTorch's rule)."""

import numpy as np
import pytest

import nnlab
from nnlab import _versions

torch = pytest.importorskip("torch")


def test_writing_an_input_of_a_recorded_op_is_refused_at_backward_as_in_torch():
    w = nnlab.tensor([1.0, 2.0], requires_grad=True)
    x = nnlab.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.mul_(2)  # w's gradient is x as it was: 3, 4; the new x would give 6, 8
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    tw, tx = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 4.0])
    ty = (tw * tx).sum()
    tx.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.backward()


def test_a_parameter_updated_under_no_grad_before_backward_is_refused():
    w = nnlab.tensor([[1.0, 2.0]], requires_grad=True)
    loss = (nnlab.tensor([[1.0], [2.0]]) @ w).sum() * (w * w).sum()
    with nnlab.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match=r"\(1, 2\) tensor"):
        loss.backward()


def test_setitem_outside_the_graph_is_stamped_too():
    w = nnlab.tensor([1.0, 2.0], requires_grad=True)
    x = nnlab.tensor([3.0, 4.0])
    y = (w * x).sum()
    x[0] = 10.0
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_the_usual_loops_still_work():
    """Write after backward (a manual SGD step, a reused input buffer): the next graph is made after the write."""
    w = nnlab.tensor([1.0, 2.0], requires_grad=True)
    buffer = nnlab.tensor([0.0, 0.0])
    for batch in ([3.0, 4.0], [5.0, 6.0]):
        buffer.copy_(nnlab.tensor(batch))
        loss = (w * buffer).sum()
        loss.backward()
        np.testing.assert_array_equal(w.grad, batch)
        with nnlab.no_grad():
            w -= 0.1 * nnlab.tensor(w.grad)
        w.grad = None
    np.testing.assert_allclose(w.data, [1.0 - 0.8, 2.0 - 1.0], rtol=1e-6)
    assert _versions.clock[0] > 0


def test_in_place_ops_inside_the_graph_keep_torchs_gradient():
    a = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = a * 3
    z = y * y  # saves y's values: the add_ below rebinds y in the graph, it does not overwrite them
    y.add_(1)
    (z.sum() + y.sum()).backward()
    ta = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = ta * 3
    tz = ty * ty
    ty.add_(1)
    with pytest.raises(RuntimeError):  # torch refuses: mul saved ty, which add_ bumped
        (tz.sum() + ty.sum()).backward()
    np.testing.assert_allclose(a.grad, 2 * 3 * np.array([3.0, 6.0]) + 3)  # d/da (9a² + 3a + 1)
