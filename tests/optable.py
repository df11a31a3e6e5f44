"""The op table's machinery: ONE row format for ops, fused ops, layers and losses (tests/test_table_*.py).

How to add a row (to the ``OPS`` list of the tests/test_table_<family>.py that fits):
 1. ``Op(name, fn, ref, mode)``: ``fn(*inputs, **kwargs)`` is the nnlab call, ``ref(torch, *inputs, **kwargs)``
    the PyTorch expression of the same value (its inputs arrive as torch tensors, the kwargs unchanged).
 2. ``mode``: a ``Mode(fixed, strategy)`` -- fixed (input shapes, kwargs) cases that always run, and a hypothesis
    strategy of more (None: fixed only).  Reuse UNARY, BINARY, REDUCE, AXIS below or a family file's own.
 3. ``domain``: one sampler per input (the last repeats; see ``sample``): keep kinks, ties and poles away.
 4. ``kinds``: per input "t" (a tensor needing grad, the default) or "d" (data: labels, targets, passed as the
    ndarray itself); ``sides=True`` adds variants with a Python scalar / ndarray in place of each tensor.
 5. ``params``: keyword -> values (fixed cases cycle through them, hypothesis draws one); ``grad=False`` for ops
    without a gradient (floor, argmax, zeros): forward compared, no graph checked.  A layer:
    ``fn=layer(lambda dtype: nn.X(..., dtype=dtype))``; its parameters follow x as inputs (ref gets them too).
 6. ``globals().update(table_tests(OPS))`` at the file's end makes the checks; what a row cannot say (tie rules,
    stability at ±1000, error messages) gets an ordinary test beside the table.
From each row come: float64 finite-difference gradcheck of every element of every "t" input; forward and backward
equal to torch.autograd (float64 to 1e-10, float32 to 1e-5 relative); float32 preserved (with float64 constants
and data); the backward returning None for every parent that needs no gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnlab

# Deterministic examples (the same on every run and machine); few, so the table stays fast.
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
MAX_SIDE = 3


# ---------------------------------------------------------------------------------------------
# Input domains: values drawn so that no kink, tie or pole lies within reach of the finite
# differences (or of float32 rounding, for the torch comparison).
def _away_from(x, kinks, margin=0.1):
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, margin, -margin) * 1.5, x)
    return x


def away(*kinks, low=-2.0, high=2.0):
    """A domain: uniform on [low, high], no value within 0.1 of a kink."""
    return lambda shape, rng: _away_from(rng.uniform(low, high, shape), kinks)


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


DOMAINS = {
    "real": lambda s, r: r.standard_normal(s),
    "logits": lambda s, r: 3 * r.standard_normal(s),
    "positive": lambda s, r: r.uniform(0.5, 2.0, s),  # log, sqrt, x ** p
    "nonzero": lambda s, r: r.choice([-1.0, 1.0], s) * r.uniform(0.5, 2.0, s),  # a divisor
    "kink0": away(0.0),  # abs, relu, leaky_relu, elu: not at 0
    "clip": away(-0.5, 0.7, low=-1.5, high=1.5),  # the clip bounds of the rows
    "grid0": lambda s, r: r.integers(-4, 5, s) / 2,  # maximum/minimum: a on k/2,
    "grid1": lambda s, r: r.integers(-4, 5, s) / 2 + 0.25,  # b on k/2 + 1/4 -> never tie
    # max reductions and pooling: all values distinct, >= 0.2 apart
    "distinct": lambda s, r: (r.permutation(int(np.prod(s))).reshape(s) - np.prod(s) / 2) * 0.25 + r.uniform(0, 0.05),
    "classes": lambda s, r: r.integers(0, s[-1], s[:-1]),  # class indices below K for logits of shape s
    "soft": lambda s, r: _softmax_rows(r.standard_normal(s)),  # probability rows
    "binary": lambda s, r: (r.random(s) > 0.5).astype(np.float64),
    "probs": lambda s, r: r.uniform(0.05, 0.95, s),
    "logprobs": lambda s, r: np.log(_softmax_rows(r.standard_normal(s))),
    "special": lambda s, r: r.choice([0.5, -1.0, np.nan, np.inf, -np.inf, 2.0], s),  # isnan, isinf
}


def sample(domain, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    fn = DOMAINS[domain] if isinstance(domain, str) else domain
    x = np.asarray(fn(tuple(shape), rng))
    return x if x.dtype.kind in "iub" else x.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Shape modes: fixed cases plus a hypothesis strategy of (input shapes, keyword arguments).
@dataclass(frozen=True)
class Mode:
    fixed: list  # [(input shapes, kwargs), ...]
    strategy: object = None  # a callable returning a strategy of (shapes, kwargs), or None


def shape(min_dims=0, max_dims=3, max_side=MAX_SIDE):  # a hypothesis strategy of shapes
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def axis_arg(ndim, several=True):
    """None, one axis (negative too) or several distinct axes of an ``ndim``-d input (None only for 0-d)."""
    if ndim == 0:
        return st.sampled_from([None, 0, -1])  # a 0-d input takes axis 0 / -1, as in PyTorch
    one = st.integers(-ndim, ndim - 1)
    if not several:
        return st.one_of(st.none(), one)
    many = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return st.one_of(st.none(), one, many)


@st.composite
def _unary(draw):
    return [draw(shape())], {}


@st.composite
def broadcast(draw, n=2):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, max_side=MAX_SIDE))
    return list(shapes.input_shapes), {}


@st.composite
def _reduce(draw, several=True):
    s = draw(shape())
    return [s], {"axis": draw(axis_arg(len(s), several)), "keepdims": draw(st.booleans())}


@st.composite
def _along_axis(draw):
    s = draw(shape(min_dims=1))
    return [s], {"axis": draw(st.integers(-len(s), len(s) - 1))}


_R = (2, 3, 4)
UNARY = Mode([([()], {}), ([(1,)], {}), ([(2, 3)], {}), ([(2, 1, 3)], {})], _unary)
BINARY = Mode([([(), (2, 3)], {}), ([(2, 3), ()], {}), ([(3, 1), (1, 4)], {}), ([(2, 1, 3), (4, 1)], {}),
               ([(2, 3), (2, 3)], {}), ([(1,), (3, 1)], {}), ([(2, 3), (3,)], {})], broadcast)
_REDUCE_FIXED = [([()], {"axis": None, "keepdims": False}), ([()], {"axis": 0, "keepdims": False}),
                 ([()], {"axis": -1, "keepdims": True})]
REDUCE = Mode(_REDUCE_FIXED + [([_R], {"axis": a, "keepdims": k}) for a in [None, 0, -1, (0, 2), (2, 1), (0, 1, 2)]
                               for k in (False, True)], _reduce)
REDUCE_ONE = Mode(_REDUCE_FIXED + [([_R], {"axis": a, "keepdims": k}) for a in [None, 0, -1, 1] for k in (False, True)],
                  lambda: _reduce(several=False))  # reductions that take one axis at most (argmax, ...)
AXIS = Mode([([(5,)], {"axis": 0}), ([(2, 3)], {"axis": 0}), ([(2, 3)], {"axis": -1}), ([_R], {"axis": 1})], _along_axis)


def fixed(*cases):  # a Mode of fixed (shapes, kwargs) cases only
    return Mode(list(cases))


# ---------------------------------------------------------------------------------------------
# Layers as rows: the module's parameters become the row's inputs after x.
class layer:
    """``fn`` of a Module row: ``layer(factory)(x, *params)`` runs a fresh ``factory(dtype)`` whose
    parameters are replaced by ``params`` (in ``parameters()`` order; a shared one is replaced everywhere)."""

    def __init__(self, factory):
        self.factory = factory
        self.param_shapes = [p.shape for p in factory(np.float64).parameters()]

    def __call__(self, x, *params):
        dtype = params[0].dtype if params else getattr(x, "dtype", np.float64)
        module = self.factory(dtype)
        swap = {id(old): new for old, new in zip(module.parameters(), params)}
        for _, sub in module.named_modules():
            for name, old in list(sub._parameters.items()):
                if old is not None and id(old) in swap:
                    sub._parameters[name] = sub.__dict__[name] = swap[id(old)]
        return module(x)


# ---------------------------------------------------------------------------------------------
# THE ROW.
@dataclass(frozen=True)
class Op:
    name: str
    fn: object  # nnlab: fn(*inputs, **kwargs)
    ref: object  # torch: ref(torch_module, *inputs, **kwargs)
    mode: Mode = UNARY
    domain: tuple = ("real",)  # per input (the last one repeats)
    kinds: tuple = ("t",)  # per input, cycling: "t" tensor needing grad, "d" data ndarray
    sides: object = False  # True or input positions: also run with a Python scalar ("s", BINARY) / ndarray ("a")
    params: dict = field(default_factory=dict)  # extra keyword arguments: name -> list of values
    grad: bool = True  # False: the op has no gradient (forward only, no graph)
    rtol64: float = 1e-10
    rtol32: float = 1e-5
    atol32: float = 1e-6


def variants(op: Op) -> list:
    """The row's input kinds: its own, then (``sides``) each tensor in turn a scalar or an ndarray."""
    out = [op.kinds]
    if op.sides:
        n = len(op.mode.fixed[0][0]) + len(getattr(op.fn, "param_shapes", ()))
        base = tuple(op.kinds[i % len(op.kinds)] for i in range(max(n, 2)))
        where = range(len(base)) if op.sides is True else op.sides
        for kind in ("s", "a") if op.mode is BINARY else ("a",):
            out += [base[:i] + (kind,) + base[i + 1 :] for i in where if base[i] == "t"]
    return out


