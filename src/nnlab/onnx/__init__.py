"""ONNX export: an nnlab model (and its saved preprocessing) as an ONNX graph that onnxruntime runs.

``export(model, "model.onnx")`` writes one graph, built with the ``onnx``
package's helpers and checked with ``onnx.checker``, at opset :data:`OPSET`:

- input ``"input"``: raw feature rows (N, F) when the preprocessing is included
  (standardization, min-max scaling, unit norm, one-hot columns become graph
  ops), else the model's own input; the batch axis N is dynamic;
- output ``"output"`` (a multi-task model: ``"output_<task>"`` per task): what :func:`nnlab.train.predict` returns (eval mode:
  BatchNorm uses its running statistics, Dropout and noise are the identity);
  for a classifier, the logits (``softmax`` gives the probabilities); a model that ends with an
  RNN, LSTM or GRU gives PyTorch's tuple as ``"output"``, ``"h_n"`` (and ``"c_n"``), from zero
  initial states; the graph's free first axis is then the time axis (named ``sequence``) unless
  the layer is ``batch_first``, and the other axes are fixed by the input shape (a LastStep or
  FinalState right after the layer makes its tuple one tensor, so layers may follow);
- metadata (``metadata_props``): ``classes`` (the label of each output unit, JSON),
  ``preprocessing`` (the steps included), ``nnlab_version``.

Every layer type of :func:`supported_layer_types` converts; any other module
is refused with a :class:`~nnlab.errors.ConfigError` naming it (a recurrent layer anywhere but
at the model's end or right before a LastStep or FinalState, too).  One known
difference: a category the OneHotEncoder did not see in ``fit`` gives an
all-zero block in the graph, where nnlab's ``transform`` raises.
Needs ``pip install 'nnlab[onnx]'`` (onnx, and onnxruntime to run the file).

>>> import tempfile, pathlib, numpy as np, nnlab
>>> model = nnlab.nn.Sequential(nnlab.nn.Linear(4, 3, rng=0), nnlab.nn.ReLU(), nnlab.nn.Linear(3, 2, rng=1))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.onnx"
>>> proto = export(model, path, input_shape=(4,))
>>> [i.name for i in proto.graph.input], proto.opset_import[0].version
(['input'], 17)
>>> import onnxruntime
>>> session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
>>> x = np.ones((5, 4), dtype=np.float32)
>>> bool(np.allclose(session.run(None, {"input": x})[0], nnlab.train.predict(model, x), atol=1e-6))
True
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import ConfigError

__all__ = ["export", "supported_layer_types", "OPSET"]

OPSET = 17  # ONNX opset of the exported graphs (onnxruntime runs 17 since 1.13)


def supported_layer_types() -> list[str]:
    """The registered layer type names (``nnlab.nn.layer_types()``) that :func:`export` converts."""
    from ..nn.spec import _REGISTRY
    from ._converters import CONTAINERS, LEAVES

    return sorted(name for name, cls in _REGISTRY.items() if cls in LEAVES or cls in CONTAINERS)


def export(model, path, example_input=None, *, input_shape=None, include_preprocessing=True,
           preprocessing=None, classes=None, dtype=None):
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the ``onnx.ModelProto``.

    ``example_input``: an array of a few inputs (batch first), or ``input_shape``:
    the shape of one input without the batch axis, e.g. ``(64,)``; with neither,
    the width of the preprocessing or of the model's first layer is used.  With
    ``include_preprocessing`` the graph starts with ``preprocessing`` (default:
    the model's ``preprocessing`` attribute, as :func:`nnlab.load` sets it) and takes
    raw rows.  ``classes`` (default: ``model.classes``) go into the metadata.
    ``dtype``: the graph's float type, ``"float32"`` or ``"float64"`` (default: the
    model's).  onnxruntime's CPU kernels of many operators (Elu, Gelu, Softplus,
    Conv, LSTM, …) exist in float32 only, so a float64 model meant for onnxruntime is
    best exported with ``dtype="float32"`` (its weights are rounded to float32).
    """
    import onnx

    from .. import nn
    from ..io import atomic_write
    from ._graph import Graph
    from ._layers_recurrent import check_placement

    if not isinstance(model, nn.Module):
        raise ConfigError(f"nnlab.onnx.export takes an nnlab.nn.Module, got {type(model).__name__}")
    _check_layers(model)
    check_placement(model)
    pre = (preprocessing if preprocessing is not None else getattr(model, "preprocessing", None)) \
        if include_preprocessing else None
    classes = classes if classes is not None else getattr(model, "classes", None)
    shape = _input_shape(model, pre, example_input, input_shape)
    dtype = _graph_dtype(model, dtype)
    g = Graph(dtype)
    x = "input"
    model_shape = shape
    if pre is not None:
        if len(shape) != 1:
            raise ConfigError(f"nnlab.onnx.export: preprocessing takes rows of features, but the input shape is "
                              f"{shape}; pass input_shape=(features,) or include_preprocessing=False")
        from ._preprocessing import emit as emit_preprocessing

        x, width = emit_preprocessing(pre, g, x)
        model_shape = (width,)
    was_training = model.training
    model.eval()
    try:
        out, value = _emit(model, g, x, np.zeros((2,) + model_shape, dtype=_model_dtype(model)))
    except ConfigError as exc:  # a layer refused the traced batch: say which input shape, not the batch of 2
        source = "the preprocessing's output" if pre is not None else "example_input's rows" \
            if example_input is not None else "input_shape" if input_shape is not None else "the first layer's width"
        raise ConfigError(f"nnlab.onnx.export: the model does not take inputs of shape {model_shape} ({source}, "
                          f"without the batch axis; traced as a batch of 2): {exc}") from None
    finally:
        model.train(was_training)
    outputs = _outputs(g, out, value)
    steps = _describe(pre)
    metadata = {"nnlab_version": _version(), "preprocessing": json.dumps(steps),
                "input": "raw feature rows" if steps else "model input"}
    if classes is not None:
        # an array (scikit-learn's classes_) is a list of labels too, not the text of its repr
        labels = classes.tolist() if isinstance(classes, np.ndarray) else classes
        metadata["classes"] = json.dumps(labels, default=lambda v: v.item() if isinstance(v, np.generic) else str(v))
    proto = g.model("input", [g.first_axis, *shape], outputs, OPSET, f"nnlab model {type(model).__name__}", metadata)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        hint = " (some ONNX operators, Celu for one, are defined for float32 only: pass dtype='float32')" \
            if g.dtype != np.float32 else ""
        raise ConfigError(f"nnlab.onnx.export: the {g.dtype.name} graph is not valid ONNX{hint}: "
                          f"{str(exc).strip().splitlines()[0]}") from None
    atomic_write(os.fspath(path), proto.SerializeToString())
    return proto


