"""``train.class_weight``: the config's class weights, checked, and turned into ``fit``'s {class index: weight}.

Three forms: ``"balanced"`` (scikit-learn's rule n_samples / (n_classes * bincount(y)),
counted on the training split only, so neither the validation nor the test rows
shape the loss), a list with one weight per class in the run's class order, or a
table keyed by the class labels as they appear in the data (TOML keys are text:
``"0"`` for the digit 0, ``"cat"`` for a CSV label); classes the table leaves out
weigh 1, as in Keras.  What can be checked without the data is checked with the
config; the number of classes and their labels are known only once the data are read.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

KEY = "train.class_weight"
FORMS = '"balanced", a list of one weight per class, or a table {label = weight}'


def check_value(value):
    """The config's value, validated (weights as floats); ValueError naming the key, the value and the forms."""
    if value is None:
        return None
    if isinstance(value, str):
        if value != "balanced":
            raise ValueError(f"{KEY} = {value!r} is not a choice: give {FORMS}")
        return value
    if isinstance(value, list | tuple):
        weights = [_weight(f"{KEY}[{i}]", w) for i, w in enumerate(value)]
    elif isinstance(value, dict):
        weights = {str(k): _weight(f"{KEY}.{k}", w) for k, w in value.items()}
    else:
        raise ValueError(f"{KEY} = {value!r} ({type(value).__name__}) is not a choice: give {FORMS}")
    if not weights:
        raise ValueError(f"{KEY} = {value!r} is empty: give {FORMS}")
    if isinstance(weights, list):  # a table's other classes weigh 1: checked with the data
        _not_all_zero(value, weights, ValueError)
    return weights


def _not_all_zero(value, weights, error) -> None:
    if not any(weights):
        raise error(f"{KEY} = {value!r}: every class weighs 0, so nothing would be learned; give a weight > 0")


def _weight(key: str, w) -> float:
    if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
        raise ValueError(f"{key} = {w!r} is not a weight: give a finite number >= 0")
    return float(w)


def check_config(cfg) -> None:
    """Refuse the runs whose training ``fit`` cannot weight by class, naming the keys."""
    if cfg.train.class_weight is None:
        return
    if cfg.tasks:  # fit refuses a MultiTaskLoss; a regression head has no classes to weigh
        raise ValueError(f"{KEY} weighs the classes of a single-task run; this config has [tasks] (a multi-task "
                         f"run, whose mse heads are regressions without classes): remove {KEY} or the [tasks] tables")
    if cfg.ensemble.method != "none":
        raise ValueError(f"{KEY} is not supported with ensemble.method = {cfg.ensemble.method!r} (the members "
                         f"train without weights): remove one of them")
    r = cfg.regularization
    if r.l1 or r.l2:  # fit weighs a loss of per-sample values, and a weight penalty is none
        used = "regularization.l1" if r.l1 else "regularization.l2"
        raise ValueError(f"{KEY} cannot be combined with {used} (fit weighs the per-sample loss, and the weight "
                         f"penalty is no sample's); for L2 use optimizer.weight_decay instead")


def fit_class_weight(cfg, splits) -> dict[int, float] | None:
    """``fit``'s class_weight for the run: {output index: weight} (None without ``train.class_weight``)."""
    value = cfg.train.class_weight
    classes = splits.classes
    shown = ", ".join(map(repr, classes[:10])) + (", ..." if len(classes) > 10 else "")
    if value is None:
        return None
    if value == "balanced":
        y = np.asarray(splits.train[1])
        counts = np.bincount(y, minlength=len(classes))
        if not counts.all():
            missing = classes[int(np.argmin(counts))]
            raise ConfigError(f"{KEY} = 'balanced': class {missing!r} has no sample in the training split, so it "
                              f"has no balanced weight; give the weights as a list or a table")
        weights = len(y) / (len(classes) * counts.astype(np.float64))
        return {i: float(w) for i, w in enumerate(weights)}
    if isinstance(value, list):
        if len(value) != len(classes):
            raise ConfigError(f"{KEY} has {len(value)} weights, but the data have {len(classes)} classes ({shown}, "
                              f"in this order): give one weight per class")
        return dict(enumerate(value))
    index = {str(c): i for i, c in enumerate(classes)}
    unknown = [k for k in value if k not in index]
    if unknown:
        raise ConfigError(f"{KEY} names the label {unknown[0]!r}, which is not one of the data's classes ({shown})")
    table = {index[k]: w for k, w in value.items()}
    _not_all_zero(value, [table.get(i, 1.0) for i in range(len(classes))], ConfigError)
    return table
