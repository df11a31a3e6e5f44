"""Preprocessing fitted on training data only, with a state that is saved with the model.

Each preprocessor has ``fit(X)``, ``transform(X)``, ``fit_transform(X)``,
``get_state() -> dict`` (JSON values and ndarrays; :func:`split_state` separates the
two for a model file) and ``from_state(state)``; :func:`preprocessor_from_state`
rebuilds any of them. ``transform`` checks the feature count against the data seen
by ``fit``, so a model refuses inputs of the wrong width with a clear message.

The seeds: "Normalize the input variables (zero mean, unit variance)"; categorical
data becomes a one-hot encoding, for features and for class labels.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError, ModelFileError
from .validation import as_features, check_labels

_REGISTRY: dict[str, type[Preprocessor]] = {}


class Preprocessor:
    """Base class: the fit/transform protocol, the feature-count check and the state registry."""

    n_features: int | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def fit(self, X) -> Preprocessor:
        raise NotImplementedError

    def transform(self, X) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def get_state(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_state(cls, state: dict) -> Preprocessor:
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        return self.n_features is not None

    def _input(self, X, fitting: bool = False) -> np.ndarray:
        """X as a finite 2-D float array (float32 unless already floating) of the fitted width."""
        name = type(self).__name__
        if not fitting and not self.fitted:
            raise DataError(f"{name} is not fitted yet: call fit(X_train) first")
        array = np.asarray(X)
        dtype = array.dtype if array.dtype.kind == "f" else np.float32
        array = as_features(array, dtype=dtype, name=f"{name} input")
        if array.ndim != 2:
            raise DataError(f"{name} expects a 2-D array (samples, features), got shape {array.shape}")
        if not fitting and array.shape[1] != self.n_features:
            raise DataError(f"{name}: expected {self.n_features} features, got {array.shape[1]}")
        return array

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'fitted' if self.fitted else 'not fitted'})"


class Standardizer(Preprocessor):
    """Zero mean and unit variance per feature column: (x - mean) / std.

    A constant column keeps a scale of 1 (it becomes all zeros) instead of dividing by zero.

    >>> s = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> s.transform(np.array([[2.0, 5.0], [5.0, 6.0]])).tolist()
    [[0.0, 0.0], [3.0, 1.0]]
    """

    def fit(self, X) -> Standardizer:
        X = self._input(X, fitting=True)
        self.mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        constant = X.max(axis=0) == X.min(axis=0)
        self.scale = np.where(constant, 1.0, std)
        self.n_features = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = self._input(X)
        return (X - self.mean.astype(X.dtype)) / self.scale.astype(X.dtype)

    def inverse_transform(self, X) -> np.ndarray:
        X = self._input(X)
        return X * self.scale.astype(X.dtype) + self.mean.astype(X.dtype)

    def get_state(self) -> dict:
        _require_fitted(self)
        return {"type": "Standardizer", "n_features": self.n_features, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict) -> Standardizer:
        self = cls()
        self.n_features = _state_int(state, "n_features")
        self.mean, self.scale = (_state_vector(state, key, self.n_features) for key in ("mean", "scale"))
        return self


class MinMaxScaler(Preprocessor):
    """Scale each feature column linearly so the training data spans ``feature_range``.

    >>> MinMaxScaler().fit_transform(np.array([[0.0], [5.0], [10.0]])).ravel().tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(self, feature_range=(0.0, 1.0)):
        low, high = (float(v) for v in feature_range)
        if not low < high:
            raise ConfigError(f"MinMaxScaler feature_range must have low < high, got {tuple(feature_range)}")
        self.feature_range = (low, high)

    def fit(self, X) -> MinMaxScaler:
        X = self._input(X, fitting=True)
        self.data_min = X.min(axis=0).astype(np.float64)
        span = X.max(axis=0).astype(np.float64) - self.data_min
        low, high = self.feature_range
        self.scale = (high - low) / np.where(span == 0, 1.0, span)
        self.n_features = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = self._input(X)
        return (X - self.data_min.astype(X.dtype)) * self.scale.astype(X.dtype) + X.dtype.type(self.feature_range[0])

    def inverse_transform(self, X) -> np.ndarray:
        X = self._input(X)
        return (X - X.dtype.type(self.feature_range[0])) / self.scale.astype(X.dtype) + self.data_min.astype(X.dtype)

    def get_state(self) -> dict:
        _require_fitted(self)
        return {"type": "MinMaxScaler", "n_features": self.n_features, "feature_range": list(self.feature_range),
                "data_min": self.data_min, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict) -> MinMaxScaler:
        self = cls(_state_get(state, "feature_range"))
        self.n_features = _state_int(state, "n_features")
        self.data_min, self.scale = (_state_vector(state, key, self.n_features) for key in ("data_min", "scale"))
        return self


