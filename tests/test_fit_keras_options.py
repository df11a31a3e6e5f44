"""fit's Keras options: validation_split, class_weight, sample_weight and initial_epoch, with Keras's meaning."""

import numpy as np
import pytest

from nnlab import nn
from nnlab.data import ArrayDataset
from nnlab.errors import ConfigError, DataError
from nnlab.losses import CrossEntropyLoss, MSELoss, cross_entropy, mse_loss
from nnlab.optim import SGD
from nnlab.train import Callback, TrainingState, fit
from nnlab.train import loop as loop_module


def _data(n=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, classes, n)


def _model(out=3):
    return nn.Linear(4, out, rng=0, dtype=np.float64)


def _fit(model, data, lr=0.1, **kw):
    kw = {"epochs": 3, "batch_size": None, "verbose": 0, "seed": 0, **kw}
    return fit(model, kw.pop("loss", cross_entropy), SGD(model.parameters(), lr=lr), data, **kw)


def _same_weights(a, b, rtol=1e-10):
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=rtol, atol=1e-12)


class Epochs(Callback):
    def __init__(self):
        self.begun = []

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch)


# ------------------------------------------------------------ validation_split
def test_validation_split_holds_out_the_last_rows_before_shuffling():
    X, y = _data(10)
    split, given = _model(), _model()
    h1 = _fit(split, (X, y), batch_size=3, validation_split=0.3)  # floor(10 * 0.7) = 7 rows train
    h2 = _fit(given, (X[:7], y[:7]), batch_size=3, val_data=(X[7:], y[7:]))
    assert h1.history == h2.history
    assert h1.params["samples"] == 7
    _same_weights(split, given, rtol=0)


def test_validation_split_with_a_users_dataset_class():
    X, y = _data(10)

    class Rows:
        def __len__(self):
            return len(X)

        def __getitem__(self, index):
            return X[index], y[index]

    h1 = _fit(_model(), Rows(), validation_split=0.2)
    h2 = _fit(_model(), (X[:8], y[:8]), val_data=(X[8:], y[8:]))
    np.testing.assert_allclose(h1["val_loss"], h2["val_loss"], rtol=1e-12)


# ------------------------------------------------------------ class_weight / sample_weight
def test_class_weight_equals_duplicating_the_samples_in_full_batch_sgd():
    X, y = _data(12)
    weighted, duplicated = _model(), _model()
    h1 = _fit(weighted, (X, y), lr=0.2, class_weight={1: 2.0})
    twice = np.concatenate([np.arange(12), np.flatnonzero(y == 1)])  # each class-1 row twice
    m = len(twice)
    # Keras's rule: sum(w*l)/n, so the weighted loss is m/n times the duplicated set's mean; the same step needs lr*m/n
    h2 = _fit(duplicated, (X[twice], y[twice]), lr=0.2 * m / 12)
    _same_weights(weighted, duplicated)
    np.testing.assert_allclose(h1["loss"], np.array(h2["loss"]) * m / 12, rtol=1e-10)
    assert not np.allclose(weighted.weight.data, _model().weight.data)


def test_sample_weight_zero_equals_dropping_the_rows():
    X, y = _data(12)
    w = np.ones(12)
    w[[0, 5, 6]] = 0.0
    kept = np.flatnonzero(w)
    weighted, dropped = _model(), _model()
    _fit(weighted, (X, y), lr=0.3, sample_weight=w)
    _fit(dropped, (X[kept], y[kept]), lr=0.3 * len(kept) / 12)  # sum over the kept rows / 12, not / 9
    _same_weights(weighted, dropped)


def test_weighted_loss_value_is_sum_of_weighted_per_sample_losses_over_batch_size():
    torch = pytest.importorskip("torch")
    X, y = _data(12)
    model = _model()
    logits = model(X).data
    w = np.random.default_rng(1).uniform(0, 3, 12)
    h = _fit(model, (X, y), epochs=1, sample_weight=w, val_data=(X, y))
    per = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(h["loss"][0], (w * per).sum() / 12, rtol=1e-10)  # the loss before the one step
    assert h["val_loss"][0] != pytest.approx(h["loss"][0])  # validation is not weighted


def test_mse_sample_weight_averages_over_the_outputs_of_a_sample():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    model = _model()
    pred = model(X).data
    w = rng.uniform(0, 2, 8)
    h = _fit(model, (X, Y), epochs=1, loss="mse", metrics=(), sample_weight=w)
    np.testing.assert_allclose(h["loss"][0], (w * ((pred - Y) ** 2).mean(axis=1)).sum() / 8, rtol=1e-10)
    h_sum = _fit(_model(), (X, Y), epochs=1, loss=MSELoss(reduction="sum"), metrics=(), sample_weight=w)
    np.testing.assert_allclose(h_sum["loss"][0], (w * ((pred - Y) ** 2).mean(axis=1)).sum(), rtol=1e-10)


