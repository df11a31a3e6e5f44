"""The ``nnlab`` sub-commands: train, evaluate, predict, info, lr-search."""

from __future__ import annotations

import csv
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from .. import io as model_io
from .. import nn
from .. import seed as set_seed
from ..data import read_csv, read_npz
from ..errors import ConfigError, DataError, ModelFileError
from ..nn.shapes import input_features
from ..train import Checkpoint, DivergenceGuard, MetricsLogger, TensorBoard, TrainingState, evaluate, fit, predict
from .build import build_loss, build_model, build_optimizer, prepare_data, training_data
from .callbacks import build_regularization_scheduler, training_callbacks
from .class_weights import fit_class_weight
from . import resume as resuming
from . import techniques
from .config import LossConfig, RunConfig, load_config, parse_config
from .inputs import read_rows, output_path
from .runs import CONFIG_FILE, MODEL_FILE, check_one_run, run_folder


def run(args) -> int:
    return {
        "train": train,
        "resume": train,
        "evaluate": evaluate_command,
        "predict": predict_command,
        "info": info,
        "lr-search": _lr_search,
    }[args.command](args)


def _lr_search(args) -> int:
    from .lr_search import lr_search_command

    return lr_search_command(args)


def config_with_overrides(args) -> RunConfig:
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
    from ..distributed import cli as ranks

    distributed = ranks.start(args)  # under mpiexec: one rank of a data-parallel run; only rank 0 writes and prints
    resume = args.command == "resume" or getattr(args, "resume", False)
    if args.command == "resume":
        cfg = parse_config(resuming.run_config_of(args.run), source=f"config.json of {args.run!r}")
    else:
        cfg = config_with_overrides(args)
    if distributed and cfg.train.class_weight is not None:
        raise ConfigError("train.class_weight is not supported under mpiexec (fit weighs samples in one process "
                          "only): train in one process, or remove train.class_weight")
    if distributed and cfg.ensemble.method != "none":
        raise ConfigError("[ensemble] trains independent members: run it with --scheduler (Dask), not under mpiexec")
    if resume and getattr(args, "overwrite", False):
        raise ConfigError("--resume continues a run and --overwrite replaces it; pass one of them")
    if resume and cfg.ensemble.method != "none":
        raise ConfigError("--resume is not available for [ensemble] runs (each member trains in its own process); "
                          "train again with --overwrite")
    techniques.check_techniques(cfg)
    set_seed(cfg.seed)
    if cfg.tasks:  # multi-task: a MultiHead on the [model] MLP's hidden layers
        from .multitask import train_tasks

        if resume or distributed:
            raise ConfigError("[tasks] runs cannot be resumed or run under mpiexec yet; train them in one process")

        return train_tasks(cfg, args)
    splits = prepare_data(cfg)
    model = build_model(cfg, splits.num_features, splits.num_classes, rows=len(splits.train[1]))
    reg_scheduler = build_regularization_scheduler(cfg)
    loss = build_loss(cfg, splits.num_classes, model, reg_scheduler)
    plain_loss = build_loss(cfg, splits.num_classes)
    class_weight = fit_class_weight(cfg, splits)  # checked against the data before a run folder exists
    resume_from = ranks.on_root(resuming.resume_point, Path(cfg.runs_dir) / cfg.name, cfg) if resume else None
    run_dir = ranks.on_root(run_folder, cfg.runs_dir, cfg.name, overwrite=getattr(args, "overwrite", False),
                            resume=resume)
    metadata = {"config": cfg.model_dump(mode="json")}
    # config.json first: a run killed midway is still recognizable as this run.
    ranks.on_root(model_io.atomic_write, run_dir / CONFIG_FILE, json.dumps(metadata["config"], indent=2) + "\n")
    quiet = args.quiet or not ranks.is_root()
    model.preprocessing = splits.preprocessing
    model.classes = splits.classes
    if cfg.ensemble.method != "none":
        return _train_ensemble(cfg, splits, run_dir, metadata, plain_loss, args.quiet, getattr(args, "scheduler", None))
    state = TrainingState(run_dir / resuming.STATE_FILE)
    try:
        return _train_run(cfg, splits, model, loss, plain_loss, run_dir, metadata, state, resume_from, distributed,
                          quiet, reg_scheduler, class_weight)
    except KeyboardInterrupt:  # Ctrl-C: the last complete epoch's state stays, and the message says how to go on
        return resuming.interrupted(run_dir, cfg.train.checkpoint)


