"""``LayerStatistics``: per-layer training diagnostics recorded into ``History``, cheap enough to leave on."""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float, check_int
from ..train import Callback
from .probe import unit_outputs, unit_statistics

PREFIX = "diag/"


def stat_key(layer: str, stat: str) -> str:
    """The History key of one statistic: ``diag/<layer or parameter>/<statistic>``.

    >>> stat_key("1_relu", "dead_fraction")
    'diag/1_relu/dead_fraction'
    """
    return f"{PREFIX}{layer}/{stat}"


def diagnostic_keys(history, stat: str) -> list[str]:
    """The keys of ``history`` holding ``stat`` for some layer or parameter, in recording order."""
    return [k for k in history if k.startswith(PREFIX) and k.endswith("/" + stat)]


class LayerStatistics(Callback):
    """Record, per layer, what the notes' debugging advice looks at.

    At the end of every epoch, on the fixed ``probe`` batch (evaluation mode, no
    graph): for each hidden unit layer ``dead_fraction``, ``negative_fraction``,
    ``saturated_fraction`` (outputs within ``delta`` of a sigmoid/tanh bound),
    activation ``mean`` and ``std`` (see :func:`nnlab.diagnostics.unit_statistics`).
    For each parameter, on one training step per epoch (the last; or every
    ``every`` steps): ``grad_norm`` = ‖∇w‖₂ of that step and ``update_ratio`` =
    ‖Δw‖₂ / ‖w‖₂ of its update (the rule of thumb is around 1e-3).

    Values go into the epoch's logs under :func:`stat_key` names, so ``History``
    and the CSV log get columns such as ``diag/1_relu/dead_fraction`` and
    ``diag/0.weight/grad_norm``. With ``every`` set, every recorded step is also
    kept in ``self.steps`` (one dict per step, with its global ``step`` number).
    Cost: one probe forward pass per epoch and one copy of the weights per
    recorded step.
    """

    def __init__(self, probe, every: int | None = None, delta: float = 0.02):
        self.probe = np.asarray(probe)
        self.every = None if every is None else check_int("every", every, minimum=1, owner="LayerStatistics")
        self.delta = check_float("delta", delta, low=0.0, high=0.5, owner="LayerStatistics")
        self.steps: list[dict] = []
        self._step = 0
        self._before = None
        self._last = {}

    def on_train_begin(self, logs=None):
        self.steps = []
        self._step = 0
        self._names = [name for name, _ in self.model.named_parameters()]

    def _records(self, batch: int) -> bool:
        if self.every is not None:
            return (self._step + 1) % self.every == 0
        return batch == self.params.get("steps", 1) - 1

    def on_batch_begin(self, batch, logs=None):
        if self._records(batch):
            self._before = [p.data.copy() for p in self.model.parameters()]

    def on_batch_end(self, batch, logs=None):
        if self._before is not None:
            record = {}
            for name, p, old in zip(self._names, self.model.parameters(), self._before):
                grad = p.grad
                record[stat_key(name, "grad_norm")] = math.nan if grad is None else float(np.linalg.norm(grad))
                scale = float(np.linalg.norm(old))
                change = float(np.linalg.norm(p.data - old))
                record[stat_key(name, "update_ratio")] = change / scale if scale > 0 else math.nan
            self._before = None
            self._last = record
            if self.every is not None:
                self.steps.append({"step": self._step + 1, **record})
        self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs.update(self._last)
        for name, layer, out in unit_outputs(self.model, self.probe):
            for stat, value in unit_statistics(layer, out, self.delta).items():
                logs[stat_key(name, stat)] = value
