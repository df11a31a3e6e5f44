"""The one rule for checking user-supplied arguments.

Every public constructor and function that takes a number, a flag or a choice
checks it here, so every message has the same shape --
``"<owner>: <name> must be <what is allowed>, got <value>"`` -- and the same
rule holds everywhere: numbers are real (booleans are not numbers), finite
(``inf`` and ``nan`` are refused unless a caller explicitly allows infinity),
and inside the stated bounds.  Errors are :class:`~nnlab.errors.ConfigError`
(a ``ValueError``), which the CLI turns into one line and exit code 2.

>>> check_float("lr", 0.1, low=0.0, owner="SGD")
0.1
>>> check_float("lr", float("inf"), low=0.0, owner="SGD")
Traceback (most recent call last):
...
nnlab.errors.ConfigError: SGD: lr must be a finite number >= 0, got inf
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError

_REAL = (int, float, np.integer, np.floating)


def _prefix(owner: str | None) -> str:
    return f"{owner}: " if owner else ""


def _bounds(low, high, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}" if isinstance(low, float) else f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}" if isinstance(high, float) else f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def check_float(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False,
                allow_inf: bool = False, owner: str | None = None) -> float:
    """A real, finite number within [low, high] (open ends where asked); returns it as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _REAL):
        _refuse(name, value, "a number" if allow_inf else "a finite number", low, high, low_open, high_open, owner)
    number = float(value)
    bad = math.isnan(number) or (not allow_inf and math.isinf(number))
    if low is not None:
        bad |= number <= low if low_open else number < low
    if high is not None:
        bad |= number >= high if high_open else number > high
    if bad:
        _refuse(name, value, "a number" if allow_inf else "a finite number", low, high, low_open, high_open, owner)
    return number


def _refuse(name, value, kind, low, high, low_open, high_open, owner):
    """Raise the ConfigError of a number outside its range; the message is built only here, on failure
    (the checks run on every call of some layers and losses)."""
    bounds = _bounds(low, high, low_open, high_open)
    raise ConfigError(f"{_prefix(owner)}{name} must be {kind}{f' {bounds}' if bounds else ''}, got {value!r}")


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None, *,
              owner: str | None = None) -> int:
    """An integer (not a bool, not a float such as 2.0) within [minimum, maximum]; returns a Python int."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum)):
        _refuse(name, value, "an integer", minimum, maximum, False, False, owner)
    return int(value)


def check_bool(name: str, value, *, owner: str | None = None) -> bool:
    """True or False (NumPy booleans too; not 0, 1 or strings)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{_prefix(owner)}{name} must be true or false, got {value!r}")
    return bool(value)


def check_choice(name: str, value, choices, *, owner: str | None = None):
    """One of ``choices``; the message lists them all."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # an unhashable value in a set of choices
        ok = False
    if not ok:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{_prefix(owner)}{name} must be one of {allowed}; got {value!r}")
    return value


def check_dtype(value, *, owner: str | None = None) -> np.dtype:
    """A floating NumPy dtype (float32 or float64)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise ConfigError(f"{_prefix(owner)}dtype must be float32 or float64, got {value!r}") from None
    if dtype.kind != "f":
        raise ConfigError(f"{_prefix(owner)}dtype must be floating (float32 or float64), got {dtype}")
    return dtype
