"""The TOML run configuration: every key validated, every error naming the key and the allowed choices.

A config names the data, preprocessing, architecture, loss, optimizer,
schedule, regularizers, epochs, batch size, callbacks and seed.  Every section
and key is optional; the defaults train an MLP on the digits data.
"""

from __future__ import annotations

import tomllib
from typing import Annotated, ClassVar, Literal, Optional

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .. import optim
from ..errors import ConfigError
from ..optim import schedules
from . import class_weights
from .config_base import _SECTION_NAMES, Bool, Float, Fraction, Int, _Section
from .config_loss import LossConfig
from .config_techniques import EnsembleConfig, PretrainConfig, TaskConfig

_FILE_SOURCES = ("csv", "npz", "mnist")
_GENERATED = ("moons", "circles", "spirals", "blobs")


#: the characters of a run name (also a folder name); ``nnlab tune --study`` names follow the same rule
NAME_CHARACTERS = r"[A-Za-z0-9._-]+"

class DataConfig(_Section):
    source: Literal["digits", "xor", "moons", "circles", "spirals", "blobs", "mlp_table", "csv", "npz", "mnist", "mnist1d"] = "digits"
    path: Optional[str] = Field(None, description="file (csv, npz) or folder (mnist) to read")
    target: Optional[str] = Field(None, description="name of the label column of a CSV file")
    n: Int = Field(400, ge=2, description="number of samples of a generated data set")
    noise: Float = Field(0.1, ge=0, description="noise of a generated data set (for blobs: the std of each blob)")
    test_size: Fraction = Field(0.2, description="held-out test fraction (0: evaluate on the training data)")
    val_size: Fraction = Field(0.1, description="validation fraction (0: no validation set)")
    preprocessing: list[Literal["standardize", "minmax", "unit_norm"]] = ["standardize"]
    categorical_columns: list[Annotated[Int, Field(ge=0)] | Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="feature columns to one-hot encode: feature indices or CSV names")
    augment_noise_std: Float = Field(0.0, ge=0, description="std of Gaussian noise added to training batches")
    augment_jitter: Int = Field(0, ge=0, description="largest random shift in pixels for image inputs")
    image_shape: Optional[tuple[Annotated[Int, Field(ge=1)], Annotated[Int, Field(ge=1)]]] = Field(
        None, description="(height, width) of image rows: for jitter, and for the run's weights.png")

    ONLY_FOR: ClassVar[dict] = {"path": ("source", _FILE_SOURCES), "target": ("source", ("csv",)),
                                "n": ("source", _GENERATED), "noise": ("source", _GENERATED)}

    @model_validator(mode="after")
    def _check(self):
        if self.source in ("csv", "npz", "mnist") and not self.path:
            raise ValueError(f"data.path is required when data.source = {self.source!r}")
        if self.test_size + self.val_size >= 1:
            raise ValueError(f"data.test_size + data.val_size must be below 1, got {self.test_size + self.val_size}")
        if self.source != "csv" and any(isinstance(c, str) for c in self.categorical_columns):
            raise ValueError("data.categorical_columns names columns only for data.source = 'csv'; "
                             "give feature indices instead")
        return self


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "maxout",
               "gelu", "silu", "softplus", "softsign", "selu", "celu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "mish",
               "logsigmoid", "hardshrink", "softshrink", "tanhshrink", "rrelu")
_NOT_MAXOUT = tuple(a for a in ACTIVATIONS if a != "maxout")


