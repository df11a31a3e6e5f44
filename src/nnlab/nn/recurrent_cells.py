"""Recurrent cells RNNCell, LSTMCell and GRUCell: one time step of nn.RNN, nn.LSTM and nn.GRU, for loops of one's own.

PyTorch's semantics, arguments, parameter names and layouts: ``weight_ih`` (G·H, in), ``weight_hh``
(G·H, H), ``bias_ih`` and ``bias_hh`` (G·H,), with PyTorch's gate orders (LSTM i, f, g, o; GRU r, z,
n with the reset gate applied to W_hn h + b_hn), all drawn from U(±1/√H) as PyTorch draws them (from
``rng``, nnlab's seeded generators).

A step is the sequence layers' own node on a sequence of one step
(:func:`nnlab.ops.recurrent.recurrent_layer` with T = 1): cells and layers share one forward and one
backward, so a loop of cells over a sequence computes what the layer computes over it.

``forward(input, hx=None)``: ``input`` is (N, input_size) or unbatched (input_size,); ``hx`` is the
state of the same batching, (N, H) or (H,), zeros when None.  RNNCell and GRUCell return h'; LSTMCell
takes and returns a pair, ``h', c' = cell(x, (h, c))``.
"""

from __future__ import annotations

import numpy as np

from .. import random as _random
from .._checks import check_dtype
from ..errors import ConfigError
from ..ops.recurrent import GATES, recurrent_layer
from ..ops.shape import reshape
from ..tensor import as_tensor
from ._layer_tools import as_input
from .module import Module, elements
from .recurrent import _shapes, _sizes, draw_uniform

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]


def _cell_shapes(owner: str, gates: int, args: dict) -> dict:
    """PyTorch's cell parameters in its order: those of a one-layer, one-direction layer, without ``_l0``."""
    sizes = {key: args[key] for key in ("input_size", "hidden_size", "bias") if key in args}
    return {name.removesuffix("_l0"): shape for name, shape in _shapes(owner, gates, sizes).items()}


class _CellBase(Module):
    """What the three cells share; ``mode`` is a key of :data:`nnlab.ops.recurrent.GATES`."""

    mode = "rnn_tanh"

    def __init__(self, input_size, hidden_size, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        args = {"input_size": input_size, "hidden_size": hidden_size, "bias": bias}
        self.input_size, self.hidden_size, _, self.bias, _ = _sizes(name, args)
        dtype = check_dtype(dtype, owner=name)
        draw_uniform(self, _cell_shapes(name, GATES[self.mode], args), _random.get_rng(rng), dtype)

    def _weights(self) -> list:
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return [getattr(self, name) for name in names]

    def _input(self, input):
        """``input`` as a (1, N, input_size) sequence of one step in the weights' dtype, and whether it was batched."""
        W = self.weight_ih
        x = as_input(input, W)
        shape = tuple(x.data.shape)
        if len(shape) not in (1, 2):
            raise ConfigError(f"{type(self).__name__}: expected input to be 1-D (input_size,) or 2-D "
                              f"(N, input_size), got input of shape {shape}")
        if shape[-1] != self.input_size:
            raise ConfigError(f"{type(self).__name__}: input.size(-1) must be equal to input_size: expected "
                              f"{self.input_size}, got input of shape {shape}")
        if x.data.dtype != W.data.dtype:  # a float64 batch must not turn a float32 model's graph float64
            x = x.astype(W.data.dtype)
        batched = len(shape) == 2
        return reshape(x, (1, shape[0] if batched else 1, self.input_size)), batched

    def _state(self, state, what: str, rows: int, batched: bool):
        """A state as (N, H) in the weights' dtype: zeros when None, else checked to match the input's batching."""
        W, H = self.weight_ih, self.hidden_size
        if state is None:
            return as_tensor(np.zeros((rows, H), W.data.dtype))
        state = as_input(state, W)
        expected = (rows, H) if batched else (H,)
        if tuple(state.data.shape) != expected:
            given = "a batched" if batched else "an unbatched"
            raise ConfigError(f"{type(self).__name__}: expected {what} of shape {expected} for {given} input, "
                              f"got {what} of shape {tuple(state.data.shape)}")
        if state.data.dtype != W.data.dtype:
            state = state.astype(W.data.dtype)
        return state if batched else reshape(state, (1, H))

    def _count_flops(self, shape):
        """The products and bias additions of one step, 2·G·H·(in + H) + 2·G·H per row (the gates'
        nonlinearities are not counted); the output shape is h''s."""
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ConfigError(f"{type(self).__name__} expects (N, {self.input_size}) or ({self.input_size},) "
                              f"inputs, got input shape {tuple(shape)}")
        G, H = GATES[self.mode], self.hidden_size
        per_row = 2 * G * H * (self.input_size + H) + (2 * G * H if self.bias else 0)
        return elements(shape[:-1]) * per_row, tuple(shape[:-1]) + (H,)

    def spec_args(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias,
                "dtype": self.weight_ih.data.dtype.name}

    def extra_repr(self):  # PyTorch's RNNCellBase.extra_repr
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        return _cell_shapes(cls.__name__, GATES[cls.mode], args)


class _OneStateCell(_CellBase):
    """RNNCell and GRUCell: the state is one tensor h."""

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        rows = x.data.shape[1]
        h = self._state(hx, "hx", rows, batched)
        out = recurrent_layer(self.mode, x, h, *self._weights())  # (1, N, H): the one step's h'
        return reshape(out, (rows, self.hidden_size) if batched else (self.hidden_size,))


class RNNCell(_OneStateCell):
    """An Elman cell, h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (``nonlinearity="relu"``: ReLU instead).

    >>> import nnlab
    >>> cell = RNNCell(3, 5, rng=0)
    >>> h = nnlab.zeros(2, 5)
    >>> for x in nnlab.randn(4, 2, 3, rng=1):  # a loop of one's own over 4 steps of a batch of 2
    ...     h = cell(x, h)
    >>> h.shape
    (2, 5)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", rng=None, dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.__dict__["mode"] = "rnn_" + nonlinearity
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity

    def spec_args(self) -> dict:
        return {**super().spec_args(), "nonlinearity": self.nonlinearity}


class GRUCell(_OneStateCell):
    """A gated recurrent unit's step: gates r, z and n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));
    h' = (1 − z) ⊙ n + z ⊙ h."""

    mode = "gru"


class LSTMCell(_CellBase):
    """A long short-term memory step: gates i, f, g, o; c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').

    ``forward(input, (h, c))`` returns ``(h', c')``; both states are zeros when ``hx`` is None.
    """

    mode = "lstm"

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        rows = x.data.shape[1]
        if hx is not None and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise ConfigError(f"LSTMCell: hx must be a pair (h, c), got {type(hx).__name__}"
                              + (f" of length {len(hx)}" if isinstance(hx, tuple | list) else ""))
        h0, c0 = (None, None) if hx is None else hx
        h = self._state(h0, "hx[0]", rows, batched)
        c = self._state(c0, "hx[1]", rows, batched)
        out = recurrent_layer("lstm", x, h, *self._weights(), c0=c)  # (2, N, H): the step's h', then its c'
        shape = (rows, self.hidden_size) if batched else (self.hidden_size,)
        return reshape(out[0], shape), reshape(out[1], shape)
