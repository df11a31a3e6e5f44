"""In-place ops with torch's names and rules: ``add_``, ``mul_``, ``zero_``, ``fill_``, ``clamp_``, ``copy_``,
``scatter_``, ``scatter_add_``, ``x += y`` (and ``-=``, ``*=``, ``/=``) and ``x[index] = value``.

Without Python's ``__iadd__`` a tensor's ``w -= lr * w.grad`` under ``no_grad`` rebound ``w`` to a new
tensor that no longer required grad, and ``t += 1`` on a leaf that requires grad passed silently.
The rules, as torch's:

* a leaf that requires grad refuses them while the graph is recorded (torch's message); under
  ``no_grad`` (an optimizer step) they write into its memory, so views and the optimizer see it;
* a tensor outside any graph (neither it nor the operand requires grad, or grad mode is off) is
  written in place, keeping torch's dtype: the result is cast back (``same_kind``: an integer
  tensor refuses a float result, as torch);
* a non-leaf that requires grad (or a tensor meeting an operand that does) becomes the result's
  graph node: its former value lives on as a hidden parent, so the gradient is torch's.  Consumers
  recorded before the change hold the tensor itself, so their gradient would flow through the new
  node; that is exact for ``add_``/``sub_`` (whose derivative is 1) and refused for the others on a
  tensor already used by a recorded op (torch refuses most of these cases at backward instead).
"""

import numpy as np

from .. import _versions
from ..tensor import Tensor, add_methods, as_tensor, is_grad_enabled, make_result, no_grad
from . import elementwise as _ew
from . import indexing as _indexing
from ._broadcast import unbroadcast

_LEAF_MESSAGE = ("a leaf Variable that requires grad is being used in an in-place operation "
                 "(wrap an update of a parameter in nnlab.no_grad())")


def _operand_requires_grad(other):
    return isinstance(other, Tensor) and other.requires_grad


def _apply(t, other, op, name, derivative_one=False):
    """Make ``t`` hold ``op(t, other)`` under the rules of the module docstring; returns ``t``."""
    recording = is_grad_enabled()
    if recording and t.requires_grad and t.is_leaf:
        raise RuntimeError(_LEAF_MESSAGE)
    if recording and (t.requires_grad or _operand_requires_grad(other)):
        if t.requires_grad and not derivative_one and getattr(t, "_used", False):
            raise RuntimeError(
                f"{name}: this tensor was already used by an op whose gradient is recorded; changing it in place "
                f"would send that op's gradient through the new value; write the out-of-place form (y = y.{name[:-1]}(...))")
        old = Tensor.__new__(Tensor)  # t's former value and graph position, as a hidden parent
        old.data, old.grad, old.requires_grad = t.data, None, t.requires_grad
        old._parents, old._backward = t._parents, t._backward
        out = op(old, old if other is t else other)  # y.mul_(y): both factors are the former y
        if out.data.dtype != t.data.dtype:
            out = _ew.astype(out, t.data.dtype)
        t.data, t.requires_grad, t._parents, t._backward = out.data, out.requires_grad, out._parents, out._backward
        return t
    with no_grad():
        out = op(t, other).data
    np.copyto(t.data, out, casting="same_kind")
    _versions.written(t)  # an op recorded before now would compute its gradient from the new values
    return t


def add_(t, other, *, alpha=1):
    """t += alpha·other, in place."""
    return _apply(t, other if alpha == 1 else _ew.mul(other, alpha), _ew.add, "add_", derivative_one=True)


def sub_(t, other, *, alpha=1):
    """t −= alpha·other, in place."""
    return _apply(t, other if alpha == 1 else _ew.mul(other, alpha), _ew.sub, "sub_", derivative_one=True)


def mul_(t, other):
    """t *= other, in place."""
    return _apply(t, other, _ew.mul, "mul_")


def div_(t, other):
    """t /= other, in place."""
    return _apply(t, other, _ew.div, "div_")


def clamp_(t, min=None, max=None):
    """t = clamp(t, min, max), in place."""
    return _apply(t, None, lambda a, _: _ew.clip(a, min, max), "clamp_")


def fill_(t, value):
    """Every element set to ``value`` (a number or a one-value tensor, whose gradient is the sum)."""
    def op(a, v):
        return _ew.add(_ew.mul(a, 0.0), v)
    return _apply(t, value, op, "fill_")


def zero_(t):
    """Every element set to 0."""
    return fill_(t, 0.0)


def copy_(t, src):
    """t's values replaced by ``src`` (broadcast to t's shape); ``src``'s gradient is summed back."""
    return _apply(t, src, lambda a, s: _ew.add(_ew.mul(a, 0.0), s), "copy_")


def scatter_(t, dim, index, src):
    """t.scatter(dim, index, src) written into t (see :func:`nnlab.scatter`)."""
    return _apply(t, src, lambda a, s: _indexing.scatter(a, dim, index, s), "scatter_")


def scatter_add_(t, dim, index, src):
    """t.scatter_add(dim, index, src) written into t; like ``add_``, its derivative for t is 1."""
    return _apply(t, src, lambda a, s: _indexing.scatter_add(a, dim, index, s), "scatter_add_", derivative_one=True)


def setitem(t, index, value):
    """``t[index] = value`` (NumPy's index rules, as ``x[index]``); in a graph, the replaced places pass no
    gradient to t's former value and ``value`` receives theirs (summed over broadcast axes)."""
    index = tuple(_indexing._as_index(p) for p in index) if isinstance(index, tuple) else _indexing._as_index(index)

    def op(a, v):
        v = v if isinstance(v, Tensor) else as_tensor(v, like=a)
        out = a.data.copy()
        out[index] = v.data
        ra, rv = a.requires_grad, v.requires_grad
        picked_shape = out[index].shape

        def backward(g):
            ga = gv = None
            if ra:
                ga = g.copy()
                ga[index] = 0
            if rv:
                gv = unbroadcast(np.broadcast_to(g[index], picked_shape), v.data.shape)
            return ga, gv

        return make_result(out, (a, v), backward)

    if is_grad_enabled() and (t.requires_grad or _operand_requires_grad(value)):
        _apply(t, value, op, "__setitem__")
    else:
        t.data[index] = value.data if isinstance(value, Tensor) else value  # views of t see it, as torch
        _versions.written(t)


add_methods(add_, sub_, mul_, div_, clamp_, fill_, zero_, copy_, scatter_, scatter_add_)
Tensor.__iadd__ = add_
Tensor.__isub__ = sub_
Tensor.__imul__ = mul_
Tensor.__itruediv__ = div_
Tensor.__setitem__ = setitem