class ModelConfig(_Section):
    hidden: list[Annotated[Int, Field(ge=1)]] = Field(
        default_factory=lambda: [256, 128], description="sizes of the hidden layers")
    activation: Literal[ACTIVATIONS] = "relu"
    maxout_pieces: Int = Field(2, ge=2)
    weight_init: Optional[str | dict] = Field(
        None, description="an initializer name (nnlab.init.names()) or a table such as "
        "{ name = 'normal', std = 0.01 }; default: he_normal for the ReLU family, xavier_normal for sigmoid/tanh "
        "('lecun_normal' is the notes' 1/sqrt(n) rule, nn.Linear's default)"
    )
    bias_init: Float | str | dict = Field(0.0, description="a constant (the notes advise 0.01 for ReLU), "
                                          "an initializer name or a table")
    activation_alpha: Optional[Float] = Field(
        None, description="leaky_relu: slope α for x < 0 (default 0.01); elu: α (default 1.0); prelu: initial α")
    prelu_per_channel: Bool = Field(False, description="prelu: one α per hidden unit instead of one per layer")
    activation_args: dict = Field(default_factory=dict, description="other arguments of the activation, e.g. "
                                  "{ beta = 2.0 } (softplus), { min_val = -2.0 } (hardtanh), { alpha = 0.5 } (celu)")
    activity_l1: Float = Field(0.0, ge=0, description="hidden activations' L1 penalty λ (nn.ActivityRegularization)")
    activity_kl_target: Optional[Float] = Field(None, gt=0, lt=1, description="KL sparsity: target mean activation ρ")
    activity_kl_weight: Float = Field(0.0, ge=0, description="KL sparsity: β of β·Σ_j KL(ρ ‖ ρ̂_j)")
    batch_norm: Bool = False
    dropout_keep: Float = Field(1.0, gt=0, le=1, description="retain probability of hidden units (notes: 0.5)")
    input_dropout_keep: Float = Field(1.0, gt=0, le=1, description="retain probability of inputs (notes: 0.8)")
    input_noise_std: Float = Field(0.0, ge=0, description="Gaussian noise on the inputs in training")
    layers: Optional[list[dict]] = Field(
        None,
        description="the whole model as a list of registered layers, e.g. {type = 'Conv1d', in_channels = 1, ...}; "
        "replaces hidden, activation and the other MLP keys",
    )

    ONLY_FOR: ClassVar[dict] = {"maxout_pieces": ("activation", ("maxout",)),
                                "bias_init": ("activation", _NOT_MAXOUT), "batch_norm": ("activation", _NOT_MAXOUT),
                                "activation_alpha": ("activation", ("leaky_relu", "elu", "prelu")),
                                "activation_args": ("activation", _NOT_MAXOUT),
                                "prelu_per_channel": ("activation", ("prelu",))}

    @model_validator(mode="after")
    def _check_initializers(self):
        from ..nn import init

        for key in ("weight_init", "bias_init"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, float | int):
                try:
                    init.get(value)
                except ConfigError as exc:
                    raise ValueError(f"model.{key}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _check_activation(self):
        if (self.activity_kl_target is None) != (self.activity_kl_weight == 0):
            raise ValueError("model.activity_kl_target and model.activity_kl_weight go together (ρ and β); set both")
        if self.activation_alpha is not None and "alpha" in self.activation_args:
            raise ValueError("model.activation_alpha and model.activation_args.alpha name the same setting; keep one")
        if self.activation_args:
            from .build import activation_module

            try:
                activation_module(self, 2)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return self

    @model_validator(mode="after")
    def _check(self):
        if self.layers is not None:
            # Keys set away from their defaults (a re-validated dump sets every key, at its default).
            mlp_keys = sorted(k for k, f in type(self).model_fields.items()
                              if k != "layers" and getattr(self, k) != f.get_default(call_default_factory=True))
            if mlp_keys:
                raise ValueError(f"model.layers describes the whole model; drop model.{', model.'.join(mlp_keys)}")
            if not self.layers or any(not isinstance(layer, dict) or "type" not in layer for layer in self.layers):
                raise ValueError("model.layers must be a non-empty list of tables, each with a 'type' key")
        return self


class OptimizerConfig(_Section):
    name: Literal[optim.names()] = "adam"
    lr: Float = Field(1e-3, gt=0)
    momentum: Fraction = Field(0.0, description="SGD momentum γ")
    nesterov: Bool = False
    beta: Fraction = Field(0.9, description="RMSProp decay β")
    betas: tuple[Fraction, Fraction] = (0.9, 0.999)
    eps: Float = Field(1e-8, gt=0)
    weight_decay: Float = Field(0.0, ge=0, description="the notes' L2 rule: gradient + αw (weights only)")
    # the optimizers' own defaults (torch 2.13's): a config that leaves them out builds what the class builds
    rho: Fraction = Field(0.9, description="Adadelta's decay ρ of both running averages")
    momentum_decay: Float = Field(0.004, ge=0, description="NAdam's ψ of the momentum schedule μ_t")
    amsgrad: Bool = Field(False, description="adam/adamw: divide by the running maximum of v (Reddi et al.)")
    decoupled_weight_decay: Bool = Field(False, description="nadam/radam: AdamW's decoupled weight decay")
    etas: tuple[Float, Float] = Field((0.5, 1.2), description="rprop: (η₋, η₊), the step sizes' shrink and growth")
    step_sizes: tuple[Float, Float] = Field((1e-6, 50.0), description="rprop: the smallest and largest step size")
    maximize: Bool = Field(False, description="rprop/asgd: climb the loss instead of descending it")
    lambd: Float = Field(1e-4, ge=0, description="asgd: the decay λ of the rate η_t = lr/(1 + λ·lr·t)^alpha")
    alpha: Float = Field(0.75, ge=0, description="asgd: the power of the rate's decay")
    t0: Float = Field(1e6, ge=0, description="asgd: the step from which the weights are averaged")
    candidates: list[Annotated[Float, Field(gt=0)]] = Field(
        default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1, 1.0], min_length=1,
        description="line_search: the learning rates tried at every step (the lowest loss wins)",
    )

    # each setting is used by the optimizers whose constructor takes it
    ONLY_FOR: ClassVar[dict] = {
        key: ("name", optim.names(with_setting=key))
        for key in ("lr", "momentum", "beta", "betas", "eps", "candidates", "rho", "momentum_decay", "amsgrad",
                    "decoupled_weight_decay", "etas", "step_sizes", "maximize", "lambd", "alpha", "t0")
    }

    @field_validator("name", mode="before")
    @classmethod
    def _built_by_name(cls, name):
        if isinstance(name, str) and name in optim.registry.NOT_BY_NAME:  # say why, not only the names allowed
            raise ValueError(optim.registry.NOT_BY_NAME[name])
        return name

    @model_validator(mode="after")
    def _check(self):
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ValueError("optimizer.nesterov needs optimizer.name = 'sgd' and optimizer.momentum > 0")
        return self


