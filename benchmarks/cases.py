"""The benchmark cases of issues 6, 12 and 17, their synthetic data and their FLOP counts.

Every framework trains the same network — a multilayer perceptron, or for the
conv cases the layers listed in ``Case.net`` — on the same seeded float32
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
    sizes: tuple  # (in, hidden..., out); for a conv case (input values, classes)
    batch_size: int
    samples: int
    batchnorm: bool = False
    input_shape: tuple = ()  # per sample, e.g. (1, 28, 28); () for flat rows of sizes[0]
    net: tuple = ()  # conv cases: ("conv", in, out, k, stride, padding), ("relu",), ("maxpool", k), ("flatten",), ("linear", in, out)
    optimizer: str = "adam"  # "adam": Adam lr 1e-3; "momentum": SGD lr 0.01, momentum 0.9
    dropout: float = 0.0  # MLP cases: dropout after every hidden ReLU

    @property
    def state_buffers(self) -> int:
        """Per-parameter buffers the optimizer keeps (Adam: m and v; momentum: the velocity)."""
        return 2 if self.optimizer == "adam" else 1

    @property
    def weights(self) -> int:
        """Number of weights in the Linear matrices (biases and BatchNorm not counted)."""
        if self.net:
            return sum(layer[1] * layer[2] * (layer[3] ** (len(self.input_shape) - 1) if layer[0] == "conv" else 1)
                       for layer in self.net if layer[0] in ("conv", "linear"))
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def flops_per_epoch(self) -> int:
        """6 FLOPs per multiply-add of the forward pass per sample: once per weight for an MLP,
        once per weight and output position for a convolution."""
        if self.net:
            return FLOPS_PER_WEIGHT_PER_SAMPLE * sum(m * k * n for m, k, n, _ in gemm_shapes(self)) * self.samples
        return FLOPS_PER_WEIGHT_PER_SAMPLE * self.weights * self.samples

    @property
    def steps(self) -> int:
        return -(-self.samples // self.batch_size)

    def describe(self) -> str:
        if self.net:
            parts = []
            for layer in self.net:
                if layer[0] == "conv":
                    parts.append(f"conv{len(self.input_shape) - 1}d {layer[2]}×{layer[3]}" + (f"/{layer[4]}" if layer[4] > 1 else ""))
                elif layer[0] in ("maxpool", "linear"):
                    parts.append("pool" if layer[0] == "maxpool" else f"linear {layer[2]}")
            shape = "×".join(map(str, self.input_shape))
            return f"{shape} → {', '.join(parts)} (ReLU), batch {self.batch_size}, {self.samples:,} samples"
        arch = "→".join(str(s) for s in self.sizes)
        if self.batchnorm:
            hidden = self.sizes[1:-1]
            extra = f"+dropout {self.dropout}" if self.dropout else ""
            arch = f"{self.sizes[0]}→{len(hidden)}×[{hidden[0]}+BN+ReLU{extra}]→{self.sizes[-1]}"
        elif self.dropout:
            arch += f" (dropout {self.dropout})"
        opt = "" if self.optimizer == "adam" else ", SGD + momentum"
        return f"{arch}, batch {self.batch_size}, {self.samples:,} samples{opt}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Case":
        return cls(d["name"], tuple(d["sizes"]), d["batch_size"], d["samples"], d.get("batchnorm", False),
                   tuple(d.get("input_shape", ())), tuple(tuple(layer) for layer in d.get("net", ())),
                   d.get("optimizer", "adam"), d.get("dropout", 0.0))

    def with_samples(self, samples: int) -> "Case":
        return dataclasses.replace(self, samples=samples)


# Issue 12: the MNIST-1D CNN of Greydanus & Kobak (sequences of 40, three convolutions of 25
# channels, stride 2, padding 1) and a 2-D CNN on 28×28 images (32 and 64 filters of 3×3, each
# followed by ReLU and 2×2 max pooling).
CNN1D = (("conv", 1, 25, 5, 2, 1), ("relu",), ("conv", 25, 25, 3, 2, 1), ("relu",), ("conv", 25, 25, 3, 2, 1),
         ("relu",), ("flatten",), ("linear", 125, N_CLASSES))
CNN2D = (("conv", 1, 32, 3, 1, 0), ("relu",), ("maxpool", 2), ("conv", 32, 64, 3, 1, 0), ("relu",), ("maxpool", 2),
         ("flatten",), ("linear", 1600, N_CLASSES))

# Issue 17: the width × batch sweep (784 → H → H → 10), each cell a case of its own with about
# STEPS[H] training steps per epoch, Adam everywhere, SGD + momentum at the two large widths,
# and BatchNorm + dropout at H = 256, batch 128.
SWEEP_STEPS = {256: 200, 1024: 60, 2048: 25}


def _sweep() -> tuple:
    cells = []
    for opt, widths in (("adam", (256, 1024, 2048)), ("momentum", (1024, 2048))):
        for h in widths:
            for bs in (32, 128, 512):
                cells.append(Case(f"sweep-{opt}-h{h}-b{bs}", (784, h, h, N_CLASSES), bs, SWEEP_STEPS[h] * bs, optimizer=opt))
    cells.append(Case("sweep-bn-dropout-h256-b128", (784, 256, 256, N_CLASSES), 128, 200 * 128, batchnorm=True, dropout=0.1))
    return tuple(cells)


SWEEP = _sweep()
SWEEP_NAMES = tuple(c.name for c in SWEEP)

CASES = (
    Case("small", (64, 64, N_CLASSES), 32, 20_000),
    Case("medium", (784, 256, 256, N_CLASSES), 128, 60_000),
    Case("large", (784, 2048, 2048, N_CLASSES), 256, 20_000),
    Case("deep", (784,) + (256,) * 8 + (N_CLASSES,), 128, 60_000, batchnorm=True),
    Case("cnn1d", (40, N_CLASSES), 100, 4_000, input_shape=(1, 40), net=CNN1D),
    Case("cnn2d", (784, N_CLASSES), 64, 6_400, input_shape=(1, 28, 28), net=CNN2D),
) + SWEEP
#: what a run without --cases measures (the sweep is asked for by name: --cases sweep)
DEFAULT_CASES = ("small", "medium", "large", "deep", "cnn1d", "cnn2d")
MLP_CASES = ("small", "medium", "large", "deep")

# Sample-count scaling per mode and case; architecture and batch size never change.
# Quick: a tenth of the samples (the large case a twentieth), so the run stays under a minute.
MODES = {
    "full": {"small": 1.0, "medium": 1.0, "large": 1.0, "deep": 1.0, "cnn1d": 1.0, "cnn2d": 1.0, **dict.fromkeys(SWEEP_NAMES, 1.0)},
    "quick": {"small": 0.1, "medium": 0.1, "large": 0.05, "deep": 0.1, "cnn1d": 0.25, "cnn2d": 0.1, **dict.fromkeys(SWEEP_NAMES, 0.25)},
}


def conv_net(case: Case, nn):
    """A conv case's ``net`` built from a framework's ``nn`` namespace (nnlab's and torch's share these names)."""
    conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(case.input_shape) == 2 else (nn.Conv2d, nn.MaxPool2d)
    make = {
        "conv": lambda _, cin, cout, k, stride, pad: conv(cin, cout, k, stride=stride, padding=pad),
        "relu": lambda _: nn.ReLU(),
        "maxpool": lambda _, k: pool(k),
        "flatten": lambda _: nn.Flatten(),
        "linear": lambda _, a, b: nn.Linear(a, b),
    }
    return nn.Sequential(*(make[layer[0]](*layer) for layer in case.net))


def gemm_shapes(case: Case) -> list:
    """Per sample, the (positions, in·kernel, out, first) GEMM of every conv and linear layer of a conv case."""
    shape = case.input_shape
    out = []
    for layer in case.net:
        if layer[0] == "conv":
            _, cin, cout, k, stride, pad = layer
            spatial = tuple((s + 2 * pad - k) // stride + 1 for s in shape[1:])
            out.append((int(np.prod(spatial)), cin * k ** len(spatial), cout, not out))
            shape = (cout,) + spatial
        elif layer[0] == "maxpool":
            shape = (shape[0],) + tuple(s // layer[1] for s in shape[1:])
        elif layer[0] == "flatten":
            shape = (int(np.prod(shape)),)
        elif layer[0] == "linear":
            out.append((1, layer[1], layer[2], not out))
            shape = (layer[2],)
    return out


def expand(names) -> list:
    """Case names with the group name ``sweep`` replaced by the sweep's cells."""
    out = []
    for n in names:
        out.extend(SWEEP_NAMES if n == "sweep" else (n,))
    return out


def select(names=None, mode="full", samples=None) -> list:
    """The cases to run: the default ones or ``names`` ("sweep": every sweep cell); ``samples`` overrides the count."""
    by_name = {c.name: c for c in CASES}
    chosen = [by_name[n] for n in expand(names or DEFAULT_CASES)]
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
    return (X.reshape((case.samples,) + case.input_shape) if case.input_shape else X), y
