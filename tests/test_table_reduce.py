"""The op table, reductions and creation: sum … norm over every kind of axis (0-d inputs with axis 0 / -1
too), the no-gradient reductions (argmax, any, …) and the tensors made from a shape.

Rows in the format of tests/optable.py (its docstring says how to add one).
"""

import numpy as np
from hypothesis import strategies as st

import nnlab
from nnlab import functional as F
from optable import REDUCE, REDUCE_ONE, Mode, Op, axis_arg, shape, table_tests


def _dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _torch_reduce(name, **fixed):
    def ref(T, x, axis=None, keepdims=False, **kw):
        return getattr(T, name)(x, dim=_dims(x, axis), keepdim=keepdims, **fixed, **kw)

    return ref


def _torch_prod(T, x, axis=None, keepdims=False):
    """torch.prod takes one dim: reduce the axes one at a time, highest first."""
    axes = sorted((a % max(x.ndim, 1) for a in ((axis,) if isinstance(axis, int) else _dims(x, axis))), reverse=True)
    for a in axes:
        x = T.prod(x, dim=a, keepdim=True)
    return x.reshape([n for d, n in enumerate(x.shape) if d not in axes]) if axes and not keepdims else x


def _torch_norm(T, x, ord, axis=None, keepdims=False):
    return T.linalg.vector_norm(x, ord=ord, dim=_dims(x, axis), keepdim=keepdims)


def _torch_arg(name):
    def ref(T, x, axis=None, keepdims=False):
        if axis is None:  # over the flattened tensor; NumPy keeps every axis as size 1
            out = getattr(T, name)(x.reshape(-1), dim=0)
            return out.reshape((1,) * x.ndim) if keepdims else out
        return getattr(T, name)(x, dim=axis, keepdim=keepdims)

    return ref


def _torch_cumulative(name):
    def ref(T, x, axis=None):
        return getattr(T, name)(x.reshape(-1), 0) if axis is None else getattr(T, name)(x, axis)

    return ref


@st.composite
def _var(draw):  # every reduced block has >= 3 elements, so the correction (0, 1, 2) leaves n - c > 0
    s = draw(shape(min_dims=1, max_dims=3).map(lambda t: tuple(n + 2 for n in t)))
    return [s], {"axis": draw(axis_arg(len(s))), "keepdims": draw(st.booleans())}


VAR = Mode([([(3,)], {"axis": None, "keepdims": False}), ([(3, 4)], {"axis": 0, "keepdims": True}),
            ([(3, 4, 5)], {"axis": (0, 2), "keepdims": False}), ([(4, 3)], {"axis": -1, "keepdims": False})], _var)


@st.composite
def _cumulative(draw):
    s = draw(shape())
    axis = st.sampled_from([None, 0, -1]) if not s else st.one_of(st.none(), st.integers(-len(s), len(s) - 1))
    return [s], {"axis": draw(axis)}


CUMULATIVE = Mode([([()], {"axis": None}), ([()], {"axis": 0}), ([(5,)], {"axis": 0}), ([(2, 3)], {"axis": None}),
                   ([(2, 3)], {"axis": -1}), ([(2, 3, 4)], {"axis": 1})], _cumulative)

OPS = [
    Op("sum", lambda x, **kw: x.sum(**kw), _torch_reduce("sum"), REDUCE),
    Op("mean", lambda x, **kw: x.mean(**kw), _torch_reduce("mean"), REDUCE),
    Op("max", lambda x, **kw: x.max(**kw), _torch_reduce("amax"), REDUCE, ("distinct",)),
    Op("min", lambda x, **kw: x.min(**kw), _torch_reduce("amin"), REDUCE, ("distinct",)),
    Op("prod", lambda x, **kw: x.prod(**kw), _torch_prod, REDUCE, ("nonzero",)),
    Op("var", lambda x, **kw: x.var(**kw), _torch_reduce("var"), VAR, params={"correction": [1, 0, 2]}),
    Op("var(ddof)", lambda x, **kw: x.var(**kw), lambda T, x, ddof, **kw: _torch_reduce("var")(T, x, correction=ddof, **kw),
       VAR, params={"ddof": [0, 1]}),
    Op("std", lambda x, **kw: x.std(**kw), _torch_reduce("std"), VAR, params={"correction": [1, 0]}),
    Op("logsumexp", lambda x, **kw: F.logsumexp(x, **kw), _torch_reduce("logsumexp"), REDUCE, ("logits",)),
    Op("norm", lambda x, **kw: x.norm(**kw), _torch_norm, REDUCE, ("kink0",), params={"ord": [2, 1, 3, 0.5]}),
    Op("norm(inf)", lambda x, **kw: x.norm(np.inf, **kw), lambda T, x, **kw: _torch_norm(T, x, float("inf"), **kw),
       REDUCE, ("distinct",)),
    Op("cumsum", lambda x, axis: x.cumsum(axis), _torch_cumulative("cumsum"), CUMULATIVE),
    Op("logcumsumexp", lambda x, axis: x.logcumsumexp(axis), _torch_cumulative("logcumsumexp"), CUMULATIVE,
       ("logits",)),
    # no gradient
    Op("argmax", lambda x, **kw: x.argmax(**kw), _torch_arg("argmax"), REDUCE_ONE, ("distinct",), grad=False),
    Op("argmin", lambda x, **kw: x.argmin(**kw), _torch_arg("argmin"), REDUCE_ONE, ("distinct",), grad=False),
    Op("any", lambda x, **kw: x.any(**kw), _torch_reduce("any"), REDUCE, ("grid0",), grad=False),
    Op("all", lambda x, **kw: x.all(**kw), _torch_reduce("all"), REDUCE, ("grid1",), grad=False),
]


