"""Optimizer base class: parameter groups, flat buffers, weight decay, state dicts.

Speed comes from one idea: each parameter group keeps ALL its parameters in one
contiguous array, and all their gradients in another.  When the optimizer is
built, every parameter's ``.data`` is rebound to a view into the flat data
buffer and (once it has one) its ``.grad`` to a view into the flat gradient
buffer.  The engine accumulates into an existing ``.grad`` in place, so after
``loss.backward()`` the flat gradient buffer already holds every gradient, and
an update rule is a handful of vectorized in-place NumPy calls over one vector,
whatever the number of parameters.  A group whose parameters mix dtypes gets
one flat buffer per dtype.

The views are checked by identity at every ``step()`` (a C-level pass over the
parameter list, no array work).  When a user or ``Module.zero_grad`` set
``p.grad = None``, or assigned a new array to ``p.grad`` or ``p.data``, the
optimizer copies the new array into its buffer and rebinds the view; only such
parameters pay a copy.

A parameter whose ``.grad`` is None at ``step()`` is skipped, as in PyTorch:
its value, its optimizer state and its step count stay as they were (a
parameter the loss did not reach this step is not decayed nor pushed by
momentum).  ``zero_grad()`` instead fills the gradient buffer with zeros (like
PyTorch's ``zero_grad(set_to_none=False)``), so a parameter that once had a
gradient takes part in every later step, with a zero gradient when unused.

Subclasses set ``state_names`` (the per-element buffers they keep, allocated
here) and write ``_update(group, flat, grad)``: update ``flat.data`` in place
from ``grad`` (the gradient with the group's L2 weight decay already added)
and the arrays in ``flat.state``, using ``flat.scratch`` for temporaries.
"""

from __future__ import annotations

import operator
import weakref

import numpy as np

from ..errors import ConfigError, NnlabError
from ..tensor import Tensor

_get_data = operator.attrgetter("data")
_get_grad = operator.attrgetter("grad")
_is = operator.is_
_NO_INDICES: list = []  # returned by FlatParams.sync when every parameter has a gradient; never mutated

# Flat gradient buffers by id, so clipping can work on a whole buffer at once.
_FLAT_GRADS: "weakref.WeakValueDictionary[int, np.ndarray]" = weakref.WeakValueDictionary()


