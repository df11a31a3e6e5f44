"""The op table, elementwise family: arithmetic with broadcasting, elementwise functions, activations.

Rows in the format of tests/optable.py (its docstring says how to add one); each gets the float64
gradcheck, the PyTorch forward/backward comparison, the float32 check and the no-gradient check.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnlab
from nnlab import functional as F
from optable import AXIS, BINARY, MAX_SIDE, UNARY, Mode, Op, away, broadcast, table_tests


def _checkerboard(*operands):
    """A fixed condition for ``where``, of the operands' broadcast shape."""
    shape = np.broadcast_shapes(*(np.shape(o) for o in operands))
    return np.indices(shape, dtype=int).sum(axis=0) % 2 == 0


def _torch_where(T, a, b):
    return T.where(T.as_tensor(_checkerboard(a, b)), a, b)  # Python floats stay weak scalars


def _tf(name):
    """torch.nn.functional.<name>(x, **kwargs)."""
    return lambda T, x, **kw: getattr(T.nn.functional, name)(x, **kw)


@st.composite
def _matmul(draw):
    """2-D, batched (with broadcast batch axes), matrix @ batch, batch @ matrix, and 1-D on either side."""
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=MAX_SIDE))
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    a = (k,) if draw(st.booleans()) else batch.input_shapes[0] + (n, k)
    b = (k,) if draw(st.booleans()) else batch.input_shapes[1] + (k, m)
    return [a, b], {}


