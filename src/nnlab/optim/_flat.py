"""Flat buffers: a group's parameters packed into one contiguous array, their gradients into another.

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

How a large buffer is cut into blocks and shared among threads is in ``_threads.py``.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import NnlabError
from ..nn.parameter import Parameter
from . import _aligned
from ._threads import Pieces, Scratch

_get_data = operator.attrgetter("data")
_get_grad = operator.attrgetter("grad")
_get_requires_grad = operator.attrgetter("requires_grad")
_is = operator.is_
_NO_INDICES: list = []  # returned by FlatParams.sync when every parameter has a gradient; never mutated


class FlatParams(Pieces):
    """The parameters of one group (of one dtype) packed into contiguous buffers.

    ``data`` and ``grad`` are 1-D arrays; ``params[i].data`` is the view
    ``data[slices[i]]`` reshaped, likewise ``.grad``.  ``state`` maps each
    state name of the rule to a zero-initialized array of the same size.
    ``step`` counts the updates; ``param_steps`` holds per-parameter counts
    once some parameter was skipped (else None: all equal ``step``); ``t`` is
    the count the current update uses (see :meth:`advance`).  The whole group is
    a part of itself (``sl``, ``scratch``, ``scratch2``), which is what an update
    rule sees unless the group is cut into pieces (:meth:`lanes`, :meth:`run`).
    """

    def __init__(self, params: list, state_names=()):
        self.params = params
        self.all_parameters = all(isinstance(p, Parameter) for p in params)  # zero_grad may leave zeros pending
        self.dtype = params[0].data.dtype
        self.sizes = [p.data.size for p in params]
        total = sum(self.sizes)
        self.data = _aligned.empty(total, self.dtype, slot=0)
        self.grad = _aligned.zeros(total, self.dtype, slot=1)
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
        self.state = {name: _aligned.zeros(total, self.dtype, slot=2 + k) for k, name in enumerate(state_names)}
        self.scaled_for: dict = {}  # state name -> the β a scaled state is stored for (Optimizer.scaled_states)
        self.sl = slice(0, total)
        self._scratch = Scratch(total, self.dtype)
        self._init_pieces()
        self.step = 0
        self.param_steps = None
        self.t = 0

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
        """Re-attach parameters whose ``.data``/``.grad`` were replaced; return the indices to skip.

        Skipped: a parameter with no gradient, and a frozen one (``requires_grad``
        False, see ``Module.freeze``) even when its buffer holds a zero gradient.
        """
        params = self.params
        if not all(map(_is, map(_get_data, params), self.data_views)):
            for i, p in enumerate(params):
                if p.data is not self.data_views[i]:
                    self._bind_data(i)
        all_live = all(map(_get_requires_grad, params))
        if all_live and all(map(_is, map(_get_grad, params), self.grad_views)):
            return _NO_INDICES
        missing = []
        for i, p in enumerate(params):
            if p.grad is None or not p.requires_grad:
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

    def zero_grad_later(self) -> None:
        """``Optimizer.zero_grad`` for a group of Parameters: every gradient reads as zeros from now on.

        A replaced gradient is rebound to its view of the buffer first (its values do
        not matter: they read as zeros), a None one stays None; no buffer is written
        (``Parameter.zero_grad_later``).  One pass over the parameters without the
        ``grad`` property, as this runs at every training step.
        """
        for p, view in zip(self.params, self.grad_views):
            stored = p.stored_grad()
            if stored is not None and stored is not view:
                p.grad = view
            p.zero_grad_later()

    # ------------------------------------------------------------ helpers
    @property
    def scratch(self) -> np.ndarray:
        """A scratch buffer the size of the group, allocated on first use."""
        return self._scratch.scratch

    @property
    def scratch2(self) -> np.ndarray:
        """A second one, allocated on first use (weight decay, line search)."""
        return self._scratch.scratch2

    @property
    def scratch3(self) -> np.ndarray:
        """A third one, allocated on first use (NAdam, Adadelta)."""
        return self._scratch.scratch3

    def snapshot(self, indices) -> list:
        """Copies of the value and state of the given parameters (to undo an update on them)."""
        saved = []
        for i in indices:
            sl = self.slices[i]
            saved.append((sl, self.data[sl].copy(), [buf[sl].copy() for buf in self.state.values()]))
        return saved

    def neutralize(self, indices) -> None:
        """Weights 0 and state 1 in the given parameters' slices, for an update :meth:`restore` then undoes.

        The rule runs over the whole buffer, skipped parameters included; on these
        values it computes no 0/0 there (Adagrad, RMSProp and Adam with ε = 0 divide
        by √state), so a warning, or an error under ``np.errstate(all="raise")``,
        comes only from the parameters updated.  The rules are elementwise: the
        other slices get the same bits.
        """
        for i in indices:
            sl = self.slices[i]
            self.data[sl] = 0
            for buf in self.state.values():
                buf[sl] = 1

    def restore(self, saved) -> None:
        for sl, data, states in saved:
            self.data[sl] = data
            for buf, values in zip(self.state.values(), states):
                buf[sl] = values

    # ------------------------------------------------------------ step counts
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
