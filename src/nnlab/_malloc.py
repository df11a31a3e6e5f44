"""Keep freed memory in the process between training steps (glibc only).

Every training step allocates its activations and gradients afresh and frees
them at the end.  glibc's malloc serves arrays of 128 KiB and more with their
own ``mmap`` and returns them to the kernel when freed, so the next step faults
the same pages back in, zero-filled: 1,775 page faults and 3 ms of kernel time
in a 7.7 ms step of the deep benchmark (BENCHMARKS.md).  Raising the mmap and
trim thresholds lets freed arrays be reused from the heap instead.

This is process-wide state that is not nnlab's own, so ``import nnlab`` does not
touch it: a program that imports nnlab only to load a model, or a host
application with its own allocator settings, keeps glibc's defaults.  Training
is where the faults cost time, so :func:`nnlab.train.fit` tunes the allocator
once per process when it starts (:func:`tune_allocator_once`), and so do the
benchmark workers before they build their models (``benchmarks/fw_nnlab.py``),
so the plain-loop benchmark measures the same allocator as ``fit`` runs with.

Set the environment variable ``NNLAB_MALLOC_TUNING=0`` to leave the allocator
alone, e.g. when another library in the process tunes it, or to measure glibc's
defaults.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 << 20


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; True when the allocator was tuned."""
    if os.environ.get("NNLAB_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, other platforms): nothing to tune
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


_tuned: bool | None = None  # the result of the first call in this process


def tune_allocator_once() -> bool:
    """:func:`tune_allocator` the first time it is called in a process; later calls repeat its answer."""
    global _tuned
    if _tuned is None:
        _tuned = tune_allocator()
    return _tuned
