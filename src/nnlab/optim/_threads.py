"""Large parameter groups: cache-sized blocks, a thread pool, and the self-timing that picks between them.

An update rule is a handful of elementwise passes over a group's flat buffers
(see ``_flat.py``).  For a large group two things pay (all settings are the
module constants below):

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
  the faster (see :meth:`Pieces.run`).

Elementwise operations on disjoint slices give the same bits in any split, so
every mode gives exactly the result of one call over the whole buffer.  The
thread count is min(2, the CPUs this process may use), or the environment
variable ``NNLAB_OPTIM_THREADS`` (read once; 1 disables threading; never more
than the CPUs available).
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from . import _aligned

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

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
    # imported on first need: concurrent.futures loads logging, 6–10 ms of ``import nnlab`` otherwise
    from concurrent.futures import ThreadPoolExecutor

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


def _run(update, lanes) -> None:
    """Call ``update`` on every piece: inline for one lane or one piece, else the lanes share the pieces out."""
    if len(lanes) == 1 or len(lanes[0]) == 1:
        for part in lanes[0]:
            update(part)
        return
    from concurrent.futures import wait

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


class Scratch:
    """Three scratch buffers of one size, each allocated on first use (most rules use one, weight decay the second)."""

    def __init__(self, size: int, dtype):
        self.size, self.dtype = size, dtype
        self._first = self._second = self._third = None

    @property
    def scratch(self) -> np.ndarray:
        if self._first is None:
            self._first = _aligned.empty(self.size, self.dtype, slot=5)
        return self._first

    @property
    def scratch2(self) -> np.ndarray:
        if self._second is None:
            self._second = _aligned.empty(self.size, self.dtype, slot=6)
        return self._second

    @property
    def scratch3(self) -> np.ndarray:
        if self._third is None:
            self._third = _aligned.empty(self.size, self.dtype, slot=7)
        return self._third


class Part:
    """A contiguous piece ``sl`` of a group's flat buffers: what an update rule works on.

    ``data``, ``grad`` and ``state`` are views of the flat buffers; ``scratch``,
    ``scratch2`` and ``scratch3`` are as long, taken from ``offset`` in a scratch source (the
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

    @property
    def scratch3(self) -> np.ndarray:  # NAdam and Adadelta: two temporaries besides a decayed gradient in scratch2
        return self._source.scratch3[self._offset : self._offset + self.data.size]


class Pieces:
    """How a group's update runs: its cut into pieces, the thread pool, and the timing of both modes.

    A mixin of :class:`~nnlab.optim._flat.FlatParams`, which provides ``data``,
    ``grad``, ``state``, ``dtype``, ``sl`` and its own ``_scratch`` (a :class:`Scratch`);
    a whole group is a part of itself.
    """

    def _init_pieces(self) -> None:
        self._plans: dict = {}  # lanes by settings
        self._runs, self._trials, self._threaded = 0, ([], []), True

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
            lanes = [[self]] if count == 1 else [[Part(self, self.sl, self._scratch, 0)]]
        else:
            lanes = []
            for _ in range(count):
                source = Scratch(size, self.dtype)
                lanes.append([Part(self, slice(a, min(a + size, n)), source, 0) for a in range(0, n, size)])
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
                _run(update, lanes if threaded else self.lanes(1, blocks))
                if phase == 0:
                    self._trials = ([], [])
                self._trials[threaded].append(time.perf_counter() - start)
                if phase == 2 * TUNE_STEPS - 1:
                    self._threaded = min(self._trials[True]) < min(self._trials[False])
                return
            if not self._threaded:
                lanes = self.lanes(1, blocks)
        _run(update, lanes)
