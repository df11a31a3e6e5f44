"""The ``nnlab`` sub-commands: train, evaluate, predict, info, lr-search."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .. import io as model_io
from .. import seed as set_seed
from ..data import read_csv, read_npz
from ..errors import ConfigError, DataError, ModelFileError
from ..train import Checkpoint, EarlyStopping, MetricsLogger, TerminateOnNaN, evaluate, fit, lr_search, predict
from .build import (
    build_loss,
    build_model,
    build_optimizer,
    build_schedule_callbacks,
    prepare_data,
    training_data,
)
from .config import RunConfig, load_config, parse_config

MODEL_FILE = "model.safetensors"


def run(args) -> int:
    return {
        "train": train,
        "evaluate": evaluate_command,
        "predict": predict_command,
        "info": info,
        "lr-search": lr_search_command,
    }[args.command](args)


def _config_with_overrides(args) -> RunConfig:
    cfg = load_config(args.config)
    raw = cfg.model_dump()
    if args.config and "name" not in cfg.model_fields_set:
        raw["name"] = Path(args.config).stem  # a config without a name is named after its file
    if getattr(args, "epochs", None) is not None:
        raw["train"]["epochs"] = args.epochs
    if getattr(args, "name", None):
        raw["name"] = args.name
    if getattr(args, "runs_dir", None):
        raw["runs_dir"] = args.runs_dir
    return parse_config(raw, source="command-line options")


def train(args) -> int:
    cfg = _config_with_overrides(args)
    set_seed(cfg.seed)
    splits = prepare_data(cfg)
    model = build_model(cfg, splits.num_features, splits.num_classes)
    loss = build_loss(cfg, splits.num_classes, model)
    plain_loss = build_loss(cfg, splits.num_classes)
    optimizer = build_optimizer(cfg, model)
    run_dir = Path(cfg.runs_dir) / cfg.name
    run_dir.mkdir(parents=True, exist_ok=True)
    metadata = {"config": cfg.model_dump(mode="json")}
    model.preprocessing = splits.preprocessing

    train_data, augment = training_data(cfg, splits)
    val_data = splits.prepared(splits.val) if splits.val else None
    nan_guard = TerminateOnNaN()
    callbacks = build_schedule_callbacks(cfg, val_data is not None) + [nan_guard]
    if cfg.train.early_stopping:
        if val_data is None:
            raise ConfigError("train.early_stopping needs a validation set: set data.val_size above 0")
        callbacks.append(EarlyStopping(monitor="val_loss", patience=cfg.train.early_stopping))
    if cfg.train.checkpoint != "none":
        monitor = "val_loss" if val_data is not None else "loss"
        best = cfg.train.checkpoint == "best"
        callbacks.append(
            Checkpoint(run_dir / "checkpoint.safetensors", monitor=monitor, save_best_only=best,
                       save_last=not best, preprocessing=splits.preprocessing, metadata=metadata)
        )
    log_name = "history.csv" if cfg.train.log_format == "csv" else "history.jsonl"
    callbacks.append(MetricsLogger(run_dir / log_name, format=cfg.train.log_format))

    if not args.quiet:
        print(f"nnlab: training {cfg.name}: {len(train_data[0])} training samples, "
              f"{splits.num_features} features, {splits.num_classes} classes, {model.num_parameters():,} parameters")
    # Divergence is reported once, by TerminateOnNaN, rather than as NumPy overflow warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = fit(model, loss, optimizer, train_data, val_data, epochs=cfg.train.epochs,
                      batch_size=cfg.train.batch_size, callbacks=callbacks, seed=cfg.seed,
                      augment=augment, verbose=0 if args.quiet else 1)
        test_logs = evaluate(model, plain_loss, splits.prepared(splits.test), confusion=True)
    model_io.save(model, run_dir / MODEL_FILE, preprocessing=splits.preprocessing, metadata=metadata)
    _write_text(run_dir / "config.json", json.dumps(cfg.model_dump(mode="json"), indent=2) + "\n")
    from .plots import plot_history

    plot_history(history, str(run_dir / "curves.png"))

    which = "training" if splits.test_is_train else "test"
    if history.stop_reason:
        print(f"nnlab: stopped early: {history.stop_reason}")
    print(f"{which} loss: {test_logs['loss']:.4f}")
    print(f"{which} accuracy: {test_logs['accuracy']:.4f} ({len(splits.test[0])} samples)")
    print(f"run written to {run_dir}/ ({MODEL_FILE}, {log_name}, config.json, curves.png)")
    if nan_guard.stop_training:
        print(f"nnlab: error: training diverged ({nan_guard.message}); "
              f"try a lower learning rate than optimizer.lr = {cfg.optimizer.lr:g}", file=sys.stderr)
        return 1
    return 0


def _write_text(path: Path, text: str) -> None:
    model_io.atomic_write(path, text)


def _model_path(target: str) -> Path:
    path = Path(target)
    if path.is_dir():
        path = path / MODEL_FILE
        if not path.exists():
            raise ModelFileError(f"{target!r} is a folder without {MODEL_FILE}; is it an nnlab run folder?")
    return path


def _run_config(model) -> RunConfig | None:
    raw = (getattr(model, "metadata", None) or {}).get("config")
    return None if raw is None else parse_config(raw, source="config stored in the model file")


def _input_features(model) -> int | None:
    """Features per row the model's first affine layer takes (None if it has none)."""
    for module in model.modules():
        if hasattr(module, "in_features"):
            return int(module.in_features)
    return None


