"""Recurrent layers RNN, LSTM and GRU: the same weights at every time step (parameter sharing across time).

PyTorch's semantics, arguments, parameter names and layouts: ``weight_ih_l{k}`` (G·H, in),
``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G·H,), with PyTorch's gate
orders (LSTM i, f, g, o; GRU r, z, n), all drawn from U(±1/√H) as PyTorch draws them (from ``rng``,
nnlab's seeded generators).  Each layer's whole sequence is one node of the graph
(:func:`nnlab.ops.recurrent.recurrent_layer`).

``forward(x, h0=None)`` returns a tuple, as PyTorch's: ``(output, h_n)`` for RNN and GRU,
``(output, (h_n, c_n))`` for LSTM, so unpack it (``out, h = rnn(x)``).  In a ``Sequential``, put
:class:`~nnlab.nn.LastStep` or :class:`~nnlab.nn.FinalState` right after the layer: they pick one
tensor of the tuple for the layers after it (``nn/recurrent_readout.py``).

``dropout=`` is PyTorch's argument, a probability of *dropping* (``nn.Dropout(rate=...)``'s
meaning, not the notes' retain probability ``keep=``): in training mode the outputs of every layer
but the last go through dropout at that rate.  ``bidirectional=True``: each layer also runs a second
set of weights (``..._reverse``) over the reversed sequence, the two outputs concatenated on the
feature axis (forward first) and the states ordered layer by layer, forward then reverse.
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_dtype, check_float, check_int
from ..errors import ConfigError
from ..ops.recurrent import GATES, recurrent_layer
from ..ops.shape import concatenate, flip, reshape, stack, swapaxes
from ..tensor import as_tensor
from ._layer_tools import as_input
from .module import Module, elements
from .noise import Dropout
from .parameter import Parameter

__all__ = ["RNN", "LSTM", "GRU"]


def _sizes(owner: str, args: dict) -> tuple:
    """(input_size, hidden_size, num_layers, bias, directions) of the spec arguments ``args``, checked."""
    return (check_int("input_size", args.get("input_size"), 1, owner=owner),
            check_int("hidden_size", args.get("hidden_size"), 1, owner=owner),
            check_int("num_layers", args.get("num_layers", 1), 1, owner=owner),
            check_bool("bias", args.get("bias", True), owner=owner),
            2 if check_bool("bidirectional", args.get("bidirectional", False), owner=owner) else 1)


def _shapes(owner: str, gates: int, args: dict) -> dict:
    """PyTorch's parameters in its order: per layer, per direction (``_reverse``), W_ih, W_hh, b_ih, b_hh."""
    n_in, H, layers, bias, directions = _sizes(owner, args)
    shapes = {}
    for k in range(layers):
        for suffix in ("", "_reverse")[:directions]:
            shapes[f"weight_ih_l{k}{suffix}"] = (gates * H, n_in if k == 0 else directions * H)
            shapes[f"weight_hh_l{k}{suffix}"] = (gates * H, H)
            if bias:
                shapes[f"bias_ih_l{k}{suffix}"] = (gates * H,)
                shapes[f"bias_hh_l{k}{suffix}"] = (gates * H,)
    return shapes


