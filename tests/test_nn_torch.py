"""BatchNorm against PyTorch over several training steps (running statistics, γ and β moving), then eval;
PReLU's per-channel slopes against torch.nn.PReLU after a convolution.

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


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (2, 3, 4, 5), (2, 3, 4, 3), (2, 3, 3, 3)],
                         ids=["N,C", "N,C,L", "N,C,H,W", "W==C", "H==W==C"])
def test_prelu_per_channel_matches_torch_on_axis_1(shape):
    """One α per channel on axis 1, as torch.nn.PReLU: also when the last axis happens to have C entries."""
    alpha = np.array([0.1, -0.3, 0.6], dtype=np.float32)  # distinct, so a slope on the wrong axis shows
    layer, ref = nn.PReLU(num_parameters=3), torch.nn.PReLU(num_parameters=3)
    layer.alpha.data[...] = alpha
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(alpha))
    x, tx = pair(randn(*shape, seed=sum(shape)))
    out, tout = layer(x), ref(tx)
    assert out.shape == shape
    close(out, tout)
    backward_both(out, tout)
    close(x.grad, tx.grad)
    assert layer.alpha.grad.shape == (3,)
    close(layer.alpha.grad, ref.weight.grad)  # summed over the batch and every position


def test_conv2d_then_per_channel_prelu_trains_as_torch():
    """Conv2d(2 -> 4) on 4x4 images, PReLU(4): W == C, where slopes on the last axis were silently wrong."""
    conv, act = nn.Conv2d(2, 4, 3, padding=1, rng=0), nn.PReLU(0.2, num_parameters=4)
    tconv, tact = torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.PReLU(4, init=0.2)
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(conv.weight.data))
        tconv.bias.copy_(torch.from_numpy(conv.bias.data))
    x, tx = pair(randn(3, 2, 4, 4, seed=5), grad=False)
    for step in range(3):  # SGD steps, so the four slopes move apart
        out, tout = act(conv(x)), tact(tconv(tx))
        close(out, tout)
        loss, tloss = (out * out).mean(), (tout * tout).mean()
        loss.backward()
        tloss.backward()
        close(act.alpha.grad, tact.weight.grad)
        close(conv.weight.grad, tconv.weight.grad)
        for p, tp in ((act.alpha, tact.weight), (conv.weight, tconv.weight), (conv.bias, tconv.bias)):
            p.data -= 0.5 * p.grad
            p.grad = None
            with torch.no_grad():
                tp -= 0.5 * tp.grad
            tp.grad = None
    close(act.alpha.data, tact.weight)
