"""``fit``, ``evaluate`` and ``predict``: the training loop, read top to bottom.

One training step is what a user writes by hand -- forward, loss, zero the
gradients, backward, ``optimizer.step()`` -- plus only what costs nearly nothing:
one conversion of the loss to a float, a finiteness check on it (so a NaN batch
can be refused *before* it updates the weights), a running sum, one metric
update per batch in whole-array NumPy, and per-batch callback hooks only for
callbacks that override them.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_choice, check_float, check_int
from ..data import DataLoader, as_features
from ..errors import ConfigError
from ..tensor import as_tensor
from .callbacks import CallbackList, History, ProgressBar, get_lr
from .callbacks.divergence import DivergenceGuard
from . import sample_weights
from .fit_data import evaluating, loss_by_name, model_dtype, prepare_dataset, probe_forward, split_validation
from .interrupts import interrupts_deferred
from .resume import Loop, TrainingState, load_state
from .metrics import confusion_matrix, metric_list, predicted_labels, target_labels


def fit(model, loss, optimizer, train_data, val_data=None, epochs: int = 10, batch_size: int | None = 32,
        metrics=("accuracy",), callbacks=(), seed=None, augment=None, verbose: int = 1, shuffle: bool = True,
        drop_last: bool = False, divergence="default", resume_from=None, distributed=False,
        validation_split: float = 0.0, class_weight=None, sample_weight=None, initial_epoch: int = 0) -> History:
    """Train ``model`` to lower ``loss(model(X), y)`` with ``optimizer``; return the :class:`History`.

    ``train_data`` and ``val_data`` are ``(X, y)`` pairs, ``nnlab.data.ArrayDataset``
    objects or any sized dataset indexable by an index array. Every epoch the
    training samples are reshuffled by a generator seeded from ``seed`` (None:
    nnlab's global generator, set by ``nnlab.seed``), so the same seed gives the same
    weights (layers that draw randomness, such as Dropout, use their own generators or
    the global one). ``augment`` (a callable or list of them, ``X_batch -> X_batch``) is
    applied to training batches only. ``batch_size=None`` trains on all samples as one
    batch every step (the notes' batch gradient descent). ``verbose``: 0 silent, 1 a progress bar in a
    terminal and one line per epoch otherwise, 2 one line per epoch.

    The model is in training mode while it learns and in evaluation mode (and
    under ``no_grad``, see :func:`evaluating`) while it is validated; its original
    mode is restored at the end.

    ``divergence``: a :class:`~nnlab.train.callbacks.DivergenceGuard` watches every
    run by default (``"default"``; pass your own to change the rule, or None for
    none): a loss that stays far above the first epoch's, or non-finite weights,
    stop training with the last good epoch's weights.  ``resume_from``: the file a
    :class:`~nnlab.train.resume.TrainingState` callback wrote; the run, built with
    the same arguments, continues after the epoch saved there and ends bit for bit
    where an uninterrupted run would.

    ``distributed``: True (or an mpi4py communicator) under ``mpiexec -n K``:
    synchronous data-parallel training (:mod:`nnlab.distributed`); ``batch_size``
    is then each rank's share of a global batch of K·``batch_size``.

    Multi-task learning: a model returning {task: output} (``nn.MultiHead``), data
    ``(X, {task: y})`` and a dict of losses or a ``MultiTaskLoss`` (task weights);
    the history then has ``loss_<task>`` and ``<metric>_<task>`` (see :mod:`nnlab.train.multitask`).

    Keras's options, with Keras's meaning: ``validation_split`` (in [0, 1)) holds
    out the *last* fraction of ``train_data``, before shuffling, as the validation
    data (instead of ``val_data``; see :func:`~nnlab.train.fit_data.split_validation`).
    ``class_weight`` ({class index: weight}; classes left out weigh 1) or
    ``sample_weight`` (one weight >= 0 per row of ``train_data``) weighs each
    training sample's loss term, the batch's loss being Σ wᵢ·lᵢ / batch size as in
    Keras 3 (why, and how per-sample values are taken: :mod:`nnlab.train.sample_weights`);
    validation is not weighted.  ``initial_epoch=k`` resumes the numbering of an
    earlier run: epochs k+1 .. ``epochs`` are trained (``epochs`` is the last
    epoch's number, as in Keras) and logged with those numbers.
    """
    check_int("epochs", epochs, minimum=1, owner="fit")
    check_int("initial_epoch", initial_epoch, minimum=0, owner="fit")
    if initial_epoch > epochs:
        raise ConfigError(f"fit: initial_epoch={initial_epoch} is after epochs={epochs}; epochs is the number of "
                          f"the last epoch (as in Keras), so fit trains epochs - initial_epoch epochs")
    validation_split = check_float("validation_split", validation_split, 0.0, 1.0, high_open=True, owner="fit")
    if validation_split and val_data is not None:
        raise ConfigError(f"fit: give val_data or validation_split={validation_split!r}, not both")
    if batch_size is not None:  # None: one batch of all the samples (batch gradient descent), as in DataLoader
        check_int("batch_size", batch_size, minimum=1, owner="fit")
    check_choice("verbose", verbose, (0, 1, 2), owner="fit")
    from .._malloc import tune_allocator_once

    tune_allocator_once()  # reuse freed arrays between steps instead of re-faulting them (see _malloc.py)

    from ..nn.sparsity import with_activity_penalties
    from . import multitask

    loss = loss_by_name(loss)
    # dict targets and losses: per-task datasets, losses and metrics (loss_<task>, accuracy_<task>, ...)
    dtype = model_dtype(model)
    loss, metrics, (train_data, val_data) = multitask.prepare(model, loss, metrics, [train_data, val_data], dtype)
    train_set = prepare_dataset(model, train_data, dtype, "train_data", loss)
    val_set = None if val_data is None else prepare_dataset(model, val_data, dtype, "val_data", loss)
    weights = sample_weights.weighting(model, loss, train_set, class_weight, sample_weight, distributed)
    if validation_split:
        train_set, val_set = split_validation(train_set, validation_split)
    if weights is not None:  # else the dataset and the loss stay as they are: no work per batch
        train_set = weights.dataset(train_set)
    loss = with_activity_penalties(loss, model)  # activity penalties count in the loss fit minimizes and reports
    rng = None if seed is None else np.random.default_rng(seed)
    parallel = None
    if distributed:
        from ..distributed.parallel import DataParallel

        parallel = DataParallel(None if distributed is True else distributed)
    make_loader = DataLoader if parallel is None else parallel.make_loader
    loader = make_loader(train_set, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, rng=rng,
                         augment=augment)
    meters = metric_list(metrics)
    val_meters = metric_list(metrics)
    combine = None  # distributed: each rank validates its part of val_set, combine adds up the parts' sums
    if parallel is not None and val_set is not None:
        val_set, combine = parallel.validation_part(val_set, val_meters)

    callbacks = list(callbacks)
    if divergence == "default":
        divergence = None if any(isinstance(cb, DivergenceGuard) for cb in callbacks) else DivergenceGuard()
    if divergence is not None:
        callbacks.insert(0, divergence)  # first: it restores good weights before a Checkpoint writes them
    if parallel is not None:  # reduced logs first; on ranks other than 0 no file writers
        loss, optimizer, callbacks, verbose = parallel.wrap(model, loss, optimizer, callbacks, verbose)
        meters = parallel.training_meters(meters)  # a metric that is no sum sees the whole global batch
    train_loss = loss if weights is None else with_activity_penalties(weights.loss, model)  # validation: unweighted
    savers = [cb for cb in callbacks if isinstance(cb, TrainingState)]
    callbacks = [cb for cb in callbacks if not isinstance(cb, TrainingState)]
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar(always_lines=verbose == 2))
    names = ["loss"] + [m.name for m in meters]
    logged = names + ([f"val_{n}" for n in names] if val_set is not None else []) + ["lr"]
    params = {"epochs": epochs, "steps": len(loader), "batch_size": loader.batch_size, "samples": len(train_set),
              "metrics": logged}
    history = History()  # after the others, so it records the logs as they left them; then the state savers
    cbs = CallbackList([*callbacks, history, *savers], model, optimizer, params)
    stateful = [cb for cb in callbacks if not isinstance(cb, ProgressBar)]
    loop = Loop(loader, history, stateful, augment, model)
    for saver in savers:
        saver.loop = loop
    was_training = model.training

    try:
        cbs.on_train_begin()
        start = initial_epoch if resume_from is None else _resumed_epoch(resume_from, loop, optimizer, initial_epoch)
        if resume_from is not None and cbs.stop_training:  # the saved run had stopped (early stopping, ...): over
            history.stop_reason, start = _stop_reason(cbs, start - 1), epochs
        for epoch in range(start, epochs):
            cbs.on_epoch_begin(epoch)
            model.train()
            logs = _train_epoch(model, train_loss, optimizer, loader, meters, cbs, epoch)
            if parallel is not None:  # now: a Metric given as an instance is also validation's, which resets it
                parallel.reduce_logs(logs)
            if val_set is not None:
                with evaluating(model):
                    val_logs = _evaluate(model, loss, val_set, max(loader.batch_size, 256), val_meters, combine=combine)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            logs["lr"] = get_lr(optimizer)
            with interrupts_deferred():  # the epoch's files (log, checkpoint, state) all of one epoch
                cbs.on_epoch_end(epoch, logs)
            if cbs.stop_training if parallel is None else parallel.any(cbs.stop_training):
                history.stop_reason = _stop_reason(cbs, epoch)
                break
    except BaseException:
        try:  # still close log files and the progress display; the original error wins
            cbs.on_train_end()
        except Exception:
            pass
        raise
    finally:
        model.train(was_training)
    cbs.on_train_end()
    return history


def _train_epoch(model, loss, optimizer, loader, meters, cbs, epoch) -> dict:
    """One pass over the training batches; returns the epoch's logs (sample-weighted mean loss, metrics)."""
    for meter in meters:
        meter.reset()
    batch_hooks = bool(cbs.batch_callbacks)
    # LineSearch tries several step sizes and needs the loss recomputed for each one.
    needs_closure = getattr(optimizer, "requires_closure", False)
    total = 0.0
    seen = 0
    isfinite = math.isfinite
    for batch, (X_batch, y_batch) in enumerate(loader):
        n = len(X_batch)
        if batch_hooks:
            cbs.on_batch_begin(batch, {"size": n})
        target = X_batch if y_batch is None else y_batch
        output = model(as_tensor(X_batch))
        batch_loss = loss(output, target)
        try:
            value = float(batch_loss.data)
        except (AttributeError, TypeError):
            raise ConfigError(_bad_loss(batch_loss)) from None
        total += value * n
        seen += n
        if not isfinite(value):
            cbs.on_nonfinite_loss(epoch, batch, value)
            if cbs.stop_training:
                break
        optimizer.zero_grad()
        batch_loss.backward()
        if needs_closure:
            optimizer.step(lambda: loss(model(as_tensor(X_batch)), target))
        else:
            optimizer.step()
        if meters:
            data = _metric_input(output)
            for meter in meters:
                meter.update(data, target)
        if batch_hooks:
            cbs.on_batch_end(batch, {"loss": value, "size": n})
            if cbs.stop_training:
                break
            batch_hooks = bool(cbs.batch_callbacks)  # a callback may need no more batches
    logs = {"loss": total / seen if seen else math.nan}
    for meter in meters:
        logs[meter.name] = meter.result()
    return logs


def evaluate(model, loss, data, batch_size: int = 1024, metrics=("accuracy",), confusion: bool = False) -> dict:
    """Mean ``loss`` and ``metrics`` of ``model`` on ``data``, in evaluation mode without building a graph.

    Returns ``{"loss": ..., "accuracy": ...}`` (no ``"loss"`` when ``loss`` is None);
    with ``confusion=True`` also ``"confusion_matrix"`` (rows: true class, columns:
    predicted class; see :func:`nnlab.train.metrics.confusion_matrix`).  Multi-task
    data ``(X, {task: y})`` with a dict of losses gives ``loss_<task>`` and
    ``<metric>_<task>`` too (:mod:`nnlab.train.multitask`).
    """
    check_int("batch_size", batch_size, minimum=1, owner="evaluate")
    from . import multitask

    loss, metrics, (data,) = multitask.prepare(model, loss_by_name(loss), metrics, [data], model_dtype(model))
    if confusion and isinstance(data, multitask.MultiTargetDataset):
        raise ConfigError("evaluate(confusion=True) needs a single-task model; use predict for each task's outputs")
    dataset = prepare_dataset(model, data, model_dtype(model), "data", loss)
    with evaluating(model):
        return _evaluate(model, loss, dataset, batch_size, metric_list(metrics), confusion)


def _evaluate(model, loss, dataset, batch_size, meters, confusion=False, combine=None) -> dict:
    """Mean loss and metrics over ``dataset``; the caller puts the model in :func:`evaluating` mode.

    ``combine(total, seen, meters)`` (a distributed run, ``dataset`` this rank's part)
    turns this part's loss sum, row count and metric state into those of all parts.
    """
    for meter in meters:
        meter.reset()
    total, seen = 0.0, 0
    true_labels, predictions = [], []
    for X_batch, y_batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        target = X_batch if y_batch is None else y_batch
        output = model(as_tensor(X_batch))
        if loss is not None:
            total += float(loss(output, target).data) * len(X_batch)
        seen += len(X_batch)
        if meters:
            data = _metric_input(output)
            for meter in meters:
                meter.update(data, target)
        if confusion:
            true_labels.append(target_labels(target))
            predictions.append(predicted_labels(_metric_input(output)))
    if combine is not None:
        total, seen = combine(total, seen, meters)
    logs = {} if loss is None else {"loss": total / seen}
    for meter in meters:
        logs[meter.name] = meter.result()
    if confusion:
        y_true = np.concatenate(true_labels).astype(np.int64)
        y_pred = np.concatenate(predictions)
        logs["confusion_matrix"] = confusion_matrix(y_true, y_pred)
    return logs


def predict(model, X, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for the rows of ``X`` as one ndarray, in evaluation mode without a graph.

    A multi-task model (one returning {task: output}) gives {task: ndarray}.

    >>> import nnlab
    >>> class Double(nnlab.nn.Module):
    ...     def forward(self, x):
    ...         return x * 2
    >>> predict(Double(), [[1.0], [2.0]]).ravel().tolist()
    [2.0, 4.0]
    """
    check_int("batch_size", batch_size, minimum=1, owner="predict")
    X = as_features(getattr(X, "X", X), dtype=model_dtype(model))
    with evaluating(model):
        first = probe_forward(model, X[:batch_size], "X")
        if isinstance(first, dict):  # a multi-task model: {task: outputs}
            from .multitask import predict_tasks

            return predict_tasks(model, X, first, batch_size)
        if not isinstance(first, np.ndarray):
            raise ConfigError(f"predict needs a model that returns a Tensor (or a dict of them), "
                              f"got {type(first).__name__}")
        if len(X) <= batch_size:
            return first
        out = np.empty((len(X),) + first.shape[1:], dtype=first.dtype)
        out[:batch_size] = first
        for start in range(batch_size, len(X), batch_size):
            out[start:start + batch_size] = model(as_tensor(X[start:start + batch_size])).data
        return out


# ------------------------------------------------------------------ helpers


def _metric_input(output):
    """What the metrics read: the output's ``.data`` (an array, or a multi-head model's dict)."""
    data = getattr(output, "data", None)
    if data is None:
        raise ConfigError(f"the metrics read the model's output as a Tensor, but the model returns "
                          f"{type(output).__name__}: pass metrics=() or return a Tensor from forward")
    return data


def _bad_loss(value) -> str:
    if not hasattr(value, "data"):
        return f"the loss function must return an nnlab Tensor, got {type(value).__name__}"
    return (f"the loss function must return a single value (a 0-d Tensor, e.g. reduction='mean'), "
            f"got shape {value.shape}")


def _resumed_epoch(path, loop, optimizer, initial_epoch) -> int:
    """The epoch after the one saved in ``path``; it must not come before ``initial_epoch``."""
    start = load_state(path, loop, optimizer)
    if start < initial_epoch:
        raise ConfigError(f"fit: resume_from {str(path)!r} holds the state after epoch {start}, before "
                          f"initial_epoch={initial_epoch}: resume a state of this run")
    return start


def _stop_reason(cbs, epoch) -> str:
    for cb in cbs.callbacks:
        if cb.stop_training:
            message = getattr(cb, "message", None)
            return message or f"{type(cb).__name__} stopped training after epoch {epoch + 1}"
    return f"stopped after epoch {epoch + 1}"
