"""ArrayDataset and DataLoader: validation, epoch coverage, reshuffling, seeding, no copies per batch."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnlab
from nnlab.data import ArrayDataset, DataLoader, GaussianNoiseAugment
from nnlab.errors import DataError


def make_data(n=23, features=3):
    X = np.arange(n * features, dtype=np.float32).reshape(n, features)
    return X, np.arange(n)  # y[i] == i identifies the sample in every batch


def epoch_labels(loader):
    return [y.tolist() for _, y in loader]


# --- ArrayDataset -----------------------------------------------------------------

def test_dataset_casts_once_and_keeps_float32_input_without_copy():
    X, y = make_data()
    ds = ArrayDataset(X, y)
    assert np.shares_memory(ds.X, X)  # already float32 and contiguous: no copy
    ds64 = ArrayDataset(X.astype(np.float64), y.astype(np.int32))
    assert ds64.X.dtype == np.float32 and ds64.y.dtype == np.int64
    assert len(ds) == 23 and ds.num_features == 3


def test_dataset_arrays_are_read_only_so_batches_cannot_write_back():
    X, y = make_data()
    ds = ArrayDataset(X, y)
    with pytest.raises(ValueError):
        ds.X[0, 0] = 99
    assert X.flags.writeable  # the caller's own array is left as it was


def test_dataset_getitem_pairs_rows():
    X, y = make_data()
    xb, yb = ArrayDataset(X, y)[[4, 1]]
    np.testing.assert_array_equal(xb, X[[4, 1]])
    assert yb.tolist() == [4, 1]
    xb, yb = ArrayDataset(X)[[2]]
    assert yb is None and xb.shape == (1, 3)


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.zeros((0, 3)), None, "empty"),
        (np.zeros(5), None, "at least 2-D"),
        (np.zeros((4, 0)), None, "no features"),
        (np.zeros((4, 2)), np.zeros(3), "X has 4 samples but y has 3"),
        (np.array([["a", "b"]]), None, "must hold numbers"),
        (np.zeros((3, 2)), np.array([1.0, np.inf, 2.0]), "y has NaN or infinity in 1 rows (first: row 1)"),
    ],
)
def test_dataset_rejects_bad_input(X, y, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ArrayDataset(X, y)


def test_nan_message_names_column_and_row_count():
    X = np.ones((6, 5))
    X[[1, 4], 3] = np.nan
    X[5, 4] = np.inf
    with pytest.raises(DataError, match=r"feature column 3 has NaN in 2 rows \(first: row 1\)"):
        ArrayDataset(X)
    X[[1, 4], 3] = 0
    with pytest.raises(DataError, match="feature column 4 has infinity in 1 row "):
        ArrayDataset(X)


def test_large_finite_float64_values_are_not_mistaken_for_infinity():
    X = np.full((4, 2), 1e308)  # their float64 sum overflows, the values are finite
    assert len(ArrayDataset(X, dtype=np.float64)) == 4


# --- DataLoader -------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), drop_last=st.booleans(), shuffle=st.booleans())
def test_every_sample_once_per_epoch(n, batch_size, drop_last, shuffle):
    if drop_last and batch_size > n:
        with pytest.raises(DataError, match="leaves no batch"):
            DataLoader(make_data(n), batch_size=batch_size, drop_last=True)
        return
    loader = DataLoader(make_data(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, rng=1)
    batches = epoch_labels(loader)
    assert len(batches) == len(loader)
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen))  # no sample twice
    sizes = [len(b) for b in batches]
    if drop_last:
        assert sizes == [batch_size] * (n // batch_size)
    else:
        assert sorted(seen) == list(range(n))  # every sample
        assert all(size == batch_size for size in sizes[:-1]) and 0 < sizes[-1] <= batch_size
    if not shuffle:
        assert seen == sorted(seen)


def test_batches_pair_features_with_their_labels():
    X, y = make_data()
    for xb, yb in DataLoader((X, y), batch_size=5, rng=0):
        np.testing.assert_array_equal(xb, X[yb])
        assert xb.dtype == np.float32


def test_reshuffled_every_epoch_and_reproducible_from_seed():
    loader = DataLoader(make_data(50), batch_size=7, rng=3)
    first, second = epoch_labels(loader), epoch_labels(loader)
    assert first != second
    again = DataLoader(make_data(50), batch_size=7, rng=3)
    assert epoch_labels(again) == first and epoch_labels(again) == second
    assert epoch_labels(DataLoader(make_data(50), batch_size=7, rng=4)) != first


def test_default_generator_follows_nnlab_seed():
    loader = DataLoader(make_data(40), batch_size=40)
    nnlab.seed(11)
    a = epoch_labels(loader)
    nnlab.seed(11)
    assert epoch_labels(loader) == a


def test_batch_size_n_is_full_batch_and_1_is_sgd():
    X, y = make_data(9)
    full = list(DataLoader((X, y), batch_size=9, rng=0))
    assert len(full) == 1 and sorted(full[0][1].tolist()) == list(range(9))
    assert len(DataLoader((X, y), batch_size=None)) == 1
    sgd = list(DataLoader((X, y), batch_size=1, rng=0))
    assert len(sgd) == 9 and all(xb.shape == (1, 3) for xb, _ in sgd)
    assert len(DataLoader((X, y), batch_size=100)) == 1  # larger than the data: one batch of all


def test_drop_last():
    loader = DataLoader(make_data(10), batch_size=4, drop_last=True, rng=0)
    assert len(loader) == 2 and [len(b) for b in epoch_labels(loader)] == [4, 4]
    assert len(DataLoader(make_data(10), batch_size=4)) == 3


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_bad_batch_size(batch_size):
    with pytest.raises(DataError, match="batch_size must be a positive integer"):
        DataLoader(make_data(), batch_size=batch_size)


def test_unlabelled_data_and_bad_containers():
    X, _ = make_data(6)
    assert [yb for _, yb in DataLoader(X, batch_size=4)] == [None, None]
    with pytest.raises(DataError, match=r"must be \(X, y\)"):
        DataLoader((X, X, X))
    with pytest.raises(DataError, match="expected a dataset"):
        DataLoader(42)


def test_custom_dataset_class_is_indexed_with_index_arrays():
    class Squares:
        def __len__(self):
            return 10

        def __getitem__(self, index):
            index = np.asarray(index)
            return (index[:, None] ** 2).astype(np.float32), index

    seen = np.concatenate([y for _, y in DataLoader(Squares(), batch_size=3, rng=0)])
    assert sorted(seen.tolist()) == list(range(10))


class TorchStyle:
    """A PyTorch-style Dataset: ``__getitem__`` takes one int and returns one sample ``(x, y)``."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        i = int(i)  # an index array raises here, as in most torch Datasets (file paths in a list, etc.)
        return self.X[i], int(self.y[i])


