"""The TensorBoard callback and `[train] tensorboard = true`: the event files are read back with TensorBoard's own reader."""

from __future__ import annotations

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
