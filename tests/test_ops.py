"""Every differentiable op, driven by ONE table.

Each row of ``OPS`` names an op, its nnlab function, its PyTorch reference, how
its input shapes (and axes, indices, parameters) are drawn, the domain of each
input and, where needed, tolerances.  Every row runs on the fixed cases of its
shape mode (``FIXED``: 0-d, size-1 axes, each broadcasting direction, each
matmul layout, reduction axis and index kind) and on hypothesis examples.
From the table come:

* ``test_gradcheck``: float64 central differences for every input of every op;
* ``test_matches_torch``: forward values and backward gradients equal
  torch.autograd's on the same inputs (float64 to 1e-10 relative, float32 to
  1e-5; an absolute floor of 1e-12 / 1e-6 covers results that cancel to ~0);
* ``test_float32_stays_float32``: float32 values and gradients, with Python
  floats, NumPy float64 scalars, float64 arrays and int64 arrays as constants;
* ``test_no_gradient_for_inputs_that_need_none``: the backward returns None
  (computes nothing) for a parent with ``requires_grad=False``.

Binary rows marked ``sides`` also run with a Python scalar ("s") or a plain
ndarray ("a") on either side.  Rules that a row cannot express (max's tie rule,
maximum/minimum ties, stability at ±1000) have their own tests at the end.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnlab
from nnlab import functional as F

# Deterministic examples (the same on every run and machine); few, so the file stays fast.
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
MAX_SIDE = 3


# ---------------------------------------------------------------------------------------------
# Input domains: values drawn so that no kink, tie or pole lies within reach of the
# finite differences (or of float32 rounding, for the torch comparison).
def _away_from(x, kinks, margin=0.1):
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, margin, -margin) * 1.5, x)
    return x


def sample(domain: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    size = int(np.prod(shape))
    if domain == "real":
        x = rng.standard_normal(shape)
    elif domain == "logits":
        x = 3 * rng.standard_normal(shape)
    elif domain == "positive":  # log, sqrt, x ** p
        x = rng.uniform(0.5, 2.0, shape)
    elif domain == "nonzero":  # a divisor
        x = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    elif domain == "kink0":  # abs, relu, leaky_relu, elu: not at 0
        x = _away_from(rng.uniform(-2.0, 2.0, shape), [0.0])
    elif domain == "clip":  # the clip bounds used below
        x = _away_from(rng.uniform(-1.5, 1.5, shape), [-0.5, 0.7])
    elif domain in ("grid0", "grid1"):  # maximum/minimum: a on k/2, b on k/2 + 1/4 -> never tie
        x = rng.integers(-4, 5, shape) / 2 + (0.25 if domain == "grid1" else 0.0)
    elif domain == "distinct":  # max reduction: all values distinct, >= 0.2 apart
        x = (rng.permutation(size).reshape(shape) - size / 2) * 0.25 + rng.uniform(0, 0.05)
    else:
        raise ValueError(domain)
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Shapes: each mode is a hypothesis strategy of (input shapes, keyword arguments).
def _shape(min_dims=0, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE)


@st.composite
def _unary(draw):
    return [draw(_shape())], {}


@st.composite
def _broadcast(draw, n=2):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, max_side=MAX_SIDE))
    return list(shapes.input_shapes), {}


@st.composite
def _matmul(draw):
    """2-D, batched (with broadcast batch axes), matrix @ batch, batch @ matrix, and 1-D on either side."""
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=MAX_SIDE))
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    a = (k,) if draw(st.booleans()) else batch.input_shapes[0] + (n, k)
    b = (k,) if draw(st.booleans()) else batch.input_shapes[1] + (k, m)
    return [a, b], {}


def _axis_arg(ndim):
    if ndim == 0:
        return st.none()
    single = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return st.one_of(st.none(), single, several)


@st.composite
def _reduce(draw):
    shape = draw(_shape())
    return [shape], {"axis": draw(_axis_arg(len(shape))), "keepdims": draw(st.booleans())}


@st.composite
def _along_axis(draw):
    shape = draw(_shape(min_dims=1))
    return [shape], {"axis": draw(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def _reshape(draw):
    shape = draw(_shape())
    size = int(np.prod(shape))
    targets = [shape[::-1], (size,), (-1,), shape + (1,), (1,) + shape]
    if len(shape) >= 2:
        targets.append((shape[0], -1))
    if size == 1:
        targets.append(())
    return [shape], {"shape": draw(st.sampled_from(targets))}


@st.composite
def _transpose(draw):
    shape = draw(_shape())
    perm = draw(st.permutations(range(len(shape))))
    # Negative axes too, as NumPy allows.
    axes = tuple(ax - len(shape) if draw(st.booleans()) else ax for ax in perm)
    return [shape], {"axes": axes}


@st.composite
def _index(draw):
    shape = draw(_shape(min_dims=1))
    kind = draw(st.sampled_from(["basic", "int_array", "int_list", "two_arrays", "mask"]))
    if kind == "basic":  # ints, slices (negative steps too), None, Ellipsis
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    elif kind in ("int_array", "int_list"):  # along one axis, repeats likely
        axis = draw(st.integers(0, len(shape) - 1))
        n = shape[axis]
        picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
        picked = picks if kind == "int_list" else np.array(picks)
        index = (slice(None),) * axis + (picked,) if axis else picked
    elif kind == "two_arrays":  # advanced indices on two axes, broadcast together
        rows = np.array(draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=4)))
        cols = np.array(draw(st.integers(-1, shape[-1] - 1)))
        index = (rows, Ellipsis, cols) if len(shape) > 1 else rows
    else:
        mask = np.array(draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
        index = mask
    return [shape], {"index": index}


@st.composite
def _join(draw, new_axis=False):
    n = draw(st.integers(1, 3))
    base = draw(_shape(min_dims=0 if new_axis else 1))
    ndim = len(base) + (1 if new_axis else 0)
    axis = draw(st.integers(-ndim, ndim - 1))
    if new_axis:
        return [base] * n, {"axis": axis}
    ax = axis % ndim
    shapes = [base[:ax] + (draw(st.integers(1, MAX_SIDE)),) + base[ax + 1 :] for _ in range(n)]
    return shapes, {"axis": axis}


MODES = {
    "unary": _unary,
    "binary": _broadcast,
    "matmul": _matmul,
    "reduce": _reduce,
    "axis": _along_axis,
    "reshape": _reshape,
    "transpose": _transpose,
    "index": _index,
    "concat": _join,
    "stack": lambda: _join(new_axis=True),
}


# ---------------------------------------------------------------------------------------------
# Helpers the rows use.
def _checkerboard(*operands):
    """A fixed condition for ``where``, of the operands' broadcast shape."""
    shape = np.broadcast_shapes(*(np.shape(o) for o in operands))
    return np.indices(shape, dtype=int).sum(axis=0) % 2 == 0


