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
here) and write ``_rule(group, flat)``: compute the step's scalars once and
return ``update(part, grad)``, which updates ``part.data`` in place from
``grad`` (the gradient with the group's L2 weight decay already added) and the
arrays in ``part.state``, using ``part.scratch`` for temporaries.  A part is a
contiguous piece of the flat buffers (``part.sl`` is its slice of them; the
whole group is one part unless it is large), so a rule is elementwise NumPy
calls with ``out=`` and nothing else.

Large groups (all settings are module constants below):
- a group of at least ``BLOCK_MIN_BYTES`` per buffer is walked in blocks of
  ``BLOCK_BYTES`` per buffer with a block-sized scratch buffer, so the ten-odd
  passes of a rule over a block hit the cache instead of memory;
- a group of at least ``THREAD_MIN_BYTES`` may be updated by several threads
  (NumPy ufuncs release the GIL): the calling thread and helpers from one
  persistent pool take the pieces (the blocks, or ``PIECES_PER_THREAD`` pieces
  per thread) one at a time, each with its own scratch.  Helpers only pay when
  they get a core of their own — right after a matrix product OpenBLAS's
  threads keep spinning on the cores for a while, and then a helper gains
  nothing — so such a group times its updates both ways now and then and keeps
  the faster (see :meth:`FlatParams.run`).
Elementwise operations on disjoint slices give the same bits in any split, so
every mode gives exactly the result of one call over the whole buffer.  The
thread count is min(2, the CPUs this process may use), or the environment
variable ``NNLAB_OPTIM_THREADS`` (read once; 1 disables threading; never more
than the CPUs available).
"""

from __future__ import annotations

import contextvars
import operator
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .._checks import check_float
from ..errors import ConfigError, NnlabError
from ..nn.module import Parameter
from ..tensor import Tensor

_get_data = operator.attrgetter("data")
_get_grad = operator.attrgetter("grad")
_get_requires_grad = operator.attrgetter("requires_grad")
_is = operator.is_
_NO_INDICES: list = []  # returned by FlatParams.sync when every parameter has a gradient; never mutated

# Flat gradient buffers by id, so clipping can work on a whole buffer at once.
_FLAT_GRADS: "weakref.WeakValueDictionary[int, np.ndarray]" = weakref.WeakValueDictionary()

# ---------------------------------------------------------------- threads and blocks
#: environment variable that sets the number of threads of an update (1: no threads)
THREADS_ENV = "NNLAB_OPTIM_THREADS"
#: a group with at least this many bytes per buffer may be split among the threads (measured on 2 idle
#: cores, Adam: 32 K float32 elements 28 → 77 µs with 2 threads, break-even near 180 K, 5.8 M 6.8 → 4.1 ms)
THREAD_MIN_BYTES = 1 << 20
#: a group with at least this many bytes per buffer is walked in blocks of BLOCK_BYTES per buffer
#: (Adam, one thread: 1 M float32 elements 867 → 903 µs, 2 M 2394 → 2279 µs, 5.8 M 9.5 → 6.8 ms;
#: blocks of 256 KiB to 1 MiB measured alike)
BLOCK_MIN_BYTES = 8 << 20
BLOCK_BYTES = 512 << 10
#: a threaded group too small to block is cut into this many pieces per thread, shared out at run time
PIECES_PER_THREAD = 4
#: updates timed in each mode (one thread, several) before a group that may use threads keeps the faster
#: (0: no timing, always threads); the trial is redone every RETUNE_STEPS updates
TUNE_STEPS = 3
RETUNE_STEPS = 1000

_threads = None  # the resolved thread count, once read
_executor = None  # (ThreadPoolExecutor, its number of workers), created on first need
_executor_lock = threading.Lock()


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def num_threads() -> int:
    """Threads an update may use: ``NNLAB_OPTIM_THREADS`` or 2, at most the CPUs this process may run on."""
    global _threads
    if _threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        wanted = 2
        if raw:
            try:
                wanted = int(raw)
            except ValueError:
                wanted = 0
            if wanted < 1:
                raise ConfigError(f"{THREADS_ENV} must be a whole number >= 1 (1 disables threading), got {raw!r}")
        _threads = max(1, min(wanted, _available_cpus()))
    return _threads


def _workers(count: int) -> ThreadPoolExecutor:
    """The persistent pool of helper threads (the calling thread is the other one)."""
    global _executor
    with _executor_lock:
        if _executor is None or _executor[1] < count:
            if _executor is not None:
                _executor[0].shutdown(wait=False)
            _executor = (ThreadPoolExecutor(max_workers=count, thread_name_prefix="nnlab-optim"), count)
        return _executor[0]


def _forget_workers() -> None:  # a forked child has the pool object but not its threads
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


class _Tickets:
    """Hands out the piece numbers 0 … n−1, each once, to whichever thread asks first.

    A thread slowed down (by another process, or by a BLAS thread spinning on
    its core after a matrix product) simply takes fewer pieces.
    """

    def __init__(self, count: int):
        self._numbers, self._lock = iter(range(count)), threading.Lock()

    def __iter__(self):
        return self

    def __next__(self) -> int:
        with self._lock:
            return next(self._numbers)


def _run_lane(update, parts, tickets) -> None:
    for i in tickets:
        update(parts[i])


def _decayed_grad(part, weight_decay: float) -> np.ndarray:
    """The seeds' L2 rule: ∇ + α·w, in the part's second scratch buffer (``.grad`` is left as the user's)."""
    out = part.scratch2
    np.multiply(part.data, weight_decay, out=out)
    np.add(out, part.grad, out=out)
    return out


class _Scratch:
    """Two scratch buffers of one size, each allocated on first use."""

    def __init__(self, size: int, dtype):
        self.size, self.dtype = size, dtype
        self._first = self._second = None

    @property
    def scratch(self) -> np.ndarray:
        if self._first is None:
            self._first = np.empty(self.size, dtype=self.dtype)
        return self._first

    @property
    def scratch2(self) -> np.ndarray:
        if self._second is None:
            self._second = np.empty(self.size, dtype=self.dtype)
        return self._second


class _Part:
    """A contiguous piece ``sl`` of a group's flat buffers: what an update rule works on.

    ``data``, ``grad`` and ``state`` are views of the flat buffers; ``scratch``
    and ``scratch2`` are as long, taken from ``offset`` in a scratch source (the
    group's own, or a piece-sized one per thread).
    """

    __slots__ = ("sl", "data", "grad", "state", "_source", "_offset")

    def __init__(self, flat, sl: slice, source, offset: int):
        self.sl = sl
        self.data, self.grad = flat.data[sl], flat.grad[sl]
        self.state = {name: buf[sl] for name, buf in flat.state.items()}
        self._source, self._offset = source, offset

    @property
    def scratch(self) -> np.ndarray:
        return self._source.scratch[self._offset : self._offset + self.data.size]

    @property
    def scratch2(self) -> np.ndarray:
        return self._source.scratch2[self._offset : self._offset + self.data.size]

    decayed_grad = _decayed_grad


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
        self.sl = slice(0, total)  # the whole group is a part of itself
        self._scratch = _Scratch(total, self.dtype)
        self._plans: dict = {}  # lanes by settings
        self._runs, self._trials, self._threaded = 0, ([], []), True
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

    # ------------------------------------------------------------ helpers
    @property
    def scratch(self) -> np.ndarray:
        """A scratch buffer the size of the group, allocated on first use."""
        return self._scratch.scratch

    @property
    def scratch2(self) -> np.ndarray:
        """A second one, allocated on first use (weight decay, line search)."""
        return self._scratch.scratch2

    decayed_grad = _decayed_grad

    # ------------------------------------------------------------ running a rule
    def lanes(self, threads: int, blocks: bool = True) -> list:
        """The parts an update runs on: one list per thread, the same pieces, each with that thread's scratch.

        One thread and a small group: ``[[self]]``, one call over the whole
        buffers.  Otherwise the buffers are cut into pieces (blocks of
        ``BLOCK_BYTES`` when the group is large enough to block and ``blocks``, else
        ``PIECES_PER_THREAD`` pieces per thread), on 64-element boundaries so no
        two threads write one cache line, and the threads share them out at run
        time.  Cached until a setting changes.
        """
        key = (threads, blocks, THREAD_MIN_BYTES, BLOCK_MIN_BYTES, BLOCK_BYTES, PIECES_PER_THREAD)
        lanes = self._plans.get(key)
        if lanes is not None:
            return lanes
        n, itemsize = self.data.size, self.data.itemsize
        count = threads if threads > 1 and n * itemsize >= THREAD_MIN_BYTES else 1
        if blocks and n * itemsize >= BLOCK_MIN_BYTES:
            size = max(1, BLOCK_BYTES // itemsize)
        elif count > 1:
            size = -(-n // (count * PIECES_PER_THREAD * 64)) * 64
        else:
            size = n
        if size >= n:
            lanes = [[self]] if count == 1 else [[_Part(self, self.sl, self._scratch, 0)]]
        else:
            lanes = []
            for _ in range(count):
                source = _Scratch(size, self.dtype)
                lanes.append([_Part(self, slice(a, min(a + size, n)), source, 0) for a in range(0, n, size)])
        self._plans[key] = lanes
        return lanes

    def run(self, update, blocks: bool = True) -> None:
        """Call ``update(part)`` once on every piece, on several threads when that was measured to be faster.

        Helper threads only pay when they get a core: after a matrix product,
        OpenBLAS's own threads spin for a while, and a helper then gains nothing
        (it can even lose).  So a group big enough for threads times its first
        ``TUNE_STEPS`` updates in each mode, alternately, keeps the faster, and
        does so again every ``RETUNE_STEPS`` updates.  Both modes give the same bits.
        ``blocks=False``: no cache blocking (a rule of two or three passes gains nothing from it).
        """
        lanes = self.lanes(num_threads(), blocks)
        if len(lanes) > 1 and TUNE_STEPS > 0:
            phase = self._runs % RETUNE_STEPS
            self._runs += 1
            if phase < 2 * TUNE_STEPS:
                threaded = phase % 2 == 1
                start = time.perf_counter()
                self._run(update, lanes if threaded else self.lanes(1, blocks))
                if phase == 0:
                    self._trials = ([], [])
                self._trials[threaded].append(time.perf_counter() - start)
                if phase == 2 * TUNE_STEPS - 1:
                    self._threaded = min(self._trials[True]) < min(self._trials[False])
                return
            if not self._threaded:
                lanes = self.lanes(1, blocks)
        self._run(update, lanes)

    @staticmethod
    def _run(update, lanes) -> None:
        if len(lanes) == 1 or len(lanes[0]) == 1:
            for part in lanes[0]:
                update(part)
            return
        tickets = _Tickets(len(lanes[0]))
        pool = _workers(len(lanes) - 1)
        # each helper runs in a copy of this thread's context: NumPy's error state (np.errstate) goes along
        futures = [pool.submit(contextvars.copy_context().run, _run_lane, update, lane, tickets)
                   for lane in lanes[1:]]
        try:
            _run_lane(update, lanes[0], tickets)
        finally:
            wait(futures)  # never return while a helper still writes
        for future in futures:
            future.result()

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

    #: per-element state buffers of the update rule, e.g. ("grad_sum", "sq_grad_sum") for Adam
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
        check_range("weight_decay", group["weight_decay"])
        if "lr" in group:
            check_range("lr", group["lr"])

    # ------------------------------------------------------------ learning rate and momentum
    @property
    def lr(self):
        """The learning rate of the first group; setting it sets every group's (a finite number >= 0)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value) -> None:
        value = check_float("lr", value, low=0.0, owner=type(self).__name__)
        self._write_lr(lambda lr: value)

    def scale_lr(self, factor: float, min_lr: float = 0.0) -> None:
        """Multiply every group's learning rate by ``factor`` (keeping ratios between groups), not below ``min_lr``.

        A rate already below ``min_lr`` is left alone: the floor never raises a rate.

        >>> import nnlab
        >>> opt = nnlab.optim.SGD([nnlab.tensor([1.0], requires_grad=True)], lr=0.1)
        >>> opt.scale_lr(0.5, min_lr=0.08); opt.lr
        0.08
        """
        owner = type(self).__name__
        factor = check_float("factor", factor, low=0.0, owner=owner)
        min_lr = check_float("min_lr", min_lr, low=0.0, owner=owner)
        self._write_lr(lambda lr: max(lr * factor, min(min_lr, lr)))

    def _write_lr(self, new_lr) -> None:
        """The one place that writes the groups' ``"lr"``: ``group["lr"] = new_lr(group["lr"])``."""
        for group in self.param_groups:
            group["lr"] = new_lr(group["lr"])

    def set_momentum(self, value: float) -> None:
        """Set ``"momentum"`` (in [0, 1)) in every group that has one; a ConfigError if none has (e.g. Adam)."""
        owner = type(self).__name__
        if not any("momentum" in group for group in self.param_groups):
            raise ConfigError(f"{owner} has no 'momentum' setting (use SGD with momentum)")
        value = check_float("momentum", value, low=0.0, high=1.0, high_open=True, owner=owner)
        for group in self.param_groups:
            if "momentum" in group:
                group["momentum"] = value

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
                update, gradient = self._rule(group, flat), self._gradient
                flat.run(lambda part: update(part, gradient(group, part)), self._blocks(group))
                if skipped:
                    flat.restore(saved)
        return loss

    def _gradient(self, group: dict, part) -> np.ndarray:
        """The gradient the rule sees on a part: the seeds' L2 rule adds α·w (AdamW decays the weights instead)."""
        weight_decay = group["weight_decay"]
        return part.decayed_grad(float(weight_decay)) if weight_decay else part.grad

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
