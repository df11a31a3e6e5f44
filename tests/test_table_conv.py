"""The op table, convolution and pooling family: conv1d/conv2d over stride, padding, dilation and groups,
max / average / adaptive-average pooling (1-d and 2-d), each against torch.nn.functional.

Rows in the format of tests/optable.py (its docstring says how to add one); the fixed cases of each
shape mode cover every padding kind, the even-kernel "same" rule and depthwise groups.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

import nnlab
from nnlab.errors import ConfigError
from nnlab.ops.conv import conv1d, conv2d
from nnlab.ops.pool import adaptive_avg_pool, avg_pool, max_pool
from optable import Mode, Op, table_tests

# PyTorch warns that it copies the input for an even kernel with padding="same"; nnlab pads the same way.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


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


STRATEGIES = {"conv1d": lambda: _conv(1), "conv2d": lambda: _conv(2), "pool1d": lambda: _pool(1),
              "pool2d": lambda: _pool(2), "adaptive1d": lambda: _adaptive(1), "adaptive2d": lambda: _adaptive(2)}


def _torch_conv(name):
    def ref(T, x, W, b=None, **kw):
        return getattr(T.nn.functional, name)(x, W, b, **kw)

    return ref


def _torch_pool(name):
    def ref(T, x, kernel_size, stride, padding):
        return getattr(T.nn.functional, name)(x, kernel_size, stride, padding)

    return ref


M = {name: Mode(FIXED[name], strategy) for name, strategy in STRATEGIES.items()}
OPS = [
    Op("conv1d", conv1d, _torch_conv("conv1d"), M["conv1d"], sides=(0,), atol32=1e-5),
    Op("conv2d", conv2d, _torch_conv("conv2d"), M["conv2d"], sides=(0,), atol32=1e-5),
    Op("max_pool1d", max_pool, _torch_pool("max_pool1d"), M["pool1d"], ("distinct",)),
    Op("max_pool2d", max_pool, _torch_pool("max_pool2d"), M["pool2d"], ("distinct",)),
    Op("avg_pool1d", avg_pool, _torch_pool("avg_pool1d"), M["pool1d"]),
    Op("avg_pool2d", avg_pool, _torch_pool("avg_pool2d"), M["pool2d"]),
    Op("adaptive_avg_pool1d", adaptive_avg_pool,
       lambda T, x, output_size: T.nn.functional.adaptive_avg_pool1d(x, output_size), M["adaptive1d"]),
    Op("adaptive_avg_pool2d", adaptive_avg_pool,
       lambda T, x, output_size: T.nn.functional.adaptive_avg_pool2d(x, output_size), M["adaptive2d"]),
]
globals().update(table_tests(OPS, gradcheck_examples=12, torch_examples=12))


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
