"""Tensor: an ndarray with a gradient, and the reverse-mode pass over the graph.

Every differentiable op builds its result with :func:`make_result`, handing it
the parents and a ``backward(g)`` closure that returns one gradient per parent
(``None`` for parents that need none).  ``Tensor.backward`` checks its
arguments and hands the walk over the graph to ``_backprop.py``.

Import rule: the one import cycle is this module and the op modules (they import
Tensor from here; this module imports them at its very bottom for Tensor's methods).
The bottom imports bind modules, never names (``from .ops import reduce as _reduce``),
so whichever side loads first works: a module may be half-loaded, a name may not yet
exist.  No other cycle is allowed (tests/test_import_graph.py).
"""

from __future__ import annotations

import numpy as np

from . import _backprop, _gradfn, _hooks, _versions
from ._gradmode import _GradMode, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401

DEFAULT_DTYPE = np.float32


class Tensor:
    """A NumPy array that can take part in automatic differentiation.

    ``data`` is the ndarray, ``grad`` the accumulated gradient (an ndarray of
    the same shape and dtype, or None).  Only leaf tensors (created by the user,
    or parameters) keep ``grad``; intermediate results pass theirs on.
    """

    # _used: a recorded op took the tensor (ops/inplace.py refuses some in-place ops then); _made, _written:
    # _versions.py's stamps (backward refuses a node whose input was written in place after it); _hooks,
    # _retains: register_hook and retain_grad (_hooks.py).  All unset until needed (read with getattr).
    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_used", "_made", "_written", "_hooks",
                 "_retains", "__weakref__")

    # Make ``ndarray (op) Tensor`` call the Tensor's reflected operator.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        arr = np.array(data, dtype=DEFAULT_DTYPE if dtype is None else dtype)  # a private copy
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {arr.dtype}")
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None

    # ------------------------------------------------------------------ basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        # np.asarray(tensor), and so fit((X, y)), ArrayDataset and np.stack, read the data array itself,
        # as with a PyTorch tensor; without it NumPy built an object array of 0-d Tensors.
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"cannot view a {self.data.dtype} tensor as {np.dtype(dtype)} without a copy")
        data = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return data.copy() if copy and data is self.data else data

    def __array_function__(self, func, types, args, kwargs):
        # np.all(t > 0), np.sum(t), np.mean(t): NumPy functions read a tensor's data, as np.asarray(tensor)
        # does, and give arrays without gradient.  Without this NumPy called the tensor's own method with
        # NumPy's out= and dtype= keywords, which nnlab's reductions do not take (a TypeError).
        if kwargs.get("out") is not None:
            raise TypeError(f"numpy.{func.__name__}(..., out=) cannot write into an nnlab Tensor: pass an ndarray, "
                            "or use the tensor's in-place methods (copy_, add_, ...)")
        return func(*_plain_arrays(args), **_plain_arrays(kwargs))

    def item(self):
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing ``data`` that is cut from the graph."""
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out.requires_grad = self.data, None, False
        out._parents, out._backward = (), None
        return out

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        # Without this, bool() fell back to __len__: tensor([0.0]) was True.  PyTorch's rule and message.
        if self.data.size != 1:
            amount = "no values" if self.data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous (shape {self.shape})")
        return bool(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.dtype != DEFAULT_DTYPE:
            extra = f", dtype={self.dtype}" + extra
        return f"tensor({body}{extra})"

    # ---------------------------------------------------------------- backward
    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False, inputs=None, *,
                 grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Without ``gradient`` the tensor must hold a single value (a loss); otherwise
        ``gradient`` (torch's name; ``grad=`` is the older nnlab one) is the upstream
        gradient, of the tensor's shape.  ``inputs`` and ``create_graph`` are
        :func:`nnlab.autograd.backward`'s.
        """
        if gradient is not None and grad is not None:
            raise TypeError("backward: give gradient= or its old name grad=, not both")
        grad = gradient if grad is None else grad
        if create_graph or inputs is not None:
            from .autograd import backward  # at call time: the autograd package imports this module

            return backward(self, grad, retain_graph, create_graph, inputs)
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no graph was recorded)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(  # torch's words first, so code matching torch's message matches
                    f"grad can be implicitly created only for scalar outputs: backward() without a gradient "
                    f"needs a single-value tensor, got shape {self.shape}; pass the upstream gradient explicitly"
                )
            grad = _backprop.one(self.data.shape, self.data.dtype)
        else:
            grad = np.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"gradient shape {grad.shape} does not match tensor shape {self.shape}")

        _backprop.run((self,), (grad,), retain_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with the gradient reaching this tensor in every backward; a value it returns
        replaces that gradient (torch's rule).  Returns a handle whose ``remove()`` takes the hook off."""
        return _hooks.register_hook(self, hook)

    def retain_grad(self) -> None:
        """Make this non-leaf keep its gradient in ``.grad`` (accumulated, as a leaf's); a leaf: nothing to do."""
        _hooks.retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        return _hooks.retains_grad(self)

    @property
    def grad_fn(self):
        """None for a leaf, else the op that made the tensor (``grad_fn.name()``, e.g. ``"MulBackward"``)."""
        return _gradfn.grad_fn(self)

    # ------------------------------------------------------------- operators
    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, exponent):
        return _ew.power(self, exponent)

    def __rpow__(self, base):
        return _ew.rpower(base, self)

    def __neg__(self):
        return _ew.neg(self)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self)

    def __getitem__(self, index):
        return _indexing.getitem(self, index)

    # Comparisons give boolean tensors outside the graph (no gradient, as torch), so ``(a == b).float().mean()``
    # and ``x[x > 0]`` read as in torch; NumPy code still takes them through ``__array__``.
    def __gt__(self, other):
        return _no_grad_op(np.greater, self, other)

    def __lt__(self, other):
        return _no_grad_op(np.less, self, other)

    def __ge__(self, other):
        return _no_grad_op(np.greater_equal, self, other)

    def __le__(self, other):
        return _no_grad_op(np.less_equal, self, other)

    def __eq__(self, other):
        return _no_grad_op(np.equal, self, other)

    def __ne__(self, other):
        return _no_grad_op(np.not_equal, self, other)

    # Masks combine as in torch: logical on bool tensors, bitwise on integer ones (NumPy refuses floats).
    def __invert__(self):
        return _no_grad_op(np.invert, self)

    def __and__(self, other):
        return _no_grad_op(np.bitwise_and, self, other)

    def __rand__(self, other):
        return _no_grad_op(np.bitwise_and, other, self)

    def __or__(self, other):
        return _no_grad_op(np.bitwise_or, self, other)

    def __ror__(self, other):
        return _no_grad_op(np.bitwise_or, other, self)

    def __xor__(self, other):
        return _no_grad_op(np.bitwise_xor, self, other)

    def __rxor__(self, other):
        return _no_grad_op(np.bitwise_xor, other, self)

    # Identity, as torch: comparisons do not give a bool, so a tensor cannot hash by value.
    __hash__ = object.__hash__

    # ---------------------------------------------------------------- methods
    def exp(self):
        return _ew.exp(self)

    def log(self):
        return _ew.log(self)

    def sqrt(self):
        return _ew.sqrt(self)

    def abs(self):
        return _ew.absolute(self)

    def clip(self, min=None, max=None):
        return _ew.clip(self, min, max)

    def reshape(self, *shape):
        return _shape.reshape(self, *shape)

    def transpose(self, *axes):
        """``x.transpose(d0, d1)`` swaps two axes (torch); ``x.transpose()`` or a full permutation as NumPy."""
        if len(axes) == 2 and all(isinstance(ax, (int, np.integer)) for ax in axes):
            return _shape.swapaxes(self, *axes)  # NumPy would read (0, 1) as the identity permutation
        return _shape.transpose(self, *axes)

    @property
    def T(self):
        return _shape.transpose(self)

    def astype(self, dtype):
        return _ew.astype(self, dtype)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _no_grad_op(ufunc, *operands) -> Tensor:
    """A comparison or logical op: NumPy's result as a tensor that records no graph node (nothing to differentiate)."""
    return make_result(np.asarray(ufunc(*(_raw(x) for x in operands))), (), None)


