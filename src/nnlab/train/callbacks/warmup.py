"""Goyal et al.'s gradual warm-up: the learning rate ramps per step, from a non-zero start, over the first epochs.

The notes end their batch-size advice with Goyal et al. (2017): scale the
learning rate with the batch size (:func:`nnlab.optim.schedules.linear_scaling`,
η = η₀·B/B₀) and, because the scaled rate is too large for the first updates,
start at η₀ (a factor B₀/B of the target) and raise it linearly, *every step*,
to the target over the first few epochs.
"""

from __future__ import annotations

from ..._checks import check_float, check_int
from ...errors import ConfigError
from .base import Callback


def goyal_start_factor(batch_size: int, base_batch_size: int) -> float:
    """The warm-up's start as a fraction of the target rate: η₀ / (η₀·B/B₀) = B₀/B, at most 1.

    >>> goyal_start_factor(1024, 256)
    0.25
    >>> goyal_start_factor(64, 256)  # a batch below the reference needs no warm-up
    1.0
    """
    batch_size = check_int("batch_size", batch_size, 1, owner="goyal_start_factor")
    base_batch_size = check_int("base_batch_size", base_batch_size, 1, owner="goyal_start_factor")
    return min(1.0, base_batch_size / batch_size)


class GradualWarmup(Callback):
    """Multiply the learning rate by a factor rising per step from ``start_factor`` to 1 over ``epochs`` epochs.

    At global step t (0-based, counted over epochs: t = epoch·steps_per_epoch + batch)
    with T = ``epochs`` · steps_per_epoch:

        η_t = η_target · (s + (1 − s)·t/T)   for t < T,        η_t = η_target   for t ≥ T,

    so the very first update uses s·η_target > 0 (never the useless 0 of a ramp
    that starts at zero) and step T the target itself.  ``start_factor`` s in
    (0, 1]: Goyal et al.'s η₀/(kη₀) = 1/k for a k-fold batch (see
    :func:`goyal_start_factor`); None: 1/T, the smallest non-zero step.

    η_target is each parameter group's rate when each step begins -- the
    configured rate, or whatever an epoch or step schedule set (put this callback
    after it), so the warm-up composes with any decay; groups with their own
    rates keep their ratios, as with PyTorch's ``LinearLR``.  Its state (the
    targets and the rates it wrote) is saved by :class:`~nnlab.train.TrainingState`,
    so a run resumed inside the warm-up continues the same ramp.

    >>> import nnlab
    >>> w = GradualWarmup(epochs=1, start_factor=0.25)
    >>> opt = nnlab.optim.SGD([nnlab.tensor([1.0], requires_grad=True)], lr=0.8)
    >>> w.set_context(None, opt, {"steps": 4}); w.on_train_begin(); w.on_epoch_begin(0)
    >>> rates = []
    >>> for b in range(4):
    ...     w.on_batch_begin(b); rates.append(round(opt.lr, 6))
    >>> rates
    [0.2, 0.35, 0.5, 0.65]
    >>> w.on_epoch_begin(1); w.on_batch_begin(0); opt.lr
    0.8
    """

    def __init__(self, epochs: int, start_factor: float | None = None):
        self.epochs = check_int("epochs", epochs, 1, owner="GradualWarmup")
        if start_factor is not None:
            start_factor = check_float("start_factor", start_factor, 0.0, 1.0, low_open=True, owner="GradualWarmup")
        self.start_factor = start_factor
        self.epoch = 0
        self.target = None  # the rates the ramp leads to, one per parameter group
        self.written = None  # the rates this callback set last (other values mean a schedule set new targets)

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps")
        if not steps:
            raise ConfigError("GradualWarmup needs the number of steps per epoch (fit passes it in params['steps'])")
        self.total = self.epochs * int(steps)
        self.epoch, self.target, self.written = 0, None, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def factor(self, t: int) -> float:
        """s + (1 − s)·t/T below T, then 1."""
        if t >= self.total:
            return 1.0
        start = 1.0 / self.total if self.start_factor is None else self.start_factor
        return start + (1.0 - start) * t / self.total

    def on_batch_begin(self, batch, logs=None):
        t = self.epoch * self.params["steps"] + batch
        if t > self.total:
            return
        groups = self.optimizer.param_groups
        current = [group["lr"] for group in groups]
        if self.written is None or current != self.written:
            self.target = current
        factor = self.factor(t)
        self.optimizer.set_group_lrs([target * factor for target in self.target])
        self.written = None if t == self.total else [group["lr"] for group in groups]
