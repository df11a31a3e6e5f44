"""One-hot encoding of categories: OneHotEncoder (labels or feature columns, with a saved state) and one_hot.

The seeds: categorical data becomes a one-hot encoding, for features and for
class labels.  Categories are the sorted distinct values seen by ``fit``.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice
from ..errors import DataError
from .preprocessing import Preprocessor, require_fitted, state_get, state_int
from .validation import check_labels

__all__ = ["OneHotEncoder", "one_hot"]


class OneHotEncoder(Preprocessor):
    """One-hot encode class labels (a 1-D array) or the categorical feature ``columns`` of X.

    Categories are the sorted distinct values seen by ``fit``. For a 2-D ``X`` each
    listed column is replaced, in place, by one 0/1 column per category; the other
    columns pass through. ``columns=None`` encodes every column. A value not seen in
    ``fit`` is an error (``handle_unknown="error"``) or an all-zero block ("ignore").
    A text ``X`` (``read_csv(..., categorical=...)``: the notes' "male"/"female")
    keeps its text categories; its other columns must hold numbers.

    >>> OneHotEncoder().fit_transform(np.array([2, 0, 2])).tolist()
    [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    >>> enc = OneHotEncoder(columns=[1]).fit(np.array([[0.5, 1], [0.7, 3]]))
    >>> enc.transform(np.array([[0.1, 3]])).tolist()
    [[0.1, 0.0, 1.0]]
    >>> sex = OneHotEncoder(columns=[0]).fit(np.array([["male", "1.5"], ["female", "2"]]))
    >>> sex.categories[0].tolist(), sex.transform(np.array([["male", "3"]])).tolist()
    (['female', 'male'], [[0.0, 1.0, 3.0]])
    """

    def __init__(self, columns=None, handle_unknown: str = "error", dtype=np.float32):
        check_choice("handle_unknown", handle_unknown, ("error", "ignore"), owner="OneHotEncoder")
        self.columns = None if columns is None else [int(c) for c in np.atleast_1d(columns)]
        self.handle_unknown = handle_unknown
        self.dtype = np.dtype(dtype)
        self.labels_mode = False

    @property
    def fitted(self) -> bool:
        return hasattr(self, "categories")

    @property
    def n_outputs(self) -> int | None:
        """One column per category of each encoded column, the other columns as they are."""
        if not self.fitted:
            return None
        width = sum(len(c) for c in self.categories)
        return width if self.labels_mode else self.n_features - len(self.encoded) + width

    def fit(self, X) -> OneHotEncoder:
        values = np.asarray(X)
        if values.ndim == 1:
            if self.columns not in (None, [0]):
                raise DataError(f"OneHotEncoder columns={self.columns} needs a 2-D X, got a 1-D array")
            values = _labels_column(values)
            self.labels_mode, self.n_features, self.encoded = True, None, [0]
            self.categories = [np.unique(values)]
            return self
        values = _features(values, self, fitting=True)
        n = values.shape[1]
        columns = range(n) if self.columns is None else self.columns
        bad = [c for c in columns if not -n <= c < n]
        if bad:
            raise DataError(f"OneHotEncoder columns {bad} do not exist: X has {n} features (0..{n - 1})")
        self.labels_mode, self.n_features = False, n
        self.encoded = sorted({c % n for c in columns})
        self.categories = [np.unique(values[:, c]) for c in self.encoded]
        if values.dtype.kind == "U":
            _numbers(np.delete(values, self.encoded, axis=1), "fit")  # the other columns must hold numbers
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
        values = _features(values, self)
        text = bool(self.categories) and self.categories[0].dtype.kind == "U"
        if text != (values.dtype.kind == "U"):
            fitted = "text cells (categories such as 'male')" if text else "numbers"
            raise DataError(f"this OneHotEncoder was fitted on {fitted}, got an array of {values.dtype}")
        pieces, start = [], 0
        out_dtype = np.result_type(self.dtype, values.dtype) if values.dtype.kind == "f" else self.dtype
        cast = _numbers if text else (lambda block, _: block)
        for i, column in enumerate(self.encoded):
            pieces.append(cast(values[:, start:column], start).astype(out_dtype))
            pieces.append(self._block(values[:, column], i, f"feature column {column}").astype(out_dtype))
            start = column + 1
        pieces.append(cast(values[:, start:], start).astype(out_dtype))
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
        require_fitted(self)
        return {"type": "OneHotEncoder", "labels_mode": self.labels_mode, "n_features": self.n_features,
                "columns": self.encoded, "handle_unknown": self.handle_unknown, "dtype": self.dtype.name,
                "categories": [c.tolist() for c in self.categories]}

    @classmethod
    def from_state(cls, state: dict) -> OneHotEncoder:
        self = cls(columns=state_get(state, "columns"), handle_unknown=state_get(state, "handle_unknown"),
                   dtype=state_get(state, "dtype"))
        self.labels_mode = bool(state_get(state, "labels_mode"))
        self.n_features = None if self.labels_mode else state_int(state, "n_features")
        self.encoded = self.columns
        self.categories = [_state_categories(c) for c in state_get(state, "categories")]
        if len(self.categories) != len(self.encoded):
            raise DataError("OneHotEncoder state: 'categories' and 'columns' differ in length")
        if self.encoded != sorted(set(self.encoded)) or any(
                not 0 <= c < (1 if self.labels_mode else self.n_features) for c in self.encoded):
            raise DataError(f"OneHotEncoder state: 'columns' {self.encoded} must be distinct, sorted feature "
                            f"columns below n_features = {self.n_features}")
        if len({c.dtype.kind for c in self.categories}) > 1:
            raise DataError("OneHotEncoder state: the columns' categories mix text and numbers")
        return self


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


def _labels_column(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind not in "biuf":
        raise DataError(f"OneHotEncoder: labels must be numbers, got {values.dtype}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise DataError(f"OneHotEncoder: label at row {int(np.argmin(np.isfinite(values)))} is NaN or infinite")
    return values


def _features(values: np.ndarray, encoder: OneHotEncoder, fitting: bool = False) -> np.ndarray:
    """Integer and text (``read_csv(categorical=...)``) matrices as they are; anything else as finite floats."""
    if values.dtype.kind not in "iUO":
        return encoder._input(values, fitting=fitting)
    if values.dtype.kind == "O":
        values = values.astype(str)
    return _int_features(values, encoder, check=not fitting)


def _numbers(block: np.ndarray, first: int) -> np.ndarray:
    """The text cells of non-categorical columns (starting at feature ``first``) as float64."""
    try:
        return block.astype(np.float64)
    except ValueError:
        for j in range(block.shape[1]):
            for i, cell in enumerate(block[:, j]):
                try:
                    float(cell)
                except ValueError:
                    raise DataError(f"OneHotEncoder: feature column {first + j} has {str(cell)!r} at row {i}, "
                                    "not a number (list the column as categorical to one-hot encode it)") from None
        raise


def _state_categories(values) -> np.ndarray:
    """One column's stored categories: a non-empty list of distinct sorted numbers, or of strings."""
    if not isinstance(values, list) or not values or not (
            all(isinstance(v, str) for v in values)
            or all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)):
        raise DataError(f"OneHotEncoder state: categories must be a non-empty list of numbers or of strings, "
                        f"got {str(values)[:80]}")
    array = np.asarray(values)
    if len(array) > 1 and not (array[1:] > array[:-1]).all():
        raise DataError(f"OneHotEncoder state: categories {str(values)[:80]} are not sorted and distinct")
    return array


def _int_features(values: np.ndarray, encoder: OneHotEncoder, check: bool = False) -> np.ndarray:
    """Integer (and text) feature matrices keep their categories as they are (no float round trip)."""
    if values.ndim != 2 or values.shape[0] == 0:
        raise DataError(f"OneHotEncoder expects a non-empty 2-D array, got shape {values.shape}")
    if check and values.shape[1] != encoder.n_features:
        raise DataError(f"OneHotEncoder: expected {encoder.n_features} features, got {values.shape[1]}")
    return values


def _format(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
