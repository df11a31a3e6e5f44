"""What ``nnlab train`` adds to a run folder: per-layer diagnostics, the pictures, and a self-contained report.html.

``diagnostics_callback`` checks the initial loss (the notes' "check the loss") and
returns the :class:`~nnlab.diagnostics.LayerStatistics` callback; after training
``write_run_report`` draws the training curves, the diagnostics over epochs, the
gradient norms, the confusion matrix, the decision surface (2-D inputs) and the
first layer's weights as images (image inputs), writes each as a PNG and all of
them, with the config and a model summary (parameters and FLOPs), into report.html.
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


def write_run_report(run_dir: Path, cfg, model, history, splits, test_logs, train_data) -> list[str]:
    """Write the pictures and report.html into ``run_dir``; return the file names written."""
    from .. import diagnostics as dg
    from ..reports import render, write

    X, y = train_data
    drawn = [("curves", "training curves", dg.training_curves(history)),
             ("diagnostics", "per-layer diagnostics over epochs", dg.diagnostics_over_epochs(history)),
             ("gradient_norms", "gradient norm of each weight matrix", dg.gradient_norms(history)),
             ("confusion_matrix", "confusion matrix on the test split", dg.confusion_matrix_image(
                 test_logs["confusion_matrix"]))]
    if splits.num_features == 2:
        drawn.append(("decision_surface", "decision surface on the training data",
                      dg.decision_surface(model, X, y)))
    shape = _image_shape(cfg, splits.num_features)
    first = _first_affine(model)
    if shape is not None and first is not None:
        drawn.append(("weights", "first-layer weights as images", dg.weight_images(first.weight.data, shape)))
    pngs = {}
    for name, title, fig in drawn:
        pngs[name] = (title, dg.figure_png(fig))
        if name != "curves":  # curves.png is written by the train command itself
            atomic_write(run_dir / f"{name}.png", pngs[name][1])

    which = "training" if splits.test_is_train else "test"
    results = [(f"{which} loss", f"{test_logs['loss']:.4f}"), (f"{which} accuracy", f"{test_logs['accuracy']:.4f}"),
               ("epochs run", str(history.epochs_run)), ("training samples", str(len(X)))]
    if history.stop_reason:
        results.append(("stopped early", history.stop_reason))

    def section(id_, title, names, text=""):
        return {"id": id_, "title": title, "text": text, "figures": [pngs[n] for n in names if n in pngs]}

    sections = [section("curves", "Training curves", ["curves"]),
                section("diagnostics", "Diagnostics", ["diagnostics", "gradient_norms"],
                        "Dead and saturated units and activation spread on a fixed probe batch, and the gradient "
                        "norm and update-to-weight ratio of each weight, once per epoch."),
                section("confusion", "Confusion matrix", ["confusion_matrix"]),
                section("pictures", "Decision surface and weights", ["decision_surface", "weights"])]
    sections = [s for s in sections if s["figures"]]
    was_training = model.training  # the cost of a prediction, as `nnlab info` counts it (Dropout, BatchNorm in eval)
    model.eval()
    try:
        flops, layers = model.flops((1, splits.num_features)), _layer_rows(model, splits.num_features)
    finally:
        model.train(was_training)
    html = render("run.html.j2", name=cfg.name, summary=f"{model.num_parameters():,} parameters, "
                  f"{splits.num_features} features, {splits.num_classes} classes.", results=results,
                  sections=sections, parameters=f"{model.num_parameters():,}",
                  flops=f"{flops:,}", layers=layers,
                  model_text=repr(model), config=json.dumps(cfg.model_dump(mode="json"), indent=2))
    write(run_dir / "report.html", html)
    return [f"{n}.png" for n in pngs if n != "curves"] + ["report.html"]