def test_a_pytorch_style_per_sample_dataset_is_batched_as_torch_does():
    """A Dataset with an int-only __getitem__ failed with the user's own TypeError on an index array."""
    X, y = make_data(11)
    ours = [(xb, yb) for xb, yb in DataLoader(TorchStyle(X, y), batch_size=4, shuffle=False)]
    assert [yb.tolist() for _, yb in ours] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    for (xb, yb), start in zip(ours, range(0, 11, 4)):
        np.testing.assert_array_equal(xb, X[start:start + 4])
        assert xb.dtype == np.float32 and yb.dtype == np.int64
    torch = pytest.importorskip("torch")
    reference = torch.utils.data.DataLoader(TorchStyle(X, y), batch_size=4, shuffle=False)
    for (xb, yb), (xt, yt) in zip(ours, reference):
        np.testing.assert_array_equal(xb, xt.numpy())
        np.testing.assert_array_equal(yb, yt.numpy())
    shuffled = np.concatenate([yb for _, yb in DataLoader(TorchStyle(X, y), batch_size=4, rng=0, drop_last=True)])
    assert len(shuffled) == 8 and len(set(shuffled.tolist())) == 8


def test_fit_on_a_per_sample_dataset_equals_fit_on_its_arrays():
    X, y = make_data(20)
    X = X / X.max()
    weights = []
    for data in ((X, y % 3), TorchStyle(X, y % 3)):
        model = nnlab.nn.Sequential(nnlab.nn.Linear(3, 3, rng=0))
        nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), nnlab.optim.SGD(model.parameters(), lr=0.1),
                        data, epochs=2, batch_size=6, seed=4, verbose=0)
        weights.append(model.state_dict())
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])


def test_a_dataset_readable_neither_way_is_a_clear_error():
    class Broken:
        def __len__(self):
            return 3

        def __getitem__(self, index):
            raise KeyError(index)

    with pytest.raises(DataError, match=r"cannot read samples from Broken: dataset\[index_array\] raised KeyError.*"
                                        r"dataset\[0\] raised KeyError"):
        DataLoader(Broken())


