"""Checking an optimizer state dict completely before anything is loaded (:meth:`Optimizer.load_state_dict`).

``load_state_dict`` promises that a bad state dict leaves the optimizer as it
was, with a ConfigError naming the problem; so every check lives here, runs
first, and hands back values that cannot fail to load (numbers as Python ints,
arrays already converted), and loading only writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError

#: group keys besides an optimizer's settings: "name", and what a learning-rate scheduler (``lr_scheduler``)
#: stores in a group, as PyTorch's do; allowed by ``add_param_group`` and in a loaded state dict
GROUP_EXTRA_KEYS = frozenset({"name", "initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"})


def checked_state_dict(opt, state_dict) -> tuple[list, dict]:
    """``(hyper-parameters of each group, {parameter index: (step, {state name: flat array})})`` from a valid dict.

    Raises ConfigError for anything :meth:`Optimizer.state_dict` would not have
    written for ``opt``: missing or unknown keys, a group count or size that
    differs, a state entry that is not a dict or lacks a buffer, a step that is
    not a whole number >= 0, an array of the wrong shape or not numeric, an
    index of no parameter, hyper-parameters the optimizer refuses.
    """
    name = type(opt).__name__
    if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
        raise ConfigError("an optimizer state dict needs the keys 'state' and 'param_groups'")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    if isinstance(saved_groups, (str, bytes)) or not isinstance(saved_groups, Sequence):
        raise ConfigError(f"the state dict's 'param_groups' must be a list of dicts, got {type(saved_groups).__name__}")
    if not isinstance(saved_state, Mapping):
        raise ConfigError(f"the state dict's 'state' must be a dict, got {type(saved_state).__name__}")
    if len(saved_groups) != len(opt.param_groups):
        raise ConfigError(f"the state dict has {len(saved_groups)} parameter groups, the optimizer {len(opt.param_groups)}")
    groups = [_checked_group(opt, k, saved, group) for k, (saved, group) in enumerate(zip(saved_groups, opt.param_groups))]

    shapes = {i: flat.data_views[j].shape for i, _gi, flat, j in opt._indexed_params()}
    expected = {"step", *opt.state_names}
    entries: dict = {}
    for key, entry in saved_state.items():
        i = _index(key, len(shapes))
        if i in entries:
            raise ConfigError(f"the state dict holds parameter {i} twice (as {i} and '{i}')")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"state of parameter {i} must be a dict of its step and buffers, got {type(entry).__name__}")
        if set(entry) != expected:
            raise ConfigError(f"state of parameter {i} has keys {sorted(map(str, entry))}, {name} expects {sorted(expected)}")
        step = entry["step"]
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ConfigError(f"state of parameter {i}: 'step' must be a whole number >= 0, got {step!r}")
        arrays = {}
        for buffer in opt.state_names:
            value = np.asarray(entry[buffer])
            if value.dtype.kind not in "fiu":
                raise ConfigError(f"state '{buffer}' of parameter {i} must be numbers, got an array of dtype {value.dtype}")
            if value.shape != shapes[i]:
                raise ConfigError(f"state '{buffer}' of parameter {i} has shape {value.shape}, the parameter {shapes[i]}")
            arrays[buffer] = value.reshape(-1)
        entries[i] = (int(step), arrays)
    return groups, entries


def _checked_group(opt, k: int, saved, group: dict) -> dict:
    """Group ``k``'s hyper-parameters after loading ``saved`` over it, checked as the optimizer checks its own."""
    if not isinstance(saved, Mapping):
        raise ConfigError(f"parameter group {k} of the state dict must be a dict, got {type(saved).__name__}")
    if "params" not in saved:
        raise ConfigError(f"parameter group {k} of the state dict has no 'params' key")
    params = saved["params"]
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise ConfigError(f"parameter group {k}: 'params' must be a list of parameter indices, got {params!r}")
    if len(params) != len(group["params"]):
        raise ConfigError(
            f"parameter group {k}: the state dict has {len(params)} parameters, the optimizer {len(group['params'])}"
        )
    # The keys add_param_group accepts, and any the group already has (so the optimizer's own state dict always loads).
    allowed = set(opt.defaults) | set(group) | GROUP_EXTRA_KEYS
    unknown = set(saved) - allowed
    if unknown:
        raise ConfigError(
            f"parameter group {k} of the state dict has unknown key(s) {sorted(map(str, unknown))} for "
            f"{type(opt).__name__}; allowed: {sorted(opt.defaults)} (is it another library's state dict?)"
        )
    new = dict(group)
    new.update({key: value for key, value in saved.items() if key != "params"})
    try:
        opt._validate(new)
    except ConfigError as error:
        raise ConfigError(f"parameter group {k} of the state dict: {error}") from None
    return {key: value for key, value in new.items() if key != "params"}


def _index(key, count: int) -> int:
    """A state key as the parameter index it names: an int, or its text after a JSON round trip."""
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) or not 0 <= key < count:
        raise ConfigError(f"the state dict has state for parameter {key!r}; the optimizer has parameters 0 to {count - 1}")
    return int(key)
