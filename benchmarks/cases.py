"""The benchmark cases of issue 6, their synthetic data and their FLOP counts.

Every framework trains the same multilayer perceptron on the same seeded float32
data.  The data are a Gaussian cloud labelled by a random linear teacher, so the
loss really goes down and no framework can skip work.
"""

from __future__ import annotations

import dataclasses

import numpy as np

N_CLASSES = 10

# FLOPs per weight per sample for one training step: 2 for the forward product,
# 2 for dW and 2 for dX in the backward (the convention of the issue; the input
# layer's dX is not needed, so it slightly over-counts the required work).
FLOPS_PER_WEIGHT_PER_SAMPLE = 6


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark setting: layer widths, batch size, sample count, BatchNorm or not."""

    name: str
    sizes: tuple  # (in, hidden..., out)
    batch_size: int
    samples: int
    batchnorm: bool = False

    @property
    def weights(self) -> int:
        """Number of weights in the Linear matrices (biases and BatchNorm not counted)."""
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def flops_per_epoch(self) -> int:
        return FLOPS_PER_WEIGHT_PER_SAMPLE * self.weights * self.samples

    @property
    def steps(self) -> int:
        return -(-self.samples // self.batch_size)

    def describe(self) -> str:
        arch = "→".join(str(s) for s in self.sizes)
        if self.batchnorm:
            hidden = self.sizes[1:-1]
            arch = f"{self.sizes[0]}→{len(hidden)}×[{hidden[0]}+BN+ReLU]→{self.sizes[-1]}"
        return f"{arch}, batch {self.batch_size}, {self.samples:,} samples"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Case":
        return cls(d["name"], tuple(d["sizes"]), d["batch_size"], d["samples"], d.get("batchnorm", False))

    def with_samples(self, samples: int) -> "Case":
        return dataclasses.replace(self, samples=samples)


CASES = (
    Case("small", (64, 64, N_CLASSES), 32, 20_000),
    Case("medium", (784, 256, 256, N_CLASSES), 128, 60_000),
    Case("large", (784, 2048, 2048, N_CLASSES), 256, 20_000),
    Case("deep", (784,) + (256,) * 8 + (N_CLASSES,), 128, 60_000, batchnorm=True),
)

# Sample-count scaling per mode and case; architecture and batch size never change.
# Quick: a tenth of the samples (the large case a twentieth), so the run stays under a minute.
MODES = {
    "full": {"small": 1.0, "medium": 1.0, "large": 1.0, "deep": 1.0},
    "quick": {"small": 0.1, "medium": 0.1, "large": 0.05, "deep": 0.1},
}


def select(names=None, mode="full", samples=None) -> list:
    """The cases to run: all or ``names``; ``samples`` (an int) overrides the count for all."""
    by_name = {c.name: c for c in CASES}
    chosen = [by_name[n] for n in names] if names else list(CASES)
    out = []
    for case in chosen:
        if samples is not None:
            n = samples
        else:
            n = int(round(case.samples * MODES[mode][case.name]))
        out.append(case.with_samples(max(n, case.batch_size)))
    return out


def make_data(case: Case, seed: int):
    """``(X, y)``: float32 inputs (samples, in) and int64 labels, identical in every process."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((case.samples, case.sizes[0]), dtype=np.float32)
    teacher = rng.standard_normal((case.sizes[0], case.sizes[-1]), dtype=np.float32)
    y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    return X, y
