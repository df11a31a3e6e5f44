"""Class-label validation, used by the training loop: integers 0..K-1 or a message naming the value."""

import numpy as np
import pytest

from nnlab.data import check_labels
from nnlab.errors import DataError


def test_valid_labels():
    out = check_labels(np.array([0, 2, 1], dtype=np.uint8), num_classes=3)
    assert out.dtype == np.int64 and out.tolist() == [0, 2, 1]
    assert check_labels([1.0, 0.0]).tolist() == [1, 0]  # whole-number floats, as CSV files give them
    assert check_labels(np.array([[1], [0]])).tolist() == [1, 0]  # a column vector
    assert check_labels([True, False]).tolist() == [1, 0]


@pytest.mark.parametrize(
    "labels, num_classes, message",
    [
        ([0, 1, 10], 10, r"value 10 at row 2 is outside 0..9 \(10 classes\)"),
        ([0, -1], None, "value -1 at row 1 is negative"),
        ([0.0, 1.5], None, "value 1.5 at row 1 is not an integer class index"),
        ([0.0, np.nan], None, "value nan at row 1 is not an integer"),
        (["cat", "dog"], None, "must be integer class indices 0..K-1"),
        ([], None, "empty"),
        (np.zeros((3, 2)), None, r"must be a 1-D array of class indices, got shape \(3, 2\)"),
    ],
)
def test_bad_labels_name_the_value(labels, num_classes, message):
    with pytest.raises(DataError, match=message):
        check_labels(labels, num_classes=num_classes)
