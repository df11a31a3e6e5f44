"""The CLI's [pretrain] and [ensemble] sections: greedy pretraining before ``fit``, and bagging instead of it."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError

PRETRAIN_CURVES = "pretrain_curves.png"
MEMBERS_FILE = "members.csv"


def check_techniques(cfg) -> None:
    """Refuse combinations the run cannot honour, naming the keys."""
    p, e = cfg.pretrain, cfg.ensemble
    if p.method != "none" and cfg.model.activation == "maxout":
        raise ConfigError("pretrain.method needs Linear hidden layers; model.activation = 'maxout' has none")
    if p.method == "rbm" and cfg.model.activation != "sigmoid":
        raise ConfigError(f"pretrain.method = 'rbm' needs model.activation = 'sigmoid', got {cfg.model.activation!r}")
    if e.method != "none" and p.method != "none":
        raise ConfigError("ensemble.method and pretrain.method cannot be combined in one run; choose one")
    if e.method != "none" and cfg.loss.name != "cross_entropy":
        raise ConfigError(f"ensemble.method = 'bagging' needs loss.name = 'cross_entropy' (the ensemble's output is "
                          f"log p̄), got {cfg.loss.name!r}")


def run_pretraining(cfg, model, X, quiet: bool):
    """Greedy layer-wise pretraining of the model's hidden layers on the (preprocessed) training rows."""
    from ..pretrain import greedy_pretrain

    p = cfg.pretrain
    if not quiet:
        print(f"nnlab: pretraining {len(cfg.model.hidden)} hidden layers ({p.method})")
    result = greedy_pretrain(model, X, method=p.method, epochs=p.epochs, batch_size=p.batch_size, lr=p.lr,
                             optimizer=p.optimizer, tied=p.tied, decoder_activation=p.decoder_activation,
                             noise_std=p.noise_std, mask_fraction=p.mask_fraction, cd_k=p.cd_k, visible=p.visible,
                             seed=cfg.seed)
    if not quiet:
        print("  final loss per layer: " + ", ".join(f"{v:.5f}" for v in result.final_losses))
    return result


def record_pretraining(result, run_dir: Path, log_name: str, log_format: str) -> None:
    """Put the pretraining rows before the supervised ones in the run's history log, and plot their curves.

    Every row gets ``phase`` ("pretrain" or "train") and ``layer`` (the hidden layer
    pretrained; empty for supervised epochs).
    """
    from ..io import atomic_write

    path = run_dir / log_name
    supervised = _read_log(path, log_format)
    rows = result.to_rows() + [{"phase": "train", "layer": "", **row} for row in supervised]
    if log_format == "jsonl":
        text = "".join(json.dumps({k: (None if v == "" else v) for k, v in row.items()}) + "\n" for row in rows)
    else:
        columns = ["phase", "layer", "epoch"] + [k for k in (supervised[0] if supervised else {}) if k != "epoch"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    atomic_write(os.fspath(path), text)
    _plot_pretraining(result, os.fspath(run_dir / PRETRAIN_CURVES))


def _read_log(path: Path, log_format: str) -> list[dict]:
    with open(path, newline="") as f:
        if log_format == "jsonl":
            return [json.loads(line) for line in f if line.strip()]
        return list(csv.DictReader(f))


def _plot_pretraining(result, path: str) -> None:
    from matplotlib.figure import Figure

    from .plots import save_figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for k, history in enumerate(result.histories, start=1):
        ax.plot(history.epoch, history["loss"], marker="o", markersize=3, label=f"layer {k}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction error" if result.method == "autoencoder" else "CD reconstruction error")
    ax.set_yscale("log")
    ax.set_title(f"greedy pretraining ({result.method})")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def _member_model(cfg, num_classes):
    """make_model for Bagging: the [model] section's MLP on the member's features (weights from the member's seed)."""
    from .build import build_model

    def make(member):
        return build_model(cfg, member.num_features, num_classes)

    return make


def train_ensemble(cfg, splits, run_dir: Path, metadata: dict, quiet: bool, scheduler=None):
    """Bagging over the training split; writes members.csv, adds the OOB estimate to ``metadata``.

    Returns the fitted Bagging, members.csv's (header, rows) and the members' mean training curves.
    """
    from ..ensemble import Bagging
    from ..io import atomic_write

    e, o = cfg.ensemble, cfg.optimizer
    X, y = splits.prepared(splits.train)
    if not quiet:
        print(f"nnlab: bagging {e.n_models} models ({e.voting} voting, n_jobs = {e.n_jobs})")
    bag = Bagging(_member_model(cfg, splits.num_classes), n_models=e.n_models, sample_fraction=e.sample_fraction,
                  replace=e.replace, voting=e.voting, feature_fraction=e.feature_fraction, epochs=cfg.train.epochs,
                  batch_size=cfg.train.batch_size, lr=o.lr, optimizer=o.name, n_jobs=e.n_jobs, seed=cfg.seed,
                  scheduler=scheduler)
    bag.fit(np.asarray(X), np.asarray(y))
    X_test, y_test = splits.prepared(splits.test)
    scores = bag.member_scores(X_test, y_test)
    # Without a test split the run is scored on the training split, and so is each member: the column says which.
    which = "training" if splits.test_is_train else "test"
    header = ["member", "seed", "features", "final_loss", "final_accuracy", f"{which}_accuracy"]
    rows = [[str(member.index), str(member.seed), str(member.num_features), f"{history['loss'][-1]:.6g}",
             f"{history['accuracy'][-1]:.6g}", f"{score:.6g}"]
            for (member, _, _), history, score in zip(bag.plan(*np.asarray(X).shape), bag.histories, scores)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write(os.fspath(run_dir / MEMBERS_FILE), buffer.getvalue())
    metadata["ensemble"] = {"method": "bagging", "n_models": e.n_models, "voting": e.voting,
                            "oob_score": bag.oob_score, "oob_coverage": bag.oob_coverage}
    if not quiet:
        print(f"  out-of-bag accuracy: {bag.oob_score:.4f} (rows covered: {bag.oob_coverage:.3f}); "
              f"mean member {which} accuracy: {float(np.mean(scores)):.4f}")
    return bag, (header, rows), _mean_history(bag.histories)


def _mean_history(histories):
    """The members' training curves averaged epoch by epoch (for the run's curves.png)."""
    from ..train import History

    mean = History()
    for i, epoch in enumerate(histories[0].epoch):
        mean.append(epoch, {k: float(np.mean([h[k][i] for h in histories])) for k in ("loss", "accuracy")})
    return mean