def _train_run(cfg, splits, model, loss, plain_loss, run_dir, metadata, state, resume_from, distributed, quiet,
               reg_scheduler=None, class_weight=None) -> int:
    """Train the single network of ``cfg`` (continuing from ``resume_from``), then write the model and report."""
    from ..distributed import cli as ranks, revert_sync_batchnorm

    pretrained = None
    if cfg.pretrain.method != "none":
        pretrained = techniques.run_pretraining(cfg, model, splits.prepared(splits.train)[0], quiet)
    optimizer = build_optimizer(cfg, model)

    train_data, augment = training_data(cfg, splits)
    val_data = splits.prepared(splits.val) if splits.val else None
    guard = DivergenceGuard(restore_on_nonfinite=True)
    from .run_report import diagnostics_callback, write_run_report

    # The guard first: it puts back the last good epoch's weights before a Checkpoint writes them.
    # with jitter train_data stays raw (its preprocessing runs per batch): the probes need what the model sees
    shown = splits.prepared(splits.train) if augment and train_data[0] is splits.train[0] else train_data
    callbacks = [guard, diagnostics_callback(cfg, model, shown, splits.num_classes)]
    training, nan_guard = training_callbacks(cfg, len(train_data[0]), val_data is not None, reg_scheduler)
    callbacks += training
    if cfg.train.checkpoint != "none":
        monitor = "val_loss" if val_data is not None else "loss"
        best = cfg.train.checkpoint == "best"
        callbacks.append(
            Checkpoint(run_dir / "checkpoint.safetensors", monitor=monitor, save_best_only=best,
                       save_last=not best, preprocessing=splits.preprocessing, metadata=metadata)
        )
    log_name = "history.csv" if cfg.train.log_format == "csv" else "history.jsonl"
    callbacks.append(MetricsLogger(run_dir / log_name, format=cfg.train.log_format))
    if cfg.train.tensorboard:  # after the diagnostics callback, so its statistics are in the logs it writes
        callbacks.append(TensorBoard(run_dir / "tensorboard"))
    callbacks.append(state)  # last: it saves every other callback's state after its epoch end

    if not quiet:
        print(f"nnlab: training {cfg.name}: {len(train_data[0])} training samples, "
              f"{splits.num_features} features, {splits.num_classes} classes, {model.num_parameters():,} parameters")
        if resume_from is not None:
            print(f"nnlab: resuming {cfg.name} from {resume_from}")
    # Divergence is reported once, by TerminateOnNaN, rather than as NumPy overflow warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = fit(model, loss, optimizer, train_data, val_data, epochs=cfg.train.epochs,
                      batch_size=cfg.train.batch_size, callbacks=callbacks, seed=cfg.seed,
                      augment=augment, verbose=0 if quiet else 1, divergence=None, resume_from=resume_from,
                      distributed=distributed, class_weight=class_weight)
        revert_sync_batchnorm(model)  # train.sync_batchnorm is a way of training: the model file names BatchNorm
        if not ranks.is_root():  # the other ranks' work ends with the training
            return 1 if nan_guard.stop_training or guard.stop_training else 0
        test_logs = evaluate(model, plain_loss, splits.prepared(splits.test), confusion=True)
    model_io.save(model, run_dir / MODEL_FILE, preprocessing=splits.preprocessing, metadata=metadata)
    if pretrained is not None:
        techniques.record_pretraining(pretrained, run_dir, log_name, cfg.train.log_format)
    pictures = write_run_report(run_dir, cfg, model, history, splits, test_logs, shown)  # curves.png among them

    which = "training" if splits.test_is_train else "test"
    diverged = nan_guard.stop_training or guard.stop_training
    if history.stop_reason and not diverged:  # a divergence is the error message below
        print(f"nnlab: stopped early: {history.stop_reason}")
    print(f"{which} loss: {test_logs['loss']:.4f}")
    print(f"{which} accuracy: {test_logs['accuracy']:.4f} ({len(splits.test[0])} samples)")
    if pretrained is not None:
        pictures = [techniques.PRETRAIN_CURVES, *pictures]
    print(f"run written to {run_dir}/ ({MODEL_FILE}, {log_name}, config.json, {', '.join(pictures)})")
    (run_dir / resuming.STATE_FILE).unlink(missing_ok=True)  # the run is complete: nothing left to resume
    if diverged:
        print(f"nnlab: error: {resuming.divergence_message(nan_guard, guard, cfg)}", file=sys.stderr)
        return 1
    return 0