class UnitNormalizer(Preprocessor):
    """Scale each row (sample) to unit Euclidean norm; an all-zero row stays zero.

    >>> UnitNormalizer().fit_transform(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """

    def fit(self, X) -> UnitNormalizer:
        self.n_features = self._input(X, fitting=True).shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = self._input(X)
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))[:, None]
        return X / np.where(norms == 0, X.dtype.type(1), norms)

    def get_state(self) -> dict:
        _require_fitted(self)
        return {"type": "UnitNormalizer", "n_features": self.n_features}

    @classmethod
    def from_state(cls, state: dict) -> UnitNormalizer:
        self = cls()
        self.n_features = _state_int(state, "n_features")
        return self


class OneHotEncoder(Preprocessor):
    """One-hot encode class labels (a 1-D array) or the categorical feature ``columns`` of X.

    Categories are the sorted distinct values seen by ``fit``. For a 2-D ``X`` each
    listed column is replaced, in place, by one 0/1 column per category; the other
    columns pass through. ``columns=None`` encodes every column. A value not seen in
    ``fit`` is an error (``handle_unknown="error"``) or an all-zero block ("ignore").

    >>> OneHotEncoder().fit_transform(np.array([2, 0, 2])).tolist()
    [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    >>> enc = OneHotEncoder(columns=[1]).fit(np.array([[0.5, 1], [0.7, 3]]))
    >>> enc.transform(np.array([[0.1, 3]])).tolist()
    [[0.1, 0.0, 1.0]]
    """

    def __init__(self, columns=None, handle_unknown: str = "error", dtype=np.float32):
        if handle_unknown not in ("error", "ignore"):
            raise ConfigError(f"handle_unknown must be 'error' or 'ignore', got {handle_unknown!r}")
        self.columns = None if columns is None else [int(c) for c in np.atleast_1d(columns)]
        self.handle_unknown = handle_unknown
        self.dtype = np.dtype(dtype)
        self.labels_mode = False

    @property
    def fitted(self) -> bool:
        return hasattr(self, "categories")

    def fit(self, X) -> OneHotEncoder:
        values = np.asarray(X)
        if values.ndim == 1:
            if self.columns not in (None, [0]):
                raise DataError(f"OneHotEncoder columns={self.columns} needs a 2-D X, got a 1-D array")
            values = _labels_column(values)
            self.labels_mode, self.n_features, self.encoded = True, None, [0]
            self.categories = [np.unique(values)]
            return self
        values = self._input(values, fitting=True) if values.dtype.kind != "i" else _int_features(values, self)
        n = values.shape[1]
        columns = range(n) if self.columns is None else self.columns
        bad = [c for c in columns if not -n <= c < n]
        if bad:
            raise DataError(f"OneHotEncoder columns {bad} do not exist: X has {n} features (0..{n - 1})")
        self.labels_mode, self.n_features = False, n
        self.encoded = sorted({c % n for c in columns})
        self.categories = [np.unique(values[:, c]) for c in self.encoded]
        return self

    def transform(self, X) -> np.ndarray:
        if not self.fitted:
            raise DataError("OneHotEncoder is not fitted yet: call fit(X_train) first")
        values = np.asarray(X)
        if self.labels_mode:
            if values.ndim != 1:
                raise DataError(f"this OneHotEncoder was fitted on 1-D labels, got shape {values.shape}")
            return self._block(_labels_column(values), 0, "label")
        if values.ndim == 1:
            raise DataError(f"this OneHotEncoder was fitted on {self.n_features} feature columns, got a 1-D array")
        values = self._input(values) if values.dtype.kind != "i" else _int_features(values, self, check=True)
        pieces, start = [], 0
        out_dtype = np.result_type(self.dtype, values.dtype) if values.dtype.kind == "f" else self.dtype
        for i, column in enumerate(self.encoded):
            pieces.append(values[:, start:column].astype(out_dtype))
            pieces.append(self._block(values[:, column], i, f"feature column {column}").astype(out_dtype))
            start = column + 1
        pieces.append(values[:, start:].astype(out_dtype))
        return np.concatenate(pieces, axis=1)

    def inverse_transform(self, encoded) -> np.ndarray:
        """Class labels from one-hot rows (or scores: the largest wins), for a label encoder."""
        if not self.fitted or not self.labels_mode:
            raise DataError("inverse_transform needs an OneHotEncoder fitted on 1-D labels")
        return self.categories[0][np.argmax(np.asarray(encoded), axis=1)]

    def _block(self, values: np.ndarray, i: int, what: str) -> np.ndarray:
        categories = self.categories[i]
        position = np.clip(np.searchsorted(categories, values), 0, len(categories) - 1)
        known = categories[position] == values
        if not known.all() and self.handle_unknown == "error":
            row = int(np.argmin(known))
            shown = ", ".join(_format(c) for c in categories[:20]) + (", ..." if len(categories) > 20 else "")
            raise DataError(
                f"OneHotEncoder: {what} has value {_format(values[row])} at row {row}, not seen in fit "
                f"(known: {shown})"
            )
        out = np.zeros((len(values), len(categories)), dtype=self.dtype)
        rows = np.flatnonzero(known)
        out[rows, position[rows]] = 1
        return out

    def get_state(self) -> dict:
        _require_fitted(self)
        return {"type": "OneHotEncoder", "labels_mode": self.labels_mode, "n_features": self.n_features,
                "columns": self.encoded, "handle_unknown": self.handle_unknown, "dtype": self.dtype.name,
                "categories": [c.tolist() for c in self.categories]}

    @classmethod
    def from_state(cls, state: dict) -> OneHotEncoder:
        self = cls(columns=_state_get(state, "columns"), handle_unknown=_state_get(state, "handle_unknown"),
                   dtype=_state_get(state, "dtype"))
        self.labels_mode = bool(_state_get(state, "labels_mode"))
        self.n_features = None if self.labels_mode else _state_int(state, "n_features")
        self.encoded = self.columns
        self.categories = [np.asarray(c) for c in _state_get(state, "categories")]
        if len(self.categories) != len(self.encoded):
            raise DataError("OneHotEncoder state: 'categories' and 'columns' differ in length")
        return self


