"""PyTorch's spellings of Tensor methods, for code written against ``torch.Tensor``.

Each is the nnlab op under torch's name and keywords (``x.size(1)``, ``x.view(-1)``,
``x.max(dim=1)`` → (values, indices), ``x.float()``, ``x.masked_fill(mask, v)``, …);
the gradients are those of the ops they call.  The activations come from
``nnlab.functional``, imported when called (that module imports this package).
"""

import builtins  # this module defines float, int, bool, max, min: torch's method names
from collections import namedtuple

import numpy as np

from ..errors import ConfigError
from ..tensor import Tensor, add_methods, make_result
from . import elementwise as _ew
from . import linalg as _linalg
from . import reduce as _reduce
from . import shape as _shape

# torch.return_types.max / min: a tuple that also names its parts.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


class _Size(builtins.int):
    """``x.size`` is the element count (NumPy's attribute, which nnlab code reads) and ``x.size()`` the shape,
    ``x.size(d)`` one axis's length (torch's method): an int that can be called."""


    def __new__(cls, shape):
        out = super().__new__(cls, builtins.int(np.prod(shape, dtype=np.int64)))
        out._shape = tuple(shape)
        return out

    def __call__(self, dim=None):
        if dim is None:
            return self._shape
        return self._shape[_shape._axis(dim, len(self._shape), "size")]


Tensor.size = property(lambda self: _Size(self.data.shape), doc=_Size.__doc__)
Tensor.mT = property(lambda self: _shape.swapaxes(self, -2, -1), doc="The last two axes swapped (torch's ``mT``).")


def _extreme(a, dim, keepdim, axis, keepdims, values_op, index_op, result):
    """torch's max/min: over everything, (values, indices) along ``dim``, or elementwise against a tensor."""
    if isinstance(dim, Tensor):  # torch.max(a, b)
        return (_ew.maximum if result is MaxResult else _ew.minimum)(a, dim)
    if dim is None:
        return values_op(a, axis, builtins.bool(keepdims))  # no dim (NumPy's axis= included): the values only
    if axis is not None:
        raise TypeError(f"{result.__name__}: give axis= (values only) or torch's dim= (values and indices), not both")
    return result(values_op(a, dim, keepdim), index_op(a, dim, keepdim))