def _torch_reduce(name):
    def ref(T, x, axis=None, keepdims=False):
        if x.ndim == 0:  # reducing a 0-d value leaves it as it is
            return x * 1
        dims = tuple(range(x.ndim)) if axis is None else axis
        return getattr(T, name)(x, dim=dims, keepdim=keepdims)

    return ref


def _torch_index(T, x, index):
    """x[index] with NumPy semantics, by gathering flat positions (torch lacks negative steps)."""
    positions = np.arange(x.numel()).reshape(tuple(x.shape))[index]
    return x.reshape(-1)[T.as_tensor(np.array(positions))]  # a copy: torch takes no negative strides


def _torch_where(T, a, b):
    return T.where(T.as_tensor(_checkerboard(a, b)), a, b)  # Python floats stay weak scalars


# ---------------------------------------------------------------------------------------------
# THE TABLE.
@dataclass(frozen=True)
class Op:
    name: str
    fn: object  # nnlab: fn(*inputs, **kwargs)
    ref: object  # torch: ref(torch_module, *inputs, **kwargs)
    mode: str = "unary"  # a key of MODES: how shapes and keyword arguments are drawn
    domain: tuple = ("real",)  # per input (the last one repeats)
    sides: bool = False  # also run with a Python scalar / an ndarray on either side
    params: dict = field(default_factory=dict)  # extra keyword arguments: name -> list of values
    rtol64: float = 1e-10
    rtol32: float = 1e-5


