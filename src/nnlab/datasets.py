"""Built-in data, each returned as ``(X, y)``: X float32 with one row per sample, y int64 class labels.

``digits()`` is scikit-learn's bundled copy of 1,797 8x8 handwritten digits (no
download). The 2-D generators (``moons``, ``circles``, ``spirals``, ``blobs``) are
seeded and meant for decision-surface demos; ``xor()`` and ``mlp_table()`` are the
seeds' small examples.

Local files are read by :mod:`nnlab.data` (``nnlab.data.read_csv``, ``read_npz``,
``read_idx``, ``load_mnist_folder``), their documented home; the same functions
are re-exported here unchanged, as a plain alias and nothing more.
"""

from __future__ import annotations

import functools

import numpy as np

from ._checks import check_float, check_int
from .data.readers import load_mnist_folder, read_csv, read_idx, read_npz
from .errors import ConfigError
from .random import get_rng

__all__ = ["digits", "mnist1d", "xor", "mlp_table", "moons", "circles", "spirals", "blobs", "load", "names",
           "read_csv", "read_npz", "read_idx", "load_mnist_folder"]

TAU = 2 * np.pi


def digits(as_images: bool = False):
    """1,797 8x8 images of handwritten digits 0-9: X (1797, 64) float32 with pixel values 0..16, y int64.

    ``as_images=True`` gives X as (1797, 1, 8, 8), one channel first, for a convolutional model.

    >>> X, y = digits()
    >>> X.shape, X.dtype, y.dtype, int(y.max())
    ((1797, 64), dtype('float32'), dtype('int64'), 9)
    >>> digits(as_images=True)[0].shape
    (1797, 1, 8, 8)
    """
    from sklearn.datasets import load_digits  # imported here: `import nnlab` stays light

    bunch = load_digits()
    X = bunch.data.astype(np.float32)
    return (X.reshape(-1, 1, 8, 8) if as_images else X), bunch.target.astype(np.int64)


def mnist1d(as_sequences: bool = False):
    """MNIST-1D (Greydanus & Kobak, ICML 2024): ``((X, y), (X_test, y_test))``, 4,000 + 1,000 sequences of 40.

    Generated on the spot by the ``mnist1d`` package's procedural generator
    (``make_dataset`` with its default arguments, seed 42) and split as the
    package splits it (the first 80 % train), once per process (kept in memory).
    Nothing is downloaded and nothing is written to disk: the package's ``get_dataset`` would fetch or
    pickle a file, so it is not used; generation takes about a second.  The
    package seeds NumPy's and Python's global generators; their states are
    restored afterwards.  X float32 (N, 40), or (N, 1, 40) with
    ``as_sequences=True`` for a Conv1d; y int64 in 0..9.  Needs the optional
    extra: ``pip install 'nnlab[mnist1d]'``.
    """
    X, y, X_test, y_test = _mnist1d_arrays()
    shape = (-1, 1, X.shape[1]) if as_sequences else (-1, X.shape[1])
    return (X.reshape(shape).copy(), y.copy()), (X_test.reshape(shape).copy(), y_test.copy())


