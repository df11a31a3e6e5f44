"""The CLI's [tasks] table: one head per task on the shared hidden layers of the [model] MLP.

A run with ``[tasks.<name>]`` sections trains an ``nn.MultiHead`` (trunk: the
MLP's hidden layers; head: a Linear per task) on several targets: CSV columns
(``tasks.<name>.target`` names one) or, for the bundled data sets, the label and
its parity.  The loss is Σ w·L_task (``weight``), the history has ``loss_<task>``
and ``accuracy_<task>``, and the model file keeps each task's classes so that
``nnlab evaluate`` and ``predict`` report and write per task.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import warnings
from typing import NamedTuple

import numpy as np

from .. import losses, nn
from ..errors import ConfigError, DataError, ModelFileError

TASKS_KEY = "tasks"  # model-file metadata: {task: {"target", "loss", "classes"}}


def check_config(cfg) -> None:
    """The [tasks] rules of a valid config (ValueError, which the config validation reports with the others)."""
    d = cfg.data
    if d.target:
        raise ValueError("with [tasks], each task names its target column (tasks.<name>.target); remove data.target")
    if d.source != "csv":
        bad = {n: t.target for n, t in cfg.tasks.items() if t.target not in ("label", "parity")}
        if bad:
            raise ValueError(f"tasks with data.source = {d.source!r} take target = 'label' or 'parity', got {bad}")


def check(cfg) -> None:
    """Refuse what a multi-task run cannot combine, naming the keys."""
    for section, value in (("pretrain.method", cfg.pretrain.method), ("ensemble.method", cfg.ensemble.method)):
        if value != "none":
            raise ConfigError(f"[tasks] cannot be combined with {section} = {value!r}")
    if cfg.model.layers is not None:
        raise ConfigError("[tasks] builds its heads on the MLP of [model]; model.layers is not supported with it")
    for key in ("augment_noise_std", "augment_jitter"):
        if getattr(cfg.data, key):
            raise ConfigError(f"[tasks] runs do not augment their data yet: remove data.{key}")
    if cfg.data.source in ("mnist", "mnist1d", "npz"):
        raise ConfigError(f"[tasks] reads its targets from a CSV file or a bundled data set, not data.source = "
                          f"{cfg.data.source!r}")


def load_tasks(cfg):
    """(X, {task: y}, {task: classes or None}, categorical feature indices) of the configured source."""
    from ..data import read_csv
    from .build import label_classes, load_raw

    d = cfg.data
    if d.source == "csv":
        columns = [t.target for t in cfg.tasks.values()]
        X, ys, info = read_csv(d.path, target=columns, with_names=True, categorical=d.categorical_columns or None)
        raw = {name: (ys[t.target], info["class_names"][t.target]) for name, t in cfg.tasks.items()}
        categorical = [info["feature_names"].index(c) if isinstance(c, str) else c for c in d.categorical_columns]
    else:
        X, y = load_raw(cfg)
        raw = {name: (y if t.target == "label" else y % 2, None) for name, t in cfg.tasks.items()}
        categorical = list(d.categorical_columns)
    targets, classes = {}, {}
    for name, task in cfg.tasks.items():
        y, names = raw[name]
        if task.loss == "cross_entropy":
            classes[name], (targets[name],) = label_classes([y], names)
        else:
            if names is not None:
                raise DataError(f"tasks.{name}: loss = 'mse' needs a numeric target column, "
                                f"{task.target!r} holds text ({names[0]!r}, ...)")
            classes[name], targets[name] = None, np.asarray(y, dtype=np.float32).reshape(-1, 1)
    return X, targets, classes, categorical


def split(cfg, X, targets: dict):
    """(train, val or None, test, test_is_train): (X, {task: y}) parts split by rows, as single-task runs split.

    Stratified by the first classification task; val_size is a fraction of the whole data set.
    """
    from ..data import train_test_split

    d = cfg.data
    strata = next((y for y in targets.values() if y.ndim == 1), None)

    def cut(rows, size, seed):
        parts = train_test_split(rows, None if strata is None else strata[rows], test_size=size, seed=seed)
        return parts[0], parts[1]

    def take(rows):
        return X[rows], {task: y[rows] for task, y in targets.items()}

    rows, test_rows, val_rows = np.arange(len(X)), None, None
    if d.test_size > 0:
        rows, test_rows = cut(rows, d.test_size, cfg.seed)
    if d.val_size > 0:
        fraction = d.val_size if test_rows is None else d.val_size / (1 - d.test_size)
        rows, val_rows = cut(rows, min(fraction, 0.9), cfg.seed + 1)
    test = take(rows if test_rows is None else test_rows)
    return take(rows), (None if val_rows is None else take(val_rows)), test, test_rows is None


def build_multihead(cfg, num_features: int, classes: dict) -> nn.Module:
    """The [model] MLP's hidden layers as the trunk, one Linear head per task (its classes, or 1 output)."""
    from .build import build_model

    if not cfg.model.hidden:
        raise ConfigError("[tasks] needs at least one hidden layer in model.hidden (the shared trunk)")
    mlp = build_model(cfg, num_features, 2)
    trunk = nn.Sequential(*list(mlp)[:-1])
    width = cfg.model.hidden[-1]
    heads = {task: nn.Linear(width, 1 if c is None else len(c), weight_init=_head_init(cfg, task))
             for task, c in classes.items()}
    return nn.MultiHead(trunk, heads)


