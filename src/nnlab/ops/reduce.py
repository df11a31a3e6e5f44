"""Reductions with NumPy's ``axis`` and ``keepdims`` keywords, and the cumulative ops.

A 0-d tensor accepts ``axis=0`` and ``axis=-1`` (as in PyTorch; NumPy refuses
them) and reduces to itself.  ``argmax``/``argmin``/``any``/``all`` return
tensors without a gradient.
"""

import numpy as np

from .._checks import check_float, check_int
from ..errors import ConfigError
from ..tensor import add_methods, make_result


def dim_keywords(axis, keepdims, dim, keepdim, owner):
    """(axis, keepdims) from NumPy's names or torch's ``dim``/``keepdim``; giving both spellings is a TypeError."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{owner}: give axis= or torch's dim=, not both; got axis={axis!r}, dim={dim!r}")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{owner}: give keepdims= or torch's keepdim=, not both")
        keepdims = keepdim
    return axis, bool(keepdims)


def _axes(axis, ndim):
    """Normalized, sorted tuple of reduced axes (``()`` for a 0-d input)."""
    if axis is None:
        return tuple(range(ndim))
    parts = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim == 0:
        bad = [ax for ax in parts if ax not in (0, -1)]
        if bad:
            raise np.exceptions.AxisError(f"axis {bad[0]} is out of bounds for a 0-d tensor (allowed: 0, -1)")
        return ()
    for ax in parts:
        if not -ndim <= ax < ndim:
            raise np.exceptions.AxisError(f"axis {ax} is out of bounds for a tensor of {ndim} dimensions")
    axes = tuple(sorted(ax % ndim for ax in parts))
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis!r}")
    return axes


def _one_axis(axis, ndim) -> int | None:
    """One normalized axis for the cumulative ops (None: the flattened input; 0-d counts as 1-D)."""
    if axis is None:
        return None
    return _axes(axis, ndim)[0] if ndim else 0


def _expand(g, shape, axes, keepdims):
    """Broadcast a reduced gradient back to ``shape`` (a read-only view, no copy)."""
    if not keepdims and axes:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def _count(shape, axes) -> int:
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def _no_grad(out):
    return make_result(np.asarray(out), (), None)


def sum(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "sum")
    X = a.data
    axes = _axes(axis, X.ndim)
    out = np.asarray(X.sum(axis=axes, keepdims=keepdims))
    return make_result(out, (a,), lambda g: (_expand(g, X.shape, axes, keepdims),))


def mean(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "mean")
    X = a.data
    axes = _axes(axis, X.ndim)
    count = _count(X.shape, axes)
    out = np.asarray(X.mean(axis=axes, keepdims=keepdims))
    scale = X.dtype.type(1.0 / count) if count else X.dtype.type(np.nan)
    return make_result(out, (a,), lambda g: (_expand(g * scale, X.shape, axes, keepdims),))


def _extreme(a, axis, keepdims, reduce_fn, pick_fn):
    """max or min; the whole gradient of each reduced block goes to its first extreme element."""
    X = a.data
    axes = _axes(axis, X.ndim)
    out = np.asarray(reduce_fn(X, axis=axes, keepdims=keepdims))

    def backward(g):
        if X.size == 0:  # an empty batch: nothing to send the gradient to
            return (np.zeros(X.shape, dtype=X.dtype),)
        kept = [ax for ax in range(X.ndim) if ax not in axes]
        # Move the reduced axes last and flatten them so one argmax finds the first maximum.
        moved = np.transpose(X, kept + list(axes))
        lead = moved.shape[: len(kept)]
        flat = moved.reshape(lead + (-1,))
        first = pick_fn(flat, axis=-1)
        grad_flat = np.zeros(flat.shape, dtype=X.dtype)
        np.put_along_axis(grad_flat, first[..., None], np.reshape(g, lead + (1,)), axis=-1)
        grad_moved = grad_flat.reshape(moved.shape)
        return (np.transpose(grad_moved, np.argsort(kept + list(axes))),)

    return make_result(out, (a,), backward)


def max(a, axis=None, keepdims=False):
    """Maximum over ``axis``.

    Tie rule: the whole gradient goes to the first maximal element of each
    reduced block, in C order of the reduced axes (the one ``argmax`` picks).
    PyTorch differs: ``torch.max(x)`` and ``torch.amax`` split a tie's gradient
    evenly; ``torch.max(x, dim)`` sends it to the index it returns.

    >>> import nnlab
    >>> x = nnlab.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> x.max().backward()
    >>> x.grad.tolist()
    [0.0, 1.0, 0.0]
    """
    return _extreme(a, axis, keepdims, np.max, np.argmax)


def min(a, axis=None, keepdims=False):
    """Minimum over ``axis``; a tie's gradient goes to the first minimal element (as :func:`max`).

    >>> import nnlab
    >>> nnlab.tensor([[1.0, -2.0], [0.5, 3.0]]).min(axis=0).numpy().tolist()
    [0.5, -2.0]
    """
    return _extreme(a, axis, keepdims, np.min, np.argmin)


def prod(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Product over ``axis``; ∂/∂x_i = Π_{j≠i} x_j, computed from prefix and suffix products so zeros are exact.

    >>> import nnlab
    >>> x = nnlab.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> x.prod().backward()
    >>> x.grad.tolist()
    [0.0, 6.0, 0.0]
    """
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "prod")
    X = a.data
    axes = _axes(axis, X.ndim)
    out = np.asarray(X.prod(axis=axes, keepdims=keepdims))

    def backward(g):
        if X.size == 0:  # an empty input (its product over an empty axis is 1, with nothing to differentiate)
            return (np.zeros(X.shape, dtype=X.dtype),)
        kept = [ax for ax in range(X.ndim) if ax not in axes]
        moved = np.transpose(X, kept + list(axes))
        flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
        one = np.ones(flat.shape[:-1] + (1,), dtype=X.dtype)
        before = np.cumprod(np.concatenate([one, flat[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([one, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (before * after).reshape(moved.shape)
        others = np.transpose(others, np.argsort(kept + list(axes)))
        return (others * _expand(g, X.shape, axes, keepdims),)

    return make_result(out, (a,), backward)


def _correction(correction, ddof, owner):
    if correction is not None and ddof is not None:
        raise ConfigError(f"{owner}: give correction= or its NumPy name ddof=, not both; got {correction!r}, {ddof!r}")
    value = ddof if correction is None else correction
    return 1 if value is None else check_int("correction", value, 0, owner=owner)


def _unbiased(correction, unbiased, owner):
    """torch's older ``unbiased=True/False`` as ``correction`` 1/0."""
    if unbiased is None:
        return correction
    if correction is not None:
        raise TypeError(f"{owner}: give correction= or unbiased=, not both; got {correction!r}, {unbiased!r}")
    return int(bool(unbiased))


def _centered(a, axis, correction, ddof, owner):
    """(data, reduced axes, x − μ, 1/(n − c)) shared by var and std; the scale is NaN when n ≤ c."""
    c = _correction(correction, ddof, owner)
    X = a.data
    axes = _axes(axis, X.ndim)
    n = _count(X.shape, axes)
    dt = X.dtype.type
    scale = dt(1.0 / (n - c)) if n > c else dt(np.nan)
    return X, axes, X - X.mean(axis=axes, keepdims=True), scale


def var(a, axis=None, *, correction=None, keepdims=False, ddof=None, dim=None, keepdim=None,
        unbiased=None):
    """Variance Σ(x − μ)²/(n − c) over ``axis``, with Bessel's ``correction`` c = 1 by default (as PyTorch).

    ``ddof`` is NumPy's name for c (NumPy's default is 0).  Gradient 2(x − μ)/(n − c).

    >>> import nnlab
    >>> x = nnlab.tensor([1.0, 2.0, 3.0, 4.0])
    >>> round(x.var().item(), 4), round(x.var(correction=0).item(), 4)
    (1.6667, 1.25)
    """
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "var")
    X, axes, xc, scale = _centered(a, axis, _unbiased(correction, unbiased, "var"), ddof, "var")
    out = np.asarray(np.square(xc).sum(axis=axes, keepdims=keepdims) * scale)
    return make_result(out, (a,), lambda g: (xc * (_expand(g, X.shape, axes, keepdims) * (2 * scale)),))


def std(a, axis=None, *, correction=None, keepdims=False, ddof=None, dim=None, keepdim=None,
        unbiased=None):
    """Standard deviation √var (same keywords as :func:`var`).

    >>> import nnlab
    >>> round(nnlab.tensor([1.0, 3.0]).std().item(), 4)
    1.4142
    """
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "std")
    X, axes, xc, scale = _centered(a, axis, _unbiased(correction, unbiased, "std"), ddof, "std")
    dt = X.dtype.type
    out = np.asarray(np.sqrt(np.square(xc).sum(axis=axes, keepdims=keepdims) * scale))

    def backward(g):
        # Gradient (x − μ)/((n − c)·σ); a zero-variance slice (σ = 0, where x − μ = 0 too) gets 0,
        # PyTorch's subgradient, instead of 0/0 (as norm does for a zero vector).  NaN σ stays NaN.
        safe = np.where(out == 0, dt(1), out)
        return (xc * _expand(g * scale / safe, X.shape, axes, keepdims),)

    return make_result(out, (a,), backward)


def argmax(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the first maximum (over the flattened tensor when ``axis`` is None); no gradient.

    >>> import nnlab
    >>> nnlab.tensor([[1.0, 5.0], [7.0, 0.0]]).argmax(axis=1).numpy().tolist()
    [1, 0]
    """
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "argmax")
    return _no_grad(np.argmax(a.data, axis=_one_axis(axis, a.data.ndim), keepdims=keepdims))


def argmin(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the first minimum; no gradient."""
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "argmin")
    return _no_grad(np.argmin(a.data, axis=_one_axis(axis, a.data.ndim), keepdims=keepdims))


def any(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Whether any element along ``axis`` is true (nonzero); a boolean tensor without gradient."""
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "any")
    return _no_grad(np.any(a.data, axis=_axes(axis, a.data.ndim), keepdims=keepdims))


def all(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Whether every element along ``axis`` is true (nonzero); a boolean tensor without gradient."""
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "all")
    return _no_grad(np.all(a.data, axis=_axes(axis, a.data.ndim), keepdims=keepdims))


def _along(X, axis):
    """(array, axis) for a cumulative op: the flattened input for ``axis=None``, a 0-d input as 1-D."""
    ax = _one_axis(axis, X.ndim)
    return (X.reshape(-1), 0) if ax is None or X.ndim == 0 else (X, ax)


def cumsum(a, axis=None, *, dim=None):
    """Running sum along ``axis`` (the flattened tensor for None, as NumPy); the gradient is the reversed running sum.

    >>> import nnlab
    >>> nnlab.tensor([1.0, 2.0, 3.0]).cumsum(0).numpy().tolist()
    [1.0, 3.0, 6.0]
    """
    axis = dim_keywords(axis, False, dim, None, "cumsum")[0]
    X, ax = _along(a.data, axis)
    shape = a.data.shape
    out = np.cumsum(X, axis=ax)

    def backward(g):
        g = g.reshape(out.shape)
        return (np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax).reshape(shape),)

    return make_result(out if axis is None else out.reshape(shape), (a,), backward)


def _reverse_logcumsumexp(Y, ax):
    with np.errstate(invalid="ignore"):  # -inf + inf never occurs: logaddexp(-inf, -inf) = -inf
        return np.flip(np.logaddexp.accumulate(np.flip(Y, ax), axis=ax), ax)


def logcumsumexp(a, axis=None):
    """Running log Σ_{j ≤ i} exp(x_j) along ``axis``, stable for any values (``np.logaddexp.accumulate``).

    Backward: ∂out_i/∂x_j = exp(x_j − out_i) for j ≤ i; the positive and negative
    parts of the upstream gradient are summed in log space so nothing overflows.

    >>> import nnlab
    >>> nnlab.tensor([0.0, 1000.0]).logcumsumexp(0).numpy().tolist()
    [0.0, 1000.0]
    """
    X, ax = _along(a.data, axis)
    shape = a.data.shape
    out = np.logaddexp.accumulate(X, axis=ax)

    def backward(g):
        g = g.reshape(out.shape)
        with np.errstate(divide="ignore"):
            log_pos = np.log(np.maximum(g, 0)) - out
            log_neg = np.log(np.maximum(-g, 0)) - out
        grad = np.exp(X + _reverse_logcumsumexp(log_pos, ax)) - np.exp(X + _reverse_logcumsumexp(log_neg, ax))
        return (grad.reshape(shape),)

    return make_result(out if axis is None else out.reshape(shape), (a,), backward)


def norm(a, ord=2, axis=None, keepdims=False, *, dim=None, keepdim=None, p=None):
    """Vector p-norm (Σ|x|^p)^(1/p) over ``axis`` (all elements by default), as ``torch.linalg.vector_norm``.

    ``ord`` is a number > 0 or ``inf`` (max |x|).  Gradient sign(x)·|x|^(p−1)/‖x‖^(p−1),
    0 for a zero vector (the subgradient PyTorch uses); for ``inf``, sign(x) shared
    evenly among the elements of largest |x| (PyTorch's rule, unlike :func:`max`'s first-element rule).

    >>> import nnlab
    >>> nnlab.tensor([3.0, -4.0]).norm().item(), nnlab.tensor([3.0, -4.0]).norm(ord=1).item()
    (5.0, 7.0)
    """
    from .elementwise import absolute

    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "norm")
    if p is not None:  # torch.Tensor.norm's name for the order
        ord = p
    X = a.data
    axes = _axes(axis, X.ndim)
    magnitude = np.abs(X)
    if ord == np.inf:
        return _max_norm(a, X, axes, keepdims, magnitude)
    p = check_float("ord", ord, 0.0, low_open=True, owner="norm")
    dt = X.dtype.type
    if p == 1:
        return sum(absolute(a), axis, keepdims)
    if p == 2:
        out_keep = np.sqrt(np.square(X).sum(axis=axes, keepdims=True))
    else:
        out_keep = (magnitude ** dt(p)).sum(axis=axes, keepdims=True) ** dt(1 / p)
    out = out_keep if keepdims else np.squeeze(out_keep, axis=axes)

    def backward(g):
        gk = g if keepdims or not axes else np.expand_dims(g, axes)
        safe = np.where(out_keep > 0, out_keep, dt(1))
        if p == 2:
            ratio = X / safe
        else:
            ratio = np.sign(X) * (magnitude / safe) ** dt(p - 1)
        return (np.where(out_keep > 0, ratio * gk, dt(0)),)

    return make_result(np.asarray(out), (a,), backward)


def _max_norm(a, X, axes, keepdims, magnitude):
    """max |x| over ``axes``; its gradient sign(x)/k at each of the k elements of largest |x|."""
    out_keep = magnitude.max(axis=axes, keepdims=True)
    out = out_keep if keepdims else np.squeeze(out_keep, axis=axes)

    def backward(g):
        gk = g if keepdims or not axes else np.expand_dims(g, axes)
        at_max = magnitude == out_keep
        ties = at_max.sum(axis=axes, keepdims=True).astype(X.dtype)
        return ((np.sign(X) * at_max) / ties * gk,)

    return make_result(np.asarray(out), (a,), backward)


add_methods(sum, mean, prod, var, std, argmax, argmin, any, all, cumsum, logcumsumexp, norm)
