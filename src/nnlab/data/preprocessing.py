"""Preprocessing fitted on training data only, with a state that is saved with the model.

Each preprocessor has ``fit(X)``, ``transform(X)``, ``fit_transform(X)``,
``get_state() -> dict`` (JSON values and ndarrays; :func:`split_state` separates the
two for a model file) and ``from_state(state)``; :func:`preprocessor_from_state`
rebuilds any of them. ``transform`` checks the feature count against the data seen
by ``fit``, so a model refuses inputs of the wrong width with a clear message.

The seeds: "Normalize the input variables (zero mean, unit variance)". Categorical
data becomes a one-hot encoding (:mod:`nnlab.data.encoding`), for features and for
class labels.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..errors import ConfigError, DataError, ModelFileError
from .validation import as_features

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

    @property
    def n_outputs(self) -> int | None:
        """Features per row that ``transform`` gives, None when not known (a scaler keeps the width)."""
        return self.n_features

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
        require_fitted(self)
        return {"type": "Standardizer", "n_features": self.n_features, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict) -> Standardizer:
        self = cls()
        self.n_features = state_int(state, "n_features")
        self.mean = state_vector(state, "mean", self.n_features)
        self.scale = state_vector(state, "scale", self.n_features, positive=True)
        return self


class MinMaxScaler(Preprocessor):
    """Scale each feature column linearly so the training data spans ``feature_range``.

    >>> MinMaxScaler().fit_transform(np.array([[0.0], [5.0], [10.0]])).ravel().tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(self, feature_range=(0.0, 1.0)):
        try:
            low, high = feature_range
        except (TypeError, ValueError):
            raise ConfigError(f"MinMaxScaler: feature_range must be a pair (low, high), got {feature_range!r}") from None
        low = check_float("feature_range low", low, owner="MinMaxScaler")
        high = check_float("feature_range high", high, owner="MinMaxScaler")
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
        require_fitted(self)
        return {"type": "MinMaxScaler", "n_features": self.n_features, "feature_range": list(self.feature_range),
                "data_min": self.data_min, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict) -> MinMaxScaler:
        self = cls(state_get(state, "feature_range"))
        self.n_features = state_int(state, "n_features")
        self.data_min = state_vector(state, "data_min", self.n_features)
        self.scale = state_vector(state, "scale", self.n_features, positive=True)
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
        require_fitted(self)
        return {"type": "UnitNormalizer", "n_features": self.n_features}

    @classmethod
    def from_state(cls, state: dict) -> UnitNormalizer:
        self = cls()
        self.n_features = state_int(state, "n_features")
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

    @property
    def n_outputs(self):
        return self.steps[-1].n_outputs if self.steps else None

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
        return cls([preprocessor_from_state(step) for step in state_get(state, "steps")])


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


def require_fitted(preprocessor: Preprocessor) -> None:
    if not preprocessor.fitted:
        raise DataError(f"{type(preprocessor).__name__} is not fitted: there is no state to save")


def state_get(state: dict, key: str):
    try:
        return state[key]
    except (KeyError, TypeError):
        raise DataError(f"{state.get('type', 'preprocessor') if isinstance(state, dict) else 'preprocessor'} "
                        f"state is missing {key!r}") from None


def state_int(state: dict, key: str) -> int:
    value = state_get(state, key)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise DataError(f"{state.get('type')} state: {key!r} must be a positive integer, got {value!r}")
    return int(value)


def state_vector(state: dict, key: str, length: int, positive: bool = False) -> np.ndarray:
    vector = np.asarray(state_get(state, key), dtype=np.float64)
    if vector.shape != (length,) or not np.isfinite(vector).all():
        raise DataError(f"{state.get('type')} state: {key!r} must be {length} finite numbers, got shape {vector.shape}")
    if positive and not (vector > 0).all():  # fit never makes one; an edited file would divide by zero
        raise DataError(f"{state.get('type')} state: {key!r} must be positive, got {vector[vector <= 0][:3].tolist()}")
    return vector