OPS = [
    # arithmetic with broadcasting
    Op("add", lambda a, b: a + b, lambda T, a, b: a + b, "binary", sides=True),
    Op("sub", lambda a, b: a - b, lambda T, a, b: a - b, "binary", sides=True),
    Op("mul", lambda a, b: a * b, lambda T, a, b: a * b, "binary", sides=True),
    Op("div", lambda a, b: a / b, lambda T, a, b: a / b, "binary", ("real", "nonzero"), sides=True),
    Op("neg", lambda x: -x, lambda T, x: -x),
    Op("pow", lambda x, p: x**p, lambda T, x, p: x**p, domain=("positive",),
       params={"p": [2, 3, -1, 0.5, 1.5, -2.5, 1, 0]}),
    Op("rpow", lambda x, base: base**x, lambda T, x, base: base**x, params={"base": [2.0, 0.5, np.e]}),
    Op("matmul", lambda a, b: a @ b, lambda T, a, b: T.as_tensor(a) @ T.as_tensor(b), "matmul", sides=True),
    # reductions
    Op("sum", lambda x, **kw: x.sum(**kw), _torch_reduce("sum"), "reduce"),
    Op("mean", lambda x, **kw: x.mean(**kw), _torch_reduce("mean"), "reduce"),
    Op("max", lambda x, **kw: x.max(**kw), _torch_reduce("amax"), "reduce", ("distinct",)),
    # elementwise methods and functions
    Op("exp", lambda x: x.exp(), lambda T, x: x.exp()),
    Op("log", lambda x: x.log(), lambda T, x: x.log(), domain=("positive",)),
    Op("sqrt", lambda x: x.sqrt(), lambda T, x: x.sqrt(), domain=("positive",)),
    Op("abs", lambda x: x.abs(), lambda T, x: x.abs(), domain=("kink0",)),
    Op("clip", lambda x, bounds: x.clip(*bounds), lambda T, x, bounds: T.clamp(x, *bounds),
       domain=("clip",), params={"bounds": [(-0.5, 0.7), (-0.5, None), (None, 0.7)]}),
    Op("maximum", nnlab.maximum, lambda T, a, b: T.maximum(T.as_tensor(a), T.as_tensor(b)), "binary",
       ("grid0", "grid1"), sides=True),
    Op("minimum", nnlab.minimum, lambda T, a, b: T.minimum(T.as_tensor(a), T.as_tensor(b)), "binary",
       ("grid0", "grid1"), sides=True),
    Op("where", lambda a, b: nnlab.where(_checkerboard(a, b), a, b), _torch_where, "binary", sides=True),
    # shape
    Op("reshape(*shape)", lambda x, shape: x.reshape(*shape), lambda T, x, shape: x.reshape(shape), "reshape"),
    Op("reshape(shape)", lambda x, shape: x.reshape(shape), lambda T, x, shape: x.reshape(shape), "reshape"),
    Op("transpose", lambda x, axes: x.transpose(*axes), lambda T, x, axes: x.permute(axes), "transpose"),
    Op("transpose(axes)", lambda x, axes: x.transpose(axes), lambda T, x, axes: x.permute(axes), "transpose"),
    Op(".T", lambda x: x.T, lambda T, x: x.permute(tuple(reversed(range(x.ndim))))),
    Op("getitem", lambda x, index: x[index], _torch_index, "index"),
    Op("concatenate", lambda *xs, axis: nnlab.concatenate(xs, axis=axis),
       lambda T, *xs, axis: T.cat([T.as_tensor(x) for x in xs], dim=axis), "concat", sides=True),
    Op("stack", lambda *xs, axis: nnlab.stack(xs, axis=axis),
       lambda T, *xs, axis: T.stack([T.as_tensor(x) for x in xs], dim=axis), "stack", sides=True),
    # nnlab.functional
    Op("sigmoid", F.sigmoid, lambda T, x: T.sigmoid(x), domain=("logits",)),
    Op("tanh", F.tanh, lambda T, x: T.tanh(x), domain=("logits",)),
    Op("relu", F.relu, lambda T, x: T.relu(x), domain=("kink0",)),
    Op("leaky_relu", lambda x, alpha: F.leaky_relu(x, alpha),
       lambda T, x, alpha: T.nn.functional.leaky_relu(x, alpha), domain=("kink0",),
       params={"alpha": [0.01, 0.2]}),
    Op("leaky_relu(default)", F.leaky_relu, lambda T, x: T.nn.functional.leaky_relu(x, 0.01), domain=("kink0",)),
    Op("elu", lambda x, alpha: F.elu(x, alpha), lambda T, x, alpha: T.nn.functional.elu(x, alpha),
       domain=("kink0",), params={"alpha": [1.0, 0.5]}),
    Op("softmax(temperature)", lambda x, axis, t: F.softmax(x, axis=axis, temperature=t),
       lambda T, x, axis, t: T.softmax(x / t, dim=axis), "axis", ("logits",), params={"t": [1.0, 0.5, 2.0]}),
    Op("softmax(beta)", lambda x, axis, b: F.softmax(x, axis=axis, beta=b),
       lambda T, x, axis, b: T.softmax(b * x, dim=axis), "axis", ("logits",), params={"b": [0.5, 2.0]}),
    Op("log_softmax", lambda x, axis, t: F.log_softmax(x, axis=axis, temperature=t),
       lambda T, x, axis, t: T.log_softmax(x / t, dim=axis), "axis", ("logits",), params={"t": [1.0, 3.0]}),
    Op("log_softmax(beta)", lambda x, axis, b: F.log_softmax(x, axis=axis, beta=b),
       lambda T, x, axis, b: T.log_softmax(b * x, dim=axis), "axis", ("logits",), params={"b": [2.0]}),
    Op("logsumexp", lambda x, **kw: F.logsumexp(x, **kw), _torch_reduce("logsumexp"), "reduce", ("logits",)),
]