def _features(model, X) -> np.ndarray:
    """Raw rows as model inputs: the saved preprocessing checks the raw width itself."""
    pre = getattr(model, "preprocessing", None)
    if pre is not None:
        return pre.transform(X)
    expected = _input_features(model)
    if expected is not None and X.shape[1] != expected:
        raise DataError(f"the model expects {expected} features per row, the data has {X.shape[1]}")
    return X


def evaluate_command(args) -> int:
    model = model_io.load(_model_path(args.model))
    cfg = _run_config(model) or RunConfig()
    if args.data:
        if args.data.endswith(".npz"):
            X, y = read_npz(args.data)
        else:
            X, y = read_csv(args.data, target=args.target or cfg.data.target or "label")
        where = args.data
    else:
        if _run_config(model) is None:
            raise ConfigError("this model file stores no run config: pass --data FILE to evaluate it")
        splits = prepare_data(cfg)
        X, y = splits.test
        where = "the run's training data" if splits.test_is_train else "the run's test split"
    if y is None:
        raise DataError(f"{where} has no labels to evaluate against")
    num_classes = int(predict(model, _features(model, X[:1])).shape[1])
    logs = evaluate(model, build_loss(cfg, num_classes), (_features(model, X), y), confusion=True)
    print(f"evaluated on {where} ({len(X)} samples)")
    print(f"loss: {logs['loss']:.4f}")
    print(f"accuracy: {logs['accuracy']:.4f}")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(_matrix_text(logs["confusion_matrix"]))
    return 0


def _matrix_text(matrix: np.ndarray) -> str:
    width = max(len(str(matrix.max())), len(str(len(matrix) - 1))) + 1
    lines = [" " * 4 + "".join(f"{j:>{width}}" for j in range(matrix.shape[1]))]
    for i, row in enumerate(matrix):
        lines.append(f"{i:>3} " + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def predict_command(args) -> int:
    model = model_io.load(_model_path(args.model))
    X, _ = read_csv(args.input, target=None)
    if len(X) == 0:
        raise DataError(f"{args.input} has no rows to predict")
    outputs = predict(model, _features(model, X))
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = outputs.argmax(axis=1)
    out_path = args.output or (os.path.splitext(args.input)[0] + ".predictions.csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["prediction"] + [f"p_{k}" for k in range(probs.shape[1])])
    for label, row in zip(labels, probs):
        writer.writerow([int(label)] + [f"{p:.6f}" for p in row])
    _write_text(Path(out_path), buffer.getvalue())
    print(f"wrote {len(labels)} predictions to {out_path}")
    return 0


def info(args) -> int:
    path = _model_path(args.model)
    model = model_io.load(path)
    meta = model_io.read_metadata(path)
    features = _input_features(model)
    print(f"model file: {path}")
    print(f"saved by nnlab {meta.get('nnlab_version')} on {meta.get('created')}")
    print(model)
    print(f"parameters: {model.num_parameters():,}")
    if features is not None:
        print(f"FLOPs per example (forward, 1 multiply-add = 2 FLOPs): {model.flops((1, features)):,}")
        for row in model.flops_by_layer((1, features)):
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    if model.preprocessing is not None:
        print(f"preprocessing: {model.preprocessing!r}")
    return 0



def lr_search_command(args) -> int:
    cfg = _config_with_overrides(args)
    splits = prepare_data(cfg)
    if splits.val is None:
        raise ConfigError("lr-search picks by validation loss: set data.val_size above 0")

    def build():
        set_seed(cfg.seed)  # every trial starts from the same weights
        return build_model(cfg, splits.num_features, splits.num_classes)

    o = cfg.optimizer
    options = {"momentum": o.momentum, "nesterov": o.nesterov} if o.name == "sgd" else {}
    print(f"nnlab: learning-rate search for {cfg.name} with {o.name}, {args.epochs} epochs per trial")
    result = lr_search(build, splits.prepared(splits.train), splits.prepared(splits.val),
                       build_loss(cfg, splits.num_classes), optimizer=o.name, epochs=args.epochs,
                       batch_size=cfg.train.batch_size, refine=not args.no_refine, seed=cfg.seed,
                       on_trial=lambda t: print(f"  {t.stage:<6} lr={t.lr:<10.4g} val_loss={t.val_loss:.5g}"),
                       **options)
    print(result.table())
    print(f"best learning rate: {result.best_lr:g} (validation loss {result.best_val_loss:.5g})")
    return 0