# ---------------------------------------------------------------------------------------------
# Creation: no tensor input (``*_like`` take one); the keywords are the case.
def _tdt(T, dtype):
    return {None: T.float32, "float64": T.float64}[dtype]


def _size_mode(*extra):
    """Sizes given as separate numbers (``zeros(2, 3)``), as one tuple, or none (0-d)."""
    cases = [{"args": (2, 3)}, {"args": ((4,),)}, {"args": ()}, {"args": (1, 0, 2)}] + list(extra)
    return Mode([([], c) for c in cases], lambda: shape(0, 3).map(lambda s: ([], {"args": s})))


def _size(args):
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], tuple) else tuple(args)


def _draws(method):
    def ref(T, args, rng):
        return T.from_numpy(getattr(np.random.default_rng(rng), method)(_size(args), dtype=np.float32))

    return ref


RANGES = Mode([([], {"args": a}) for a in [(5,), (1, 2, 0.25), (-1.0, 3.0, 0.5), (2, 2), (0, 10, 2)]])
SPACES = Mode([([], {"args": a}) for a in [(0, 1, 5), (-2.0, 3.0, 1), (1.0, -1.0, 4), (0, 1, 0)]])

OPS += [
    Op("zeros", lambda args, dtype: nnlab.zeros(*args, dtype=dtype),
       lambda T, args, dtype: T.zeros(_size(args), dtype=_tdt(T, dtype)), _size_mode(), params={"dtype": [None, "float64"]},
       grad=False),
    Op("ones", lambda args, dtype: nnlab.ones(*args, dtype=dtype),
       lambda T, args, dtype: T.ones(_size(args), dtype=_tdt(T, dtype)), _size_mode(), params={"dtype": [None, "float64"]},
       grad=False),
    Op("full", lambda args, fill: nnlab.full(_size(args), fill), lambda T, args, fill: T.full(_size(args), fill),
       _size_mode(), params={"fill": [7.5, -1.0]}, grad=False),
    Op("eye", lambda args, dtype: nnlab.eye(*args, dtype=dtype),
       lambda T, args, dtype: T.eye(*args, dtype=_tdt(T, dtype)),
       Mode([([], {"args": a}) for a in [(3,), (2, 4), (4, 2), (0,), (1, 1)]]), params={"dtype": [None, "float64"]},
       grad=False),
    Op("arange", lambda args: nnlab.arange(*args), lambda T, args: T.arange(*args, dtype=T.float32), RANGES, grad=False),
    Op("linspace", lambda args: nnlab.linspace(*args), lambda T, args: T.linspace(*args), SPACES, grad=False),
    Op("zeros_like", nnlab.zeros_like, lambda T, x: T.zeros_like(x), grad=False),
    Op("ones_like", nnlab.ones_like, lambda T, x: T.ones_like(x), grad=False),
    Op("randn", lambda args, rng: nnlab.randn(*args, rng=rng), _draws("standard_normal"), _size_mode(),
       params={"rng": [0, 5]}, grad=False),
    Op("rand", lambda args, rng: nnlab.rand(*args, rng=rng), _draws("random"), _size_mode(), params={"rng": [1]},
       grad=False),
]

globals().update(table_tests(OPS))
