"""Greedy layer-wise pretraining: stacked autoencoders (tied/untied, denoising) and RBMs by CD-k."""

import numpy as np
import pytest

import nnlab
from nnlab import datasets, losses, nn, optim
from nnlab.errors import ConfigError
from nnlab.pretrain import RBM, MaskingNoise, greedy_pretrain, hidden_blocks
from nnlab.train import fit

X_DIGITS, Y_DIGITS = datasets.load("digits")
X_DIGITS = (X_DIGITS / 16.0).astype(np.float32)


def deep(depth=3, width=16, activation=nn.Sigmoid, std=0.01, seed=0, inputs=64):
    nnlab.seed(seed)
    layers, w = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(w, width, weight_init=nn.init.normal(std)), activation()]
        w = width
    return nn.Sequential(*layers, nn.Linear(w, 10, weight_init=nn.init.normal(std)))


@pytest.mark.parametrize("tied", [True, False])
def test_autoencoders_train_every_hidden_layer_in_place_and_leave_the_output_layer(tied):
    model = deep()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    result = greedy_pretrain(model, X_DIGITS[:300], epochs=[3, 2, 2], lr=0.01, tied=tied, seed=0)
    assert [len(h["loss"]) for h in result.histories] == [3, 2, 2]
    for h in result.histories:
        assert h["loss"][-1] < h["loss"][0]
    after = model.state_dict()
    assert list(after) == list(before)  # no decoder left behind in the model
    for k in ("0.weight", "2.weight", "4.weight"):
        assert not np.array_equal(after[k], before[k])
    np.testing.assert_array_equal(after["6.weight"], before["6.weight"])
    assert [row["layer"] for row in result.to_rows()] == [1] * 3 + [2] * 2 + [3] * 2


def test_same_seed_same_weights_and_denoising_changes_them():
    runs = []
    for mask in (0.0, 0.0, 0.3):
        model = deep(depth=2)
        greedy_pretrain(model, X_DIGITS[:200], epochs=2, lr=0.01, mask_fraction=mask, noise_std=0.1, seed=3)
        runs.append(model.state_dict()["0.weight"])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_noise_layers_on_the_global_generator_repeat_with_the_seed_and_leave_it_alone():
    """Dropout()/GaussianNoise() in a hidden block drew from nnlab's global generator: the same seed gave
    other weights on the next call, and pretraining moved the generator fine-tuning draws from."""
    def noisy():
        model = deep(depth=2, width=12)
        layers = list(model)
        return nn.Sequential(nn.GaussianNoise(0.05), *layers[:2], nn.Dropout(keep=0.8), *layers[2:])

    runs = []
    for seed in (3, 3, 4):
        nnlab.seed(11)
        model = noisy()
        before = nnlab.random.get_rng().bit_generator.state
        greedy_pretrain(model, X_DIGITS[:120], epochs=2, lr=0.01, seed=seed)
        assert nnlab.random.get_rng().bit_generator.state == before
        runs.append(model.state_dict())
        nnlab.random.get_rng().random(1000)  # a different global state before the next run changes nothing
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
    assert not np.array_equal(runs[0]["1.weight"], runs[2]["1.weight"])
    # the noise is really applied: the same model without it pretrains to other weights
    nnlab.seed(11)
    plain = deep(depth=2, width=12)
    greedy_pretrain(plain, X_DIGITS[:120], epochs=2, lr=0.01, seed=3)
    assert not np.array_equal(plain.state_dict()["0.weight"], runs[0]["1.weight"])


def test_masking_noise_zeroes_about_the_fraction_and_rescales_nothing():
    out = MaskingNoise(0.25, rng=0)(np.ones((200, 50), dtype=np.float32))
    assert set(np.unique(out)) <= {0.0, 1.0} and out.dtype == np.float32
    assert abs((out == 0).mean() - 0.25) < 0.02


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="epochs has 2 values, the model has 3 hidden layers"):
        greedy_pretrain(deep(), X_DIGITS[:50], epochs=[1, 1])
    with pytest.raises(ConfigError, match="method must be one of"):
        greedy_pretrain(deep(), X_DIGITS[:50], method="pca")
    with pytest.raises(ConfigError, match="needs sigmoid hidden units"):
        greedy_pretrain(deep(activation=nn.Tanh), X_DIGITS[:50], method="rbm", epochs=1)
    with pytest.raises(ConfigError, match="at least one hidden Linear"):
        hidden_blocks(nn.Sequential(nn.Linear(3, 2)))


def test_cd1_gradients_follow_the_formula():
    """⟨v hᵀ⟩_data − ⟨v hᵀ⟩_1 with sampled h0, mean-field v1 and p(h|v1), re-derived with the same draws."""
    rng = np.random.default_rng(0)
    layer = nn.Linear(5, 3, rng=1, dtype=np.float64)
    layer.bias.data[...] = rng.standard_normal(3)
    rbm = RBM(layer, rng=7)
    rbm.visible_bias.data[...] = rng.standard_normal(5)
    v0 = rng.random((8, 5))
    rbm.cd_gradients(v0, k=1)
    W, b, c = layer.weight.data, rbm.visible_bias.data, layer.bias.data
    sig = lambda z: 1 / (1 + np.exp(-z))
    draws = np.random.default_rng(7)
    p_h0 = sig(v0 @ W + c)
    h0 = (draws.random(p_h0.shape, dtype=np.float32) < p_h0).astype(float)
    v1 = sig(h0 @ W.T + b)
    p_h1 = sig(v1 @ W + c)
    np.testing.assert_allclose(layer.weight.grad, -(v0.T @ p_h0 - v1.T @ p_h1) / 8, rtol=1e-10)
    np.testing.assert_allclose(layer.bias.grad, -(p_h0 - p_h1).mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(rbm.visible_bias.grad, -(v0 - v1).mean(axis=0), rtol=1e-10)


def test_rbm_stack_lowers_reconstruction_error_with_any_optimizer():
    model = deep(depth=2, width=32, std=0.01)
    result = greedy_pretrain(model, X_DIGITS[:400], method="rbm", epochs=4, lr=0.05, cd_k=2,
                             optimizer=lambda params: optim.SGD(params, lr=0.1, momentum=0.5), seed=0)
    for h in result.histories:
        assert h["loss"][-1] < h["loss"][0]
    assert all(p.grad is None for p in model.parameters())


def test_pretraining_rescues_a_deep_sigmoid_net_that_backprop_leaves_stalled():
    """The notes' story up to 2006, small: 5 sigmoid layers from N(0, 0.01²) stay at ln 10; pretrained they learn."""
    final = {}
    for method in ("none", "autoencoder"):
        model = deep(depth=5, width=32, seed=1)
        if method != "none":
            greedy_pretrain(model, X_DIGITS, epochs=4, lr=0.01, seed=1)
        h = fit(model, losses.cross_entropy, optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                (X_DIGITS, Y_DIGITS), epochs=8, batch_size=32, seed=1, verbose=0)
        final[method] = h["loss"][-1]
    assert final["none"] > 2.2  # stalled near ln 10 = 2.303
    assert final["autoencoder"] < final["none"] - 0.5
