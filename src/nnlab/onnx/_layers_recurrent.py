"""Converters for the recurrent layers RNN, LSTM and GRU: one ONNX RNN/LSTM/GRU node per layer.

ONNX's recurrent operators take ``W`` (D, G·H, in), ``R`` (D, G·H, H) and ``B`` (D, 2·G·H) = [W_b, R_b]
per direction D, as PyTorch's (and nnlab's) weights but with other gate orders: LSTM i, o, f, c
(nnlab's i, f, g, o), GRU z, r, h (nnlab's r, z, n; ``linear_before_reset=1`` is PyTorch's reset
rule, r ⊙ (W_hn h + b_hn)).  The node reads time-major (T, N, in) and gives Y (T, D, N, H), which
becomes the next layer's (T, N, D·H) input, the forward direction's features first, as nnlab
concatenates them.  ``layout=1`` (batch-major) is not used: onnxruntime's CPU kernels refuse it,
so a ``batch_first`` layer's input and output are transposed instead.  The initial states are
zeros (the graph has one input), and dropout between layers is the identity (eval mode).

The layer returns PyTorch's tuple, which becomes the graph's outputs ``output``, ``h_n``
(and ``c_n``), or the input of a LastStep or FinalState right after it, which picks one tensor:
a Gather of the last step of the output sequence, or of the last layer's rows of h_n (both directions
concatenated, forward first).  Any other layer after a recurrent one is refused (:func:`check_placement`).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..errors import ConfigError
from ..nn.recurrent_readout import final_states
from ._layers import leaf

RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)
#: for each nnlab mode, nnlab's gate blocks in ONNX's order
_GATES = {"rnn_tanh": (0,), "rnn_relu": (0,), "lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}


READOUTS = (nn.LastStep, nn.FinalState)  # the layers that take the tuple and give one tensor


def check_placement(model) -> None:
    """Refuse a recurrent layer whose tuple would reach a layer other than LastStep or FinalState: it must be
    the model, end it, or be directly followed by one of those inside a Sequential; and a FinalState must
    directly follow a recurrent layer (nothing else gives it the tuple)."""
    ends, m = set(), model
    while True:  # the model, its last layer if it is a Sequential, that one's last layer, ...
        ends.add(id(m))
        if type(m) is not nn.Sequential or not len(m):
            break
        m = list(m)[-1]
    read, fed = set(), set()  # recurrent layers followed by a readout; FinalStates that follow a recurrent layer
    for module in model.modules():
        if type(module) is nn.Sequential:
            layers = list(module)
            for first, second in zip(layers, layers[1:]):
                if isinstance(first, RECURRENT) and type(second) in READOUTS:
                    read.add(id(first))
                    fed.add(id(second))
    for where, module in model.named_modules():
        if isinstance(module, RECURRENT) and id(module) not in ends | read:
            kind = type(module).__name__
            result = "(output, (h_n, c_n))" if kind == "LSTM" else "(output, h_n)"
            raise ConfigError(f"nnlab.onnx.export: {kind} at {where!r} cannot be exported there: it returns "
                              f"PyTorch's tuple {result}, which becomes the graph's outputs only when the model "
                              f"ends with the layer (a layer after it, or a container around it, would get the "
                              f"tuple); put nn.LastStep or nn.FinalState right after it in the Sequential, or "
                              f"export the model up to and including the {kind}")
        if type(module) is nn.FinalState and id(module) not in fed:
            raise ConfigError(f"nnlab.onnx.export: FinalState at {where!r} cannot be exported there: it reads a "
                              f"recurrent layer's tuple, so it must come right after an RNN, LSTM or GRU in a "
                              f"Sequential")


def _gate_blocks(array, order, H):
    """``array`` (G·H, ...) with its gate blocks of H rows in ``order``."""
    return np.concatenate([array[k * H:(k + 1) * H] for k in order])


def _weights(m, g, k):
    """The ONNX inputs W, R (and B) of layer ``k``, both directions stacked on a leading axis."""
    order, H = _GATES[m.mode], m.hidden_size
    per_direction = [m._layer(k, suffix) for suffix in (("", "_reverse") if m.bidirectional else ("",))]
    W = np.stack([_gate_blocks(p[0].data, order, H) for p in per_direction])
    R = np.stack([_gate_blocks(p[1].data, order, H) for p in per_direction])
    inputs = [g.const(W, f"{m.mode}_W"), g.const(R, f"{m.mode}_R")]
    if m.bias:
        B = np.stack([np.concatenate([_gate_blocks(p[2].data, order, H), _gate_blocks(p[3].data, order, H)])
                      for p in per_direction])
        inputs.append(g.const(B, f"{m.mode}_B"))
    return inputs


@leaf(*RECURRENT)
def _recurrent(m, g, x, value):
    lstm, D, H = m.mode == "lstm", 2 if m.bidirectional else 1, m.hidden_size
    batched = value.ndim == 3
    if not batched or not m.batch_first:  # the graph's first axis is the sequence's
        g.first_axis = "sequence"
    if not batched:  # an unbatched sequence (L, in): a batch of one
        seq = g.op("Unsqueeze", [x, g.ints([1], "axes")], "sequence")
    else:
        seq = g.op("Transpose", [x], "time_major", perm=[1, 0, 2]) if m.batch_first else x
    attrs = {"hidden_size": H, "direction": "bidirectional" if m.bidirectional else "forward"}
    if m.mode.startswith("rnn"):
        attrs["activations"] = ["Relu" if m.mode == "rnn_relu" else "Tanh"] * D
    elif m.mode == "gru":
        attrs["linear_before_reset"] = 1
    op = {"lstm": "LSTM", "gru": "GRU"}.get(m.mode, "RNN")
    states = [], []
    for k in range(m.num_layers):
        y, *last = g.node(op, [seq] + _weights(m, g, k), [f"{op.lower()}_y", "h_n_layer", "c_n_layer"][:2 + lstm],
                          **attrs)
        # Y (T, D, N, H) -> (T, N, D·H): each step's directions side by side, forward first
        seq = g.op("Reshape", [g.op("Transpose", [y], "steps", perm=[0, 2, 1, 3]), g.ints([0, 0, D * H])],
                   f"{op.lower()}_output")
        for kept, state in zip(states, last):
            kept.append(state)
    # each layer's (D, N, H) states in nnlab's order: layer by layer, forward then reverse
    hc = [g.op("Concat", kept, "states", axis=0) if len(kept) > 1 else kept[0] for kept in states if kept]
    if not batched:
        seq = g.op("Squeeze", [seq, g.ints([1], "axes")], "output")
        hc = [g.op("Squeeze", [s, g.ints([1], "axes")], "state") for s in hc]
    elif m.batch_first:
        seq = g.op("Transpose", [seq], "batch_major", perm=[1, 0, 2])
    # h_n and c_n (D·layers, N, H): N is the graph's free axis for a batch_first layer, else fixed
    dims = [D * m.num_layers] + ([] if not batched else [g.first_axis if m.batch_first else value.shape[1]]) + [H]
    g.shapes.update({s: dims for s in hc})
    return (seq, tuple(hc)) if lstm else (seq, hc[0])


@leaf(nn.LastStep)
def _last_step(m, g, x, value):
    seq, seq_value = (x[0], value[0]) if isinstance(x, tuple) else (x, value)
    time = 1 if m.batch_first and seq_value.ndim == 3 else 0
    # Graph.const stores a 0-d index as (1,), so the Gather keeps the time axis, of length 1, for Squeeze
    step = g.op("Gather", [seq, g.ints([-1], "last")], "last_step", axis=time)
    out = g.op("Squeeze", [step, g.ints([time], "axes")], "last_step")
    # a batch_first sequence keeps the graph's free batch axis first; a time-major one loses its free time axis
    dims = [g.first_axis if time and i == 0 else size for i, size in enumerate(seq_value.shape)]
    del dims[time]
    g.shapes[out] = dims
    return out


@leaf(nn.FinalState)
def _final_state(m, g, x, value):
    if not isinstance(x, tuple):
        raise ConfigError("nnlab.onnx.export: FinalState reads a recurrent layer's tuple (output, h_n); put it "
                          "right after an RNN, LSTM or GRU")
    _, h_n = x
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # LSTM: (h_n, c_n)
    _, h_value, D = final_states(value)  # nnlab's rule for the directions, on the traced arrays
    # the last layer's rows (1, N, H) each, forward then reverse, side by side: (1, N, D·H), then (N, D·H)
    rows = [g.op("Gather", [h_n, g.ints([row], "state_row")], "final_state", axis=0) for row in range(-D, 0)]
    both = g.op("Concat", rows, "final_states", axis=-1) if D > 1 else rows[0]
    out = g.op("Squeeze", [both, g.ints([0], "axes")], "final_state")
    g.shapes[out] = g.shapes[h_n][1:-1] + [D * h_value.shape[-1]]
    return out
