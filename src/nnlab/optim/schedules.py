"""Learning-rate and momentum schedules: pure functions of the epoch or step ``t`` (0, 1, 2, ...).

Each factory returns a :class:`Schedule`, a callable ``schedule(t) -> float``
with a readable repr.  A schedule never touches an optimizer: the training
loop (a callback) calls it and sets ``optimizer.lr`` or the momentum
(``optimizer.set_momentum``).  Whether ``t`` counts epochs or steps is the
caller's choice.  :func:`get` builds a schedule by name (as a config names it).

The validation-driven rules (halve after an epoch whose validation error rose;
reduce on plateau) need state, so they are callbacks of the training loop.
"""

from __future__ import annotations

import inspect
import math
import numbers

from .._checks import check_choice, check_float, check_int
from ..errors import ConfigError


def _time(t) -> float:
    # a NaN t slipped through ``t < 0`` and gave a NaN rate; a string raised a bare TypeError
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0:
        raise ConfigError(f"a schedule's step/epoch must be a finite number >= 0, got {t!r}")
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
    value = check_float("value", value, owner="constant")
    return Schedule("constant", lambda t: value, value=value)


def step_decay(initial: float, factor: float = 0.5, every: int = 5) -> Schedule:
    """η_t = initial · factor^⌊t/every⌋ — the seeds' "halve the learning rate every 5 epochs".

    >>> [step_decay(1.0)(t) for t in (0, 4, 5, 10)]
    [1.0, 1.0, 0.5, 0.25]
    """
    initial = check_float("initial", initial, owner="step_decay")
    factor = check_float("factor", factor, low=0.0, owner="step_decay")
    every = check_int("every", every, 1, owner="step_decay")
    return Schedule("step_decay", lambda t: initial * factor ** (t // every), initial=initial, factor=factor, every=every)


def exponential_decay(initial: float, k: float) -> Schedule:
    """η_t = η₀·e^(−k·t).

    >>> round(exponential_decay(1.0, k=math.log(2))(3), 12)
    0.125
    """
    initial = check_float("initial", initial, owner="exponential_decay")
    k = check_float("k", k, low=0.0, owner="exponential_decay")
    return Schedule("exponential_decay", lambda t: initial * math.exp(-k * t), initial=initial, k=k)


def inverse_time_decay(initial: float, k: float) -> Schedule:
    """η_t = η₀/(1 + k·t) (the seeds' 1/t decay).

    >>> inverse_time_decay(1.0, k=0.5)(2)
    0.5
    """
    initial = check_float("initial", initial, owner="inverse_time_decay")
    k = check_float("k", k, low=0.0, owner="inverse_time_decay")
    return Schedule("inverse_time_decay", lambda t: initial / (1.0 + k * t), initial=initial, k=k)


def cosine_decay(initial: float, total: int, final: float = 0.0) -> Schedule:
    """η_t = final + (initial − final)·(1 + cos(π·min(t, total)/total))/2: from initial to final over ``total``.

    >>> s = cosine_decay(1.0, total=10)
    >>> s(0), s(5), s(10), s(20)
    (1.0, 0.5, 0.0, 0.0)
    """
    initial = check_float("initial", initial, owner="cosine_decay")
    final = check_float("final", final, owner="cosine_decay")
    total = check_int("total", total, 1, owner="cosine_decay")

    return Schedule("cosine_decay", lambda t: cosine_between(initial, final, min(t, total), total), initial=initial, total=total, final=final)


def cosine_between(start: float, end: float, t: float, total: float) -> float:
    """end + (start − end)·(1 + cos(π·t/total))/2: ``start`` at t = 0, ``end`` at t = total, back up beyond.

    The one half-cosine of nnlab: :func:`cosine_decay` (t clipped at ``total``) and
    ``lr_scheduler``'s CosineAnnealingLR (closed form), CosineAnnealingWarmRestarts
    and OneCycleLR's "cos" phases; the products are PyTorch's bit for bit (·0.5 and /2 are exact).

    >>> cosine_between(1.0, 0.0, 1, 2)
    0.5
    """
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * t / total))


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
    steps = check_int("steps", steps, 0, owner="warmup")
    start = check_float("start", start, low=0.0, owner="warmup")

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
    base_lr = check_float("base_lr", base_lr, low=0.0, owner="linear_scaling")
    batch_size = check_int("batch_size", batch_size, 1, owner="linear_scaling")
    base_batch_size = check_int("base_batch_size", base_batch_size, 1, owner="linear_scaling")
    return base_lr * batch_size / base_batch_size


