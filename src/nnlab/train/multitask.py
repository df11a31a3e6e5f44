"""Multi-task training: a dict of targets, a dict of losses with weights, per-task metrics and predictions.

The notes list "Multi-task learning" among the ways of regularizing a network.
A model returning {task: output} (:class:`nnlab.nn.MultiHead`) is trained by
:func:`nnlab.train.fit` on ``(X, {task: y_task})`` with a dict of losses or a
:class:`MultiTaskLoss`, which minimizes the weighted sum

    L = Σₖ wₖ · Lₖ(outputₖ, yₖ)      (wₖ = 1 unless given)

``History`` then records ``loss`` (that sum), ``loss_<task>`` (each unweighted
task loss) and ``<metric>_<task>`` (e.g. ``accuracy_parity``), and the same with
``val_`` for validation data; ``evaluate`` returns them, ``predict`` gives
{task: outputs}.  ``fit`` calls :func:`prepare` first; everything else in the
loop is unchanged, because a model's {task: Tensor} output
(:class:`~nnlab.nn.multihead.TaskOutputs`) has a ``.data`` of {task: array}.
"""

from __future__ import annotations

import numpy as np

from ..data import check_labels
from ..data.validation import as_features, as_targets
from ..errors import ConfigError, DataError
from ..tensor import as_tensor
from .metrics import Metric, metric_list


class MultiTaskLoss:
    """L = Σₖ wₖ · Lₖ(outputₖ, yₖ) over the tasks of ``losses`` ({task: loss function or loss name}).

    ``weights`` ({task: wₖ ≥ 0}) defaults to 1 for every task; ``penalty`` (a
    function () -> Tensor, e.g. an L2 penalty on the weights) is added to the sum.
    After each call, ``last`` holds each task's unweighted loss as a float
    (``History`` logs it as ``loss_<task>``).

    >>> import nnlab
    >>> loss = MultiTaskLoss({"a": "mse", "b": "mse"}, weights={"b": 0.5})
    >>> out = {"a": nnlab.tensor([[1.0]]), "b": nnlab.tensor([[2.0]])}
    >>> float(loss(out, {"a": np.array([[0.0]]), "b": np.array([[0.0]])}).data), loss.last
    (3.0, {'a': 1.0, 'b': 4.0})
    """

    def __init__(self, losses: dict, weights: dict | None = None, penalty=None):
        from .. import losses as loss_registry
        from .._checks import check_float

        if not isinstance(losses, dict) or not losses:
            raise ConfigError(f"MultiTaskLoss: losses must be a non-empty dict {{task: loss}}, got {losses!r}")
        self.losses = {task: loss_registry.get(fn) if isinstance(fn, str) else fn for task, fn in losses.items()}
        for task, fn in self.losses.items():
            if not callable(fn):
                raise ConfigError(f"MultiTaskLoss: the loss of task {task!r} must be callable or a name, got {fn!r}")
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(self.losses))
        if unknown:
            raise ConfigError(f"MultiTaskLoss: weights for unknown task(s) {unknown}; tasks are {self.tasks}")
        self.weights = {task: check_float(f"weights[{task!r}]", weights.get(task, 1.0), low=0.0, owner="MultiTaskLoss")
                        for task in self.losses}
        if penalty is not None and not callable(penalty):
            raise ConfigError(f"MultiTaskLoss: penalty must be a function () -> Tensor, got {penalty!r}")
        self.penalty = penalty
        self.last = {}

    @property
    def tasks(self) -> list[str]:
        return list(self.losses)

    def __call__(self, outputs, targets):
        total = None
        for task, fn in self.losses.items():
            try:
                value = fn(outputs[task], targets[task])
            except KeyError as exc:
                where = "model outputs" if task not in outputs else "targets"
                raise ConfigError(f"MultiTaskLoss: task {exc.args[0]!r} is missing from the {where}") from None
            self.last[task] = float(value.data)
            weight = self.weights[task]
            term = value if weight == 1.0 else value * weight
            total = term if total is None else total + term
        return total if self.penalty is None else total + self.penalty()

    def __repr__(self):
        return f"MultiTaskLoss(tasks={self.tasks}, weights={self.weights})"


class MultiTargetDataset:
    """Rows of X with one target array per task; ``dataset[index]`` is ``(X[index], {task: y[index]})``."""

    def __init__(self, X, targets: dict, dtype=np.float32):
        self.X = as_features(X, dtype=dtype)
        if not isinstance(targets, dict) or not targets:
            raise DataError(f"multi-task targets must be a non-empty dict {{task: y}}, got {type(targets).__name__}")
        self.targets = {}
        for task, y in targets.items():
            try:
                self.targets[task] = as_targets(y, len(self.X), dtype=dtype)
            except DataError as exc:
                raise DataError(f"targets of task {task!r}: {exc}") from None

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], {task: y[index] for task, y in self.targets.items()}

    def __repr__(self):
        shapes = ", ".join(f"{t}={y.dtype}{list(y.shape)}" for t, y in self.targets.items())
        return f"MultiTargetDataset(X={self.X.dtype}{list(self.X.shape)}, {shapes})"


class TaskMetric(Metric):
    """A metric of one task's output and target, logged as ``<metric>_<task>``."""

    def __init__(self, metric: Metric, task: str):
        self.metric, self.task = metric, task
        self.name = f"{metric.name}_{task}"

    def reset(self) -> None:
        self.metric.reset()

    def update(self, output, target) -> None:
        self.metric.update(output[self.task], target[self.task])

    def result(self) -> float:
        return self.metric.result()

    def totals(self):
        return self.metric.totals()

    def set_totals(self, totals) -> None:
        self.metric.set_totals(totals)