class ScheduleConfig(_Section):
    # the learning-rate schedules of the registry, and the two rules that watch the validation loss (callbacks)
    name: Literal[(*schedules.names("lr"), "halve_on_rise", "plateau")] = "constant"
    factor: Float = Field(0.5, gt=0, lt=1, description="step_decay / plateau multiplier")
    every: Int = Field(5, ge=1, description="step_decay period in epochs")
    k: Float = Field(0.1, ge=0, description="exponential / inverse-time decay rate")
    final: Float = Field(0.0, ge=0, description="cosine_decay final learning rate")
    patience: Int = Field(3, ge=1, description="plateau patience in epochs")
    warmup_epochs: Int = Field(0, ge=0, description="Goyal et al.'s gradual warm-up: the rate ramps per step, "
                               "from warmup_start x the target, to the target over this many epochs")
    warmup_start: Optional[Float] = Field(
        None, gt=0, le=1, description="the warm-up's first rate as a fraction of the target; default: "
        "base_batch_size / batch with lr_scaling = 'linear' (eta0/k), else 1/(warmup steps)")
    lr_scaling: Literal["none", "linear"] = Field(
        "none", description="linear: optimizer.lr is the rate for base_batch_size and scales as lr x B / "
        "base_batch_size (Goyal et al.; B the global batch: ranks x train.batch_size)")
    base_batch_size: Int = Field(256, ge=1, description="B0, the batch size optimizer.lr is meant for")
    momentum_warmup_epochs: Int = Field(
        0, ge=0, description="SGD momentum 0.5 for this many epochs, then optimizer.momentum (the notes' advice)"
    )
    per: Literal["epoch", "step"] = Field("epoch", description="t counts epochs or optimizer steps (the notes' "
                                          "decays use the step number); with 'step', every counts steps")

    ONLY_FOR: ClassVar[dict] = {
        "per": ("name", schedules.names("lr")),
        "factor": ("name", ("step_decay", "plateau")),
        "every": ("name", ("step_decay",)),
        "k": ("name", ("exponential_decay", "inverse_time_decay")),
        "final": ("name", ("cosine_decay",)),
        "patience": ("name", ("plateau",)),
        "base_batch_size": ("lr_scaling", ("linear",)),
        "warmup_epochs": ("name", ("constant", "step_decay", "exponential_decay", "inverse_time_decay",
                                   "cosine_decay")),
    }


    @model_validator(mode="after")
    def _check(self):
        if self.warmup_start is not None and not self.warmup_epochs:
            raise ValueError("schedule.warmup_start has no effect without schedule.warmup_epochs; remove it")
        return self


class RegularizationConfig(_Section):
    l1: Float = Field(0.0, ge=0, description="α of the L1 penalty α·Σ|w| on weights")
    l2: Float = Field(0.0, ge=0, description="α of the L2 penalty α/2·Σw² on weights")
    start_epoch: Int = Field(0, ge=0, description="l1, l2, optimizer.weight_decay are 0 before this 0-based epoch")
    ramp_epochs: Int = Field(0, ge=0, description="then full strength is reached in this many equal steps (epochs)")


