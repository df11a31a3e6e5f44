"""The reverse-mode pass behind ``Tensor.backward``: the graph walked in reverse topological order.

The order comes from an explicit stack, so a graph's depth is not limited by
Python's recursion limit.  Each node's ``backward(g)`` closure returns one
gradient per parent; contributions to the same parent are added, and what
reaches a leaf is stored, accumulated or written straight into its ``.grad``
(``_leafgrad.py``).  This module reads the nodes' attributes only: it imports
nothing of ``tensor.py`` (the import rule there).
"""

from __future__ import annotations

import numpy as np

from . import _leafgrad
from . import _constants
from . import _versions
from ._leafgrad import Product


def run(root, grad: np.ndarray, retain_graph: bool) -> None:
    """Send ``grad`` (d root / d root) back through the graph that made ``root``."""
    grads = {id(root): grad}
    owned = set()  # ids of arrays already stored in some leaf's .grad
    written = _versions.clock[0]  # 0 until the first in-place write: then each node is checked (_versions.py)
    for node in reverse_topological_order(root):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        backward = node._backward
        if backward is None:
            _leafgrad.accumulate(node, g, owned)  # g may be a Product, computed into .grad
            continue
        if written:
            _versions.check(node)
        parent_grads = backward(g.value() if type(g) is Product else g)
        for parent, pg in zip(node._parents, parent_grads):
            if pg is None or not parent.requires_grad:
                continue
            key = id(parent)
            previous = grads.get(key)
            grads[key] = pg if previous is None else previous + pg
        if not retain_graph:
            node._parents = ()
            node._backward = released


def released(_g):
    """The backward of a node whose graph a backward without ``retain_graph`` has freed."""
    raise RuntimeError(
        "backward through a graph that was already released; "
        "pass retain_graph=True to the first backward() to reuse it"
    )


def reverse_topological_order(root) -> list:
    """Nodes that require grad, each before all of its parents (iterative DFS).

    A leaf (no backward) is placed when first seen, not stacked twice: it still
    comes after every node that uses it, and the other nodes keep their order.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in visited:
                if parent._backward is None:
                    visited.add(id(parent))
                    order.append(parent)
                else:
                    stack.append((parent, False))
    order.reverse()
    return order


def one(shape: tuple, dtype) -> np.ndarray:
    """The seed gradient of a one-value root, cached read-only (np.ones costs 0.7 µs a backward).

    No backward writes into its ``g``; a leaf that is itself the root stores a
    copy (``_leafgrad.accumulate`` copies a read-only array).
    """
    key = (one, shape, dtype)
    out = _constants.get(key)
    return out if out is not None else _constants.cached(key, np.ones, shape, dtype)
