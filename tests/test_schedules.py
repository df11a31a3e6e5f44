"""Every schedule equals its closed form; schedules are pure and validate their arguments."""

import math

import numpy as np
import pytest

from nnlab.errors import ConfigError
from nnlab.optim import schedules as S

TIMES = [0, 1, 2, 4, 5, 6, 9, 10, 11, 37, 100]

# (schedule, closed form)
CLOSED_FORMS = [
    (S.constant(0.3), lambda t: 0.3),
    (S.step_decay(0.1), lambda t: 0.1 * 0.5 ** (t // 5)),  # the seeds' "halve every 5 epochs"
    (S.step_decay(2.0, factor=0.1, every=3), lambda t: 2.0 * 0.1 ** (t // 3)),
    (S.exponential_decay(0.1, k=0.05), lambda t: 0.1 * math.exp(-0.05 * t)),
    (S.inverse_time_decay(0.1, k=0.5), lambda t: 0.1 / (1 + 0.5 * t)),
    (S.cosine_decay(0.1, total=10, final=0.01),
     lambda t: 0.01 + 0.09 * (1 + math.cos(math.pi * min(t, 10) / 10)) / 2),
    (S.warmup(S.constant(0.4), steps=5), lambda t: 0.4 * min(t / 5, 1.0)),
    (S.warmup(S.step_decay(1.0, every=2), steps=4, start=0.25),
     lambda t: 1.0 * (0.25 + 0.75 * t / 4) if t < 4 else 0.5 ** ((t - 4) // 2)),
    (S.warmup(S.cosine_decay(1.0, total=20), steps=0), lambda t: 0.5 * (1 + math.cos(math.pi * min(t, 20) / 20))),
    (S.momentum_schedule(), lambda t: 0.5 if t < 5 else 0.9),
    (S.momentum_schedule(0.5, 0.99, switch=2, ramp=4),
     lambda t: 0.5 if t < 2 else (0.99 if t >= 6 else 0.5 + 0.49 * (t - 2) / 4)),
]


@pytest.mark.parametrize("schedule, closed_form", CLOSED_FORMS, ids=[repr(s) for s, _ in CLOSED_FORMS])
def test_schedule_equals_closed_form(schedule, closed_form):
    got = [schedule(t) for t in TIMES]
    np.testing.assert_allclose(got, [closed_form(t) for t in TIMES], rtol=1e-12, atol=1e-15)
    assert all(isinstance(v, float) for v in got)
    assert [schedule(t) for t in reversed(TIMES)] == got[::-1]  # pure: order of calls does not matter
    assert schedule(np.int64(7)) == schedule(7)


def test_named_values():
    assert S.step_decay(0.1)(4) == 0.1 and S.step_decay(0.1)(5) == 0.05 and S.step_decay(0.1)(10) == 0.025
    assert S.cosine_decay(1.0, total=8)(4) == pytest.approx(0.5)
    assert S.cosine_decay(1.0, total=8, final=0.2)(8) == pytest.approx(0.2)
    assert S.inverse_time_decay(1.0, k=1.0)(3) == 0.25
    assert S.exponential_decay(1.0, k=0.0)(50) == 1.0
    assert S.warmup(S.constant(1.0), steps=4)(4) == 1.0  # the ramp meets the schedule
    assert S.momentum_schedule(0.5, 0.9, switch=3)(2) == 0.5 and S.momentum_schedule(0.5, 0.9, switch=3)(3) == 0.9


def test_linear_scaling_rule():
    assert S.linear_scaling(0.1, 256) == pytest.approx(0.1)
    assert S.linear_scaling(0.1, 8192) == pytest.approx(3.2)  # Goyal et al.: k = 32
    assert S.linear_scaling(0.01, 64, base_batch_size=32) == pytest.approx(0.02)
    # gradual warm-up from the small-batch rate to the scaled one
    warm = S.warmup(S.constant(S.linear_scaling(0.1, 1024)), steps=5, start=256 / 1024)
    assert warm(0) == pytest.approx(0.1) and warm(5) == pytest.approx(0.4)
    assert np.all(np.diff([warm(t) for t in range(7)]) >= 0)


@pytest.mark.parametrize("build, message", [
    (lambda: S.step_decay(0.1, every=0), "every"),
    (lambda: S.step_decay(0.1, every=2.5), "every"),
    (lambda: S.step_decay(0.1, factor=-0.5), "factor"),
    (lambda: S.exponential_decay(0.1, k=-1), "k"),
    (lambda: S.inverse_time_decay(float("nan"), k=1), "initial"),
    (lambda: S.cosine_decay(0.1, total=0), "total"),
    (lambda: S.warmup(0.1, steps=3), "callable"),
    (lambda: S.warmup(S.constant(0.1), steps=-1), "steps"),
    (lambda: S.momentum_schedule(0.5, 1.0), "momentum"),
    (lambda: S.linear_scaling(0.1, 0), "batch_size"),
    (lambda: S.constant(0.1)(-1), ">= 0"),
    (lambda: S.step_decay(0.1)(float("nan")), r"step/epoch must be a finite number >= 0, got nan"),
    (lambda: S.cosine_decay(0.1, total=10)(math.inf), r"step/epoch must be a finite number >= 0, got inf"),
    (lambda: S.exponential_decay(0.1, k=1)("3"), r"step/epoch must be a finite number >= 0, got '3'"),
    (lambda: S.warmup(S.constant(0.1), steps=2)(None), r"step/epoch must be a finite number >= 0, got None"),
])
def test_bad_arguments(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_repr_names_the_schedule():
    assert repr(S.step_decay(0.1)) == "step_decay(initial=0.1, factor=0.5, every=5)"
