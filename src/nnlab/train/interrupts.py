"""Ctrl-C between two writes of one epoch's end: held back until the writes are done.

At the end of an epoch several callbacks write files: the metrics log, a
checkpoint, the resumable state (last).  A Ctrl-C that lands between two of
them would leave a run folder whose files describe different epochs (a
history row, or a checkpoint, that the kept state does not have).
:func:`interrupts_deferred` holds a SIGINT back while the epoch-end callbacks
run and raises the KeyboardInterrupt right after them, so every file is of
the same epoch.  It does so only in the main thread and only while Python's
own SIGINT handler is installed (a program with its own handler keeps it).
"""

from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def interrupts_deferred():
    """Run the block with SIGINT held back; a Ctrl-C during it raises KeyboardInterrupt when it ends."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt
