"""ParameterList and ParameterDict: parameters held in a list or a dict, registered as PyTorch names them.

A Module holding ``self.weights = ParameterList([...])`` has state-dict keys
``weights.0``, ``weights.1``, …; one holding ``self.scales = ParameterDict({"a": ...})``
has ``scales.a``.  As in PyTorch, a Tensor or NumPy array put into either becomes a
Parameter (a copy in its floating dtype: float64 stays float64, integers become float32,
nnlab's Parameter rule), a Parameter goes in as it is (shared), and a plain ``dict`` given
to ParameterDict is added in sorted key order (an OrderedDict, a ParameterDict or a list of
pairs keep theirs).

Neither is a registered spec type: they hold values, not an architecture, so they make
sense inside a module of one's own.  Register that module (:func:`nnlab.nn.register`,
with ``spec_args`` and ``state_shapes`` naming the keys, ``"weights.0"``) and its model
file saves and loads; an unregistered one is refused by name when saved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

import numpy as np

from ..tensor import Tensor
from .container import check_name, position
from .module import Module
from .parameter import Parameter

__all__ = ["ParameterList", "ParameterDict"]


def _parameter(value, owner: str) -> Parameter:
    """``value`` as the Parameter a container registers: a Parameter as it is, a Tensor or array copied into one."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor | np.ndarray):
        data = value.data if isinstance(value, Tensor) else value
        return Parameter(data, dtype=data.dtype if data.dtype.kind == "f" else None)
    raise TypeError(f"{owner} holds Parameters (a Tensor or NumPy array is made one), got {type(value).__name__}")


def _lines(pairs) -> str:
    """PyTorch's listing of held parameters, one ``(key): Parameter containing: [dtype of size AxB]`` a line."""
    rows = [f"  ({key}): Parameter containing: [{p.data.dtype} of size {'x'.join(map(str, p.shape))}]"
            for key, p in pairs]
    return "\n" + "\n".join(rows) + "\n" if rows else ""


class ParameterList(Module):
    """Parameters in a list, registered as "0", "1", …; indexed, sliced, appended and extended as a Python list.

    >>> import numpy as np
    >>> weights = ParameterList([np.zeros((3, 2)), np.ones(2)])
    >>> [name for name, _ in weights.named_parameters()], len(weights), weights[-1].shape
    (['0', '1'], 2, (2,))
    """

    def __init__(self, values: Iterable | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, index):
        if isinstance(index, slice):  # a new list of the same Parameters, numbered from "0" again (PyTorch's)
            return type(self)(list(self._parameters.values())[index])
        return self._parameters[str(position(index, len(self), "ParameterList", "parameters"))]

    def __setitem__(self, index, value) -> None:
        key = str(position(index, len(self), "ParameterList", "parameters"))
        setattr(self, key, _parameter(value, "ParameterList"))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values) -> "ParameterList":
        return self.extend(values)

    def append(self, value) -> "ParameterList":
        setattr(self, str(len(self)), _parameter(value, "ParameterList"))
        return self

    def extend(self, values: Iterable) -> "ParameterList":
        # an array or Tensor is one value, not an iterable of rows (PyTorch refuses a Tensor here)
        if not isinstance(values, Iterable) or isinstance(values, Tensor | np.ndarray):
            raise TypeError(f"ParameterList.extend takes an iterable of parameters, got {type(values).__name__}")
        for value in list(values):  # list(): ``params += params`` must not grow while it is read
            self.append(value)
        return self

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called: it holds parameters for the module that owns it")

    def extra_repr(self) -> str:
        return _lines(self._parameters.items())


class ParameterDict(Module):
    """Parameters by name, in insertion order; used as a dict (``[]``, ``in``, keys, values, items, update, pop, get).

    >>> import numpy as np
    >>> scales = ParameterDict({"right": np.ones(2), "left": np.zeros(2)})
    >>> [name for name, _ in scales.named_parameters()], "left" in scales
    (['left', 'right'], True)
    """

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def _check_key(self, key) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys are strings, got {type(key).__name__} {key!r}")
        check_name(self, key, "ParameterDict", held=self._parameters, noun="key")  # "keys" would hide the method

    def __getitem__(self, key: str) -> Parameter:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys are strings, got {type(key).__name__} {key!r}")
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        self._check_key(key)
        setattr(self, key, _parameter(value, "ParameterDict"))

    def __delitem__(self, key: str) -> None:
        if key not in self._parameters:
            raise KeyError(key)
        Module.__delattr__(self, key)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __reversed__(self):
        return reversed(self._parameters)

    def __contains__(self, key) -> bool:
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, key: str, default=None):
        return self._parameters.get(key, default)

    def setdefault(self, key: str, default=None) -> Parameter:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str) -> Parameter:
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple:
        """Remove and return the last inserted (key, Parameter) pair."""
        if not self._parameters:
            raise KeyError("popitem(): ParameterDict is empty")
        key = next(reversed(self._parameters))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self._parameters):
            del self[key]

    def copy(self) -> "ParameterDict":
        """A new ParameterDict holding the same Parameters, in the same order."""
        return ParameterDict(OrderedDict(self.items()))

    def update(self, parameters) -> None:
        """Add or replace from a mapping or an iterable of (key, value) pairs.

        As PyTorch: an OrderedDict, a ParameterDict or pairs keep their order; any other mapping (a plain
        ``dict``) is added in sorted key order.
        """
        if isinstance(parameters, OrderedDict | ParameterDict):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            # str(): a non-string key is then refused by name (TypeError), not by sorted()
            pairs = sorted(parameters.items(), key=lambda pair: str(pair[0]))
        elif isinstance(parameters, Iterable) and not isinstance(parameters, str | Tensor | np.ndarray | Module):
            pairs = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, Iterable) or isinstance(pair, str | Tensor | np.ndarray):
                    raise TypeError(f"ParameterDict.update: element #{j} must be a (key, value) pair, "
                                    f"got {type(pair).__name__}")
                pairs.append(tuple(pair))
                if len(pairs[-1]) != 2:
                    raise ValueError(f"ParameterDict.update: element #{j} has length {len(pairs[-1])}; 2 is required")
        else:
            raise TypeError("ParameterDict.update takes a mapping or an iterable of (key, value) pairs, "
                            f"got {type(parameters).__name__}")
        for key, value in pairs:
            self[key] = value

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called: it holds parameters for the module that owns it")

    def extra_repr(self) -> str:
        return _lines(self._parameters.items())
