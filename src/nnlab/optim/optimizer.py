"""The optimizer facade, shaped like PyTorch's: parameter groups, ``lr``, ``zero_grad``, the step loop, state dicts.

The class does the bookkeeping; each rule (``sgd.py``, ``adaptive.py``) writes
only its arithmetic.  A subclass sets ``state_names`` (the per-element buffers
it keeps, allocated here) and writes ``_rule(group, flat)``: compute the step's
scalars once and return ``update(part, grad)``, which updates ``part.data`` in
place from ``grad`` (the gradient after weight decay, see :meth:`Optimizer._gradient`)
and the arrays in ``part.state``, using ``part.scratch`` for temporaries.  A
part is a contiguous piece of the group's flat buffers (``part.sl`` is its
slice; the whole group is one part unless it is large), so a rule is
elementwise NumPy calls with ``out=`` and nothing else.

Where the numbers live: each group keeps all its parameters in one flat buffer
and their gradients in another (``_flat.py``); large groups are walked in
blocks and on threads (``_threads.py``) with the same bits as one call.

A parameter whose ``.grad`` is None at ``step()`` is skipped, as in PyTorch:
its value, its optimizer state and its step count stay as they were (a
parameter the loss did not reach this step is not decayed nor pushed by
momentum).  ``zero_grad()`` instead zeros the gradients (like PyTorch's
``zero_grad(set_to_none=False)``; for a ``Parameter`` the zeros are written only
if nothing overwrites them first), so a parameter that once had a gradient takes
part in every later step, with a zero gradient when unused.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..errors import ConfigError
from ..nn.parameter import Parameter
from ..tensor import Tensor
from ._flat import FlatParams
from ._state_check import GROUP_EXTRA_KEYS, checked_state_dict


def not_parameters(params, who: str, also: str = "") -> str | None:
    """What is wrong with ``params`` handed to ``who`` where ``model.parameters()`` belongs (None: an iterable, fine)."""
    from ..nn.module import Module
    from ..nn.parameter_containers import ParameterList

    # a ParameterList is the list of parameters itself (torch.optim takes one); any other module is the model
    if isinstance(params, Module) and not isinstance(params, ParameterList):
        return f"{who} got the model ({type(params).__name__}) itself; pass model.parameters(){also}"
    if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        return f"{who} takes an iterable of tensors such as model.parameters(){also}, got {type(params).__name__}"
    return None


def _as_groups(params) -> list:
    if isinstance(params, Tensor):
        raise ConfigError("params must be an iterable of tensors or of parameter-group dicts, got a single Tensor")
    if isinstance(params, dict):
        params = [params]
    problem = not_parameters(params, "the optimizer")
    if problem:
        raise ConfigError(problem)
    items = list(params)
    if not items:
        raise ConfigError("the optimizer got an empty parameter list")
    if all(isinstance(item, dict) for item in items):
        return [dict(item) for item in items]
    if any(isinstance(item, dict) for item in items):
        raise ConfigError("params mixes tensors and parameter-group dicts; pass one or the other")
    return [{"params": items}]


class Optimizer:
    """Base class: parameter groups, flat buffers, weight decay, the step loop, state dicts.

    ``params`` is an iterable of tensors that require grad (e.g.
    ``model.parameters()``) or of dicts ``{"params": [...], "lr": ..., ...}``
    whose keys override ``defaults`` for that group (``"name"`` and the keys a
    learning-rate scheduler stores, such as ``"initial_lr"``, are also allowed:
    ``GROUP_EXTRA_KEYS``).  Every group has ``weight_decay``: the seeds' L2
    rule, the gradient used is ∇ + α·w (decoupled for AdamW).
    """

    #: per-element state buffers of the update rule, e.g. ("grad_sum", "sq_grad_sum") for Adam
    state_names: tuple = ()
    #: True when ``step`` needs a closure that recomputes the loss (LineSearch); a training loop checks it
    requires_closure: bool = False
    #: False: the seeds' L2 weight decay (∇ + α·w); True: decoupled, as AdamW (see :meth:`_gradient`)
    decoupled_weight_decay: bool = False
    #: state buffers a rule stores divided by (1 − β) of a group setting, for speed: {state name: group -> β}
    #: (RMSProp's and Adam's moments); :meth:`_state_factor` keeps them right when a user changes β mid-run
    scaled_states: dict = {}

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._flats: list[list[FlatParams]] = []
        for group in _as_groups(params):
            self.add_param_group(group)

    # ------------------------------------------------------------ groups
    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        if not isinstance(group, dict):
            raise ConfigError(
                f"add_param_group takes one dict {{'params': [...], <setting>: ...}}, got {type(group).__name__}"
            )
        group = dict(group)
        if "params" not in group:
            raise ConfigError("a parameter group needs a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        unknown = set(group) - set(self.defaults) - GROUP_EXTRA_KEYS - {"params"}
        if unknown:
            raise ConfigError(
                f"unknown parameter-group key(s) {sorted(unknown)} for {type(self).__name__}; "
                f"allowed: {sorted(self.defaults)}"
            )
        if not params:
            raise ConfigError("a parameter group has no parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise ConfigError(f"optimizer parameters must be nnlab Tensors, got {type(p).__name__}")
            # A frozen Parameter (Module.freeze) may be handed over; it is skipped until unfrozen.
            if not p.is_leaf or not (p.requires_grad or isinstance(p, Parameter)):
                raise ConfigError("optimizer parameters must be leaf tensors with requires_grad=True")
            if id(p) in seen:
                raise ConfigError("a parameter appears more than once in the optimizer's parameter groups")
            seen.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self._validate(group)
        by_dtype: dict = {}
        for p in params:
            by_dtype.setdefault(p.data.dtype, []).append(p)
        self.param_groups.append(group)
        self._flats.append([FlatParams(ps, self.state_names) for ps in by_dtype.values()])

    def _validate(self, group: dict) -> None:
        """Check a group's hyper-parameters (subclasses extend; raise ConfigError)."""
        self._check("weight_decay", group["weight_decay"])
        if "lr" in group:
            self._check("lr", group["lr"])

    def _check(self, name: str, value, low: float = 0.0, high=None, high_open: bool = False) -> float:
        """One hyper-parameter by nnlab's one rule (``_checks``): a finite number in [low, high] or [low, high)."""
        return check_float(name, value, low=low, high=high, high_open=high_open, owner=type(self).__name__)

    # ------------------------------------------------------------ learning rate and momentum
    @property
    def lr(self):
        """The learning rate of the first group; setting it sets every group's (a finite number >= 0)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value) -> None:
        value = self._check("lr", value)
        self._write_lr(lambda lr: value)

    def scale_lr(self, factor: float, min_lr: float = 0.0) -> None:
        """Multiply every group's learning rate by ``factor`` (keeping ratios between groups), not below ``min_lr``.

        A rate already below ``min_lr`` is left alone: the floor never raises a rate.

        >>> import nnlab
        >>> opt = nnlab.optim.SGD([nnlab.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> opt.scale_lr(0.5, min_lr=0.08); opt.lr
        0.08
        """
        factor, min_lr = self._check("factor", factor), self._check("min_lr", min_lr)
        self._write_lr(lambda lr: max(lr * factor, min(min_lr, lr)))

    def set_group_lrs(self, rates) -> None:
        """Set each parameter group's learning rate, in the groups' order (one finite number >= 0 per group).

        >>> import nnlab
        >>> a, b = nnlab.tensor([1.0], requires_grad=True), nnlab.tensor([1.0], requires_grad=True)
        >>> opt = nnlab.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
        >>> opt.set_group_lrs([0.05, 0.005]); [g["lr"] for g in opt.param_groups]
        [0.05, 0.005]
        """
        if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__"):
            raise ConfigError(f"set_group_lrs takes one learning rate per group (a list), got {rates!r}; "
                              "to set every group's, assign opt.lr")
        rates = [self._check("lr", rate) for rate in rates]
        if len(rates) != len(self.param_groups):
            raise ConfigError(f"set_group_lrs: {len(rates)} rates for {len(self.param_groups)} parameter groups")
        given = iter(rates)
        self._write_lr(lambda _lr: next(given))

    def _write_lr(self, new_lr) -> None:
        """The one place that writes the groups' ``"lr"``: ``group["lr"] = new_lr(group["lr"])``."""
        for group in self.param_groups:
            group["lr"] = new_lr(group["lr"])

    def set_momentum(self, value: float) -> None:
        """Set ``"momentum"`` (in [0, 1)) in every group that has one; a ConfigError if none has (e.g. Adam)."""
        if not any("momentum" in group for group in self.param_groups):
            raise ConfigError(f"{type(self).__name__} has no 'momentum' setting (use SGD with momentum)")
        value = self._check("momentum", value, high=1.0, high_open=True)
        for k, group in enumerate(self.param_groups):  # every group's own rules (Nesterov needs momentum > 0), first
            if "momentum" in group:
                try:
                    self._validate({**group, "momentum": value})
                except ConfigError as error:
                    raise ConfigError(f"set_momentum({value:g}), parameter group {k}: {error}") from None
        for group in self.param_groups:
            if "momentum" in group:
                group["momentum"] = value

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every gradient; or set ``.grad = None`` (slower next step).

        The zeros of a ``Parameter`` are pending, not written: the next backward
        overwrites the buffer instead of adding to it, and a gradient read before
        being overwritten reads as zeros (``nnlab/_leafgrad.py``).  Other tensors'
        gradients are filled with zeros in place (one fill per buffer).
        """
        for flats in self._flats:
            for flat in flats:
                if set_to_none:
                    for p in flat.params:
                        p.grad = None
                    continue
                if flat.all_parameters:
                    flat.zero_grad_later()
                else:
                    flat.sync_for_zero_grad()
                    flat.grad.fill(0)

    def grad_buffers(self) -> list:
        """Every gradient of this optimizer's parameters, as few arrays as possible (for clipping them all at once).

        A group's whole flat gradient buffer when each of its parameters has a
        gradient (a replaced ``.grad`` is copied in first), else that group's
        gradients one by one; a ``.grad`` that is None is left out.  The arrays
        are the parameters' ``.grad`` storage: writing into them changes the gradients.

        >>> import nnlab
        >>> a, b = nnlab.tensor([1.0], requires_grad=True), nnlab.tensor([2.0, 3.0], requires_grad=True)
        >>> opt = nnlab.optim.SGD([a, b], lr=0.1)
        >>> (a.sum() + 2 * b.sum()).backward()
        >>> opt.grad_buffers()
        [array([1., 2., 2.], dtype=float32)]
        """
        buffers = []
        for flats in self._flats:
            for flat in flats:
                if not flat.sync():
                    buffers.append(flat.grad)
                else:
                    buffers.extend(p.grad for p in flat.params if p.grad is not None)
        return buffers

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes the loss first."""
        loss = closure() if closure is not None else None
        for group, flats in zip(self.param_groups, self._flats):
            for flat in flats:
                skipped = flat.sync()
                if skipped and len(skipped) == len(flat.params):
                    continue
                self._rescale_states(group, flat)
                if skipped:
                    saved = flat.snapshot(skipped)
                    flat.neutralize(skipped)
                flat.advance(skipped)
                update, gradient = self._rule(group, flat), self._gradient
                flat.run(lambda part: update(part, gradient(group, part)), self._blocks(group))
                if skipped:
                    flat.restore(saved)
        return loss

    def _state_factor(self, group: dict, flat: FlatParams, name: str) -> float:
        """What turns state ``name``, stored as s/(1 − β_old), into s/(1 − β) for the group's β now (1.0: as is).

        A user may change β between steps (``group["betas"] = ...``, as a one-cycle
        schedule does); the moment s itself must carry over, as in the seeds'
        v_t = β·v_{t−1} + (1 − β)·∇² and in PyTorch, which store s.
        """
        beta = self._check("beta", self.scaled_states[name](group), high=1.0, high_open=True)
        old = flat.scaled_for.setdefault(name, beta)
        return 1.0 if old == beta else (1.0 - old) / (1.0 - beta)

    def _rescale_states(self, group: dict, flat: FlatParams) -> None:
        """Bring every scaled state to the group's β before a step (one pass over a buffer, only when β changed)."""
        for name, beta_of in self.scaled_states.items():
            factor = self._state_factor(group, flat, name)
            if factor != 1.0:
                np.multiply(flat.state[name], factor, out=flat.state[name])
                flat.scaled_for[name] = float(beta_of(group))  # checked by _state_factor

    def _gradient(self, group: dict, part) -> np.ndarray:
        """Weight decay, the one place for every optimizer: the gradient the rule sees on a part.

        L2, the seeds' rule (the default): ∇ + α·w, computed in the part's second
        scratch buffer so ``.grad`` stays the user's.  Decoupled (AdamW,
        ``decoupled_weight_decay = True``, or the group's ``"decoupled_weight_decay"``
        of NAdam and RAdam): the weights shrink first,
        w ← w·(1 − η·α), and the rule sees ∇ itself.  A group's ``"maximize"``
        (RMSprop, Rprop, ASGD, as PyTorch's) negates ∇ first: −∇ + α·w.
        """
        alpha = float(group["weight_decay"])
        if group.get("decoupled_weight_decay", self.decoupled_weight_decay):  # a group setting of NAdam and RAdam
            shrink = 1.0 - float(group["lr"]) * alpha
            if shrink != 1.0:
                np.multiply(part.data, shrink, out=part.data)
            return part.grad
        maximize = group.get("maximize", False)
        if not alpha:
            return np.negative(part.grad, out=part.scratch2) if maximize else part.grad
        out = part.scratch2
        np.multiply(part.data, alpha, out=out)
        (np.subtract if maximize else np.add)(out, part.grad, out=out)
        return out

    def _blocks(self, group: dict) -> bool:
        """Whether a large group is walked in cache-sized blocks: it pays for rules of several passes."""
        return True

    def _rule(self, group: dict, flat: FlatParams):
        """The one method a rule writes: return ``update(part, grad)`` for this step of this group.

        Compute the step's scalars here, once (``flat.t`` is the step count:
        an int, or one count per element of the whole group, to be sliced by
        ``part.sl``); ``update`` updates ``part.data`` and ``part.state`` in place
        with elementwise NumPy calls, whatever part of the group it is given.
        """
        raise NotImplementedError

    # ------------------------------------------------------------ state
    def _indexed_params(self):
        """(global index, group index, flat, position in flat) for every parameter."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        for gi, flats in enumerate(self._flats):
            for flat in flats:
                for j, p in enumerate(flat.params):
                    yield index[id(p)], gi, flat, j

    def state_dict(self) -> dict:
        """Everything needed to continue bit for bit: hyper-parameters, step counts, state arrays (copies).

        ``{"state": {i: {"step": int, name: ndarray}}, "param_groups": [{..., "params": [i, ...]}]}``,
        parameters numbered in group order, arrays shaped like their parameter.
        """
        groups, start = [], 0
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(saved)
        state = {}
        for i, gi, flat, j in self._indexed_params():
            entry = {"step": flat.param_step(j)}
            shape = flat.data_views[j].shape
            for name, buf in flat.state.items():
                entry[name] = buf[flat.slices[j]].reshape(shape).copy()
                if name in self.scaled_states:  # stored for the β saved with the group, even if changed since the last step
                    factor = self._state_factor(self.param_groups[gi], flat, name)
                    if factor != 1.0:
                        entry[name] *= factor
            state[i] = entry
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved; the parameters themselves are the model's to load.

        Everything is checked first (``_state_check.py``): a bad state dict raises
        a ConfigError naming the problem and leaves the optimizer as it was.
        """
        groups, entries = checked_state_dict(self, state_dict)
        for group, new in zip(self.param_groups, groups):
            group.update(new)
        steps: dict = {}
        for i, _gi, flat, j in self._indexed_params():
            step, arrays = entries.get(i, (0, None))
            sl = flat.slices[j]
            for name, buf in flat.state.items():
                buf[sl] = 0 if arrays is None else arrays[name]
            steps.setdefault(id(flat), (flat, [0] * len(flat.params)))[1][j] = step
        for flat, counts in steps.values():
            flat.scaled_for = {}  # the arrays are stored for the loaded groups' β (see state_dict)
            flat.step = max(counts)
            flat.param_steps = None if len(set(counts)) == 1 else np.array(counts, dtype=np.int64)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for k, group in enumerate(self.param_groups):
            hyper = ", ".join(f"{key}={value}" for key, value in group.items() if key != "params")
            lines.append(f"  group {k}: {len(group['params'])} params, {hyper}")
        return "\n".join(lines) + "\n)"
