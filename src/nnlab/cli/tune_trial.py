"""One trial of ``nnlab tune``: the config with the trial's values, trained as ``nnlab train`` would, without a run folder.

Only what decides the metric is built (data, model, loss with its weight penalties and
their schedule, augmentation, optimizer, schedules, early stopping, the NaN guard);
nothing is written to disk.  A config with [tasks] trains its MultiHead as
``nnlab train`` does; it logs the weighted sum of the tasks' losses as ``loss`` and
``val_loss`` (and no plain ``accuracy``).  The data splits
are kept per process for configs that share their ``[data]`` section and seed.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from ..errors import ConfigError

_SPLITS: dict = {}
METRICS = ("accuracy",)
# What a trial's training logs every epoch: the choices of tune.metric, checked before the first trial.
EPOCH_LOGS = tuple(f"{part}{name}" for part in ("val_", "") for name in ("loss", *METRICS))


class TrialFailed(ConfigError):
    """A trial whose values make an invalid config, or that diverged: it counts as failed, the study goes on."""


def train_trial(raw: dict, values: dict, trial, metric: str):
    """``(metric at the last epoch, None)``, or ``(None, epoch)`` when the pruner stopped the trial at ``epoch``."""
    from .. import seed as set_seed
    from .. import tune as tuning
    from ..train import fit
    from .build import build_loss, build_model, build_optimizer, training_data
    from .callbacks import build_regularization_scheduler, training_callbacks
    from .class_weights import fit_class_weight
    from .config import parse_config
    from .multitask import build_multihead, build_task_loss

    full = parse_config(raw).model_dump()  # defaults for list elements the raw config leaves out
    try:
        cfg = parse_config(tuning.apply(raw, values, full), source=f"trial {trial.number}'s config")
    except ConfigError as exc:  # values that do not go together (momentum with Adam, say)
        raise TrialFailed(str(exc)) from None
    trial.set_user_attr("config", json.loads(cfg.model_dump_json()))
    set_seed(cfg.seed)
    scheduler = build_regularization_scheduler(cfg)
    if cfg.tasks:  # as train_tasks: a MultiHead on the weighted sum of the tasks' losses, no augmentation
        data = _splits(cfg)
        model = build_multihead(cfg, data.train[0].shape[1], data.classes)
        loss, metrics = build_task_loss(cfg, model, scheduler), data.metrics
        train_data, augment, val_data = data.train, None, data.val
        class_weight = None  # refused with [tasks] by the config's check
    else:
        splits = _splits(cfg)
        model = build_model(cfg, splits.num_features, splits.num_classes, rows=len(splits.train[1]))
        loss, metrics = build_loss(cfg, splits.num_classes, model, scheduler), METRICS
        class_weight = fit_class_weight(cfg, splits)
        train_data, augment = training_data(cfg, splits)
        val_data = splits.prepared(splits.val) if splits.val else None
    optimizer = build_optimizer(cfg, model)
    pruning = tuning.PruningCallback(trial, metric)
    callbacks, _ = training_callbacks(cfg, len(train_data[0]), val_data is not None, scheduler)
    callbacks.append(pruning)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = fit(model, loss, optimizer, train_data, val_data, epochs=cfg.train.epochs,
                      batch_size=cfg.train.batch_size, metrics=metrics, callbacks=callbacks, seed=cfg.seed,
                      augment=augment, verbose=0, class_weight=class_weight)
    if pruning.pruned:
        return None, len(history.epoch) - 1
    value = float(history[metric][-1])
    if not np.isfinite(value):
        raise TrialFailed(f"trial {trial.number} diverged ({metric} = {value}); it counts as failed")
    return value, None


def _splits(cfg):
    """The run's data (a [tasks] run's TaskSplits, else Splits), prepared once per data set in a process."""
    from .build import prepare_data
    from .multitask import prepare_tasks

    # the tasks' targets and losses decide their labels; their weights do not
    tasks = {name: [t.target, t.loss] for name, t in cfg.tasks.items()}
    key = json.dumps([cfg.data.model_dump(mode="json"), cfg.seed, tasks], sort_keys=True)
    if key not in _SPLITS:
        _SPLITS.clear()  # one data set at a time: a tuned data key must not pile up copies
        _SPLITS[key] = prepare_tasks(cfg) if cfg.tasks else prepare_data(cfg)
    return _SPLITS[key]