MATMUL = Mode([([a, b], {}) for a, b in [
    ((3, 4), (4, 2)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]], _matmul)
TERNARY = Mode([([(2, 3), (2, 3), (2, 3)], {}), ([(), (3,), (2, 1)], {}), ([(2, 1), (3,), ()], {})],
               lambda: broadcast(n=3))

OPS = [
    # arithmetic with broadcasting
    Op("add", lambda a, b: a + b, lambda T, a, b: a + b, BINARY, sides=True),
    Op("sub", lambda a, b: a - b, lambda T, a, b: a - b, BINARY, sides=True),
    Op("mul", lambda a, b: a * b, lambda T, a, b: a * b, BINARY, sides=True),
    Op("div", lambda a, b: a / b, lambda T, a, b: a / b, BINARY, ("real", "nonzero"), sides=True),
    Op("neg", lambda x: -x, lambda T, x: -x),
    Op("pow", lambda x, p: x**p, lambda T, x, p: x**p, domain=("positive",),
       params={"p": [2, 3, -1, 0.5, 1.5, -2.5, 1, 0]}),
    Op("pow(tensor exponent)", lambda x, y: x**y, lambda T, x, y: x**y, BINARY,
       ("positive", "real"), sides=True),
    Op("rpow", lambda x, base: base**x, lambda T, x, base: base**x, params={"base": [2.0, 0.5, np.e]}),
    Op("matmul", lambda a, b: a @ b, lambda T, a, b: T.as_tensor(a) @ T.as_tensor(b), MATMUL, sides=True),
    Op("maximum", nnlab.maximum, lambda T, a, b: T.maximum(T.as_tensor(a), T.as_tensor(b)), BINARY,
       ("grid0", "grid1"), sides=True),
    Op("minimum", nnlab.minimum, lambda T, a, b: T.minimum(T.as_tensor(a), T.as_tensor(b)), BINARY,
       ("grid0", "grid1"), sides=True),
    Op("where", lambda a, b: nnlab.where(_checkerboard(a, b), a, b), _torch_where, BINARY, sides=True),
    Op("lerp", nnlab.lerp, lambda T, a, b, w: T.lerp(a, b, w), TERNARY),
    Op("lerp(number weight)", lambda a, b, w: nnlab.lerp(a, b, w), lambda T, a, b, w: T.lerp(a, b, w), BINARY,
       params={"w": [0.3, 1.5, -0.5]}),
    # elementwise methods
    Op("exp", lambda x: x.exp(), lambda T, x: x.exp()),
    Op("log", lambda x: x.log(), lambda T, x: x.log(), domain=("positive",)),
    Op("sqrt", lambda x: x.sqrt(), lambda T, x: x.sqrt(), domain=("positive",)),
    Op("rsqrt", lambda x: x.rsqrt(), lambda T, x: x.rsqrt(), domain=("positive",)),
    Op("log2", lambda x: x.log2(), lambda T, x: x.log2(), domain=("positive",)),
    Op("exp2", lambda x: x.exp2(), lambda T, x: x.exp2()),
    Op("sin", lambda x: x.sin(), lambda T, x: x.sin(), domain=("logits",)),
    Op("cos", lambda x: x.cos(), lambda T, x: x.cos(), domain=("logits",)),
    Op("abs", lambda x: x.abs(), lambda T, x: x.abs(), domain=("kink0",)),
    Op("clip", lambda x, bounds: x.clip(*bounds), lambda T, x, bounds: T.clamp(x, *bounds),
       domain=("clip",), params={"bounds": [(-0.5, 0.7), (-0.5, None), (None, 0.7)]}),
    # no gradient: piecewise-constant functions and tests
    Op("sign", lambda x: x.sign(), lambda T, x: x.sign(), grad=False),
    Op("floor", lambda x: x.floor(), lambda T, x: x.floor(), domain=("logits",), grad=False),
    Op("ceil", lambda x: x.ceil(), lambda T, x: x.ceil(), domain=("logits",), grad=False),
    Op("round", lambda x, decimals: x.round(decimals), lambda T, x, decimals: T.round(x, decimals=decimals),
       domain=(away(-1.5, -0.5, 0.5, 1.5, 2.5, low=-3, high=3),), params={"decimals": [0, 0, 1]}, grad=False),
    Op("isnan", lambda x: x.isnan(), lambda T, x: x.isnan(), domain=("special",), grad=False),
    Op("isinf", lambda x: x.isinf(), lambda T, x: x.isinf(), domain=("special",), grad=False),
    # activations: the notes' set
    Op("sigmoid", F.sigmoid, lambda T, x: T.sigmoid(x), domain=("logits",)),
    Op("tanh", F.tanh, lambda T, x: T.tanh(x), domain=("logits",)),
    Op("relu", F.relu, lambda T, x: T.relu(x), domain=("kink0",)),
    Op("leaky_relu", lambda x, alpha: F.leaky_relu(x, alpha),
       lambda T, x, alpha: T.nn.functional.leaky_relu(x, alpha), domain=("kink0",),
       params={"alpha": [0.01, 0.2]}),
    Op("leaky_relu(default)", F.leaky_relu, lambda T, x: T.nn.functional.leaky_relu(x, 0.01), domain=("kink0",)),
    Op("elu", lambda x, alpha: F.elu(x, alpha), lambda T, x, alpha: T.nn.functional.elu(x, alpha),
       domain=("kink0",), params={"alpha": [1.0, 0.5]}),
    # activations PyTorch users reach for
    Op("softplus", F.softplus, _tf("softplus"), domain=("logits",), params={"beta": [1.0, 2.0, 0.5]}),
    Op("softplus(threshold)", F.softplus, _tf("softplus"), domain=(away(1.0, low=-3, high=3),),
       params={"threshold": [1.0]}),
    Op("softsign", F.softsign, _tf("softsign"), domain=("logits",)),
    Op("silu", F.silu, _tf("silu"), domain=("logits",)),
    Op("gelu", F.gelu, _tf("gelu"), domain=("logits",), params={"approximate": ["none", "tanh"]},
       atol32=1e-5),  # torch's float32 tanh form flushes gradients below ~1e-6 at x < -5 to 0
    Op("selu", F.selu, _tf("selu"), domain=("kink0",)),
    Op("celu", F.celu, _tf("celu"), domain=("kink0",), params={"alpha": [1.0, 0.5]}),
    Op("relu6", F.relu6, _tf("relu6"), domain=(away(0.0, 6.0, low=-2, high=8),)),
    Op("hardtanh", lambda x, bounds: F.hardtanh(x, *bounds), lambda T, x, bounds: T.nn.functional.hardtanh(x, *bounds),
       domain=(away(-1.0, 1.0, -0.5, 2.0, low=-3, high=3),), params={"bounds": [(-1.0, 1.0), (-0.5, 2.0)]}),
    Op("hardsigmoid", F.hardsigmoid, _tf("hardsigmoid"), domain=(away(-3.0, 3.0, low=-5, high=5),),
       rtol64=1e-7),  # torch's float64 backward multiplies by a float32 1/6 (3e-8 off); the gradcheck is exact
    Op("hardswish", F.hardswish, _tf("hardswish"), domain=(away(-3.0, 3.0, low=-5, high=5),)),
    Op("mish", F.mish, _tf("mish"), domain=("logits",)),
    # the softmax family
    Op("softmax(temperature)", lambda x, axis, t: F.softmax(x, axis=axis, temperature=t),
       lambda T, x, axis, t: T.softmax(x / t, dim=axis), AXIS, ("logits",), params={"t": [1.0, 0.5, 2.0]}),
    Op("softmax(beta)", lambda x, axis, b: F.softmax(x, axis=axis, beta=b),
       lambda T, x, axis, b: T.softmax(b * x, dim=axis), AXIS, ("logits",), params={"b": [0.5, 2.0]}),
    Op("log_softmax", lambda x, axis, t: F.log_softmax(x, axis=axis, temperature=t),
       lambda T, x, axis, t: T.log_softmax(x / t, dim=axis), AXIS, ("logits",), params={"t": [1.0, 3.0]}),
    Op("log_softmax(beta)", lambda x, axis, b: F.log_softmax(x, axis=axis, beta=b),
       lambda T, x, axis, b: T.log_softmax(b * x, dim=axis), AXIS, ("logits",), params={"b": [2.0]}),
]
assert all(op.mode in (UNARY, BINARY, AXIS, TERNARY, MATMUL) for op in OPS)

globals().update(table_tests(OPS))