def test_as_dataset_is_the_one_door_for_every_accepted_form():
    class Rows:
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return np.zeros((len(index), 2), np.float32), None

    custom = Rows()
    assert nnlab.data.as_dataset(custom) is custom
    X, y = make_data(5)
    ds = nnlab.data.as_dataset((X, y), dtype=np.float64)
    assert ds.X.dtype == np.float64 and np.array_equal(ds.y, y)
    assert nnlab.data.as_dataset(ds) is ds and nnlab.data.as_dataset(ds, dtype=np.float64) is ds
    recast = nnlab.data.as_dataset(ds, dtype=np.float32)
    assert recast.X.dtype == np.float32 and np.array_equal(recast.X, X.astype(np.float32))
    assert nnlab.data.as_dataset(X).y is None and nnlab.data.as_dataset(X).X.dtype == np.float32


def test_no_dataset_copy_per_batch():
    """Gathering a batch allocates about one batch, never a copy (or a dtype conversion) of the whole dataset."""
    X = np.random.default_rng(0).random((20_000, 100)).astype(np.float32)  # 8 MB
    # float64 input is converted to float32 once, when the loader is built, not per batch
    for data in (ArrayDataset(X, np.arange(20_000)), (X, np.arange(20_000)), (X.astype(np.float64), None)):
        loader = DataLoader(data, batch_size=16, rng=0)
        assert loader.dataset.X.dtype == np.float32
        tracemalloc.start()
        try:
            for _ in loader:
                pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < X.nbytes / 10, f"peak {peak} bytes while batching an {X.nbytes}-byte dataset"


def test_unshuffled_batches_are_views_of_the_dataset():
    X, y = make_data()
    loader = DataLoader((X, y), batch_size=5, shuffle=False)
    assert all(np.shares_memory(xb, X) for xb, _ in loader)


def test_augment_applies_per_batch_and_leaves_dataset_untouched():
    X, y = make_data()
    ds = ArrayDataset(X.copy(), y)
    loader = DataLoader(ds, batch_size=6, rng=0, augment=[GaussianNoiseAugment(0.5, rng=0)])
    for xb, yb in loader:
        assert not np.allclose(xb, X[yb])
        assert np.abs(xb - X[yb]).max() < 5
    np.testing.assert_array_equal(ds.X, X)
    with pytest.raises(ValueError, match="callable"):
        DataLoader(ds, augment=[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape", [(7, 5), (4, 3, 2), (6,)])
def test_check_finite_finds_every_non_finite_value_and_passes_huge_finite_ones(dtype, shape):
    from nnlab.data.validation import check_finite

    big = np.finfo(dtype).max
    for layout in ("C", "F"):
        X = np.asarray(np.ones(shape, dtype), order=layout)
        check_finite(X)
        for bad in (np.nan, np.inf, -np.inf):
            Y = X.copy(order=layout)
            Y.flat[-1] = bad
            with pytest.raises(DataError, match="NaN|infinity"):
                check_finite(Y)
        both = X.copy(order=layout)
        both.flat[0], both.flat[-1] = np.inf, -np.inf  # their sum is NaN: still refused
        with pytest.raises(DataError, match="infinity"):
            check_finite(both)
        huge = np.full(shape, big, dtype=dtype, order=layout)  # finite values whose sum overflows
        check_finite(huge)


def test_tensors_are_accepted_as_data_as_arrays_are():
    """A PyTorch user's habit: fit((X_tensor, y_tensor)), ArrayDataset(tensor), np.asarray(tensor)."""
    X, y = make_data()
    tX, ty = nnlab.tensor(X), nnlab.tensor(y, dtype=np.int64)  # nnlab.tensor is float32 unless asked
    a = np.asarray(tX)
    assert a.dtype == np.float32 and a.shape == X.shape and np.shares_memory(a, tX.data)
    assert np.asarray(tX, dtype=np.float64).dtype == np.float64
    assert not np.shares_memory(np.array(tX), tX.data)  # np.array copies, as for an ndarray
    with pytest.raises(ValueError, match="without a copy"):
        np.asarray(tX, dtype=np.float64, copy=False)
    ds = ArrayDataset(tX, ty)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.y.dtype == np.int64
    model = nnlab.nn.Linear(3, 23, rng=0)
    opt = nnlab.optim.SGD(model.parameters(), lr=1e-3)
    history = nnlab.train.fit(model, nnlab.losses.get("cross_entropy"), opt, (tX, ty), epochs=1, verbose=0, seed=0)
    assert np.isfinite(history.history["loss"][0])
