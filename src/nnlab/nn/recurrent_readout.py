"""LastStep and FinalState: one tensor out of a recurrent layer's tuple, so ``LSTM → Linear`` fits a Sequential.

RNN, LSTM and GRU return PyTorch's ``(output, h_n)`` / ``(output, (h_n, c_n))``; torch users unpack it in a
forward of their own (``out, _ = self.lstm(x); return self.fc(out[:, -1])``).  These two layers do that
step inside a :class:`~nnlab.nn.Sequential`, so the model saves as a model file and exports to ONNX:

- ``LastStep(batch_first=False)``: the output sequence's last step, ``output[-1]`` (``output[:, -1]`` with
  ``batch_first=True``; an unbatched ``(T, D·H)`` output gives ``(D·H,)``) — Keras's LSTM default.
  It also takes a plain sequence tensor.
- ``FinalState()``: the last layer's final hidden state ``h_n``, its directions side by side (forward
  first): ``(N, D·H)``, ``torch.cat([h_n[-2], h_n[-1]], 1)`` for a bidirectional layer.  For the backward
  direction this is its state after reading the whole sequence, where ``output[-1]``'s backward half has
  read one step only.  The number of directions D is the output's width over h_n's (D·H / H), so the
  layer needs the whole tuple and no argument that could disagree with the recurrent layer.

Only the selected values get gradient (indexing's backward puts zeros elsewhere).
"""

from __future__ import annotations

from .._checks import check_bool
from ..errors import ConfigError
from ..ops.shape import concatenate
from ..tensor import Tensor, as_tensor
from .module import Module

__all__ = ["LastStep", "FinalState"]


def _tensor(value, owner: str, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    try:
        return as_tensor(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner}: expected {what}, got {type(value).__name__}") from None


class LastStep(Module):
    """The last time step of a sequence, or of a recurrent layer's output (the tuple's first element).

    >>> import nnlab
    >>> lstm = nnlab.nn.LSTM(3, 5, batch_first=True, rng=0)
    >>> LastStep(batch_first=True)(lstm(nnlab.zeros(2, 7, 3))).shape
    (2, 5)
    """

    def __init__(self, batch_first=False):
        super().__init__()
        self.batch_first = check_bool("batch_first", batch_first, owner="LastStep")

    def forward(self, x):
        seq = _tensor(x[0] if isinstance(x, tuple) else x, "LastStep", "a sequence tensor or a recurrent layer's "
                                                                       "tuple (output, h_n)")
        self._check(seq.shape)
        # a 2-D sequence is an unbatched (T, features) one, as the recurrent layers read it even when batch_first
        return seq[:, -1] if self.batch_first and seq.ndim == 3 else seq[-1]

    def _check(self, shape):
        shape = tuple(shape)
        if len(shape) not in (2, 3):
            layout = "(N, T, features)" if self.batch_first else "(T, N, features)"
            raise ConfigError(f"LastStep: expected a 3-D {layout} or an unbatched 2-D (T, features) sequence, "
                              f"got shape {shape}")
        if shape[1 if self.batch_first and len(shape) == 3 else 0] == 0:
            raise ConfigError(f"LastStep: the sequence has no step to take, got shape {shape}")

    def _count_flops(self, shape):
        self._check(shape)
        time = 1 if self.batch_first and len(shape) == 3 else 0
        return 0, tuple(s for i, s in enumerate(shape) if i != time)

    def spec_args(self) -> dict:
        return {"batch_first": self.batch_first}

    def extra_repr(self):
        return "batch_first=True" if self.batch_first else ""


def final_states(result):
    """(output, h_n, D) of a recurrent layer's tuple, checked: LSTM's (h_n, c_n) gives its h_n."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ConfigError(f"FinalState: expected a recurrent layer's tuple (output, h_n) or (output, (h_n, c_n)), "
                          f"got {type(result).__name__}; LastStep also takes a plain sequence")
    out, h_n = result
    if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
        h_n = h_n[0]
    what = "the recurrent layer's output and h_n tensors"
    out, h_n = _tensor(out, "FinalState", what), _tensor(h_n, "FinalState", what)
    width, hidden = out.shape[-1] if out.ndim else 0, h_n.shape[-1] if h_n.ndim else 0
    D = width // hidden if hidden and width % hidden == 0 else 0
    if D not in (1, 2) or h_n.ndim != out.ndim or h_n.shape[0] % D:
        raise ConfigError(f"FinalState: output of shape {tuple(out.shape)} and h_n of shape {tuple(h_n.shape)} are "
                          f"not a recurrent layer's: output's last axis holds D·H features and h_n is "
                          f"(num_layers·D, N, H), D = 1 or 2 directions")
    return out, h_n, D


class FinalState(Module):
    """The last layer's final hidden state, both directions concatenated (forward first): (N, D·H).

    >>> import nnlab
    >>> gru = nnlab.nn.GRU(3, 5, num_layers=2, bidirectional=True, rng=0)
    >>> FinalState()(gru(nnlab.zeros(7, 2, 3))).shape
    (2, 10)
    """

    def forward(self, x):
        _, h_n, D = final_states(x)
        return h_n[-1] if D == 1 else concatenate([h_n[-2], h_n[-1]], -1)

    def _count_flops(self, shape):
        # the shape rule sees the recurrent layer's output shape only, and a 3-D one does not say which axis is
        # the batch (batch_first is the recurrent layer's setting)
        if len(shape) == 2:
            return 0, tuple(shape[1:])
        raise NotImplementedError(f"FinalState has no shape rule for a 3-D sequence shape {tuple(shape)}: the "
                                  f"recurrent layer's batch_first decides which axis is the batch")

    def spec_args(self) -> dict:
        return {}
