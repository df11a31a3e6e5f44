"""The op table, network family: the fused ops (linear, maxout, batch_norm, layer_norm, group_norm, instance_norm,
rms_norm), normalize, prelu, and every layer as a row
(its parameters are inputs after x), dropout and Gaussian noise with a frozen generator.

Rows in the format of tests/optable.py (its docstring says how to add one).  The layer rows'
references are torch.nn.functional expressions of the same parameters (nnlab's Linear weight is
(in, out): torch gets it transposed).
"""

import numpy as np
from hypothesis import strategies as st

import nnlab
from nnlab import nn
from nnlab.ops.fused import batch_norm, linear, linear_t, maxout
from nnlab.ops.norms import group_norm, layer_norm, normalize
from nnlab.ops.norms_more import instance_norm, rms_norm
from nnlab.nn.activations import prelu
from optable import Mode, Op, away, fixed, layer, table_tests

def _F(T):
    return T.nn.functional


@st.composite
def _batch(draw, features, min_n=1, lead=True):
    """A batch (N, features), with up to two more leading axes when ``lead``."""
    more = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) if lead else ()
    return [more + (draw(st.integers(min_n, 4)), features)], {}


def batch(features, *fixed_shapes, min_n=1, lead=True):
    return Mode([([s], {}) for s in fixed_shapes], lambda: _batch(features, min_n, lead))


@st.composite
def _channels(draw, channels):
    """A channels-first batch (N, C) or (N, C, *spatial) with up to two spatial axes."""
    spatial = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    return [(draw(st.integers(1, 3)), channels) + spatial], {}


def channels(c, *fixed_shapes):
    return Mode([([s], {}) for s in fixed_shapes], lambda: _channels(c))


def _affine_shapes(x, m, pieces, bias, transposed):
    w = (pieces * m, x[-1]) if transposed else (x[-1], pieces * m)  # linear_t's weight is (out, in)
    return [x, w] + ([(pieces * m,)] if bias else [])


@st.composite
def _affine(draw, pieces=1, bias=True, transposed=False):
    x = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + (draw(st.integers(1, 3)),)
    return _affine_shapes(x, draw(st.integers(1, 3)), pieces, bias, transposed), {}


def affine(pieces=1, bias=True, transposed=False):
    cases = [((5, 4), 3), ((2, 3, 4), 2), ((4,), 3), ((1, 1), 1)]
    return Mode([(_affine_shapes(x, m, pieces, bias, transposed), {}) for x, m in cases],
                lambda: _affine(pieces, bias, transposed))


def _maxout_ref(T, x, W, b=None, pieces=3):
    z = x @ W + (0 if b is None else b)
    return T.amax(z.reshape(*z.shape[:-1], pieces, -1), dim=-2)


def _channels_first(T, x):
    return x if x.ndim <= 2 else x.movedim(-1, 1)  # nnlab's features are last; torch's channels are axis 1


def _torch_batch_norm(T, x, gamma, beta, training=True, running_mean=None, running_var=None, eps=1e-5):
    stats = [None if a is None else T.as_tensor(a, dtype=x.dtype) for a in (running_mean, running_var)]
    out = _F(T).batch_norm(_channels_first(T, x), *stats, gamma, beta, training=training, eps=eps)
    return out if x.ndim <= 2 else out.movedim(1, -1)


RUNNING = {"running_mean": np.array([0.2, -0.1, 0.0]), "running_var": np.array([0.5, 2.0, 1.5])}
NORM_FIXED = [[(8, 3), (3,), (3,)], [(2, 4, 3), (3,), (3,)], [(2, 3), (3,), (3,)]]

