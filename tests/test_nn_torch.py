"""Layers, activations and losses against PyTorch: same weights and inputs, forward and every gradient.

float32 on both sides; agreement to 1e-5 relative to the scale of the reference.
"""

import numpy as np
import pytest

import nnlab
from nnlab import losses, nn

torch = pytest.importorskip("torch")


def close(ours, theirs, rtol=1e-5):
    ours = ours.numpy() if isinstance(ours, nnlab.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.dtype == np.float32
    scale = max(float(np.abs(theirs).max()), 1e-30)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


def pair(array, grad=True):
    array = np.asarray(array, dtype=np.float32)
    return nnlab.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def randn(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def backward_both(ours, theirs, seed=1):
    """Backpropagate the same random upstream gradient (1 for a scalar loss) through both."""
    if ours.ndim == 0:
        ours.backward()
        theirs.backward()
        return
    g = randn(*ours.shape, seed=seed)
    ours.backward(g)
    theirs.backward(torch.tensor(g))


def test_linear_matches_torch():
    layer = nn.Linear(7, 5, rng=0, bias_init=nnlab.init.normal(0.3))
    ref = torch.nn.Linear(7, 5)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.data.T))
        ref.bias.copy_(torch.tensor(layer.bias.data))
    x, tx = pair(randn(6, 7))
    out, tout = layer(x), ref(tx)
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)
    close(layer.weight.grad, ref.weight.grad.T)
    close(layer.bias.grad, ref.bias.grad)


def test_batchnorm_training_steps_then_eval_match_torch():
    layer = nn.BatchNorm(4, momentum=0.2, eps=1e-4)
    ref = torch.nn.BatchNorm1d(4, momentum=0.2, eps=1e-4)
    lr = 0.1
    for step in range(4):
        x, tx = pair(randn(16, 4, seed=step, scale=3.0) + step)
        out, tout = layer(x), ref(tx)
        close(out, tout)
        backward_both(out, tout, seed=10 + step)
        close(x.grad, tx.grad)
        close(layer.gamma.grad, ref.weight.grad)
        close(layer.beta.grad, ref.bias.grad)
        close(layer.running_mean, ref.running_mean)
        close(layer.running_var, ref.running_var)
        with torch.no_grad():  # one SGD step on both, so γ and β move
            layer.gamma.data -= lr * layer.gamma.grad
            layer.beta.data -= lr * layer.beta.grad
            ref.weight -= lr * ref.weight.grad
            ref.bias -= lr * ref.bias.grad
        layer.zero_grad()
        ref.zero_grad()
    layer.eval()
    ref.eval()
    x, tx = pair(randn(5, 4, seed=99, scale=2.0))
    out, tout = layer(x), ref(tx)
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)
    close(layer.gamma.grad, ref.weight.grad)
    close(layer.beta.grad, ref.bias.grad)


ACTIVATIONS = [
    ("LeakyReLU", lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU(0.01)),
    ("LeakyReLU-0.2", lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    ("ELU", lambda: nn.ELU(), lambda: torch.nn.ELU()),
    ("ELU-0.5", lambda: nn.ELU(0.5), lambda: torch.nn.ELU(0.5)),
    ("Sigmoid", nn.Sigmoid, torch.nn.Sigmoid),
    ("Tanh", nn.Tanh, torch.nn.Tanh),
    ("ReLU", nn.ReLU, torch.nn.ReLU),
]


@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, ours, theirs):
    x, tx = pair(randn(8, 6, scale=2.0))
    out, tout = ours()(x), theirs()(tx)
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("num_parameters", [1, 6])
def test_prelu_matches_torch(num_parameters):
    layer = nn.PReLU(init=0.25, num_parameters=num_parameters)
    ref = torch.nn.PReLU(num_parameters=num_parameters, init=0.25)
    layer.alpha.data[:] = np.linspace(0.05, 0.5, num_parameters)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.alpha.data))
    x, tx = pair(randn(8, 6, scale=2.0))
    out, tout = layer(x), ref(tx)
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)
    close(layer.alpha.grad, ref.weight.grad)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_softmax_with_temperature_matches_torch(temperature):
    x, tx = pair(randn(5, 7, scale=2.0))
    out = nn.Softmax(temperature=temperature)(x)
    tout = torch.softmax(tx / temperature, dim=-1)
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(reduction):
    x, tx = pair(randn(6, 3))
    t = randn(6, 3, seed=5)
    out = losses.MSELoss(reduction=reduction)(x, t)
    tout = torch.nn.MSELoss(reduction=reduction)(tx, torch.tensor(t))
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_class_targets_with_mapped_smoothing_match_torch(smoothing, reduction):
    K = 5
    x, tx = pair(randn(8, K, scale=3.0))
    y = np.random.default_rng(2).integers(0, K, 8)
    out = losses.CrossEntropyLoss(label_smoothing=smoothing, reduction=reduction)(x, y)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=smoothing * K / (K - 1), reduction=reduction)
    tout = ref(tx, torch.tensor(y))
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_soft_targets_match_torch(smoothing):
    K = 4
    x, tx = pair(randn(6, K, scale=2.0))
    t = np.random.default_rng(3).random((6, K)).astype(np.float32)
    t /= t.sum(axis=1, keepdims=True)
    out = losses.cross_entropy(x, t, label_smoothing=smoothing)
    tout = torch.nn.CrossEntropyLoss(label_smoothing=smoothing * K / (K - 1))(tx, torch.tensor(t))
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


def test_cross_entropy_per_example_matches_torch():
    x, tx = pair(randn(6, 3, scale=2.0))
    y = np.array([0, 2, 1, 1, 0, 2])
    out = losses.cross_entropy(x, y, reduction="none")
    tout = torch.nn.functional.cross_entropy(tx, torch.tensor(y), reduction="none")
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(reduction):
    x, tx = pair(randn(7, 3, scale=4.0))
    t = (np.random.default_rng(4).random((7, 3)) > 0.5).astype(np.float32)
    t[0] = 0.3  # soft labels are allowed too
    out = losses.BCEWithLogitsLoss(reduction=reduction)(x, t)
    tout = torch.nn.BCEWithLogitsLoss(reduction=reduction)(tx, torch.tensor(t))
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)


def test_nll_matches_torch():
    x, tx = pair(randn(6, 4))
    y = np.array([3, 0, 1, 2, 2, 0])
    logp, tlogp = nnlab.functional.log_softmax(x), torch.log_softmax(tx, dim=-1)
    out, tout = losses.nll_loss(logp, y), torch.nn.NLLLoss()(tlogp, torch.tensor(y))
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)
