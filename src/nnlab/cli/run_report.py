"""What ``nnlab train`` adds to a run folder: per-layer diagnostics, the pictures, and a self-contained report.html.

``diagnostics_callback`` checks the initial loss (the notes' "check the loss") and
returns the :class:`~nnlab.diagnostics.LayerStatistics` callback; after training
``write_run_report`` draws the training curves, the diagnostics over epochs, the
gradient norms, the confusion matrix, the decision surface (2-D inputs) and the
first layer's weights as images (image inputs), writes each as a PNG and all of
them, with the config and a model summary (parameters and FLOPs), into report.html.
A bagging run gets the same page from ``write_ensemble_report`` (the members'
curves and accuracies instead of the diagnostics, which members do not record),
a multi-task run from ``write_tasks_report`` (each task's curves, results and
confusion matrix).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import nn
from ..io import atomic_write
from .build import _IMAGE_SHAPES

PROBE_ROWS = 256


def diagnostics_callback(cfg, model, train_data, num_classes: int):
    """The LayerStatistics callback on the first training rows; warns on stderr when the initial loss is off."""
    from ..diagnostics import LayerStatistics, check_initial_loss

    X, y = train_data
    if cfg.loss.name == "cross_entropy":
        check = check_initial_loss(model, X[:PROBE_ROWS], y[:PROBE_ROWS], num_classes, warn=False)
        if not check.ok:
            print(f"nnlab: warning: {check.message()}", file=sys.stderr)
    return LayerStatistics(X[:PROBE_ROWS])


def _image_shape(cfg, num_features: int):
    shape = cfg.data.image_shape or _IMAGE_SHAPES.get(cfg.data.source)
    return tuple(shape) if shape and int(np.prod(shape)) == num_features else None


def _first_affine(model):
    """The layer that sees the raw inputs, when it is affine (None behind a convolution, whose filters are no images)."""
    first = next((m for m in model.modules() if isinstance(m, nn.Linear | nn.Maxout | nn.Conv1d | nn.Conv2d)), None)
    return first if isinstance(first, nn.Linear | nn.Maxout) else None


def _layer_rows(model, num_features: int) -> list[dict]:
    counts: dict = {}
    for name, p in model.named_parameters():
        layer = name.rsplit(".", 1)[0] if "." in name else ""
        counts[layer] = counts.get(layer, 0) + p.data.size
    rows = model.flops_by_layer((1, num_features))
    return [{**row, "parameters": counts.get(row["name"], 0)} for row in rows]


def _section(pngs: dict, id_: str, title: str, names, text: str = "", table: dict | None = None) -> dict:
    """A section of report.html: its figures (those of ``names`` drawn) and an optional {columns, rows} table."""
    return {"id": id_, "title": title, "text": text, "figures": [pngs[n] for n in names if n in pngs], "table": table}


def _pictures(run_dir: Path, drawn) -> dict:
    """{name: (title, PNG bytes)} of the drawn figures, each also written as ``<name>.png`` (atomically).

    Each figure is drawn once: the file and the picture in report.html are the same bytes.
    """
    from .. import diagnostics as dg

    pngs = {}
    for name, title, fig in drawn:
        pngs[name] = (title, dg.figure_png(fig))
        atomic_write(run_dir / f"{name}.png", pngs[name][1])
    return pngs


def _write_page(run_dir: Path, cfg, model, num_features: int, summary: str, results, sections) -> None:
    """report.html: the results, the sections that have something to show, the model's layers and the config."""
    from ..reports import render, write

    was_training = model.training  # the cost of a prediction, as `nnlab info` counts it (Dropout, BatchNorm in eval)
    model.eval()
    try:
        flops, layers = model.flops((1, num_features)), _layer_rows(model, num_features)
    finally:
        model.train(was_training)
    html = render("run.html.j2", name=cfg.name, summary=summary, results=results,
                  sections=[s for s in sections if s["figures"] or s["table"]],
                  parameters=f"{model.num_parameters():,}", flops=f"{flops:,}", layers=layers,
                  model_text=repr(model), config=json.dumps(cfg.model_dump(mode="json"), indent=2))
    write(run_dir / "report.html", html)


