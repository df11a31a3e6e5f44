"""The TensorBoard callback and `[train] tensorboard = true`: the event files are read back with TensorBoard's own reader."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

import nnlab  # noqa: E402
from nnlab.cli import main  # noqa: E402
from nnlab.train import TensorBoard, fit  # noqa: E402


def _read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_scalars_and_histograms_are_what_fit_logged(tmp_path):
    X, y = nnlab.datasets.load("moons", n=120, noise=0.2, seed=0)
    model = nnlab.nn.Sequential(nnlab.nn.Linear(2, 8, rng=0), nnlab.nn.ReLU(), nnlab.nn.Linear(8, 2, rng=1))
    optimizer = nnlab.optim.get("adam", model.parameters(), lr=0.01)
    board = TensorBoard(tmp_path / "tb", histogram_every=2, batch_loss=True)
    seen = []  # the first layer's weights as each epoch ended

    class Record(nnlab.train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model[0].weight.data.copy())

    history = fit(model, nnlab.losses.cross_entropy, optimizer, (X[:90], y[:90]), (X[90:], y[90:]), epochs=4,
                  batch_size=30, callbacks=[board, Record()], seed=0, verbose=0)
    acc = _read(tmp_path / "tb")
    tags = acc.Tags()
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "optimizer/lr"} <= set(tags["scalars"])
    for key, tag in (("loss", "train/loss"), ("val_accuracy", "val/accuracy"), ("lr", "optimizer/lr")):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [0, 1, 2, 3]
        np.testing.assert_allclose([e.value for e in events], history.history[key], rtol=1e-6)
    assert len(acc.Scalars("batch/loss")) == 4 * 3  # three batches of 30 per epoch
    names = [name for name, _ in model.named_parameters()]
    assert set(tags["histograms"]) == {f"{kind}/{n}" for kind in ("weights", "gradients") for n in names}
    weights = acc.Histograms("weights/0.weight")
    assert [h.step for h in weights] == [0, 2]
    for event in weights:
        written, actual = event.histogram_value, seen[event.step]
        assert written.num == actual.size
        assert (written.min, written.max) == pytest.approx((actual.min(), actual.max()), rel=1e-6)
        assert written.sum == pytest.approx(float(actual.sum(dtype=np.float64)), rel=1e-4, abs=1e-5)
    assert board.writer is None  # closed at the end of training


def test_config_key_writes_the_run_s_event_files_with_diagnostics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tb.toml").write_text(
        'name = "tb"\n[data]\nsource = "moons"\nn = 200\n[model]\nhidden = [8]\n'
        "[train]\nepochs = 2\ntensorboard = true\n")
    assert main(["train", "tb.toml", "--quiet"]) == 0
    acc = _read(tmp_path / "runs" / "tb" / "tensorboard")
    scalars = set(acc.Tags()["scalars"])
    assert {"train/loss", "val/loss", "optimizer/lr"} <= scalars
    assert any(tag.startswith("diagnostics/") for tag in scalars)
    assert "weights/0.weight" in acc.Tags()["histograms"]


def test_missing_writer_is_a_config_error_before_any_run_folder(tmp_path, monkeypatch, capsys):
    from nnlab.train.callbacks import tensorboard

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tensorboard, "writer_installed", lambda: False)
    (tmp_path / "tb.toml").write_text('name = "tb"\n[train]\nepochs = 1\ntensorboard = true\n')
    assert main(["train", "tb.toml", "--quiet"]) == 2
    assert "pip install 'nnlab[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_diverged_run_s_histograms_keep_the_finite_values_and_training_ends_cleanly(tmp_path):
    # the weights are NaN/inf when TerminateOnNaN stops a run; tensorboardX refuses such a histogram
    X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True)
    model = nnlab.nn.Sequential(nnlab.nn.Linear(4, 8, rng=0), nnlab.nn.ReLU(), nnlab.nn.Linear(8, 1, rng=1))
    optimizer = nnlab.optim.get("sgd", model.parameters(), lr=1e6)
    board = TensorBoard(tmp_path / "tb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow is the point
        history = fit(model, nnlab.losses.mse_loss, optimizer, (X, y), (X, y), epochs=3, batch_size=8,
                      callbacks=[nnlab.train.callbacks.TerminateOnNaN(), board], seed=0, verbose=0)
    assert history.stop_reason is not None
    weights = {name: p.data for name, p in model.named_parameters()}
    assert any(np.abs(w).max() > 1e20 for w in weights.values())  # the case: weights beyond the standard buckets
    acc = _read(tmp_path / "tb")
    written = set(acc.Tags()["histograms"])
    for name, w in weights.items():
        finite = w[np.isfinite(w)]
        assert (f"weights/{name}" in written) == (finite.size > 0)
        if finite.size:
            (event,) = acc.Histograms(f"weights/{name}")
            assert event.histogram_value.num == finite.size
            assert sum(event.histogram_value.bucket) == finite.size  # huge values are counted too
            assert event.histogram_value.max == pytest.approx(float(finite.max()), rel=1e-6)
    assert board.writer is None


def test_histograms_leave_out_nan_and_inf_and_count_values_beyond_the_buckets(tmp_path):
    layer = nnlab.nn.Linear(1, 5, bias=False, rng=0)
    layer.weight.data[:] = np.array([[np.nan, np.inf, 1.0, -2.0, 1e30]], dtype=np.float32)
    layer.weight.grad = np.full((1, 5), np.nan, dtype=np.float32)  # no finite value: no histogram
    board = TensorBoard(tmp_path / "tb")
    board.set_context(layer, None, {})
    board.on_train_begin()
    board.on_epoch_end(0, {"loss": float("nan")})
    board.on_train_end()
    acc = _read(tmp_path / "tb")
    assert acc.Tags()["histograms"] == ["weights/weight"]
    (event,) = acc.Histograms("weights/weight")
    h = event.histogram_value
    assert (h.num, sum(h.bucket), h.min, h.max) == (3, 3, -2.0, pytest.approx(1e30))


def test_a_run_resumed_within_the_same_second_keeps_the_first_part_s_events(tmp_path, monkeypatch):
    # tensorboardX names the event file by the second and opens it with "wb": the resumed run truncated it
    import tensorboardX.event_file_writer as event_file_writer

    monkeypatch.setattr(event_file_writer.time, "time", lambda: 1_700_000_000.0)  # both parts in one second
    X, y = nnlab.datasets.load("moons", n=60, noise=0.2, seed=0)

    def run(epochs, resume):
        nnlab.seed(0)
        model = nnlab.nn.Sequential(nnlab.nn.Linear(2, 4), nnlab.nn.ReLU(), nnlab.nn.Linear(4, 2))
        callbacks = [TensorBoard(tmp_path / "tb", batch_loss=True), nnlab.train.TrainingState(tmp_path / "state")]
        fit(model, nnlab.losses.cross_entropy, nnlab.optim.Adam(model.parameters(), lr=0.01), (X, y), (X, y),
            epochs=epochs, batch_size=30, seed=1, verbose=0, callbacks=callbacks,
            resume_from=tmp_path / "state" if resume else None)

    run(2, False)
    run(4, True)
    acc = _read(tmp_path / "tb")
    assert [e.step for e in acc.Scalars("train/loss")] == [0, 1, 2, 3]
    assert [e.step for e in acc.Scalars("batch/loss")] == list(range(8))
