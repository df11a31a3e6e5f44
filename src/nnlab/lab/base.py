"""What an experiment is: the claims it tests, how one seed is measured, and how the verdict is computed.

An experiment module builds one :class:`Experiment`. Its ``measure(seed, quick,
draw)`` function trains and measures for one seed and returns a :class:`SeedResult`
(numbers, and PNG figures when ``draw`` is set); its ``judge(summary)`` function
turns the numbers of all seeds into :class:`Check` objects, each a comparison of
measured numbers. The verdict is computed from the checks, never written by hand:
all pass → "holds", none → "does not hold here", some → "partly".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

HOLDS, PARTLY, FAILS = "holds", "partly", "does not hold here"


@dataclass(frozen=True)
class Claim:
    """A statement of the lecture notes, quoted, with the notes file it comes from."""

    quote: str
    notes: str


@dataclass
class SeedResult:
    """What one seed measured: named numbers, and (for the drawing seed) figures as PNG bytes."""

    numbers: dict
    figures: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    """One comparison of measured numbers: what was compared (with the values) and whether it came out as claimed."""

    statement: str
    passed: bool


class Summary:
    """The numbers of all seeds of one experiment: ``values(key)``, ``mean(key)``, ``std(key)``.

    >>> s = Summary([SeedResult({"a": 1.0}), SeedResult({"a": 3.0})])
    >>> s.mean("a"), s.std("a"), s.values("a")
    (2.0, 1.0, [1.0, 3.0])
    """

    def __init__(self, results):
        self.results = list(results)

    def keys(self) -> list[str]:
        keys = []
        for r in self.results:
            keys += [k for k in r.numbers if k not in keys]
        return keys

    def values(self, key: str) -> list[float]:
        return [float(r.numbers.get(key, math.nan)) for r in self.results]

    def mean(self, key: str) -> float:
        return float(np.mean(self.values(key)))

    def std(self, key: str) -> float:
        values = np.array(self.values(key))
        if np.isinf(values).any():  # "never reached" runs: a spread is meaningless
            return 0.0 if np.all(values == values[0]) else math.nan
        return float(np.std(values))

    def text(self, key: str, digits: int = 3) -> str:
        """``mean ± std`` of one key, for check statements."""
        return f"{self.mean(key):.{digits}g} ± {self.std(key):.{digits}g}"


@dataclass(frozen=True)
class Experiment:
    """One lab experiment. ``setup(quick)`` describes the run in a sentence or two."""

    name: str
    title: str
    claims: tuple
    setup: Callable[[bool], str]
    measure: Callable[[int, bool, bool], SeedResult]
    judge: Callable[[Summary], list]
    number: int = 0

    def command(self, quick: bool, seeds: int) -> str:
        return f"nnlab lab run {self.name}{' --quick' if quick else ''} --seeds {seeds}"


def verdict(checks) -> str:
    """'holds' when every check passed, 'does not hold here' when none did, 'partly' otherwise.

    >>> verdict([Check("a", True), Check("b", False)])
    'partly'
    """
    passed = sum(c.passed for c in checks)
    if checks and passed == len(checks):
        return HOLDS
    return FAILS if passed == 0 else PARTLY


@dataclass
class ExperimentResult:
    """An experiment run over several seeds: per-seed results, the checks, the verdict, the figures."""

    experiment: Experiment
    seeds: list
    quick: bool
    results: list
    checks: list
    verdict: str
    figures: dict
    seconds: float

    @property
    def summary(self) -> Summary:
        return Summary(self.results)

    @property
    def command(self) -> str:
        return self.experiment.command(self.quick, len(self.seeds))

    def table(self) -> list[tuple[str, str, list[str]]]:
        """(key, "mean ± std", per-seed values) for every measured number."""
        s = self.summary
        return [(k, s.text(k), [f"{v:.4g}" for v in s.values(k)]) for k in s.keys()]

    def text(self) -> str:
        """The result as plain text, for the terminal."""
        e = self.experiment
        lines = [f"{e.number}. {e.title} [{e.name}]: {self.verdict.upper()}"]
        lines += [f"  claim ({c.notes}): \"{c.quote}\"" for c in e.claims]
        lines.append(f"  setup: {e.setup(self.quick)}")
        lines += [f"  {'PASS' if c.passed else 'FAIL'}  {c.statement}" for c in self.checks]
        width = max((len(k) for k, _, _ in self.table()), default=0)
        lines += [f"    {k:<{width}}  {mean_std}" for k, mean_std, _ in self.table()]
        lines.append(f"  reproduce: {self.command}  ({self.seconds:.1f} s of compute)")
        return "\n".join(lines)


def less(summary: Summary, small: str, large: str, label: str | None = None, margin: float = 0.0) -> Check:
    """Check mean(small) + margin < mean(large), with both values in the statement."""
    ok = summary.mean(small) + margin < summary.mean(large)
    text = label or f"{small} < {large}"
    return Check(f"{text}: {summary.text(small)} vs {summary.text(large)}", bool(ok))


def at_least(summary: Summary, key: str, bound: float, label: str | None = None) -> Check:
    """Check mean(key) ≥ bound."""
    return Check(f"{label or key} ≥ {bound:g}: {summary.text(key)}", bool(summary.mean(key) >= bound))


def at_most(summary: Summary, key: str, bound: float, label: str | None = None) -> Check:
    """Check mean(key) ≤ bound."""
    return Check(f"{label or key} ≤ {bound:g}: {summary.text(key)}", bool(summary.mean(key) <= bound))
