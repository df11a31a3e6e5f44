"""Accuracy parity of a CLI config: nnlab (as ``nnlab train`` runs it) beside PyTorch, same run, several seeds.

``python -m benchmarks.parity examples/mnist1d_cnn.toml --seeds 0 1 2``

For every seed the config's data, model, loss and optimizer are built exactly
as the CLI builds them and trained with ``nnlab.train.fit``.  PyTorch trains the
same architecture (the nnlab model's spec translated layer by layer to
``torch.nn``), starting from a copy of nnlab's initial weights, with
``torch.optim`` of the same name and arguments, the same batch size and epochs,
and the same preprocessed data; only the batch order (each framework shuffles
with its own generator) and float rounding differ.  Printed: test accuracy per
seed and framework, their means, and wall times.  Options of the config that
the translation does not cover (schedules, regularizers, augmentation,
dropout, weight decay) are refused rather than silently dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# nnlab.nn type → torch.nn constructor arguments (nnlab's init/dtype arguments dropped).
_NNLAB_ONLY = ("weight_init", "bias_init", "dtype", "rng")


def _unsupported(cfg) -> list:
    bad = []
    if cfg.schedule.name in ("halve_on_rise", "plateau") or cfg.schedule.momentum_warmup_epochs:
        bad.append(f"schedule {cfg.schedule.name}")
    if cfg.regularization.l1 or cfg.regularization.l2:
        bad.append("regularization")
    if cfg.data.augment_jitter or cfg.data.augment_noise_std:
        bad.append("augmentation")
    if cfg.optimizer.name not in ("adam", "sgd") or cfg.optimizer.weight_decay:
        bad.append(f"optimizer {cfg.optimizer.name} with weight decay {cfg.optimizer.weight_decay}")
    if cfg.loss.name != "cross_entropy" or cfg.loss.label_smoothing:
        bad.append("loss")
    return bad


def torch_model(spec: dict, nnlab_model):
    """The spec's Sequential in torch.nn, initialized with the nnlab model's weights."""
    import torch
    from torch import nn

    layers = []
    images = False  # nnlab's one BatchNorm is torch's BatchNorm2d after a Conv2d, BatchNorm1d otherwise
    for layer in spec["layers"]:
        args = {k: (tuple(v) if isinstance(v, list) else v) for k, v in layer["args"].items() if k not in _NNLAB_ONLY}
        kind = layer["type"]
        images = {"Conv2d": True, "Flatten": False}.get(kind, images)
        if kind == "BatchNorm":
            kind = "BatchNorm2d" if images else "BatchNorm1d"
        layers.append(getattr(nn, kind)(**args))
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for (name, p), (_, q) in zip(nnlab_model.named_parameters(), model.named_parameters()):
            value = torch.from_numpy(np.array(p.data))
            if q.shape != value.shape:  # nnlab's Linear weight is (in, out)
                value = value.T
            q.copy_(value)
    return model


def _epoch_schedule(cfg):
    """The config's learning rate as a function of the epoch (what LearningRateScheduler applies), or None."""
    from nnlab.cli.callbacks import build_schedule_callbacks
    from nnlab.train import LearningRateScheduler

    for callback in build_schedule_callbacks(cfg, has_val=False):
        if isinstance(callback, LearningRateScheduler):
            return callback.schedule
    return None


def run_torch(cfg, spec, nnlab_model, train, test, seed: int) -> dict:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = torch_model(spec, nnlab_model)
    o = cfg.optimizer
    if o.name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=o.lr, betas=o.betas, eps=o.eps)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)
    X, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in train)
    Xt, yt = (torch.from_numpy(np.ascontiguousarray(a)) for a in test)
    gen = torch.Generator().manual_seed(seed)
    bs = cfg.train.batch_size
    schedule = _epoch_schedule(cfg)
    t0 = time.perf_counter()
    for epoch in range(cfg.train.epochs):
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = schedule(epoch)
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), bs):
            idx = perm[i : i + bs]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        accuracy = float((model(Xt).argmax(1) == yt).float().mean())
    return {"accuracy": accuracy, "seconds": seconds}


def run_nnlab(cfg, seed: int):
    import nnlab
    from nnlab.cli.build import (
        build_loss, build_model, build_optimizer, build_schedule_callbacks, prepare_data, training_data,
    )
    from nnlab.train import evaluate, fit

    cfg = cfg.model_copy(update={"seed": seed})
    nnlab.seed(seed)
    splits = prepare_data(cfg)
    model = build_model(cfg, splits.num_features, splits.num_classes)
    spec = nnlab.nn.to_spec(model)
    initial = {k: v.copy() for k, v in model.state_dict().items()}
    loss = build_loss(cfg, splits.num_classes, model)
    optimizer = build_optimizer(cfg, model)
    train, augment = training_data(cfg, splits)
    test = splits.prepared(splits.test)
    t0 = time.perf_counter()
    fit(model, loss, optimizer, train, epochs=cfg.train.epochs, batch_size=cfg.train.batch_size,
        seed=seed, augment=augment, metrics=(), verbose=0, callbacks=build_schedule_callbacks(cfg, has_val=False))
    seconds = time.perf_counter() - t0
    accuracy = float(evaluate(model, build_loss(cfg, splits.num_classes), test)["accuracy"])
    fresh = build_model(cfg, splits.num_features, splits.num_classes)
    fresh.load_state_dict(initial)
    return {"accuracy": accuracy, "seconds": seconds}, spec, fresh, train, test


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.parity", description=__doc__.splitlines()[0])
    p.add_argument("config", help="a TOML run config (e.g. examples/mnist1d_cnn.toml)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--threads", type=int, default=1, help="torch threads (set OPENBLAS_NUM_THREADS for nnlab)")
    p.add_argument("--no-torch", action="store_true", help="nnlab only")
    p.add_argument("--out", type=Path, help="write the results as JSON")
    args = p.parse_args(argv)

    from nnlab.cli.config import load_config

    cfg = load_config(args.config)
    if args.epochs:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": args.epochs})})
    bad = _unsupported(cfg)
    if bad and not args.no_torch:
        p.error(f"the PyTorch side does not translate: {', '.join(bad)}; use --no-torch")
    if not args.no_torch:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    for seed in args.seeds:
        result, spec, initial_model, train, test = run_nnlab(cfg, seed)
        row = {"seed": seed, "nnlab": result}
        if not args.no_torch:
            row["torch"] = run_torch(cfg, spec, initial_model, train, test, seed)
        rows.append(row)
        print(json.dumps(row), flush=True)
    frameworks = ["nnlab"] + ([] if args.no_torch else ["torch"])
    summary = {fw: {"mean_accuracy": float(np.mean([r[fw]["accuracy"] for r in rows])),
                    "mean_seconds": float(np.mean([r[fw]["seconds"] for r in rows]))} for fw in frameworks}
    print(f"{args.config}: {cfg.train.epochs} epochs, batch {cfg.train.batch_size}, seeds {args.seeds}")
    for fw, s in summary.items():
        accs = ", ".join(f"{r[fw]['accuracy']:.3f}" for r in rows)
        print(f"  {fw:<6} test accuracy mean {s['mean_accuracy']:.4f} ({accs}); "
              f"training {s['mean_seconds']:.1f} s per seed")
    if args.out:
        args.out.write_text(json.dumps({"config": args.config, "command": " ".join(sys.argv), "rows": rows,
                                        "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
