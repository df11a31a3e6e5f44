"""Cyclical rates (Smith 2017) and the one-cycle policy (Smith & Topin 2018): CyclicLR and OneCycleLR, as PyTorch's.

Both cycle the momentum against the rate by default (``cycle_momentum=True``):
SGD's ``"momentum"``, or β₁ of Adam-like optimizers (``"betas"``), per group;
nnlab's optimizers carry a changed momentum or β over correctly (see
``Optimizer._state_factor``).  Each value is checked by the optimizer's own
rules before any is written.  Both schedulers are meant to step per batch.
"""

from __future__ import annotations

import math

from ..._checks import check_bool, check_choice, check_float, check_int
from ...errors import ConfigError
from ..schedules import cosine_between
from ._base import LRScheduler, callable_state, checked_optimizer, checked_state, load_callable_state, per_group


def _momentum_key(optimizer, owner: str) -> str:
    """Which group setting the momentum cycle drives: "momentum" (SGD) or "betas" (β₁); ValueError if neither."""
    for key in ("momentum", "betas"):
        if key in optimizer.defaults:
            return key
    raise ConfigError(f"{owner}: {type(optimizer).__name__} has neither 'momentum' nor 'betas'; "
                      "pass cycle_momentum=False")


def _set_momentums(optimizer, key: str, values, owner: str) -> None:
    """Set each group's momentum (or β₁) to its value, after the optimizer has accepted every one."""
    new = [{**group, key: (m, *group[key][1:]) if key == "betas" else m}
           for group, m in zip(optimizer.param_groups, values)]
    for k, group in enumerate(new):
        try:
            optimizer._validate(group)
        except ConfigError as error:
            raise ConfigError(f"{owner}: parameter group {k}: {error}") from None
    for group, changed in zip(optimizer.param_groups, new):
        group[key] = changed[key]


