"""The training loop: fit / evaluate / predict, History, seeding, modes, bad input, non-finite losses."""

import math
import warnings

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.errors import ConfigError, DataError
from nnlab.losses import cross_entropy, mse_loss
from nnlab.optim import SGD
from nnlab.train import Callback, EarlyStopping, History, TerminateOnNaN, evaluate, fit, predict


def blobs(n=200, seed=0):
    """Two Gaussian classes in 4-D, linearly separable enough to learn in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4)).astype(np.float32) + 1.5 * (2 * y[:, None] - 1)
    return X, y


def mlp(dropout=False):
    layers = [nn.Linear(4, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(keep=0.5))
    layers.append(nn.Linear(16, 2))
    return nn.Sequential(*layers)


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


class Recorder(Callback):
    """Keeps a copy of the weights after every batch and every epoch, and the hook order."""

    def __init__(self):
        self.batches, self.epochs, self.calls = [], [], []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.batches.append(weights(self.model))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.epochs.append(weights(self.model))

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_fit_learns_and_history_has_one_value_per_epoch():
    nnlab.seed(0)
    X, y = blobs()
    model = mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X[:150], y[:150]), (X[150:], y[150:]),
                  epochs=4, batch_size=16, seed=0, verbose=0)
    assert isinstance(history, History)
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert history.epoch == [1, 2, 3, 4]
    assert all(len(history[k]) == 4 for k in history)
    assert history["lr"] == [0.1] * 4
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert history.stop_reason is None
    rows = history.to_rows()
    assert rows[2] == {"epoch": 3, **{k: history[k][2] for k in history}}
    # The logged validation loss is what evaluate gives for the final weights.
    final = evaluate(model, cross_entropy, (X[150:], y[150:]))
    assert final["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-6)
    assert final["accuracy"] == history["val_accuracy"][-1]


def test_history_csv_export(tmp_path):
    history = History()
    history.append(1, {"loss": 1.0, "lr": 0.1})
    history.append(2, {"loss": 0.5, "lr": 0.05, "val_loss": 0.7})
    assert math.isnan(history["val_loss"][0]) and history["val_loss"][1] == 0.7
    history.to_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,lr,val_loss"
    assert lines[2] == "2,0.5,0.05,0.7"


def test_training_loss_is_the_sample_weighted_mean_of_batch_losses():
    """With lr=0 the weights never move, so the epoch loss equals the full-data loss."""
    nnlab.seed(0)
    X, y = blobs(50)
    model = mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.0), (X, y), epochs=1, batch_size=16,
                  verbose=0)  # 16, 16, 16, 2: unequal batches
    assert history["loss"][0] == pytest.approx(evaluate(model, cross_entropy, (X, y))["loss"], rel=1e-5)
    assert history["accuracy"][0] == evaluate(model, None, (X, y))["accuracy"]


def test_same_seed_gives_identical_weights_and_other_seed_does_not():
    X, y = blobs()

    def run(seed):
        nnlab.seed(3)
        model = mlp(dropout=True)
        fit(model, cross_entropy, SGD(model.parameters(), lr=0.1, momentum=0.9), (X, y), epochs=2,
            batch_size=8, seed=seed, verbose=0)
        return weights(model)

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_modes_train_during_fit_eval_for_evaluate_and_restored():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = mlp(dropout=True)

        def forward(self, x):
            seen.append((self.training, nnlab.is_grad_enabled()))
            return self.inner(x)

    X, y = blobs(40)
    model = Probe()
    model.eval()
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X[:32], y[:32]), (X[32:], y[32:]), epochs=1,
        batch_size=16, verbose=0)
    # A probe forward on the training data and on the validation data (eval, no graph), two training
    # batches (train, graph), then the validation pass (eval, no graph).
    assert seen == [(False, False), (False, False), (True, True), (True, True), (False, False)]
    assert model.training is False  # the mode it had before fit
    model.train()
    first = evaluate(model, cross_entropy, (X, y))
    assert evaluate(model, cross_entropy, (X, y)) == first  # dropout is off: deterministic
    assert np.array_equal(predict(model, X), predict(model, X))
    assert model.training is True


def test_predict_matches_a_manual_eval_forward_in_several_batches():
    nnlab.seed(0)
    X, _ = blobs(70)
    model = mlp(dropout=True)
    out = predict(model, X, batch_size=32)
    model.eval()
    with nnlab.no_grad():
        expected = model(nnlab.tensor(X)).numpy()
    assert out.shape == (70, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_evaluate_reports_a_confusion_matrix():
    nnlab.seed(0)
    X, y = blobs(60)
    model = mlp()
    report = evaluate(model, cross_entropy, (X, y), batch_size=25, confusion=True)
    matrix = report["confusion_matrix"]
    assert matrix.shape == (2, 2) and matrix.sum() == 60
    assert np.trace(matrix) / 60 == pytest.approx(report["accuracy"])
    assert list(matrix.sum(axis=1)) == [int((y == 0).sum()), int((y == 1).sum())]


def test_regression_and_single_logit_binary_accuracy():
    nnlab.seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    target = (X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    model = nn.Linear(3, 1)
    history = fit(model, mse_loss, SGD(model.parameters(), lr=0.1), (X, target), epochs=20, batch_size=16,
                  metrics=(), verbose=0)
    assert set(history) == {"loss", "lr"}
    assert history["loss"][-1] < 1e-3
    # A single output column is a logit: accuracy thresholds it at 0 against 0/1 targets.
    labels = (target[:, 0] > 0).astype(np.int64)
    assert evaluate(model, None, (X, labels))["accuracy"] == 1.0


def test_early_stopping_returns_the_best_epochs_weights():
    """w moves 0 -> 2 (the training target y = 2x); the validation target y = x is best at w = 1.

    Full-batch gradient descent with lr 0.1 and mean(x^2) = 1 gives w_t = 2(1 - 0.8^t):
    0.4, 0.72, 0.976, 1.18, ... so validation loss falls for three epochs, then rises.
    """
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]], dtype=np.float32)
    patience = 3
    for restore in (True, False):
        model = nn.Linear(1, 1, bias=False, weight_init="zeros")
        recorder = Recorder()
        stopper = EarlyStopping(patience=patience, restore_best_weights=restore)
        history = fit(model, mse_loss, SGD(model.parameters(), lr=0.1), (X, 2 * X), (X, X), epochs=50,
                      batch_size=4, metrics=(), callbacks=[recorder, stopper], verbose=0)
        best = int(np.argmin(history["val_loss"]))
        assert best == 2 and stopper.best_epoch == 2
        assert history.epoch[-1] == best + 1 + patience  # exactly p epochs after the best one
        assert stopper.stopped_epoch == best + patience
        assert history.stop_reason.startswith("EarlyStopping: val_loss did not improve for 3 epochs")
        assert ("restored epoch 3's weights" in history.stop_reason) is restore
        returned = evaluate(model, mse_loss, (X, X), metrics=())["loss"]
        if restore:
            assert returned == pytest.approx(history["val_loss"][best], rel=1e-6)
            assert model.weight.data[0, 0] == recorder.epochs[best]["weight"][0, 0]
        else:
            assert returned == pytest.approx(history["val_loss"][-1], rel=1e-6)


def test_callback_hooks_order_and_stop_flag():
    class StopAfterSecondBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            assert set(logs) == {"loss", "size"}
            if batch == 1:
                self.stop_training = True

    X, y = blobs(64)
    recorder = Recorder()
    model = mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=5, batch_size=8,
                  callbacks=[recorder, StopAfterSecondBatch()], verbose=0)
    assert recorder.calls == ["train_begin", "epoch_begin 0", "epoch_end 0", "train_end"]
    assert len(recorder.batches) == 2
    assert history.epoch == [1]
    assert "StopAfterSecondBatch" in history.stop_reason


def _loss_that_fails_at(call):
    calls = [0]

    def loss(output, target):
        calls[0] += 1
        value = cross_entropy(output, target)
        return value * math.nan if calls[0] == call else value

    return loss


def test_nonfinite_loss_stops_before_the_update_and_names_epoch_and_batch():
    X, y = blobs(64)
    nnlab.seed(0)
    model = mlp()
    recorder = Recorder()
    stopper = TerminateOnNaN()
    # 8 batches per epoch: the 11th loss is that of epoch 2, batch 3.
    with pytest.warns(RuntimeWarning, match="epoch 2, batch 3"):
        history = fit(model, _loss_that_fails_at(11), SGD(model.parameters(), lr=0.1), (X, y), epochs=5,
                      batch_size=8, callbacks=[recorder, stopper], verbose=0)
    assert "non-finite loss (nan) at epoch 2, batch 3" in history.stop_reason
    assert history.stop_reason == stopper.message
    assert history.epoch == [1, 2] and math.isnan(history["loss"][1])
    assert len(recorder.batches) == 8 + 2
    last_good = recorder.batches[-1]
    now = weights(model)
    assert all(np.array_equal(now[k], last_good[k]) for k in now)


def test_without_terminate_on_nan_the_loop_keeps_stepping():
    X, y = blobs(64)
    model = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy warns about the NaN arithmetic
        history = fit(model, _loss_that_fails_at(3), SGD(model.parameters(), lr=0.1), (X, y), epochs=1,
                      batch_size=8, verbose=0)
    assert history.stop_reason is None and math.isnan(history["loss"][0])
    assert np.isnan(model.state_dict()["0.weight"]).all()


def test_weights_broken_by_an_overflowing_update_are_restored_from_the_epoch_start():
    """A finite loss whose gradient overflows breaks the weights one batch before the loss turns NaN."""
    X, y = blobs(64)
    nnlab.seed(0)
    model = mlp()
    recorder = Recorder()
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=1, batch_size=8,
        callbacks=[recorder], verbose=0)
    # lr * gradient overflows float32: the first update leaves infinite weights behind a finite loss.
    with pytest.warns(RuntimeWarning, match="restored"), np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, cross_entropy, SGD(model.parameters(), lr=1e39), (X, y), epochs=3,
                      batch_size=8, callbacks=[TerminateOnNaN()], verbose=0)
    assert "start of epoch 1" in history.stop_reason
    now = weights(model)
    assert all(np.isfinite(v).all() for v in now.values())
    assert all(np.array_equal(now[k], recorder.epochs[-1][k]) for k in now)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"epochs": 0}, ConfigError, "epochs"),
        ({"batch_size": 0}, ConfigError, "batch_size"),
        ({"batch_size": 2.5}, ConfigError, "batch_size"),
        ({"verbose": 5}, ConfigError, "verbose"),
        ({"metrics": ("f2",)}, ConfigError, "unknown metric"),
    ],
)
def test_bad_settings(kwargs, error, words):
    X, y = blobs(10)
    model = mlp()
    with pytest.raises(error, match=words):
        fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), **{"verbose": 0, **kwargs})


def test_problems_found_before_training():
    X, y = blobs(10)
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    before = weights(model)
    with pytest.raises(ConfigError, match=r"EarlyStopping monitors 'val_loss'.*pass val_data"):
        fit(model, cross_entropy, opt, (X, y), callbacks=[EarlyStopping()], verbose=0)
    assert all(np.array_equal(before[k], v) for k, v in weights(model).items())
    with pytest.raises(ConfigError, match="single value"):
        fit(model, lambda out, target: cross_entropy(out, target, reduction="none"), opt, (X, y), verbose=0)
    with pytest.raises(ConfigError, match="must return an nnlab Tensor"):
        fit(model, lambda out, target: 1.0, opt, (X, y), verbose=0)


def test_bad_data():
    X, y = blobs(10)
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)

    def check(data, words, val=None):
        before = weights(model)
        with pytest.raises(DataError, match=words):
            fit(model, cross_entropy, opt, data, val, epochs=1, verbose=0)
        after = weights(model)
        assert all(np.array_equal(before[k], after[k]) for k in after)  # nothing trained

    check((X[:0], y[:0]), "empty")
    bad = X.copy()
    bad[3, 2] = np.nan
    check((bad, y), "column 2 has NaN")
    check((X, y[:5]), "10 samples but y has 5")
    check((X, y + 1), "train_data labels: value 2 .* outside 0..1")
    check((X, y - 1), "negative")
    check((X, y + 0.5), "not an integer class index")
    check((X[:, :3], y), "train_data")
    check((X, y), "val_data labels", val=(X, y + 5))


def test_whole_number_float_labels_are_accepted_as_classes():
    X, y = blobs(32)
    model = mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y.astype(np.float64)), epochs=1,
                  verbose=0)
    assert np.isfinite(history["loss"][0])


def test_verbose_prints_one_line_per_epoch_when_not_a_terminal(capsys):
    X, y = blobs(32)
    model = mlp()
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), (X, y), epochs=2, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("epoch 2/2") and "val_loss" in lines[1] and "lr 0.1" in lines[1]
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_dataset_objects_are_accepted():
    from nnlab.data import ArrayDataset

    X, y = blobs(40)
    model = mlp()
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), ArrayDataset(X, y), ArrayDataset(X, y),
                  epochs=1, verbose=0)
    assert history["val_loss"][0] == pytest.approx(evaluate(model, cross_entropy, ArrayDataset(X, y))["loss"])


def test_augmentation_is_applied_to_training_batches_only():
    seen = []

    def augment(X_batch):
        seen.append(len(X_batch))
        return X_batch

    X, y = blobs(40)
    model = mlp()
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X[:32], y[:32]), (X[32:], y[32:]), epochs=2,
        batch_size=16, augment=augment, verbose=0)
    assert seen == [16, 16, 16, 16]
