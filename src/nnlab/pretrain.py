"""Greedy layer-wise pretraining: stacked autoencoders and RBMs (a deep belief net) initializing an MLP.

The notes (lecture 9): "Backpropagation was made popular by Rumelhart et al. in
1986. However when used for really deep networks it was not very successful.
In fact, till 2006 it was very hard to train very deep networks. Typically,
even after a large number of epochs the training did not converge."  What
happened in 2006 was greedy layer-wise pretraining: train the hidden layers one
at a time, each to model the codes of the layers below it, then fine-tune the
whole network with backpropagation.

:func:`greedy_pretrain` works on an MLP given as a ``Sequential`` — hidden
blocks ``Linear, activation[, ...]`` and an output ``Linear`` last — and trains
its hidden ``Linear`` layers in place:

- ``method="autoencoder"``: layer k learns to reconstruct its input, the codes
  of layers 1 … k−1 computed once with those layers fixed: h = f(W x + b),
  x̂ = Wᵀ h + c with a tied decoder (:class:`~nnlab.nn.TiedLinear`) or
  x̂ = V h + c with an untied one, loss ‖x̂ − x‖² averaged; optional denoising
  (Gaussian input noise ``noise_std``, or masking a fraction ``mask_fraction``
  of the inputs to zero), the block's own activation, any optimizer, and
  epochs, batch size, learning rate and noise per layer.
- ``method="rbm"``: each hidden block (``Linear`` + ``Sigmoid``) is the hidden
  layer of a restricted Boltzmann machine trained by contrastive divergence
  (:class:`RBM`); stacked, they form a deep belief net whose weights initialize
  the MLP.

Fine-tuning is then ordinary supervised training of the whole model
(:func:`nnlab.train.fit`); the output layer keeps its random initialization.

>>> import numpy as np, nnlab
>>> from nnlab import nn
>>> model = nn.Sequential(nn.Linear(6, 4, rng=0), nn.Sigmoid(), nn.Linear(4, 3, rng=1), nn.Sigmoid(),
...                       nn.Linear(3, 2, rng=2))
>>> X = np.random.default_rng(0).random((32, 6)).astype(np.float32)
>>> result = greedy_pretrain(model, X, epochs=2, lr=0.01, seed=0)
>>> [len(h["loss"]) for h in result.histories], result.to_rows()[0]["layer"]
([2, 2], 1)
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import numpy as np

from . import losses, nn
from ._checks import check_choice, check_float, check_int
from .errors import ConfigError
from .random import get_rng

__all__ = ["greedy_pretrain", "hidden_blocks", "RBM", "MaskingNoise", "PretrainResult", "make_optimizer"]

METHODS = ("autoencoder", "rbm")


@dataclass
class PretrainResult:
    """Per hidden layer, the :class:`~nnlab.train.History` of its pretraining (``"loss"`` per epoch).

    For autoencoders the loss is the mean squared reconstruction error; for RBMs
    the mean squared error of the one-step reconstruction of the visible units
    (CD-k itself minimizes no loss that can be computed cheaply).
    """

    method: str
    histories: list = field(default_factory=list)

    def to_rows(self) -> list[dict]:
        """One row per (layer, epoch): ``{"phase": "pretrain", "layer": k, "epoch": e, "loss": v}``."""
        return [{"phase": "pretrain", "layer": k, "epoch": e, "loss": v}
                for k, h in enumerate(self.histories, start=1) for e, v in zip(h.epoch, h["loss"])]

    @property
    def final_losses(self) -> list[float]:
        return [h["loss"][-1] for h in self.histories]


class MaskingNoise:
    """Masking corruption of denoising autoencoders: each input value is set to 0 with probability ``fraction``.

    Unlike Dropout nothing is rescaled: the autoencoder must restore the erased values.

    >>> MaskingNoise(0.5, rng=0)(np.ones((2, 4), dtype=np.float32)).tolist()
    [[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, fraction: float, rng=None):
        self.fraction = check_float("mask_fraction", fraction, 0.0, 1.0, high_open=True, owner="MaskingNoise")
        self._rng = get_rng(rng)

    def __call__(self, X_batch: np.ndarray) -> np.ndarray:
        keep = self._rng.random(X_batch.shape, dtype=np.float32) >= self.fraction
        return X_batch * keep.astype(X_batch.dtype)


def make_optimizer(optimizer, params, lr: float):
    """An optimizer from a name (``"sgd"``, ``"adam"``, …) and a learning rate, or from ``optimizer(params)``."""
    from . import optim

    if callable(optimizer):
        return optimizer(params)
    check_choice("optimizer", optimizer, optim.names(with_setting="lr"), owner="pretrain")
    return optim.get(optimizer, params, lr=lr)


def hidden_blocks(model) -> list:
    """The hidden blocks of an MLP ``Sequential``: from each ``Linear`` up to the next; the last ``Linear`` is the output.

    Layers before the first ``Linear`` (input noise or dropout) join the first block.
    """
    if not isinstance(model, nn.Sequential):
        raise ConfigError(f"greedy pretraining needs an nn.Sequential MLP, got {type(model).__name__}")
    layers = list(model)
    starts = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
    if len(starts) < 2:
        raise ConfigError(f"greedy pretraining needs at least one hidden Linear before the output Linear; "
                          f"the model has {len(starts)} Linear layer(s)")
    bounds = [0] + starts[1:]
    return [nn.Sequential(*layers[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _per_layer(value, count: int, name: str) -> list:
    """A setting for every layer: one value for all, or a list with one per hidden layer."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ConfigError(f"pretrain: {name} has {len(value)} values, the model has {count} hidden layers")
        return list(value)
    return [value] * count


def _linear_of(block) -> nn.Linear:
    return next(layer for layer in block if isinstance(layer, nn.Linear))


def _codes(block, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The block's outputs for ``X`` in evaluation mode (fixed lower layers: no noise, no dropout, no graph)."""
    from .train import predict

    return predict(block, X, batch_size=batch_size)


def greedy_pretrain(model, X, method: str = "autoencoder", epochs=10, batch_size=32, lr=1e-3,
                    optimizer="adam", tied: bool = True, decoder_activation: str = "auto", noise_std=0.0,
                    mask_fraction=0.0, cd_k: int = 1,
                    visible: str = "bernoulli", seed: int = 0, verbose: int = 0) -> PretrainResult:
    """Pretrain the hidden layers of the MLP ``model`` in place, one at a time, on the unlabelled rows ``X``.

    ``epochs``, ``batch_size``, ``lr``, ``noise_std`` and ``mask_fraction`` take one
    value or a list with one per hidden layer.  ``optimizer`` is a name or a
    callable ``params -> Optimizer``.  ``tied`` (autoencoders): decoder Wᵀ (a
    :class:`~nnlab.nn.TiedLinear`) or a decoder of its own, discarded afterwards.
    ``decoder_activation``: ``"linear"`` (x̂ = Wᵀh + c), ``"same"`` (x̂ = f(Wᵀh + c)
    with the block's activation f) or ``"auto"``: linear for the first layer, whose
    inputs are unbounded, and f above it, whose inputs are codes in f's range.  Why
    f: a sigmoid has slope 1/4 at 0, so a linear decoder lets each layer reproduce
    its input with codes of half its spread, and six layers up the codes are
    constant (measured: code std 0.12 → 7e-6 over six 64-unit layers); through a
    sigmoid decoder the slopes cancel and the spread is kept.
    ``cd_k`` and ``visible`` (``"bernoulli"`` for inputs in [0, 1], ``"gaussian"``
    for standardized inputs; first layer only) are for RBMs.  Returns a
    :class:`PretrainResult` with each layer's loss curve.

    Every random number comes from ``seed``: the same model and ``seed`` give the
    same weights, also when hidden blocks hold ``Dropout`` or ``GaussianNoise``
    layers that draw from nnlab's global generator (they draw from the layer's
    seed while it is pretrained, and the global generator is left as it was).
    """
    check_choice("method", method, METHODS, owner="greedy_pretrain")
    check_choice("decoder_activation", decoder_activation, ("auto", "linear", "same"), owner="greedy_pretrain")
    blocks = hidden_blocks(model)
    n = len(blocks)
    settings = {name: _per_layer(value, n, name) for name, value in
                (("epochs", epochs), ("batch_size", batch_size), ("lr", lr), ("noise_std", noise_std),
                 ("mask_fraction", mask_fraction))}
    dtype = _linear_of(blocks[0]).weight.data.dtype
    codes = np.ascontiguousarray(getattr(X, "X", X), dtype=dtype)
    result = PretrainResult(method)
    for k, block in enumerate(blocks):
        layer_settings = {name: values[k] for name, values in settings.items()}
        check_int("epochs", layer_settings["epochs"], 1, owner=f"pretrain layer {k + 1}")
        check_int("batch_size", layer_settings["batch_size"], 1, owner=f"pretrain layer {k + 1}")
        layer_seed = int(seed) * 1009 + k
        if method == "autoencoder":
            squash = decoder_activation == "same" or (decoder_activation == "auto" and k > 0)
            history = _train_autoencoder(block, codes, tied, squash, optimizer, layer_seed, **layer_settings)
        else:
            history = _train_rbm(block, codes, optimizer, cd_k, visible if k == 0 else "bernoulli", layer_seed,
                                 **layer_settings)
        result.histories.append(history)
        if verbose:
            print(f"pretrain layer {k + 1}/{n} ({method}): loss {history['loss'][-1]:.5f}")
        if k + 1 < n:
            codes = _codes(block, codes)
    return result


def _activation_of(block):
    kinds = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.PReLU, nn.Identity)
    found = [layer for layer in block if isinstance(layer, kinds)]
    if not found:
        raise ConfigError(f"decoder_activation='same' needs an activation in the hidden block "
                          f"{[type(layer).__name__ for layer in block]}")
    return copy.deepcopy(found[0])


def _train_autoencoder(block, codes, tied, squash, optimizer, seed, epochs, batch_size, lr, noise_std,
                       mask_fraction):
    from .data import GaussianNoiseAugment
    from .train import fit

    encoder = _linear_of(block)
    rng = np.random.default_rng(seed)
    if tied:
        decoder = nn.TiedLinear(encoder, rng=rng)
    else:
        decoder = nn.Linear(encoder.out_features, encoder.in_features, rng=rng, dtype=encoder.weight.data.dtype)
    autoencoder = nn.Sequential(*block, decoder, *([_activation_of(block)] if squash else []))
    augment = []
    if check_float("noise_std", noise_std, 0.0, owner="pretrain"):
        augment.append(GaussianNoiseAugment(noise_std, rng=rng))
    if check_float("mask_fraction", mask_fraction, 0.0, 1.0, high_open=True, owner="pretrain"):
        augment.append(MaskingNoise(mask_fraction, rng=rng))
    opt = make_optimizer(optimizer, list(autoencoder.parameters()), lr)
    # Inputs are corrupted per batch (augment); the targets stay the clean codes.
    with _global_generator_from(seed):
        return fit(autoencoder, losses.mse_loss, opt, (codes, codes), epochs=epochs, batch_size=batch_size,
                   metrics=(), seed=seed, augment=augment or None, verbose=0)


@contextlib.contextmanager
def _global_generator_from(seed: int):
    """Within the body nnlab's global generator draws from ``seed``; afterwards it is as it was.

    The block's own noise layers (``Dropout(keep=...)``, ``GaussianNoise`` without
    an ``rng``) draw from the global generator in training mode: without this, the
    same ``seed`` gave different weights from one call to the next, and pretraining
    moved the generator that the fine-tuning after it draws from.  The stream is
    one spawned from ``seed``, not the fit shuffle's ``default_rng(seed)`` itself.
    The generator object stays the same (its state is swapped), so a layer given
    ``rng=nnlab.random.get_rng()`` still shares it.
    """
    bits = get_rng().bit_generator
    saved = bits.state
    bits.state = type(bits)(np.random.SeedSequence(seed).spawn(1)[0]).state
    try:
        yield
    finally:
        bits.state = saved


class RBM(nn.Module):
    """A restricted Boltzmann machine whose hidden layer is an existing ``Linear`` (weights shared, not copied).

    Energy E(v, h) = −bᵀv − cᵀh − vᵀWh with W = ``linear.weight`` (visible × hidden),
    c = ``linear.bias`` and b a visible bias of its own; p(h_j = 1 | v) = σ(vᵀW + cᵀ)_j
    and p(v_i = 1 | h) = σ(W h + b)_i (``visible="gaussian"``: the mean W h + b).

    Contrastive divergence CD-k (Hinton 2002) approximates the log-likelihood
    gradient by ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_k, the second term after k steps of Gibbs
    sampling started at the data; hidden states are sampled, visible ones kept
    as probabilities, and the last hidden step uses probabilities (Hinton's
    practical guide).  :meth:`cd_gradients` stores the negative of that estimate
    as the parameters' ``.grad``, so any nnlab optimizer can take the step.

    >>> layer = nn.Linear(4, 3, rng=0)
    >>> rbm = RBM(layer, rng=0)
    >>> v = np.random.default_rng(1).random((5, 4)).astype(np.float32)
    >>> error = rbm.cd_gradients(v, k=1)
    >>> rbm.weight is layer.weight, layer.weight.grad.shape, error > 0
    (True, (4, 3), True)
    """

    def __init__(self, linear, visible: str = "bernoulli", rng=None):
        super().__init__()
        if not isinstance(linear, nn.Linear) or linear.bias is None:
            raise ConfigError("RBM needs a Linear layer with a bias (its hidden units)")
        self.visible = check_choice("visible", visible, ("bernoulli", "gaussian"), owner="RBM")
        self.weight, self.hidden_bias = linear.weight, linear.bias
        self.visible_bias = nn.Parameter(np.zeros(linear.in_features), dtype=linear.weight.data.dtype)
        self._rng = get_rng(rng)

    def hidden_probabilities(self, v: np.ndarray) -> np.ndarray:
        return _sigmoid(v @ self.weight.data + self.hidden_bias.data)

    def visible_mean(self, h: np.ndarray) -> np.ndarray:
        pre = h @ self.weight.data.T + self.visible_bias.data
        return pre if self.visible == "gaussian" else _sigmoid(pre)

    def _sample(self, p: np.ndarray) -> np.ndarray:
        return (self._rng.random(p.shape, dtype=np.float32) < p).astype(p.dtype)

    def cd_gradients(self, v0: np.ndarray, k: int = 1) -> float:
        """Set ``.grad`` of W, b, c to minus the CD-k estimate on the batch ``v0``; return the reconstruction MSE."""
        check_int("k", k, 1, owner="RBM.cd_gradients")
        n = v0.dtype.type(1.0 / len(v0))
        p_h0 = self.hidden_probabilities(v0)
        h, reconstruction_error = self._sample(p_h0), None
        for step in range(k):
            v = self.visible_mean(h)
            if step == 0:
                reconstruction_error = float(np.mean((v - v0) ** 2))
            p_h = self.hidden_probabilities(v)
            h = self._sample(p_h)
        grads = {self.weight: (v.T @ p_h - v0.T @ p_h0) * n,
                 self.hidden_bias: (p_h - p_h0).sum(axis=0) * n,
                 self.visible_bias: (v - v0).sum(axis=0) * n}
        for p, g in grads.items():
            if p.grad is None:
                p.grad = g.astype(p.data.dtype, copy=False)
            else:
                p.grad[...] = g
        return reconstruction_error


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = ½(1 + tanh(x/2)): no overflow for large |x|, and the input's dtype kept."""
    out = np.multiply(x, x.dtype.type(0.5))
    np.tanh(out, out=out)
    out += 1
    out *= x.dtype.type(0.5)
    return out


def _train_rbm(block, codes, optimizer, cd_k, visible, seed, epochs, batch_size, lr, noise_std, mask_fraction):
    from .train import History

    if not any(isinstance(layer, nn.Sigmoid) for layer in block):
        raise ConfigError("method='rbm' needs sigmoid hidden units (Linear followed by Sigmoid in every hidden "
                          f"block); got a block {[type(layer).__name__ for layer in block]}")
    if noise_std or mask_fraction:
        raise ConfigError("pretrain: noise_std and mask_fraction apply to autoencoders, not to RBMs")
    rng = np.random.default_rng(seed)
    rbm = RBM(_linear_of(block), visible=visible, rng=rng)
    opt = make_optimizer(optimizer, [rbm.weight, rbm.hidden_bias, rbm.visible_bias], lr)
    history = History()
    for epoch in range(epochs):
        order = rng.permutation(len(codes))
        total = 0.0
        for start in range(0, len(codes), batch_size):
            batch = codes[order[start:start + batch_size]]
            total += rbm.cd_gradients(batch, k=cd_k) * len(batch)
            opt.step()
        history.append(epoch + 1, {"loss": total / len(codes)})
    for p in (rbm.weight, rbm.hidden_bias):
        p.grad = None  # CD's estimates are not gradients of the supervised loss that comes next
    return history