# Variants: which inputs are tensors ("t", requires grad), Python scalars ("s") or plain ndarrays ("a").
VARIANTS = []
for _op in OPS:
    VARIANTS.append(pytest.param(_op, ("t",), id=_op.name))
    if _op.sides:
        kinds = [("a", "t"), ("t", "a")]
        if _op.mode == "binary":
            kinds = [("s", "t"), ("t", "s")] + kinds
        for k in kinds:
            VARIANTS.append(pytest.param(_op, k, id=f"{_op.name}[{','.join(k)}]"))


# ---------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One drawn example: values (float64) of every input, their kinds, and keyword arguments."""

    op: Op
    kinds: tuple
    values: list
    kwargs: dict

    def inputs(self, dtype, scalar=float, array=lambda v: v, tensor=None):
        """The op's arguments: nnlab Tensors of ``dtype`` (or ``tensor(v)``) needing grad for "t",
        ``scalar(v)`` for "s", ``array(v)`` for "a"."""
        default = lambda v: nnlab.tensor(v, requires_grad=True, dtype=dtype)  # noqa: E731
        make = {"t": tensor or default, "s": scalar, "a": array}
        return [make[kind](v) for kind, v in zip(self.kinds, self.values)]

    def call(self, args):
        return self.op.fn(*args, **self.kwargs)


