"""The reverse-mode pass over a graph: its lifetime (retain_graph, release), depth, and the walk's order."""

import numpy as np
import pytest

import nnlab
from nnlab import functional as F


def f64(values, requires_grad=True):
    return nnlab.tensor(values, requires_grad=requires_grad, dtype=np.float64)


# ------------------------------------------------------------------------------ graph lifetime
def test_retain_graph_allows_a_second_backward():
    x = f64([2.0])
    y = (x * x).exp()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_released_graph_raises():
    x = f64([2.0])
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="released.*retain_graph=True"):
        y.backward()


def test_released_shared_intermediate_raises_for_the_second_root():
    x = f64([2.0])
    shared = x.exp()
    a, b = shared * 2, shared * 3
    a.backward()
    with pytest.raises(RuntimeError, match="released"):
        b.backward()


def test_backward_releases_the_closures():
    x = f64([1.0, 2.0])
    h = x.exp()
    y = (h * h).sum()
    y.backward()
    assert h._parents == () and y._parents == ()  # the saved arrays can be freed


def test_ten_thousand_node_chain():
    x = f64([0.5])
    y = x
    for _ in range(5_000):  # 10,000 nodes, far beyond the recursion limit
        y = y * 1.0001
        y = y + 0.5
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0001**5_000], rtol=1e-12)


def test_ten_thousand_node_chain_float32_and_retained():
    x = nnlab.tensor([0.1], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = F.tanh(y) if y.item() > 1 else y + 0.0001
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.dtype == np.float32 and np.isfinite(x.grad).all() and x.grad[0] > 0


# ------------------------------------------------------------------------------ the walk's order
def test_order_puts_every_node_before_its_parents_and_the_gradients_check():
    from nnlab._backprop import reverse_topological_order
    from nnlab.gradcheck import gradcheck

    rng = np.random.default_rng(0)
    picks = [tuple(rng.choice(4 + i, 2)) + (rng.random() < 0.5,) for i in range(40)]

    def dag(*leaves):  # a random DAG: leaves shared by many nodes, nodes used several times
        nodes = list(leaves)
        for a, b, product in picks:
            nodes.append(F.tanh(nodes[a] * nodes[b]) if product else nodes[a] + F.tanh(nodes[b]))
        return sum((n.sum() for n in nodes[-10:]), start=nodes[-11].sum())

    leaves = [f64(rng.standard_normal(3)) for _ in range(4)]
    order = reverse_topological_order(dag(*leaves))
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)  # each node once
    for node in order:
        for parent in node._parents:
            if parent.requires_grad:
                assert position[id(parent)] > position[id(node)]
    assert gradcheck(dag, leaves)


def test_backward_of_a_one_value_leaf_gives_it_a_gradient_of_its_own():
    x = f64([3.0])
    x.backward()
    x.grad += 1  # writable, not the cached seed
    y = f64([5.0])
    y.backward()
    assert x.grad.tolist() == [2.0] and y.grad.tolist() == [1.0]


def test_the_constant_cache_is_read_only_shared_and_bounded():
    from nnlab import _constants

    first = _constants.cached(("test ones", 3), np.ones, 3, dtype=np.float32)
    assert _constants.cached(("test ones", 3), np.zeros, 3) is first and _constants.get(("test ones", 3)) is first
    assert first.dtype == np.float32 and not first.flags.writeable
    for i in range(2 * _constants._MAX_ENTRIES):
        _constants.cached(("test filler", i), np.zeros, 1)
    assert len(_constants._CACHE) <= _constants._MAX_ENTRIES + 1
