"""The layers' functional forms in nnlab.nn.functional (F.linear, F.conv2d, F.max_pool2d, F.dropout, ...).

Each against torch.nn.functional with the same arguments: forward values and the
gradients of a random upstream gradient, in float32 and float64; a float64
gradcheck of each; and each equal to the layer whose op it calls.
"""

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.errors import ConfigError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# name: (function name, argument shapes, keyword arguments); the first argument is the input.
CASES = {
    "linear": ("linear", [(4, 3), (5, 3), (5,)], {}),
    "linear_batched_no_bias": ("linear", [(2, 4, 3), (5, 3)], {}),
    "conv1d_groups": ("conv1d", [(2, 4, 9), (6, 2, 3), (6,)], dict(stride=2, padding=1, groups=2)),
    "conv1d_dilated": ("conv1d", [(2, 3, 11), (4, 3, 3)], dict(dilation=2)),
    "conv2d": ("conv2d", [(2, 3, 7, 6), (4, 3, 3, 2), (4,)], dict(stride=(2, 1), padding=1, dilation=(1, 2))),
    "conv2d_same": ("conv2d", [(2, 2, 6, 5), (3, 2, 3, 3), (3,)], dict(padding="same")),
    "max_pool1d": ("max_pool1d", [(2, 3, 9)], dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "max_pool2d": ("max_pool2d", [(2, 2, 7, 6)], dict(kernel_size=(3, 2), stride=2, padding=1)),
    "max_pool2d_dilated": ("max_pool2d", [(1, 2, 9, 9)], dict(kernel_size=3, stride=1, dilation=2)),
    "avg_pool1d": ("avg_pool1d", [(2, 3, 10)], dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                    count_include_pad=False)),
    "avg_pool2d": ("avg_pool2d", [(2, 2, 7, 6)], dict(kernel_size=3, stride=2, padding=1)),
    "avg_pool2d_divisor": ("avg_pool2d", [(2, 2, 6, 6)], dict(kernel_size=2, divisor_override=3)),
    "adaptive_avg_pool1d": ("adaptive_avg_pool1d", [(2, 3, 10)], dict(output_size=4)),
    "adaptive_avg_pool2d": ("adaptive_avg_pool2d", [(2, 3, 7, 9)], dict(output_size=(3, 4))),
    "adaptive_max_pool1d": ("adaptive_max_pool1d", [(2, 3, 10)], dict(output_size=3)),
    "adaptive_max_pool2d": ("adaptive_max_pool2d", [(2, 3, 7, 9)], dict(output_size=(2, 4))),
    "cosine_similarity": ("cosine_similarity", [(4, 5), (4, 5)], {}),
    "cosine_similarity_broadcast": ("cosine_similarity", [(4, 1, 5), (1, 3, 5)], dict(dim=-1)),
    "pairwise_distance": ("pairwise_distance", [(4, 5), (4, 5)], {}),
    "pairwise_distance_p1_keepdim": ("pairwise_distance", [(3, 6), (3, 6)], dict(p=1.0, keepdim=True)),
    "pairwise_distance_p3": ("pairwise_distance", [(3, 6), (1, 6)], dict(p=3.0)),
    "batch_norm_weights": ("batch_norm", [(6, 3, 4), None, None, (3,), (3,)], dict(training=True)),
    "batch_norm_2d_input": ("batch_norm", [(8, 5), None, None, (5,), (5,)], dict(training=True, eps=1e-3)),
}
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _arrays(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [None if s is None else rng.standard_normal(s).astype(dtype) for s in shapes]


def _both(arrays):
    ours = [None if a is None else nnlab.tensor(a, requires_grad=True, dtype=a.dtype) for a in arrays]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_gradients_match_torch(case, dtype):
    name, shapes, kwargs = CASES[case]
    ours, theirs = _both(_arrays(shapes, dtype))
    out = getattr(F, name)(*ours, **kwargs)
    expected = getattr(TF, name)(*theirs, **kwargs)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(1).standard_normal(expected.shape).astype(dtype)
    out.backward(nnlab.tensor(g, dtype=dtype))
    expected.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        if a is not None:
            np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_float64(case):
    name, shapes, kwargs = CASES[case]
    ours, _ = _both(_arrays(shapes, np.float64, seed=2))
    fn = getattr(F, name)
    present = [i for i, t in enumerate(ours) if t is not None]

    def call(*given):
        args = list(ours)
        for i, t in zip(present, given):
            args[i] = t
        return fn(*args, **kwargs)

    assert nnlab.gradcheck(call, [ours[i] for i in present])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("spatial", [(), (4,), (3, 2)], ids=["2d", "3d", "4d"])
def test_batch_norm_updates_the_running_statistics_as_torch(spatial, dtype):
    x, w, b = _arrays([(6, 3) + spatial, (3,), (3,)], dtype, seed=3)
    mean, var = np.full(3, 0.5, dtype), np.full(3, 2.0, dtype)
    ours_mean, ours_var = nnlab.tensor(mean.copy(), dtype=dtype), var.copy()  # a Tensor and an array
    t_mean, t_var = torch.tensor(mean), torch.tensor(var)
    out = F.batch_norm(nnlab.tensor(x, dtype=dtype), ours_mean, ours_var, nnlab.tensor(w, dtype=dtype),
                       nnlab.tensor(b, dtype=dtype), training=True, momentum=0.3)
    expected = TF.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(w), torch.tensor(b), training=True,
                             momentum=0.3)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), **TOL[dtype])
    np.testing.assert_allclose(ours_mean.numpy(), t_mean.numpy(), **TOL[dtype])
    np.testing.assert_allclose(ours_var, t_var.numpy(), **TOL[dtype])
    # eval mode normalizes with the updated statistics, weight and bias None (1 and 0)
    x2 = _arrays([(6, 3) + spatial], dtype, seed=4)[0]
    ours_x = nnlab.tensor(x2, requires_grad=True, dtype=dtype)
    theirs_x = torch.tensor(x2, requires_grad=True)
    out = F.batch_norm(ours_x, ours_mean, ours_var)
    expected = TF.batch_norm(theirs_x, t_mean, t_var)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOL[dtype])
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(np.asarray(ours_x.grad), theirs_x.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_embedding_matches_torch_with_a_negative_padding_idx(dtype):
    weight = _arrays([(6, 3)], dtype)[0]
    idx = np.array([[0, 4, 4], [1, 5, 4]])
    ours = nnlab.tensor(weight, requires_grad=True, dtype=dtype)
    theirs = torch.tensor(weight, requires_grad=True)
    out = F.embedding(idx, ours, padding_idx=-2)
    expected = TF.embedding(torch.tensor(idx), theirs, padding_idx=-2)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    g = np.random.default_rng(1).standard_normal(expected.shape).astype(dtype)
    out.backward(nnlab.tensor(g, dtype=dtype))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), **TOL[dtype])
    assert not np.asarray(ours.grad)[4].any()  # the padding row: no gradient


