"""Convolution and pooling ops, driven by one table in the row format of ``tests/test_ops.py``.

Each row names the op, its nnlab function, its PyTorch reference, the shape
mode its inputs are drawn from (conv1d, conv2d, pool1d, pool2d: fixed cases
over stride, padding, dilation and groups, plus hypothesis examples), the
input domain and tolerances.  From the table come float64 gradchecks of every
input, forward and backward equal to ``torch.nn.functional`` (float64 and
float32), float32 preserved when a float64 batch comes in, and no gradient
computed for a data input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnlab
from nnlab.errors import ConfigError
from nnlab.ops.conv import conv1d, conv2d
from nnlab.ops.pool import adaptive_avg_pool, avg_pool, max_pool

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
# PyTorch warns that it copies the input for an even kernel with padding="same"; nnlab pads the same way.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


def sample(domain: str, shape: tuple, rng) -> np.ndarray:
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "distinct":  # max pooling: values >= 0.2 apart, so no tie lies within reach of the differences
        size = int(np.prod(shape))
        return (rng.permutation(size).reshape(shape) - size / 2) * 0.25
    raise ValueError(domain)


# ---------------------------------------------------------------------------------------------
# Shape modes: fixed cases and hypothesis strategies of (input shapes, keyword arguments).
def _conv_case(d, n, cin, cout, groups, kernel, spatial, stride, padding, dilation, bias=True):
    shapes = [(n, cin) + spatial, (cout, cin // groups) + kernel] + ([(cout,)] if bias else [])
    return shapes, {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


FIXED = {
    "conv1d": [
        _conv_case(1, 2, 2, 3, 1, (3,), (7,), 1, 0, 1),
        _conv_case(1, 2, 2, 3, 1, (3,), (8,), 2, 1, 1),
        _conv_case(1, 1, 4, 4, 2, (2,), (9,), 1, "same", 2),
        _conv_case(1, 2, 3, 2, 1, (4,), (9,), 1, "same", 1),  # even kernel: the odd pad element goes last
        _conv_case(1, 2, 4, 6, 2, (3,), (10,), 3, 2, 2),
        _conv_case(1, 1, 2, 2, 2, (5,), (11,), 2, "valid", 1),  # depthwise
        _conv_case(1, 2, 1, 3, 1, (1,), (4,), 1, 0, 1),
    ],
    "conv2d": [
        _conv_case(2, 2, 2, 3, 1, (3, 3), (5, 6), 1, 0, 1),
        _conv_case(2, 2, 1, 2, 1, (3, 3), (6, 5), 2, 1, 1),
        _conv_case(2, 1, 4, 2, 2, (2, 3), (6, 7), (1, 2), (1, 0), (2, 1)),
        _conv_case(2, 2, 2, 2, 1, (3, 2), (5, 5), 1, "same", (1, 2)),
        _conv_case(2, 1, 3, 3, 3, (3, 3), (5, 5), 1, "same", 1),  # depthwise
        _conv_case(2, 2, 4, 4, 2, (1, 1), (3, 4), 2, "valid", 1),
    ],
    "pool1d": [([(2, 3, s)], {"kernel_size": k, "stride": st_, "padding": p})
               for s, k, st_, p in [(8, 2, None, 0), (7, 3, 1, 1), (9, 3, 2, 1), (6, 2, 1, 0), (5, 5, None, 2)]],
    "pool2d": [([(2, 2) + s], {"kernel_size": k, "stride": st_, "padding": p})
               for s, k, st_, p in [((6, 6), 2, None, 0), ((5, 6), 3, 1, 1), ((7, 5), (2, 3), (2, 1), (1, 0)),
                                    ((4, 4), 2, 1, 0), ((5, 5), (3, 3), 2, 1)]],
    "adaptive1d": [([(2, 3, s)], {"output_size": o}) for s, o in [(7, 1), (8, 2), (7, 3), (5, 5)]],
    "adaptive2d": [([(2, 2) + s], {"output_size": o}) for s, o in [((5, 6), 1), ((6, 6), 2), ((7, 5), (3, 2))]],
}


@st.composite
def _conv(draw, d):
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = draw(st.sampled_from([0, 1, "same", "valid"]))
    stride = 1 if padding == "same" else tuple(draw(st.integers(1, 2)) for _ in range(d))
    lo = [dl * (k - 1) + 1 for k, dl in zip(kernel, dilation)]
    spatial = tuple(m + draw(st.integers(0, 3)) for m in lo)
    return _conv_case(d, draw(st.integers(1, 2)), cin, cout, groups, kernel, spatial, stride, padding, dilation,
                      bias=draw(st.booleans()))


@st.composite
def _pool(draw, d):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * d)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(k + draw(st.integers(0, 4)) for k in kernel)
    return [(draw(st.integers(1, 2)), draw(st.integers(1, 2))) + spatial], {
        "kernel_size": kernel, "stride": stride, "padding": padding}


@st.composite
def _adaptive(draw, d):
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(d))
    out = tuple(draw(st.integers(1, s)) for s in spatial)
    return [(2, 2) + spatial], {"output_size": out}


MODES = {"conv1d": lambda: _conv(1), "conv2d": lambda: _conv(2), "pool1d": lambda: _pool(1),
         "pool2d": lambda: _pool(2), "adaptive1d": lambda: _adaptive(1), "adaptive2d": lambda: _adaptive(2)}


# ---------------------------------------------------------------------------------------------
# THE TABLE (the fields of tests/test_ops.py's Op).
@dataclass(frozen=True)
class Op:
    name: str
    fn: object  # nnlab: fn(*inputs, **kwargs)
    ref: object  # torch: ref(torch_module, *inputs, **kwargs)
    mode: str
    domain: tuple = ("real",)
    params: dict = field(default_factory=dict)
    rtol64: float = 1e-10
    rtol32: float = 1e-5


def _torch_conv(name):
    def ref(T, x, W, b=None, **kw):
        return getattr(T.nn.functional, name)(x, W, b, **kw)

    return ref


def _torch_pool(name):
    def ref(T, x, kernel_size, stride, padding):
        return getattr(T.nn.functional, name)(x, kernel_size, stride, padding)

    return ref


OPS = [
    Op("conv1d", conv1d, _torch_conv("conv1d"), "conv1d"),
    Op("conv2d", conv2d, _torch_conv("conv2d"), "conv2d"),
    Op("max_pool1d", max_pool, _torch_pool("max_pool1d"), "pool1d", ("distinct",)),
    Op("max_pool2d", max_pool, _torch_pool("max_pool2d"), "pool2d", ("distinct",)),
    Op("avg_pool1d", avg_pool, _torch_pool("avg_pool1d"), "pool1d"),
    Op("avg_pool2d", avg_pool, _torch_pool("avg_pool2d"), "pool2d"),
    Op("adaptive_avg_pool1d", adaptive_avg_pool,
       lambda T, x, output_size: T.nn.functional.adaptive_avg_pool1d(x, output_size), "adaptive1d"),
    Op("adaptive_avg_pool2d", adaptive_avg_pool,
       lambda T, x, output_size: T.nn.functional.adaptive_avg_pool2d(x, output_size), "adaptive2d"),
]
ROWS = [pytest.param(op, id=op.name) for op in OPS]


@dataclass
class Case:
    op: Op
    values: list
    kwargs: dict

    def tensors(self, dtype, frozen=()):
        return [nnlab.tensor(v, requires_grad=i not in frozen, dtype=dtype) for i, v in enumerate(self.values)]

    def call(self, args):
        return self.op.fn(*args, **self.kwargs)


def make_case(op, shapes, kwargs, seed):
    rng = np.random.default_rng(seed)
    values = [sample(op.domain[min(i, len(op.domain) - 1)], s, rng) for i, s in enumerate(shapes)]
    return Case(op, values, dict(kwargs))


def fixed_cases(op):
    for n, (shapes, kwargs) in enumerate(FIXED[op.mode]):
        yield make_case(op, shapes, kwargs, seed=n)


def draw_case(data, op):
    shapes, kwargs = data.draw(MODES[op.mode](), label="shapes")
    return make_case(op, shapes, kwargs, data.draw(st.integers(0, 2**32 - 1), label="seed"))


# ---------------------------------------------------------------------------------------------
def check_gradcheck(case):
    args = case.tensors(np.float64)
    result = nnlab.gradcheck(lambda *t: case.call(t), args)
    assert result, f"{case.op.name} {case.kwargs}: {result}"


def check_matches_torch(case, dtype, torch):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    rtol, atol = (case.op.rtol64, 1e-12) if dtype == np.float64 else (case.op.rtol32, 1e-5)
    args = case.tensors(dtype)
    targs = [torch.tensor(v, dtype=tdtype, requires_grad=True) for v in case.values]
    out = case.call(args)
    expected = case.op.ref(torch, *targs, **case.kwargs)
    assert out.dtype == dtype and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol, err_msg=case.op.name)
    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i, (a, t) in enumerate(zip(args, targs)):
        assert a.grad.dtype == dtype and a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{case.op.name} {case.kwargs}: gradient of input {i}")


def check_float32(case):
    """A float64 ndarray batch meets float32 parameters: everything stays float32."""
    params = [nnlab.tensor(v, requires_grad=True) for v in case.values[1:]]
    x = case.values[0] if params else nnlab.tensor(case.values[0], requires_grad=True)
    out = case.call([x] + params)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    for p in params if params else [x]:
        assert p.grad.dtype == np.float32 and p.grad.shape == p.shape


def check_no_gradient_for_data(case):
    if len(case.values) == 1:
        return  # pooling has no parameter: a data input gives no graph at all
    args = case.tensors(np.float64, frozen=(0,))
    out = case.call(args)
    grads = out._backward(np.ones(out.shape))
    assert grads[0] is None, f"{case.op.name} computed a gradient for the data input"
    assert all(g is not None and g.shape == a.shape for g, a in zip(grads[1:], args[1:]))


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ROWS)
def test_gradcheck_fixed(op):
    for case in fixed_cases(op):
        check_gradcheck(case)


@pytest.mark.parametrize("op", ROWS)
@settings(max_examples=12, **SETTINGS)
@given(data=st.data())
def test_gradcheck(op, data):
    check_gradcheck(draw_case(data, op))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", ROWS)
def test_matches_torch_fixed(op, dtype):
    torch = pytest.importorskip("torch")
    for case in fixed_cases(op):
        check_matches_torch(case, dtype, torch)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", ROWS)
@settings(max_examples=12, **SETTINGS)
@given(data=st.data())
def test_matches_torch(op, dtype, data):
    torch = pytest.importorskip("torch")
    check_matches_torch(draw_case(data, op), dtype, torch)


@pytest.mark.parametrize("op", ROWS)
def test_float32_stays_float32(op):
    for case in fixed_cases(op):
        check_float32(case)


@pytest.mark.parametrize("op", ROWS)
def test_no_gradient_for_the_data_input(op):
    for case in fixed_cases(op):
        check_no_gradient_for_data(case)


# ---------------------------------------------------------------------------------------------
# Rules a row cannot express.
def test_max_pool_tie_gives_the_whole_gradient_to_the_first_maximum():
    x = nnlab.tensor([[[[1.0, 1.0], [1.0, 0.0]], ]], requires_grad=True, dtype=np.float64)
    max_pool(x, 2).backward(np.array([[[[5.0]]]]))
    assert x.grad.tolist() == [[[[5.0, 0.0], [0.0, 0.0]]]]


def test_max_pool_overlapping_windows_add_up_at_a_shared_maximum():
    x = nnlab.tensor([[[0.0, 9.0, 1.0]]], requires_grad=True, dtype=np.float64)
    max_pool(x, 2, stride=1).backward(np.array([[[1.0, 2.0]]]))
    assert x.grad.tolist() == [[[0.0, 3.0, 0.0]]]


def test_conv_output_keeps_channels_last_memory_through_relu():
    """The next conv reads contiguous channels; ReLU must not reorder the memory."""
    from nnlab import functional as F

    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    W = nnlab.tensor(np.ones((4, 3, 3, 3)), requires_grad=True)
    y = F.relu(conv2d(x, W, padding=1))
    assert np.moveaxis(y.data, 1, -1).flags.c_contiguous


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x, W: conv2d(x, W, padding="same", stride=2), "needs stride 1"),
        (lambda x, W: conv2d(x, W, padding="full"), "padding must be"),
        (lambda x, W: conv2d(x, W, stride=0), "stride must be an integer >= 1"),
        (lambda x, W: conv2d(x[:, :2], W), "input has 2 channels"),
        (lambda x, W: conv2d(x[:, :, :2, :2], W), "smaller than the kernel"),
        (lambda x, W: conv1d(x, W), "filters must have 3 axes"),
        (lambda x, W: max_pool(x, 3, padding=2), "at most half the kernel"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    x = np.zeros((1, 3, 5, 5), dtype=np.float32)
    W = nnlab.tensor(np.zeros((2, 3, 3, 3)), requires_grad=True)
    with pytest.raises(ConfigError, match=match):
        call(x, W)
