"""Learning-rate and momentum schedules: pure functions of the epoch or step ``t`` (0, 1, 2, ...).

Each factory returns a :class:`Schedule`, a callable ``schedule(t) -> float``
with a readable repr.  A schedule never touches an optimizer: the training
loop (a callback) calls it and sets ``optimizer.lr`` or a group's
``"momentum"``.  Whether ``t`` counts epochs or steps is the caller's choice.

The validation-driven rules (halve after an epoch whose validation error rose;
reduce on plateau) need state, so they are callbacks of the training loop.
"""

from __future__ import annotations

import math
import numbers

from ..errors import ConfigError


def _number(name: str, value, low=None, integer=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or (low is not None and value < low):
        kind = "a whole number" if integer else "a finite number"
        bound = "" if low is None else f" >= {low}"
        raise ConfigError(f"{name} must be {kind}{bound}, got {value!r}")
    return int(value) if integer else float(value)


def _time(t) -> float:
    if t < 0:
        raise ConfigError(f"a schedule's step/epoch must be >= 0, got {t}")
    return t


class Schedule:
    """A pure function ``t -> value``; the factories below build them."""

    def __init__(self, name: str, fn, **params):
        self.name, self._fn, self.params = name, fn, params

    def __call__(self, t) -> float:
        return float(self._fn(_time(t)))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"


def constant(value: float) -> Schedule:
    """η_t = value.

    >>> constant(0.1)(7)
    0.1
    """
    value = _number("value", value)
    return Schedule("constant", lambda t: value, value=value)


def step_decay(initial: float, factor: float = 0.5, every: int = 5) -> Schedule:
    """η_t = initial · factor^⌊t/every⌋ — the seeds' "halve the learning rate every 5 epochs".

    >>> [step_decay(1.0)(t) for t in (0, 4, 5, 10)]
    [1.0, 1.0, 0.5, 0.25]
    """
    initial, factor = _number("initial", initial), _number("factor", factor, low=0)
    every = _number("every", every, low=1, integer=True)
    return Schedule("step_decay", lambda t: initial * factor ** (t // every), initial=initial, factor=factor, every=every)


def exponential_decay(initial: float, k: float) -> Schedule:
    """η_t = η₀·e^(−k·t).

    >>> round(exponential_decay(1.0, k=math.log(2))(3), 12)
    0.125
    """
    initial, k = _number("initial", initial), _number("k", k, low=0)
    return Schedule("exponential_decay", lambda t: initial * math.exp(-k * t), initial=initial, k=k)


def inverse_time_decay(initial: float, k: float) -> Schedule:
    """η_t = η₀/(1 + k·t) (the seeds' 1/t decay).

    >>> inverse_time_decay(1.0, k=0.5)(2)
    0.5
    """
    initial, k = _number("initial", initial), _number("k", k, low=0)
    return Schedule("inverse_time_decay", lambda t: initial / (1.0 + k * t), initial=initial, k=k)


def cosine_decay(initial: float, total: int, final: float = 0.0) -> Schedule:
    """η_t = final + (initial − final)·(1 + cos(π·min(t, total)/total))/2: from initial to final over ``total``.

    >>> s = cosine_decay(1.0, total=10)
    >>> s(0), s(5), s(10), s(20)
    (1.0, 0.5, 0.0, 0.0)
    """
    initial, final = _number("initial", initial), _number("final", final)
    total = _number("total", total, low=1, integer=True)

    def fn(t):
        return final + (initial - final) * 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total))

    return Schedule("cosine_decay", fn, initial=initial, total=total, final=final)


def warmup(schedule, steps: int, start: float = 0.0) -> Schedule:
    """A linear ramp over ``steps``, then ``schedule`` (started afresh).

    For t < steps: η_t = schedule(0)·(start + (1 − start)·t/steps), rising from
    ``start``·schedule(0) at t = 0 towards schedule(0); for t ≥ steps:
    η_t = schedule(t − steps), so a decay schedule begins once the warm-up ends.
    Goyal et al.'s gradual warm-up for large batches is
    ``warmup(constant(linear_scaling(base_lr, batch)), steps, start=256/batch)``.

    >>> s = warmup(constant(1.0), steps=4)
    >>> [s(t) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    if not callable(schedule):
        raise ConfigError(f"warmup needs a schedule (a callable t -> value), got {schedule!r}")
    steps = _number("steps", steps, low=0, integer=True)
    start = _number("start", start, low=0)

    def fn(t):
        if t >= steps:
            return schedule(t - steps)
        return schedule(0) * (start + (1.0 - start) * t / steps)

    return Schedule("warmup", fn, schedule=schedule, steps=steps, start=start)


def linear_scaling(base_lr: float, batch_size: int, base_batch_size: int = 256) -> float:
    """The linear scaling rule (Goyal et al.): η = base_lr · batch_size / base_batch_size.

    A value, not a schedule: wrap it in :func:`warmup` and :func:`constant` (or a decay).

    >>> linear_scaling(0.1, 1024)
    0.4
    """
    base_lr = _number("base_lr", base_lr, low=0)
    batch_size = _number("batch_size", batch_size, low=1, integer=True)
    base_batch_size = _number("base_batch_size", base_batch_size, low=1, integer=True)
    return base_lr * batch_size / base_batch_size


def momentum_schedule(initial: float = 0.5, final: float = 0.9, switch: int = 5, ramp: int = 0) -> Schedule:
    """The seeds' advice: γ = ``initial`` (0.5) until learning stabilizes, then ``final`` (0.9 or higher).

    γ_t = initial for t < switch; then a linear ramp over ``ramp`` steps (0: a
    jump) to ``final``, kept from t = switch + ramp on.  Apply it to SGD with a
    callback that sets ``group["momentum"]`` in every parameter group.

    >>> s = momentum_schedule(0.5, 0.9, switch=2, ramp=2)
    >>> [round(s(t), 2) for t in range(5)]
    [0.5, 0.5, 0.5, 0.7, 0.9]
    """
    initial = _number("initial", initial, low=0)
    final = _number("final", final, low=0)
    if initial >= 1 or final >= 1:
        raise ConfigError(f"momentum values must be < 1, got initial={initial}, final={final}")
    switch = _number("switch", switch, low=0, integer=True)
    ramp = _number("ramp", ramp, low=0, integer=True)

    def fn(t):
        if t < switch:
            return initial
        if t >= switch + ramp:
            return final
        return initial + (final - initial) * (t - switch) / ramp

    return Schedule("momentum_schedule", fn, initial=initial, final=final, switch=switch, ramp=ramp)