def max(a, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """``x.max()`` the largest value; ``x.max(dim)`` the namedtuple (values, indices) as torch; ``x.max(axis=d)``
    the values along ``d`` (NumPy's keyword); ``nnlab.max(a, b)`` is :func:`nnlab.maximum`.  A tie's gradient goes
    to the returned index (the first maximum).

    >>> import nnlab
    >>> v, i = nnlab.tensor([[1.0, 5.0], [7.0, 0.0]]).max(dim=1)
    >>> v.tolist(), i.tolist()
    ([5.0, 7.0], [1, 0])
    """
    return _extreme(a, dim, keepdim, axis, keepdims, _reduce.max, _reduce.argmax, MaxResult)


def min(a, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """The smallest value, or (values, indices) along ``dim``: see :func:`max`."""
    return _extreme(a, dim, keepdim, axis, keepdims, _reduce.min, _reduce.argmin, MinResult)


def amax(a, dim=None, keepdim=False):
    """The values of :func:`max` along ``dim`` (all axes by default); a tie's gradient goes to the first maximum."""
    return _reduce.max(a, dim, keepdim)


def amin(a, dim=None, keepdim=False):
    """The values of :func:`min` along ``dim`` (all axes by default)."""
    return _reduce.min(a, dim, keepdim)


def dim(a):
    """The number of axes (``ndim``)."""
    return a.data.ndim


def numel(a):
    """The number of elements."""
    return builtins.int(a.data.size)


def tolist(a):
    """The values as nested Python lists (a number for a 0-d tensor)."""
    return a.data.tolist()


def view(a, *shape):
    """``reshape`` under torch's name (a copy where NumPy cannot make a view; torch would refuse those)."""
    return _shape.reshape(a, *shape)


def view_as(a, other):
    """``a`` reshaped to ``other``'s shape."""
    return _shape.reshape(a, other.shape)


def reshape_as(a, other):
    """``a`` reshaped to ``other``'s shape."""
    return _shape.reshape(a, other.shape)


def expand_as(a, other):
    """``a`` broadcast to ``other``'s shape."""
    return _shape.expand(a, other.shape)


def clone(a):
    """A copy with its own memory that stays in the graph (the gradient passes through unchanged)."""
    return make_result(a.data.copy(), (a,), lambda g: (g,))


def contiguous(a):
    """``a`` itself when its memory is C-ordered, otherwise a C-ordered copy (as :func:`clone`)."""
    if a.data.flags.c_contiguous:
        return a
    return make_result(np.ascontiguousarray(a.data), (a,), lambda g: (g,))


def _to_dtype(a, dtype):
    return a if a.data.dtype == np.dtype(dtype) else _ew.astype(a, dtype)


def float(a):
    """float32 (differentiable, as every conversion between floating dtypes)."""
    return _to_dtype(a, np.float32)


def double(a):
    """float64."""
    return _to_dtype(a, np.float64)


def half(a):
    """float16."""
    return _to_dtype(a, np.float16)


def long(a):
    """int64, rounding toward zero as torch; no gradient."""
    return make_result(a.data.astype(np.int64), (), None)


def int(a):
    """int32, rounding toward zero as torch; no gradient."""
    return make_result(a.data.astype(np.int32), (), None)


def bool(a):
    """True where the value is nonzero; no gradient."""
    return make_result(a.data.astype(np.bool_), (), None)


def to(a, *args, dtype=None, device=None, copy=False, non_blocking=False):
    """``x.to(dtype)``, ``x.to("cpu")``, ``x.to(other)`` (other's dtype), as torch; nnlab runs on the CPU only."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
            device = arg
        else:
            dtype = arg
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ConfigError(f"to: nnlab runs on the CPU only; got device={device!r} (allowed: 'cpu')")
    out = a if dtype is None else _to_dtype(a, dtype)
    return clone(out) if copy and out is a else out


def cpu(a):
    """``a`` itself: nnlab tensors live in the CPU's memory."""
    return a


def requires_grad_(a, requires_grad=True):
    """Set ``requires_grad`` in place and return the tensor, as torch (only a leaf's flag may change)."""
    if not a.is_leaf and not requires_grad:
        raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() to cut it from the graph")
    if requires_grad and a.data.dtype.kind != "f":
        raise TypeError(f"only floating-point tensors can require grad, got dtype {a.data.dtype}")
    a.requires_grad = builtins.bool(requires_grad)
    return a


def masked_fill(a, mask, value):
    """``value`` where ``mask`` holds, ``a`` elsewhere (``mask`` broadcasts); the gradient passes where it does not."""
    return _ew.where(mask, value, a)


def clamp(a, min=None, max=None):
    """``clip`` under torch's name."""
    return _ew.clip(a, min, max)


def pow(a, exponent):
    return _ew.power(a, exponent)


def add(a, other, *, alpha=1):
    """a + alpha·other."""
    return _ew.add(a, other if alpha == 1 else _ew.mul(other, alpha))


def sub(a, other, *, alpha=1):
    """a − alpha·other."""
    return _ew.sub(a, other if alpha == 1 else _ew.mul(other, alpha))


def mul(a, other):
    return _ew.mul(a, other)


def div(a, other):
    return _ew.div(a, other)


def neg(a):
    return _ew.neg(a)


def square(a):
    return _ew.mul(a, a)


def reciprocal(a):
    return _ew.div(1.0, a)


def matmul(a, other):
    return _linalg.matmul(a, other)


def mm(a, other):
    """The product of two matrices (2-D only, as torch)."""
    if a.ndim != 2 or other.ndim != 2:
        raise ValueError(f"mm needs two 2-D tensors, got shapes {a.shape} and {other.shape} (matmul broadcasts)")
    return _linalg.matmul(a, other)


def bmm(a, other):
    """Batched matrix product of two 3-D tensors (as torch)."""
    if a.ndim != 3 or other.ndim != 3:
        raise ValueError(f"bmm needs two 3-D tensors, got shapes {a.shape} and {other.shape} (matmul broadcasts)")
    return _linalg.matmul(a, other)


def dot(a, other):
    """The inner product of two 1-D tensors."""
    if a.ndim != 1 or other.ndim != 1:
        raise ValueError(f"dot needs two 1-D tensors, got shapes {a.shape} and {other.shape}")
    return _linalg.matmul(a, other)


def sigmoid(a):
    from .. import functional
    return functional.sigmoid(a)


def tanh(a):
    from .. import functional
    return functional.tanh(a)


def relu(a):
    from .. import functional
    return functional.relu(a)


def softmax(a, dim=-1):
    from .. import functional
    return functional.softmax(a, dim)


def log_softmax(a, dim=-1):
    from .. import functional
    return functional.log_softmax(a, dim)


def logsumexp(a, dim=None, keepdim=False):
    from .. import functional
    return functional.logsumexp(a, dim, keepdim)


def floor_divide(a, other):
    """⌊a / other⌋ (``//``); no gradient, as its derivative is 0 wherever it exists."""
    a, other = _ew._pair(a, other)
    return make_result(np.floor_divide(a.data, other.data), (), None)


def remainder(a, other):
    """a − other·⌊a / other⌋ (``%``, the sign of ``other`` as torch and Python); gradient 1 for ``a``,
    −⌊a / other⌋ for ``other``, as torch."""
    return _ew.sub(a, _ew.mul(other, floor_divide(a, other)))


# torch.eq(a, b) and x.eq(b) are the operators (either side may be a number or an array): bool tensors, no gradient.
def eq(a, other):
    return Tensor.__eq__(a, other)


def ne(a, other):
    return Tensor.__ne__(a, other)


def gt(a, other):
    return Tensor.__gt__(a, other)


def lt(a, other):
    return Tensor.__lt__(a, other)


def ge(a, other):
    return Tensor.__ge__(a, other)


def le(a, other):
    return Tensor.__le__(a, other)


def is_tensor(x):
    """Whether ``x`` is an nnlab Tensor."""
    return isinstance(x, Tensor)


def _arrays(a, b):
    return (a.data if isinstance(a, Tensor) else np.asarray(a)), (b.data if isinstance(b, Tensor) else np.asarray(b))


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """|a − b| ≤ atol + rtol·|b| elementwise (torch's defaults), a boolean tensor without gradient."""
    return make_result(np.isclose(*_arrays(a, b), rtol=rtol, atol=atol, equal_nan=equal_nan), (), None)


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every element :func:`isclose` (a Python bool)."""
    return builtins.bool(np.allclose(*_arrays(a, b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    """Whether both have one shape and equal values (a Python bool)."""
    return builtins.bool(np.array_equal(*_arrays(a, b)))


add_methods(max, min, amax, amin, dim, numel, tolist, view, view_as, reshape_as, expand_as, clone, contiguous,
            float, double, half, long, int, bool, to, cpu, requires_grad_, masked_fill, clamp, pow, add, sub, mul,
            div, neg, square, eq, ne, gt, lt, ge, le, isclose, allclose, equal, reciprocal, matmul, sigmoid, tanh, relu, softmax, log_softmax, logsumexp)
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)
Tensor.__mod__ = remainder
Tensor.__rmod__ = lambda self, other: remainder(other, self)
Tensor.__abs__ = _ew.absolute
Tensor.__float__ = lambda self: builtins.float(self.item())
Tensor.__int__ = lambda self: builtins.int(self.item())