def _written(pngs: dict) -> list[str]:
    return [f"{n}.png" for n in pngs] + ["report.html"]


def _weights_picture(cfg, model, num_features: int) -> list:
    """The first layer's weights as images, when the inputs are images and that layer is affine."""
    from .. import diagnostics as dg

    shape = _image_shape(cfg, num_features)
    first = _first_affine(model)
    if shape is None or first is None:
        return []
    return [("weights", "first-layer weights as images", dg.weight_images(first.weight.data, shape))]


def _scores(which: str, test_logs: dict) -> list:
    return [(f"{which} loss", f"{test_logs['loss']:.4f}"), (f"{which} accuracy", f"{test_logs['accuracy']:.4f}")]


def _tail(history, n_train: int) -> list:
    rows = [("epochs run", str(history.epochs_run)), ("training samples", str(n_train))]
    return rows + ([("stopped early", history.stop_reason)] if history.stop_reason else [])


def write_run_report(run_dir: Path, cfg, model, history, splits, test_logs, train_data) -> list[str]:
    """Write the pictures and report.html into ``run_dir``; return the file names written."""
    from .. import diagnostics as dg

    X, y = train_data
    drawn = [("curves", "training curves", dg.training_curves(history)),
             ("diagnostics", "per-layer diagnostics over epochs", dg.diagnostics_over_epochs(history)),
             ("gradient_norms", "gradient norm of each weight matrix", dg.gradient_norms(history)),
             ("confusion_matrix", "confusion matrix on the test split", dg.confusion_matrix_image(
                 test_logs["confusion_matrix"]))]
    if splits.num_features == 2:
        drawn.append(("decision_surface", "decision surface on the training data",
                      dg.decision_surface(model, X, y)))
    pngs = _pictures(run_dir, drawn + _weights_picture(cfg, model, splits.num_features))

    which = "training" if splits.test_is_train else "test"
    results = _scores(which, test_logs)
    sections = [_section(pngs, "curves", "Training curves", ["curves"]),
                _section(pngs, "diagnostics", "Diagnostics", ["diagnostics", "gradient_norms"],
                         "Dead and saturated units and activation spread on a fixed probe batch, and the gradient "
                         "norm and update-to-weight ratio of each weight, once per epoch."),
                _section(pngs, "confusion", "Confusion matrix", ["confusion_matrix"]),
                _section(pngs, "pictures", "Decision surface and weights", ["decision_surface", "weights"])]
    _write_page(run_dir, cfg, model, splits.num_features, f"{model.num_parameters():,} parameters, "
                f"{splits.num_features} features, {splits.num_classes} classes.",
                results + _tail(history, len(X)), sections)
    return _written(pngs)