def _model_dtype(model) -> np.dtype:
    return next((p.data.dtype for p in model.parameters()), np.dtype(np.float32))


def _graph_dtype(model, dtype) -> np.dtype:
    if dtype is None:
        return _model_dtype(model)
    if str(dtype) not in ("float32", "float64"):
        raise ConfigError(f"nnlab.onnx.export: dtype must be 'float32' or 'float64', got {dtype!r}")
    return np.dtype(str(dtype))


def _outputs(g, out, value) -> dict:
    """Fixed output names (and a node even for an identity model), {name: shape}: "output", "output_<task>" per
    task, or a recurrent layer's tuple as "output", "h_n" (and "c_n")."""
    if isinstance(out, dict):
        return {g.op("Identity", [name], f"output_{task}"): _shape(g, name, value[task]) for task, name in out.items()}
    if isinstance(out, tuple):  # (output, h_n) or (output, (h_n, c_n))
        (y, states), (y_value, state_values) = out, value
        states, state_values = (states, state_values) if isinstance(states, tuple) else ((states,), (state_values,))
        pairs = [("output", y, y_value)] + list(zip(("h_n", "c_n"), states, state_values))
        return {g.op("Identity", [name], label): _shape(g, name, v) for label, name, v in pairs}
    return {g.op("Identity", [out], "output"): _shape(g, out, value)}


