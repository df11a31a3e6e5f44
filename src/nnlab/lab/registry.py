"""The experiments, in the order of issue 14's list; experiment ``NAME`` lives in module ``exp_NAME``."""

from __future__ import annotations

import importlib
from dataclasses import replace

from ..errors import ConfigError

# name -> number in the list.
NUMBERS = {
    "xor": 1, "power": 2, "activations": 3, "dead_relu": 4, "init": 5, "batchnorm": 6, "optimizers": 7,
    "learning_rate": 8, "batch_size": 9, "regularization": 10, "noise_l2": 11, "dropout_ensemble": 12,
    "pretraining": 13, "debugging": 14, "conv": 15,
}
# Experiments that need a feature of another open issue; they join when it lands on main.
WAITING: dict[int, str] = {}


def names() -> list[str]:
    """The experiment names, in the issue's order."""
    return list(NUMBERS)


def get(name: str):
    """The experiment called ``name``."""
    if name not in NUMBERS:
        raise ConfigError(f"unknown experiment {name!r}; choose from: {', '.join(NUMBERS)}")
    experiment = importlib.import_module(f".exp_{name}", __package__).EXPERIMENT
    return replace(experiment, name=name, number=NUMBERS[name])


def experiments() -> list:
    """Every experiment, in the issue's order."""
    return [get(n) for n in NUMBERS]
