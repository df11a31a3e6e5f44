"""Line search: try several learning rates along the gradient each step, keep the best."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError, NnlabError
from ..tensor import Tensor, no_grad
from .optimizer import Optimizer


def loss_value(loss, owner: str = "LineSearch") -> float:
    """A closure's loss (a one-value Tensor or number) as a float; an NnlabError naming ``owner`` otherwise."""
    if isinstance(loss, Tensor):
        loss = loss.data
    try:
        return float(np.asarray(loss).reshape(()))
    except (TypeError, ValueError):
        raise NnlabError(f"the {owner} closure must return a single loss value, got {type(loss).__name__}") from None


class LineSearch(Optimizer):
    """The seeds' line search: update w with each candidate η, retain the w with the lowest loss.

    ``step(closure)``: the direction is the current gradient (∇ + α·w with
    ``weight_decay``), which your ``loss.backward()`` put in ``.grad`` before
    the call, exactly as for the other optimizers.  For each candidate η the
    parameters are set to w − η·∇ and ``closure()`` is called to recompute the
    loss; it runs under ``no_grad`` and must only compute and return the loss
    (Tensor or number): it must NOT call ``backward`` — the candidates need only
    forward passes, and a backward would add into the very gradient that is the
    search direction.  The step ends at the candidate with the lowest loss
    (the first one on ties) and returns that loss; include ``0.0`` among the
    candidates to allow staying put.  Parameters whose ``.grad`` is None do not
    move.  If every candidate's loss is NaN, the parameters are left unchanged.

    After a step, each group's ``"lr"`` (and ``optimizer.lr``) is the chosen η
    and ``last_losses`` lists the loss of every candidate.  ``lr`` cannot be set:
    change ``candidates`` instead.

    >>> import nnlab
    >>> w = nnlab.tensor([2.0], requires_grad=True)
    >>> loss_fn = lambda: (w * w).sum()
    >>> loss_fn().backward()
    >>> opt = LineSearch([w], candidates=(0.1, 0.5, 1.0))
    >>> opt.step(loss_fn)  # w − 0.5·4 = 0 is the best
    0.0
    >>> opt.lr
    0.5
    """

    requires_closure = True

    def __init__(self, params, candidates=(1e-4, 1e-3, 1e-2, 1e-1, 1.0), weight_decay: float = 0.0):
        if isinstance(candidates, (str, bytes)) or not hasattr(candidates, "__iter__"):
            raise ConfigError(f"LineSearch: candidates must be a list of learning rates, got {candidates!r}")
        candidates = tuple(self._check("candidate learning rate", c) for c in candidates)
        if not candidates:
            raise ConfigError("LineSearch needs at least one candidate learning rate")
        self.candidates = candidates
        self.last_losses: list = []
        super().__init__(params, dict(lr=None, weight_decay=weight_decay))

    def _validate(self, group):
        self._check("weight_decay", group["weight_decay"])

    @property
    def lr(self):
        """The learning rate chosen at the last step (None before the first)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        raise ConfigError("LineSearch chooses its own learning rate; set `candidates` instead of `lr`")

    def scale_lr(self, factor: float, min_lr: float = 0.0) -> None:
        raise ConfigError("LineSearch chooses its own learning rate; scale `candidates` instead of `lr`")

    def step(self, closure=None) -> float:
        if closure is None:
            raise ConfigError("LineSearch.step needs a closure that recomputes and returns the loss")
        work = []  # (flat, origin, direction, skipped)
        for group, flats in zip(self.param_groups, self._flats):
            for flat in flats:
                skipped = flat.sync()
                if len(skipped) == len(flat.params):
                    continue
                origin, direction = flat.scratch, flat.scratch2
                np.copyto(origin, flat.data)
                np.copyto(direction, self._gradient(group, flat))  # a copy: the closure may touch .grad
                for i in skipped:
                    direction[flat.slices[i]] = 0
                work.append((flat, origin, direction, skipped))
        if not work:
            raise NnlabError("no parameter has a gradient: call loss.backward() before LineSearch.step(closure)")

        def move(lr: float) -> None:
            for flat, origin, direction, _ in work:
                np.multiply(direction, lr, out=flat.data)
                np.subtract(origin, flat.data, out=flat.data)  # w − η·∇, the same ops every time

        losses, best = [], None
        try:
            for k, lr in enumerate(self.candidates):
                move(lr)
                with no_grad():
                    loss = loss_value(closure())
                losses.append(loss)
                if not math.isnan(loss) and (best is None or loss < losses[best]):
                    best = k
            if best is None:  # every loss was NaN
                for flat, origin, _, _ in work:
                    np.copyto(flat.data, origin)
            elif best != len(self.candidates) - 1:
                move(self.candidates[best])
        except BaseException:
            for flat, origin, _, _ in work:
                np.copyto(flat.data, origin)
            raise
        for flat, _, _, skipped in work:
            flat.advance(skipped)
        self.last_losses = losses
        chosen = None if best is None else self.candidates[best]
        self._write_lr(lambda _: chosen)
        return math.nan if best is None else losses[best]
