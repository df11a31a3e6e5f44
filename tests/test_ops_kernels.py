"""The numba kernels of the hot ops (ops/_numba_kernels.py) against their NumPy reference.

BatchNorm's kernels agree with the NumPy passes to rounding (their column sums
add in another order) and give the same bits from run to run.  ``NNLAB_JIT=1`` forces the kernels on these
small arrays, ``0`` the reference.
"""

import numpy as np
import pytest

import nnlab
from nnlab import _jit
from nnlab.ops import _bn_fast
from nnlab.ops.fused import batch_norm

pytestmark = pytest.mark.skipif(not _jit.available(_jit.OPS_KERNELS), reason="numba is not installed")


def bn_run(jit, monkeypatch, dtype=np.float32, shape=(64, 48), x_grad=True, seed=0):
    """Output, gradients and running statistics of one training-mode batch_norm forward and backward."""
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    rng = np.random.default_rng(seed)
    x = nnlab.tensor(rng.standard_normal(shape) * 3 + 1, requires_grad=x_grad, dtype=dtype)
    gamma = nnlab.tensor(rng.uniform(0.5, 2.0, shape[-1]), requires_grad=True, dtype=dtype)
    beta = nnlab.tensor(rng.standard_normal(shape[-1]), requires_grad=True, dtype=dtype)
    running_mean, running_var = np.zeros(shape[-1], dtype), np.ones(shape[-1], dtype)
    y = batch_norm(x, gamma, beta, running_mean, running_var)
    y.backward(rng.standard_normal(shape).astype(dtype))
    return [y.data, x.grad, gamma.grad, beta.grad, running_mean, running_var]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_grad", [True, False])
def test_batch_norm_kernels_agree_with_the_numpy_passes(dtype, x_grad, monkeypatch):
    reference = bn_run("0", monkeypatch, dtype, x_grad=x_grad)
    kernel = bn_run("1", monkeypatch, dtype, x_grad=x_grad)
    assert _bn_fast.kernels(np.zeros((2, 3), dtype), np.ones(3, dtype), np.zeros(3, dtype)) is not None
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(reference, kernel):
        if a is None:
            assert b is None
            continue
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol * max(1.0, float(np.abs(a).max())))


