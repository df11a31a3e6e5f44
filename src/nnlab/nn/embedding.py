"""Embedding: a lookup table of learned vectors, one row per index (parameter sharing across positions).

``Embedding(n, d)(idx)`` is ``weight[idx]``: the same row serves every position
and every sample that holds its index, so its gradient is the sum of theirs (a
scatter-add).  PyTorch's layout, arguments and N(0, 1) initialization.
"""

from __future__ import annotations

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_dtype, check_int
from ..errors import ConfigError
from ..ops.indexing import whole_numbers
from ..tensor import Tensor, make_result
from ._layer_tools import init_config, make_parameter
from .module import Module

__all__ = ["Embedding"]


def _indices(x, n: int) -> np.ndarray:
    """``x`` as int64 indices in [0, n); whole-number floats too, since nnlab's datasets hold float32 features."""
    idx = x.data if isinstance(x, Tensor) else np.asarray(x)
    if idx.dtype.kind == "f":
        idx, bad = whole_numbers(idx)
        if bad is not None:
            raise ConfigError(f"Embedding: indices must be whole numbers, got {bad!r}")
    elif idx.dtype.kind not in "iub":
        raise ConfigError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].ravel()[0]
        raise ConfigError(f"Embedding: index {bad.item()} is out of range for {n} embeddings (0..{n - 1})")
    return idx


def lookup(x, weight: Tensor, padding_idx=None):
    """``weight[x]`` as a node: the rows of the (n, d) table ``weight`` at the indices ``x``.

    The backward scatter-adds each position's gradient into its row; row ``padding_idx``
    (in [0, n), or None) gets none.  Embedding's forward and ``nn.functional.embedding``.
    """
    idx = _indices(x, weight.data.shape[0])
    W = weight.data

    def backward(g):
        grad = np.zeros_like(W)
        np.add.at(grad, idx.ravel(), g.reshape(-1, W.shape[1]))  # a row used k times adds k gradients
        if padding_idx is not None:
            grad[padding_idx] = 0
        return (grad,)

    return make_result(W[idx], (weight,), backward)


class Embedding(Module):
    """``weight`` of shape (num_embeddings, embedding_dim); input indices of any shape S give S + (embedding_dim,).

    ``padding_idx``: that row starts at zero and gets no gradient (PyTorch's rule).
    ``weight_init`` defaults to N(0, 1), as PyTorch's.  ``freeze=True``: the table is not trained.

    >>> layer = Embedding(10, 3, rng=0)
    >>> layer([[1, 2], [3, 1]]).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, weight_init=None, rng=None,
                 dtype=np.float32, freeze=False):
        super().__init__()
        self.num_embeddings = check_int("num_embeddings", num_embeddings, 1, owner="Embedding")
        self.embedding_dim = check_int("embedding_dim", embedding_dim, 1, owner="Embedding")
        if padding_idx is not None:
            padding_idx = check_int("padding_idx", padding_idx, -self.num_embeddings, self.num_embeddings - 1,
                                    owner="Embedding") % self.num_embeddings
        self.padding_idx = padding_idx
        dtype = check_dtype(dtype, owner="Embedding")
        self.weight_init = {"name": "normal", "std": 1.0, "mean": 0.0} if weight_init is None else weight_init
        shape = (self.num_embeddings, self.embedding_dim)
        self.weight = make_parameter("Embedding", "weight_init", self.weight_init, shape, _random.get_rng(rng), dtype)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0
        self.weight.requires_grad = not check_bool("freeze", freeze, owner="Embedding")

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None) -> "Embedding":
        """An Embedding holding ``embeddings`` (2-D, copied), not trained unless ``freeze=False`` (PyTorch's)."""
        table = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if table.ndim != 2 or table.dtype.kind != "f":
            raise ConfigError(f"Embedding.from_pretrained: embeddings must be a 2-D float array, got "
                              f"{table.dtype} of shape {table.shape}")
        layer = cls(*table.shape, padding_idx=padding_idx, dtype=table.dtype, freeze=freeze)
        layer.weight.data[...] = table  # the pretrained padding row is kept, as in PyTorch
        return layer

    def forward(self, x):
        return lookup(x, self.weight, self.padding_idx)

    def _count_flops(self, shape):
        return 0, tuple(shape) + (self.embedding_dim,)  # a lookup: no arithmetic

    def spec_args(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx, "weight_init": init_config("Embedding", "weight_init", self.weight_init),
                "dtype": self.weight.data.dtype.name, "freeze": not self.weight.requires_grad}

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"

    @classmethod
    def state_shapes(cls, args: dict) -> dict:
        n = check_int("num_embeddings", args.get("num_embeddings"), 1, owner="Embedding")
        return {"weight": (n, check_int("embedding_dim", args.get("embedding_dim"), 1, owner="Embedding"))}

