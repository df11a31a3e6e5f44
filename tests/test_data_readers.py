"""File readers: CSV, .npz, IDX (raw and gzipped), an MNIST folder; every problem a clear DataError."""

import gzip
import re
import struct
import warnings

import numpy as np
import pytest

from nnlab.data import load_mnist_folder, read_csv, read_idx, read_npz
from nnlab.errors import DataError

# --- CSV --------------------------------------------------------------------------


def write(path, text):
    path.write_text(text)
    return path


def test_csv_with_named_target(tmp_path):
    path = write(tmp_path / "d.csv", "x1,x2,t\n0.1,0.95,0\n0.3,0.75,1\n\n0.7,0.2,1\n")
    X, y = read_csv(path, target="t")
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X, [[0.1, 0.95], [0.3, 0.75], [0.7, 0.2]], rtol=1e-6)
    assert y.tolist() == [0, 1, 1]


def test_csv_target_in_the_middle_float_targets_and_no_target(tmp_path):
    path = write(tmp_path / "r.csv", "a,price,b\n1,2.5,3\n4,5.25,6\n")
    X, y = read_csv(path, target="price")
    assert X.tolist() == [[1, 3], [4, 6]] and y.dtype == np.float32 and y.tolist() == [2.5, 5.25]
    X, y = read_csv(path)
    assert X.shape == (2, 3) and y is None
    X, y, info = read_csv(path, target=0, with_names=True)
    assert info == {"feature_names": ["price", "b"], "class_names": None} and y.tolist() == [1, 4]


def test_csv_class_names_become_indices(tmp_path):
    path = write(tmp_path / "iris.csv", "petal,species\n1.4,setosa\n4.7,versicolor\n1.3,setosa\n")
    X, y, info = read_csv(path, target="species", with_names=True)
    assert y.tolist() == [0, 1, 0] and info["class_names"] == ["setosa", "versicolor"]


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("x1,x2,t\n1,2,0\n", "label", r"no target column 'label'; columns are: x1, x2, t"),
        ("1,2,0\n3,4,1\n", "label", "the first line looks like data"),
        ("x1,x2,t\n1,2,0\n3,abc,1\n", "t", r"line 3, column 'x2': 'abc' is not a number"),
        ("x1,x2,t\n1,,0\n", "t", r"line 2, column 'x2': '' is not a number"),
        ("x1,x2,t\n1,2,0\n1,nan,0\n", "t", r"line 3, column 'x2': 'nan' is not a finite number"),
        ("x1,x2,t\n1,2,0\n1,2\n", "t", "line 3: 2 values, but the header names 3 columns"),
        ("x1,x2,t\n1,2,inf\n", "t", "target column 't': 'inf' is not finite"),
        ("x1,x2,t\n1,2,\n", "t", "the target column 't' is empty"),
        ("x1,x2,t\n", "t", "has a header but no data rows"),
        ("", "t", "is empty"),
        ("t\n1\n", "t", "no feature columns besides the target"),
    ],
)
def test_csv_errors(tmp_path, text, target, message):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(DataError, match=message):
        read_csv(path, target=target)


