"""Turn a validated :class:`RunConfig` into data, a model, a loss and an optimizer (its callbacks: ``callbacks.py``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from .. import datasets, losses, nn, optim
from ..data import (
    GaussianNoiseAugment,
    Jitter,
    MinMaxScaler,
    OneHotEncoder,
    Pipeline,
    Standardizer,
    UnitNormalizer,
    check_labels,
    load_mnist_folder,
    one_hot,
    read_csv,
    read_npz,
    train_test_split,
)
from ..errors import ConfigError, DataError
from ..optim import schedules
from .config import _GENERATED, RunConfig
from .memory import check_layers_memory, check_memory, check_model_memory

_IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28)}
_PREPROCESSORS = {"standardize": Standardizer, "minmax": MinMaxScaler, "unit_norm": UnitNormalizer}


@dataclass
class Splits:
    """Raw (unpreprocessed) splits; ``preprocessing`` is fitted on the training split only."""

    train: tuple
    val: tuple | None
    test: tuple
    preprocessing: object | None
    num_features: int
    num_classes: int
    test_is_train: bool = False
    classes: list = field(default_factory=list)  # the label of each output unit (ints or class names)

    def prepared(self, part):
        """A split with the preprocessing applied."""
        X, y = part
        return (self.preprocessing.transform(X) if self.preprocessing else X), y


def load_raw(cfg: RunConfig):
    """``(X, y)`` of the configured source, or for MNIST its own train and test parts."""
    d = cfg.data
    if d.source == "csv":  # categorical columns stay text for the OneHotEncoder (the notes' "male"/"female")
        return read_csv(d.path, target=d.target, with_names=True, categorical=d.categorical_columns or None)
    if d.source == "npz":
        return read_npz(d.path)
    if d.source == "mnist":
        return load_mnist_folder(d.path)
    if d.source == "mnist1d":  # generated with the package's defaults; its own train/test split
        return datasets.mnist1d()
    if d.source == "blobs":  # data.noise is the standard deviation of each blob
        return datasets.load("blobs", n=d.n, std=d.noise, seed=cfg.seed)
    if d.source in ("moons", "circles", "spirals"):
        return datasets.load(d.source, n=d.n, noise=d.noise, seed=cfg.seed)
    return datasets.load(d.source)


def prepare_data(cfg: RunConfig) -> Splits:
    d = cfg.data
    if d.source in ("moons", "circles", "spirals", "blobs"):  # two features, labels, and the splits' copies
        check_memory(f"data.n = {d.n}", d.n * 3 * 8 * 4, "lower data.n")
    raw = load_raw(cfg)
    names = None
    if d.source in ("mnist", "mnist1d"):
        (X, y), test = raw
    elif d.source == "csv":
        X, y, info = raw
        names = info["class_names"]
        test = None
        columns = [info["feature_names"].index(c) if isinstance(c, str) else c for c in d.categorical_columns]
    else:
        X, y = raw
        test = None
    if y is None:
        raise DataError(f"data source {d.source!r} gave no labels")
    classes, (y, test_y) = label_classes([y, None if test is None else test[1]], names)
    if test is not None:
        test = (test[0], test_y)
    if len(X) < 2:
        raise DataError(f"the data set has {len(X)} samples; training needs at least 2")
    test_is_train = False
    try:
        if test is None:
            if d.test_size > 0:
                X, X_test, y, y_test = train_test_split(X, y, test_size=d.test_size, seed=cfg.seed)
                test = (X_test, y_test)
            else:
                test_is_train = True
        val = None
        if d.val_size > 0:
            # val_size is a fraction of the whole data set; rescale it to what is left after the test split.
            fraction = d.val_size if test_is_train else d.val_size / (1 - d.test_size)
            X, X_val, y, y_val = train_test_split(X, y, test_size=min(fraction, 0.9), seed=cfg.seed + 1)
            val = (X_val, y_val)
        if test_is_train:  # no test split: "training" figures are on the training rows, not the validation ones
            test = (X, y)
    except DataError as exc:  # name the config keys, not the split function's arguments
        where = f"data.n = {d.n}" if d.source in _GENERATED else f"data.source = {d.source!r}"
        raise DataError(f"the data set ({where}) is too small to split into training, test (data.test_size = "
                        f"{d.test_size:g}) and validation (data.val_size = {d.val_size:g}) parts of one sample or "
                        f"more ({exc}); use more samples or set these fractions to 0") from None
    steps = []
    if d.categorical_columns:
        steps.append(OneHotEncoder(columns=columns if d.source == "csv" else d.categorical_columns))
    steps += [_PREPROCESSORS[name]() for name in d.preprocessing]
    preprocessing = Pipeline(steps).fit(X) if steps else None
    num_features = preprocessing.transform(X[:1]).shape[1] if preprocessing else X.shape[1]
    return Splits((X, y), val, test, preprocessing, num_features, len(classes), test_is_train, classes)


def label_classes(parts: list, class_names=None) -> tuple[list, list]:
    """The classes seen in the label arrays ``parts`` (None entries skipped), and the parts mapped to 0..K-1.

    Sparse labels such as {0, 3000} give two classes, not 3001; ``class_names``
    (text labels read from a CSV file) name the classes instead of their indices.
    """
    checked = [None if y is None else check_labels(y) for y in parts]
    values = np.unique(np.concatenate([y for y in checked if y is not None]))
    if len(values) < 2:
        shown = class_names[values[0]] if class_names else int(values[0])
        raise DataError(f"the labels hold one class only ({shown!r}); a classifier needs two or more")
    classes = [class_names[v] for v in values] if class_names else [int(v) for v in values]
    mapped = [None if y is None else np.searchsorted(values, y).astype(np.int64) for y in checked]
    return classes, mapped


def training_data(cfg: RunConfig, splits: Splits):
    """The training split and the per-batch augmentation to apply to it in ``fit``.

    Jitter shifts pixels, so it must see raw images: with jitter the split stays
    raw and the preprocessing runs per batch after it.  Input noise is added
    after preprocessing, so its std is in units of the normalized features.
    """
    d = cfg.data
    steps = []
    train = splits.prepared(splits.train)
    if d.augment_jitter:
        shape = d.image_shape or _IMAGE_SHAPES.get(d.source)
        if shape is None:
            raise DataError("data.augment_jitter needs data.image_shape = [height, width] for this data source")
        steps.append(Jitter(shape=tuple(shape), max_shift=d.augment_jitter, rng=cfg.seed + 2))
        if splits.preprocessing is not None:
            train = splits.train
            steps.append(splits.preprocessing.transform)
    if d.augment_noise_std:
        steps.append(GaussianNoiseAugment(d.augment_noise_std, rng=cfg.seed + 3))
    return train, (steps or None)


def activation_module(m, width: int) -> nn.Module:
    """The activation module for ``model.activation`` (the config's lower-case names) and its arguments."""
    alpha = {} if m.activation_alpha is None else {"init" if m.activation == "prelu" else "alpha": m.activation_alpha}
    args = {**alpha, **m.activation_args}
    classes = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
    classes.update({cls.__name__.lower(): cls for cls in (
        nn.GELU, nn.SiLU, nn.Softplus, nn.Softsign, nn.SELU, nn.CELU, nn.ReLU6, nn.Hardtanh, nn.Hardsigmoid,
        nn.Hardswish, nn.Mish, nn.LogSigmoid, nn.Hardshrink, nn.Softshrink, nn.Tanhshrink, nn.RReLU)})
    if m.activation == "prelu":
        cls, args = nn.PReLU, {"num_parameters": width if m.prelu_per_channel else 1, **args}
    else:
        cls = classes[m.activation]
    try:
        return cls(**args)
    except TypeError as exc:
        allowed = [p for p in inspect.signature(cls).parameters if p not in ("num_parameters", "dtype")]
        raise ConfigError(f"model.activation_args {m.activation_args!r}: {cls.__name__} takes "
                          f"{', '.join(allowed) or 'no arguments'} ({exc})") from None
    except ConfigError as exc:
        raise ConfigError(f"model.activation_args {m.activation_args!r}: {exc}") from None


def _activity_penalty(m) -> list:
    """An ActivityRegularization after each hidden activation when model.activity_* ask for one."""
    if not (m.activity_l1 or m.activity_kl_weight):
        return []
    return [nn.ActivityRegularization(l1=m.activity_l1, kl_target=m.activity_kl_target, kl_weight=m.activity_kl_weight)]


def build_model(cfg: RunConfig, num_features: int, num_classes: int, rows: int | None = None) -> nn.Module:
    """``model.layers`` as a Sequential, or an MLP: [noise] [input dropout] (Linear [BatchNorm] activation [dropout])* Linear.

    ``rows``: the training split's size, if known (the memory check's largest batch).
    """
    model = _layers_model(cfg.model.layers, num_features, num_classes) if cfg.model.layers is not None else \
        _mlp(cfg, num_features, num_classes, rows)
    return _synchronized_batchnorm(cfg, model)


def _synchronized_batchnorm(cfg: RunConfig, model: nn.Module) -> nn.Module:
    """train.sync_batchnorm: under mpiexec every BatchNorm becomes a SyncBatchNorm (one process: nothing changes)."""
    if not cfg.train.sync_batchnorm:
        return model
    if not any(isinstance(m, nn.BatchNorm) for m in model.modules()):
        raise ConfigError("train.sync_batchnorm = true synchronizes BatchNorm layers, but the model has none: set "
                          "model.batch_norm = true (or add a BatchNorm to model.layers), or drop train.sync_batchnorm")
    from .. import distributed

    return distributed.convert_sync_batchnorm(model) if distributed.is_active() else model


def _mlp(cfg: RunConfig, num_features: int, num_classes: int, rows: int | None = None) -> nn.Module:
    m = cfg.model
    check_model_memory(cfg, num_features, num_classes, rows)
    weight_init = m.weight_init or ("xavier_normal" if m.activation in ("sigmoid", "tanh") else "he_normal")
    bias_init = nn.init.constant(m.bias_init) if isinstance(m.bias_init, float | int) else m.bias_init
    layers = []
    if m.input_noise_std:
        layers.append(nn.GaussianNoise(m.input_noise_std))
    if m.input_dropout_keep < 1:
        layers.append(nn.Dropout(keep=m.input_dropout_keep))
    width = num_features
    for size in m.hidden:
        if m.activation == "maxout":
            layers.append(nn.Maxout(width, size, pieces=m.maxout_pieces, weight_init=weight_init))
        else:
            layers.append(nn.Linear(width, size, weight_init=weight_init, bias_init=bias_init))
            if m.batch_norm:
                layers.append(nn.BatchNorm(size))
            layers.append(activation_module(m, size))
        layers += _activity_penalty(m)
        if m.dropout_keep < 1:
            layers.append(nn.Dropout(keep=m.dropout_keep))
        width = size
    out_init = "xavier_normal" if cfg.loss.name != "cross_entropy" else weight_init
    layers.append(nn.Linear(width, num_classes, weight_init=out_init))
    return nn.Sequential(*layers)


def _layers_model(layers: list, num_features: int, num_classes: int) -> nn.Module:
    """A Sequential of registered layers, checked to map rows of ``num_features`` to ``num_classes`` outputs."""
    spec = {"type": "Sequential", "layers": [dict(layer) for layer in layers]}
    check_layers_memory(spec)  # before from_spec allocates the weights: a refusal, not a MemoryError
    try:
        model = nn.from_spec(spec)
        out_shape = model.flops_by_layer((1, num_features))[-1]["output_shape"]
    except ConfigError as exc:
        raise ConfigError(f"model.layers: {exc}") from None
    if tuple(out_shape) != (1, num_classes):
        raise ConfigError(
            f"model.layers maps rows of {num_features} features to shape {tuple(out_shape)}; "
            f"the data have {num_classes} classes, so the last layer must give (1, {num_classes})"
        )
    return model


def build_loss(cfg: RunConfig, num_classes: int, model=None, scheduler=None):
    """``loss(output, labels)``; with ``model``, the configured L1/L2 penalties on its weights are added.

    ``scheduler`` (a :class:`RegularizationScheduler`) scales the penalties by its ``factor``.
    """
    name = cfg.loss.name
    fn = losses.get(name, **{key: getattr(cfg.loss, key) for key, (_, used_by) in cfg.loss.ONLY_FOR.items()
                             if name in used_by})
    base = fn if name in cfg.loss.ON_LABELS else _OnLabels(fn, num_classes)
    penalty = weight_penalty(cfg, model, scheduler)
    if penalty is None:
        return base

    def penalized(out, y):
        return base(out, y) + penalty()

    return penalized


class _OnLabels(losses.Loss):
    """A loss of one-hot targets called with the class labels, still an nnlab Loss: fit recomputes it per
    sample (reduction='none') to weigh each sample by train.class_weight, which a plain function would not allow."""

    class_targets = True

    def __init__(self, loss: losses.Loss, num_classes: int):
        self.reduction = loss.reduction
        self._settings = {"loss": loss, "num_classes": num_classes}

    @staticmethod
    def _fn(output, target, reduction, loss, num_classes):
        return type(loss)._fn(output, one_hot(target, num_classes), reduction=reduction, **loss._settings)


def weight_penalty(cfg: RunConfig, model, scheduler=None):
    """The configured L1/L2 penalties on ``model``'s weights as a function () -> Tensor, or None without any.

    ``scheduler`` (a :class:`RegularizationScheduler`) scales them by its ``factor``.
    """
    reg = cfg.regularization
    if model is None or not (reg.l1 or reg.l2):
        return None
    params = list(model.named_parameters())

    def penalty():
        factor = 1.0 if scheduler is None else scheduler.factor
        total = 0.0
        if reg.l1 and factor:
            total = total + losses.l1_penalty(params, reg.l1 * factor)
        if reg.l2 and factor:
            total = total + losses.l2_penalty(params, reg.l2 * factor)
        return total

    return penalty


def build_optimizer(cfg: RunConfig, model, lr: float | None = None) -> optim.Optimizer:
    """The config's optimizer over ``model`` (a Module or its parameters) at its training rate: ``scaled_lr``
    of ``lr``, a value for optimizer.lr (default: the config's)."""
    o = cfg.optimizer
    # Weight decay applies to weights only (nn.is_weight): biases, BatchNorm's γ/β and PReLU's α are left alone.
    groups = optim.weight_decay_groups(model, o.weight_decay)
    settings = {k: v for k, v in o.model_dump().items() if k in optim.settings(o.name)}
    if "lr" in settings:
        settings["lr"] = scaled_lr(cfg, lr)
    return optim.get(o.name, groups, **settings)


def global_batch_size(cfg: RunConfig) -> int:
    """The batch one update averages over: train.batch_size on every rank of a distributed run."""
    from ..distributed import world_size

    return cfg.train.batch_size * world_size()


def scaled_lr(cfg: RunConfig, lr: float | None = None) -> float:
    """The rate training uses for optimizer.lr = ``lr`` (default: the config's): times B/B0 with
    schedule.lr_scaling = "linear" (Goyal et al.'s linear scaling rule), else ``lr`` itself."""
    lr = cfg.optimizer.lr if lr is None else lr
    if cfg.schedule.lr_scaling == "none":
        return lr
    return schedules.linear_scaling(lr, global_batch_size(cfg), cfg.schedule.base_batch_size)