def momentum_schedule(initial: float = 0.5, final: float = 0.9, switch: int = 5, ramp: int = 0) -> Schedule:
    """The seeds' advice: γ = ``initial`` (0.5) until learning stabilizes, then ``final`` (0.9 or higher).

    γ_t = initial for t < switch; then a linear ramp over ``ramp`` steps (0: a
    jump) to ``final``, kept from t = switch + ramp on.  Apply it to SGD with the
    ``MomentumScheduler`` callback (it calls ``optimizer.set_momentum``).

    >>> s = momentum_schedule(0.5, 0.9, switch=2, ramp=2)
    >>> [round(s(t), 2) for t in range(5)]
    [0.5, 0.5, 0.5, 0.7, 0.9]
    """
    initial = check_float("initial", initial, low=0.0, high=1.0, high_open=True, owner="momentum_schedule")
    final = check_float("final", final, low=0.0, high=1.0, high_open=True, owner="momentum_schedule")
    switch = check_int("switch", switch, 0, owner="momentum_schedule")
    ramp = check_int("ramp", ramp, 0, owner="momentum_schedule")

    def fn(t):
        if t < switch:
            return initial
        if t >= switch + ramp:
            return final
        return initial + (final - initial) * (t - switch) / ramp

    return Schedule("momentum_schedule", fn, initial=initial, final=final, switch=switch, ramp=ramp)


def delayed_start(value: float = 1.0, start: int = 2, ramp: int = 0) -> Schedule:
    """0 before ``start``, then on, reaching ``value`` in ``ramp`` equal steps: a penalty switched on late.

    The seeds: "Use a bit of L1 or L2 regularization on the weights ... But it's
    best to turn it on after a couple of epochs".  s_t = 0 for t < start and
    s_t = value·min(1, (t − start + 1)/ramp) from t = start on (ramp 0 or 1: the
    full value at t = start).  The ``RegularizationScheduler`` callback
    multiplies the weight decay and the penalty strengths by it.

    >>> s = delayed_start(1.0, start=2, ramp=2)
    >>> [s(t) for t in range(5)]
    [0.0, 0.0, 0.5, 1.0, 1.0]
    """
    value = check_float("value", value, low=0.0, owner="delayed_start")
    start = check_int("start", start, 0, owner="delayed_start")
    ramp = check_int("ramp", ramp, 0, owner="delayed_start")

    def fn(t):
        return 0.0 if t < start else value * min(1.0, (t - start + 1) / max(ramp, 1))

    return Schedule("delayed_start", fn, value=value, start=start, ramp=ramp)


# ----------------------------------------------------------------- by name
#: schedule factories by name; "lr" ones map the initial learning rate to η_t (what a run config names),
#: "wrapper" takes a schedule, "momentum" gives γ_t, "factor" a multiplier of the regularization strength
SCHEDULES = {
    "constant": ("lr", constant),
    "step_decay": ("lr", step_decay),
    "exponential_decay": ("lr", exponential_decay),
    "inverse_time_decay": ("lr", inverse_time_decay),
    "cosine_decay": ("lr", cosine_decay),
    "warmup": ("wrapper", warmup),
    "momentum_schedule": ("momentum", momentum_schedule),
    "delayed_start": ("factor", delayed_start),
}


def names(kind: str | None = None) -> tuple:
    """Schedule names, all or of one kind ("lr", "wrapper", "momentum", "factor").

    >>> names("lr")
    ('constant', 'step_decay', 'exponential_decay', 'inverse_time_decay', 'cosine_decay')
    """
    return tuple(name for name, (k, _) in SCHEDULES.items() if kind is None or k == kind)


def settings(name: str) -> tuple:
    """The keyword arguments of the factory ``name`` after its first (the value, initial rate or schedule).

    >>> settings("cosine_decay")
    ('total', 'final')
    """
    _, factory = SCHEDULES[check_choice("schedule", name, SCHEDULES)]
    return tuple(inspect.signature(factory).parameters)[1:]


def get(name: str, *args, **kwargs) -> Schedule:
    """The schedule ``name`` built with the factory's arguments.

    >>> get("step_decay", 1.0, every=2)(4)
    0.25
    """
    _, factory = SCHEDULES[check_choice("schedule", name, SCHEDULES)]
    try:
        return factory(*args, **kwargs)
    except TypeError as exc:  # a missing or unknown argument
        raise ConfigError(f"schedule {name!r}: {exc}") from None