class Pipeline(Preprocessor):
    """Preprocessors applied in order; each is fitted on the output of the ones before it.

    >>> p = Pipeline([MinMaxScaler(), Standardizer()]).fit(np.array([[1.0], [3.0]]))
    >>> p.transform(np.array([[1.0], [3.0]])).ravel().tolist()
    [-1.0, 1.0]
    """

    def __init__(self, steps):
        self.steps = list(steps)
        for step in self.steps:
            if not isinstance(step, Preprocessor):
                raise ConfigError(f"a Pipeline step must be a preprocessor, got {step!r}")

    @property
    def fitted(self) -> bool:
        return all(step.fitted for step in self.steps)

    @property
    def n_features(self):
        return self.steps[0].n_features if self.steps else None

    def fit(self, X) -> Pipeline:
        for step in self.steps:
            X = step.fit_transform(X)
        return self

    def fit_transform(self, X) -> np.ndarray:
        for step in self.steps:
            X = step.fit_transform(X)
        return X

    def transform(self, X) -> np.ndarray:
        for step in self.steps:
            X = step.transform(X)
        return X

    def get_state(self) -> dict:
        return {"type": "Pipeline", "steps": [step.get_state() for step in self.steps]}

    @classmethod
    def from_state(cls, state: dict) -> Pipeline:
        return cls([preprocessor_from_state(step) for step in _state_get(state, "steps")])