def draw_uniform(module: Module, shapes: dict, gen, dtype) -> None:
    """Give ``module`` a Parameter per entry of ``shapes``, in order, drawn from U(±1/√H) with H its
    ``hidden_size``: PyTorch's reset_parameters for the recurrent layers and cells, every weight and bias."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for name, shape in shapes.items():
        setattr(module, name, Parameter(gen.uniform(-bound, bound, shape).astype(dtype), dtype=dtype))


class _RNNBase(Module):
    """What the three layers share; ``mode`` is a key of :data:`nnlab.ops.recurrent.GATES`."""

    mode = "rnn_tanh"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, rng=None, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        args = {"input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers, "bias": bias,
                "bidirectional": bidirectional}
        self.input_size, self.hidden_size, self.num_layers, self.bias, directions = _sizes(name, args)
        self.bidirectional = directions == 2
        self.batch_first = check_bool("batch_first", batch_first, owner=name)
        self.dropout = check_float("dropout", dropout, 0.0, 1.0, high_open=True, owner=name)
        dtype = check_dtype(dtype, owner=name)
        gen = _random.get_rng(rng)
        draw_uniform(self, _shapes(name, GATES[self.mode], args), gen, dtype)
        # dropout between layers: Dropout's masks, kept outside _modules (PyTorch's layer has no child module)
        drop = Dropout(rate=self.dropout, rng=None if rng is None else gen) if self.dropout else None
        self.__dict__["_dropout"] = drop

    def _layer(self, k, suffix):
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return [getattr(self, f"{name}_l{k}{suffix}") for name in names]

    @property
    def _states(self) -> int:
        """Rows of h_0 and h_n: one per layer and direction."""
        return self.num_layers * (2 if self.bidirectional else 1)

    def _check_input(self, shape):
        name, shape = type(self).__name__, tuple(shape)
        if len(shape) not in (2, 3):
            raise ConfigError(f"{name}: expected a 2-D (L, H_in) or 3-D input, got input of shape {shape}")
        if shape[1 if self.batch_first and len(shape) == 3 else 0] == 0:  # no step: no state to return
            raise ConfigError(f"{name}: the sequence needs at least one step, got input of shape {shape}")
        if shape[-1] != self.input_size:
            raise ConfigError(f"{name}: input.size(-1) must be equal to input_size: expected {self.input_size}, "
                              f"got input of shape {shape}")

    def _state(self, state, what, x3, batched):
        """An initial state as (num_layers, N, H) in the weights' dtype: zeros when None, checked otherwise."""
        W = self.weight_ih_l0
        N = x3.data.shape[1]
        expected = (self._states, N, self.hidden_size) if batched else (self._states, self.hidden_size)
        if state is None:
            return as_tensor(np.zeros((self._states, N, self.hidden_size), W.data.dtype))
        state = as_input(state, W)
        if tuple(state.data.shape) != expected:
            raise ConfigError(f"{type(self).__name__}: expected {what} of shape {expected}, got {state.data.shape}")
        if state.data.dtype != W.data.dtype:
            state = state.astype(W.data.dtype)
        return state if batched else reshape(state, (self._states, 1, self.hidden_size))

    def forward(self, x, hx=None):
        x = as_input(x, self.weight_ih_l0)
        self._check_input(x.data.shape)
        batched = x.data.ndim == 3
        W = self.weight_ih_l0
        if x.data.dtype != W.data.dtype:  # a float64 batch must not turn a float32 model's graph float64
            x = x.astype(W.data.dtype)
        if not batched:
            x3 = reshape(x, (x.data.shape[0], 1, x.data.shape[1]))
        else:
            x3 = swapaxes(x, 0, 1) if self.batch_first else x
        lstm = self.mode == "lstm"
        if lstm and hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise ConfigError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        h0 = self._state(hx[0] if lstm and hx is not None else hx, "h_0" if lstm else "hx", x3, batched)
        c0 = self._state(hx[1], "c_0", x3, batched) if lstm and hx is not None else (
            self._state(None, "c_0", x3, batched) if lstm else None)
        T = x3.data.shape[0]
        out, hs, cs = x3, [], []
        for k in range(self.num_layers):
            if k and self._dropout is not None:
                self._dropout.training = self.training
                out = self._dropout(out)
            outs = []
            for d, suffix in enumerate(("", "_reverse") if self.bidirectional else ("",)):
                j = len(hs)  # the state's row: layer k, direction d
                # the reverse direction reads the sequence backwards: its step t is the input's step T − 1 − t
                seq = flip(out, 0) if d else out
                node = recurrent_layer(self.mode, seq, h0[j], *self._layer(k, suffix), c0=c0[j] if lstm else None)
                states = node[:T] if lstm else node
                outs.append(flip(states, 0) if d else states)
                hs.append(node[T - 1])
                if lstm:
                    cs.append(node[T])
            out = concatenate(outs, -1) if len(outs) > 1 else outs[0]
        h_n, c_n = stack(hs), (stack(cs) if lstm else None)
        if not batched:
            out = reshape(out, (T, out.shape[-1]))
            h_n = reshape(h_n, (self._states, self.hidden_size))
            c_n = reshape(c_n, (self._states, self.hidden_size)) if lstm else None
        elif self.batch_first:
            out = swapaxes(out, 0, 1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)

    def _count_flops(self, shape):
        """The products and bias additions, 2·G·H·(in + H) + 2·G·H per step, row and direction
        (the gates' nonlinearities are not counted)."""
        self._check_input(shape)
        steps = elements(shape[:-1])
        G, H, D = GATES[self.mode], self.hidden_size, 2 if self.bidirectional else 1
        flops = 0
        for k in range(self.num_layers):
            n_in = self.input_size if k == 0 else D * H
            flops += D * steps * (2 * G * H * (n_in + H) + (2 * G * H if self.bias else 0))
        return flops, tuple(shape[:-1]) + (D * H,)

    def spec_args(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "bias": self.bias, "batch_first": self.batch_first, "dropout": self.dropout,
                "bidirectional": self.bidirectional,
                "dtype": self.weight_ih_l0.data.dtype.name}

    def extra_repr(self):  # PyTorch's RNNBase.extra_repr
        s = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                             ("bidirectional", False)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        """Parameter shapes for spec ``args``, computed without allocating (checked before a file is loaded)."""
        return _shapes(cls.__name__, GATES[cls.mode], args)


class RNN(_RNNBase):
    """Elman RNN, h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) (``nonlinearity="relu"``: ReLU instead).

    >>> import nnlab
    >>> rnn = RNN(3, 5, num_layers=2, rng=0)
    >>> out, h_n = rnn(nnlab.zeros(7, 2, 3))
    >>> out.shape, h_n.shape
    ((7, 2, 5), (2, 2, 5))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None, dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.__dict__["mode"] = "rnn_" + nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, rng, dtype)
        self.nonlinearity = nonlinearity

    def spec_args(self) -> dict:
        return {**super().spec_args(), "nonlinearity": self.nonlinearity}


class LSTM(_RNNBase):
    """Long short-term memory: gates i, f, g, o; c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t).

    ``forward(x, (h_0, c_0))`` returns ``(output, (h_n, c_n))``.
    """

    mode = "lstm"


class GRU(_RNNBase):
    """Gated recurrent unit: gates r, z and n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));
    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}."""

    mode = "gru"