def _head_init(cfg, task: str):
    """As the single-task output layer: the hidden layers' initializer for a softmax head, Xavier for regression."""
    m = cfg.model
    if cfg.tasks[task].loss != "cross_entropy":
        return "xavier_normal"
    return m.weight_init or ("xavier_normal" if m.activation in ("sigmoid", "tanh") else "he_normal")


def build_task_loss(cfg, model=None, scheduler=None):
    """The weighted sum of the tasks' losses, plus the configured weight penalties when ``model`` is given."""
    from ..train import MultiTaskLoss
    from .build import weight_penalty

    smoothing = cfg.loss.label_smoothing

    def cross_entropy(out, y):
        return losses.cross_entropy(out, y, label_smoothing=smoothing)

    fns = {task: cross_entropy if t.loss == "cross_entropy" else losses.mse_loss for task, t in cfg.tasks.items()}
    return MultiTaskLoss(fns, {task: t.weight for task, t in cfg.tasks.items()},
                         penalty=weight_penalty(cfg, model, scheduler))


class TaskSplits(NamedTuple):
    """A [tasks] run's preprocessed (X, {task: y}) parts, the preprocessing fitted on ``train``, each task's classes."""

    train: tuple
    val: tuple | None
    test: tuple
    test_is_train: bool
    preprocessing: object | None
    classes: dict  # {task: classes, or None for a regression task}

    @property
    def metrics(self) -> dict:
        """The metrics ``fit`` logs per task: accuracy for a classification task."""
        return {task: ("accuracy",) if c is not None else () for task, c in self.classes.items()}


def prepare_tasks(cfg) -> TaskSplits:
    """The data of a [tasks] run (``nnlab train``'s, and each ``nnlab tune`` trial's)."""
    from ..data import OneHotEncoder, Pipeline
    from .build import _PREPROCESSORS

    check(cfg)
    X, targets, classes, categorical = load_tasks(cfg)
    train, val, test, test_is_train = split(cfg, X, targets)
    steps = [OneHotEncoder(columns=categorical)] if categorical else []
    steps += [_PREPROCESSORS[name]() for name in cfg.data.preprocessing]
    pre = Pipeline(steps).fit(train[0]) if steps else None

    def prepared(part):
        return None if part is None else ((pre.transform(part[0]) if pre else part[0]), part[1])

    return TaskSplits(prepared(train), prepared(val), prepared(test), test_is_train, pre, classes)


def train_tasks(cfg, args) -> int:
    """``nnlab train`` for a config with [tasks]."""
    from .. import io as model_io
    from ..train import evaluate, fit
    from .build import build_optimizer
    from .callbacks import build_regularization_scheduler, run_callbacks
    from .run_report import write_tasks_report
    from .runs import CONFIG_FILE, MODEL_FILE, run_folder

    data = prepare_tasks(cfg)
    train, val, test, test_is_train, pre, classes = data
    model = build_multihead(cfg, train[0].shape[1], classes)
    scheduler = build_regularization_scheduler(cfg)
    loss = build_task_loss(cfg, model, scheduler)
    run_dir = run_folder(cfg.runs_dir, cfg.name, overwrite=getattr(args, "overwrite", False))
    metadata = {"config": cfg.model_dump(mode="json"),
                TASKS_KEY: {task: {"target": t.target, "loss": t.loss, "classes": classes[task]}
                            for task, t in cfg.tasks.items()}}
    model_io.atomic_write(run_dir / CONFIG_FILE, json.dumps(metadata["config"], indent=2) + "\n")
    callbacks, nan_guard, log_name = run_callbacks(cfg, run_dir, len(train[0]), val is not None, pre, metadata,
                                                   scheduler)
    metrics = data.metrics
    if not args.quiet:
        print(f"nnlab: training {cfg.name}: {len(train[0])} training samples, {train[0].shape[1]} features, "
              f"tasks {', '.join(cfg.tasks)}, {model.num_parameters():,} parameters")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = fit(model, loss, build_optimizer(cfg, model), train, val, epochs=cfg.train.epochs,
                      batch_size=cfg.train.batch_size, metrics=metrics, callbacks=callbacks, seed=cfg.seed,
                      verbose=0 if args.quiet else 1)
        logs = evaluate(model, build_task_loss(cfg), test, metrics=metrics)
    model.preprocessing = pre
    model_io.save(model, run_dir / MODEL_FILE, preprocessing=pre, metadata=metadata)
    pictures = write_tasks_report(run_dir, cfg, model, history, train, test, logs, classes, test_is_train)
    if history.stop_reason:
        print(f"nnlab: stopped early: {history.stop_reason}")
    print_logs(logs, "training" if test_is_train else "test", len(test[0]), cfg.tasks)
    print(f"run written to {run_dir}/ ({MODEL_FILE}, {log_name}, config.json, {', '.join(pictures)})")
    if nan_guard.stop_training:
        print(f"nnlab: error: training diverged ({nan_guard.message}); "
              f"try a lower learning rate than optimizer.lr = {cfg.optimizer.lr:g}", file=sys.stderr)
        return 1
    return 0


