"""Recurrent layers' sequences as one node each: a forward loop over time that keeps the gates, and an
analytic backward through time in NumPy.

One node per layer (and direction) instead of a few ops per time step: the graph of a 100-step
sequence would otherwise hold hundreds of nodes, each with its own Python call in the backward.
Weights have PyTorch's layout and gate order: ``W_ih`` (G·H, in), ``W_hh`` (G·H, H), ``b_ih`` and
``b_hh`` (G·H,), with G = 1 (RNN), 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n).  The input's projection
for every step is one matrix product before the loop, and the weight gradients are one product each
after the backward loop, over all steps at once.
"""

import numpy as np

from .. import _blas
from ..tensor import make_result
from .activations import _sigmoid

__all__ = ["recurrent_layer", "GATES"]

#: gates per mode, in PyTorch's order
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _rows(A):
    """(T, N, K) as (T·N, K), without a copy when it is C-ordered."""
    return np.ascontiguousarray(A).reshape(-1, A.shape[-1])


def recurrent_layer(mode, x, h0, W_ih, W_hh, b_ih=None, b_hh=None, c0=None):
    """One layer over a whole time-major sequence ``x`` (T, N, in) from the state ``h0`` (N, H).

    Returns one tensor: the hidden states (T, N, H) for the RNN and GRU, and for the LSTM the
    hidden states with the last cell state appended, (T + 1, N, H) — a node has one output, so
    the caller takes ``h_n`` and ``c_n`` as views of it (their gradients reach this backward
    through the views).  ``c0`` (N, H) is the LSTM's initial cell state.  Either both biases
    or neither.  The input's gradient is computed only when ``x`` requires grad.
    """
    X, H0, Wi, Wh = x.data, h0.data, W_ih.data, W_hh.data
    T, N, _ = X.shape
    H = Wh.shape[1]
    dt = X.dtype.type
    bias = b_ih is not None
    # the input's projection for all steps; the RNN and LSTM add both biases here, the GRU keeps b_hh's
    # n part apart (PyTorch's GRU: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)))
    Xp = _blas.matmul(_rows(X), Wi.T).reshape(T, N, -1)
    if bias:
        Xp += b_ih.data
        if mode != "gru":
            Xp += b_hh.data
    hs = np.empty((T, N, H), X.dtype)
    acts = np.empty_like(Xp)  # the gates after their nonlinearities, kept for the backward
    cs = np.empty((T, N, H), X.dtype) if mode == "lstm" else None
    hn = np.empty((T, N, H), X.dtype) if mode == "gru" else None  # W_hn h + b_hn, which r multiplies
    h = H0
    c = c0.data if mode == "lstm" else None
    for t in range(T):
        hh = _blas.matmul(h, Wh.T)
        if mode == "rnn_tanh":
            h = np.tanh(np.add(Xp[t], hh, out=hh), out=acts[t])
        elif mode == "rnn_relu":
            h = np.maximum(np.add(Xp[t], hh, out=hh), 0, out=acts[t])
        elif mode == "lstm":
            a, g4 = np.add(Xp[t], hh, out=hh), acts[t]
            g4[:, :2 * H] = _sigmoid(a[:, :2 * H])
            g4[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
            g4[:, 3 * H:] = _sigmoid(a[:, 3 * H:])
            c = g4[:, H:2 * H] * c + g4[:, :H] * g4[:, 2 * H:3 * H]
            cs[t] = c
            h = g4[:, 3 * H:] * np.tanh(c)
        else:
            g3 = acts[t]
            if bias:
                hh += b_hh.data
            hn[t] = hh[:, 2 * H:]
            g3[:, :2 * H] = _sigmoid(Xp[t, :, :2 * H] + hh[:, :2 * H])
            g3[:, 2 * H:] = np.tanh(Xp[t, :, 2 * H:] + g3[:, :H] * hh[:, 2 * H:])
            z = g3[:, H:2 * H]
            h = (1 - z) * g3[:, 2 * H:] + z * h
        hs[t] = h
    out = hs if mode != "lstm" else np.concatenate([hs, cs[-1:]])
    parents = [x, h0, W_ih, W_hh]
    if bias:
        parents += [b_ih, b_hh]
    if mode == "lstm":
        parents.append(c0)

    def backward(g):
        G = g[:T]
        one = dt(1)
        dXp = np.empty_like(acts)  # the gradient of each gate's pre-activation from the input side
        dHp = dXp if mode != "gru" else np.empty_like(acts)  # ... and from the hidden side (the GRU's differ)
        dh = np.zeros((N, H), X.dtype)
        dc = g[T].copy() if mode == "lstm" else None
        for t in range(T - 1, -1, -1):
            dh = dh + G[t]
            h_prev = hs[t - 1] if t else H0
            if mode == "rnn_tanh":
                dXp[t] = dh * (one - acts[t] * acts[t])
            elif mode == "rnn_relu":
                dXp[t] = dh * (acts[t] > 0)
            elif mode == "lstm":
                i, f, gg, o = (acts[t, :, k * H:(k + 1) * H] for k in range(4))
                tc = np.tanh(cs[t])
                dc = dc + dh * o * (one - tc * tc)
                c_prev = cs[t - 1] if t else c0.data
                d = dXp[t]
                d[:, :H] = dc * gg * i * (one - i)
                d[:, H:2 * H] = dc * c_prev * f * (one - f)
                d[:, 2 * H:3 * H] = dc * i * (one - gg * gg)
                d[:, 3 * H:] = dh * tc * o * (one - o)
                dc = dc * f
            else:
                r, z, n = (acts[t, :, k * H:(k + 1) * H] for k in range(3))
                dan = dh * (one - z) * (one - n * n)
                dr = dan * hn[t]
                dXp[t, :, :H] = dHp[t, :, :H] = dr * r * (one - r)
                dXp[t, :, H:2 * H] = dHp[t, :, H:2 * H] = dh * (h_prev - n) * z * (one - z)
                dXp[t, :, 2 * H:] = dan
                dHp[t, :, 2 * H:] = dan * r
            carried = dh * acts[t, :, H:2 * H] if mode == "gru" else 0  # h = … + z ⊙ h_prev
            dh = _blas.matmul(dHp[t], Wh) + carried
        dXp2, dHp2 = _rows(dXp), _rows(dHp)
        H_prev = np.concatenate([H0[None], hs[:-1]]) if T > 1 else H0[None]
        gX = _blas.matmul(dXp2, Wi).reshape(X.shape) if x.requires_grad else None
        gWi = _blas.matmul(dXp2.T, _rows(X)) if W_ih.requires_grad else None
        gWh = _blas.matmul(dHp2.T, _rows(H_prev)) if W_hh.requires_grad else None
        grads = [gX, dh if h0.requires_grad else None, gWi, gWh]
        if bias:
            grads += [dXp2.sum(axis=0) if b_ih.requires_grad else None,
                      dHp2.sum(axis=0) if b_hh.requires_grad else None]
        if mode == "lstm":
            grads.append(dc if c0.requires_grad else None)
        return tuple(grads)

    return make_result(out, tuple(parents), backward)
