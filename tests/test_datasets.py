"""Built-in datasets: shapes, dtypes, seeds, and the seeds' own tables."""

import subprocess
import sys

import numpy as np
import pytest

from nnlab import datasets
from nnlab.errors import ConfigError


def test_digits_shape_and_dtype():
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(10))
    assert X.min() == 0 and X.max() == 16


def test_import_nnlab_does_not_import_sklearn():
    code = "import sys, nnlab, nnlab.datasets; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_xor_and_mlp_table():
    X, y = datasets.xor()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    X, y = datasets.mlp_table()
    assert X.shape == (11, 2) and X.dtype == np.float32 and y.dtype == np.int64
    # rows 1, 4 and 11 of the seeds' table (x1, x2, t)
    np.testing.assert_allclose(X[[0, 3, 10]], [[0.1, 0.95], [0.3, 0.75], [0.7, 0.2]], rtol=1e-6)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("name", ["moons", "circles", "spirals", "blobs"])
def test_generators_are_seeded_2d_and_balanced(name):
    make = getattr(datasets, name)
    X, y = make(n=101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    X2, y2 = make(n=101, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(make(n=101, seed=4)[0], X)
    assert y[:20].min() != y[:20].max()  # shuffled: classes are mixed, not in blocks


def test_generator_geometry_without_noise():
    X, y = datasets.circles(200, noise=0.0, factor=0.3)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1], axis=1), 0.3, atol=1e-6)
    X, y = datasets.moons(200, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1, atol=1e-6)  # the upper half circle
    assert (X[y == 0, 1] >= -1e-6).all() and (X[y == 1, 1] <= 0.5 + 1e-6).all()
    X, y = datasets.spirals(300, noise=0.0, classes=3)
    assert np.linalg.norm(X, axis=1).max() <= 1 + 1e-6 and np.bincount(y).tolist() == [100, 100, 100]
    X, y = datasets.blobs(400, centers=[[0, 0], [10, 10]], std=0.5)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [10, 10], atol=0.15)
    np.testing.assert_allclose(X[y == 0].std(axis=0), 0.5, atol=0.1)


def test_load_by_name_and_bad_arguments():
    assert datasets.load("moons", n=30)[0].shape == (30, 2)
    assert "digits" in datasets.names()
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'; choose from: blobs, circles, digits"):
        datasets.load("mnist")
    with pytest.raises(ConfigError, match="unexpected keyword argument 'nosie'"):
        datasets.load("moons", nosie=0.1)
    with pytest.raises(ConfigError, match="noise must be a finite number >= 0"):
        datasets.moons(noise=-0.1)
    with pytest.raises(ConfigError, match="n must be a whole number >= 3"):
        datasets.spirals(n=2, classes=3)
    with pytest.raises(ConfigError, match="factor"):
        datasets.circles(factor=1.5)
    with pytest.raises(ConfigError, match="centers must be a count or a"):
        datasets.blobs(centers=[1, 2, 3])


def test_readers_are_reexported():
    assert datasets.read_csv is not None and datasets.read_idx is not None
    assert callable(datasets.load_mnist_folder) and callable(datasets.read_npz)
