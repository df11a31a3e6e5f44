"""DataLoader's PyTorch keywords (sampler, generator, collate_fn, num_workers), the samplers, Dataset, ConcatDataset."""

import numpy as np
import pytest

import nnlab
from nnlab.data import (
    ConcatDataset, DataLoader, Dataset, RandomSampler, SequentialSampler, SubsetRandomSampler, TensorDataset,
    WeightedRandomSampler,
)
from nnlab.errors import ConfigError, DataError


def data(n=10):
    return np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n)


def labels(loader):
    return [y.tolist() for _, y in loader]


def test_a_weighted_sampler_balances_an_imbalanced_set():
    y = np.array([0] * 90 + [1] * 10)
    X = np.zeros((100, 1), np.float32)
    weights = 1.0 / np.bincount(y)[y]  # every class equally likely
    loader = DataLoader((X, y), batch_size=50, sampler=WeightedRandomSampler(weights, 2000, generator=0))
    drawn = np.concatenate([yb for _, yb in loader])
    assert len(loader) == 40 and len(drawn) == 2000 and abs(drawn.mean() - 0.5) < 0.05
    without = WeightedRandomSampler(weights, 100, replacement=False, generator=1)
    assert sorted(without) == list(range(100))


def test_samplers_give_pytorchs_orders_and_lengths():
    ds = data()
    assert list(SequentialSampler(ds[0])) == list(range(10))
    first = list(RandomSampler(ds[0], generator=3))
    assert sorted(first) == list(range(10)) and len(RandomSampler(ds[0])) == 10
    sampler = RandomSampler(ds[0], generator=3)
    assert list(sampler) != list(sampler)  # a fresh order each epoch
    assert len(list(RandomSampler(ds[0], num_samples=25, generator=0))) == 25
    assert sorted(set(RandomSampler(ds[0], num_samples=25, generator=0))) == list(range(10))
    assert sorted(SubsetRandomSampler([7, 2, 5], generator=0)) == [2, 5, 7]
    assert labels(DataLoader(ds, batch_size=2, sampler=SubsetRandomSampler([3, 1], generator=0))) in ([[3, 1]], [[1, 3]])


def test_generator_is_rng_and_both_are_refused():
    a = labels(DataLoader(data(), batch_size=3, generator=5))
    assert a == labels(DataLoader(data(), batch_size=3, rng=5))
    with pytest.raises(DataError, match="not both"):
        DataLoader(data(), rng=1, generator=1)


def test_collate_fn_builds_each_batch_from_samples():
    class Pairs(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": [float(i), 2.0 * i]}, i % 2

    def collate(samples):
        return np.array([s[0]["x"] for s in samples], np.float32), np.array([s[1] for s in samples])

    batches = list(DataLoader(Pairs(), batch_size=2, shuffle=False, collate_fn=collate))
    assert [b[1].tolist() for b in batches] == [[0, 1], [0, 1], [0]]
    np.testing.assert_array_equal(batches[1][0], [[2.0, 4.0], [3.0, 6.0]])
    rows = list(DataLoader(data(4), batch_size=3, shuffle=False, collate_fn=lambda s: (np.stack([x for x, _ in s]),
                                                                                        np.array([y for _, y in s]))))
    assert rows[0][1].tolist() == [0, 1, 2]


def test_num_workers_is_accepted_and_changes_nothing():
    assert labels(DataLoader(data(), batch_size=4, rng=0, num_workers=4)) == labels(DataLoader(data(), batch_size=4,
                                                                                              rng=0))
    with pytest.raises(ConfigError, match="num_workers"):
        DataLoader(data(), num_workers=-1)


def test_dataset_subclasses_and_concatenation_train_with_fit():
    class Squares(Dataset):
        def __len__(self):
            return 40

        def __getitem__(self, i):
            x = np.array([i / 40.0, (i % 7) / 7.0], np.float32)
            return x, int(x[0] > 0.5)

    both = Squares() + TensorDataset(*data(10))
    assert isinstance(both, ConcatDataset) and len(both) == 50
    x, y = both[45]
    assert y == 5 and x.tolist() == [10.0, 11.0]
    with pytest.raises(IndexError, match="out of range for 50"):
        both[50]
    model = nnlab.nn.Linear(2, 2, rng=0)
    history = nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), nnlab.optim.SGD(model.parameters(), lr=0.1),
                              Squares(), epochs=2, batch_size=8, verbose=0, seed=0)
    assert len(history.history["loss"]) == 2
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        Dataset()[0]


@pytest.mark.parametrize("make, message", [
    (lambda: WeightedRandomSampler([1.0, -1.0], 2), "finite numbers >= 0"),
    (lambda: WeightedRandomSampler([0.0, 0.0], 2), "not all 0"),
    (lambda: WeightedRandomSampler([1.0, 1.0], 0), "positive integer"),
    (lambda: WeightedRandomSampler([1.0, 0.0], 2, replacement=False), "cannot exceed the 1 indices"),
    (lambda: SubsetRandomSampler([0.5]), "1-D sequence of integers"),
    (lambda: DataLoader(data(), sampler=[1, 2]), None),
    (lambda: DataLoader(data(), sampler=3), "sampler must be iterable and sized"),
    (lambda: DataLoader(data(), collate_fn=3), "collate_fn must be a function"),
])
def test_mistakes_are_named(make, message):
    if message is None:  # a plain list of indices is a sampler too (iterable and sized), as in PyTorch
        assert labels(make()) == [[1, 2]]
        return
    with pytest.raises((ConfigError, DataError), match=message):
        make()
