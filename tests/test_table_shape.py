"""The op table, shape and indexing family: views and copies of the axes, joins and pieces, padding,
basic and advanced indexing, gather / scatter_add / take_along_axis.

Rows in the format of tests/optable.py (its docstring says how to add one).
"""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnlab
from optable import MAX_SIDE, UNARY, Mode, Op, fixed, shape, table_tests

_R = (2, 3, 4)


@st.composite
def _reshape(draw):
    s = draw(shape())
    size = int(np.prod(s))
    targets = [s[::-1], (size,), (-1,), s + (1,), (1,) + s]
    if len(s) >= 2:
        targets.append((s[0], -1))
    if size == 1:
        targets.append(())
    return [s], {"shape": draw(st.sampled_from(targets))}


@st.composite
def _transpose(draw):
    s = draw(shape())
    perm = draw(st.permutations(range(len(s))))
    axes = tuple(ax - len(s) if draw(st.booleans()) else ax for ax in perm)  # negative axes too, as NumPy
    return [s], {"axes": axes}


@st.composite
def _index(draw):
    s = draw(shape(min_dims=1))
    kind = draw(st.sampled_from(["basic", "int_array", "int_list", "two_arrays", "mask"]))
    if kind == "basic":  # ints, slices (negative steps too), None, Ellipsis
        index = draw(hnp.basic_indices(s, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    elif kind in ("int_array", "int_list"):  # along one axis, repeats likely
        axis = draw(st.integers(0, len(s) - 1))
        picks = draw(st.lists(st.integers(-s[axis], s[axis] - 1), min_size=1, max_size=5))
        picked = picks if kind == "int_list" else np.array(picks)
        index = (slice(None),) * axis + (picked,) if axis else picked
    elif kind == "two_arrays":  # advanced indices on two axes, broadcast together
        rows = np.array(draw(st.lists(st.integers(0, s[0] - 1), min_size=1, max_size=4)))
        cols = np.array(draw(st.integers(-1, s[-1] - 1)))
        index = (rows, Ellipsis, cols) if len(s) > 1 else rows
    else:
        index = np.array(draw(st.lists(st.booleans(), min_size=s[0], max_size=s[0])))
    return [s], {"index": index}


@st.composite
def _join(draw, new_axis=False):
    n = draw(st.integers(1, 3))
    base = draw(shape(min_dims=0 if new_axis else 1))
    ndim = len(base) + (1 if new_axis else 0)
    axis = draw(st.integers(-ndim, ndim - 1))
    if new_axis:
        return [base] * n, {"axis": axis}
    ax = axis % ndim
    return [base[:ax] + (draw(st.integers(1, MAX_SIDE)),) + base[ax + 1 :] for _ in range(n)], {"axis": axis}


@st.composite
def _squeeze(draw):
    s = draw(shape(max_side=2))  # many size-1 axes
    axis = st.none() if not s else st.one_of(st.none(), st.integers(-len(s), len(s) - 1),
                                               st.lists(st.integers(0, len(s) - 1), min_size=1, unique=True).map(tuple))
    return [s], {"axis": draw(axis)}


@st.composite
def _one_axis(draw, extra=0, min_dims=1):
    """An axis of a drawn shape; ``extra=1`` allows one past the end (unsqueeze)."""
    s = draw(shape(min_dims=min_dims))
    n = len(s) + extra
    return [s], {"axis": draw(st.integers(-n, n - 1))}


@st.composite
def _flatten(draw):
    s = draw(shape(min_dims=1))
    start = draw(st.integers(0, len(s) - 1))
    end = draw(st.integers(start, len(s) - 1))
    return [s], {"start_axis": start - len(s) if draw(st.booleans()) else start,
                 "end_axis": end - len(s) if draw(st.booleans()) else end}


@st.composite
def _expand(draw):
    s = draw(shape(max_side=2))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0 if s else 1, max_size=2)))  # torch: expand() needs a size
    sizes = tuple(draw(st.sampled_from([n, 3, -1])) if n == 1 else draw(st.sampled_from([n, -1])) for n in s)
    return [s], {"sizes": lead + sizes}


@st.composite
def _reps(draw, at_least_ndim=False):
    s = draw(shape())
    low = max(len(s), 1) if at_least_ndim else 1
    return [s], {"reps": tuple(draw(st.lists(st.integers(1, 3), min_size=low, max_size=low + 1)))}


