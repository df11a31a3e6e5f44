"""The MPI side: the active communicator, in-place sums of flat buffers, and the weight checksum.

mpi4py is imported only by :func:`init`.  Every collective here uses mpi4py's
buffer interface (``Allreduce``, ``Allgather`` on NumPy arrays, upper-case methods): no pickling.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import NnlabError

_STATE = {"comm": None}
# the world size as each MPI launcher announces it to its processes (MPICH/Hydra, Open MPI, PMIx, Slurm)
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


class WeightDriftError(NnlabError):
    """The ranks' weights differ: the run is no longer one synchronous data-parallel run."""


def launched_by_mpi() -> bool:
    """Whether this process is one of several started by ``mpiexec`` (read from the launcher's variables).

    >>> launched_by_mpi() in (True, False)
    True
    """
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def init(comm=None):
    """Make ``comm`` (default: ``MPI.COMM_WORLD``) the active communicator and return it.

    Imports mpi4py (``pip install 'nnlab[mpi]'``); a clear error when it is missing.
    """
    if comm is None:
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise NnlabError("distributed training needs mpi4py and an MPI runtime: pip install 'nnlab[mpi]' "
                             f"(or mpi4py built against the site MPI on a cluster); import failed: {exc}") from None
        comm = MPI.COMM_WORLD
    _STATE["comm"] = comm
    return comm


def shutdown() -> None:
    """Forget the active communicator: nnlab is one process again (MPI itself stays initialized)."""
    _STATE["comm"] = None


def is_active() -> bool:
    """Whether a distributed run is active (after :func:`init`).

    >>> is_active()
    False
    """
    return _STATE["comm"] is not None


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


def communicator():
    comm = _STATE["comm"]
    if comm is None:
        comm = init()
    return comm


def _mpi():
    from mpi4py import MPI

    return MPI


def sum_in_place(comm, buffers) -> None:
    """Σ over ranks of each array, in place: one ``Allreduce`` per (contiguous) buffer."""
    MPI = _mpi()
    for buffer in buffers:
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)


def mean_in_place(comm, buffers) -> None:
    """The ranks' mean of each array, in place: sum with one ``Allreduce`` each, then divide by the world size."""
    size = comm.Get_size()
    sum_in_place(comm, buffers)
    for buffer in buffers:
        np.divide(buffer, size, out=buffer)


def sum_in_rank_order(comm, values) -> np.ndarray:
    """Σ over ranks of a short float64 vector, added in rank order on every rank: the same bits everywhere.

    One ``Allgather`` of the K vectors, then the same K − 1 additions on every
    rank.  An ``Allreduce`` leaves the order of its additions to the MPI library,
    and the MPI standard only recommends, not requires, that every rank get the
    same bits; figures that callbacks decide on (validation loss) must be equal.
    """
    mine = np.ascontiguousarray(values, dtype=np.float64)
    rows = np.empty((comm.Get_size(), mine.size), dtype=np.float64)
    comm.Allgather(mine, rows)
    total = rows[0].copy()
    for row in rows[1:]:
        total += row
    return total


def any_rank(comm, flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (so all ranks stop together)."""
    value = np.array([1 if flag else 0], dtype=np.int64)
    comm.Allreduce(_mpi().IN_PLACE, value, op=_mpi().MAX)
    return bool(value[0])


def weight_checksum(model) -> float:
    """Σ of every parameter in float64: one cheap pass; non-finite sums map to fixed sentinels."""
    total = 0.0
    for p in model.parameters():
        total += float(np.add.reduce(p.data, axis=None, dtype=np.float64))
    if math.isnan(total):
        return -1e308
    return total if math.isfinite(total) else 1e308


def check_in_sync(comm, model, where: str) -> None:
    """Raise :class:`WeightDriftError` on every rank when the ranks' weight checksums differ.

    One ``Allreduce`` (MAX of the checksum and of its negative) gives every rank
    the same largest and smallest checksum, so all ranks decide alike.
    """
    checksum = weight_checksum(model)
    extremes = np.array([checksum, -checksum], dtype=np.float64)
    comm.Allreduce(_mpi().IN_PLACE, extremes, op=_mpi().MAX)
    if extremes[0] != -extremes[1]:
        raise WeightDriftError(
            f"the weights differ between the ranks {where} (checksums from {-extremes[1]!r} to {extremes[0]!r}); "
            "every rank must build the model from the same seed and take the same steps")