def test_csv_missing_file_and_not_utf8(tmp_path):
    with pytest.raises(DataError, match="CSV file not found: .*nope.csv"):
        read_csv(tmp_path / "nope.csv", target="t")
    (tmp_path / "bin.csv").write_bytes(b"x,t\n\xff\xfe,1\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        read_csv(tmp_path / "bin.csv", target="t")


# --- npz --------------------------------------------------------------------------


def test_npz(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.arange(6).reshape(3, 2), y=np.array([0, 1, 0], dtype=np.int32), extra=np.ones(1))
    X, y = read_npz(tmp_path / "d.npz")
    assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (3, 2)
    X, y = read_npz(tmp_path / "d.npz", x_key="X", y_key=None)
    assert y is None
    with pytest.raises(DataError, match="has no array 'labels'; arrays in the file: X, y, extra"):
        read_npz(tmp_path / "d.npz", y_key="labels")


def test_npz_not_an_archive_and_pickled_objects(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable .npz archive"):
        read_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(DataError, match="cannot read arrays"):
        read_npz(tmp_path / "obj.npz")


@pytest.mark.parametrize("c", ["5", "u"], ids=["fast", "row-by-row"])  # text: the categorical reader
def test_csv_value_beyond_float32_range(tmp_path, c):
    path = write(tmp_path / "big.csv", f"x1,x2,c,t\n1,2,{c},0\n3,-1e300,{c},1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the refusal is the one message: no overflow RuntimeWarning beside it
        with pytest.raises(DataError, match=r"big.csv, line 3, column 'x2': '-1e300' exceeds float32's range"):
            read_csv(path, target="t", categorical=["c"] if c == "u" else None)
    path = write(tmp_path / "edge.csv", "x1,t\n3.4028235e38,0\n1e30,1\n")  # rounds to the largest float32
    assert read_csv(path, target="t")[0].max() == np.finfo(np.float32).max


@pytest.mark.parametrize("value, message", [(1e300, "1e+300 exceeds float32's range"),
                                            (np.inf, "inf is not a finite number"),
                                            (np.nan, "nan is not a finite number")])
def test_npz_refuses_non_finite_and_out_of_float32_range_features(tmp_path, value, message):
    X = np.zeros((40, 3))
    X[37, 2] = value
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(40) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=re.escape(f"d.npz: array 'X', row 37, column 2 (counting from 0): {message}")):
            read_npz(tmp_path / "d.npz")
    np.savez(tmp_path / "img.npz", X=np.full((2, 2, 3), np.nan, np.float32))
    with pytest.raises(DataError, match=re.escape("row 0, column (0, 0)")):
        read_npz(tmp_path / "img.npz", y_key=None)


# --- IDX --------------------------------------------------------------------------


def idx_bytes(array, code):
    """An IDX file written by hand: magic (0, 0, type code, ndim), big-endian dims, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IDX_CASES = [
    (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 0x08),
    (np.array([-3, 5], dtype=np.int8), 0x09),
    (np.array([[-300, 2], [7, 30000]], dtype=np.int16), 0x0B),
    (np.array([-70000, 1, 2], dtype=np.int32), 0x0C),
    (np.array([[1.5, -2.25]], dtype=np.float32), 0x0D),
    (np.array([np.pi], dtype=np.float64), 0x0E),
]


@pytest.mark.parametrize("array, code", IDX_CASES)
@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_round_trip(tmp_path, array, code, gzipped):
    data = idx_bytes(array, code)
    path = tmp_path / ("a.idx.gz" if gzipped else "a.idx")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    out = read_idx(path)
    assert out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b[:-1], r"truncated IDX file: the header promises shape \(2, 3, 4\) \(24 bytes of data\), found 23"),
        (lambda b: b[:10], "truncated IDX file: the header needs 16 bytes for 3 dimensions"),
        (lambda b: b[:3], "shorter than the 4-byte magic number"),
        (lambda b: b + b"\0", "corrupt IDX file: 1 bytes beyond the 24"),
        (lambda b: b"\x00\x00\x07" + b[3:], "not an IDX file: magic number 0x00000703"),
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
    ],
)
def test_idx_corrupt_files(tmp_path, mangle, message):
    good = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 0x08)
    (tmp_path / "bad.idx").write_bytes(mangle(good))
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "bad.idx.gz").write_bytes(gzip.compress(mangle(good)))
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "bad.idx.gz")


def test_truncated_gzip_and_missing_file(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8), 0x08))
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip data"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="IDX file not found"):
        read_idx(tmp_path / "absent-idx3-ubyte")


def write_mnist(folder, n_train=5, n_test=3, gz=True):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, array, ndim in (("images", images, 3), ("labels", labels, 1)):
            name = f"{split}-{kind}-idx{ndim}-ubyte"
            data = idx_bytes(array, 0x08)
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_folder(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    (X_train, y_train), (X_test, y_test) = load_mnist_folder(tmp_path)
    assert X_train.shape == (5, 784) and X_test.shape == (3, 784) and X_train.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.tolist() == arrays["t10k"][1].tolist()
    np.testing.assert_allclose(X_train * 255, arrays["train"][0].reshape(5, -1), atol=1e-4)
    (raw_train, _), _ = load_mnist_folder(tmp_path, scale=False)
    assert raw_train.max() > 1


def test_mnist_folder_errors(tmp_path):
    with pytest.raises(DataError, match="MNIST folder not found"):
        load_mnist_folder(tmp_path / "absent")
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="no t10k-labels-idx1-ubyte\\[.gz\\] file; the folder holds: t10k-images"):
        load_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2, dtype=np.uint8), 0x08))
    with pytest.raises(DataError, match="expected one label per image"):
        load_mnist_folder(tmp_path)
