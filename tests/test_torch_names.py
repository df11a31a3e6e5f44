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