def test_class_weight_reads_one_hot_targets_by_their_argmax_and_missing_classes_weigh_one():
    X, y = _data(12)
    labels, onehot = _model(), _model()
    _fit(labels, (X, y), class_weight={0: 0.5, 2: 3.0}, batch_size=4)
    _fit(onehot, (X, np.eye(3)[y]), class_weight={0: 0.5, 1: 1.0, 2: 3.0}, batch_size=4)
    _same_weights(labels, onehot)


def test_sample_weights_follow_the_shuffled_rows_in_minibatches():
    X, y = _data(12)
    w = np.random.default_rng(3).uniform(0, 2, 12)
    with_weights, per_call = _model(), _model()
    _fit(with_weights, (X, y), batch_size=5, sample_weight=w, validation_split=0.25)
    # the same run, the weights read from a column of X by the user's own loss: rows and weights stay together
    Xw = np.concatenate([X, w[:, None]], axis=1)
    net = nn.Linear(4, 3, rng=0, dtype=np.float64)

    class Strip(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            self.w = x.data[:, 4]
            return self.net(x[:, :4])

    strip = Strip()

    def loss(out, target):
        return (cross_entropy(out, target, reduction="none") * strip.w).sum() * (1.0 / len(strip.w))

    fit(strip, loss, SGD(strip.parameters(), lr=0.1), (Xw, y), epochs=3, batch_size=5, seed=0, verbose=0,
        validation_split=0.25, metrics=())
    _same_weights(with_weights, net)


def test_without_weights_fit_trains_with_the_users_loss_and_dataset_unchanged(monkeypatch):
    seen = {}
    original = loop_module._train_epoch

    def spy(model, loss, optimizer, loader, *rest):
        seen["loss"], seen["dataset"] = loss, loader.dataset
        return original(model, loss, optimizer, loader, *rest)

    monkeypatch.setattr(loop_module, "_train_epoch", spy)
    loss = CrossEntropyLoss()
    _fit(_model(), _data(), loss=loss, epochs=1, validation_split=0.25)
    assert seen["loss"] is loss and type(seen["dataset"]) is ArrayDataset


# ------------------------------------------------------------ initial_epoch
def test_initial_epoch_numbers_the_epochs_from_k_and_ends_at_epochs():
    epochs = Epochs()
    h = _fit(_model(), _data(), epochs=5, initial_epoch=2, callbacks=[epochs])
    assert h.epoch == [3, 4, 5] and len(h["loss"]) == 3  # 1-based in nnlab's History: epochs k+1 .. epochs
    assert epochs.begun == [2, 3, 4]  # the callbacks' 0-based indices, as in Keras
    assert _fit(_model(), _data(), epochs=2, initial_epoch=2).epoch == []


def test_resume_with_weights_split_and_initial_epoch_ends_as_an_uninterrupted_run(tmp_path):
    X, y = _data(12)
    w = np.random.default_rng(4).uniform(0, 2, 12)
    kw = {"batch_size": 4, "sample_weight": w, "validation_split": 0.25, "initial_epoch": 1}
    state = tmp_path / "state"
    first, resumed, whole = _model(), _model(), _model()
    _fit(first, (X, y), epochs=2, callbacks=[TrainingState(state)], **kw)
    h = _fit(resumed, (X, y), epochs=4, callbacks=[TrainingState(state)], resume_from=state, **kw)
    h_whole = _fit(whole, (X, y), epochs=4, callbacks=[TrainingState(tmp_path / "other")], **kw)
    assert h.epoch == h_whole.epoch == [2, 3, 4]
    assert h.history == h_whole.history
    _same_weights(resumed, whole, rtol=0)
    with pytest.raises(ConfigError, match=r"state after epoch 4, before initial_epoch=5"):
        _fit(_model(), (X, y), epochs=6, callbacks=[TrainingState(state)], resume_from=state,
             **{**kw, "initial_epoch": 5})


# ------------------------------------------------------------ errors
@pytest.mark.parametrize("kwargs, message", [
    ({"validation_split": 1.0}, r"validation_split must be a finite number >= 0 and < 1, got 1.0"),
    ({"validation_split": -0.1}, r"validation_split must be .* got -0.1"),
    ({"validation_split": "0.2"}, r"validation_split must be a finite number"),
    ({"validation_split": 0.2, "val_data": _data(4)}, r"give val_data or validation_split=0.2, not both"),
    ({"validation_split": 0.95}, r"validation_split=0.95 of train_data.s 12 samples leaves 0 for training and 12"),
    ({"initial_epoch": 4}, r"initial_epoch=4 is after epochs=3"),
    ({"initial_epoch": -1}, r"initial_epoch must be an integer >= 0, got -1"),
    ({"class_weight": {3: 1.0}}, r"class_weight key 3 is not a class index of this model's 3 classes \(0..2\)"),
    ({"class_weight": {-1: 1.0}}, r"class_weight key -1 is not a class index"),
    ({"class_weight": {"a": 1.0}}, r"class_weight key 'a' is not a class index"),
    ({"class_weight": {0: -1.0}}, r"class_weight\[0\] must be a finite number >= 0, got -1.0"),
    ({"class_weight": {0: float("nan")}}, r"class_weight\[0\] must be a finite number >= 0, got nan"),
    ({"class_weight": [1.0, 2.0, 3.0]}, r"class_weight must be a dict \{class index: weight\}, got list"),
    ({"sample_weight": np.ones(11)}, r"sample_weight must have shape \(12,\), one weight per sample of train_data, "
                                     r"got shape \(11,\)"),
    ({"sample_weight": np.ones((12, 1))}, r"sample_weight must have shape \(12,\).*got shape \(12, 1\)"),
    ({"sample_weight": np.r_[np.ones(11), -1.0]}, r"sample_weight must be finite numbers >= 0, got -1.0 at row 11"),
    ({"sample_weight": np.r_[np.inf, np.ones(11)]}, r"sample_weight must be finite numbers >= 0, got inf at row 0"),
    ({"sample_weight": ["a"] * 12}, r"sample_weight must be an array of numbers, got list"),
    ({"sample_weight": np.ones(12), "class_weight": {0: 1.0}}, r"give class_weight or sample_weight, not both"),
    ({"sample_weight": np.ones(12), "distributed": True}, r"not supported with distributed=True"),
    ({"sample_weight": np.ones(12), "loss": lambda out, y: cross_entropy(out, y)},
     r"need a loss that gives per-sample values: an nnlab loss .* got <lambda>"),
    ({"class_weight": {0: 2.0}, "loss": CrossEntropyLoss(reduction="none")},
     r"CrossEntropyLoss has reduction='none'; fit needs one value per batch"),
])
def test_errors_name_the_argument_and_value(kwargs, message):
    kwargs = {"val_data": None, **kwargs}
    with pytest.raises(ConfigError, match=message):
        _fit(_model(), _data(12), **kwargs)


def test_class_weight_needs_class_targets():
    X, _ = _data(6)
    with pytest.raises(ConfigError, match=r"class_weight needs class-index targets, got 0.5 at row 0"):
        _fit(_model(1), (X, np.full(6, 0.5)), loss="mse", metrics=(), class_weight={0: 2.0})
    with pytest.raises(ConfigError, match=r"class_weight needs class targets, but train_data has none"):
        _fit(nn.Linear(4, 4, rng=0, dtype=np.float64), X, loss=mse_loss, metrics=(), class_weight={0: 2.0})


def test_weights_are_refused_for_multitask_training():
    X, y = _data(8)
    model = nn.MultiHead(nn.Identity(), {"a": nn.Linear(4, 3, rng=0), "b": nn.Linear(4, 1, rng=1)})
    with pytest.raises(ConfigError, match=r"not supported for multi-task training"):
        fit(model, {"a": "cross_entropy", "b": "mse"}, SGD(model.parameters(), lr=0.1),
            (X, {"a": y, "b": X[:, :1]}), epochs=1, verbose=0, sample_weight=np.ones(8))


@pytest.mark.parametrize("y_shape", [(10,), (10, 2)])
def test_mse_targets_of_the_wrong_width_are_a_shape_mismatch_not_bad_labels(y_shape):
    model = nn.Linear(4, 3, rng=0)
    X = np.random.default_rng(0).standard_normal((10, 4))
    y = np.random.default_rng(1).random(y_shape)
    with pytest.raises(DataError) as info:
        fit(model, MSELoss(), SGD(model.parameters(), lr=0.1), (X, y), epochs=1, verbose=0, metrics=())
    message = str(info.value)
    assert f"targets of shape {y_shape} do not fit the model's outputs of shape (10, 3)" in message
    assert "MSELoss compares them element by element" in message and "class" not in message


def test_one_target_per_sample_for_one_output_is_read_as_that_output():
    X, _ = _data(10)
    y = np.random.default_rng(5).random(10)
    model = _model(1)
    h = _fit(model, (X, y), loss="mse", metrics=(), epochs=1)  # (10,) targets for (10, 1) outputs, as Keras
    np.testing.assert_allclose(h["loss"][0], ((_model(1)(X).data[:, 0] - y) ** 2).mean(), rtol=1e-12)
