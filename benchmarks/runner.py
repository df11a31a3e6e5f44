"""What every framework module's ``build`` returns: a handle that trains one epoch."""

from __future__ import annotations


class Runner:
    """Wraps ``run(samples)``, a function that trains on ``samples`` shuffled samples.

    ``epoch()`` trains one full epoch and returns the last batch's loss;
    ``warmup(steps)`` trains a few batches, untimed, so lazy initialisation
    (first BLAS call, thread pools, optimizer state) stays out of the timings.
    """

    def __init__(self, run, n: int, batch_size: int, info: dict | None = None, extra=None):
        self._run = run
        self.n = n
        self.batch_size = batch_size
        self.info = info or {}
        self.extra = extra  # None, or a function returning a dict of further measurements

    def epoch(self) -> float:
        return self._run(self.n)

    def warmup(self, steps: int = 3) -> float:
        return self._run(min(self.n, steps * self.batch_size))
