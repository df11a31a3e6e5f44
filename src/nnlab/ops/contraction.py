"""Contractions and diagonals with torch's names: einsum, outer, trace, diagonal, diag.

``einsum``'s backward is an einsum too: the gradient of one operand contracts the upstream gradient
with the other operands.  What that one einsum cannot say is handled around it: a subscript repeated
in an operand (a trace, ``"ii->"``; a diagonal, ``"ii->i"``) gets its gradient written on that
diagonal of a zero array, a subscript only that operand has (summed away, ``"ij->i"``) gets it
broadcast along that axis, and an axis of size 1 broadcast against a longer one (``...`` or a
letter) gets it summed back.
"""

import string

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..tensor import Tensor, add_methods, as_tensor, make_result
from . import reduce as _reduce
from .elementwise import mul
from .shape import _same_dtype, reshape
from .sorting import check_dim

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # torch's 52 subscripts, in its order


def _refuse(equation, why):
    raise ValueError(f"einsum: equation {equation!r} {why}")


def _terms(equation, shapes):
    """(one explicit subscript string per operand, the output's), with ``...`` spelled out in spare letters."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string such as 'ij,jk->ik', got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    bad = sorted(set(eq) - set(_LETTERS) - set(".,->"))
    if bad:
        _refuse(equation, f"holds {bad[0]!r}; allowed: the letters a-z and A-Z, '...', ',' and '->'")
    if eq.count("->") > 1 or eq.replace("->", "").count("-") or eq.replace("->", "").count(">"):
        _refuse(equation, "needs at most one '->' (inputs -> output)")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        _refuse(equation, f"has {len(terms)} operand subscripts but {len(shapes)} operands were given")
    for term in terms + [rhs]:
        if "." in term.replace("...", "", 1):
            _refuse(equation, "uses '.' outside one '...' per term")
    spare = [c for c in _LETTERS if c not in eq]
    widths = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        letters = len(term.replace("...", ""))
        if ("..." in term and letters > len(shape)) or ("..." not in term and letters != len(shape)):
            _refuse(equation, f"gives operand {i} the subscripts {term!r} but it has {len(shape)} dimensions "
                              f"(shape {tuple(shape)})")
        widths.append(len(shape) - letters if "..." in term else 0)
    ellipsis = "".join(spare[: max(widths, default=0)])  # right-aligned: shorter ellipses broadcast
    terms = [t.replace("...", ellipsis[len(ellipsis) - w:]) for t, w in zip(terms, widths)]
    if not arrow:  # torch's implicit output: the ellipsis, then the letters used once, in alphabetical order
        counts = "".join(terms)
        rhs = ellipsis + "".join(sorted((c for c in set(lhs) if c.isalpha() and counts.count(c) == 1),
                                        key=_LETTERS.index))
    elif "..." in rhs:
        rhs = rhs.replace("...", ellipsis)
    for c in rhs:
        if rhs.count(c) > 1:
            _refuse(equation, f"repeats {c!r} in the output; each output subscript appears once")
        if c not in "".join(terms):
            _refuse(equation, f"has the output subscript {c!r}, which no operand has")
    return terms, rhs


def _sizes(equation, terms, shapes):
    """Each subscript's length; an axis of length 1 broadcasts against a longer one (as torch and NumPy)."""
    size = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        for c, n in zip(term, shape):
            if term.count(c) > 1 and n != shape[term.index(c)]:
                _refuse(equation, f"repeats a subscript in operand {i} over axes of lengths "
                                  f"{shape[term.index(c)]} and {n}; a diagonal needs equal lengths")
            if size.get(c, 1) not in (1, n) and n != 1:
                _refuse(equation, f"contracts axes of lengths {size[c]} and {n} (operand {i}, shape {tuple(shape)}); "
                                  "their lengths must agree or be 1")
            size[c] = n if size.get(c, 1) == 1 else size[c]
    return size


