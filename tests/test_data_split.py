"""Seeded, stratified train/validation/test splits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlab.data import train_test_split, train_val_test_split
from nnlab.errors import DataError


def imbalanced(n_per_class=(60, 30, 10)):
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = np.arange(len(y), dtype=np.float32)[:, None] * np.ones((1, 2), dtype=np.float32)
    return X, y


def test_stratified_split_keeps_every_class_in_proportion():
    X, y = imbalanced()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]
    assert set(X_train[:, 0]).isdisjoint(X_test[:, 0])
    np.testing.assert_array_equal(y_test, y[X_test[:, 0].astype(int)])  # rows stay with their labels


@pytest.mark.parametrize("as_names", [lambda y: np.array(["cat", "dog", "emu"])[y],
                                      lambda y: np.array(["cat", "dog", "emu"], dtype=object)[y]])
def test_class_names_are_stratified_like_integer_labels(as_names):
    """String labels (scikit-learn's stratify=y accepts them) were split at random, not by class."""
    X, y = imbalanced()
    names = as_names(y)
    for seed in range(5):
        _, X_test, _, y_test = train_test_split(X, names, test_size=0.2, seed=seed)
        assert [int((y_test == c).sum()) for c in ("cat", "dog", "emu")] == [12, 6, 2]
        np.testing.assert_array_equal(y_test, names[X_test[:, 0].astype(int)])
        # the same rows as with the integer labels: the names only rename the classes
        np.testing.assert_array_equal(X_test, train_test_split(X, y, test_size=0.2, seed=seed)[1])
    parts = train_val_test_split(X, names, val_size=0.1, test_size=0.2, seed=0)
    assert [int((parts[4] == c).sum()) for c in ("cat", "dog", "emu")] == [6, 3, 1]


def test_unstratified_split_can_unbalance_a_rare_class():
    X, y = imbalanced((95, 5))
    tests = [np.bincount(train_test_split(X, y, test_size=0.2, stratify=False, seed=s)[3], minlength=2)[1]
             for s in range(20)]
    stratified = [np.bincount(train_test_split(X, y, test_size=0.2, seed=s)[3])[1] for s in range(20)]
    assert set(stratified) == {1} and len(set(tests)) > 1


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(1, 30), min_size=1, max_size=6), fraction=st.floats(0.05, 0.9), seed=st.integers(0, 9))
def test_stratified_counts_are_proportional_and_exact(counts, fraction, seed):
    X, y = imbalanced(counts)
    n = len(y)
    n_test = int(np.ceil(fraction * n - 1e-9))
    if not 1 <= n_test < n:
        with pytest.raises(DataError):
            train_test_split(X, y, test_size=fraction, seed=seed)
        return
    _, _, y_train, y_test = train_test_split(X, y, test_size=fraction, seed=seed)
    assert len(y_test) == n_test and len(y_train) == n - n_test
    test_counts = np.bincount(y_test, minlength=len(counts))
    assert np.all(np.abs(test_counts - np.array(counts) * n_test / n) < 1 + 1e-9)  # within one of exact share
    sorted_all = np.sort(np.concatenate([y_train, y_test]))
    np.testing.assert_array_equal(sorted_all, y)


def test_classes_keep_a_training_sample_when_possible():
    X, y = imbalanced((10, 1, 1))
    _, _, y_train, y_test = train_test_split(X, y, test_size=3)
    assert set(y_train.tolist()) == {0, 1, 2} and len(y_test) == 3


def test_same_seed_same_split_other_seed_other_split():
    X, y = imbalanced()
    a = train_test_split(X, y, seed=5)
    b = train_test_split(X, y, seed=5)
    c = train_test_split(X, y, seed=6)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a[1], c[1])


def test_three_way_split():
    X, y = imbalanced()
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, val_size=0.1, test_size=0.2, seed=1)
    assert (len(y_train), len(y_val), len(y_test)) == (70, 10, 20)
    assert np.bincount(y_val).tolist() == [6, 3, 1] and np.bincount(y_test).tolist() == [12, 6, 2]
    ids = [set(part[:, 0].tolist()) for part in (X_train, X_val, X_test)]
    assert set.union(*ids) == set(range(100)) and sum(map(len, ids)) == 100


def test_without_labels_and_with_float_targets():
    X, _ = imbalanced()
    X_train, X_test = train_test_split(X, test_size=25)
    assert (len(X_train), len(X_test)) == (75, 25)
    y = np.linspace(0, 1, 100)  # regression: plain random split
    assert len(train_test_split(X, y, test_size=0.3)[3]) == 30


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_size": 0.0}, "strictly between 0 and 1"),
        ({"test_size": 1.5}, "strictly between 0 and 1"),
        ({"test_size": 100}, "between 1 and 99"),
        ({"test_size": 0}, "between 1 and 99"),
        ({"test_size": "20%"}, "fraction in \\(0, 1\\) or a sample count"),
    ],
)
def test_bad_sizes(kwargs, message):
    X, y = imbalanced()
    with pytest.raises(DataError, match=message):
        train_test_split(X, y, **kwargs)


def test_bad_three_way_sizes_and_mismatched_lengths():
    X, y = imbalanced()
    with pytest.raises(DataError, match="leave no training samples"):
        train_val_test_split(X, y, val_size=0.5, test_size=0.5)
    with pytest.raises(DataError, match="X has 100 samples but y has 99"):
        train_test_split(X, y[:-1])
    with pytest.raises(DataError, match="empty"):
        train_test_split(np.zeros((0, 2)))