class TaskLoss(Metric):
    """One task's unweighted loss as the :class:`MultiTaskLoss` computed it, averaged over samples."""

    def __init__(self, loss: MultiTaskLoss, task: str):
        self.loss, self.task = loss, task
        self.name = f"loss_{task}"
        self.reset()

    def reset(self) -> None:
        self.sum, self.total = 0.0, 0

    def update(self, output, target) -> None:
        n = len(target[self.task])
        self.sum += self.loss.last[self.task] * n
        self.total += n

    def result(self) -> float:
        return self.sum / self.total if self.total else float("nan")

    def totals(self) -> list[float]:
        return [self.sum, self.total]

    def set_totals(self, totals) -> None:
        self.sum, self.total = float(totals[0]), int(totals[1])


def is_multitask(loss, data) -> bool:
    """A dict of losses, a MultiTaskLoss, or data whose targets are a dict."""
    targets = data[1] if isinstance(data, tuple | list) and len(data) == 2 else getattr(data, "targets", None)
    return isinstance(loss, dict | MultiTaskLoss) or isinstance(targets, dict) or isinstance(data, MultiTargetDataset)


def prepare(model, loss, metrics, parts: list, dtype):
    """(loss, metrics, parts) for ``fit``/``evaluate``: unchanged for one task, else the multi-task versions.

    ``parts`` are the data arguments (None entries stay None).  Each becomes a
    :class:`MultiTargetDataset` checked against the model: the same tasks as its
    outputs and the loss, and per task labels that fit the head (class indices
    below its width, or targets of its output shape).  ``metrics`` (names,
    functions or Metrics, or a dict {task: metrics}) become per-task metrics, plus
    ``loss_<task>`` when there is a loss.
    """
    if not any(is_multitask(loss, p) for p in parts if p is not None) and not isinstance(loss, dict):
        return loss, metrics, parts
    if isinstance(loss, dict):
        loss = MultiTaskLoss(loss)
    if loss is not None and not isinstance(loss, MultiTaskLoss):
        raise ConfigError("multi-task targets need a dict of losses {task: loss} or a MultiTaskLoss, "
                          f"got {type(loss).__name__}")
    outputs = _probe(model, parts, dtype)
    tasks = list(outputs)
    if loss is not None and sorted(loss.tasks) != sorted(tasks):
        raise ConfigError(f"the losses name tasks {loss.tasks}, the model outputs tasks {tasks}")
    parts = [None if p is None else _dataset(p, outputs, dtype, name)
             for p, name in zip(parts, ("train_data", "val_data", "data"))]
    per_task = metrics if isinstance(metrics, dict) else {task: metrics for task in tasks}
    unknown = sorted(set(per_task) - set(tasks))
    if unknown:
        raise ConfigError(f"metrics for unknown task(s) {unknown}; the model's tasks are {tasks}")
    meters = [TaskLoss(loss, task) for task in tasks] if loss is not None else []
    meters += [TaskMetric(m, task) for task in tasks for m in metric_list(per_task.get(task))]
    return loss, meters, parts


def _probe(model, parts, dtype) -> dict:
    """The model's {task: output} for two rows of the first data part (evaluation mode, no graph)."""
    from .loop import evaluating

    first = next(p for p in parts if p is not None)
    X = first.X if isinstance(first, MultiTargetDataset) else as_features(first[0], dtype=dtype)
    with evaluating(model):
        out = model(as_tensor(X[:2]))
    if not isinstance(out, dict):
        raise ConfigError(f"multi-task targets need a model that returns {{task: output}} (nn.MultiHead); "
                          f"this one returns {type(out).__name__}")
    return {task: value.data for task, value in out.items()}


def _dataset(data, outputs: dict, dtype, name: str) -> MultiTargetDataset:
    if not isinstance(data, MultiTargetDataset):
        if not (isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[1], dict)):
            raise DataError(f"{name}: a multi-task model needs (X, {{task: y}}), got {type(data).__name__}")
        data = MultiTargetDataset(data[0], data[1], dtype=dtype)
    if sorted(data.targets) != sorted(outputs):
        raise DataError(f"{name}: targets name tasks {list(data.targets)}, the model outputs tasks {list(outputs)}")
    for task, y in data.targets.items():
        out = outputs[task]
        if out.ndim == 2 and out.shape[1] > 1 and (y.ndim == 1 or y.shape[1:] == (1,)):
            data.targets[task] = check_labels(y, num_classes=out.shape[1], name=f"{name} labels of task {task!r}")
        elif y.ndim == 1 and out.shape[1:] == (1,):
            data.targets[task] = y.reshape(-1, 1)
        elif y.shape[1:] != out.shape[1:]:
            raise DataError(f"{name}: targets of task {task!r} have shape {y.shape[1:]} per sample but its head "
                            f"outputs {out.shape[1:]}")
    return data


def predict_tasks(model, X, first: dict, batch_size: int) -> dict:
    """{task: outputs for every row of X}, given the first batch's outputs (the caller is in evaluation mode)."""
    out = {task: np.empty((len(X),) + value.shape[1:], dtype=value.dtype) for task, value in first.items()}
    for task, value in first.items():
        out[task][:len(value)] = value
    for start in range(batch_size, len(X), batch_size):
        for task, value in model(as_tensor(X[start:start + batch_size])).items():
            out[task][start:start + batch_size] = value.data
    return out