FUSED = [
    Op("linear", linear, lambda T, x, W, b: _F(T).linear(x, W.T, b), affine()),
    Op("linear(no bias)", linear, lambda T, x, W: _F(T).linear(x, W.T), affine(bias=False)),
    Op("linear_t", linear_t, lambda T, x, W, b: _F(T).linear(x, W, b), affine(transposed=True)),
    Op("maxout", lambda x, W, b: maxout(x, W, b, 3), _maxout_ref, affine(pieces=3)),
    Op("maxout(no bias)", lambda x, W: maxout(x, W, None, 2), lambda T, x, W: _maxout_ref(T, x, W, pieces=2),
       affine(pieces=2, bias=False)),
    Op("batch_norm(train)", lambda x, g, b, eps: batch_norm(x, g, b, eps=eps),
       lambda T, x, g, b, eps: _torch_batch_norm(T, x, g, b, eps=eps), Mode([(s, {}) for s in NORM_FIXED]),
       params={"eps": [1e-5, 1e-2]}),
    Op("batch_norm(eval)", lambda x, g, b: batch_norm(x, g, b, training=False, **RUNNING),
       lambda T, x, g, b: _torch_batch_norm(T, x, g, b, training=False, **RUNNING), Mode([(s, {}) for s in NORM_FIXED])),
    Op("layer_norm", lambda x, w, b, eps: layer_norm(x, w.shape, w, b, eps),
       lambda T, x, w, b, eps: _F(T).layer_norm(x, w.shape, w, b, eps),
       fixed(([(4, 5), (5,), (5,)], {}), ([(2, 3, 4), (4,), (4,)], {}), ([(2, 3, 4), (3, 4), (3, 4)], {}),
             ([(2, 3, 2, 2), (2, 2), (2, 2)], {})), params={"eps": [1e-5, 1e-2]}),
    Op("layer_norm(no affine)", lambda x: layer_norm(x, x.shape[-1]), lambda T, x: _F(T).layer_norm(x, x.shape[-1:]),
       fixed(([(4, 5)], {}), ([(2, 3, 4)], {}))),
    Op("group_norm", lambda x, w, b: group_norm(x, 2, w, b), lambda T, x, w, b: _F(T).group_norm(x, 2, w, b),
       fixed(([(4, 6), (6,), (6,)], {}), ([(2, 4, 3), (4,), (4,)], {}), ([(2, 4, 2, 3), (4,), (4,)], {}))),
    Op("group_norm(no affine)", lambda x: group_norm(x, 3), lambda T, x: _F(T).group_norm(x, 3),
       fixed(([(2, 6, 4)], {}),)),
    Op("instance_norm", lambda x, w, b: instance_norm(x, weight=w, bias=b),
       lambda T, x, w, b: _F(T).instance_norm(x, weight=w, bias=b),
       fixed(([(2, 3, 4), (3,), (3,)], {}), ([(2, 3, 2, 3), (3,), (3,)], {}), ([(1, 3, 5), (3,), (3,)], {}))),
    Op("instance_norm(running stats)", lambda x, w, b: instance_norm(x, *RUNNING.values(), w, b, use_input_stats=False),
       lambda T, x, w, b: _F(T).instance_norm(x, *(T.as_tensor(a, dtype=x.dtype) for a in RUNNING.values()), w, b,
                                             use_input_stats=False), fixed(([(2, 3, 4), (3,), (3,)], {}),)),
    Op("rms_norm", lambda x, w, eps: rms_norm(x, w.shape, w, eps), lambda T, x, w, eps: _F(T).rms_norm(x, w.shape, w, eps),
       fixed(([(4, 5), (5,)], {}), ([(2, 3, 4), (3, 4)], {}), ([(2, 3, 2, 2), (2, 2)], {})), params={"eps": [None, 1e-2]}),
    Op("rms_norm(no weight)", lambda x: rms_norm(x, x.shape[-1]), lambda T, x: _F(T).rms_norm(x, x.shape[-1:]),
       fixed(([(4, 5)], {}), ([(2, 3, 4)], {}))),
    Op("normalize", lambda x, p: normalize(x, p=p), lambda T, x, p: _F(T).normalize(x, p=p),
       fixed(([(4, 3)], {}), ([(2, 3, 4)], {})), ("kink0",), params={"p": [2.0, 1.0, 3.0]}),
    # α on axis 1 as torch's: (N, C), (N, C, L), (N, C, H, W) with W == C (α on the last axis would also fit)
    Op("prelu", prelu, lambda T, x, a: _F(T).prelu(x, a), fixed(
        ([(4, 3), (1,)], {}), ([(4, 3), (3,)], {}), ([(1, 2), (2,)], {}), ([(2, 3, 5), (3,)], {}),
        ([(2, 3, 4, 3), (3,)], {}), ([(2, 3, 4, 5), (1,)], {}), ([(5,), (1,)], {})), ("kink0", "real")),
]


# ---------------------------------------------------------------------------------------------
# Layers: fn=layer(factory); the parameters follow x, in parameters() order.
F64 = np.float64


