"""The lecture notes' claims about layers and initialization, checked numerically."""

import numpy as np

import nnlab
from nnlab import losses, nn


def _sgd(model, lr):
    for p in model.parameters():
        p.data -= lr * p.grad


def test_equal_initial_weights_never_break_symmetry():
    # Every hidden unit starts with the same incoming and outgoing weights:
    # they get the same gradient at every step and stay identical.
    model = nn.Sequential(
        nn.Linear(4, 5, weight_init=nnlab.init.constant(0.3), bias_init=nnlab.init.constant(0.1)),
        nn.Sigmoid(),
        # every hidden unit has the same outgoing weights (0.3, -0.2)
        nn.Linear(5, 2, weight_init=lambda shape, rng=None, dtype=np.float32: np.tile([[0.3, -0.2]], (5, 1)).astype(dtype)),
    )
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 4)), rng.integers(0, 2, 32)
    first = model[0]
    for _ in range(20):
        losses.cross_entropy(model(X), y).backward()
        grad_w = first.weight.grad
        assert np.abs(grad_w).max() > 0  # the units are learning ...
        assert np.allclose(grad_w, grad_w[:, :1])  # ... all in the same way
        _sgd(model, 0.5)
        model.zero_grad()
    W = first.weight.data
    assert np.allclose(W, W[:, :1]) and not np.allclose(W, 0.3)
    assert np.allclose(model[2].weight.data, model[2].weight.data[:1, :])


def _saturation(weight_init, n=1000, units=200):
    """Fraction of sigmoid units whose local gradient σ'(a) has vanished (< 1e-3 of its 0.25 peak)."""
    layer = nn.Linear(n, units, weight_init=weight_init, rng=0)
    x = nnlab.tensor(np.random.default_rng(1).standard_normal((1, n)))
    h = nn.Sigmoid()(layer(x))
    h.sum().backward()
    # dL/dW[:, j] = x · σ'(a_j): the column norm measures unit j's gradient
    column = np.linalg.norm(layer.weight.grad, axis=0) / np.linalg.norm(x.numpy())
    saturated_output = (h.numpy() < 1e-3) | (h.numpy() > 1 - 1e-3)
    return float((column < 0.25e-3).mean()), float(saturated_output.mean())


def test_large_random_weights_saturate_sigmoids_and_gradients_vanish():
    vanished, saturated = _saturation(nnlab.init.normal(std=1.0))  # "large": pre-activations of std ≈ √1000
    assert vanished > 0.7 and saturated > 0.7  # expected ≈ 0.79: P(|a| > 8.3) for a ~ N(0, 1000)
    vanished, saturated = _saturation("lecun_normal")  # the seeds' 1/√n scaling keeps them in range
    assert vanished < 0.02 and saturated < 0.02


def test_dead_relu_gets_zero_gradient():
    layer = nn.Linear(3, 4, rng=0)
    layer.bias.data[1] = -100.0  # a large update drove this bias far negative
    X = np.random.default_rng(0).standard_normal((16, 3))
    out = nn.ReLU()(layer(X))
    assert np.all(out.numpy()[:, 1] == 0)  # the unit outputs 0 for every input ...
    (out * out).sum().backward()
    assert np.all(layer.weight.grad[:, 1] == 0) and layer.bias.grad[1] == 0  # ... and never learns again
    alive = [j for j in range(4) if j != 1 and out.numpy()[:, j].any()]
    assert alive and all(np.abs(layer.weight.grad[:, j]).sum() > 0 for j in alive)


def test_relu_bias_of_0_01_keeps_units_alive_at_start():
    layer = nn.Linear(3, 4, bias_init=nnlab.init.constant(0.01))
    assert np.all(nn.ReLU()(layer(np.zeros((1, 3)))).numpy() > 0)


def test_dropout_training_mean_matches_eval_output():
    keep, n = 0.8, 40_000
    x = np.array([0.5, -1.0, 2.0, 3.0], dtype=np.float32)
    layer = nn.Dropout(keep=keep, rng=0)
    samples = layer(np.tile(x, (n, 1))).numpy()
    sampling_error = np.abs(x) * np.sqrt((1 - keep) / keep) / np.sqrt(n)
    assert np.all(np.abs(samples.mean(axis=0) - x) < 4 * sampling_error)
    np.testing.assert_array_equal(layer.eval()(x), x)


def test_gaussian_input_noise_acts_like_l2_penalty_on_a_linear_unit():
    # E[(w·(x + ε) − y)²] = (w·x − y)² + σ² Σ w²   (the seeds' derivation)
    sigma, n = 0.3, 200_000
    w = np.array([[0.5], [-1.0], [2.0]], dtype=np.float32)
    x, y = np.array([1.0, 2.0, -0.5], dtype=np.float32), 0.7
    noisy = nn.GaussianNoise(sigma, rng=0)(np.tile(x, (n, 1))).numpy()
    observed = np.mean((noisy @ w - y) ** 2)
    expected = ((x @ w - y) ** 2 + sigma**2 * (w**2).sum()).item()
    assert abs(observed - expected) < 0.02 * expected


def test_tied_autoencoder_weight_gradient_is_sum_of_both_uses():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 6))
    encoder = nn.Linear(6, 3, rng=1, dtype=np.float64)
    decoder = nn.TiedLinear(encoder, bias_init=nnlab.init.normal(0.1), rng=2)
    model = nn.Sequential(encoder, nn.Sigmoid(), decoder)
    assert model.num_parameters() == 18 + 3 + 6  # the weight counted once
    losses.mse_loss(model(X), X).backward()

    # The same network with two separate copies of the weight.
    W_enc = nnlab.tensor(encoder.weight.data, requires_grad=True, dtype=np.float64)
    W_dec = nnlab.tensor(encoder.weight.data, requires_grad=True, dtype=np.float64)
    h = nnlab.functional.sigmoid(nnlab.tensor(X, dtype=np.float64) @ W_enc + encoder.bias.data)
    losses.mse_loss(h @ W_dec.T + decoder.bias.data, X).backward()
    np.testing.assert_allclose(encoder.weight.grad, W_enc.grad + W_dec.grad, rtol=1e-12)
    assert np.abs(W_dec.grad).max() > 0 and np.abs(W_enc.grad).max() > 0