def write_ensemble_report(run_dir: Path, cfg, bag, members, splits, test_logs, train_data) -> list[str]:
    """report.html of a bagging run: the ensemble's results, each member's curves and accuracy, the members' table.

    ``bag`` is the fitted Bagging, ``members`` the (header, rows) of members.csv.
    """
    from .. import diagnostics as dg

    X, y = train_data
    header, rows = members
    which = "training" if splits.test_is_train else "test"
    scores = [float(row[header.index(f"{which}_accuracy")]) for row in rows]
    drawn = [("member_curves", "training curves of each member", dg.member_curves(bag.histories)),
             ("member_accuracy", f"each member's {which} accuracy and the ensemble's",
              dg.member_scores(scores, test_logs["accuracy"], which)),
             ("confusion_matrix", f"confusion matrix of the ensemble on the {which} split",
              dg.confusion_matrix_image(test_logs["confusion_matrix"]))]
    if splits.num_features == 2:
        drawn.append(("decision_surface", "decision surface of the ensemble on the training data",
                      dg.decision_surface(bag.model, X, y)))
    pngs = _pictures(run_dir, drawn)
    e = cfg.ensemble
    results = _scores(which, test_logs) + [
        ("members", str(len(bag.histories))), ("voting", e.voting),
        (f"mean member {which} accuracy", f"{np.mean(scores):.4f}"),
        ("out-of-bag accuracy", f"{bag.oob_score:.4f}"), ("rows out of bag", f"{bag.oob_coverage:.3f}"),
        ("epochs per member", str(cfg.train.epochs)), ("training samples", str(len(X)))]
    table = {"columns": [c.replace("_", " ") for c in header], "rows": rows}
    sections = [_section(pngs, "curves", "Training curves", ["member_curves"], "Training loss and accuracy per "
                         "epoch of each member, on its own bootstrap sample (members train without validation), "
                         "and their mean (curves.png)."),
                _section(pngs, "members", "Members", ["member_accuracy"], "Every member's seed, input features, "
                         f"final training loss and accuracy, and its own {which} accuracy (as in members.csv).",
                         table),
                _section(pngs, "confusion", "Confusion matrix", ["confusion_matrix"]),
                _section(pngs, "pictures", "Decision surface", ["decision_surface"])]
    summary = (f"Bagging: {len(bag.histories)} networks, {e.voting} voting; {bag.model.num_parameters():,} parameters "
               f"in all, {splits.num_features} features, {splits.num_classes} classes.")
    _write_page(run_dir, cfg, bag.model, splits.num_features, summary, results, sections)
    return _written(pngs)


def write_tasks_report(run_dir: Path, cfg, model, history, train, test, test_logs, classes: dict,
                       test_is_train: bool) -> list[str]:
    """report.html (and curves.png) of a multi-task run: each task's curves, results and confusion matrix."""
    from .. import diagnostics as dg
    from ..train import confusion_matrix, predict

    which = "training" if test_is_train else "test"
    tasks = list(cfg.tasks)
    outputs = predict(model, test[0])
    matrices = {task: confusion_matrix(test[1][task], outputs[task].argmax(axis=1), len(classes[task]))
                for task in tasks if classes[task] is not None}
    num_features = train[0].shape[1]
    drawn = [("curves", "training curves of each task", dg.training_curves(history, tasks))]
    if matrices:
        drawn.append(("confusion_matrix", f"confusion matrix of each classification task on the {which} split",
                      dg.confusion_matrices(matrices)))
    pngs = _pictures(run_dir, drawn + _weights_picture(cfg, model, num_features))

    def value(key):
        return f"{test_logs[key]:.4f}" if key in test_logs else "–"

    results = [(f"{which} loss (weighted sum over the tasks)", value("loss"))]
    for task in tasks:
        results += [(f"{which} {task} loss", value(f"loss_{task}"))]
        results += [(f"{which} {task} accuracy", value(f"accuracy_{task}"))] if classes[task] is not None else []
    rows = [[task, t.target, t.loss, f"{t.weight:g}", "regression" if classes[task] is None else len(classes[task]),
             value(f"loss_{task}"), value(f"accuracy_{task}")] for task, t in cfg.tasks.items()]
    table = {"columns": ["task", "target", "loss", "weight", "classes", f"{which} loss", f"{which} accuracy"],
             "rows": rows}
    sections = [_section(pngs, "curves", "Training curves", ["curves"], "Each task's unweighted loss and accuracy "
                         "per epoch, and the weighted sum the network was trained on."),
                _section(pngs, "tasks", "Tasks", ["confusion_matrix"],
                         "One head per task on the shared hidden layers; the loss is Σ weight · task loss.", table),
                _section(pngs, "pictures", "Weights", ["weights"])]
    summary = (f"Multi-task: {len(tasks)} tasks ({', '.join(tasks)}) on shared hidden layers; "
               f"{model.num_parameters():,} parameters, {num_features} features.")
    _write_page(run_dir, cfg, model, num_features, summary, results + _tail(history, len(train[0])), sections)
    return _written(pngs)
