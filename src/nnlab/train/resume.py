"""Resumable training: everything ``fit`` needs to continue a run bit for bit, in one data-only file.

:class:`TrainingState` saves, at the end of every epoch (after every other
callback, :class:`History` included), the model's parameters and buffers, the
optimizer's ``state_dict`` (step counts, moments, learning rates), every
callback's state (early-stopping counter and best weights, plateau monitors,
the metrics log so far), the epoch counter, the history, and the state of
every random generator the run draws from: nnlab's global one, the data
loader's shuffling generator, those of layers (Dropout, GaussianNoise) and of
the augmentation steps, and the number of processes of a distributed run
(a resume on another count is refused).  ``fit(..., resume_from=path)``
builds the run as usual, loads that state after ``on_train_begin`` and
continues with the next epoch, so a run killed at any moment and resumed
ends with the same weights and history, bit for bit, as one that was never
interrupted (see
``tests/test_resume.py``, which kills training processes with SIGKILL).

The file is a safetensors file (:mod:`nnlab._modelfile`, checksummed like a
model file) whose tensors are the arrays and whose ``state`` entry is JSON:
never pickle.  A generator's state is NumPy's ``bit_generator.state``, a dict
of ints and strings.  Callback attributes are saved generically: numbers,
strings, lists, dicts, arrays (text arrays as JSON lists), NumPy generators, text buffers and nested plain
objects (a :class:`Monitor`); functions, files, the model, the optimizer and
the attributes a callback names in ``rebuilt`` (where it writes: a
``Checkpoint``'s path and save options, a ``MetricsLogger``'s path,
``TensorBoard``'s log folder) are not state and are left as the new run built
them, so a run folder that was moved, or is resumed from another working
directory, is written into itself.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np

from .. import _modelfile
from .. import random as _random
from ..errors import ModelFileError
from .callbacks.base import Callback

KIND = ("nnlab-training-state", "1")
_SKIP = {"model", "optimizer", "params", "loop"}


class Loop:
    """What ``fit`` shares with :class:`TrainingState`: the parts of a run that are not callbacks."""

    def __init__(self, loader, history, callbacks, augment, model):
        self.loader, self.history, self.callbacks, self.augment, self.model = loader, history, callbacks, augment, model


class TrainingState(Callback):
    """Write the full training state to ``path`` after every epoch (atomically), for ``fit(resume_from=path)``."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.loop = None

    def on_epoch_end(self, epoch, logs=None):
        save_state(self.path, self.loop, self.optimizer, epoch)


# ---------------------------------------------------------------- saving
def save_state(path, loop: Loop, optimizer, epoch: int) -> None:
    """Write the state after (0-based) ``epoch`` to ``path``."""
    from ..io import atomic_write

    arrays: dict = {}
    state = {
        "epoch": epoch,
        "model": _plain(loop.model.state_dict(), arrays, "model"),
        "optimizer": _plain(optimizer.state_dict(), arrays, "optimizer"),
        "callbacks": [_plain(_attributes(cb), arrays, f"callbacks.{i}") for i, cb in enumerate(loop.callbacks)],
        "history": {"history": loop.history.history, "epoch": loop.history.epoch},
        "generators": [g.bit_generator.state for g in _generators(loop)],
        "ranks": _ranks(loop),
    }
    state["history"] = _plain(state["history"], arrays, "history")
    entries = {"format": KIND[0], "format_version": KIND[1], "state": _modelfile.canonical_json(state)}
    atomic_write(path, _modelfile.encode(arrays, entries))


def _ranks(loop: Loop) -> int:
    """The processes the run's batches are split over (a ShardedLoader's K): a resume needs as many."""
    return getattr(loop.loader, "world", 1)


def _attributes(obj) -> dict:
    return {k: v for k, v in vars(obj).items() if not _rebuilt(obj, k)}


def _rebuilt(obj, name: str) -> bool:
    """Whether attribute ``name`` of ``obj`` is the new run's own, not state: the model, the optimizer, the
    places a callback writes to (its ``rebuilt`` names: a moved run folder is resumed into itself), and a
    property (an older state file's ``saved`` list of a Checkpoint, now computed)."""
    return (name in _SKIP or name in getattr(type(obj), "rebuilt", ())
            or isinstance(getattr(type(obj), name, None), property))


