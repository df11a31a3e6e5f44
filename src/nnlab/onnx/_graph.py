"""A small builder over ``onnx.helper``: unique names, shared initializers, one call per node.

Only this package imports it, and only inside :func:`nnlab.onnx.export`, so
``import nnlab`` never loads the ``onnx`` package.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


class Graph:
    """Nodes and initializers of one ONNX graph whose float tensors have dtype ``dtype``."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.elem = helper.np_dtype_to_tensor_dtype(self.dtype)  # the ONNX element type (for Cast)
        self.nodes: list = []
        self.initializers: list = []
        self._names: dict[str, int] = {}
        self._arrays: dict[int, str] = {}  # id(ndarray) -> initializer name: a tied weight is stored once
        self._keep: list = []  # the arrays behind _arrays' ids stay alive while the graph is built
        # the name of the input's dynamic first axis; a recurrent layer that reads it as time renames it
        self.first_axis = "batch"
        # declared shapes of outputs whose free axis is not their first (a recurrent layer's h_n): {name: dims}
        self.shapes: dict[str, list] = {}

    def name(self, hint: str) -> str:
        """A fresh tensor or node name starting with ``hint``."""
        n = self._names.get(hint, 0)
        self._names[hint] = n + 1
        return hint if n == 0 else f"{hint}_{n}"

    def const(self, array, hint: str = "const", dtype=None) -> str:
        """An initializer holding ``array`` (floats cast to the graph's dtype unless ``dtype`` is given).

        The same ndarray object (a parameter shared by two layers) gives the same initializer.
        """
        source = array if isinstance(array, np.ndarray) else None
        if source is not None and id(source) in self._arrays:
            return self._arrays[id(source)]
        value = np.asarray(array)
        if dtype is not None:
            value = value.astype(dtype)
        elif value.dtype.kind == "f":
            value = value.astype(self.dtype)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        if source is not None:
            self._arrays[id(source)] = name
            self._keep.append(source)
        return name

    def ints(self, values, hint: str = "shape") -> str:
        """An int64 initializer (shapes, axes, indices)."""
        return self.const(np.asarray(values, dtype=np.int64), hint, dtype=np.int64)

    def scalar(self, value: float, hint: str = "c") -> str:
        return self.const(np.asarray(value, dtype=self.dtype), hint)

    def op(self, op_type: str, inputs, hint: str | None = None, **attrs) -> str:
        """Add one node with a single output; returns the output's name."""
        return self.node(op_type, inputs, [hint or op_type.lower()], **attrs)[0]

    def node(self, op_type: str, inputs, hints, **attrs) -> list[str]:
        """Add one node with an output per name in ``hints`` (RNN's Y and Y_h); returns the outputs' names."""
        outs = [self.name(hint) for hint in hints]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.name(f"{outs[0]}_node"), **attrs))
        return outs

    def split(self, x: str, parts: int, axis: int, hint: str = "split") -> list[str]:
        """``parts`` equal pieces of ``x`` along ``axis``: one Split node with several outputs (works on a dynamic axis)."""
        outs = [self.name(f"{hint}_{k}") for k in range(parts)]
        self.nodes.append(helper.make_node("Split", [x], outs, name=self.name(f"{hint}_node"), axis=axis))
        return outs

    def model(self, input_name: str, input_shape, outputs: dict, opset: int, doc: str,
              metadata: dict) -> onnx.ModelProto:
        """The finished model: one float input, the float ``outputs`` ({name: shape}); None or a str marks a free axis."""
        elem = self.elem
        graph = helper.make_graph(
            self.nodes, "nnlab_model",
            [helper.make_tensor_value_info(input_name, elem, list(input_shape))],
            [helper.make_tensor_value_info(name, elem, list(shape)) for name, shape in outputs.items()],
            initializer=self.initializers, doc_string=doc,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="nnlab", doc_string=doc)
        from .._version import __version__

        model.producer_version = __version__
        helper.set_model_props(model, metadata)
        return model