def test_each_form_is_its_layer():
    x = nnlab.randn(4, 3, 8, 8)
    linear = nn.Linear(8, 5, rng=0)
    # nn.Linear stores (in, out); F.linear takes torch's (out, in)
    np.testing.assert_array_equal(F.linear(x, linear.weight.T, linear.bias).numpy(), linear(x).numpy())
    conv = nn.Conv2d(3, 4, 3, padding="same", rng=0)
    np.testing.assert_array_equal(F.conv2d(x, conv.weight, conv.bias, 1, "same").numpy(), conv(x).numpy())
    bn = nn.BatchNorm2d(3)
    out = F.batch_norm(x, bn.running_mean.copy(), bn.running_var.copy(), bn.gamma, bn.beta, training=True)
    np.testing.assert_array_equal(out.numpy(), bn(x).numpy())
    emb = nn.Embedding(7, 2, padding_idx=3, rng=0)
    np.testing.assert_array_equal(F.embedding([[3, 1]], emb.weight, 3).numpy(), emb([[3, 1]]).numpy())
    np.testing.assert_array_equal(F.max_pool2d(x, 2).numpy(), nn.MaxPool2d(2)(x).numpy())
    np.testing.assert_array_equal(F.avg_pool1d(x[:, 0], 3, 2, 1).numpy(), nn.AvgPool1d(3, 2, 1)(x[:, 0]).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_dropout_p_is_torchs_drop_probability(dtype):
    x = nnlab.tensor(np.ones((200, 500)), requires_grad=True, dtype=dtype)
    out = F.dropout(x, 0.2, rng=0)
    values = out.numpy()
    assert out.dtype == dtype
    assert abs((values == 0).mean() - 0.2) < 0.01  # torch's meaning: 20 % dropped, not 20 % kept
    np.testing.assert_allclose(np.unique(values), [0.0, 1.25], rtol=1e-6)
    out.backward(nnlab.tensor(np.full(values.shape, 3.0), dtype=dtype))
    np.testing.assert_allclose(np.asarray(x.grad), 3.0 * values, rtol=1e-6)
    # torch.nn.Dropout(p) is nn.Dropout(rate=p): the same seeded mask
    np.testing.assert_array_equal(values, nn.Dropout(rate=0.2, rng=0)(x).numpy())


def test_dropout_is_reproducible_from_the_seed_and_its_edge_cases():
    x = nnlab.randn(50, 40)
    nnlab.seed(7)
    first = F.dropout(x, 0.5).numpy()
    nnlab.seed(7)
    np.testing.assert_array_equal(F.dropout(x).numpy(), first)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert not F.dropout(x, 1.0).numpy().any()
    with pytest.raises(ConfigError, match="p"):
        F.dropout(x, 1.5)
    with pytest.raises(ConfigError, match="inplace"):
        F.dropout(x, 0.5, inplace=True)


def test_mistakes_name_the_argument():
    x = nnlab.randn(2, 3, 8)
    with pytest.raises(ConfigError, match=r"linear expects 3 features.*\(2, 4\)"):
        F.linear(nnlab.randn(2, 4), nnlab.randn(5, 3))  # an nn.Linear-style (in, out) weight
    with pytest.raises(ConfigError, match="max_pool2d expects input"):
        F.max_pool2d(x, 2)
    with pytest.raises(ConfigError, match="conv2d expects input"):
        F.conv2d(x, nnlab.randn(4, 3, 3, 3))
    with pytest.raises(ConfigError, match="return_indices"):
        F.adaptive_max_pool1d(x, 2, return_indices=True)
    with pytest.raises(ConfigError, match="max_norm"):
        F.embedding([1], nnlab.randn(3, 2), max_norm=1.0)
    with pytest.raises(ConfigError, match="padding_idx"):
        F.embedding([1], nnlab.randn(3, 2), padding_idx=3)
    with pytest.raises(ConfigError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(x, np.zeros(4), np.ones(3), training=True)
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(x, None, None)
