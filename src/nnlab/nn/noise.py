"""Noise layers, active in training mode only: Dropout and GaussianNoise, each drawing from its own generator.

In a distributed run each rank draws the numbers of the whole global batch and
keeps its own rows (:func:`nnlab.random.draw_for_batch`): K times the draws of
its rows, and the run equals one process with the K-fold batch.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import random as _random
from .._checks import check_float
from ..errors import ConfigError
from ..tensor import make_result
from ._layer_tools import as_input
from .module import Module, elements

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "GaussianNoise"]


class _Random(Module):
    """A layer that draws from its own generator at every training-mode call."""

    def __init__(self, rng):
        super().__init__()
        # None: resolved at each call, so a later nnlab.seed(n) reaches this layer too.
        self._generator = None if rng is None else _random.get_rng(rng)

    @property
    def generator(self) -> np.random.Generator:
        return _random.get_rng(self._generator)

    def reseed(self, rng) -> None:
        """Replace the generator (an int seed, a Generator, or None for the global one)."""
        self._generator = None if rng is None else _random.get_rng(rng)


def inverted_dropout(x, keep: float, generator, mask_shape, owner: str):
    """``x`` with each unit (each cell of ``mask_shape``, broadcast over x) kept with probability ``keep``
    in (0, 1] and scaled by 1/keep; the mask drawn from ``generator`` by :func:`nnlab.random.bernoulli`
    for the global batch (:func:`nnlab.random.draw_for_batch`).  Dropout's forward and ``nn.functional.dropout``.
    """
    X = x.data
    kept = _random.draw_for_batch(partial(_random.bernoulli, generator, keep), mask_shape, owner)
    # One array of 0 and 1/keep in X's dtype serves both passes: forward and backward are one multiply each.
    scale = np.multiply(kept, X.dtype.type(1.0 / keep))
    return make_result(X * scale, (x,), lambda g: (g * scale,))


class Dropout(_Random):
    """Dropout with the meaning fixed by keyword: ``Dropout(keep=0.8)`` or ``Dropout(rate=0.2)``.

    ``keep`` is the seeds' retain probability p (0.5 for hidden units, 0.8
    for inputs); ``rate`` = 1 − keep is PyTorch's and Keras's drop probability.
    Give exactly one.  Inverted dropout: in training mode each unit is kept
    with probability ``keep`` and scaled by 1/keep, so eval mode is the
    identity and the expected output is the same in both (the seeds scale by
    p at test time instead — the same expectation).  Masks come from ``rng``
    (in a distributed run: the global batch's mask, this rank's rows of it)
    through :func:`nnlab.random.bernoulli`: each unit is kept when a uniform
    32-bit integer is below round(keep·2³²), decided from its top byte except on
    a tie.  This replaced ``rng.random(dtype) < keep`` (issue 17),
    which spent a float's 32 random bits per unit and cost ~45 of the layer's
    ~55 µs (forward + backward, now ~29) on a 128 × 256 float32 batch
    (``python -m benchmarks.noise_layers``); the masks for a seed differ from
    earlier versions'.

    >>> import nnlab
    >>> layer = Dropout(keep=0.5, rng=0)
    >>> sorted(set(layer(nnlab.tensor(np.ones(100))).numpy().tolist()))
    [0.0, 2.0]
    >>> layer.eval()(nnlab.tensor([1.0, 2.0])).numpy().tolist()
    [1.0, 2.0]
    """

    def __init__(self, *args, keep=None, rate=None, rng=None):
        name = type(self).__name__
        if args:  # Dropout(0.2): torch.nn.Dropout(0.2) drops 20 %, the notes' p = 0.2 keeps 20 %; make it explicit
            raise ConfigError(
                f"{name} takes its probability by keyword, got the positional value {args[0]!r}: "
                "keep= is the retain probability (the notes' p: 0.8 keeps 80 %), rate= the drop "
                f"probability (torch.nn.{name}(p=0.2) is {name}(rate=0.2))"
            )
        super().__init__(rng)
        if (keep is None) == (rate is None):
            raise ConfigError(
                f"{name} takes exactly one of keep= (retain probability, the seeds' p) "
                f"or rate= (drop probability); got keep={keep!r}, rate={rate!r}"
            )
        if keep is not None:
            self.keep = check_float("keep", keep, 0.0, 1.0, low_open=True, owner=name)
        else:
            self.keep = 1.0 - check_float("rate", rate, 0.0, 1.0, high_open=True, owner=name)

    @property
    def rate(self) -> float:
        return 1.0 - self.keep

    def forward(self, x):
        x = as_input(x, None)
        if not self.training or self.keep == 1.0:
            return x
        return inverted_dropout(x, self.keep, self.generator, self._mask_shape(x.data.shape), type(self).__name__)

    def _mask_shape(self, shape) -> tuple:
        return shape  # one draw per unit

    def _count_flops(self, shape):
        return (elements(shape) if self.training and self.keep < 1.0 else 0), shape

    def spec_args(self) -> dict:
        return {"keep": self.keep}

    def extra_repr(self):
        return f"keep={self.keep}"


class _ChannelDropout(Dropout):
    """Dropout of whole channels: one draw per (sample, channel) of (N, C, *spatial), broadcast over the positions.

    PyTorch's Dropout1d/Dropout2d (spatial dropout): neighbouring positions of a feature map are correlated,
    so dropping single units barely regularizes a convolution; a kept channel is scaled by 1/keep.
    """

    dims = 0

    def _mask_shape(self, shape) -> tuple:
        if len(shape) != self.dims + 2:
            axes = "(N, C, L)" if self.dims == 1 else "(N, C, H, W)"
            raise ConfigError(f"{type(self).__name__} expects input {axes}, got shape {tuple(shape)}")
        return tuple(shape[:2]) + (1,) * self.dims


class Dropout1d(_ChannelDropout):
    """Channel dropout of (N, C, L): ``Dropout1d(rate=0.2)`` is ``torch.nn.Dropout1d(p=0.2)``; see :class:`Dropout`.

    >>> import nnlab
    >>> y = Dropout1d(keep=0.5, rng=0)(nnlab.tensor(np.ones((2, 8, 5)))).numpy()
    >>> bool((y.min(axis=2) == y.max(axis=2)).all()), sorted(set(y.ravel().tolist()))
    (True, [0.0, 2.0])
    """

    dims = 1


class Dropout2d(_ChannelDropout):
    """Channel dropout of (N, C, H, W), PyTorch's Dropout2d with the probability by keyword; see :class:`Dropout`."""

    dims = 2


