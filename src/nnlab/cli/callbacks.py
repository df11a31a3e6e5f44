"""The callbacks a config asks for: [schedule], [regularization]'s schedule, early stopping, checkpoint, metrics log."""

from __future__ import annotations

from ..errors import ConfigError
from ..optim import schedules
from ..train import callbacks as cb
from .build import global_batch_size, scaled_lr
from .config import RunConfig


def _warmup_callback(cfg: RunConfig):
    s = cfg.schedule
    start = s.warmup_start
    batch = global_batch_size(cfg)
    if start is None and s.lr_scaling == "linear" and batch > s.base_batch_size:
        start = cb.goyal_start_factor(batch, s.base_batch_size)  # begin at the unscaled eta0
    return cb.GradualWarmup(s.warmup_epochs, start)


def build_regularization_scheduler(cfg: RunConfig):
    """The [regularization] start_epoch / ramp_epochs as a RegularizationScheduler, or None when not scheduled."""
    r = cfg.regularization
    if not (r.start_epoch or r.ramp_epochs):
        return None
    return cb.RegularizationScheduler(schedules.delayed_start(1.0, start=r.start_epoch, ramp=r.ramp_epochs))


def build_schedule_callbacks(cfg: RunConfig, has_val: bool, steps_per_epoch: int = 1) -> list:
    """The [schedule] callbacks; with ``schedule.per = "step"`` the schedule's t and cosine's span count steps."""
    s, lr = cfg.schedule, scaled_lr(cfg)
    monitor = "val_loss" if has_val else "loss"
    out = []
    if s.name in schedules.names("lr"):  # its settings by name from the config section; cosine spans the run
        unit = steps_per_epoch if s.per == "step" else 1
        settings = dict(s.model_dump(), total=cfg.train.epochs * unit)
        fn = schedules.get(s.name, lr, **{k: settings[k] for k in schedules.settings(s.name) if k in settings})
        if s.name != "constant":
            out.append(cb.LearningRateScheduler(fn, per=s.per))
        if s.warmup_epochs:  # after the schedule: it multiplies the rate the schedule set
            out.append(_warmup_callback(cfg))
    elif s.name == "halve_on_rise":
        out.append(cb.HalveOnRise(monitor=monitor))
    else:
        out.append(cb.ReduceLROnPlateau(monitor=monitor, factor=s.factor, patience=s.patience))
    if s.momentum_warmup_epochs:  # the config checks that the optimizer is SGD with momentum
        out.append(
            cb.MomentumScheduler(
                schedules.momentum_schedule(0.5, cfg.optimizer.momentum, switch=s.momentum_warmup_epochs)
            )
        )
    return out


def training_callbacks(cfg: RunConfig, n_train: int, has_val: bool, reg_scheduler=None):
    """(callbacks, the TerminateOnNaN) deciding how a run trains: schedules, NaN guard, regularization, early stop."""
    nan_guard = cb.TerminateOnNaN()
    # the steps each rank runs: under mpiexec -n K a step takes a global batch of K x train.batch_size rows
    # (ShardedLoader), so a per-step schedule spans the epochs one process with the K-fold batch spans
    steps_per_epoch = -(-n_train // global_batch_size(cfg))
    callbacks = build_schedule_callbacks(cfg, has_val, steps_per_epoch) + [nan_guard]
    callbacks += [reg_scheduler] if reg_scheduler is not None else []
    if cfg.train.early_stopping:
        if not has_val:
            raise ConfigError("train.early_stopping needs a validation set: set data.val_size above 0")
        callbacks.append(cb.EarlyStopping(monitor="val_loss", patience=cfg.train.early_stopping))
    return callbacks, nan_guard


def run_callbacks(cfg: RunConfig, run_dir, n_train: int, has_val: bool, preprocessing, metadata: dict,
                  reg_scheduler=None):
    """(callbacks, the TerminateOnNaN, the history file name): training_callbacks, a checkpoint, the metrics log."""
    callbacks, nan_guard = training_callbacks(cfg, n_train, has_val, reg_scheduler)
    if cfg.train.checkpoint != "none":
        best = cfg.train.checkpoint == "best"
        callbacks.append(cb.Checkpoint(run_dir / "checkpoint.safetensors", monitor="val_loss" if has_val else "loss",
                                       save_best_only=best, save_last=not best, preprocessing=preprocessing,
                                       metadata=metadata))
    log_name = "history.csv" if cfg.train.log_format == "csv" else "history.jsonl"
    callbacks.append(cb.MetricsLogger(run_dir / log_name, format=cfg.train.log_format))
    return callbacks, nan_guard, log_name