def one_hot(labels, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Rows of 0/1 with a 1 at each label's index; labels must be integers 0..K-1.

    >>> one_hot([1, 0], num_classes=3).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    labels = check_labels(labels, num_classes)
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    out = np.zeros((len(labels), k), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def preprocessor_from_state(state: dict) -> Preprocessor:
    """Rebuild a preprocessor (or Pipeline) from ``get_state()``'s dict."""
    if not isinstance(state, dict) or "type" not in state:
        raise DataError(f"a preprocessor state must be a dict with a 'type' key, got {type(state).__name__}")
    kind = state["type"]
    if kind not in _REGISTRY or kind == "Preprocessor":
        known = ", ".join(sorted(k for k in _REGISTRY if k != "Preprocessor"))
        raise DataError(f"unknown preprocessor type {kind!r}; known: {known}")
    return _REGISTRY[kind].from_state(state)


def split_state(state, prefix: str = "preprocessing"):
    """Separate a state into a JSON-able part and a flat ``{name: ndarray}`` dict (e.g. for safetensors).

    Each array in the JSON part is replaced by ``{"__array__": name}``; :func:`merge_state` undoes this.

    >>> meta, arrays = split_state({"type": "Standardizer", "mean": np.zeros(2)})
    >>> meta, list(arrays)
    ({'type': 'Standardizer', 'mean': {'__array__': 'preprocessing.mean'}}, ['preprocessing.mean'])
    """
    arrays: dict[str, np.ndarray] = {}

    def walk(value, path):
        if isinstance(value, np.ndarray):
            arrays[path] = np.ascontiguousarray(value)
            return {"__array__": path}
        if isinstance(value, dict):
            return {key: walk(item, f"{path}.{key}") for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item, f"{path}.{i}") for i, item in enumerate(value)]
        if isinstance(value, np.generic):
            return value.item()
        return value

    return walk(state, prefix), arrays


def merge_state(meta, arrays: dict):
    """Put the arrays named in ``meta`` back in place (the inverse of :func:`split_state`)."""

    def walk(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                name = value["__array__"]
                if name not in arrays:
                    raise ModelFileError(f"preprocessing array {name!r} is missing from the weights")
                return np.asarray(arrays[name])
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(meta)


def _labels_column(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind not in "biuf":
        raise DataError(f"OneHotEncoder: labels must be numbers, got {values.dtype}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise DataError(f"OneHotEncoder: label at row {int(np.argmin(np.isfinite(values)))} is NaN or infinite")
    return values


def _int_features(values: np.ndarray, encoder: OneHotEncoder, check: bool = False) -> np.ndarray:
    """Integer feature matrices keep their integer categories (no float round trip)."""
    if values.ndim != 2 or values.shape[0] == 0:
        raise DataError(f"OneHotEncoder expects a non-empty 2-D array, got shape {values.shape}")
    if check and values.shape[1] != encoder.n_features:
        raise DataError(f"OneHotEncoder: expected {encoder.n_features} features, got {values.shape[1]}")
    return values


def _format(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _require_fitted(preprocessor: Preprocessor) -> None:
    if not preprocessor.fitted:
        raise DataError(f"{type(preprocessor).__name__} is not fitted: there is no state to save")


def _state_get(state: dict, key: str):
    try:
        return state[key]
    except (KeyError, TypeError):
        raise DataError(f"{state.get('type', 'preprocessor') if isinstance(state, dict) else 'preprocessor'} "
                        f"state is missing {key!r}") from None


def _state_int(state: dict, key: str) -> int:
    value = _state_get(state, key)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise DataError(f"{state.get('type')} state: {key!r} must be a positive integer, got {value!r}")
    return int(value)


def _state_vector(state: dict, key: str, length: int) -> np.ndarray:
    vector = np.asarray(_state_get(state, key), dtype=np.float64)
    if vector.shape != (length,) or not np.isfinite(vector).all():
        raise DataError(f"{state.get('type')} state: {key!r} must be {length} finite numbers, got shape {vector.shape}")
    return vector