class FlatParams:
    """The parameters of one group (of one dtype) packed into contiguous buffers.

    ``data`` and ``grad`` are 1-D arrays; ``params[i].data`` is the view
    ``data[slices[i]]`` reshaped, likewise ``.grad``.  ``state`` maps each
    state name of the rule to a zero-initialized array of the same size.
    ``step`` counts the updates; ``param_steps`` holds per-parameter counts
    once some parameter was skipped (else None: all equal ``step``); ``t`` is
    the count the current update uses (see :meth:`advance`).
    """

    def __init__(self, params: list, state_names=()):
        self.params = params
        self.dtype = params[0].data.dtype
        self.sizes = [p.data.size for p in params]
        total = sum(self.sizes)
        self.data = np.empty(total, dtype=self.dtype)
        self.grad = np.zeros(total, dtype=self.dtype)
        self.slices, self.data_views, self.grad_views = [], [], []
        start = 0
        for p, size in zip(params, self.sizes):
            sl = slice(start, start + size)
            start += size
            self.slices.append(sl)
            self.data_views.append(self.data[sl].reshape(p.data.shape))
            self.grad_views.append(self.grad[sl].reshape(p.data.shape))
        for i in range(len(params)):
            self._bind_data(i)
            if params[i].grad is not None:
                self._bind_grad(i)
        self.state = {name: np.zeros(total, dtype=self.dtype) for name in state_names}
        self.scratch = np.empty(total, dtype=self.dtype)
        self._scratch2 = None
        self.step = 0
        self.param_steps = None
        self.t = 0
        _FLAT_GRADS[id(self.grad)] = self.grad

    # ------------------------------------------------------------ syncing
    def _bind_data(self, i: int) -> None:
        p, view = self.params[i], self.data_views[i]
        new = p.data
        if new.shape != view.shape or new.dtype != view.dtype:
            raise NnlabError(
                f"a parameter's data changed from {view.dtype}{list(view.shape)} to "
                f"{new.dtype}{list(new.shape)} after the optimizer was built; build a new optimizer"
            )
        view[...] = new
        p.data = view

    def _bind_grad(self, i: int) -> None:
        p, view = self.params[i], self.grad_views[i]
        new = np.asarray(p.grad)
        if new.shape != view.shape:
            raise NnlabError(f"a gradient of shape {new.shape} was set on a parameter of shape {view.shape}")
        np.copyto(view, new, casting="same_kind")
        p.grad = view

    def sync(self) -> list:
        """Re-attach parameters whose ``.data``/``.grad`` were replaced; return the indices with no gradient."""
        params = self.params
        if not all(map(_is, map(_get_data, params), self.data_views)):
            for i, p in enumerate(params):
                if p.data is not self.data_views[i]:
                    self._bind_data(i)
        if all(map(_is, map(_get_grad, params), self.grad_views)):
            return _NO_INDICES
        missing = []
        for i, p in enumerate(params):
            if p.grad is None:
                missing.append(i)
            elif p.grad is not self.grad_views[i]:
                self._bind_grad(i)
        return missing

    def sync_for_zero_grad(self) -> None:
        """Rebind replaced gradients to the buffer (a None gradient stays None)."""
        params = self.params
        if all(map(_is, map(_get_grad, params), self.grad_views)):
            return
        for i, p in enumerate(params):
            if p.grad is not None and p.grad is not self.grad_views[i]:
                p.grad = self.grad_views[i]

    # ------------------------------------------------------------ helpers
    @property
    def scratch2(self) -> np.ndarray:
        """A second scratch buffer, allocated on first use (weight decay, line search)."""
        if self._scratch2 is None:
            self._scratch2 = np.empty_like(self.data)
        return self._scratch2

    def decayed_grad(self, weight_decay: float) -> np.ndarray:
        """The seeds' L2 rule: ∇ + α·w, in a scratch buffer (``.grad`` is left as the user's)."""
        out = self.scratch2
        np.multiply(self.data, weight_decay, out=out)
        np.add(out, self.grad, out=out)
        return out

    def snapshot(self, indices) -> list:
        """Copies of the value and state of the given parameters (to undo an update on them)."""
        saved = []
        for i in indices:
            sl = self.slices[i]
            saved.append((sl, self.data[sl].copy(), [buf[sl].copy() for buf in self.state.values()]))
        return saved

    def restore(self, saved) -> None:
        for sl, data, states in saved:
            self.data[sl] = data
            for buf, values in zip(self.state.values(), states):
                buf[sl] = values

    def advance(self, skipped) -> None:
        """Count one update of every parameter but the skipped ones; set ``t`` for the rule.

        ``t`` is the step count the update uses: an int when the updated parameters
        share it (always, unless some parameter was skipped on some earlier step and
        is updated now), else one count per element.
        """
        counts = self.param_steps
        if counts is None and not skipped:
            self.step += 1
            self.t = self.step
            return
        if counts is None:
            counts = self.param_steps = np.full(len(self.params), self.step, dtype=np.int64)
        counts += 1
        if skipped:
            counts[skipped] -= 1
        self.step = int(counts.max())
        active = np.delete(counts, skipped) if skipped else counts
        if (active == active[0]).all():
            self.t = int(active[0])  # the skipped ones are restored after the update: their t does not matter
        else:
            self.t = np.repeat(counts, self.sizes)

    def param_step(self, i: int) -> int:
        return self.step if self.param_steps is None else int(self.param_steps[i])


def _as_groups(params) -> list:
    if isinstance(params, Tensor):
        raise ConfigError("params must be an iterable of tensors or of parameter-group dicts, got a single Tensor")
    if isinstance(params, dict):
        params = [params]
    items = list(params)
    if not items:
        raise ConfigError("the optimizer got an empty parameter list")
    if all(isinstance(item, dict) for item in items):
        return [dict(item) for item in items]
    if any(isinstance(item, dict) for item in items):
        raise ConfigError("params mixes tensors and parameter-group dicts; pass one or the other")
    return [{"params": items}]