def make_case(op: Op, variant: tuple, shapes: list, kwargs: dict, seed: int) -> Case:
    kinds = tuple(variant[i % len(variant)] for i in range(len(shapes)))
    if "t" not in kinds:
        kinds = kinds[:-1] + ("t",)
    rng = np.random.default_rng(seed)
    values = []
    for i, (kind, shape) in enumerate(zip(kinds, shapes)):
        domain = op.domain[min(i, len(op.domain) - 1)]
        values.append(sample(domain, () if kind == "s" else shape, rng))
    return Case(op, kinds, values, dict(kwargs))


def draw_case(data, op: Op, variant: tuple) -> Case:
    shapes, kwargs = data.draw(MODES[op.mode](), label="shapes")
    for name, options in op.params.items():
        kwargs[name] = data.draw(st.sampled_from(options), label=name)
    return make_case(op, variant, shapes, kwargs, data.draw(st.integers(0, 2**32 - 1), label="seed"))


# Fixed cases per mode, run on every op besides the hypothesis examples, so that the
# layouts that matter are always covered: 0-d, size-1 axes, every broadcasting direction,
# every matmul layout, every kind of reduction axis, every kind of index.
_R = (2, 3, 4)
FIXED = {
    "unary": [([()], {}), ([(1,)], {}), ([(2, 3)], {}), ([(2, 1, 3)], {})],
    "binary": [([(), (2, 3)], {}), ([(2, 3), ()], {}), ([(3, 1), (1, 4)], {}), ([(2, 1, 3), (4, 1)], {}),
               ([(2, 3), (2, 3)], {}), ([(1,), (3, 1)], {}), ([(2, 3), (3,)], {})],
    "matmul": [([a, b], {}) for a, b in [
        ((3, 4), (4, 2)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 4), (4, 5)),
        ((3, 4), (2, 4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]],
    "reduce": [([()], {"axis": None, "keepdims": False})] + [
        ([_R], {"axis": axis, "keepdims": keep})
        for axis in [None, 0, -1, (0, 2), (2, 1), (0, 1, 2)] for keep in (False, True)],
    "axis": [([(5,)], {"axis": 0}), ([(2, 3)], {"axis": 0}), ([(2, 3)], {"axis": -1}), ([_R], {"axis": 1})],
    "reshape": [([(2, 3)], {"shape": s}) for s in [(3, 2), (6,), (-1,), (2, 1, 3), (1, -1)]]
    + [([()], {"shape": (1, 1)}), ([(1, 1)], {"shape": ()})],
    "transpose": [([_R], {"axes": a}) for a in [(2, 0, 1), (-1, 0, 1), (1, 0, 2), (0, 1, 2)]]
    + [([()], {"axes": ()})],
    "index": [([(4, 3)], {"index": i}) for i in [
        (slice(1, None), 0), (Ellipsis, None, slice(None, None, -1)), 2, (-1, -2),
        np.array([0, 2, 0, 0]), [1, 1], (np.array([0, 0, 3]), np.array([1, 1, 2])),
        np.array([True, False, True, True]), (slice(None), np.array([2, 2, 0])), np.array([[0, 1], [1, 1]])]],
    "concat": [([(2, 3), (1, 3), (3, 3)], {"axis": 0}), ([(2, 1), (2, 3)], {"axis": -1}), ([(3,)], {"axis": 0})],
    "stack": [([(2, 3), (2, 3)], {"axis": 0}), ([(2, 3), (2, 3), (2, 3)], {"axis": -1}), ([(), ()], {"axis": 0})],
}


def fixed_cases(op: Op, variant: tuple):
    for n, (shapes, kwargs) in enumerate(FIXED[op.mode]):
        kwargs = dict(kwargs)
        for name, options in op.params.items():
            kwargs[name] = options[n % len(options)]
        yield make_case(op, variant, shapes, kwargs, seed=n)


def _tensor_positions(case):
    return [i for i, k in enumerate(case.kinds) if k == "t"]


# ---------------------------------------------------------------------------------------------
# The checks, each run on the fixed cases and on hypothesis examples.
def check_gradcheck(case: Case):
    args = case.inputs(np.float64)
    positions = _tensor_positions(case)

    def fn(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return case.call(full)

    result = nnlab.gradcheck(fn, [args[i] for i in positions])
    assert result, f"{case.op.name} {case.kwargs}: {result}"
    assert result.checks == sum(args[i].size for i in positions)  # every element of every input


def check_matches_torch(case: Case, dtype, torch):
    op = case.op
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    rtol, atol = (op.rtol64, 1e-12) if dtype == np.float64 else (op.rtol32, 1e-6)

    args = case.inputs(dtype)  # nnlab gets float64 arrays as constants: they must adopt `dtype`
    targs = case.inputs(
        dtype,
        tensor=lambda v: torch.tensor(v, dtype=tdtype, requires_grad=True),
        array=lambda v: torch.tensor(v, dtype=tdtype),
    )

    out = case.call(args)
    expected = op.ref(torch, *targs, **case.kwargs)
    assert out.dtype == dtype and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol, err_msg=op.name)

    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i in _tensor_positions(case):
        assert args[i].grad.dtype == dtype
        np.testing.assert_allclose(args[i].grad, targs[i].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{op.name} {case.kwargs}: gradient of input {i}")


CONSTANTS = {  # how a constant operand is given, for the float32 test
    "python float / float64 array": (float, lambda v: v),
    "np.float64 / int64 array": (np.float64, lambda v: np.where(v >= 0, np.ceil(v), np.floor(v)).astype(np.int64)),
}


def check_float32(case: Case):
    for scalar, array in CONSTANTS.values():
        args = case.inputs(np.float32, scalar=scalar, array=array)
        out = case.call(args)
        assert type(out.data) is np.ndarray  # also for 0-d results, where NumPy ufuncs return scalars
        assert out.dtype == np.float32, case.op.name
        out.backward(np.ones(out.shape, dtype=np.float32))
        for i in _tensor_positions(case):
            assert type(args[i].grad) is np.ndarray and args[i].grad.dtype == np.float32
            assert args[i].grad.shape == args[i].shape


def check_no_gradient_for_inputs_that_need_none(case: Case):
    positions = _tensor_positions(case)
    for frozen in positions:
        args = case.inputs(np.float64)
        args[frozen].requires_grad = False
        out = case.call(args)
        assert out.requires_grad == (len(positions) > 1)
        if not out.requires_grad:
            continue
        grads = out._backward(np.ones(out.shape))
        assert len(grads) == len(out._parents) == len(args)
        for i, g in enumerate(grads):
            if i == frozen:
                assert g is None, f"{case.op.name} computed a gradient for input {i}, which needs none"
            else:
                assert g is not None and g.shape == args[i].shape
        out.backward(np.ones(out.shape))
        assert args[frozen].grad is None


# Rows whose op takes several tensors (for the requires_grad=False test).
MULTI = [
    p for p in VARIANTS if p.values[1] == ("t",) and p.values[0].mode in ("binary", "matmul", "concat", "stack")
]


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, variant", VARIANTS)
def test_gradcheck_fixed(op, variant):
    for case in fixed_cases(op, variant):
        check_gradcheck(case)


@pytest.mark.parametrize("op, variant", VARIANTS)
@settings(max_examples=30, **SETTINGS)
@given(data=st.data())
def test_gradcheck(op, variant, data):
    check_gradcheck(draw_case(data, op, variant))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op, variant", VARIANTS)
def test_matches_torch_fixed(op, variant, dtype):
    torch = pytest.importorskip("torch")
    for case in fixed_cases(op, variant):
        check_matches_torch(case, dtype, torch)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op, variant", VARIANTS)
@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_matches_torch(op, variant, dtype, data):
    torch = pytest.importorskip("torch")
    check_matches_torch(draw_case(data, op, variant), dtype, torch)


@pytest.mark.parametrize("op, variant", VARIANTS)
def test_float32_stays_float32(op, variant):
    for case in fixed_cases(op, variant):
        check_float32(case)


@pytest.mark.parametrize("op, variant", MULTI)
def test_no_gradient_for_inputs_that_need_none(op, variant):
    """A data input (requires_grad=False) costs no gradient: the backward returns None for it."""
    for case in fixed_cases(op, variant):
        check_no_gradient_for_inputs_that_need_none(case)


# ---------------------------------------------------------------------------------------------
# Rules a table row cannot express.
def _f64(values, requires_grad=True):
    return nnlab.tensor(values, requires_grad=requires_grad, dtype=np.float64)


@pytest.mark.parametrize(
    "values, kwargs, expected",
    [
        ([1.0, 3.0, 3.0, 2.0], {}, [0, 1, 0, 0]),
        ([[3.0, 3.0], [3.0, 1.0]], {}, [[1, 0], [0, 0]]),  # first in C order over the whole array
        ([[1.0, 5.0, 5.0], [4.0, 4.0, 0.0]], {"axis": 1}, [[0, 1, 0], [1, 0, 0]]),
        ([[1.0, 5.0, 5.0], [4.0, 4.0, 0.0]], {"axis": -1, "keepdims": True}, [[0, 1, 0], [1, 0, 0]]),
        ([[2.0, 5.0], [5.0, 5.0]], {"axis": 0}, [[0, 1], [1, 0]]),
        # reduced over (0, 2): the reduced block of column j is x[:, j, :], read in C order
        (np.array([[[7.0, 7.0], [1.0, 2.0]], [[7.0, 0.0], [2.0, 2.0]]]), {"axis": (0, 2)},
         [[[1, 0], [0, 1]], [[0, 0], [0, 0]]]),
        (np.array([[[7.0, 7.0], [1.0, 2.0]], [[7.0, 0.0], [2.0, 2.0]]]), {"axis": (2, 0), "keepdims": True},
         [[[1, 0], [0, 1]], [[0, 0], [0, 0]]]),
    ],
)
def test_max_tie_rule_whole_gradient_to_first_maximum(values, kwargs, expected):
    x = _f64(values)
    out = x.max(**kwargs)
    out.backward(np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape))
    # Each reduced block's upstream gradient lands, whole, on its first maximum.
    upstream = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    axes = kwargs.get("axis")
    if axes is not None and not kwargs.get("keepdims"):
        upstream = np.expand_dims(upstream, axes)
    np.testing.assert_array_equal(x.grad, np.array(expected) * upstream)


def test_max_tie_rule_differs_from_torch_amax_as_documented():
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, 3.0, 3.0], dtype=torch.float64, requires_grad=True)
    torch.amax(t, dim=0).backward()
    x = _f64([1.0, 3.0, 3.0])
    x.max().backward()
    assert t.grad.tolist() == [0, 0.5, 0.5] and x.grad.tolist() == [0, 1, 0]


