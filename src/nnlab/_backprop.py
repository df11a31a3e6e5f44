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

from . import _hooks, _leafgrad
from . import _constants
from . import _versions
from ._leafgrad import Product


def run(roots, seeds, retain_graph: bool, inputs=None):
    """Send each seed (d root / d root) back through the graph that made its root.

    Without ``inputs`` (``backward``) the gradients reaching the leaves go into their ``.grad``.  With
    ``inputs`` (``autograd.grad``) no leaf's ``.grad`` is touched and only the nodes between the
    roots and the inputs run, as torch: the result maps ``id(input)`` to its gradient (None if
    unreached).  Hooks and ``retain_grad`` are looked for once a tensor asked for them (``_hooks.py``).
    """
    grads = {}
    for root, seed in zip(roots, seeds):
        previous = grads.get(id(root))
        grads[id(root)] = seed if previous is None else previous + seed
    owned = set()  # ids of arrays already stored in some leaf's .grad
    written = _versions.clock[0]  # 0 until the first in-place write: then each node is checked (_versions.py)
    hooked = _hooks.registered[0]  # 0 until the first hook or retain_grad
    order = reverse_topological_order(*roots)
    captured = None
    if inputs is not None:
        captured = dict.fromkeys(map(id, inputs))
        needed = _leading_to(order, captured)
    for node in order:
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if captured is not None:
            key = id(node)
            if key not in needed:  # a leaf, an input with no other input behind it, or off the path to the inputs
                if key in captured:  # torch runs an input's hooks, then takes its gradient; neither its backward
                    captured[key] = _leafgrad.array(_hooks.run(node, g, owned) if hooked else g)
                continue
            if key in captured:  # an input whose backward runs on: torch takes its gradient before its hooks
                captured[key] = g = _leafgrad.array(g)
        if hooked:
            g = _hooks.run(node, g, owned)
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
    return captured


def _leading_to(order: list, targets: dict) -> set:
    """Ids of the nodes of ``order`` with one of ``targets`` (ids) among their ancestors: those whose backward must run."""
    needed = set()
    for node in reversed(order):  # parents first
        if any(id(p) in needed or id(p) in targets for p in node._parents):
            needed.add(id(node))
    return needed


def released(_g):
    """The backward of a node whose graph a backward without ``retain_graph`` has freed."""
    raise RuntimeError(
        "backward through a graph that was already released; "
        "pass retain_graph=True to the first backward() to reuse it"
    )


def reverse_topological_order(*roots) -> list:
    """The nodes behind ``roots`` that require grad, each before all of its parents (iterative DFS).

    A leaf (no backward) is placed when first seen, not stacked twice: it still
    comes after every node that uses it, and the other nodes keep their order.
    """
    order = []
    visited = set()
    stack = [(root, False) for root in reversed(roots)]
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