def test_batch_norm_kernels_give_the_same_bits_every_run(monkeypatch):
    first = bn_run("1", monkeypatch, shape=(96, 40), seed=5)
    again = bn_run("1", monkeypatch, shape=(96, 40), seed=5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_batch_norm_kernel_gradients_pass_gradcheck(monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, "1")
    rng = np.random.default_rng(1)
    x = nnlab.tensor(rng.standard_normal((6, 4)), requires_grad=True, dtype=np.float64)
    gamma = nnlab.tensor(rng.uniform(0.5, 2.0, 4), requires_grad=True, dtype=np.float64)
    beta = nnlab.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    assert nnlab.gradcheck(lambda a, g, b: batch_norm(a, g, b), [x, gamma, beta])


def test_batch_norm_keeps_the_reference_for_what_the_kernels_do_not_cover(monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, "1")
    X = np.zeros((8, 6), np.float32)
    G, B = np.ones(6, np.float32), np.zeros(6, np.float32)
    assert _bn_fast.kernels(X[:, ::2], G[::2], B[::2]) is None  # a strided batch
    monkeypatch.setenv(_jit.JIT_ENV, "0")
    assert _bn_fast.kernels(np.zeros((512, 512), np.float32), np.ones(512, np.float32), np.zeros(512, np.float32)) is None
    monkeypatch.setenv(_jit.JIT_ENV, "")
    assert _bn_fast.kernels(X, G, B) is None  # below the size rule


def test_batch_norm_layer_trains_the_same_with_and_without_kernels(monkeypatch):
    """A BatchNorm MLP's loss after a few Adam steps, kernels on and off (channels-first input included)."""
    losses = {}
    for jit in ("0", "1"):
        monkeypatch.setenv(_jit.JIT_ENV, jit)
        nnlab.seed(0)
        model = nnlab.nn.Sequential(nnlab.nn.Linear(5, 8), nnlab.nn.BatchNorm(8), nnlab.nn.ReLU(), nnlab.nn.Linear(8, 3))
        opt = nnlab.optim.Adam(model.parameters(), lr=1e-2)
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((32, 5)).astype(np.float32), rng.integers(0, 3, 32)
        for _ in range(5):
            loss = nnlab.losses.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses[jit] = loss.item()
    assert losses["1"] == pytest.approx(losses["0"], rel=1e-5)


def test_batch_norm_kernel_leaves_running_statistics_of_another_dtype_to_numpy(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((16, 5)).astype(np.float32)
    stats = {}
    for jit in ("0", "1"):
        monkeypatch.setenv(_jit.JIT_ENV, jit)
        running_mean, running_var = np.zeros(5), np.ones(5)  # float64 beside a float32 batch
        gamma, beta = nnlab.tensor(np.ones(5)), nnlab.tensor(np.zeros(5))
        batch_norm(nnlab.tensor(X), gamma, beta, running_mean, running_var)
        stats[jit] = running_mean, running_var
    for a, b in zip(stats["0"], stats["1"]):
        assert b.dtype == np.float64
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("jit", ["0", "1"])
@pytest.mark.parametrize("training", [True, False])
def test_sequential_runs_batchnorm_then_relu_as_one_node_with_the_same_bits(jit, training, monkeypatch):
    """Sequential fuses BatchNorm + ReLU (BatchNorm.forward_relu); layer by layer gives the same bits."""
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    rng = np.random.default_rng(6)
    X = rng.standard_normal((24, 5)).astype(np.float32)
    results = []
    for fused_call in (True, False):
        nnlab.seed(1)
        model = nnlab.nn.Sequential(nnlab.nn.Linear(5, 7), nnlab.nn.BatchNorm(7), nnlab.nn.ReLU(), nnlab.nn.Linear(7, 3))
        model.train(training)
        if fused_call:
            out = model(X)
        else:
            out = X
            for layer in model:
                out = layer(out)
        (out * out).sum().backward()
        results.append([out.data] + [p.grad for p in model.parameters()] + [model[1].running_mean.copy()])
    assert len(results[0]) == 8  # output, 6 gradients, running mean
    for a, b in zip(*results):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_sequential_makes_its_plan_again_after_append():
    nnlab.seed(2)
    model = nnlab.nn.Sequential(nnlab.nn.Linear(4, 6), nnlab.nn.BatchNorm(6))
    X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    before = model(X).data
    assert (before < 0).any()
    model.append(nnlab.nn.ReLU())
    np.testing.assert_array_equal(model(X).data, np.maximum(before, 0))


def test_a_batchnorm_that_becomes_syncbatchnorm_after_the_first_call_still_runs():
    # The plan is made at the first call; convert_sync_batchnorm changes the BatchNorm's class afterwards.
    from nnlab.distributed.sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm

    nnlab.seed(3)
    model = nnlab.nn.Sequential(nnlab.nn.Linear(4, 6), nnlab.nn.BatchNorm(6), nnlab.nn.ReLU())
    X = np.random.default_rng(1).standard_normal((10, 4)).astype(np.float32)
    model.eval()
    before = model(X).data
    convert_sync_batchnorm(model)
    assert type(model[1]) is SyncBatchNorm
    np.testing.assert_array_equal(model(X).data, before)  # one process: SyncBatchNorm is a BatchNorm
    model.train()
    fused = model[1].forward_relu(nnlab.tensor(X) @ model[0].weight + model[0].bias).data
    assert (fused >= 0).all() and fused.shape == (10, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_kernel_gives_the_bits_of_the_reference(dtype, monkeypatch):
    from nnlab.ops.activations import _relu_grad

    monkeypatch.setenv(_jit.JIT_ENV, "1")
    rng = np.random.default_rng(3)
    g = rng.standard_normal((64, 33)).astype(dtype)
    y = np.maximum(rng.standard_normal((64, 33)), 0).astype(dtype)
    g.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, -1.5, np.nan]
    y.flat[:6] = [0.0, 0.0, 1.0, 2.0, 0.0, 3.0]
    y.flat[6:9] = [np.nan, -0.0, -np.inf]  # not > 0: masked, as the reference masks them
    assert _jit.kernel(_jit.OPS_KERNELS, "relu_backward", g.size, dtype,
                       lambda num, types: (types.Array(num, 1, "C"),) * 2 + (num, types.Array(num, 1, "C"))) is not None
    with np.errstate(invalid="ignore"):  # inf·0 in the reference (the kernel raises no warnings)
        got, want = _relu_grad(g, y), g * (y > 0)
    assert got.dtype == want.dtype == dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))  # the same bits, NaN and −0 included
    strided = _relu_grad(g[:, ::2], y[:, ::2])  # not contiguous: the reference itself
    np.testing.assert_array_equal(strided, g[:, ::2] * (y[:, ::2] > 0))


@pytest.mark.parametrize("layer", ["linear_relu", "functional_relu", "batch_norm_relu"])
def test_relu_backward_kernel_leaves_every_gradient_unchanged(layer, monkeypatch):
    from nnlab import nn
    from nnlab import functional as F

    if layer == "batch_norm_relu":
        # BatchNorm's reference in both runs: its own kernels agree with it only to rounding (their column sums
        # run in another order than the BLAS product's, which differs between machines' BLAS builds)
        from nnlab.ops import _bn_fast

        monkeypatch.setattr(_bn_fast, "kernels", lambda X2, G, B: None)

    def grads(jit):
        monkeypatch.setenv(_jit.JIT_ENV, jit)
        nnlab.seed(0)
        rng = np.random.default_rng(1)
        x = nnlab.tensor(rng.standard_normal((40, 24)), requires_grad=True, dtype=np.float32)
        if layer == "linear_relu":
            model = nn.Sequential(nn.Linear(24, 30), nn.ReLU(), nn.Linear(30, 5))
            out = model(x)
        elif layer == "functional_relu":
            model = nn.Sequential(nn.Linear(24, 30))
            out = F.relu(model(x))
        else:
            model = nn.Sequential(nn.Linear(24, 30), nn.BatchNorm(30), nn.ReLU(), nn.Linear(30, 5))
            out = model(x)
        (out * out).sum().backward()
        return [x.grad] + [p.grad for p in model.parameters()]

    for a, b in zip(grads("0"), grads("1")):
        np.testing.assert_array_equal(a, b)
