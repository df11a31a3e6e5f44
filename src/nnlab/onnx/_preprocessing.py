"""The saved preprocessing as graph ops, so the exported model takes raw feature rows.

Each function mirrors the ``transform`` of one :mod:`nnlab.data` preprocessor,
in the same order of operations and the graph's dtype.
"""

from __future__ import annotations

import numpy as np

from ..data import MinMaxScaler, OneHotEncoder, Pipeline, Standardizer, UnitNormalizer
from ..errors import ConfigError


def emit(pre, g, x: str) -> tuple[str, int]:
    """Nodes for ``pre.transform`` on input ``x``; returns the output name and its width."""
    kind = type(pre)
    if kind is Pipeline:
        width = pre.n_features
        for step in pre.steps:
            x, width = emit(step, g, x)
        return x, width
    if kind is Standardizer:  # (x − mean) / scale
        centred = g.op("Sub", [x, g.const(pre.mean, "mean")], "centred")
        return g.op("Div", [centred, g.const(pre.scale, "scale")], "standardized"), pre.n_features
    if kind is MinMaxScaler:  # (x − min)·scale + low
        shifted = g.op("Sub", [x, g.const(pre.data_min, "data_min")], "shifted")
        scaled = g.op("Mul", [shifted, g.const(pre.scale, "minmax_scale")], "scaled")
        return g.op("Add", [scaled, g.scalar(pre.feature_range[0], "low")], "minmax"), pre.n_features
    if kind is UnitNormalizer:  # x / ‖x‖ per row, an all-zero row left at zero
        norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [x, x]), g.ints([1], "axes")], "sum_sq", keepdims=1)])
        zero = g.op("Equal", [norm, g.scalar(0.0, "zero")], "zero_norm")
        safe = g.op("Where", [zero, g.scalar(1.0, "one"), norm], "norm")
        return g.op("Div", [x, safe], "unit_norm"), pre.n_features
    if kind is OneHotEncoder:
        return _one_hot(pre, g, x)
    raise ConfigError(f"nnlab.onnx.export: no ONNX form for the preprocessing step {kind.__name__}; "
                      "supported: Pipeline, Standardizer, MinMaxScaler, UnitNormalizer, OneHotEncoder "
                      "(or pass include_preprocessing=False and apply it yourself)")


def _one_hot(pre, g, x):
    """Each encoded column becomes one 0/1 column per category (Equal against the category list)."""
    if pre.labels_mode:
        raise ConfigError("nnlab.onnx.export: this OneHotEncoder encodes labels, not input features")
    pieces, start, width = [], 0, 0
    for i, column in enumerate(pre.encoded):
        if column > start:
            pieces.append(_columns(g, x, start, column))
            width += column - start
        value = _columns(g, x, column, column + 1)
        categories = g.const(_numeric(pre.categories[i], column, g.dtype)[None, :], "categories")
        # an unseen value gives an all-zero block (nnlab's transform raises unless handle_unknown="ignore")
        pieces.append(g.op("Cast", [g.op("Equal", [value, categories])], "one_hot", to=g.elem))
        width += len(pre.categories[i])
        start = column + 1
    if start < pre.n_features:
        pieces.append(_columns(g, x, start, pre.n_features))
        width += pre.n_features - start
    return g.op("Concat", pieces, "encoded", axis=1), width


def _columns(g, x, start, stop):
    return g.op("Slice", [x, g.ints([start], "start"), g.ints([stop], "stop"), g.ints([1], "axes")], "columns")


def _numeric(categories, column: int, dtype) -> np.ndarray:
    """The categories as numbers (a CSV keeps a categorical column as text, "3" and "7" included), or a ConfigError."""
    try:
        return np.asarray(categories, dtype=dtype)
    except ValueError:
        shown = ", ".join(map(str, list(categories)[:4]))
        raise ConfigError(f"nnlab.onnx.export: feature column {column} has text categories ({shown}); the exported "
                          "graph takes rows of numbers, so it cannot one-hot text: give that column numeric codes "
                          "before training, or export without the preprocessing (include_preprocessing=False, "
                          "nnlab export --no-preprocessing) and encode the rows yourself") from None
