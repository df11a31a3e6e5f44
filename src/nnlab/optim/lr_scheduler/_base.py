"""PyTorch's scheduler contract: ``LRScheduler``, its step, its state dict, and the helpers its subclasses share.

As in ``torch.optim.lr_scheduler`` (2.x): building a scheduler sets each
group's ``"initial_lr"`` (once) and takes one step, so ``last_epoch`` is 0 and
the rates are the schedule's first; each ``step()`` advances ``last_epoch`` and
computes the next rates from the groups' current ones (the *chainable* forms,
so two schedulers on one optimizer compose, as in ``ChainedScheduler``);
``step(epoch)`` (deprecated in PyTorch) jumps to ``epoch`` with the closed form
where there is one.  Rates are written with ``optimizer.set_group_lrs``, which
refuses a value that is not a finite number >= 0.

Not copied: PyTorch's warning when ``scheduler.step()`` runs before
``optimizer.step()`` (it patches the optimizer's ``step``), and tensor rates.
"""

from __future__ import annotations

import copy
import types
import warnings
from collections.abc import Mapping

from ..._checks import check_float, check_int
from ...errors import ConfigError
from ..optimizer import Optimizer

EPOCH_DEPRECATION = ("scheduler.step(epoch) is deprecated, as in PyTorch: call step() without arguments "
                     "(with an epoch, the closed form is used where there is one)")


def checked_optimizer(optimizer, owner: str) -> Optimizer:
    """``optimizer`` itself when it is an nnlab Optimizer with a numeric rate in every group; TypeError as PyTorch, else."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: {type(optimizer).__name__} is not an nnlab Optimizer")
    for k, group in enumerate(optimizer.param_groups):
        check_float(f"param_groups[{k}]['lr']", group.get("lr"), low=0.0, owner=owner)
    return optimizer


def per_group(name: str, value, optimizer: Optimizer, owner: str, **bounds) -> list:
    """One checked number per parameter group: ``value`` for each, or a list/tuple with one per group."""
    count = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ConfigError(f"{owner}: {name} has {len(value)} values, the optimizer {count} parameter groups")
        return [check_float(f"{name}[{k}]", v, owner=owner, **bounds) for k, v in enumerate(value)]
    return [check_float(name, value, owner=owner, **bounds)] * count


def checked_callables(name: str, fn, optimizer: Optimizer, owner: str) -> list:
    """One callable per parameter group (``fn`` for each, or a list/tuple of one per group); TypeError as PyTorch."""
    fns = list(fn) if isinstance(fn, (list, tuple)) else [fn] * len(optimizer.param_groups)
    if len(fns) != len(optimizer.param_groups):
        raise ConfigError(f"{owner}: expected {len(optimizer.param_groups)} {name}s (one per group), got {len(fns)}")
    for f in fns:
        if not callable(f):
            raise TypeError(f"{owner}: {name} should be a function, got {type(f).__name__}")
    return fns


def callable_state(fn):
    """What PyTorch saves of a user's callable: nothing (None) for a function or lambda, a copy of an object's attributes."""
    return None if isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__") else dict(vars(fn))


def load_callable_state(fn, saved) -> None:
    if saved is not None:
        vars(fn).update(saved)


def checked_state(scheduler, state_dict) -> dict:
    """A copy of ``state_dict`` once its keys are those ``scheduler.state_dict()`` writes (else a ConfigError)."""
    owner = type(scheduler).__name__
    if not isinstance(state_dict, Mapping):
        raise ConfigError(f"{owner}.load_state_dict takes a dict, got {type(state_dict).__name__}")
    expected = set(scheduler.state_dict())
    if set(state_dict) != expected:
        missing, unknown = sorted(expected - set(state_dict)), sorted(map(str, set(state_dict) - expected))
        raise ConfigError(f"{owner}.load_state_dict: missing key(s) {missing}, unknown key(s) {unknown} "
                          "(is it another scheduler's state dict?)")
    return copy.deepcopy(dict(state_dict))


class LRScheduler:
    """The base of every scheduler but ``ReduceLROnPlateau``: subclasses write :meth:`get_lr` (and a closed form)."""

    #: attributes :meth:`state_dict` leaves out (the optimizer, callables, flags of one call)
    unsaved: tuple = ("optimizer", "_is_initial")

    def __init__(self, optimizer, last_epoch: int = -1):
        owner = type(self).__name__
        self.optimizer = checked_optimizer(optimizer, owner)
        last_epoch = check_int("last_epoch", last_epoch, -1, owner=owner)
        groups = self.optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [k for k, group in enumerate(groups) if "initial_lr" not in group]
            if missing:
                raise ConfigError(f"{owner}: last_epoch={last_epoch} resumes a schedule, but parameter group(s) "
                                  f"{missing} have no 'initial_lr'; load the optimizer's state dict first, "
                                  "or start afresh with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step a scheduler takes when built (``_is_initial`` tells the chainable forms to keep the rates)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The next rate of each group, from ``last_epoch`` (already advanced) and the groups' current rates."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The rates the last step set, one per parameter group (a copy)."""
        return list(self._last_lr)

    def step(self, epoch=None) -> None:
        """Advance one epoch (or step: the caller decides what a step is) and set the groups' rates."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION, UserWarning, stacklevel=2)
            epoch = check_int("epoch", epoch, 0, owner=type(self).__name__)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        self._write(values)

    def _write(self, values) -> None:
        try:
            self.optimizer.set_group_lrs(values)
        except ConfigError as error:
            raise ConfigError(f"{type(self).__name__} at last_epoch={self.last_epoch}: {error}") from None
        self._last_lr = self._group_lrs()

    def _group_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Every attribute but the optimizer and callables, as plain numbers, strings and lists (JSON can hold it)."""
        return {key: copy.deepcopy(value) for key, value in vars(self).items() if key not in self.unsaved}

    def load_state_dict(self, state_dict) -> None:
        """Restore what :meth:`state_dict` saved (a ConfigError, and nothing changed, if its keys differ)."""
        vars(self).update(checked_state(self, state_dict))

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class CallableScheduler(LRScheduler):
    """A scheduler driven by user callables (``lr_lambdas``): saved as PyTorch saves them (see :func:`callable_state`)."""

    unsaved = LRScheduler.unsaved + ("lr_lambdas",)

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        owner = type(self).__name__
        self.lr_lambdas = checked_callables("lr_lambda", lr_lambda, checked_optimizer(optimizer, owner), owner)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "lr_lambdas": [callable_state(fn) for fn in self.lr_lambdas]}

    def load_state_dict(self, state_dict) -> None:
        state = checked_state(self, state_dict)
        lambdas = state.pop("lr_lambdas")
        if not isinstance(lambdas, list) or len(lambdas) != len(self.lr_lambdas):
            raise ConfigError(f"{type(self).__name__}.load_state_dict: 'lr_lambdas' must be a list of "
                              f"{len(self.lr_lambdas)} entries (None or a dict), got {lambdas!r}")
        vars(self).update(state)
        for fn, saved in zip(self.lr_lambdas, lambdas):
            load_callable_state(fn, saved)
