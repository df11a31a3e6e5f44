"""Preprocessing: fitted on training data only, state round trips, feature-count checks."""

import json

import numpy as np
import pytest

from nnlab.data import (
    MinMaxScaler,
    OneHotEncoder,
    Pipeline,
    Standardizer,
    UnitNormalizer,
    merge_state,
    one_hot,
    preprocessor_from_state,
    split_state,
    train_test_split,
)
from nnlab.errors import ConfigError, DataError, ModelFileError


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(200, 5)) * [1, 10, 0.1, 5, 2] + [0, 100, -3, 7, 1]).astype(np.float32)
    X[:, 4] = 2.5  # a constant column
    return X


FACTORIES = {
    "standardizer": Standardizer,
    "min_max": MinMaxScaler,
    "min_max_symmetric": lambda: MinMaxScaler(feature_range=(-1, 1)),
    "unit_norm": UnitNormalizer,
    "one_hot_column": lambda: OneHotEncoder(columns=[4]),
    "pipeline": lambda: Pipeline([Standardizer(), UnitNormalizer()]),
    "pipeline_one_hot": lambda: Pipeline([OneHotEncoder(columns=[4]), MinMaxScaler(), Standardizer()]),
}


def test_standardizer_zero_mean_unit_variance_constant_column_safe(data):
    out = Standardizer().fit_transform(data)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out[:, :4].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out[:, :4].std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(out[:, 4], 0)


def test_fitted_on_training_data_only(data):
    X_train, X_test = train_test_split(data, test_size=0.3, seed=0)
    scaler = Standardizer().fit(X_train)
    np.testing.assert_allclose(scaler.mean, X_train.mean(axis=0, dtype=np.float64))
    assert not np.allclose(scaler.mean[:4], data.mean(axis=0)[:4], rtol=0, atol=1e-9)
    test_out = scaler.transform(X_test)
    # the test set is scaled with the training statistics, so it is not exactly standardized itself
    np.testing.assert_allclose(test_out, (X_test - scaler.mean) / scaler.scale, rtol=1e-5, atol=1e-5)
    assert not np.allclose(test_out[:, :4].mean(axis=0), 0, atol=1e-4)


def test_min_max_and_inverse(data):
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(data)
    out = scaler.transform(data)
    np.testing.assert_allclose(out[:, :4].min(axis=0), -1, atol=1e-6)
    np.testing.assert_allclose(out[:, :4].max(axis=0), 1, atol=1e-6)
    np.testing.assert_array_equal(out[:, 4], -1)
    np.testing.assert_allclose(scaler.inverse_transform(out), data, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(Standardizer().fit(data).inverse_transform(Standardizer().fit_transform(data)),
                               data, rtol=1e-5, atol=1e-4)
    with pytest.raises(ConfigError, match="low < high"):
        MinMaxScaler(feature_range=(1, 1))


def test_unit_normalizer_rows():
    X = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    out = UnitNormalizer().fit_transform(X)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1, 0, 1], atol=1e-6)
    np.testing.assert_allclose(out[0], [0.6, 0.8], atol=1e-6)


def test_one_hot_labels_and_function():
    enc = OneHotEncoder().fit(np.array([0, 2, 1, 2]))
    out = enc.transform(np.array([2, 0]))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(enc.inverse_transform(out), [2, 0])
    np.testing.assert_array_equal(one_hot([2, 0], num_classes=4), [[0, 0, 1, 0], [1, 0, 0, 0]])
    with pytest.raises(DataError, match="value 4 at row 1 is outside 0..3"):
        one_hot([0, 4], num_classes=4)
    with pytest.raises(DataError, match=r"label has value 5 at row 1, not seen in fit \(known: 0, 1, 2\)"):
        enc.transform(np.array([1, 5]))