def make_result(data: np.ndarray, parents: tuple, backward) -> Tensor:
    """Wrap an op's output; record the graph edge only when a parent needs grad."""
    out = Tensor.__new__(Tensor)
    # NumPy ufuncs turn 0-d arrays into NumPy scalars; ``.data`` is always an ndarray.
    out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
    out.grad = None
    if _GradMode.enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                for q in parents:
                    q._used = True
                if _versions.clock[0]:  # after an in-place write: the node's time, for backward's check
                    out._made = _versions.clock[0]
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Return ``x`` as a Tensor; a constant takes the floating dtype of ``like`` (no silent upcast).

    Next to a non-floating ``like`` (an integer tensor) the constant keeps its own
    floating dtype, or becomes float32: ``2.5`` is never truncated to an integer.
    """
    if isinstance(x, Tensor):
        return x
    dtype = like.data.dtype if like is not None and like.data.dtype.kind == "f" else None
    arr = np.asarray(x, dtype=dtype)
    # A Python number is float32 next to an integer tensor too (torch's default dtype: int64 + 2.5 is float32).
    if dtype is None and (arr.dtype.kind != "f" or isinstance(x, (float, np.floating)) and arr.ndim == 0):
        arr = arr.astype(DEFAULT_DTYPE)
    out = Tensor.__new__(Tensor)
    out.data, out.grad, out.requires_grad = arr, None, False
    out._parents, out._backward = (), None
    return out


def as_floating(x) -> Tensor:
    """``x`` as a Tensor for an op that computes in floating point: integer or bool data becomes a
    float32 copy (``float_dtype``'s rule for non-floating operands, PyTorch's promotion for float ops),
    where the op would truncate its result to the integer dtype or leave it float64; float data as it is."""
    x = as_tensor(x)
    return x if x.data.dtype.kind == "f" else as_tensor(x.data.astype(DEFAULT_DTYPE))


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Create a Tensor from array-like data: float32 unless ``dtype`` asks for another.

    A float64 NumPy array becomes float32 too; pass ``dtype=np.float64`` to keep it.

    >>> import nnlab
    >>> nnlab.tensor([1, 2]).dtype
    dtype('float32')
    >>> nnlab.tensor([1.0], dtype="float64").dtype
    dtype('float64')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _plain_arrays(value):
    """``value`` (NumPy function arguments) with each Tensor, also inside lists, tuples and dicts, as its data."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, list):
        return [_plain_arrays(v) for v in value]
    if isinstance(value, tuple):  # a plain tuple: a named one (x.max(0)'s values, indices) takes no iterable
        return tuple(_plain_arrays(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain_arrays(v) for k, v in value.items()}
    return value


def add_methods(*ops) -> None:
    """Make ops Tensor methods as they are: ``x.prod(axis)`` is ``reduce.prod(x, axis)``.

    A plain function stored on the class binds the tensor as its first argument; the signature and
    docstring stay the op's own.  Each op module calls this at its end for its own ops (the bottom
    imports bind modules, never names, so methods cannot be collected here while one is half-loaded).
    """
    for op in ops:
        setattr(Tensor, op.__name__, op)


# Imported last, as modules (the import rule above): the op modules need Tensor and make_result.
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import indexing as _indexing  # noqa: E402
from .ops import torch_names as _torch_names  # noqa: E402,F401  (torch's method names)
from .ops import inplace as _inplace  # noqa: E402,F401  (add_, zero_, +=, x[i] = v, …)

