"""Hyperparameter search on Optuna: search spaces over dotted config keys, and median pruning from a callback.

A search space maps a dotted key of a nested settings dict (``"optimizer.lr"``,
``"model.hidden.0"`` for the first element of a list) to a distribution:

- ``{type = "float", low = 1e-4, high = 0.1, log = true}`` (``step`` optional),
- ``{type = "int", low = 16, high = 256, log = true}`` (``step`` optional),
- ``{type = "categorical", choices = ["relu", "tanh"]}``, or just the list of choices;
  a choice may be any TOML value (a list such as ``[128, 64]`` is passed to Optuna as its JSON text).

:func:`suggest` draws a trial's values, :func:`apply` writes them into a dict,
and :class:`PruningCallback` reports a metric to the trial every epoch and
stops training when the trial's pruner says so (Optuna's median rule: stop a
trial whose value at epoch t is worse than the median of earlier trials at t).
Optuna is imported only by the functions that need it (``pip install 'nnlab[tune]'``).

>>> space = parse_space({"optimizer": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
...                      "model.hidden.0": [32, 64]})
>>> sorted(space)
['model.hidden.0', 'optimizer.lr']
>>> apply({"model": {"hidden": [8, 8]}}, {"model.hidden.0": 64, "optimizer.lr": 0.01})
{'model': {'hidden': [64, 8]}, 'optimizer': {'lr': 0.01}}
"""

from __future__ import annotations

import copy
import json
import math

from .errors import ConfigError
from .train.callbacks import Callback

__all__ = ["parse_space", "suggest", "apply", "PruningCallback"]

_KEYS = {"float": {"low", "high", "log", "step"}, "int": {"low", "high", "log", "step"}, "categorical": {"choices"}}


def parse_space(space: dict, where: str = "tune.space") -> dict:
    """The search space as ``{dotted key: distribution dict}``, every entry checked.

    Nested tables are flattened (``optimizer.lr = {...}`` in TOML is the same as
    ``"optimizer.lr" = {...}``) down to a table with a ``type`` key or a list.
    """
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where} must be a table of dotted config keys and distributions, "
                          "e.g. \"optimizer.lr\" = {type = \"float\", low = 1e-4, high = 0.1, log = true}")
    flat = {}
    stack = [("", space)]
    while stack:
        prefix, table = stack.pop()
        for key, value in table.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and "type" not in value:
                stack.append((path, value))
            else:
                flat[path] = _distribution(path, value, where)
    return dict(sorted(flat.items()))


def _distribution(path: str, spec, where: str) -> dict:
    label = f"{where}.{path!r}"
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{label} must be a table with a 'type' (float, int, categorical) or a list of choices, "
                          f"got {spec!r}")
    kind = spec.get("type")
    if kind not in _KEYS:
        raise ConfigError(f"{label}: type must be one of float, int, categorical, got {kind!r}")
    extra = set(spec) - _KEYS[kind] - {"type"}
    if extra:
        raise ConfigError(f"{label}: unknown key(s) {', '.join(sorted(extra))} for type {kind!r}; "
                          f"allowed: {', '.join(sorted(_KEYS[kind]))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{label}: choices must be a non-empty list, got {choices!r}")
        return {"type": kind, "choices": list(choices)}
    number = int if kind == "int" else (int, float)
    low, high = spec.get("low"), spec.get("high")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            raise ConfigError(f"{label}: {name} must be a{'n integer' if kind == 'int' else ' number'}, got {value!r}")
    if not low <= high:
        raise ConfigError(f"{label}: low must not exceed high, got low={low!r}, high={high!r}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{label}: log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"{label}: a log-uniform range needs low > 0, got low={low!r}")
    out = {"type": kind, "low": low, "high": high, "log": log}
    if "step" in spec:
        step = spec["step"]
        if isinstance(step, bool) or not isinstance(step, number) or step <= 0 or log:
            raise ConfigError(f"{label}: step must be a positive number (and log false), got {step!r}")
        out["step"] = step
    return out


def _encoded(choices: list) -> list:
    """Optuna takes None, bool, int, float and str choices; other values travel as their JSON text."""
    plain = all(c is None or isinstance(c, bool | int | float | str) for c in choices)
    return choices if plain else [json.dumps(c) for c in choices]


def suggest(trial, space: dict) -> dict:
    """One value per key of ``space`` (from :func:`parse_space`), drawn by the Optuna ``trial``."""
    values = {}
    for path, d in space.items():
        if d["type"] == "categorical":
            encoded = _encoded(d["choices"])
            value = trial.suggest_categorical(path, encoded)
            values[path] = d["choices"][encoded.index(value)]
        elif d["type"] == "int":
            values[path] = trial.suggest_int(path, d["low"], d["high"], step=d.get("step", 1), log=d["log"])
        else:
            values[path] = trial.suggest_float(path, d["low"], d["high"], step=d.get("step"), log=d["log"])
    return values


def decode(space: dict, params: dict) -> dict:
    """A trial's ``params`` as stored by Optuna (JSON text for list choices) back to config values."""
    out = {}
    for path, value in params.items():
        d = space.get(path)
        if d is not None and d["type"] == "categorical":
            encoded = _encoded(d["choices"])
            value = d["choices"][encoded.index(value)] if value in encoded else value
        out[path] = value
    return out


def apply(settings: dict, values: dict, defaults: dict | None = None) -> dict:
    """A copy of the nested ``settings`` with each dotted key of ``values`` set (tables made as needed).

    A numeric part indexes a list (``"model.hidden.1"``); a list missing from
    ``settings`` is first copied from ``defaults`` (the same keys, fully filled in).
    """
    out = copy.deepcopy(settings)
    for path, value in values.items():
        node, full = out, defaults
        parts = path.split(".")
        for i, part in enumerate(parts[:-1]):
            key = int(part) if isinstance(node, list) else part
            following = parts[i + 1]
            full = _child(full, key)
            if isinstance(node, list):
                node = _index(node, key, path)
                continue
            if key not in node:
                wanted_list = following.isdigit()
                node[key] = copy.deepcopy(full) if wanted_list and isinstance(full, list) else {}
            node = node[key]
        last = parts[-1]
        if isinstance(node, list):
            _index(node, int(last) if last.isdigit() else last, path)
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"tune.space: {path!r} goes inside {node!r}, which is not a table or a list")
    return out


def _child(node, key):
    try:
        return node[key] if node is not None else None
    except (KeyError, IndexError, TypeError):
        return None


def _index(node: list, key, path: str):
    if not isinstance(key, int) or not 0 <= key < len(node):
        raise ConfigError(f"tune.space: {path!r} indexes a list of {len(node)} elements with {key!r}")
    return node[key]


class PruningCallback(Callback):
    """Report ``monitor`` (an epoch log such as ``"val_loss"``) to an Optuna trial; stop when it should be pruned.

    After ``fit`` returns, ``pruned`` tells whether the trial's pruner stopped
    it (the caller then raises ``optuna.TrialPruned``, so the exception never
    crosses the training loop).
    """

    def __init__(self, trial, monitor: str):
        self.trial = trial
        self.monitor = monitor
        self.pruned = False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ConfigError(f"tune.metric = {self.monitor!r} is not logged by training; "
                              f"choose one of: {', '.join(sorted(k for k in logs if k != 'lr'))}")
        value = float(logs[self.monitor])
        if not math.isfinite(value):
            return  # a diverged epoch: the divergence guard ends the run, Optuna need not see NaN
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned = True
            self.stop_training = True