def print_logs(logs: dict, which: str, samples: int, tasks) -> None:
    """The weighted total, then one line per task: ``task digit: loss 0.3092, accuracy: 0.9306``."""
    print(f"{which} loss: {logs['loss']:.4f} (weighted sum over the tasks, {samples} samples)")
    for task in tasks:
        parts = [f"loss {logs[f'loss_{task}']:.4f}"]
        parts += [f"{key[:-len(task) - 1]}: {value:.4f}" for key, value in logs.items()
                  if key.endswith(f"_{task}") and not key.startswith("loss_")]
        print(f"{which} task {task}: {', '.join(parts)}")


# ------------------------------------------------------------------ evaluate / predict of a saved model
def stored_tasks(model) -> dict:
    """{task: {"target", "loss", "classes"}} from the model file, checked against the model's heads."""
    tasks = (getattr(model, "metadata", None) or {}).get(TASKS_KEY)
    if not isinstance(tasks, dict) or sorted(tasks) != sorted(model.tasks) or not all(
            isinstance(t, dict) and isinstance(t.get("target"), str) and t.get("loss") in ("cross_entropy", "mse")
            and (t.get("classes") is None or isinstance(t.get("classes"), list)) for t in tasks.values()):
        raise ModelFileError("this multi-task model file has no valid 'tasks' entry in its metadata "
                             f"(one per head: {model.tasks})")
    return tasks


def evaluate_file(model, path: str, cfg) -> int:
    """``nnlab evaluate MODEL --data FILE.csv`` for a multi-task model: the task columns are the targets."""
    from ..data import read_csv
    from ..train import evaluate
    from .commands import _features, _text_categories

    tasks = stored_tasks(model)
    columns = [t["target"] for t in tasks.values()]
    X, ys, info = read_csv(path, target=columns, with_names=True, categorical=_text_categories(model))
    targets = {}
    for name, t in tasks.items():
        y, names = ys[t["target"]], info["class_names"][t["target"]]
        if t["classes"] is None:
            targets[name] = np.asarray(y, dtype=np.float32).reshape(-1, 1)
            continue
        values = [names[int(i)] for i in y] if names is not None else [int(v) for v in y]
        index = {c: i for i, c in enumerate(t["classes"])}
        unknown = [v for v in values if v not in index]
        if unknown:
            raise DataError(f"{path}: task {name!r}: label {unknown[0]!r} is not one of its classes {t['classes'][:10]}")
        targets[name] = np.array([index[v] for v in values], dtype=np.int64)
    metrics = {name: ("accuracy",) if t["classes"] is not None else () for name, t in tasks.items()}
    logs = evaluate(model, build_task_loss(cfg), (_features(model, X), targets), metrics=metrics)
    print(f"evaluated on {path} ({len(X)} samples)")
    print_logs(logs, "evaluation", len(X), model.tasks)
    return 0


def prediction_table(model, outputs: dict) -> str:
    """CSV text: per task its prediction (a class, or the value) and, for classes, ``<task>_p_<class>``."""
    tasks = stored_tasks(model)
    header, columns = [], []
    for name in model.tasks:  # the heads' order (the stored metadata's keys are sorted)
        t, out = tasks[name], outputs[name]
        if t["classes"] is None:
            header.append(name)
            columns.append([f"{v:.6g}" for v in out.reshape(len(out), -1)[:, 0]])
            continue
        if len(t["classes"]) != out.shape[1]:
            raise ModelFileError(f"task {name!r} names {len(t['classes'])} classes but its head has {out.shape[1]} outputs")
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        header += [name] + [f"{name}_p_{c}" for c in t["classes"]]
        columns.append([str(t["classes"][i]) for i in out.argmax(axis=1)])
        columns += [[f"{p:.6f}" for p in probs[:, j]] for j in range(probs.shape[1])]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    return buffer.getvalue()

