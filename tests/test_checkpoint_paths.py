"""Checkpoint paths: placeholders in the file name are filled per epoch; folders are taken as they are."""

import os

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.cli import main
from nnlab.errors import ConfigError
from nnlab.losses import cross_entropy
from nnlab.optim import SGD
from nnlab.train import Checkpoint, fit


def _fit(callbacks, epochs=2):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    nnlab.seed(0)
    model = nn.Linear(3, 2)
    return fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, (X[:, 0] > 0).astype(np.int64)),
               epochs=epochs, batch_size=8, callbacks=callbacks, verbose=0)


def test_a_folder_with_braces_is_no_template_and_the_file_name_is_filled(tmp_path):
    folder = tmp_path / "r{0}" / "{epoch}"
    folder.mkdir(parents=True)
    plain = Checkpoint(folder / "model.safetensors", monitor="loss")
    templated = Checkpoint(folder / "m-{epoch:02d}-{accuracy:.2f}.safetensors", monitor="loss")
    _fit([plain, templated])
    names = sorted(os.listdir(folder))
    assert names[-1] == "model.safetensors" and [n[:5] for n in names[:-1]] == ["m-01-", "m-02-"]
    assert [path for _, path in plain.saved] == [str(folder / "model.safetensors")] * 2
    assert nnlab.load(folder / names[0]).weight.shape == (3, 2)  # a model file, read back


@pytest.mark.parametrize("name, words", [("m-{bogus}.safetensors", r"'bogus'.*epoch, loss, accuracy, lr"),
                                          ("m-{0}.safetensors", "cannot be filled in"),
                                          ("m-{loss:d}.safetensors", "cannot be filled in")])
def test_a_placeholder_fit_does_not_fill_is_refused_before_the_first_epoch(tmp_path, name, words):
    seen = []

    class Epochs(nnlab.train.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    with pytest.raises(ConfigError, match=words):
        _fit([Epochs(), Checkpoint(tmp_path / name, monitor="loss")])
    assert seen == [] and os.listdir(tmp_path) == []


def test_nnlab_train_in_a_runs_folder_with_braces_writes_its_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.toml").write_text('[data]\nsource = "moons"\n[model]\nhidden = [4]\n[train]\nepochs = 2\n')
    assert main(["train", "m.toml", "--quiet", "--runs-dir", "r{0}"]) == 0
    assert (tmp_path / "r{0}" / "m" / "checkpoint.safetensors").is_file()