def _train_ensemble(cfg, splits, run_dir: Path, metadata: dict, plain_loss, quiet: bool, scheduler=None) -> int:
    """[ensemble] method = "bagging": the members replace the single network; one model file holds them all."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bag, members, curves = techniques.train_ensemble(cfg, splits, run_dir, metadata, quiet, scheduler)
        model = bag.model
        test_logs = evaluate(model, plain_loss, splits.prepared(splits.test), confusion=True)
    model.classes = splits.classes
    model_io.save(model, run_dir / MODEL_FILE, preprocessing=splits.preprocessing, metadata=metadata)
    from .plots import plot_history
    from .run_report import write_ensemble_report

    plot_history(curves, str(run_dir / "curves.png"))  # the members' mean training curves
    pictures = write_ensemble_report(run_dir, cfg, bag, members, splits, test_logs, splits.prepared(splits.train))
    which = "training" if splits.test_is_train else "test"
    print(f"{which} loss: {test_logs['loss']:.4f}")
    print(f"{which} accuracy: {test_logs['accuracy']:.4f} ({len(splits.test[0])} samples)")
    print(f"run written to {run_dir}/ ({MODEL_FILE}, {techniques.MEMBERS_FILE}, config.json, curves.png, "
          f"{', '.join(pictures)})")
    return 0


def _model_path(target: str) -> Path:
    path = Path(target)
    if path.is_dir():
        check_one_run(path)
        path = path / MODEL_FILE
        if not path.exists():
            raise ModelFileError(f"{target!r} is a folder without {MODEL_FILE}; is it an nnlab run folder?")
    return path


def _run_config(model) -> RunConfig | None:
    """The stored run config, validated as strictly as a config file."""
    raw = (getattr(model, "metadata", None) or {}).get("config")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ModelFileError("the config stored in the model file is not a table of settings")
    return parse_config(raw, source="config stored in the model file")


def _labels(model, y, class_names, where: str) -> np.ndarray:
    """File labels as the model's output indices, through the class list stored in the model file."""
    classes = getattr(model, "classes", None)
    if classes is None:
        return y
    if class_names is not None:
        values = [class_names[int(i)] for i in y]
    else:
        from ..data import check_labels

        values = check_labels(y, name=f"labels of {where}").tolist()
    index = {c: i for i, c in enumerate(classes)}
    unknown = [v for v in values if v not in index]
    if unknown:
        shown = ", ".join(map(repr, classes[:10])) + (", ..." if len(classes) > 10 else "")
        raise DataError(f"{where}: label {unknown[0]!r} is not one of the model's classes ({shown})")
    return np.array([index[v] for v in values], dtype=np.int64)


def _text_categories(model):
    """The feature columns the model's OneHotEncoder encodes from text (read them as text), or None."""
    pre = getattr(model, "preprocessing", None)
    for step in getattr(pre, "steps", [pre]):
        categories = getattr(step, "categories", None)
        if categories and not step.labels_mode and categories[0].dtype.kind == "U":
            return list(step.encoded)
    return None


def _features(model, X) -> np.ndarray:
    """Raw rows as model inputs: the saved preprocessing checks the raw width itself."""
    pre = getattr(model, "preprocessing", None)
    if pre is not None:
        return pre.transform(X)
    expected = input_features(model)
    if expected is not None and X.shape[1] != expected:
        raise DataError(f"the model expects {expected} features per row, the data has {X.shape[1]}")
    return X