def test_one_hot_categorical_feature_columns_in_place():
    X = np.array([[0.5, 2, 10, 1], [0.7, 3, 20, 1], [0.9, 2, 30, 0]], dtype=np.float32)
    enc = OneHotEncoder(columns=[1, 3]).fit(X)
    out = enc.transform(X)
    # column 1 -> categories {2, 3}; column 3 -> {0, 1}; others pass through in order
    expected = np.array([[0.5, 1, 0, 10, 0, 1], [0.7, 0, 1, 20, 0, 1], [0.9, 1, 0, 30, 1, 0]], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32
    with pytest.raises(DataError, match=r"feature column 1 has value 7 at row 0, not seen in fit \(known: 2, 3\)"):
        enc.transform(np.array([[0.1, 7, 1, 1]], dtype=np.float32))
    ignoring = OneHotEncoder(columns=[1], handle_unknown="ignore").fit(X)
    np.testing.assert_array_equal(ignoring.transform(np.array([[0.1, 7, 1, 1]]))[0, 1:3], [0, 0])
    with pytest.raises(DataError, match=r"columns \[9\] do not exist: X has 4 features"):
        OneHotEncoder(columns=[9]).fit(X)


@pytest.mark.parametrize("name", FACTORIES)
def test_state_round_trip_gives_identical_transforms(name, data):
    original = FACTORIES[name]()
    original.fit(data[:150])
    state = original.get_state()
    restored = preprocessor_from_state(state)
    np.testing.assert_array_equal(restored.transform(data[150:]), original.transform(data[150:]))
    # through JSON + a flat array dict, as a model file stores it
    meta, arrays = split_state(state)
    meta = json.loads(json.dumps(meta))
    rebuilt = preprocessor_from_state(merge_state(meta, {k: v.copy() for k, v in arrays.items()}))
    np.testing.assert_array_equal(rebuilt.transform(data[150:]), original.transform(data[150:]))
    assert type(rebuilt).from_state(state).get_state().keys() == state.keys()


@pytest.mark.parametrize("kind", [Standardizer, MinMaxScaler])
def test_a_state_with_a_zero_or_negative_scale_is_refused(kind, data):
    state = kind().fit(data).get_state()
    for bad in (0.0, -1.0):
        scale = state["scale"].copy()
        scale[2] = bad
        with pytest.raises(DataError, match=rf"{kind.__name__} state: 'scale' must be positive, got \[{bad}\]"):
            kind.from_state({**state, "scale": scale})


def test_label_encoder_state_keeps_integer_categories():
    enc = OneHotEncoder().fit(np.array([3, 1, 3]))
    meta, arrays = split_state(enc.get_state())
    restored = preprocessor_from_state(json.loads(json.dumps(meta)))
    assert restored.inverse_transform(np.eye(2)).tolist() == [1, 3]


@pytest.mark.parametrize("name", FACTORIES)
def test_feature_count_mismatch_is_named(name, data):
    preprocessor = FACTORIES[name]()
    preprocessor.fit(data)
    with pytest.raises(DataError, match="expected 5 features, got 3"):
        preprocessor.transform(data[:, :3])


def test_message_for_64_features():
    scaler = Standardizer().fit(np.zeros((4, 64)))
    with pytest.raises(DataError, match="expected 64 features, got 10"):
        scaler.transform(np.zeros((2, 10)))


def test_transform_rejects_unfitted_nan_and_1d(data):
    with pytest.raises(DataError, match="not fitted"):
        Standardizer().transform(data)
    with pytest.raises(DataError, match="not fitted"):
        Standardizer().get_state()
    scaler = Standardizer().fit(data)
    bad = data.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="feature column 2 has NaN in 1 row"):
        scaler.transform(bad)
    with pytest.raises(DataError, match="at least 2-D"):
        scaler.transform(data[0])


def test_bad_states_are_rejected_clearly():
    with pytest.raises(DataError, match="unknown preprocessor type 'Whitener'; known: MinMaxScaler"):
        preprocessor_from_state({"type": "Whitener"})
    with pytest.raises(DataError, match="state is missing 'scale'"):
        preprocessor_from_state({"type": "Standardizer", "n_features": 2, "mean": [0, 0]})
    with pytest.raises(DataError, match="'mean' must be 2 finite numbers"):
        preprocessor_from_state({"type": "Standardizer", "n_features": 2, "mean": [0], "scale": [1, 1]})
    with pytest.raises(ModelFileError, match="'preprocessing.mean' is missing"):
        merge_state({"type": "Standardizer", "mean": {"__array__": "preprocessing.mean"}}, {})


def test_float64_input_stays_float64():
    X = np.random.default_rng(1).normal(size=(20, 3))
    for preprocessor in (Standardizer(), MinMaxScaler(), UnitNormalizer()):
        assert preprocessor.fit_transform(X).dtype == np.float64