@st.composite
def _axes_or_none(draw):
    s = draw(shape(min_dims=1))
    return [s], {"axis": draw(st.one_of(st.none(), st.integers(-len(s), len(s) - 1),
                                        st.lists(st.integers(0, len(s) - 1), min_size=1, unique=True).map(tuple)))}


@st.composite
def _roll(draw):
    s = draw(shape(min_dims=1))
    kind = draw(st.sampled_from(["flat", "one", "several"]))
    if kind == "flat":
        return [s], {"shifts": draw(st.integers(-4, 4)), "axis": None}
    if kind == "one":
        return [s], {"shifts": draw(st.integers(-4, 4)), "axis": draw(st.integers(-len(s), len(s) - 1))}
    axes = tuple(draw(st.lists(st.integers(0, len(s) - 1), min_size=1, unique=True)))
    return [s], {"shifts": tuple(draw(st.integers(-3, 3)) for _ in axes), "axis": axes}


@st.composite
def _triangle(draw):
    return [draw(shape(min_dims=2))], {"diagonal": draw(st.integers(-2, 2))}


@st.composite
def _pieces(draw):
    s = draw(shape(min_dims=1, max_side=5))
    axis = draw(st.integers(-len(s), len(s) - 1))
    return [s], {"axis": axis, "size": draw(st.integers(1, 3))}


@st.composite
def _gather(draw):
    s = draw(shape(min_dims=1))
    axis = draw(st.integers(-len(s), len(s) - 1))
    ishape = tuple(draw(st.integers(1, 4)) if d == axis % len(s) else draw(st.integers(1, n)) for d, n in enumerate(s))
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, s[axis] - 1)))
    return [s], {"axis": axis, "index": index}


RESHAPE = Mode([([(2, 3)], {"shape": s}) for s in [(3, 2), (6,), (-1,), (2, 1, 3), (1, -1)]]
               + [([()], {"shape": (1, 1)}), ([(1, 1)], {"shape": ()})], _reshape)
TRANSPOSE = Mode([([_R], {"axes": a}) for a in [(2, 0, 1), (-1, 0, 1), (1, 0, 2), (0, 1, 2)]] + [([()], {"axes": ()})],
                 _transpose)


def _pieces_joined(pieces, cat):
    """The pieces, each scaled by its position and joined back: a gradient sent to the wrong piece shows."""
    return cat([p * float(i + 1) for i, p in enumerate(pieces)])


def _ix(a):
    return np.array(a, dtype=np.int64)