def _plain(value, arrays: dict, path: str):
    """``value`` as JSON-able data; arrays go to ``arrays`` under a name, other objects are tagged."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "US":  # text (a categorical column's categories)
        return {"__strings__": {"dtype": value.dtype.str, "shape": list(value.shape), "items": value.ravel().tolist()}}
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return {"__skip__": True}  # objects: not data a state file holds; the new run rebuilds them
    if isinstance(value, np.ndarray):
        arrays[path] = np.ascontiguousarray(value)
        return {"__array__": path}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: _plain(v, arrays, f"{path}.{k}") for k, v in value.items()}}
        return {"__items__": [[_plain(k, arrays, f"{path}.k{i}"), _plain(v, arrays, f"{path}.{i}")]
                              for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, list | tuple):
        items = [_plain(v, arrays, f"{path}.{i}") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, np.random.Generator):
        return {"__generator__": value.bit_generator.state}
    if isinstance(value, io.StringIO):
        return {"__text__": value.getvalue()}
    if hasattr(value, "__dict__") and not callable(value) and type(value).__module__.startswith("nnlab."):
        return {"__object__": {k: _plain(v, arrays, f"{path}.{k}") for k, v in _attributes(value).items()}}
    return {"__skip__": True}  # functions, files: rebuilt by the new run, not state


def _generators(loop: Loop) -> list:
    """Every generator the run draws from, in a fixed order (nnlab's global one first)."""
    found, seen = [], set()

    def add(gen):
        if isinstance(gen, np.random.Generator) and id(gen) not in seen:
            seen.add(id(gen))
            found.append(gen)

    add(_random.get_rng())
    add(getattr(loop.loader, "_rng", None))
    for module in loop.model.modules():
        for value in vars(module).values():
            add(value)
    steps = loop.augment if isinstance(loop.augment, list | tuple) else [loop.augment]
    for step in steps:
        for value in (vars(step).values() if hasattr(step, "__dict__") else ()):
            add(value)
    return found


# --------------------------------------------------------------- loading
def saved_epoch(path) -> int:
    """The (0-based) epoch after which the training state in ``path`` was saved."""
    entries, _ = _modelfile.decode(path, KIND)
    state = _modelfile.parse_json(entries.get("state", "null"), "state entry", os.fspath(path))
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int):
        raise ModelFileError(f"{os.fspath(path)!r} is not a usable training state (no epoch counter)")
    return state["epoch"]


def load_state(path, loop: Loop, optimizer) -> int:
    """Put the saved state into the freshly built run; returns the next epoch (0-based)."""
    entries, arrays = _modelfile.decode(path, KIND)
    state = _modelfile.parse_json(entries.get("state", "null"), "state entry", os.fspath(path))
    saved_ranks = state.get("ranks", 1) if isinstance(state, dict) else 1
    if saved_ranks != _ranks(loop):  # each global batch is K x batch_size: another K is another run
        raise ModelFileError(f"{os.fspath(path)!r} was saved by a run on {saved_ranks} process(es), this run has "
                             f"{_ranks(loop)}; the global batch (processes x batch size) would change: resume with "
                             f"the same count (mpiexec -n {saved_ranks})")
    try:
        loop.model.load_state_dict(_restore(state["model"], arrays))
        optimizer.load_state_dict(_restore(state["optimizer"], arrays))
        if len(state["callbacks"]) != len(loop.callbacks):
            raise ModelFileError(f"{path!r} was saved with {len(state['callbacks'])} callbacks, this run has "
                                 f"{len(loop.callbacks)}; resume with the same settings")
        for cb, saved in zip(loop.callbacks, state["callbacks"]):
            _restore_into(cb, saved, arrays)
        history = _restore(state["history"], arrays)
        loop.history.history, loop.history.epoch = history["history"], history["epoch"]
        generators = _generators(loop)
        if len(generators) != len(state["generators"]):
            raise ModelFileError(f"{path!r} holds {len(state['generators'])} random generators, this run has "
                                 f"{len(generators)}; resume with the same settings")
        for gen, saved in zip(generators, state["generators"]):
            gen.bit_generator.state = saved
        return int(state["epoch"]) + 1
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{os.fspath(path)!r} is not a usable training state ({exc})") from None


def _restore(value, arrays):
    if isinstance(value, list):
        return [_restore(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    (tag, inner), = value.items()
    if tag == "__array__":
        return arrays[inner].copy()
    if tag == "__strings__":
        return np.array(inner["items"], dtype=np.dtype(inner["dtype"])).reshape(inner["shape"])
    if tag == "__float__":
        return float(inner)
    if tag == "__dict__":
        return {k: _restore(v, arrays) for k, v in inner.items()}
    if tag == "__items__":
        return {_restore(k, arrays): _restore(v, arrays) for k, v in inner}
    if tag == "__tuple__":
        return tuple(_restore(v, arrays) for v in inner)
    if tag == "__generator__":
        gen = np.random.default_rng()
        gen.bit_generator.state = inner
        return gen
    if tag == "__text__":
        buffer = io.StringIO()
        buffer.write(inner)
        return buffer
    if tag in ("__object__", "__skip__"):
        raise _Rebuilt  # an object or function inside a setting (a Checkpoint's preprocessing): not state
    raise ValueError(f"unknown tag {tag!r}")


class _Rebuilt(Exception):
    """An attribute whose saved form cannot be rebuilt: the new run's own value stays."""


def _restore_into(obj, saved: dict, arrays) -> None:
    """Set the saved attributes on the existing object, nested plain objects in place."""
    for name, value in saved["__dict__"].items():
        if isinstance(value, dict) and "__skip__" in value or _rebuilt(obj, name):
            continue  # _rebuilt: also for a state file written when such places were still saved
        if isinstance(value, dict) and "__object__" in value and hasattr(getattr(obj, name, None), "__dict__"):
            _restore_into(getattr(obj, name), {"__dict__": value["__object__"]}, arrays)
        else:
            try:
                setattr(obj, name, _restore(value, arrays))
            except _Rebuilt:
                pass
