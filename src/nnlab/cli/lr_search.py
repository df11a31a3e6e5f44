"""``nnlab lr-search CONFIG``: the notes' coarse-then-fine learning-rate search over the config's network."""

from __future__ import annotations

from .. import optim
from .. import seed as set_seed
from ..errors import ConfigError
from ..train import lr_search
from .build import build_loss, build_model, build_optimizer, prepare_data
from .commands import config_with_overrides


def lr_search_command(args) -> int:
    cfg = config_with_overrides(args)
    if cfg.tasks:
        raise ConfigError("lr-search searches single-task runs; remove the [tasks] tables (or search without them)")
    if cfg.pretrain.method != "none" or cfg.ensemble.method != "none":
        raise ConfigError("lr-search trains one network from its initial weights, without [pretrain] or [ensemble]: "
                          "remove those sections to search (the trials would not be the run the config describes)")
    if "lr" not in optim.settings(cfg.optimizer.name):
        raise ConfigError(f"lr-search searches a learning rate, and optimizer.name = {cfg.optimizer.name!r} takes none "
                          "(it picks its own steps)")
    splits = prepare_data(cfg)
    if splits.val is None:
        raise ConfigError("lr-search picks by validation loss: set data.val_size above 0")

    def build():
        set_seed(cfg.seed)  # every trial starts from the same weights
        return build_model(cfg, splits.num_features, splits.num_classes, rows=len(splits.train[1]))

    def make_optimizer(params, lr):  # the config's optimizer (weight decay, betas, momentum, ...) at the trial's rate
        return build_optimizer(cfg, params, lr=lr)

    print(f"nnlab: learning-rate search for {cfg.name} with {cfg.optimizer.name}, {args.epochs} epochs per trial")
    result = lr_search(build, splits.prepared(splits.train), splits.prepared(splits.val),
                       build_loss(cfg, splits.num_classes), optimizer=make_optimizer, epochs=args.epochs,
                       batch_size=cfg.train.batch_size, refine=not args.no_refine, seed=cfg.seed,
                       on_trial=lambda t: print(f"  {t.stage:<6} lr={t.lr:<10.4g} val_loss={t.val_loss:.5g}"))
    print(result.table())
    print(f"best learning rate: {result.best_lr:g} (validation loss {result.best_val_loss:.5g})")
    return 0