class TrainConfig(_Section):
    epochs: Int = Field(40, ge=1)
    batch_size: Int = Field(32, ge=1)
    early_stopping: Optional[Int] = Field(None, ge=1, description="patience in epochs (needs a validation set)")
    checkpoint: Literal["best", "last", "none"] = "last"
    log_format: Literal["csv", "jsonl"] = "csv"
    tensorboard: Bool = Field(False, description="write TensorBoard event files to <run>/tensorboard/")
    sync_batchnorm: Bool = Field(False, description="under mpiexec, BatchNorm normalizes with the global batch's "
                                 "statistics (SyncBatchNorm) instead of each rank's own; needs BatchNorm layers")
    class_weight: Optional[Literal["balanced"] | list[float] | dict[str, float]] = Field(
        None, description="each training sample's loss weighted by its class: 'balanced' (n / (classes x count), "
        "on the training split), one weight per class, or a table {label = weight} (see cli/class_weights.py)")

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_weight(cls, value):
        return class_weights.check_value(value)

    @model_validator(mode="after")
    def _writer_installed(self):
        from ..train.callbacks.tensorboard import MISSING, writer_installed

        if self.tensorboard and not writer_installed():  # refused before a run folder exists
            raise ValueError(f"train.tensorboard = true: {MISSING}")
        return self


class RunConfig(_Section):
    name: str = Field("digits-mlp", min_length=1, max_length=200, pattern=f"^{NAME_CHARACTERS}$")
    seed: Int = Field(0, ge=0, le=2**32 - 1)
    runs_dir: str = "runs"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    # `nnlab tune`'s search space (checked by cli/tune.py); train ignores it and never stores it
    tune: Optional[dict] = Field(None, exclude=True)
    tasks: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], TaskConfig] = Field(
        default_factory=dict, description="multi-task learning: one head per task on the shared hidden layers")

    @field_validator("name")
    @classmethod
    def _plain_folder_name(cls, name: str) -> str:
        # "." and ".." would write into runs_dir itself or its parent; a leading dot hides the folder.
        if name.startswith("."):
            raise ValueError(f"name = {name!r} is not a plain folder name: it must not start with a dot "
                             "(letters, digits, '.', '_' and '-')")
        return name

    @model_validator(mode="after")
    def _across_sections(self):
        if self.schedule.momentum_warmup_epochs and (self.optimizer.name != "sgd" or self.optimizer.momentum == 0):
            raise ValueError("schedule.momentum_warmup_epochs needs optimizer.name = 'sgd' with optimizer.momentum > 0")
        self._schedule_has_a_rate()
        d = self.data
        if d.source == "csv" and not d.target and not self.tasks:
            raise ValueError("data.target (the label column name) is required when data.source = 'csv'")
        class_weights.check_config(self)
        if self.tasks:
            from .multitask import check_config

            check_config(self)
        r = self.regularization
        if (r.start_epoch or r.ramp_epochs) and not (r.l1 or r.l2 or self.optimizer.weight_decay):
            raise ValueError("regularization.start_epoch and ramp_epochs schedule regularization.l1, l2 or "
                             "optimizer.weight_decay; set one of them above 0")
        return self

    def _schedule_has_a_rate(self):
        # line_search picks its own step: a rate schedule failed mid-run (the plateau rules at their first cut,
        # the warm-up with a TypeError) and the linear scaling was silently ignored; refused before any training
        if "lr" in optim.settings(self.optimizer.name):
            return
        s = self.schedule
        used = [f"{key} = {value!r}" for key, value, default in (
            ("name", s.name, "constant"), ("warmup_epochs", s.warmup_epochs, 0), ("lr_scaling", s.lr_scaling, "none"))
            if value != default]
        if used:
            raise ValueError(f"schedule.{used[0]} acts on optimizer.lr, and optimizer.name = {self.optimizer.name!r} has "
                             "none (it picks its own step among optimizer.candidates); remove it")


for _name, _cls in (("data", DataConfig), ("model", ModelConfig), ("loss", LossConfig),
                    ("optimizer", OptimizerConfig), ("schedule", ScheduleConfig),
                    ("regularization", RegularizationConfig), ("train", TrainConfig),
                    ("pretrain", PretrainConfig), ("ensemble", EnsembleConfig)):
    _SECTION_NAMES[_cls.__name__] = _name


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
    """Validate a config dict; raise ConfigError listing every problem, on one line (joined by "; ")."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid {source}: {problems}") from None


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
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path!r} is not UTF-8 text, so not a TOML config "
                          "(a model file goes to `nnlab evaluate`, `predict` or `info`)") from None
    except PermissionError:
        raise ConfigError(f"cannot read config file {path!r}: permission denied") from None
    return parse_config(raw, source=f"config file {path!r}")
