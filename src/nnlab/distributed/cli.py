"""``nnlab train`` on several ranks: ``mpiexec -n K nnlab train CONFIG`` (or ``--distributed``).

Every rank reads the config, builds the data and the model from the same seed
and trains its shard; only rank 0 touches the run folder (creates it, writes
config.json, the log, checkpoints, the model and the pictures) and prints.
"""

from __future__ import annotations

from ..errors import NnlabError
from . import comm as C


def start(args) -> bool:
    """Join the MPI run when asked (``--distributed``) or when started by ``mpiexec`` with more than one process."""
    wanted = bool(getattr(args, "distributed", False)) or C.launched_by_mpi()
    if wanted:
        C.init()
    return wanted


def is_root() -> bool:
    return C.rank() == 0


def on_root(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on rank 0 only; every rank gets its result or raises its error (no rank is left waiting)."""
    if not C.is_active():
        return fn(*args, **kwargs)
    outcome = None
    if is_root():
        try:
            outcome = ("ok", fn(*args, **kwargs))
        except NnlabError as exc:
            outcome = ("error", exc)
    # a small control message, so pickled: bcast (lower case); the gradients never go this way
    kind, value = C.communicator().bcast(outcome, root=0)
    if kind == "error":
        raise value
    return value