OPS = [
    Op("reshape(*shape)", lambda x, shape: x.reshape(*shape), lambda T, x, shape: x.reshape(shape), RESHAPE),
    Op("reshape(shape)", lambda x, shape: x.reshape(shape), lambda T, x, shape: x.reshape(shape), RESHAPE),
    # two axes are torch's swap (x.transpose(0, 1) on a matrix is its transpose), more are a permutation
    Op("transpose", lambda x, axes: x.transpose(*axes),
       lambda T, x, axes: x.transpose(*axes) if len(axes) == 2 else x.permute(axes), TRANSPOSE),
    Op("transpose(axes)", lambda x, axes: x.transpose(axes), lambda T, x, axes: x.permute(axes), TRANSPOSE),
    Op(".T", lambda x: x.T, lambda T, x: x.permute(tuple(reversed(range(x.ndim))))),
    Op("getitem", lambda x, index: x[index], lambda T, x, index: _torch_index(T, x, index),
       Mode([([(4, 3)], {"index": i}) for i in [
           (slice(1, None), 0), (Ellipsis, None, slice(None, None, -1)), 2, (-1, -2), np.array([0, 2, 0, 0]), [1, 1],
           (np.array([0, 0, 3]), np.array([1, 1, 2])), np.array([True, False, True, True]),
           (slice(None), np.array([2, 2, 0])), np.array([[0, 1], [1, 1]])]], _index)),
    Op("concatenate", lambda *xs, axis: nnlab.concatenate(xs, axis=axis),
       lambda T, *xs, axis: T.cat([T.as_tensor(x) for x in xs], dim=axis),
       Mode([([(2, 3), (1, 3), (3, 3)], {"axis": 0}), ([(2, 1), (2, 3)], {"axis": -1}), ([(3,)], {"axis": 0})], _join),
       sides=True),
    Op("stack", lambda *xs, axis: nnlab.stack(xs, axis=axis),
       lambda T, *xs, axis: T.stack([T.as_tensor(x) for x in xs], dim=axis),
       Mode([([(2, 3), (2, 3)], {"axis": 0}), ([(2, 3)] * 3, {"axis": -1}), ([(), ()], {"axis": 0})],
            lambda: _join(new_axis=True)), sides=True),
    Op("squeeze", lambda x, axis: x.squeeze(axis),
       lambda T, x, axis: x.squeeze() if axis is None else T.squeeze(x, axis),
       Mode([([(1, 2, 1)], {"axis": a}) for a in [None, 0, -1, (0, 2), 1]] + [([()], {"axis": None}), ([()], {"axis": 0})],
            _squeeze)),
    Op("unsqueeze", lambda x, axis: x.unsqueeze(axis), lambda T, x, axis: T.unsqueeze(x, axis),
       Mode([([()], {"axis": 0}), ([(2, 3)], {"axis": -1}), ([(2, 3)], {"axis": 1}), ([(2, 3)], {"axis": -3})],
            lambda: _one_axis(extra=1, min_dims=0))),
    Op("flatten", lambda x, **kw: x.flatten(**kw), lambda T, x, start_axis, end_axis: T.flatten(x, start_axis, end_axis),
       Mode([([_R], {"start_axis": 0, "end_axis": -1}), ([_R], {"start_axis": 1, "end_axis": 2}),
             ([_R], {"start_axis": -2, "end_axis": -2}), ([(5,)], {"start_axis": 0, "end_axis": 0})], _flatten)),
    Op("flatten(0-d)", lambda x: x.flatten(), lambda T, x: T.flatten(x), fixed(([()], {}))),
    Op("unflatten", lambda x, axis, sizes: x.unflatten(axis, sizes), lambda T, x, axis, sizes: T.unflatten(x, axis, sizes),
       fixed(([(2, 6)], {"axis": 1, "sizes": (2, 3)}), ([(2, 6)], {"axis": -1, "sizes": (3, -1)}),
             ([(4, 3)], {"axis": 0, "sizes": (2, 2, 1)}), ([(6,)], {"axis": 0, "sizes": (-1,)}))),
    Op("permute", lambda x, axes: x.permute(*axes), lambda T, x, axes: x.permute(axes),
       Mode([([_R], {"axes": a}) for a in [(2, 0, 1), (1, 0, 2)]] + [([()], {"axes": ()})], _transpose)),
    Op("swapaxes", lambda x, a, b: x.swapaxes(a, b), lambda T, x, a, b: T.swapaxes(x, a, b),
       fixed(*[([_R], {"a": a, "b": b}) for a, b in [(0, 2), (-1, 0), (1, 1)]], ([(3,)], {"a": 0, "b": -1}))),
    Op("expand", lambda x, sizes: x.expand(*sizes), lambda T, x, sizes: x.expand(*sizes),
       Mode([([(1, 3)], {"sizes": (2, 3)}), ([(1, 3)], {"sizes": (4, 2, -1)}), ([()], {"sizes": (2, 2)}),
             ([(2, 1, 1)], {"sizes": (-1, 3, 1)})], _expand)),
    Op("repeat", lambda x, reps: x.repeat(*reps), lambda T, x, reps: x.repeat(*reps),
       Mode([([(2, 3)], {"reps": (2, 1)}), ([(2, 3)], {"reps": (2, 1, 3)}), ([(3,)], {"reps": (2,)}),
             ([()], {"reps": (3,)})], lambda: _reps(at_least_ndim=True))),
    Op("tile", lambda x, reps: x.tile(reps), lambda T, x, reps: T.tile(x, reps),
       Mode([([(2, 3)], {"reps": (2,)}), ([(2, 3)], {"reps": (2, 1, 3)}), ([()], {"reps": (2, 2)})], _reps)),
    Op("flip", lambda x, axis: x.flip(axis),
       lambda T, x, axis: T.flip(x, tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis),
       Mode([([_R], {"axis": a}) for a in [None, 0, -1, (0, 2)]], _axes_or_none)),
    Op("roll", lambda x, shifts, axis: x.roll(shifts, axis),
       lambda T, x, shifts, axis: T.roll(x, shifts) if axis is None else T.roll(x, shifts, axis),
       Mode([([_R], {"shifts": 5, "axis": None}), ([_R], {"shifts": -1, "axis": 1}),
             ([_R], {"shifts": (1, 2), "axis": (0, 2)})], _roll)),
    Op("tril", lambda x, diagonal: x.tril(diagonal), lambda T, x, diagonal: T.tril(x, diagonal),
       Mode([([(3, 4)], {"diagonal": d}) for d in (0, 1, -1)] + [([(2, 3, 3)], {"diagonal": 0})], _triangle)),
    Op("triu", lambda x, diagonal: x.triu(diagonal), lambda T, x, diagonal: T.triu(x, diagonal),
       Mode([([(3, 4)], {"diagonal": d}) for d in (0, 2, -1)] + [([(2, 3, 3)], {"diagonal": 0})], _triangle)),
    Op("split", lambda x, axis, size: _pieces_joined(x.split(size, axis), lambda ps: nnlab.concatenate(ps, axis)),
       lambda T, x, axis, size: _pieces_joined(T.split(x, size, axis), lambda ps: T.cat(ps, axis)),
       Mode([([(5, 2)], {"axis": 0, "size": 2}), ([(2, 4)], {"axis": -1, "size": 4}), ([(2, 3)], {"axis": 1, "size": 1})],
            _pieces)),
    Op("split(sections)", lambda x, axis, sizes: _pieces_joined(x.split(sizes, axis), lambda ps: nnlab.concatenate(ps, axis)),
       lambda T, x, axis, sizes: _pieces_joined(T.split(x, sizes, axis), lambda ps: T.cat(ps, axis)),
       fixed(([(6, 2)], {"axis": 0, "sizes": [1, 3, 2]}), ([(2, 5)], {"axis": -1, "sizes": [5]}))),
    Op("chunk", lambda x, axis, size: _pieces_joined(x.chunk(size, axis), lambda ps: nnlab.concatenate(ps, axis)),
       lambda T, x, axis, size: _pieces_joined(T.chunk(x, size, axis), lambda ps: T.cat(ps, axis)),
       Mode([([(5, 2)], {"axis": 0, "size": 2}), ([(2, 4)], {"axis": -1, "size": 3}), ([(2, 3)], {"axis": 1, "size": 5})],
            _pieces)),
    Op("pad", lambda x, **kw: nnlab.pad(x, **kw), lambda T, x, **kw: T.nn.functional.pad(x, **kw),
       fixed(([(3,)], {"pad": (1, 2), "mode": "constant", "value": 0.5}), ([(2, 3)], {"pad": (0, 1, 2, 0), "mode": "constant"}),
             ([(2, 3, 4)], {"pad": (1, 2), "mode": "reflect"}), ([(1, 2, 3, 4)], {"pad": (1, 1, 2, 0), "mode": "reflect"}),
             ([(2, 3, 4)], {"pad": (2, 1), "mode": "replicate"}),
             ([(1, 2, 3, 3)], {"pad": (1, 0, 0, 2), "mode": "replicate"}))),
    # advanced selection with an index array
    Op("gather", lambda x, axis, index: x.gather(axis, index),
       lambda T, x, axis, index: T.gather(x, axis, T.as_tensor(index)),
       Mode([([(3, 4)], {"axis": 0, "index": _ix([[0, 2, 0], [2, 2, 1]])}),
             ([(3, 4)], {"axis": -1, "index": _ix([[3, 3, 0, 1, 0], [1, 1, 1, 1, 1], [0, 2, 3, 0, 0]])}),
             ([(4,)], {"axis": 0, "index": _ix([1, 1, 3])})], _gather)),
    Op("take_along_axis", lambda x, axis, index: nnlab.take_along_axis(x, index, axis),
       lambda T, x, axis, index: T.take_along_dim(x, T.as_tensor(index), axis),
       fixed(([(3, 4)], {"axis": 1, "index": _ix([[0, 0], [3, 1], [2, 2]])}),
             ([(3, 4)], {"axis": 0, "index": _ix([[2, 0, 0, 1]])}),  # broadcast along the rows
             ([(2, 3, 2)], {"axis": -2, "index": _ix([[[0], [2], [2], [1]], [[1], [1], [0], [0]]])}))),
    Op("scatter_add", lambda a, src, axis, index: nnlab.scatter_add(a, axis, index, src),
       lambda T, a, src, axis, index: T.scatter_add(a, axis, T.as_tensor(index), src),
       fixed(([(3, 4), (2, 4)], {"axis": 0, "index": _ix([[0, 2, 0, 1], [2, 2, 1, 0]])}),
             ([(3, 4), (3, 2)], {"axis": 1, "index": _ix([[0, 0], [3, 1], [1, 1]])}),
             ([(4,), (3,)], {"axis": 0, "index": _ix([3, 3, 0])})), sides=True),
]
assert UNARY  # .T uses the unary shapes