class CyclicLR(LRScheduler):
    """η between ``base_lr`` and ``max_lr`` in triangles of ``step_size_up`` + ``step_size_down`` steps.

    ``mode``: "triangular" (constant amplitude), "triangular2" (halved each
    cycle), "exp_range" (scaled by gamma^step); or a ``scale_fn(x)`` of the cycle
    number or the step (``scale_mode`` "cycle" or "iterations").  A custom
    ``scale_fn`` is not saved in the state dict (a function saves None, as in PyTorch).
    """

    unsaved = LRScheduler.unsaved + ("_scale_fn_custom",)

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down=None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1):
        owner = "CyclicLR"
        optimizer = checked_optimizer(optimizer, owner)
        last_epoch = check_int("last_epoch", last_epoch, -1, owner=owner)
        base_lrs = per_group("base_lr", base_lr, optimizer, owner, low=0.0)
        self.max_lrs = per_group("max_lr", max_lr, optimizer, owner, low=0.0)
        up = check_float("step_size_up", step_size_up, low=0.0, low_open=True, owner=owner)
        down = up if step_size_down is None else check_float("step_size_down", step_size_down, low=0.0,
                                                             low_open=True, owner=owner)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            mode = check_choice("mode", mode, ("triangular", "triangular2", "exp_range"), owner=owner)
            scale_mode = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}[mode]
        elif not callable(scale_fn):
            raise TypeError(f"{owner}: scale_fn must be a function of one number, got {type(scale_fn).__name__}")
        else:
            scale_mode = check_choice("scale_mode", scale_mode, ("cycle", "iterations"), owner=owner)
        self.mode, self.scale_mode, self._scale_fn_custom = mode, scale_mode, scale_fn
        self.gamma = check_float("gamma", gamma, low=0.0, low_open=True, owner=owner)
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum, owner=owner)
        if self.cycle_momentum:
            self.momentum_key = _momentum_key(optimizer, owner)
            self.base_momentums = per_group("base_momentum", base_momentum, optimizer, owner, low=0.0, high=1.0,
                                            high_open=True)
            self.max_momentums = per_group("max_momentum", max_momentum, optimizer, owner, low=0.0, high=1.0,
                                           high_open=True)
        if last_epoch == -1:
            if self.cycle_momentum:  # first: the optimizer may refuse a momentum (the rates cannot fail)
                _set_momentums(optimizer, self.momentum_key, self.max_momentums, owner)
                for group, top, bottom in zip(optimizer.param_groups, self.max_momentums, self.base_momentums):
                    group["max_momentum"], group["base_momentum"] = top, bottom
            optimizer.set_group_lrs(base_lrs)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x) -> float:
        """The amplitude's factor at cycle (or step) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * scale_factor * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            momentums = [top - (top - bottom) * scale_factor * scale
                         for bottom, top in zip(self.base_momentums, self.max_momentums)]
            _set_momentums(self.optimizer, self.momentum_key, momentums, "CyclicLR")
        return lrs

    def state_dict(self):
        return {**super().state_dict(), "_scale_fn_custom": callable_state(self._scale_fn_custom)}

    def load_state_dict(self, state_dict):
        state = checked_state(self, state_dict)
        saved_fn = state.pop("_scale_fn_custom")
        vars(self).update(state)
        if self._scale_fn_custom is not None:
            load_callable_state(self._scale_fn_custom, saved_fn)


class OneCycleLR(LRScheduler):
    """Up from max_lr/div_factor to ``max_lr`` over ``pct_start`` of ``total_steps``, then down to
    initial_lr/final_div_factor (``three_phase``: back to the initial rate first), cosine or linear.

    ``total_steps``, or ``epochs`` and ``steps_per_epoch``; stepping past
    ``total_steps`` is a ValueError, as in PyTorch.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        owner = "OneCycleLR"
        optimizer = checked_optimizer(optimizer, owner)
        last_epoch = check_int("last_epoch", last_epoch, -1, owner=owner)
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps, 1, owner=owner)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_int("epochs", epochs, 1, owner=owner)
                                * check_int("steps_per_epoch", steps_per_epoch, 1, owner=owner))
        else:
            raise ConfigError(f"{owner}: give total_steps, or epochs and steps_per_epoch")
        pct_start = check_float("pct_start", pct_start, 0.0, 1.0, owner=owner)
        self._anneal_func_type = check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"), owner=owner)
        three_phase = check_bool("three_phase", three_phase, owner=owner)
        div_factor = check_float("div_factor", div_factor, low=0.0, low_open=True, owner=owner)
        final_div_factor = check_float("final_div_factor", final_div_factor, low=0.0, low_open=True, owner=owner)
        up = float(pct_start * self.total_steps) - 1
        phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum")]
        if three_phase:
            phases.append((float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                           "base_momentum", "max_momentum"))
            phases.append((self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"))
        else:
            phases.append((self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"))
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases = [dict(zip(keys, phase)) for phase in phases]
        max_lrs = per_group("max_lr", max_lr, optimizer, owner, low=0.0)
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum, owner=owner)
        if self.cycle_momentum:
            self.momentum_key = _momentum_key(optimizer, owner)
            tops = per_group("max_momentum", max_momentum, optimizer, owner, low=0.0, high=1.0, high_open=True)
            bottoms = per_group("base_momentum", base_momentum, optimizer, owner, low=0.0, high=1.0, high_open=True)
        if last_epoch == -1:
            for group, top_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top_lr / div_factor
                group["max_lr"] = top_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if self.cycle_momentum:
                _set_momentums(optimizer, self.momentum_key, tops, owner)
                for group, top, bottom in zip(optimizer.param_groups, tops, bottoms):
                    group["max_momentum"], group["base_momentum"] = top, bottom
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return cosine_between(start, end, pct, 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ConfigError(f"OneCycleLR: tried to step {step} times; total_steps is {self.total_steps}")
        lrs, momentums = [], []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentums.append(self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]],
                                                      pct))
                    break
                start = phase["end_step"]
        if self.cycle_momentum:
            _set_momentums(self.optimizer, self.momentum_key, momentums, "OneCycleLR")
        return lrs