@dataclass
class Case:
    """One drawn example: float64 (or integer) values of every input, their kinds, and keyword arguments."""

    op: Op
    kinds: tuple
    values: list
    kwargs: dict

    def inputs(self, dtype, scalar=float, array=lambda v: v, tensor=None, data=lambda v: v):
        """The op's arguments: Tensors of ``dtype`` (or ``tensor(v)``) needing grad for "t", ``scalar(v)``
        for "s", ``array(v)`` for "a", ``data(v)`` for "d"."""
        default = lambda v: nnlab.tensor(v, requires_grad=True, dtype=dtype)  # noqa: E731
        make = {"t": tensor or default, "s": scalar, "a": array, "d": data}
        return [make[kind](v) for kind, v in zip(self.kinds, self.values)]

    def call(self, args):
        return self.op.fn(*args, **self.kwargs)

    def tensor_positions(self):
        return [i for i, k in enumerate(self.kinds) if k == "t"]


def make_case(op: Op, variant: tuple, shapes: list, kwargs: dict, seed: int) -> Case:
    shapes = list(shapes) + list(getattr(op.fn, "param_shapes", ()))
    kinds = tuple(variant[i % len(variant)] for i in range(len(shapes)))
    if shapes and op.grad and "t" not in kinds:
        kinds = kinds[:-1] + ("t",)
    rng = np.random.default_rng(seed)
    values = [sample(op.domain[min(i, len(op.domain) - 1)], () if kind == "s" else s, rng)
              for i, (kind, s) in enumerate(zip(kinds, shapes))]
    return Case(op, kinds, values, dict(kwargs))