@pytest.mark.parametrize("fn", [nnlab.maximum, nnlab.minimum])
def test_maximum_minimum_ties_go_to_the_first_input(fn):
    a = _f64([[1.0, 2.0, 3.0], [0.0, 2.0, 5.0]])
    b = _f64([2.0, 2.0, 3.0])  # broadcast over rows; ties at (0,1), (0,2), (1,1)
    fn(a, b).backward(np.ones((2, 3)))
    tie = a.data == b.data
    wins = (a.data > b.data) if fn is nnlab.maximum else (a.data < b.data)
    np.testing.assert_array_equal(a.grad, (tie | wins).astype(float))
    np.testing.assert_array_equal(b.grad, (~(tie | wins)).sum(axis=0))
    # The reverse order sends the tied gradient to the other tensor.
    a.grad = b.grad = None
    fn(b, a).backward(np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad, (tie | ~wins).sum(axis=0))


def test_where_accepts_a_boolean_tensor_condition_and_constants():
    a = _f64([1.0, 2.0, 3.0])
    out = nnlab.where(a > 1.5, a, 0.0)
    out.backward(np.ones(3))
    assert out.data.tolist() == [0, 2, 3] and a.grad.tolist() == [0, 1, 1]
    assert nnlab.where(np.array([True, False]), 1.0, 2.0).data.tolist() == [1.0, 2.0]


