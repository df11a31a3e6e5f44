"""Tensors made from a shape: zeros, ones, full, eye, arange, linspace, the ``_like`` forms, random draws.

PyTorch's names and keywords; float32 unless ``dtype`` asks for another (also
``arange``, where PyTorch gives int64 for integer arguments).  Shapes are given
as ``zeros(2, 3)`` or ``zeros((2, 3))``.  ``randn``/``rand`` draw from nnlab's
generator (:func:`nnlab.seed`) or the ``rng`` passed.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int
from .random import get_rng
from .tensor import DEFAULT_DTYPE, Tensor

__all__ = ["zeros", "ones", "full", "eye", "arange", "linspace", "zeros_like", "ones_like", "randn", "rand",
           "empty", "full_like", "randn_like", "rand_like", "randint", "from_numpy"]


def _shape(size) -> tuple:
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    return tuple(check_int("size", n, 0, owner="shape") for n in shape)


def _tensor(array, dtype, requires_grad) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, dtype=DEFAULT_DTYPE if dtype is None else dtype)


def zeros(*size, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of zeros.

    >>> import nnlab
    >>> nnlab.zeros(2, 3).shape, nnlab.zeros((2,)).dtype
    ((2, 3), dtype('float32'))
    """
    return _tensor(np.zeros(_shape(size)), dtype, requires_grad)


def ones(*size, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ones."""
    return _tensor(np.ones(_shape(size)), dtype, requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``.

    >>> import nnlab
    >>> nnlab.full((2,), 7.5).numpy().tolist()
    [7.5, 7.5]
    """
    return _tensor(np.full(_shape((size,)), fill_value), dtype, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    """The n×m identity (m = n by default)."""
    return _tensor(np.eye(check_int("n", n, 0, owner="eye"), None if m is None else check_int("m", m, 0, owner="eye")),
                   dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Values start, start + step, … below ``end`` (``arange(n)`` is 0 … n − 1), as ``torch.arange``.

    >>> import nnlab
    >>> nnlab.arange(3).numpy().tolist(), nnlab.arange(1, 2, 0.25).numpy().tolist()
    ([0.0, 1.0, 2.0], [1.0, 1.25, 1.5, 1.75])
    """
    if end is None:
        start, end = 0, start
    return _tensor(np.arange(start, end, step, dtype=np.float64), dtype, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _tensor(np.linspace(start, end, check_int("steps", steps, 0, owner="linspace")), dtype, requires_grad)


def zeros_like(x, dtype=None, requires_grad=False) -> Tensor:
    """Zeros of ``x``'s shape and dtype (or ``dtype``)."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.zeros(data.shape), requires_grad=requires_grad, dtype=dtype or data.dtype)


def ones_like(x, dtype=None, requires_grad=False) -> Tensor:
    """Ones of ``x``'s shape and dtype (or ``dtype``)."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.ones(data.shape), requires_grad=requires_grad, dtype=dtype or data.dtype)


def _generator(rng, generator, owner):
    """``rng`` or torch's keyword ``generator`` (here a NumPy Generator or an int seed)."""
    if generator is not None and rng is not None:
        raise TypeError(f"{owner}: give rng= or torch's generator=, not both")
    return get_rng(rng if generator is None else generator)


def randn(*size, dtype=None, requires_grad=False, rng=None, generator=None) -> Tensor:
    """Standard normal draws from nnlab's generator (or ``rng``: a Generator or an int seed).

    >>> import nnlab
    >>> bool((nnlab.randn(3, rng=0).numpy() == nnlab.randn(3, rng=0).numpy()).all())
    True
    """
    dt = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
    return Tensor(_generator(rng, generator, "randn").standard_normal(_shape(size), dtype=dt),
                  requires_grad=requires_grad, dtype=dt)


def rand(*size, dtype=None, requires_grad=False, rng=None, generator=None) -> Tensor:
    """Uniform draws from [0, 1), from nnlab's generator (or ``rng``)."""
    dt = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
    return Tensor(_generator(rng, generator, "rand").random(_shape(size), dtype=dt), requires_grad=requires_grad, dtype=dt)


def empty(*size, dtype=None, requires_grad=False) -> Tensor:
    """``torch.empty``: here zeros (NumPy's uninitialized memory would make runs irreproducible)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def _like(x, dtype):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return data.shape, dtype or data.dtype


def full_like(x, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """``fill_value`` in ``x``'s shape and dtype (or ``dtype``)."""
    shape, dt = _like(x, dtype)
    return Tensor(np.full(shape, fill_value), requires_grad=requires_grad, dtype=dt)


def randn_like(x, dtype=None, requires_grad=False, rng=None, generator=None) -> Tensor:
    """Standard normal draws in ``x``'s shape and dtype."""
    shape, dt = _like(x, dtype)
    return randn(shape, dtype=dt, requires_grad=requires_grad, rng=rng, generator=generator)


def rand_like(x, dtype=None, requires_grad=False, rng=None, generator=None) -> Tensor:
    """Uniform [0, 1) draws in ``x``'s shape and dtype."""
    shape, dt = _like(x, dtype)
    return rand(shape, dtype=dt, requires_grad=requires_grad, rng=rng, generator=generator)


def randint(low, high=None, size=(), dtype=np.int64, rng=None, generator=None) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint(high, size)`` from [0, high)), int64 as torch."""
    if high is None:
        low, high = 0, low
    return Tensor(_generator(rng, generator, "randint").integers(low, high, _shape((size,))), dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and keeping its dtype, as ``torch.from_numpy`` (``tensor`` copies)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    out = Tensor.__new__(Tensor)
    out.data, out.grad, out.requires_grad, out._parents, out._backward = array, None, False, (), None
    return out
