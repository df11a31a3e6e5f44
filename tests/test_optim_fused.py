"""The one-pass update kernels (optim/_fused.py) give the bits of the NumPy reference; the gradient shortcuts
of _leafgrad.py (pending zeros, products computed into .grad) give the numbers of the plain engine."""

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.losses import cross_entropy
from nnlab.optim import SGD, Adagrad, Adam, AdamW, RMSProp, _fused

KERNEL = {"adam": "adam", "adam_l2": "adam", "adamw": "adam", "rmsprop": "rmsprop", "adagrad": "adagrad",
          "momentum": "momentum", "nesterov": "momentum"}
RULES = {
    "adam": lambda p: Adam(p, lr=1e-2),
    "adam_l2": lambda p: Adam(p, lr=1e-2, weight_decay=0.1),
    "adamw": lambda p: AdamW(p, lr=1e-2),
    "rmsprop": lambda p: RMSProp(p, lr=1e-3, beta=0.8),
    "adagrad": lambda p: Adagrad(p, lr=1e-2),
    "momentum": lambda p: SGD(p, lr=1e-2, momentum=0.9),
    "nesterov": lambda p: SGD(p, lr=1e-2, momentum=0.9, nesterov=True),
}


def trajectory(make, jit, monkeypatch, dtype, n=3000, steps=6):
    """Weights and state after ``steps`` updates on gradients spanning 16 decades, the kernels on or off."""
    monkeypatch.setenv(_fused.JIT_ENV, jit)
    rng = np.random.default_rng(0)
    p = nnlab.tensor(rng.standard_normal(n), requires_grad=True, dtype=dtype)
    opt = make([p])
    for _ in range(steps):
        opt.zero_grad()
        p.grad = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)).astype(dtype)
        opt.step()
    return [p.data.copy()] + [buf.copy() for buf in opt._flats[0][0].state.values()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(RULES))
def test_fused_kernel_gives_the_bits_of_the_numpy_reference(name, dtype, monkeypatch):
    if not _fused.available():
        pytest.skip("numba is not installed: only the NumPy reference runs")
    reference = trajectory(RULES[name], "0", monkeypatch, dtype)
    fused = trajectory(RULES[name], "1", monkeypatch, dtype)
    assert _fused.kernel(KERNEL[name], 1, dtype) is not None  # the kernel compiled and ran
    for a, b in zip(reference, fused):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_kernels_follow_the_size_threshold_and_the_switch(monkeypatch):
    monkeypatch.setenv(_fused.JIT_ENV, "0")
    assert _fused.kernel("adam", 10**9) is None
    monkeypatch.setenv(_fused.JIT_ENV, "")
    assert _fused.kernel("adam", _fused.MIN_ELEMENTS - 1) is None


def mlp_run(zero, steps=4, tie=False):
    """Weights and gradients of a small MLP after ``steps`` Adam steps; ``zero(opt, model)`` zeros the gradients."""
    nnlab.seed(3)
    first = nn.Linear(6, 5)
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 3))
    unused = nn.Linear(2, 2)  # in the optimizer, never reached by the loss
    params = list(model.parameters()) + list(unused.parameters())
    opt = Adam(params, lr=1e-2)
    rng = np.random.default_rng(0)
    grads = []
    for t in range(steps):
        x, y = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
        if t == 0:  # give the unused layer a gradient once: it then steps with zeros, as in PyTorch
            (unused(x[:, :2]).sum()).backward()
        zero(opt, model)
        out = model(x)
        if tie:  # a parameter used twice in one graph: its contributions add
            out = out + first(x)[:, :3]
        cross_entropy(out, y).backward()
        grads.append([None if p.grad is None else p.grad.copy() for p in params])
        opt.step()
    return [p.data.copy() for p in params], grads


def eager_fill(opt, model):
    """The old zero_grad: every gradient filled with zeros, then accumulated into."""
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                p.grad[...] = 0


@pytest.mark.parametrize("tie", [False, True])
def test_pending_zeros_and_products_into_grad_give_the_same_numbers(tie):
    weights, grads = mlp_run(lambda opt, model: opt.zero_grad(), tie=tie)
    ref_weights, ref_grads = mlp_run(eager_fill, tie=tie)
    for a, b in zip(weights, ref_weights):
        np.testing.assert_array_equal(a, b)
    for step, ref in zip(grads, ref_grads):
        for a, b in zip(step, ref):
            np.testing.assert_array_equal(a, b)
    assert np.all(grads[-1][-1] == 0) and np.all(grads[-1][-2] == 0)  # the unused layer: zeros, not stale values


def test_a_gradient_read_after_zero_grad_reads_zeros_and_accumulation_still_adds():
    w = nn.Parameter(np.ones(3))
    opt = SGD([w], lr=0.1)
    (w * 2.0).sum().backward()
    opt.step()  # binds .grad to the optimizer's buffer
    opt.zero_grad()
    (w * 2.0).sum().backward()  # stored into the buffer
    assert np.shares_memory(w.grad, opt.grad_buffers()[0])
    opt.zero_grad()
    assert w.stored_grad() is not None and np.all(w.stored_grad() == 2.0)  # not written yet
    assert np.all(w.grad == 0)  # but reads as zeros
    opt.zero_grad()
    (w * 2.0).sum().backward()
    (w * 3.0).sum().backward()  # a second backward without zero_grad accumulates
    np.testing.assert_array_equal(w.grad, [5.0, 5.0, 5.0])
    w.grad = None
    opt.zero_grad()
    assert w.grad is None


def test_zero_grad_rebinds_a_replaced_gradient_and_leaves_a_none_one():
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    opt = SGD([a, b], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    a.grad = np.full(3, 7.0)  # replaced by the user: not the optimizer's buffer any more
    b.grad = None
    opt.zero_grad()
    assert np.shares_memory(a.stored_grad(), opt.grad_buffers()[0]) and np.all(a.grad == 0)
    assert b.grad is None
    opt.zero_grad()  # twice in a row: still zeros, still pending
    (a * 4.0).sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 4.0, 4.0])
    opt.step()
    np.testing.assert_allclose(a.data, 1 - 0.1 - 0.4)