def test_pow_zero_exponent_has_zero_gradient_at_zero():
    x = _f64([0.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_pow_with_numpy_float64_exponent_or_base_stays_float32():
    x = nnlab.tensor([1.5, 2.0], requires_grad=True)
    out = x ** np.float64(2.5) + np.float64(2.0) ** x + x ** np.int64(3)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_meets_float32_without_upcast_or_truncation():
    counts = nnlab.tensor([1, 2], dtype=np.int64)
    w = nnlab.tensor([0.5, 0.25], requires_grad=True)
    out = counts * w
    assert out.dtype == np.float32
    out.sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [1.0, 2.0]
    assert (counts * 2.5).data.tolist() == [2.5, 5.0]
    assert nnlab.concatenate([counts, w]).dtype == np.float32


def test_indexing_repeated_integer_indices_accumulate():
    x = _f64(np.arange(6.0).reshape(3, 2))
    y = x[np.array([0, 2, 0, 0])]  # row 0 three times
    y.backward(np.ones((4, 2)))
    assert x.grad.tolist() == [[3, 3], [0, 0], [1, 1]]
    x.grad = None
    x[[1, 1], [0, 0]].sum().backward()
    assert x.grad.tolist() == [[0, 0], [2, 0], [0, 0]]


def test_basic_index_is_a_view_like_numpy():
    x = _f64(np.arange(6.0).reshape(2, 3))
    row = x[1, ::2]
    assert np.shares_memory(row.data, x.data)
    assert row.data.tolist() == [3.0, 5.0]


# ---------------------------------------------------------------------------------------------
# Numerical stability: logits of ±1000 give finite values and gradients, with no warning.
STABLE = [
    (F.softmax, lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum()),
    (lambda t: F.softmax(t, temperature=3.0), None),
    (F.log_softmax, lambda x: x - x.max() - np.log(np.exp(x - x.max()).sum())),
    (F.logsumexp, lambda x: x.max() + np.log(np.exp(x - x.max()).sum())),
    (F.sigmoid, lambda x: np.array([1.0 if v > 0 else (0.0 if v < 0 else 0.5) for v in x])),
    (F.tanh, np.sign),
    (F.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
]
EXTREME = [[1000.0, -1000.0, 0.0], [1000.0, 1000.0], [-1000.0, -1000.0, -999.0], [-1000.0], [1000.0]]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", EXTREME)
@pytest.mark.parametrize("fn, expected", STABLE)
def test_stable_at_plus_minus_1000(fn, expected, values, dtype):
    x = nnlab.tensor(values, requires_grad=True, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = fn(x)
        out.backward(np.ones(out.shape))
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))
    if expected is not None:
        np.testing.assert_allclose(out.data, expected(np.array(values)), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("error")
def test_stable_extremes_match_torch():
    torch = pytest.importorskip("torch")
    values = np.array([[1000.0, -1000.0, 0.0, 999.5], [-1000.0, -1000.0, -999.0, -1000.0]])
    pairs = [
        (F.softmax, lambda t: torch.softmax(t, -1)),
        (F.log_softmax, lambda t: torch.log_softmax(t, -1)),
        (lambda x: F.logsumexp(x, axis=-1), lambda t: torch.logsumexp(t, -1)),
        (F.sigmoid, torch.sigmoid),
    ]
    for fn, ref in pairs:
        x = _f64(values)
        t = torch.tensor(values, requires_grad=True)
        out, expected = fn(x), ref(t)
        w = np.linspace(-1, 1, out.size).reshape(out.shape)
        out.backward(w)
        expected.backward(torch.from_numpy(w))
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-300)


@pytest.mark.filterwarnings("error")
def test_logsumexp_of_only_minus_infinity_is_minus_infinity():
    out = F.logsumexp(nnlab.tensor([[-np.inf, -np.inf], [0.0, -np.inf]]), axis=1)
    assert out.data.tolist() == [-np.inf, 0.0]
