"""The TOML run configuration: every key validated, every error naming the key and the allowed choices.

A config names the data, preprocessing, architecture, loss, optimizer,
schedule, regularizers, epochs, batch size, callbacks and seed.  Every section
and key is optional; the defaults train an MLP on the digits data.
"""

from __future__ import annotations

import tomllib
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DataConfig(_Section):
    source: Literal["digits", "xor", "moons", "circles", "spirals", "blobs", "mlp_table", "csv", "npz", "mnist"] = "digits"
    path: Optional[str] = Field(None, description="file (csv, npz) or folder (mnist) to read")
    target: Optional[str] = Field(None, description="name of the label column of a CSV file")
    n: int = Field(400, ge=2, description="number of samples of a generated data set")
    noise: float = Field(0.1, ge=0, description="noise of a generated data set (for blobs: the std of each blob)")
    test_size: float = Field(0.2, ge=0, lt=1, description="held-out test fraction (0: evaluate on the training data)")
    val_size: float = Field(0.1, ge=0, lt=1, description="validation fraction (0: no validation set)")
    preprocessing: list[Literal["standardize", "minmax", "unit_norm"]] = ["standardize"]
    categorical_columns: list[int] = Field(default_factory=list, description="feature columns to one-hot encode")
    augment_noise_std: float = Field(0.0, ge=0, description="std of Gaussian noise added to training batches")
    augment_jitter: int = Field(0, ge=0, description="largest random shift in pixels for image inputs")
    image_shape: Optional[tuple[int, int]] = Field(None, description="(height, width) of image rows, for jitter")

    @model_validator(mode="after")
    def _check(self):
        if self.source in ("csv", "npz", "mnist") and not self.path:
            raise ValueError(f"data.path is required when data.source = {self.source!r}")
        if self.source == "csv" and not self.target:
            raise ValueError("data.target (the label column name) is required when data.source = 'csv'")
        if self.test_size + self.val_size >= 1:
            raise ValueError(f"data.test_size + data.val_size must be below 1, got {self.test_size + self.val_size}")
        return self


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "maxout")
INITIALIZERS = ("zeros", "xavier_normal", "xavier_uniform", "lecun_normal", "he_normal", "he_uniform")


class ModelConfig(_Section):
    hidden: list[int] = Field(default_factory=lambda: [256, 128], description="sizes of the hidden layers")
    activation: Literal[ACTIVATIONS] = "relu"
    maxout_pieces: int = Field(2, ge=2)
    weight_init: Optional[Literal[INITIALIZERS]] = Field(
        None, description="default: he_normal for the ReLU family, xavier_normal for sigmoid and tanh"
    )
    bias_init: float = Field(0.0, description="constant initial bias (the notes advise 0.01 for ReLU)")
    batch_norm: bool = False
    dropout_keep: float = Field(1.0, gt=0, le=1, description="retain probability of hidden units (notes: 0.5)")
    input_dropout_keep: float = Field(1.0, gt=0, le=1, description="retain probability of inputs (notes: 0.8)")
    input_noise_std: float = Field(0.0, ge=0, description="Gaussian noise on the inputs in training")

    @model_validator(mode="after")
    def _check(self):
        bad = [h for h in self.hidden if h < 1]
        if bad:
            raise ValueError(f"model.hidden sizes must be at least 1, got {bad}")
        return self


class LossConfig(_Section):
    name: Literal["cross_entropy", "mse", "euclidean"] = "cross_entropy"
    label_smoothing: float = Field(0.0, ge=0, lt=1)


class OptimizerConfig(_Section):
    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw", "line_search"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum γ")
    nesterov: bool = False
    beta: float = Field(0.9, ge=0, lt=1, description="RMSProp decay β")
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="the notes' L2 rule: gradient + αw (weights only)")
    candidates: list[float] = Field(
        default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        description="line_search: the learning rates tried at every step (the lowest loss wins)",
    )

    @model_validator(mode="after")
    def _check(self):
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ValueError("optimizer.nesterov needs optimizer.name = 'sgd' and optimizer.momentum > 0")
        return self


class ScheduleConfig(_Section):
    name: Literal[
        "constant", "step_decay", "exponential_decay", "inverse_time_decay", "cosine_decay", "halve_on_rise", "plateau"
    ] = "constant"
    factor: float = Field(0.5, gt=0, lt=1, description="step_decay / plateau multiplier")
    every: int = Field(5, ge=1, description="step_decay period in epochs")
    k: float = Field(0.1, ge=0, description="exponential / inverse-time decay rate")
    final: float = Field(0.0, ge=0, description="cosine_decay final learning rate")
    patience: int = Field(3, ge=1, description="plateau patience in epochs")
    warmup_epochs: int = Field(0, ge=0)
    momentum_warmup_epochs: int = Field(
        0, ge=0, description="SGD momentum 0.5 for this many epochs, then optimizer.momentum (the notes' advice)"
    )


class RegularizationConfig(_Section):
    l1: float = Field(0.0, ge=0, description="α of the L1 penalty α·Σ|w| on weights")
    l2: float = Field(0.0, ge=0, description="α of the L2 penalty α/2·Σw² on weights")


class TrainConfig(_Section):
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(32, ge=1)
    early_stopping: Optional[int] = Field(None, ge=1, description="patience in epochs (needs a validation set)")
    checkpoint: Literal["best", "last", "none"] = "last"
    log_format: Literal["csv", "jsonl"] = "csv"


class RunConfig(_Section):
    name: str = Field("digits-mlp", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    seed: int = 0
    runs_dir: str = "runs"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys allowed at the section named by ``loc`` (the path of an unknown key)."""
    model = RunConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return list(model.model_fields)


def _describe(error: dict) -> str:
    loc = tuple(str(p) for p in error["loc"])
    key = ".".join(loc) or "config"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc)
        return f"unknown key {key!r}" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        return message
    got = error.get("input")
    return f"{key}: {message} (got {got!r})"


def parse_config(raw: dict, source: str = "config") -> RunConfig:
    """Validate a config dict; raise ConfigError listing every problem."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid {source}:\n  {problems}") from None


def load_config(path: str | None) -> RunConfig:
    """Read and validate a TOML config file; ``None`` gives the default run."""
    if path is None:
        return RunConfig()
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config path {path!r} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path!r} is not valid TOML: {exc}") from None
    return parse_config(raw, source=f"config file {path!r}")
