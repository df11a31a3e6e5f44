"""BatchNorm against PyTorch over several training steps (running statistics, γ and β moving), then eval.

float32 on both sides; agreement to 1e-5 relative to the scale of the reference.  Single calls of every
layer, activation and loss against PyTorch: the rows of tests/test_table_*.py.
"""

import numpy as np
import pytest

import nnlab
from nnlab import nn

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
