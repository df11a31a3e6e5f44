"""What a model takes and gives per row, from its layers' shape rules (nothing is computed): for files and tools."""

from __future__ import annotations

from .embedding import Embedding
from .module import Module
from .recurrent import GRU, LSTM, RNN
from .recurrent_cells import GRUCell, LSTMCell, RNNCell

__all__ = ["input_features", "row_output_shape"]


def input_features(model: Module) -> int | None:
    """Features per row the model's first affine layer (or Unflatten, an Ensemble, a recurrent cell) takes.

    None when a convolution comes first (it takes ``(N, C, ...)`` arrays of any
    size, not rows), an Embedding (rows of indices of any length) or a recurrent layer (sequences),
    or no layer states a width.
    """
    for module in model.modules():
        if hasattr(module, "in_channels") or isinstance(module, (Embedding, RNN, LSTM, GRU)):
            return None
        if isinstance(module, (RNNCell, LSTMCell, GRUCell)):  # a cell takes rows (N, input_size), one step
            return module.input_size
        if getattr(module, "in_features", None) is not None:
            return int(module.in_features)
    return None


def row_output_shape(model: Module) -> tuple | None:
    """The output shape of one row through ``model``, from each layer's shape rule (nothing is computed).

    Every layer checks the shape the one before gives it (a Linear its
    ``in_features``, a Conv2d its channels, a Residual that it keeps the shape),
    so a model whose layer sizes do not chain raises :class:`nnlab.ConfigError`
    naming the layer and the sizes.  None when :func:`input_features` cannot
    tell the input, or a layer has no shape rule (a registered custom layer
    without ``_count_flops``): its output shape is then unknown, not an error.

    >>> from nnlab.nn import Linear, ReLU, Sequential
    >>> row_output_shape(Sequential(Linear(4, 3), ReLU(), Linear(3, 2)))
    (1, 2)
    >>> row_output_shape(Sequential(Linear(4, 3), ReLU(), Linear(5, 2)))
    Traceback (most recent call last):
    ...
    nnlab.errors.ConfigError: layer '2': Linear expects 5 features on the last axis, got input shape (1, 3)
    """
    width = input_features(model)
    if width is None:
        return None
    try:
        return tuple(model._flops((1, width), "", []))
    except NotImplementedError:  # save and load ask this of every model: a custom layer must still save
        return None
