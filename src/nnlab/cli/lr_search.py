"""``nnlab lr-search CONFIG``: the notes' coarse-then-fine learning-rate search over the config's network.

The rates searched and recommended are values for the config's ``optimizer.lr``: written there, the best
one trains as its trial did. With ``schedule.lr_scaling = "linear"`` that value is the base rate η0 for
``schedule.base_batch_size`` B0, and each trial trains at η0 × B/B0 as ``nnlab train`` would; the output
gives both. The trials run at a constant rate: the [schedule]'s decay and warm-up are not applied, and
each trains ``--epochs`` epochs (``train.epochs`` and ``train.early_stopping`` do not apply).
Everything else that decides the validation loss is ``nnlab train``'s: the [regularization] penalties
(L1, L2) and their start_epoch / ramp_epochs, the optimizer's weight decay and the data augmentation.
"""

from __future__ import annotations

from .. import optim
from .. import seed as set_seed
from ..errors import ConfigError
from ..train import lr_search
from .build import build_loss, build_model, build_optimizer, global_batch_size, prepare_data, scaled_lr, training_data
from .callbacks import build_regularization_scheduler
from .commands import config_with_overrides


def lr_search_command(args) -> int:
    cfg = config_with_overrides(args)
    if cfg.tasks:
        raise ConfigError("lr-search searches single-task runs, and this config has [tasks]: search optimizer.lr of "
                          "the multi-task run with nnlab tune (a [tune] section), or remove the [tasks] tables")
    if cfg.pretrain.method != "none" or cfg.ensemble.method != "none":
        raise ConfigError("lr-search trains one network from its initial weights, without [pretrain] or [ensemble]: "
                          "remove those sections to search (the trials would not be the run the config describes)")
    if cfg.train.class_weight is not None:  # nnlab.train.lr_search trains without class weights
        raise ConfigError("lr-search trains without class weights, and this config sets train.class_weight: the "
                          "trials would not be the run the config describes; remove it to search")
    if "lr" not in optim.settings(cfg.optimizer.name):
        raise ConfigError(f"lr-search searches a learning rate, and optimizer.name = {cfg.optimizer.name!r} takes none "
                          "(it picks its own steps)")
    splits = prepare_data(cfg)
    if splits.val is None:
        raise ConfigError("lr-search picks by validation loss: set data.val_size above 0")
    train_data, _ = training_data(cfg, splits)  # raw rows with jitter: the preprocessing runs after it, per batch

    def build():
        set_seed(cfg.seed)  # every trial starts from the same weights
        return build_model(cfg, splits.num_features, splits.num_classes, rows=len(splits.train[1]))

    def make_optimizer(params, lr):  # the config's optimizer (weight decay, betas, momentum, ...) at lr's training rate
        return build_optimizer(cfg, params, lr=lr)

    def setup(model):  # nnlab train's penalties on this trial's weights, their schedule, and its augmentation
        # new augmenters per trial: they draw from their own seeded generators, so each trial draws as one run does
        scheduler = build_regularization_scheduler(cfg)
        _, augment = training_data(cfg, splits)
        return build_loss(cfg, splits.num_classes, model, scheduler), [scheduler] if scheduler else [], augment

    scaled = cfg.schedule.lr_scaling == "linear"

    def trains_at(lr) -> str:
        return f"trains at {scaled_lr(cfg, lr):<10.4g} " if scaled else ""

    print(f"nnlab: learning-rate search for {cfg.name} with {cfg.optimizer.name}, {args.epochs} epochs per trial")
    if scaled:
        print(f"nnlab: lr is optimizer.lr, the rate for schedule.base_batch_size = {cfg.schedule.base_batch_size}; "
              f"the trials train at lr x {global_batch_size(cfg)}/{cfg.schedule.base_batch_size} "
              "(schedule.lr_scaling = \"linear\"), as nnlab train would")
    result = lr_search(build, train_data, splits.prepared(splits.val), None, setup=setup, optimizer=make_optimizer,
                       epochs=args.epochs, batch_size=cfg.train.batch_size, refine=not args.no_refine, seed=cfg.seed,
                       on_trial=lambda t: print(f"  {t.stage:<6} lr={t.lr:<10.4g} {trains_at(t.lr)}"
                                                f"val_loss={t.val_loss:.5g}"))
    print(result.table())
    at = f", which trains at {scaled_lr(cfg, result.best_lr):g}" if scaled else ""
    print(f"best learning rate: {result.best_lr:g} (validation loss {result.best_val_loss:.5g}): "
          f"set optimizer.lr = {result.best_lr:g}{at}")
    return 0
