"""Synchronous data-parallel training on MPI (mpi4py, imported lazily): one process per rank, one model each.

The notes' batch-size advice ends with Goyal et al.: a large batch is
"efficiently implemented via synchronous parallel training".  Under
``mpiexec -n K``, ``fit(..., distributed=True)`` (or ``nnlab train`` under
``mpiexec``) trains the same model on every rank:

- every rank builds the same model from the same seed and draws the same
  permutation of the training set each epoch; step s's global batch is
  ``order[s·K·B : (s+1)·K·B]`` and rank r takes its r-th contiguous chunk
  (``numpy.array_split``: sizes differ by at most one in a short last batch);
- each rank runs forward and backward on its chunk, then every flat gradient
  buffer (``Optimizer.grad_buffers()``) is summed with one ``Allreduce`` (the
  buffer interface, no pickling) and divided by K; in a short last batch of m
  rows each rank first weights its chunk mean by K·n_r/m, so the result is the
  mean over the m rows, as one process with batch K·B would compute it (n_r
  and m are counted by the loader, so any output works: a MultiHead's
  {task: output} too);
- per-batch random numbers are the global batch's: augmentation runs before
  the split, and Dropout and GaussianNoise draw the mask of all m rows on every
  rank and keep the rank's own rows (:func:`nnlab.random.draw_for_batch`: K
  times the draws of one rank's rows), so noise differs between the ranks' rows
  exactly as between the rows of one process's batch;
- the epoch's training loss is the ranks' means weighted by their rows, and
  each training metric's totals (``Metric.totals``) are added up over the ranks,
  so a count or a ratio of counts is one process's figure; a metric without
  totals (a maximum) is updated on every rank with the whole global batch (the
  ranks' outputs gathered each step);
- a KL sparsity penalty (``nn.ActivityRegularization``) reads the mean
  activation over the global batch (one Allreduce), not over the rank's rows;
- every rank takes the same optimizer step, so the weights stay identical; a
  cheap checksum of the weights is compared every ``check_every`` steps and at
  every epoch's end, and a difference raises :class:`WeightDriftError` on all ranks;
- validation is split too: rank r validates the r-th contiguous chunk of the
  validation set (sizes differ by at most one), and the ranks add up the loss
  sum, the row count and each metric's totals (``Metric.totals``: Accuracy's
  correct and total counts, a function metric's sum) with one ``Allgather``,
  summed in rank order, so every rank gets the same bits -- what EarlyStopping,
  ReduceLROnPlateau, Checkpoint and the history see -- equal to one process's
  figures up to the order of the sums.  A metric whose state is not sums (its
  ``totals()`` is None, e.g. a maximum) or fewer validation rows than ranks make
  every rank validate the whole set instead.  BatchNorm's running statistics,
  which evaluation mode reads, are averaged over the ranks when each epoch's
  batches end (with SyncBatchNorm they are the global batch's on every rank
  already), so every rank's model is the same for its part.

Until :func:`init` is called nnlab runs as one process: :func:`world_size` is 1
and :func:`rank` 0, and mpi4py is never imported.
"""

from __future__ import annotations

from .comm import WeightDriftError, init, is_active, launched_by_mpi, rank, shutdown, world_size
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm, revert_sync_batchnorm

__all__ = ["init", "is_active", "launched_by_mpi", "rank", "shutdown", "world_size", "WeightDriftError",
           "SyncBatchNorm", "convert_sync_batchnorm", "revert_sync_batchnorm"]