def einsum(equation, *operands):
    """``torch.einsum``: the sum of products the subscripts name, e.g. ``"ij,jk->ik"`` (matmul), ``"bii->b"``
    (batched traces), ``"...ij->...ji"``; the operands may also come as one list, as torch allows.

    >>> import nnlab
    >>> a = nnlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nnlab.einsum("ij,j->i", a, nnlab.tensor([1.0, 1.0])).tolist(), nnlab.einsum("ii", a).item()
    ([3.0, 7.0], 5.0)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    tensors = _same_dtype(operands)
    arrays = [t.data for t in tensors]
    terms, out_term = _terms(equation, [x.shape for x in arrays])
    size = _sizes(equation, terms, [x.shape for x in arrays])
    wide = [np.broadcast_to(x, tuple(size[c] for c in t)) for x, t in zip(arrays, terms)]
    fast = len(wide) > 1  # NumPy's contraction order (and BLAS) for products; a single operand needs none
    out = np.einsum(",".join(terms) + "->" + out_term, *wide, optimize=fast)

    def grad_of(i, g):
        term, shape = terms[i], arrays[i].shape
        unique = "".join(dict.fromkeys(term))
        elsewhere = out_term + "".join(t for j, t in enumerate(terms) if j != i)
        kept = "".join(c for c in unique if c in elsewhere)
        others = [w for j, w in enumerate(wide) if j != i]
        G = np.einsum(",".join([out_term] + [t for j, t in enumerate(terms) if j != i]) + "->" + kept, g, *others,
                      optimize=fast)
        # Subscripts only this operand has were summed: each of their positions gets the same gradient.
        G = np.broadcast_to(G.reshape(tuple(size[c] if c in kept else 1 for c in unique)),
                            tuple(size[c] for c in unique))
        if len(unique) < len(term):  # a repeated subscript: the gradient lives on that diagonal only
            full = np.zeros(tuple(size[c] for c in term), dtype=G.dtype)
            strides = tuple(sum(full.strides[k] for k, c in enumerate(term) if c == u) for u in unique)
            as_strided(full, G.shape, strides, writeable=True)[...] = G
            G = full
        stretched = tuple(k for k, n in enumerate(shape) if n == 1 and G.shape[k] != 1)
        return G.sum(axis=stretched, keepdims=True) if stretched else G

    def backward(g):
        return tuple(grad_of(i, g) if t.requires_grad else None for i, t in enumerate(tensors))

    return make_result(np.asarray(out), tuple(tensors), backward)


def outer(input, vec2):
    """``torch.outer``: out[i, j] = input[i]·vec2[j] for two 1-D tensors.

    >>> import nnlab
    >>> nnlab.outer(nnlab.tensor([1.0, 2.0]), nnlab.tensor([3.0, 4.0])).tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """
    a, b = as_tensor(input), as_tensor(vec2, like=input if isinstance(input, Tensor) else None)
    if a.data.ndim != 1 or b.data.ndim != 1:
        raise ValueError(f"outer: input and vec2 must be 1-D, got shapes {a.data.shape} and {b.data.shape}")
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def _diagonal_places(length, offset):
    """(rows, columns) of the ``offset``-th diagonal's ``length`` elements."""
    steps = np.arange(length)
    return steps + max(-offset, 0), steps + max(offset, 0)


def _offset(offset, owner, name):
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an integer (0 the main diagonal, > 0 above, < 0 below), "
                        f"got {offset!r}")
    return int(offset)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """``torch.diagonal``: the ``offset``-th diagonal of the planes (``dim1``, ``dim2``), as the last axis.

    As NumPy's (and unlike torch's) the result is a read-only view: write to the input instead.

    >>> import nnlab
    >>> nnlab.tensor([[1.0, 2.0], [3.0, 4.0]]).diagonal(offset=1).tolist()
    [2.0]
    """
    a = as_tensor(input)
    X = a.data
    offset = _offset(offset, "diagonal", "offset")
    if X.ndim < 2:
        raise ValueError(f"diagonal: input needs at least 2 dimensions, got shape {X.shape}")
    d1, d2 = check_dim(dim1, X.ndim, "diagonal"), check_dim(dim2, X.ndim, "diagonal")
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 name one axis ({dim1}, {dim2}); they must differ")
    out = np.diagonal(X, offset, d1, d2)
    shape, dtype = X.shape, X.dtype

    def backward(g):
        grad = np.zeros(shape, dtype=dtype)
        rows, cols = _diagonal_places(g.shape[-1], offset)
        np.moveaxis(grad, (d1, d2), (-2, -1))[..., rows, cols] = g  # a view: this writes into grad
        return (grad,)

    return make_result(out, (a,), backward)


_diagonal_of = diagonal  # for diag, whose argument named ``diagonal`` (torch's name) hides the function


def trace(input):
    """``torch.trace``: the sum of the main diagonal of a 2-D tensor.

    >>> import nnlab
    >>> nnlab.tensor([[1.0, 2.0], [3.0, 4.0]]).trace().item()
    5.0
    """
    a = as_tensor(input)
    if a.data.ndim != 2:
        raise ValueError(f"trace: input must be 2-D (a matrix), got shape {a.data.shape}")
    return _reduce.sum(diagonal(a))


def diag(input, diagonal=0):
    """``torch.diag``: a 1-D input as the ``diagonal``-th diagonal of a square matrix of zeros; a 2-D
    input's ``diagonal``-th diagonal as a 1-D tensor.

    >>> import nnlab
    >>> nnlab.diag(nnlab.tensor([1.0, 2.0])).tolist(), nnlab.diag(nnlab.tensor([[1.0, 2.0], [3.0, 4.0]]), 1).tolist()
    ([[1.0, 0.0], [0.0, 2.0]], [2.0])
    """
    a = as_tensor(input)
    X = a.data
    offset = _offset(diagonal, "diag", "diagonal")
    if X.ndim == 2:
        return _diagonal_of(a, offset)
    if X.ndim != 1:
        raise ValueError(f"diag: input must be 1-D (to make a matrix) or 2-D (to read a diagonal), got shape {X.shape}")
    rows, cols = _diagonal_places(X.shape[0], offset)
    side = X.shape[0] + abs(offset)
    out = np.zeros((side, side), dtype=X.dtype)
    out[rows, cols] = X
    return make_result(out, (a,), lambda g: (g[rows, cols],))


add_methods(outer, trace, diagonal, diag)