class GaussianNoise(_Random):
    """Adds 𝒩(0, std²) noise in training mode only (the seeds' input-noise regularizer); identity in eval.

    The noise comes from ``rng`` through :func:`nnlab.random.standard_normal`:
    float32 noise is drawn by the Box–Muller
    transform, ~3 times as fast as ``rng.standard_normal(dtype=float32)`` (issue 17),
    so the noise for a seed differs from earlier versions' (float64 noise does not).
    """

    def __init__(self, std, rng=None):
        super().__init__(rng)
        self.std = check_float("std", std, 0.0, owner="GaussianNoise")

    def forward(self, x):
        x = as_input(x, None)
        if not self.training or self.std == 0.0:
            return x
        X = x.data
        gen, dtype = self.generator, _random.draw_dtype(X.dtype)
        noise = _random.draw_for_batch(partial(_random.standard_normal, gen, dtype=dtype), X.shape, "GaussianNoise")
        noise *= dtype.type(self.std)
        return make_result((X + noise).astype(X.dtype, copy=False), (x,), lambda g: (g,))

    def _count_flops(self, shape):
        return (2 * elements(shape) if self.training and self.std > 0 else 0), shape

    def spec_args(self) -> dict:
        return {"std": self.std}

    def extra_repr(self):
        return f"std={self.std}"