def check_range(name: str, value, low=0.0, high=None, high_open=False) -> float:
    """Validate one hyper-parameter: a real number in [low, high] (or [low, high))."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not (value >= low) or (high is not None and (value >= high if high_open else value > high)):
        bound = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ConfigError(f"{name} must be >= {low}{bound}, got {value}")
    return value


class Optimizer:
    """Base class: parameter groups, flat buffers, weight decay, the step loop, state dicts.

    ``params`` is an iterable of tensors that require grad (e.g.
    ``model.parameters()``) or of dicts ``{"params": [...], "lr": ..., ...}``
    whose keys override ``defaults`` for that group (a key ``"name"`` is also
    allowed).  Every group has ``weight_decay``: the seeds' L2 rule, the
    gradient used is ∇ + α·w.
    """

    #: per-element state buffers of the update rule, e.g. ("exp_avg", "exp_avg_sq")
    state_names: tuple = ()
    #: True when ``step`` needs a closure that recomputes the loss (LineSearch); a training loop checks it
    requires_closure: bool = False

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._flats: list[list[FlatParams]] = []
        for group in _as_groups(params):
            self.add_param_group(group)

    # ------------------------------------------------------------ groups
    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        group = dict(group)
        if "params" not in group:
            raise ConfigError("a parameter group needs a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        unknown = set(group) - set(self.defaults) - {"params", "name"}
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
            if not p.requires_grad or not p.is_leaf:
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
        check_range("weight_decay", group["weight_decay"])
        if "lr" in group:
            check_range("lr", group["lr"])

    @property
    def lr(self):
        """The learning rate of the first group; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value) -> None:
        value = check_range("lr", value)
        for group in self.param_groups:
            group["lr"] = value

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every gradient in place (one fill per buffer); or set ``.grad = None`` (slower next step)."""
        for flats in self._flats:
            for flat in flats:
                if set_to_none:
                    for p in flat.params:
                        p.grad = None
                else:
                    flat.sync_for_zero_grad()
                    flat.grad.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes the loss first."""
        loss = closure() if closure is not None else None
        for group, flats in zip(self.param_groups, self._flats):
            for flat in flats:
                skipped = flat.sync()
                if skipped:
                    if len(skipped) == len(flat.params):
                        continue
                    saved = flat.snapshot(skipped)
                flat.advance(skipped)
                self._update(group, flat, self._gradient(group, flat))
                if skipped:
                    flat.restore(saved)
        return loss

    def _gradient(self, group: dict, flat: FlatParams) -> np.ndarray:
        """The gradient the rule sees: the seeds' L2 rule adds α·w (AdamW decays the weights instead)."""
        weight_decay = group["weight_decay"]
        return flat.decayed_grad(weight_decay) if weight_decay else flat.grad

    def _update(self, group: dict, flat: FlatParams, grad: np.ndarray) -> None:
        """Update ``flat.data`` (and ``flat.state``) in place from ``grad``; the one method a rule writes."""
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
        for i, _gi, flat, j in self._indexed_params():
            entry = {"step": flat.param_step(j)}
            shape = flat.data_views[j].shape
            for name, buf in flat.state.items():
                entry[name] = buf[flat.slices[j]].reshape(shape).copy()
            state[i] = entry
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved; the parameters themselves are the model's to load."""
        try:
            saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ConfigError("an optimizer state dict needs the keys 'state' and 'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ConfigError(
                f"the state dict has {len(saved_groups)} parameter groups, the optimizer {len(self.param_groups)}"
            )
        for k, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ConfigError(
                    f"parameter group {k}: the state dict has {len(saved['params'])} parameters, "
                    f"the optimizer {len(group['params'])}"
                )
        expected = {"step", *self.state_names}
        for i, entry in saved_state.items():
            if set(entry) != expected:
                raise ConfigError(
                    f"state of parameter {i} has keys {sorted(entry)}, {type(self).__name__} expects {sorted(expected)}"
                )
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            new = dict(group)
            new.update({k: v for k, v in saved.items() if k != "params"})
            self._validate(new)
            new_groups.append(new)
        # Check every array before changing anything, so a bad state dict leaves the optimizer as it was.
        entries = list(self._indexed_params())
        for i, _gi, flat, j in entries:
            entry = saved_state.get(i, saved_state.get(str(i)))
            if entry is None:
                continue
            for name in self.state_names:
                if np.shape(entry[name]) != flat.data_views[j].shape:
                    raise ConfigError(
                        f"state '{name}' of parameter {i} has shape {np.shape(entry[name])}, "
                        f"the parameter {flat.data_views[j].shape}"
                    )
        for group, new in zip(self.param_groups, new_groups):
            group.update({k: v for k, v in new.items() if k != "params"})
        steps: dict = {}
        for i, _gi, flat, j in entries:
            entry = saved_state.get(i, saved_state.get(str(i)))
            sl = flat.slices[j]
            for name, buf in flat.state.items():
                buf[sl] = 0 if entry is None else np.asarray(entry[name]).reshape(-1)
            steps.setdefault(id(flat), (flat, [0] * len(flat.params)))[1][j] = 0 if entry is None else int(entry["step"])
        for flat, counts in steps.values():
            flat.step = max(counts)
            flat.param_steps = None if len(set(counts)) == 1 else np.array(counts, dtype=np.int64)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for k, group in enumerate(self.param_groups):
            hyper = ", ".join(f"{key}={value}" for key, value in group.items() if key != "params")
            lines.append(f"  group {k}: {len(group['params'])} params, {hyper}")
        return "\n".join(lines) + "\n)"