def _shape(g, name, value) -> list:
    """An output's shape for the graph: as its converter declared it, else the traced batch of 2 becomes the
    dynamic axis (a Flatten over it, free)."""
    if name in g.shapes:
        return g.shapes[name]
    return [g.first_axis if value.shape[0] == 2 else None, *value.shape[1:]]


def _check_layers(model) -> None:
    from ._converters import CONTAINERS, LEAVES, NOT_EXPORTABLE

    for where, module in model.named_modules():
        if type(module) not in LEAVES and type(module) not in CONTAINERS:
            at = f" at {where!r}" if where else ""
            if type(module) in NOT_EXPORTABLE:
                raise ConfigError(f"nnlab.onnx.export: {type(module).__name__}{at} cannot be exported: "
                                  f"{NOT_EXPORTABLE[type(module)]}")
            raise ConfigError(f"nnlab.onnx.export: no ONNX conversion for {type(module).__name__}{at}; "
                              f"supported layer types: {', '.join(supported_layer_types())}")


def _emit(module, g, x: str, value: np.ndarray):
    """ONNX nodes for ``module`` on tensor ``x``; returns the output name and the nnlab output for ``value``."""
    from ..tensor import no_grad
    from ._converters import CONTAINERS, LEAVES

    kind = type(module)
    if kind in CONTAINERS:
        out, out_value = CONTAINERS[kind](module, g, x, value, lambda m, n, v: _emit(m, g, n, v))
        if out_value is not None:
            return out, out_value
    else:
        out = LEAVES[kind](module, g, x, value)
    with no_grad():
        return out, _arrays(module(_tensors(value)))


def _tensors(value):
    """A traced value as a module's input: a recurrent layer's tuple stays a tuple (of Tensors)."""
    from ..tensor import Tensor

    return tuple(_tensors(v) for v in value) if isinstance(value, tuple) else Tensor(value)


def _arrays(result):
    """A module's result as ndarrays: a Tensor's data, a recurrent layer's tuple of them."""
    if isinstance(result, tuple):
        return tuple(_arrays(r) for r in result)
    return np.asarray(result.data)


def _input_shape(model, pre, example_input, input_shape) -> tuple:
    if example_input is not None and input_shape is not None:
        raise ConfigError("nnlab.onnx.export: give example_input or input_shape, not both")
    if example_input is not None:
        array = np.asarray(getattr(example_input, "data", example_input))
        if array.ndim < 2:
            raise ConfigError(f"nnlab.onnx.export: example_input is a batch (batch axis first), got shape {array.shape}")
        return tuple(int(s) for s in array.shape[1:])
    if input_shape is not None:
        shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        if not shape or not all(isinstance(s, int | np.integer) and s >= 1 for s in shape):
            raise ConfigError(f"nnlab.onnx.export: input_shape is the shape of one input without the batch axis, "
                              f"positive integers such as (64,), got {input_shape!r}")
        return tuple(int(s) for s in shape)
    if pre is not None and pre.n_features is not None:
        return (int(pre.n_features),)
    from ..nn.shapes import input_features

    width = input_features(model)
    if width is not None:
        return (width,)
    raise ConfigError("nnlab.onnx.export: cannot tell the input shape of this model; pass input_shape=(...) "
                      "(one input without the batch axis; nnlab export --input-shape) or example_input=array")


def _describe(pre) -> list:
    if pre is None:
        return []
    steps = getattr(pre, "steps", None)
    return [type(s).__name__ for s in steps] if steps is not None else [type(pre).__name__]


def _version() -> str:
    from .._version import __version__

    return __version__
