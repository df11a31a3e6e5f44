"""Stamps that make ``backward`` refuse a gradient from values an in-place op overwrote (PyTorch's version check).

An op's backward reads its inputs' arrays as they were when it ran; an in-place op
that writes into one of those arrays afterwards (``x.mul_(2)`` on a tensor outside
the graph, ``w -= ...`` under ``no_grad``) would make that gradient silently wrong.
Each such write ticks a clock and stamps the tensor; each node recorded once the
clock has moved carries the time it was made; backward refuses a node one of
whose parents was written after it.  Until the first in-place write the clock is
0 and neither stamping nor checking runs, so training that never writes in place
pays nothing.  Like PyTorch's, the check follows the tensor written, not other
tensors that view its memory; unlike PyTorch's, it refuses any op that took the
tensor, not only the ops that saved it for their gradient.
"""

from __future__ import annotations

from ._gradfn import op_name

clock = [0]  # in-place writes so far (a list: the modules that read it keep a reference)

_MESSAGE = ("one of the tensors needed for gradient computation has been modified by an in-place operation "
            "after the op that used it ({shape} tensor, written after op {op!r}); compute the gradient before "
            "writing in place, or write the out-of-place form")


def written(t) -> None:
    """Record that ``t``'s memory was overwritten in place."""
    clock[0] += 1
    t._written = clock[0]


def check(node) -> None:
    """Raise PyTorch's error when a parent of ``node`` was written in place after ``node`` was recorded."""
    made = getattr(node, "_made", 0)
    for parent in node._parents:
        if getattr(parent, "_written", 0) > made:
            raise RuntimeError(_MESSAGE.format(shape=tuple(parent.data.shape), op=op_name(node._backward)))
