"""Multi-task models: a shared trunk under named heads, returning one output per task.

The notes list "Multi-task learning" among the ways of regularizing a model:
tasks that share the trunk's hidden units constrain what those units learn.
:class:`MultiHead` computes h = trunk(x) once and returns {task: head_task(h)},
a :class:`TaskOutputs`; ``nnlab.train.fit`` trains it on a dict of targets with
a dict of losses (see :mod:`nnlab.train.multitask`).
"""

from __future__ import annotations

import re

from ..errors import ConfigError
from .module import Module

__all__ = ["MultiHead", "TaskOutputs"]

_TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TaskOutputs(dict):
    """{task: Tensor} as a model returns it; ``.data`` is {task: ndarray}, as a Tensor's ``.data`` is its array."""

    @property
    def data(self) -> dict:
        return {name: value.data for name, value in self.items()}


class Heads(Module):
    """The heads by task name (kept in ``_modules`` directly, so a task may be called "train" or "forward")."""

    def forward(self, h):
        return TaskOutputs((name, head(h)) for name, head in self._modules.items())


class MultiHead(Module):
    """forward(x) = {task: head_task(trunk(x))}: one trunk pass shared by every task's head.

    State names read ``trunk.…`` and ``heads.<task>.…``.

    >>> import nnlab
    >>> from nnlab.nn import Linear, ReLU, Sequential
    >>> model = MultiHead(Sequential(Linear(4, 8, rng=0), ReLU()),
    ...                   {"digit": Linear(8, 10, rng=1), "parity": Linear(8, 2, rng=2)})
    >>> {task: out.shape for task, out in model(nnlab.tensor([[0.0, 1.0, 2.0, 3.0]])).items()}
    {'digit': (1, 10), 'parity': (1, 2)}
    >>> [name for name, _ in model.named_parameters()][-2:]
    ['heads.parity.weight', 'heads.parity.bias']
    """

    def __init__(self, trunk: Module, heads: dict):
        super().__init__()
        if not isinstance(trunk, Module):
            raise ConfigError(f"MultiHead: trunk must be a Module, got {type(trunk).__name__}")
        if not isinstance(heads, dict) or not heads:
            raise ConfigError(f"MultiHead: heads must be a non-empty dict {{task name: Module}}, got {heads!r}")
        self.trunk = trunk
        self.heads = Heads()
        for name, head in heads.items():
            if not isinstance(name, str) or not _TASK_NAME.fullmatch(name):
                raise ConfigError(f"MultiHead: task name {name!r} must be letters, digits and '_', "
                                  "not starting with a digit")
            if not isinstance(head, Module):
                raise ConfigError(f"MultiHead: the head of task {name!r} must be a Module, got {type(head).__name__}")
            self.heads._modules[name] = head

    @property
    def tasks(self) -> list[str]:
        """The task names, in order."""
        return list(self.heads._modules)

    def forward(self, x):
        return self.heads(self.trunk(x))

    # ------------------------------------------------------------ spec (model files)
    def spec_children(self) -> list:
        return ["trunk", *(f"heads.{name}" for name in self.tasks)]

    def spec_args(self) -> dict:
        return {"tasks": self.tasks}

    @classmethod
    def spec_child_names(cls, args: dict, count: int) -> list:
        """The state-name prefix of each stored child, from the spec's arguments (for the shape check)."""
        tasks = args.get("tasks") if isinstance(args, dict) else None
        if not isinstance(tasks, list) or len(tasks) + 1 != count or not all(isinstance(t, str) for t in tasks):
            raise ConfigError(f"MultiHead needs 'tasks', one name per head ({count - 1} heads), got {tasks!r}")
        return ["trunk", *(f"heads.{name}" for name in tasks)]

    @classmethod
    def from_children(cls, children, tasks) -> MultiHead:
        if not isinstance(tasks, list) or len(tasks) != len(children) - 1:
            raise ConfigError(f"MultiHead needs one task name per head: {len(children) - 1} heads, tasks {tasks!r}")
        return cls(children[0], dict(zip(tasks, children[1:])))

    def _flops(self, shape, name, rows):
        inner = self.trunk._flops(shape, f"{name}.trunk" if name else "trunk", rows)
        out = inner
        for task, head in self.heads._modules.items():
            out = head._flops(inner, f"{name}.heads.{task}" if name else f"heads.{task}", rows)
        return out

    def extra_repr(self) -> str:
        return f"tasks={self.tasks}"