@functools.lru_cache(maxsize=1)
def _mnist1d_arrays():
    """Generated once per process (in memory only): every call of :func:`mnist1d` gets copies."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ConfigError("mnist1d() needs the mnist1d package: pip install 'nnlab[mnist1d]'") from None
    import random

    saved = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
    return (data["x"].astype(np.float32), data["y"].astype(np.int64),
            data["x_test"].astype(np.float32), data["y_test"].astype(np.int64))


def xor():
    """The four XOR points, which no linear classifier separates (the seeds' MLP example).

    >>> X, y = xor(); y.tolist()
    [0, 1, 1, 0]
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return X, np.array([0, 1, 1, 0], dtype=np.int64)


# The seeds, "Multilayer Perceptron (MLP)": inputs and targets (t = 0 or 1) of a
# classification problem that three decision boundaries solve (Figure 5.23).
_MLP_TABLE = [
    (0.1, 0.95, 0), (0.2, 0.85, 0), (0.2, 0.9, 0), (0.3, 0.75, 1), (0.4, 0.65, 1), (0.4, 0.75, 1),
    (0.6, 0.45, 0), (0.8, 0.25, 0), (0.1, 0.65, 1), (0.2, 0.75, 1), (0.7, 0.2, 1),
]


def mlp_table():
    """The seeds' 11-point table (columns x1, x2, t): X (11, 2) float32, y = t as int64.

    >>> X, y = mlp_table(); X.shape, int(y.sum())
    ((11, 2), 6)
    """
    table = np.array(_MLP_TABLE)
    return table[:, :2].astype(np.float32), table[:, 2].astype(np.int64)


def moons(n: int = 200, noise: float = 0.1, seed=0):
    """Two interleaving half circles (class 0 above, class 1 below), plus N(0, noise^2) jitter.

    >>> X, y = moons(100); X.shape, np.bincount(y).tolist()
    ((100, 2), [50, 50])
    """
    rng = _start(n, noise, 2, "moons", seed)
    upper, lower = _per_class(n, 2)
    t_upper, t_lower = np.linspace(0, np.pi, upper), np.linspace(0, np.pi, lower)
    X = np.concatenate([np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
                        np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)])
    return _finish(X, _labels([upper, lower]), noise, rng)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed=0):
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1).

    >>> X, y = circles(10, noise=0.0)
    >>> sorted(set(np.round(np.linalg.norm(X, axis=1), 3).tolist()))
    [0.5, 1.0]
    """
    factor = check_float("factor (inner radius)", factor, 0.0, 1.0, low_open=True, high_open=True, owner="circles")
    rng = _start(n, noise, 2, "circles", seed)
    counts = _per_class(n, 2)
    rings = [radius * _unit_circle(np.linspace(0, TAU, count, endpoint=False))
             for radius, count in zip((1.0, factor), counts)]
    return _finish(np.concatenate(rings), _labels(counts), noise, rng)


def spirals(n: int = 200, noise: float = 0.1, seed=0, turns: float = 1.0, classes: int = 2):
    """``classes`` interleaved spiral arms winding ``turns`` times from the centre out to radius 1.

    >>> X, y = spirals(90, classes=3); X.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    """
    turns = check_float("turns", turns, 0.0, low_open=True, owner="spirals")
    rng = _start(n, noise, classes, "spirals", seed)
    counts = _per_class(n, classes)
    arms = []
    for k, count in enumerate(counts):
        radius = np.linspace(0.05, 1.0, count)
        arms.append(radius[:, None] * _unit_circle(TAU * (turns * radius + k / classes)))
    return _finish(np.concatenate(arms), _labels(counts), noise, rng)


def blobs(n: int = 200, centers=3, std: float = 1.0, seed=0, box=(-10.0, 10.0)):
    """Gaussian blobs of standard deviation ``std`` around ``centers``: a count (drawn uniformly
    in ``box``, seeded) or an array of 2-D points; class k is the blob around center k.

    >>> X, y = blobs(60, centers=[[0, 0], [5, 5]], std=0.5); np.bincount(y).tolist()
    [30, 30]
    """
    rng = get_rng(seed)
    if isinstance(centers, int | np.integer) and not isinstance(centers, bool):
        if centers < 1:
            raise ConfigError(f"blobs needs at least 1 center, got {centers}")
        points = rng.uniform(box[0], box[1], size=(int(centers), 2))
    else:
        points = np.asarray(centers, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise ConfigError(f"blobs centers must be a count or a (k, 2) array of points, got shape {points.shape}")
    rng = _start(n, std, len(points), "blobs", rng, noise_name="std")
    counts = _per_class(n, len(points))
    return _finish(np.repeat(points, counts, axis=0), _labels(counts), std, rng)


_BUILTIN = {"digits": digits, "xor": xor, "mlp_table": mlp_table, "moons": moons, "circles": circles,
            "spirals": spirals, "blobs": blobs}


def names() -> list[str]:
    """The names :func:`load` accepts."""
    return sorted(_BUILTIN)


def load(name: str, **options):
    """A built-in dataset by name, e.g. ``load("moons", n=500, noise=0.2)``.

    >>> load("xor")[0].shape
    (4, 2)
    """
    if name not in _BUILTIN:
        raise ConfigError(f"unknown dataset {name!r}; choose from: {', '.join(names())}")
    try:
        return _BUILTIN[name](**options)
    except TypeError as error:  # an option the generator does not take
        raise ConfigError(f"dataset {name!r}: {error}") from None


def _start(n, noise, classes: int, what: str, seed, noise_name: str = "noise") -> np.random.Generator:
    """Check the generator's arguments; the generator to draw from."""
    classes = check_int("classes", classes, 1, owner=what)
    if check_int("n", n, 1, owner=what) < classes:
        raise ConfigError(f"{what}: n must be a whole number >= {classes} (one sample per class), got {n!r}")
    check_float(noise_name, noise, 0.0, owner=what)
    return get_rng(seed)


def _per_class(n: int, classes: int) -> list[int]:
    return [n // classes + (k < n % classes) for k in range(classes)]


def _labels(counts) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _unit_circle(angle: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _finish(X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator):
    """Add the noise and shuffle, so that a split or an unshuffled loader sees mixed classes."""
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return X[order].astype(np.float32), y[order]
