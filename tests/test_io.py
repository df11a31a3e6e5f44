"""Model files: exact round trips, and every broken file rejected with a clear ModelFileError."""

import json
import os

import numpy as np
import pytest

import nnlab
from nnlab import io as model_io
from nnlab import nn
from nnlab.data import Pipeline, Standardizer
from nnlab.errors import ModelFileError


def _model():
    nnlab.seed(0)
    return nn.Sequential(
        nn.Linear(5, 8), nn.BatchNorm(8), nn.PReLU(), nn.Dropout(keep=0.8),
        nn.Maxout(8, 4, pieces=3), nn.Linear(4, 3),
    )


def _trained_model():
    model = _model()
    X = np.random.default_rng(1).normal(size=(32, 5)).astype(np.float32)
    model.train()
    model(nnlab.tensor(X))  # moves the BatchNorm running statistics away from their start
    return model, X


def test_round_trip_gives_identical_predictions(tmp_path):
    model, X = _trained_model()
    pre = Pipeline([Standardizer()]).fit(X * 3 + 1)
    path = tmp_path / "m.safetensors"
    nnlab.save(model, path, preprocessing=pre, metadata={"note": "hello"})
    loaded = nnlab.load(path)
    model.eval()
    np.testing.assert_array_equal(loaded(nnlab.tensor(X)).numpy(), model(nnlab.tensor(X)).numpy())
    for (name, a), (name_b, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert name == name_b
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.preprocessing.transform(X), pre.transform(X))
    assert loaded.metadata == {"note": "hello"}
    assert not loaded.training


def test_file_holds_no_pickle_and_names_its_format(tmp_path):
    model, _ = _trained_model()
    path = tmp_path / "m.safetensors"
    nnlab.save(model, path)
    meta = model_io.read_metadata(path)
    assert meta["format"] == "nnlab-model" and meta["nnlab_version"] == nnlab.__version__
    assert meta["architecture"]["type"] == "Sequential"
    assert b"pickle" not in path.read_bytes() and b"\x80\x04" not in path.read_bytes()[:16]


def _saved(tmp_path):
    model, _ = _trained_model()
    path = tmp_path / "m.safetensors"
    nnlab.save(model, path)
    return path, path.read_bytes()


def _header(payload):
    size = int.from_bytes(payload[:8], "little")
    return size, json.loads(payload[8 : 8 + size])


def _rewrite_header(payload, header):
    """Re-encode the header, padded to the original length so the data offsets stay valid (the checksum is not redone)."""
    size = int.from_bytes(payload[:8], "little")
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= size
    return payload[:8] + text.ljust(size) + payload[8 + size :]


def _resigned(path, edit):
    """Rewrite the file at ``path`` after ``edit(entries, tensors)``, with a freshly computed checksum.

    A forger can always do this, so these files test the checks that do not rely on the checksum.
    """
    from nnlab import _modelfile

    entries, tensors = _modelfile.decode(path)
    entries = {k: v for k, v in entries.items() if k != "checksum"}
    edit(entries, tensors)
    path.write_bytes(_modelfile.encode(tensors, entries))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p[: len(p) // 2], "truncated|corrupted"),
        (lambda p: p[:5], "too short"),
        (lambda p: p[:-1] + bytes([p[-1] ^ 0xFF]), "checksum"),
        (lambda p: b"not a model at all, just text" * 4, "not an nnlab model"),
    ],
)
def test_damaged_files_are_rejected(tmp_path, damage, message):
    path, payload = _saved(tmp_path)
    path.write_bytes(damage(payload))
    with pytest.raises(ModelFileError, match=message):
        nnlab.load(path)


def test_edited_architecture_is_rejected(tmp_path):
    path, payload = _saved(tmp_path)
    size, header = _header(payload)
    spec = json.loads(header["__metadata__"]["architecture"])
    spec["layers"][-1]["args"]["out_features"] = 7  # no longer matches the stored weight
    header["__metadata__"]["architecture"] = json.dumps(spec, separators=(",", ":"))
    path.write_bytes(_rewrite_header(payload, header))
    with pytest.raises(ModelFileError, match="checksum mismatch: the file was changed after it was written"):
        nnlab.load(path)

    def edit(entries, tensors):  # the same edit with the checksum recomputed: the shapes still disagree
        entries["architecture"] = json.dumps(spec)

    path.write_bytes(payload)
    _resigned(path, edit)
    with pytest.raises(ModelFileError, match="does not match its architecture"):
        nnlab.load(path)


def test_unknown_layer_type_in_file_is_rejected(tmp_path):
    path, payload = _saved(tmp_path)
    _resigned(path, lambda entries, t: entries.update(architecture=entries["architecture"].replace('"PReLU"', '"Evil"')))
    with pytest.raises(ModelFileError, match="does not match its architecture.*unknown layer type 'Evil'"):
        nnlab.load(path)


def test_safetensors_file_that_is_not_an_nnlab_model(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="not an nnlab model"):
        nnlab.load(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        nnlab.load(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="folder"):
        nnlab.load(tmp_path)


def test_interrupted_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path, before = _saved(tmp_path)

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        nnlab.save(_model(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporary left behind
