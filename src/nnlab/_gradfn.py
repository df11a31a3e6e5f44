"""``Tensor.grad_fn``: a readable handle on the op that made a non-leaf tensor.

nnlab records no node objects: a non-leaf holds its op's ``backward`` closure and its parents.
``grad_fn`` wraps the tensor when asked (nothing is built during the forward pass) and names
the op from the closure's qualified name (``mul.<locals>.backward`` gives ``MulBackward``;
torch's names add a number, ``MulBackward0``).  After a backward without ``retain_graph`` the
closure is freed and the name reads ``ReleasedBackward``.
"""

from __future__ import annotations


def op_name(backward) -> str:
    """The op a backward closure belongs to: its qualified name up to ``.<locals>`` (``"mul"``)."""
    return getattr(backward, "__qualname__", "?").split(".<locals>")[0]


class GradFn:
    """The op that made a tensor, as far as nnlab knows it: ``name()``, ``next_functions``."""

    __slots__ = ("_node",)

    def __init__(self, node):
        self._node = node

    def name(self) -> str:
        words = op_name(self._node._backward).rsplit(".", 1)[-1].strip("_").split("_")
        return "".join(w[:1].upper() + w[1:] for w in words) + "Backward"

    @property
    def next_functions(self) -> tuple:
        """One ``(fn, 0)`` pair per input of the op, as torch: the input's ``grad_fn``, an
        ``AccumulateGrad`` for a leaf that requires grad, ``None`` for an input that needs no gradient."""
        return tuple((_edge(p), 0) for p in self._node._parents)

    def __eq__(self, other):
        return type(other) is type(self) and other._node is self._node

    def __hash__(self):
        return id(self._node)

    def __repr__(self):
        return f"<{self.name()} object>"


class AccumulateGrad(GradFn):
    """Where a leaf's gradient goes (torch's ``AccumulateGrad``); ``variable`` is the leaf."""

    __slots__ = ()

    @property
    def variable(self):
        return self._node

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()


def grad_fn(t):
    """``t.grad_fn``: None for a leaf (and for a tensor that does not require grad), else its :class:`GradFn`."""
    return None if t._backward is None else GradFn(t)


def _edge(parent):
    if not parent.requires_grad:
        return None
    return AccumulateGrad(parent) if parent._backward is None else GradFn(parent)
