"""Schedulers of schedulers: SequentialLR (one after another at milestones) and ChainedScheduler (all at once),
as PyTorch's.  Their state dicts hold their schedulers' state dicts."""

from __future__ import annotations

from bisect import bisect_right

from ..._checks import check_int
from ...errors import ConfigError
from ._base import LRScheduler, checked_optimizer, checked_state
from .plateau import ReduceLROnPlateau


def _checked_schedulers(schedulers, optimizer, owner: str) -> list:
    """The schedulers, each an LRScheduler (not ReduceLROnPlateau: its step needs the metric) of ``optimizer``."""
    if isinstance(schedulers, (str, bytes)) or not hasattr(schedulers, "__iter__"):
        raise ConfigError(f"{owner}: schedulers must be a list of schedulers, got {schedulers!r}")
    schedulers = list(schedulers)
    if not schedulers:
        raise ConfigError(f"{owner} expects at least one scheduler, got none")
    for k, scheduler in enumerate(schedulers):
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ConfigError(f"{owner}: schedulers[{k}] is a ReduceLROnPlateau, whose step needs the metric; "
                              "step it yourself")
        if not isinstance(scheduler, (LRScheduler, SequentialLR, ChainedScheduler)):
            raise TypeError(f"{owner}: schedulers[{k}] must be an nnlab learning-rate scheduler, "
                            f"got {type(scheduler).__name__}")
        if optimizer is None:
            optimizer = scheduler.optimizer
        if scheduler.optimizer is not optimizer:
            raise ConfigError(f"{owner}: schedulers[{k}] ({type(scheduler).__name__}) belongs to another optimizer; "
                              "all must share one")
    return schedulers


class _Composite:
    """The state dict of a scheduler of schedulers: its own attributes and each scheduler's state dict."""

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        state = {key: value for key, value in vars(self).items() if key not in ("optimizer", "_schedulers")}
        return {**state, "_schedulers": [scheduler.state_dict() for scheduler in self._schedulers]}

    def load_state_dict(self, state_dict) -> None:
        state = checked_state(self, state_dict)
        saved = state.pop("_schedulers")
        if not isinstance(saved, list) or len(saved) != len(self._schedulers):
            raise ConfigError(f"{type(self).__name__}.load_state_dict: '_schedulers' must hold "
                              f"{len(self._schedulers)} state dicts")
        for scheduler, inner in zip(self._schedulers, saved):
            scheduler.load_state_dict(inner)
        vars(self).update(state)


class SequentialLR(_Composite):
    """``schedulers[i]`` from ``milestones[i − 1]`` on; at a milestone the next one starts from its closed form at 0.

    As in PyTorch, building it resets the rates to ``initial_lr`` and takes back
    the first step of every scheduler but the first, which steps afresh.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        owner = "SequentialLR"
        self.optimizer = checked_optimizer(optimizer, owner)
        self._schedulers = _checked_schedulers(schedulers, self.optimizer, owner)
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise ConfigError(f"{owner}: milestones must be a list of steps, got {milestones!r}")
        milestones = [check_int("milestones[]", m, 1, owner=owner) for m in milestones]
        if len(milestones) != len(self._schedulers) - 1:
            raise ConfigError(f"{owner}: {len(self._schedulers)} schedulers need {len(self._schedulers) - 1} "
                              f"milestones, got {len(milestones)}")
        if milestones != sorted(set(milestones)):
            raise ConfigError(f"{owner}: milestones must increase, got {milestones}")
        self._milestones = milestones
        self.last_epoch = check_int("last_epoch", last_epoch, -1, owner=owner) + 1
        self.optimizer.set_group_lrs([group["initial_lr"] for group in self.optimizer.param_groups])
        self.recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None) -> None:
        """Take back one step of every scheduler inside (their constructors each took one)."""
        for scheduler in (self if sched is None else sched)._schedulers:
            if hasattr(scheduler, "_schedulers"):
                self.recursive_undo(scheduler)
            else:
                scheduler.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Every scheduler steps at each step, in order: their factors multiply (the chainable forms compose)."""

    def __init__(self, schedulers, optimizer=None):
        owner = "ChainedScheduler"
        if optimizer is not None:
            optimizer = checked_optimizer(optimizer, owner)
        self._schedulers = _checked_schedulers(schedulers, optimizer, owner)
        self.optimizer = self._schedulers[0].optimizer
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
