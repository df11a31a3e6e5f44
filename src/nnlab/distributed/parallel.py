"""What ``fit(..., distributed=True)`` changes: the batches each rank sees, the gradients, the logs, the writers.

:class:`DataParallel` hands ``fit`` four replacements -- a :class:`ShardedLoader`,
a loss that also reports the global batch mean, a :class:`DistributedOptimizer`
that all-reduces the gradients before each step, and the callback list with a
:class:`SyncCallback` first and, on ranks other than 0, no file writers -- and
for validation this rank's part of the validation set with the function that
adds up the parts' sums (:meth:`DataParallel.validation_part`), so the training
loop itself stays the one-process loop.
"""

from __future__ import annotations

import numpy as np

from ..data import ArrayDataset, DataLoader
from ..data.dataset import dataset_rows
from ..errors import ConfigError
from ..random import set_batch_shard
from ..tensor import is_grad_enabled
from ..train.callbacks import Callback, Checkpoint, MetricsLogger, ProgressBar
from ..train.metrics import Metric
from . import comm as C


def shard_bounds(m: int, world: int, rank: int) -> tuple[int, int]:
    """[start, stop) of rank ``rank``'s chunk of a global batch of ``m`` rows (``numpy.array_split``'s rule).

    The first ``m mod world`` ranks get one row more than the others.

    >>> [shard_bounds(10, 3, r) for r in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    base, extra = divmod(m, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedLoader(DataLoader):
    """This rank's share of each global batch of ``batch_size × world`` rows of one shared permutation.

    The global batches are exactly those of a one-process :class:`DataLoader` with
    batch ``batch_size × world`` and the same ``rng``; rank r gets the r-th
    contiguous chunk of each (:func:`shard_bounds`).  ``augment`` is applied to
    the global batch before it is split, so the augmentation draws the same
    numbers as in one process and on every rank; likewise, while a batch is
    out, the loader publishes ``(m, lo, hi)`` (:func:`nnlab.random.set_batch_shard`)
    and Dropout and GaussianNoise draw for all m rows and keep rows [lo, hi)
    (each rank draws K times its own mask).  ``global_rows`` and ``local_rows``
    are the sizes of the current global batch and of this rank's part of it (the
    loss weighs the rank's gradient by them: the model's output need not be one
    array of rows), ``local_seen`` this rank's samples so far this epoch.
    """

    def __init__(self, data, batch_size: int, world: int, rank: int, shuffle: bool = True, drop_last: bool = False,
                 rng=None, augment=None):
        # batch_size None: one global batch of every sample (full-batch gradient descent), split over the ranks
        global_batch = None if batch_size is None else batch_size * world
        super().__init__(data, global_batch, shuffle=shuffle, drop_last=drop_last, rng=rng, augment=augment)
        self.world, self.rank, self.local_batch_size = world, rank, batch_size
        tail = 0 if self.drop_last else self.num_samples % self.batch_size
        if 0 < tail < world:
            raise ConfigError(
                f"distributed: {self.num_samples} samples in global batches of {self.batch_size} "
                f"({world} ranks x {batch_size}) leave a last batch of {tail} rows, fewer than the ranks; "
                "use drop_last=True or another batch size")
        self.global_rows = self.local_rows = 0
        self.local_seen = 0
        self.after_epoch = None  # called once the epoch's batches are used up (before validation)

    def __iter__(self):
        n, b = self.num_samples, self.batch_size
        stop = n - n % b if self.drop_last else n
        order = self._epoch_order()
        arrays = isinstance(self.dataset, ArrayDataset)
        self.local_seen = 0
        try:
            for start in range(0, stop, b):
                rows = np.arange(start, min(start + b, n)) if order is None else order[start:start + b]
                m = len(rows)
                lo, hi = shard_bounds(m, self.world, self.rank)
                if self.augment is not None:  # the whole global batch, as in one process, then this rank's part
                    X_all, y_all = self._rows(rows, arrays)
                    X_batch, y_batch = self.augment(X_all)[lo:hi], (None if y_all is None else y_all[lo:hi])
                else:
                    X_batch, y_batch = self._rows(rows[lo:hi], arrays)
                self.global_rows, self.local_rows = m, hi - lo
                self.local_seen += hi - lo
                set_batch_shard((m, lo, hi))  # Dropout and noise layers draw for the global batch, keep [lo, hi)
                yield X_batch, y_batch
        finally:  # also when the loop stops early: outside the batches nothing is sharded
            set_batch_shard(None)
        if self.after_epoch is not None:
            self.after_epoch()

    def _epoch_order(self):
        from ..random import get_rng

        return get_rng(self._rng).permutation(self.num_samples) if self.shuffle else None

    def _rows(self, index, arrays: bool):
        if arrays:
            y = self.dataset.y
            return self.dataset.X[index], (None if y is None else y[index])
        return self.dataset[index]


def _join(parts):
    """The ranks' parts of a global batch (arrays, or {task: array}) as one, in rank order: the batch's row order."""
    if isinstance(parts[0], dict):
        return {key: _join([part[key] for part in parts]) for key in parts[0]}
    return np.concatenate(parts, axis=0)


class GatheredMetric(Metric):
    """A training metric whose state is not sums (``totals()`` None), updated with the whole global batch.

    Every rank gathers the ranks' outputs and targets of the batch in rank order
    (the global batch's rows in their order) and updates the metric with them,
    so its figure is the one of one process with that batch, on every rank.  The
    cost: one ``allgather`` of the batch's outputs and targets per step (pickled:
    they may be {task: array}); metrics with totals need none.
    """

    def __init__(self, metric, comm):
        self.metric, self.comm, self.name = metric, comm, metric.name

    def reset(self) -> None:
        self.metric.reset()

    def update(self, output, target) -> None:
        parts = self.comm.allgather((output, target))
        self.metric.update(_join([p[0] for p in parts]), _join([p[1] for p in parts]))

    def result(self) -> float:
        return self.metric.result()


class DistributedOptimizer:
    """Wrap an optimizer: ``step()`` first averages every flat gradient buffer over the ranks (one Allreduce each).

    Everything else (``lr``, ``param_groups``, ``state_dict``, ``zero_grad``,
    ``scale_lr``, ``set_momentum``) is the wrapped optimizer's.  Every
    ``check_every`` steps the ranks compare a weight checksum.
    """

    requires_closure = False

    def __init__(self, optimizer, comm, model, check_every: int = 100):
        if getattr(optimizer, "requires_closure", False):
            raise ConfigError(f"distributed training cannot use {type(optimizer).__name__}: it picks its step from "
                              "the local loss, so the ranks would step differently")
        self.__dict__.update(optimizer=optimizer, comm=comm, model=model, check_every=check_every, steps=0)

    def step(self, closure=None):
        C.mean_in_place(self.comm, self.optimizer.grad_buffers())
        result = self.optimizer.step()
        self.steps += 1
        if self.check_every and self.steps % self.check_every == 0:
            C.check_in_sync(self.comm, self.model, f"after step {self.steps}")
        return result

    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def __getattr__(self, name):
        return getattr(self.__dict__["optimizer"], name)

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r}, ranks={self.comm.Get_size()})"


class _Skipped(Callback):
    """Stands in on ranks other than 0 for a callback that writes files, so every rank has as many callbacks."""

    def __init__(self, replaced):
        self.replaced = type(replaced).__name__


def _writes_files(cb) -> bool:
    return isinstance(cb, Checkpoint | MetricsLogger) or bool(getattr(cb, "writes_files", False))


class SyncCallback(Callback):
    """First callback of a distributed run: the same start, a weight checksum after every epoch.

    (The loop reduces the epoch's training logs itself, :meth:`DataParallel.reduce_logs`, before validation.)
    """

    def __init__(self, parallel):
        # bound methods, not the DataParallel: a TrainingState saves a callback's plain attributes, never functions
        self.check = parallel.check

    def on_train_begin(self, logs=None):
        self.check("at the start (build the model from the same seed)")

    def on_epoch_end(self, epoch, logs=None):
        self.check(f"after epoch {epoch + 1}")

    def on_train_end(self, logs=None):
        set_batch_shard(None)  # also after an error inside a batch, when the loader may not have been closed yet


class DataParallel:
    """The pieces of one synchronous data-parallel run on ``comm`` (see :mod:`nnlab.distributed`)."""

    def __init__(self, comm=None, check_every: int = 100, sync_buffers: bool = True):
        self.comm = C.init(comm)  # the active communicator from now on (world_size(), SyncBatchNorm)
        self.world, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.check_every = check_every
        self.sync_buffers = sync_buffers
        self.loader = None
        self.model = None
        self.meters = []  # the training metrics (training_meters), whose totals reduce_logs adds up
        self._value = np.zeros(1, dtype=np.float64)

    def make_loader(self, data, batch_size, shuffle, drop_last, rng, augment) -> ShardedLoader:
        self.loader = ShardedLoader(data, batch_size, self.world, self.rank, shuffle=shuffle, drop_last=drop_last,
                                    rng=rng, augment=augment)
        self.loader.after_epoch = self.average_buffers
        return self.loader

    def wrap(self, model, loss, optimizer, callbacks: list, verbose: int):
        """The loss, optimizer, callbacks and verbosity this rank trains with."""
        self.model = model
        if self.rank != 0:
            from ..train.resume import TrainingState

            callbacks = [_Skipped(cb) if _writes_files(cb) else cb for cb in callbacks
                         if not isinstance(cb, TrainingState | ProgressBar)]
            verbose = 0
        return (self.global_loss(loss), DistributedOptimizer(optimizer, self.comm, model, self.check_every),
                [SyncCallback(self), *callbacks], verbose)

    def global_loss(self, loss):
        """``loss`` whose gradient carries this rank's weight K·n_r/m and whose value is the global batch mean.

        With equal chunks the weight is 1 and the Allreduce's mean is the batch
        mean; in a short last batch the weights make Σ_r K·n_r/m·mean_r / K the
        mean over its m rows.  The value (one more one-number Allreduce) is what
        one process would report, the same on every rank, so a non-finite batch
        stops every rank before its update.  A KL sparsity penalty
        (:class:`~nnlab.nn.ActivityRegularization`) is read from the global
        batch's mean activation, one number on every rank: it is counted once,
        with weight K, not weighed by the rank's rows.  n_r and m are the loader's: the
        output may be {task: output} (a MultiHead) or anything the loss reads.
        """
        value = self._value
        from ..nn.sparsity import ActivityRegularization

        activity = [] if self.model is None else [m for m in self.model.modules()
                                                    if isinstance(m, ActivityRegularization)]

        def distributed_loss(output, target):
            local = loss(output, target)
            if not is_grad_enabled():  # validation (under no_grad): this rank's part, added up by combine_validation
                return local
            n, m = self.loader.local_rows, self.loader.global_rows
            weight = self.world * n / m
            # a KL sparsity penalty of the global batch's ρ̂: one number, the same on every rank, inside local;
            # one process has it once, so it counts once (weight K: the optimizer's mean divides by K), not per row
            shared = [layer.global_penalty for layer in activity if layer.global_penalty is not None]
            common = sum(shared[1:], shared[0]) if shared else None
            g = 0.0 if common is None else float(common.data)
            value[0] = (float(local.data) - g) * n
            C.sum_in_place(self.comm, [value])
            if weight != 1.0:
                local = local * weight
            if common is not None:
                local = local + common * (self.world - weight)
            local.data = np.asarray(value[0] / m + g, dtype=local.data.dtype)
            return local

        return distributed_loss

    def validation_part(self, dataset, meters):
        """``(part, combine)``: this rank's rows of the validation set and :meth:`combine_validation`.

        Rank r takes the r-th contiguous chunk (:func:`shard_bounds`: sizes differ
        by at most one).  When a metric's state is not sums (its ``totals()`` is
        None) or there are fewer rows than ranks, every rank validates the whole
        set, as one process does: ``(dataset, None)``.
        """
        for meter in meters:
            meter.reset()
        if len(dataset) < self.world or any(meter.totals() is None for meter in meters):
            return dataset, None
        return dataset_rows(dataset, *shard_bounds(len(dataset), self.world, self.rank)), self.combine_validation

    def combine_validation(self, total: float, seen: int, meters) -> tuple[float, int]:
        """All ranks' loss sum, row count and metric totals from this rank's; the same bits on every rank.

        One ``Allgather`` of a short float64 vector (:func:`~nnlab.distributed.comm.sum_in_rank_order`),
        so EarlyStopping, ReduceLROnPlateau and Checkpoint decide alike on every rank.
        """
        parts = [meter.totals() for meter in meters]
        summed = C.sum_in_rank_order(self.comm, [total, seen, *(x for part in parts for x in part)])
        start = 2
        for meter, part in zip(meters, parts):
            meter.set_totals(summed[start:start + len(part)])
            start += len(part)
        return float(summed[0]), int(summed[1])

    def training_meters(self, meters: list) -> list:
        """The training metrics this rank updates: ``meters``, each whose state is not sums as a :class:`GatheredMetric`.

        A metric with totals (``Metric.totals``) counts this rank's rows and
        :meth:`reduce_logs` adds the ranks' totals up at the epoch's end; one
        without (a maximum, a median) cannot be combined from the ranks' results,
        so it sees the whole global batch on every rank instead.
        """
        for meter in meters:
            meter.reset()
        self.meters = [meter if meter.totals() is not None else GatheredMetric(meter, self.comm) for meter in meters]
        return self.meters

    def reduce_logs(self, logs: dict) -> None:
        """The epoch's training loss and metrics over all ranks' rows, the same bits on every rank.

        The loss is each rank's mean weighted by its row count; a metric's totals
        (Accuracy's correct and total counts, a function metric's sum) are added
        up and the metric reads its result from them, as in validation, so a
        count or a ratio of counts is one process's figure (a weighted mean of
        the ranks' results would not be: precision's denominator is no row
        count).  A :class:`GatheredMetric` saw every row already.  One
        ``Allgather`` (:func:`~nnlab.distributed.comm.sum_in_rank_order`); the
        ``val_`` figures are all ranks' already (:meth:`combine_validation`).
        """
        summed = [meter for meter in self.meters if not isinstance(meter, GatheredMetric) and meter.name in logs]
        parts = [meter.totals() for meter in summed]
        seen = self.loader.local_seen
        loss = logs.get("loss")
        weighted = 0.0 if loss is None or not seen else float(loss) * seen
        total = C.sum_in_rank_order(self.comm, [seen, weighted, *(x for part in parts for x in part)])
        if loss is not None:
            logs["loss"] = float(total[1] / total[0]) if total[0] else float("nan")
        start = 2
        for meter, part in zip(summed, parts):
            meter.set_totals(total[start:start + len(part)])
            logs[meter.name] = meter.result()
            start += len(part)

    def average_buffers(self) -> None:
        """Running statistics (BatchNorm) from local batches, averaged over the ranks, so evaluation agrees."""
        if not self.sync_buffers or self.model is None:
            return
        floats = [b for b in self.model.buffers() if b.dtype.kind == "f" and b.flags.c_contiguous]
        if floats:
            C.mean_in_place(self.comm, floats)

    def check(self, where: str) -> None:
        C.check_in_sync(self.comm, self.model, where)

    def any(self, flag: bool) -> bool:
        return C.any_rank(self.comm, flag)