def _bn(dtype, train=True):
    layer_ = nn.BatchNorm(3, dtype=dtype).train(train)
    layer_.running_mean[:] = RUNNING["running_mean"]
    layer_.running_var[:] = RUNNING["running_var"]
    return layer_


def _tied(dtype):
    encoder = nn.Linear(5, 3, rng=1, dtype=dtype)
    return nn.Sequential(encoder, nn.Tanh(), nn.TiedLinear(encoder, rng=2))


def _mask(module, x):
    """The frozen layer's draw, read off by running it on ones (dropout) or zeros (noise) of x's dtype."""
    import torch

    base = np.zeros if isinstance(module, nn.GaussianNoise) else np.ones
    return torch.from_numpy(module(nnlab.tensor(base(tuple(x.shape)), dtype=str(x.dtype)[6:])).numpy())


def _torch_module(name, *args, **kwargs):
    return lambda T, x: getattr(T.nn, name)(*args, **kwargs)(x)


X43 = batch(3, (4, 3), (2, 1, 3), (1, 3))
KINK = ("kink0", "real")
LAYERS = [
    Op("Linear", layer(lambda dt: nn.Linear(4, 3, rng=0, dtype=dt)), lambda T, x, W, b: _F(T).linear(x, W.T, b),
       batch(4, (5, 4), (2, 3, 4), (1, 4)), sides=(0,)),
    Op("Linear(no bias)", layer(lambda dt: nn.Linear(4, 3, bias=False, rng=0, dtype=dt)),
       lambda T, x, W: _F(T).linear(x, W.T), batch(4, (5, 4))),
    Op("Sequential", layer(lambda dt: nn.Sequential(nn.Linear(4, 6, rng=0, dtype=dt), nn.Tanh(),
                                                    nn.Linear(6, 2, rng=1, dtype=dt))),
       lambda T, x, W1, b1, W2, b2: _F(T).linear(T.tanh(_F(T).linear(x, W1.T, b1)), W2.T, b2), batch(4, (3, 4))),
    Op("Residual", layer(lambda dt: nn.Residual(nn.Sequential(nn.Linear(4, 4, rng=0, dtype=dt), nn.ELU()))),
       lambda T, x, W, b: x + _F(T).elu(_F(T).linear(x, W.T, b)), batch(4, (3, 4))),
    Op("Maxout", layer(lambda dt: nn.Maxout(4, 3, pieces=3, rng=0, dtype=dt)), _maxout_ref,
       batch(4, (6, 4), (2, 3, 4)), sides=(0,)),
    Op("BatchNorm(train)", layer(_bn), _torch_batch_norm, batch(3, (8, 3), min_n=2, lead=False), sides=(0,)),
    Op("BatchNorm(eval)", layer(lambda dt: _bn(dt, train=False)),
       lambda T, x, g, b: _torch_batch_norm(T, x, g, b, training=False, **RUNNING), batch(3, (8, 3), (1, 3), lead=False)),
    Op("BatchNorm(N, C, L)", layer(_bn),  # channels first, as BatchNorm1d
       lambda T, x, g, b: _F(T).batch_norm(x, None, None, g, b, training=True), fixed(([(2, 3, 4)], {}))),
    Op("LayerNorm", layer(lambda dt: nn.LayerNorm(4, dtype=dt)), lambda T, x, w, b: _F(T).layer_norm(x, (4,), w, b),
       batch(4, (5, 4), (2, 3, 4)), sides=(0,)),
    Op("LayerNorm(2 axes, no bias)", layer(lambda dt: nn.LayerNorm((3, 4), bias=False, dtype=dt)),
       lambda T, x, w: _F(T).layer_norm(x, (3, 4), w), fixed(([(2, 3, 4)], {}), ([(2, 2, 3, 4)], {}))),
    # groups of 3 channels: a group of 2 values has x̂ = ±1 whatever x, its input gradient float32 cancellation only
    Op("GroupNorm", layer(lambda dt: nn.GroupNorm(2, 6, dtype=dt)), lambda T, x, w, b: _F(T).group_norm(x, 2, w, b),
       channels(6, (3, 6), (2, 6, 5), (2, 6, 2, 3)), sides=(0,)),
    Op("TiedAutoencoder", layer(_tied),
       lambda T, x, W, b1, b2: _F(T).linear(T.tanh(_F(T).linear(x, W.T, b1)), W, b2), batch(5, (4, 5))),
    Op("PReLU", layer(lambda dt: nn.PReLU(dtype=dt)), lambda T, x, a: _F(T).prelu(x, a), X43, KINK),
    Op("PReLU(per channel)", layer(lambda dt: nn.PReLU(0.1, num_parameters=3, dtype=dt)),
       lambda T, x, a: _F(T).prelu(x, a),  # what torch.nn.PReLU(3).forward computes with weight a
       channels(3, (4, 3), (2, 3, 5), (2, 3, 4, 3), (1, 3, 2, 2)), KINK),
    # parameterless layers
    Op("Identity", layer(lambda dt: nn.Identity()), lambda T, x: x * 1, X43),
    Op("Sigmoid", layer(lambda dt: nn.Sigmoid()), _torch_module("Sigmoid"), X43),
    Op("Tanh", layer(lambda dt: nn.Tanh()), _torch_module("Tanh"), X43),
    Op("ReLU", layer(lambda dt: nn.ReLU()), _torch_module("ReLU"), X43, KINK),
    Op("LeakyReLU", layer(lambda dt: nn.LeakyReLU(0.2)), _torch_module("LeakyReLU", 0.2), X43, KINK),
    Op("ELU", layer(lambda dt: nn.ELU(0.7)), _torch_module("ELU", 0.7), X43, KINK),
    Op("Softmax", layer(lambda dt: nn.Softmax()), _torch_module("Softmax", dim=-1), X43, ("logits",)),
    Op("Softmax(axis=0, temperature)", layer(lambda dt: nn.Softmax(axis=0, temperature=2.5)),
       lambda T, x: T.softmax(x / 2.5, dim=0), X43, ("logits",)),
    Op("Softmax(beta)", layer(lambda dt: nn.Softmax(beta=3.0)), lambda T, x: T.softmax(3.0 * x, dim=-1), X43),
    Op("GELU(tanh)", layer(lambda dt: nn.GELU("tanh")), _torch_module("GELU", "tanh"), X43),
    Op("SiLU", layer(lambda dt: nn.SiLU()), _torch_module("SiLU"), X43),
    Op("Softplus", layer(lambda dt: nn.Softplus(beta=2.0)), _torch_module("Softplus", beta=2.0), X43),
    Op("Softsign", layer(lambda dt: nn.Softsign()), _torch_module("Softsign"), X43),
    Op("SELU", layer(lambda dt: nn.SELU()), _torch_module("SELU"), X43, KINK),
    Op("CELU", layer(lambda dt: nn.CELU(0.5)), _torch_module("CELU", 0.5), X43, KINK),
    Op("ReLU6", layer(lambda dt: nn.ReLU6()), _torch_module("ReLU6"), X43, (away(0.0, 6.0, low=-2, high=8),)),
    Op("Hardtanh", layer(lambda dt: nn.Hardtanh(-0.5, 2.0)), _torch_module("Hardtanh", -0.5, 2.0), X43,
       (away(-0.5, 2.0, low=-3, high=3),)),
    Op("Hardsigmoid", layer(lambda dt: nn.Hardsigmoid()), _torch_module("Hardsigmoid"), X43,
       (away(-3.0, 3.0, low=-5, high=5),), rtol64=1e-7),  # torch's float64 backward: a float32 1/6
    Op("Hardswish", layer(lambda dt: nn.Hardswish()), _torch_module("Hardswish"), X43, (away(-3.0, 3.0, low=-5, high=5),)),
    Op("Mish", layer(lambda dt: nn.Mish()), _torch_module("Mish"), X43),
    # random layers, their generator frozen: a fresh layer seeded 7 at every call draws the same mask / noise
    Op("Dropout(keep)", layer(lambda dt: nn.Dropout(keep=0.6, rng=7)),
       lambda T, x: x * _mask(nn.Dropout(keep=0.6, rng=7), x), batch(4, (6, 4), (2, 3, 4)), sides=(0,)),
    Op("Dropout(rate)", layer(lambda dt: nn.Dropout(rate=0.3, rng=7)),
       lambda T, x: x * _mask(nn.Dropout(rate=0.3, rng=7), x), batch(4, (6, 4))),
    Op("GaussianNoise", layer(lambda dt: nn.GaussianNoise(0.5, rng=7)),
       lambda T, x: x + _mask(nn.GaussianNoise(0.5, rng=7), x), batch(4, (6, 4)), sides=(0,)),
]

OPS = FUSED + LAYERS
globals().update(table_tests(OPS, gradcheck_examples=10, torch_examples=8))