def fixed_cases(op: Op, variant: tuple):
    for n, (shapes, kwargs) in enumerate(op.mode.fixed):
        kwargs = dict(kwargs)
        for name, options in op.params.items():
            kwargs[name] = options[n % len(options)]
        yield make_case(op, variant, shapes, kwargs, seed=n)


def draw_case(data, op: Op, variant: tuple) -> Case:
    shapes, kwargs = data.draw(op.mode.strategy(), label="shapes")
    kwargs = dict(kwargs)
    for name, options in op.params.items():
        kwargs[name] = data.draw(st.sampled_from(options), label=name)
    return make_case(op, variant, shapes, kwargs, data.draw(st.integers(0, 2**32 - 1), label="seed"))


# ---------------------------------------------------------------------------------------------
# The checks, each run on the fixed cases and (gradcheck, torch) on hypothesis examples.
def check_gradcheck(case: Case):
    args = case.inputs(np.float64)
    positions = case.tensor_positions()

    def fn(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return case.call(full)

    result = nnlab.gradcheck(fn, [args[i] for i in positions])
    assert result, f"{case.op.name} {case.kwargs}: {result}"
    assert result.checks == sum(args[i].size for i in positions)  # every element of every input


def _torch_data(torch, tdtype):  # data for torch: floats in the compared dtype, labels as int64
    return lambda v: torch.tensor(v, dtype=tdtype) if np.asarray(v).dtype.kind == "f" else torch.as_tensor(v)


def check_matches_torch(case: Case, dtype, torch):
    op = case.op
    if not case.values and dtype == np.float64:
        return  # no input (zeros, arange): the keywords decide the dtype; one run is enough
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    rtol, atol = (op.rtol64, 1e-12) if dtype == np.float64 else (op.rtol32, op.atol32)

    args = case.inputs(dtype)  # nnlab gets float64 arrays as constants: they must adopt `dtype`
    targs = case.inputs(dtype, tensor=lambda v: torch.tensor(v, dtype=tdtype, requires_grad=True),
                        array=lambda v: torch.tensor(v, dtype=tdtype), data=_torch_data(torch, tdtype))
    out = case.call(args)
    expected = op.ref(torch, *targs, **case.kwargs)
    wanted = expected.detach().numpy()
    assert out.shape == wanted.shape, f"{op.name} {case.kwargs}: shape {out.shape} != torch's {wanted.shape}"
    assert out.dtype == (dtype if op.grad else wanted.dtype), f"{op.name}: dtype {out.dtype}"
    if out.dtype == np.float32:  # a float32 result without input (zeros) or of a no-gradient op
        rtol, atol = op.rtol32, op.atol32
    np.testing.assert_allclose(out.data, wanted, rtol=rtol, atol=atol, err_msg=f"{op.name} {case.kwargs}")
    if not op.grad:
        return
    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i in case.tensor_positions():
        assert args[i].grad.dtype == dtype and args[i].grad.shape == args[i].shape
        np.testing.assert_allclose(args[i].grad, targs[i].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{op.name} {case.kwargs}: gradient of input {i}")


CONSTANTS = {  # how a constant operand is given, for the float32 test ("d" data stays as drawn: float64 or int)
    "python float / float64 array": (float, lambda v: v),
    "np.float64 / int64 array": (np.float64, lambda v: np.where(v >= 0, np.ceil(v), np.floor(v)).astype(np.int64)),
}


def check_float32(case: Case):
    for scalar, array in CONSTANTS.values():
        args = case.inputs(np.float32, scalar=scalar, array=array)
        out = case.call(args)
        assert type(out.data) is np.ndarray  # also for 0-d results, where NumPy ufuncs return scalars
        if not case.op.grad:  # a float result is float32 unless asked otherwise; bool/int results stay
            assert out.dtype.kind != "f" or out.dtype == np.float32 or "dtype" in case.kwargs, case.op.name
            continue
        assert out.dtype == np.float32, f"{case.op.name}: {out.dtype}"
        out.backward(np.ones(out.shape, dtype=np.float32))
        for i in case.tensor_positions():
            assert type(args[i].grad) is np.ndarray and args[i].grad.dtype == np.float32
            assert args[i].grad.shape == args[i].shape


def check_no_gradient_for_inputs_that_need_none(case: Case):
    """With every tensor input needing grad, then each one frozen in turn: the backward returns None
    (computes nothing) for every parent that needs no gradient (data, targets, a frozen input) and a
    gradient of the right shape for the others; nothing frozen is given a ``.grad``."""
    positions = case.tensor_positions()
    if not case.op.grad:  # no graph at all, even from inputs that need grad
        out = case.call(case.inputs(np.float64))
        assert not out.requires_grad and out._parents == (), f"{case.op.name} built a graph"
        return
    for frozen in [None] + positions:
        args = case.inputs(np.float64)
        if frozen is not None:
            args[frozen].requires_grad = False
        out = case.call(args)
        if frozen is not None and len(positions) == 1:
            assert not out.requires_grad, f"{case.op.name}: a graph from an input that needs no gradient"
            continue
        if out._backward is None:  # the input itself came back (Identity): no node, nothing computed
            continue
        for parent, g in zip(out._parents, out._backward(np.ones(out.shape, dtype=out.dtype))):
            if parent.requires_grad:
                assert g is not None and g.shape == parent.shape
            else:
                assert g is None, f"{case.op.name} computed a gradient for an input that needs none"
        if frozen is not None:
            out.backward(np.ones(out.shape))
            assert args[frozen].grad is None


# ---------------------------------------------------------------------------------------------
def table_tests(ops: list, gradcheck_examples: int = 30, torch_examples: int = 15) -> dict:
    """The table's test functions, to be placed in a test module's globals."""
    rows = [pytest.param(op, v, id=op.name if v == op.kinds else f"{op.name}[{','.join(v)}]")
            for op in ops for v in variants(op)]
    with_grad = [p for p in rows if p.values[0].grad]
    drawn = [p for p in rows if p.values[0].mode.strategy is not None]
    drawn_grad = [p for p in drawn if p.values[0].grad]
    own = [p for p in rows if p.values[1] == p.values[0].kinds]
    dtypes = pytest.mark.parametrize("dtype", [np.float64, np.float32])

    @pytest.mark.parametrize("op, variant", with_grad)
    def test_gradcheck_fixed(op, variant):
        for case in fixed_cases(op, variant):
            check_gradcheck(case)

    @pytest.mark.parametrize("op, variant", drawn_grad)
    @settings(max_examples=gradcheck_examples, **SETTINGS)
    @given(data=st.data())
    def test_gradcheck(op, variant, data):
        check_gradcheck(draw_case(data, op, variant))

    @dtypes
    @pytest.mark.parametrize("op, variant", rows)
    def test_matches_torch_fixed(op, variant, dtype):
        torch = pytest.importorskip("torch")
        for case in fixed_cases(op, variant):
            check_matches_torch(case, dtype, torch)

    @dtypes
    @pytest.mark.parametrize("op, variant", drawn)
    @settings(max_examples=torch_examples, **SETTINGS)
    @given(data=st.data())
    def test_matches_torch(op, variant, dtype, data):
        torch = pytest.importorskip("torch")
        check_matches_torch(draw_case(data, op, variant), dtype, torch)

    @pytest.mark.parametrize("op, variant", rows)
    def test_float32_stays_float32(op, variant):
        for case in fixed_cases(op, variant):
            check_float32(case)

    @pytest.mark.parametrize("op, variant", own)
    def test_no_gradient_for_inputs_that_need_none(op, variant):
        for case in fixed_cases(op, variant):
            check_no_gradient_for_inputs_that_need_none(case)

    return {f.__name__: f for f in (test_gradcheck_fixed, test_gradcheck, test_matches_torch_fixed,
                                     test_matches_torch, test_float32_stays_float32,
                                     test_no_gradient_for_inputs_that_need_none)}