def _torch_index(T, x, index):
    """x[index] with NumPy semantics, by gathering flat positions (torch lacks negative steps)."""
    positions = np.arange(x.numel()).reshape(tuple(x.shape))[index]
    return x.reshape(-1)[T.as_tensor(np.array(positions))]  # a copy: torch takes no negative strides


globals().update(table_tests(OPS))


def test_scatter_add_uses_the_leading_part_of_a_larger_src():
    """A rule torch's own backward gets wrong (its gradient for src has the index's shape): gradcheck only."""
    a = nnlab.tensor(np.zeros((3, 4)), requires_grad=True, dtype=np.float64)
    src = nnlab.tensor(np.arange(15.0).reshape(3, 5), requires_grad=True, dtype=np.float64)
    index = _ix([[0, 0], [3, 1], [1, 1]])
    out = nnlab.scatter_add(a, 1, index, src)
    assert out.data[1].tolist() == [0.0, 6.0, 0.0, 5.0]  # src[1, 0] to column 3, src[1, 1] to 1
    assert nnlab.gradcheck(lambda a, s: nnlab.scatter_add(a, 1, index, s), [a, src])


@pytest.mark.parametrize("call, match", [
    (lambda: nnlab.zeros(2, 1, 3).squeeze(4), r"squeeze: axis 4 .*\[-3, 2\]"),
    (lambda: nnlab.zeros(2, 1, 3).squeeze((1, -5)), r"squeeze: axis -5 .*\[-3, 2\]"),
    (lambda: nnlab.zeros(2, 1, 3).flatten(5), r"flatten: axis 5 .*\[-3, 2\]"),
    (lambda: nnlab.zeros(2, 1, 3).flatten(0, -4), r"flatten: axis -4 .*\[-3, 2\]"),
    (lambda: nnlab.zeros(2, 3).unflatten(3, (1, 3)), r"unflatten: axis 3 .*\[-2, 1\]"),
    (lambda: nnlab.zeros(2, 3).swapaxes(0, 2), r"swapaxes: axis 2 .*\[-2, 1\]"),
    (lambda: nnlab.split(nnlab.zeros(2, 3), 1, axis=5), r"split: axis 5 .*\[-2, 1\]"),
    (lambda: nnlab.zeros(2, 3).chunk(2, axis=-3), r"chunk: axis -3 .*\[-2, 1\]"),
    (lambda: nnlab.tensor(1.0).squeeze(1), r"squeeze: axis 1 .*\[-1, 0\]"),
])
def test_an_out_of_range_axis_is_refused_as_torch_not_wrapped(call, match):
    with pytest.raises(IndexError, match=match):  # NumPy's AxisError, an IndexError and a ValueError
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: nnlab.zeros(3).expand(-1, 3), "size -1 .* new leading axis 0"),
    (lambda: nnlab.zeros(2, 3).expand(3), "1 sizes for a 2-d tensor"),
    (lambda: nnlab.zeros(2, 3, 4).flatten(2, 1), "start_axis 2 comes after end_axis 1"),
])
def test_expand_and_flatten_refuse_what_torch_refuses(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_in_range_axes_still_work_on_0d_and_negative():
    scalar = nnlab.tensor(2.0)
    assert scalar.squeeze(-1).shape == scalar.swapaxes(0, -1).shape == ()
    assert scalar.flatten(0, -1).shape == (1,)
    assert nnlab.zeros(2, 1, 3).squeeze(-2).shape == (2, 3)
    assert nnlab.zeros(2, 3).unflatten(-1, (3, 1)).shape == (2, 3, 1)
    assert [p.shape for p in nnlab.zeros(4, 3).chunk(2, axis=-2)] == [(2, 3), (2, 3)]