def evaluate_command(args) -> int:
    model = model_io.load_model(_model_path(args.model))
    stored = _run_config(model)
    cfg = stored or RunConfig()
    if isinstance(model, nn.MultiHead):
        if not args.data:
            raise ConfigError("a multi-task model is evaluated on a CSV file holding its tasks' target columns: "
                              "pass --data FILE")
        from .multitask import evaluate_file

        return evaluate_file(model, args.data, cfg)
    if args.data:
        names = None
        if args.data.endswith(".npz"):
            X, y = read_npz(args.data)
        else:
            read_rows(args.data)  # a header line, no blank lines
            X, y, info = read_csv(args.data, target=args.target or cfg.data.target or "label", with_names=True,
                                  categorical=_text_categories(model))
            names = info["class_names"]
        where = args.data
        if y is None:
            raise DataError(f"{where} has no labels to evaluate against")
        y = _labels(model, y, names, where)
    else:
        if stored is None:
            raise ConfigError("this model file stores no run config: pass --data FILE to evaluate it")
        if cfg.data.path is not None:  # never read a file the user did not name in this command
            raise ConfigError(f"this run was trained on the file {cfg.data.path!r}; pass --data FILE "
                              "to evaluate on it (or on another file)")
        splits = prepare_data(cfg)
        if getattr(model, "classes", None) is not None and splits.classes != model.classes:
            raise ModelFileError("the run's data gives other classes than the model file stores")
        X, y = splits.test
        where = "the run's training data" if splits.test_is_train else "the run's test split"
    features = _features(model, X)  # every row checked, so a message counts the bad rows of the whole file
    num_classes = int(predict(model, features[:1]).shape[1])
    logs = evaluate(model, build_loss(cfg, num_classes), (features, y), confusion=True)
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
    source = _model_path(args.model)
    model = model_io.load_model(source)
    out_path = output_path(args.input, args.output, source)
    read_rows(args.input)  # a header line, no blank lines: one prediction per input row, in order
    X, _ = read_csv(args.input, target=None, categorical=_text_categories(model))
    if len(X) == 0:
        raise DataError(f"{args.input} has no rows to predict")
    outputs = predict(model, _features(model, X))
    if isinstance(model, nn.MultiHead):  # one group of columns per task
        from .multitask import prediction_table

        model_io.atomic_write(Path(out_path), prediction_table(model, outputs))
        print(f"wrote {len(X)} predictions to {out_path}")
        return 0
    probs = _probabilities(model, outputs)
    labels = outputs.argmax(axis=1)
    classes = getattr(model, "classes", None) or list(range(probs.shape[1]))
    if len(classes) != probs.shape[1]:
        raise ModelFileError(f"the model file names {len(classes)} classes but the model has {probs.shape[1]} outputs")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["prediction"] + [f"p_{c}" for c in classes])
    for label, row in zip(labels, probs):
        writer.writerow([classes[label]] + [f"{p:.6f}" for p in row])
    model_io.atomic_write(Path(out_path), buffer.getvalue())
    print(f"wrote {len(labels)} predictions to {out_path}")
    return 0


def _probabilities(model, outputs: np.ndarray) -> np.ndarray:
    """The p_ columns: each class's own sigmoid for a model trained with bce_with_logits or
    multilabel_soft_margin (how PyTorch's losses read their logits), the softmax over the outputs otherwise
    (for multi_margin, whose outputs are scores, a ranking rather than calibrated probabilities)."""
    stored = (getattr(model, "metadata", None) or {}).get("config")
    loss = stored.get("loss") if isinstance(stored, dict) else None
    if isinstance(loss, dict) and loss.get("name") in LossConfig.PER_CLASS_SIGMOID:
        return 0.5 * (1.0 + np.tanh(0.5 * outputs))  # the logistic function, without exp's overflow
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return probs / probs.sum(axis=1, keepdims=True)


def info(args) -> int:
    path = _model_path(args.model)
    model = model_io.load_model(path)
    meta = model_io.read_metadata(path)
    features = input_features(model)
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
