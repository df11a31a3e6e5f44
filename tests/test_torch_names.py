"""PyTorch's names for nnlab's own functions: manual_seed, nn.utils, LeakyReLU(negative_slope=)."""

import subprocess
import sys

import numpy as np
import pytest

import nnlab
from nnlab.errors import ConfigError


def test_manual_seed_is_seed():
    nnlab.manual_seed(7)
    a = nnlab.nn.Linear(3, 2).weight.data.copy()
    nnlab.seed(7)
    np.testing.assert_array_equal(a, nnlab.nn.Linear(3, 2).weight.data)


def test_nn_utils_clips_as_torch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0).standard_normal((2, 5))
    ours = [nnlab.tensor(np.zeros(5), requires_grad=True) for _ in range(2)]
    theirs = [torch.zeros(5, requires_grad=True) for _ in range(2)]
    for p, q, row in zip(ours, theirs, g):
        p.grad, q.grad = row.astype(np.float32), torch.tensor(row, dtype=torch.float32)
    norm = nnlab.nn.utils.clip_grad_norm_(ours, 1.0)
    assert norm == pytest.approx(float(torch.nn.utils.clip_grad_norm_(theirs, 1.0)), rel=1e-6)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-6)
    nnlab.nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-6)
    code = "import nnlab; print(nnlab.nn.utils.clip_grad_norm_ is nnlab.optim.clip_grad_norm)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "True"
    with pytest.raises(AttributeError, match="no attribute 'utilz'"):
        nnlab.nn.utilz  # noqa: B018


def test_parameters_to_vector_and_back_write_in_place():
    model = nnlab.nn.Sequential(nnlab.nn.Linear(3, 2, rng=0), nnlab.nn.Linear(2, 1, rng=1))
    opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
    vec = nnlab.nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    weights = [p.data for p in model.parameters()]
    nnlab.nn.utils.vector_to_parameters(np.arange(vec.size, dtype=np.float32), model.parameters())
    assert all(p.data is w for p, w in zip(model.parameters(), weights))  # the optimizer's views are kept
    np.testing.assert_array_equal(model[0].weight.data.ravel(), np.arange(6))
    assert opt.param_groups[0]["params"][0] is model[0].weight
    with pytest.raises(ConfigError, match="1-D vector of 11 values"):
        nnlab.nn.utils.vector_to_parameters(np.zeros(3), model.parameters())


def test_leaky_relu_takes_pytorchs_keyword():
    layer = nnlab.nn.LeakyReLU(negative_slope=0.2)
    assert layer.alpha == layer.negative_slope == 0.2 and nnlab.nn.LeakyReLU().alpha == 0.01
    np.testing.assert_allclose(layer(np.array([-1.0, 2.0], np.float32)).data, [-0.2, 2.0])
    assert nnlab.nn.from_spec(nnlab.nn.to_spec(layer)).alpha == 0.2
    with pytest.raises(ConfigError, match="not both"):
        nnlab.nn.LeakyReLU(0.1, negative_slope=0.2)
    with pytest.raises(ConfigError, match="negative_slope"):
        nnlab.nn.LeakyReLU(negative_slope=1.5)


@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (6, 4, 5)), ("BatchNorm2d", (6, 4, 3, 5))])
def test_batchnorm1d_2d_match_torch_and_save_as_themselves(cls, shape, tmp_path):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours = getattr(nnlab.nn, cls)(4, 1e-3, 0.2)  # PyTorch's positional order: eps, then momentum
    theirs = getattr(torch.nn, cls)(4, 1e-3, 0.2)
    assert (ours.eps, ours.momentum) == (1e-3, 0.2)
    model = nnlab.nn.Sequential(ours, nnlab.nn.ReLU())  # the fused BatchNorm + ReLU step
    xt = nnlab.tensor(x, requires_grad=True)
    model(xt).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    torch.relu(theirs(xr)).sum().backward()
    np.testing.assert_allclose(model(x).data, torch.relu(theirs(torch.tensor(x))).detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)
    nnlab.save(model, tmp_path / "m.safetensors")
    loaded = nnlab.load(tmp_path / "m.safetensors")
    assert type(loaded[0]).__name__ == cls and loaded[0].eps == 1e-3
    assert isinstance(loaded[0], nnlab.nn.BatchNorm)


def test_batchnorm2d_refuses_2d_input_as_torch_does():
    layer = nnlab.nn.BatchNorm2d(3)
    for fn in (layer, nnlab.nn.Sequential(layer, nnlab.nn.ReLU())):
        with pytest.raises(ConfigError, match=r"BatchNorm2d expects \(N, C, H, W\) input, got 2-D"):
            fn(np.ones((4, 3), np.float32))
    with pytest.raises(ConfigError, match=r"BatchNorm1d expects \(N, C\) or \(N, C, L\) input, got 4-D"):
        nnlab.nn.BatchNorm1d(3)(np.ones((2, 3, 2, 2), np.float32))


def test_sync_batchnorm_keeps_the_1d_2d_class():
    from nnlab.distributed import convert_sync_batchnorm, revert_sync_batchnorm

    model = nnlab.nn.Sequential(nnlab.nn.BatchNorm1d(3), nnlab.nn.BatchNorm2d(3), nnlab.nn.BatchNorm(3))
    names = [type(m).__name__ for m in convert_sync_batchnorm(model)]
    assert names == ["SyncBatchNorm1d", "SyncBatchNorm2d", "SyncBatchNorm"]
    with pytest.raises(ConfigError, match="BatchNorm2d expects"):
        model[1](np.ones((4, 3), np.float32))
    assert [type(m).__name__ for m in revert_sync_batchnorm(model)] == ["BatchNorm1d", "BatchNorm2d", "BatchNorm"]
    assert nnlab.nn.to_spec(convert_sync_batchnorm(model))["layers"][0]["type"] == "BatchNorm1d"


def test_softmax_modules_take_dim_and_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    for ours, theirs in [(nnlab.nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
                         (nnlab.nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
                         (nnlab.nn.LogSoftmax(1), torch.nn.LogSoftmax(1))]:
        xt = nnlab.tensor(x, requires_grad=True)
        xr = torch.tensor(x, requires_grad=True)
        w = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
        (ours(xt) * nnlab.tensor(w)).sum().backward()
        (theirs(xr) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert repr(nnlab.nn.LogSoftmax(dim=1)) == "LogSoftmax(axis=1)"
    with pytest.raises(ConfigError, match="not both"):
        nnlab.nn.Softmax(0, dim=1)


def test_l1_loss_class_in_nn_and_losses():
    torch = pytest.importorskip("torch")
    assert nnlab.nn.L1Loss is nnlab.losses.L1Loss is nnlab.losses.get("l1").__class__
    p = nnlab.tensor([[1.0, -2.0], [0.5, 0.0]], requires_grad=True)
    t = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    loss = nnlab.nn.L1Loss()(p, t)
    loss.backward()
    tp = torch.tensor(p.data, requires_grad=True)
    ref = torch.nn.L1Loss()(tp, torch.tensor(t))
    ref.backward()
    assert loss.item() == pytest.approx(ref.item())
    np.testing.assert_allclose(p.grad, tp.grad.numpy())
