"""LBFGS's state dict: copies out, and a complete check before anything is loaded.

LBFGS keeps one history for all parameters, not buffers per element, so its
state is PyTorch's, under parameter 0, rather than the arrays shaped like each
parameter that ``_state_check.py`` checks for the other optimizers; the promise is
the same: a bad state dict raises a ConfigError naming the problem and leaves
the optimizer as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ._state_check import _checked_group, _index

COUNTS = ("func_evals", "n_iter")
VECTORS = ("d", "prev_flat_grad")
HISTORY = ("old_dirs", "old_stps")
NUMBERS = ("t", "H_diag", "prev_loss")
AFTER_A_STEP = frozenset(VECTORS + HISTORY + NUMBERS + ("ro",))


def _plain(value):
    """A copy without NumPy scalars (Python floats hold a float32 exactly, and combine with float32 as one)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def lbfgs_state_copy(state: dict) -> dict:
    return {key: _plain(value) for key, value in state.items()}


def _is_list(value) -> bool:
    return not isinstance(value, (str, bytes, Mapping)) and isinstance(value, (Sequence, np.ndarray))


def _number(key: str, value, whole: bool = False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"LBFGS state '{key}' must be a number, got {value!r}")
    if whole and (not float(value).is_integer() or value < 0):
        raise ConfigError(f"LBFGS state '{key}' must be a whole number >= 0, got {value!r}")
    return int(value) if whole else float(value)


def _vector(key: str, value, flat) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise ConfigError(f"LBFGS state '{key}' must be numbers, got an array of dtype {array.dtype}")
    if array.shape != flat.data.shape:
        raise ConfigError(f"LBFGS state '{key}' has shape {array.shape}, the parameters {flat.data.shape} in all")
    return array.astype(flat.dtype)


def checked_lbfgs_state(opt, state_dict) -> tuple[dict, dict]:
    """``(the group's hyper-parameters, LBFGS's state)`` from a valid state dict, else a ConfigError."""
    if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
        raise ConfigError("an optimizer state dict needs the keys 'state' and 'param_groups'")
    groups, saved = state_dict["param_groups"], state_dict["state"]
    if not _is_list(groups) or len(groups) != 1:
        raise ConfigError(f"an LBFGS state dict has one parameter group, got {groups!r:.80}")
    group = _checked_group(opt, 0, groups[0], opt.param_groups[0])
    if not isinstance(saved, Mapping):
        raise ConfigError(f"the state dict's 'state' must be a dict, got {type(saved).__name__}")
    if not saved:
        return group, {}
    if len(saved) != 1 or _index(next(iter(saved)), len(opt.param_groups[0]["params"])) != 0:
        raise ConfigError(f"LBFGS keeps its state under parameter 0, the state dict has {sorted(map(str, saved))}")
    entry = next(iter(saved.values()))
    if not isinstance(entry, Mapping):
        raise ConfigError(f"LBFGS state must be a dict, got {type(entry).__name__}")
    keys, expected = set(entry), set(COUNTS) | (AFTER_A_STEP if set(entry) & AFTER_A_STEP else set())
    if keys != expected:
        raise ConfigError(f"LBFGS state has keys {sorted(map(str, keys))}, expected {sorted(expected)}")
    flat = opt._flats[0][0]
    state = {key: _number(key, entry[key], whole=True) for key in COUNTS}
    if len(keys) == len(COUNTS):
        return group, state
    state.update({key: _vector(key, entry[key], flat) for key in VECTORS})
    state.update({key: _number(key, entry[key]) for key in NUMBERS})
    lengths = set()
    for key in (*HISTORY, "ro"):
        if not _is_list(entry[key]):
            raise ConfigError(f"LBFGS state '{key}' must be a list, got {type(entry[key]).__name__}")
        lengths.add(len(entry[key]))
    if len(lengths) != 1:
        raise ConfigError(f"LBFGS state 'old_dirs', 'old_stps' and 'ro' must be as long, got lengths {sorted(lengths)}")
    if lengths.pop() > group["history_size"]:
        raise ConfigError(f"LBFGS state holds {len(entry['ro'])} history pairs, more than history_size = "
                          f"{group['history_size']}")
    state.update({key: [_vector(f"{key}[{i}]", v, flat) for i, v in enumerate(entry[key])] for key in HISTORY})
    state["ro"] = [_number(f"ro[{i}]", v) for i, v in enumerate(entry["ro"])]
    return group, state
