"""Synchronous data-parallel training on MPI (mpi4py, imported lazily): one process per rank, one model each.

Until :func:`init` is called (by ``fit(..., distributed=True)`` or ``nnlab train``
under ``mpiexec``) nnlab runs as one process: :func:`world_size` is 1 and
:func:`rank` 0, and mpi4py is never imported.
"""

from __future__ import annotations

_STATE = {"comm": None}


def world_size() -> int:
    """The number of ranks of the active distributed run; 1 when none is active.

    >>> world_size()
    1
    """
    comm = _STATE["comm"]
    return 1 if comm is None else comm.Get_size()


def rank() -> int:
    """This process's rank in the active distributed run; 0 when none is active.

    >>> rank()
    0
    """
    comm = _STATE["comm"]
    return 0 if comm is None else comm.Get_rank()
