"""TensorDataset, Subset and random_split: PyTorch's names and counts, no copies, loader and fit compatible."""

import numpy as np
import pytest

import nnlab
from nnlab.data import DataLoader, Subset, TensorDataset, random_split
from nnlab.errors import DataError


def data(n=10):
    return np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n)


@pytest.mark.parametrize("n, lengths", [(10, [0.75, 0.25]), (7, [0.5, 0.3, 0.2]), (101, [1 / 3] * 3), (5, [0.0, 1.0]),
                                        (3, [0.1, 0.1, 0.8])])
def test_fractions_give_pytorchs_counts(n, lengths):
    torch = pytest.importorskip("torch")
    expected = [len(p) for p in torch.utils.data.random_split(range(n), lengths)]
    assert [len(p) for p in random_split(data(n), lengths, rng=0)] == expected


def test_parts_cover_every_sample_once_and_are_seeded():
    parts = random_split(data(23), [10, 8, 5], rng=3)
    labels = np.concatenate([p[np.arange(len(p))][1] for p in parts])
    assert sorted(labels.tolist()) == list(range(23))
    again = random_split(data(23), [10, 8, 5], rng=3)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again))
    assert not np.array_equal(parts[0].indices, random_split(data(23), [10, 8, 5], rng=4)[0].indices)
    nnlab.seed(5)
    first = random_split(data(23), [20, 3])[0].indices
    nnlab.seed(5)
    assert np.array_equal(first, random_split(data(23), [20, 3])[0].indices)


def test_subset_reads_through_its_indices_without_copying_the_dataset():
    X, y = data()
    ds = TensorDataset(nnlab.tensor(X), nnlab.tensor(y, dtype=np.int64))
    part = Subset(ds, [9, -1, 0, 3])
    assert part.dataset is ds and part.indices.tolist() == [9, 9, 0, 3]
    xb, yb = part[np.array([2, 3])]
    assert yb.tolist() == [0, 3] and np.array_equal(xb, X[[0, 3]])
    batches = [yb.tolist() for _, yb in DataLoader(part, batch_size=3, shuffle=False)]
    assert batches == [[9, 9, 0], [3]]
    assert np.shares_memory(ds.X, part.dataset.X)


def test_generator_is_pytorchs_name_for_rng():
    """torch.utils.data.random_split(ds, lengths, generator=g): the keyword a PyTorch script passes."""
    by_rng = random_split(data(23), [10, 8, 5], rng=3)
    by_generator = random_split(data(23), [10, 8, 5], generator=3)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(by_rng, by_generator))
    with pytest.raises(DataError, match="give rng or PyTorch's generator"):
        random_split(data(23), [10, 8, 5], rng=3, generator=3)


def test_fit_trains_and_validates_on_random_split_parts():
    X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    train, val = random_split(TensorDataset(X, y), [0.8, 0.2], rng=0)
    model = nnlab.nn.Linear(3, 2, rng=0)
    opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
    history = nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), opt, train, val_data=val, epochs=2,
                              batch_size=8, verbose=0, seed=0)
    assert len(history.history["val_loss"]) == 2 and np.isfinite(history.history["val_loss"]).all()


@pytest.mark.parametrize("lengths, message", [
    ([5, 4], "summing to the dataset's 10"), ([11, -1], "counts >= 0"), ([0.5, 0.4], "sum to 1"),
    ([1.5, -0.5], r"in \[0, 1\]"), ([], "non-empty"), (["a"], "counts or fractions"), (3, "a list"),
    ([True, 9], "counts or fractions"),
])
def test_bad_lengths_are_named(lengths, message):
    with pytest.raises(DataError, match=message):
        random_split(data(), lengths)


def test_bad_subset_indices_and_tensor_counts_are_named():
    with pytest.raises(DataError, match="out of range for a dataset of 10"):
        Subset(data(), [3, 10])
    with pytest.raises(DataError, match="1-D sequence of integers"):
        Subset(data(), [0.5])
    with pytest.raises(DataError, match="X or \\(X, y\\), got 3"):
        TensorDataset(*data(), np.ones(10))
    assert repr(TensorDataset(*data())) == "TensorDataset(X=float32[10, 2], y=int64[10])"
