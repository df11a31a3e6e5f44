"""State-dict files: PyTorch's ``torch.save(model.state_dict(), path)`` idiom, data only.

``nnlab.save(model.state_dict(), path)`` writes the weights and buffers of any
Module (a user's own, unregistered subclass included, which a model file cannot
describe) and ``model.load_state_dict(nnlab.load(path))`` puts them back: the
file holds no architecture, so the model is built by the code that saved it.
It is the same safetensors container as a model file (:mod:`nnlab._modelfile`:
canonical bytes, SHA-256 over the whole file, atomic write) with its own
``format`` entry, so neither kind is ever read as the other.  Each array keeps
its dtype and shape; the ``keys`` entry keeps the saved order (the container
stores tensors sorted by name).  Only a map of string names to numeric arrays
is stored: anything else is refused by name before a byte is written.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from . import _modelfile
from .errors import ModelFileError
from .io import _created, atomic_write
from .tensor import Tensor

FORMAT = "nnlab-state-dict"
FORMAT_VERSION = "1"
_ENTRIES = ("format", "format_version", "nnlab_version", "created", "keys", "checksum")
WHAT_IT_IS = ("an nnlab state-dict file (weights only, no architecture, as nnlab.save(model.state_dict(), path) "
              "writes); build the model in code and call model.load_state_dict(nnlab.load(path))")
_ONLY_ARRAYS = ("a state-dict file stores only a map of names to numeric arrays (model.state_dict()); save other "
                "values separately: a model file's metadata= (nnlab.save(model, path, metadata={...})) or a JSON "
                "file for plain values, and fit's nnlab.train.TrainingState callback (resume_from=) for an "
                "optimizer's state and the epoch counter")


def save_state_dict(state: Mapping, path, preprocessing=None, metadata=None, classes=None) -> None:
    """Write ``state`` (name -> array, Tensor or Parameter) to ``path``, atomically; refuse anything else by key."""
    from ._version import __version__

    given = [name for name, value in (("preprocessing", preprocessing), ("metadata", metadata),
                                      ("classes", classes)) if value is not None]
    if given:
        raise TypeError(f"nnlab.save of a state dict takes no {', '.join(given)}: those belong to a model file "
                        "(nnlab.save(model, path, ...)); " + _ONLY_ARRAYS)
    arrays = OrderedDict((_name(key), _array(key, value)) for key, value in state.items())
    entries = {"format": FORMAT, "format_version": FORMAT_VERSION, "nnlab_version": __version__,
               "created": _created(), "keys": _modelfile.canonical_json(list(arrays))}
    atomic_write(os.fspath(path), _modelfile.encode(arrays, entries))


def _name(key) -> str:
    if not isinstance(key, str):
        raise TypeError(f"state dict key {key!r} is of type {type(key).__name__}, not a string; {_ONLY_ARRAYS}")
    if key == "__metadata__":  # the safetensors header's own entry
        raise ModelFileError("state dict key '__metadata__' is reserved by the safetensors format; rename it")
    return key


def _array(key: str, value) -> np.ndarray:
    """``value`` as the NumPy array to store: its own dtype and shape, never converted."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, np.ndarray | np.generic):
        raise TypeError(f"state dict entry {key!r} is of type {type(value).__name__}, not an array; {_ONLY_ARRAYS}")
    value = np.asarray(value)
    if value.dtype.kind not in "biuf" or value.dtype.itemsize > 8:  # the container's dtypes: bool, ints, f16-f64
        raise TypeError(f"state dict entry {key!r} has dtype {value.dtype}, which a state-dict file cannot store "
                        f"(bool, integer and float16/32/64 arrays only); {_ONLY_ARRAYS}")
    return value


def holds_state_dict(path) -> bool:
    """Whether the file at ``path`` says it is a state-dict file (its header alone is read; loading checks all)."""
    return _modelfile.format_of(path) == FORMAT


def read_entries(path) -> dict:
    """The file's entries (format, versions, creation date, ``keys`` as a list) after every check."""
    return _read(path)[0]


def load_state_dict(path) -> OrderedDict:
    """An OrderedDict of name -> NumPy array, in the order the state dict was saved."""
    entries, tensors = _read(path)
    return OrderedDict((key, tensors[key]) for key in entries["keys"])


def _read(path) -> tuple[dict, dict]:
    where = os.fspath(path)
    entries, tensors = _modelfile.decode(where, (FORMAT, FORMAT_VERSION))
    if sorted(entries) != sorted(_ENTRIES):
        raise ModelFileError(f"{where!r} is not a complete nnlab state-dict file (its entries are "
                             f"{sorted(entries)}, expected {sorted(_ENTRIES)})")
    keys = _modelfile.parse_json(entries["keys"], "keys entry", where)
    if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys)
            or set(keys) != set(tensors)):
        raise ModelFileError(f"{where!r} is corrupted: its keys entry does not name each of its tensors once")
    return {**entries, "keys": keys}, tensors
