"""State-dict files: ``nnlab.save(model.state_dict(), path)`` / ``model.load_state_dict(nnlab.load(path))``."""

from collections import OrderedDict

import numpy as np
import pytest

import nnlab
from nnlab import io as model_io
from nnlab import nn
from nnlab.cli import main
from nnlab.errors import ModelFileError, NnlabError

ROWS = np.random.default_rng(3).normal(size=(16, 5)).astype(np.float32)


class TwoLayers(nn.Module):
    """A user's own Module: no registered type, so a model file cannot describe it."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(5, 6)
        self.second = nn.Linear(6, 2)
        self.register_buffer("steps", np.array(7, dtype=np.int64))  # a 0-d int buffer
        self.register_buffer("scale", np.array([1.5, -2.25], dtype=np.float64))

    def forward(self, x):
        return self.second(nnlab.functional.relu(self.first(x))) * nnlab.tensor(self.scale.astype(np.float32))


def _sequential(seed):
    nnlab.seed(seed)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm(4), nn.ReLU(), nn.Linear(4, 3))
    model.train()
    model(nnlab.tensor(ROWS))  # running statistics away from their start
    return model.eval()


def _unregistered(seed):
    nnlab.seed(seed)
    return TwoLayers()


def _same_state(a, b):
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert a[key].tobytes() == b[key].tobytes(), key  # bit for bit


@pytest.mark.parametrize("build", [_sequential, _unregistered])
def test_round_trip_restores_weights_and_predictions(tmp_path, build):
    model, fresh = build(0), build(1)
    assert not np.array_equal(fresh(nnlab.tensor(ROWS)).numpy(), model(nnlab.tensor(ROWS)).numpy())
    path = tmp_path / "w.safetensors"
    nnlab.save(model.state_dict(), path)
    loaded = nnlab.load(path)
    assert type(loaded) is OrderedDict and all(type(v) is np.ndarray for v in loaded.values())
    _same_state(loaded, model.state_dict())
    fresh.load_state_dict(loaded)
    _same_state(fresh.state_dict(), model.state_dict())
    np.testing.assert_array_equal(fresh.eval()(nnlab.tensor(ROWS)).numpy(), model(nnlab.tensor(ROWS)).numpy())


def test_the_unregistered_module_has_no_model_file_but_a_state_dict_file(tmp_path):
    model = _unregistered(0)
    with pytest.raises(NnlabError):
        nnlab.save(model, tmp_path / "m.safetensors")
    nnlab.save(model.state_dict(), tmp_path / "w.safetensors")
    loaded = nnlab.load(tmp_path / "w.safetensors")
    assert loaded["steps"].shape == () and loaded["steps"].dtype == np.int64 and loaded["steps"] == 7
    assert loaded["scale"].dtype == np.float64 and loaded["first.weight"].dtype == np.float32


def test_keys_come_back_in_saved_order_with_tensors_and_every_dtype(tmp_path):
    rng = np.random.default_rng(0)
    state = OrderedDict([
        ("z.last_name_first", rng.normal(size=(2, 3)).astype(np.float32)),
        ("a", nn.Parameter(rng.normal(size=4).astype(np.float32))),
        ("m.tensor", nnlab.tensor(rng.normal(size=(1, 2)))),
        ("half", np.array([1.0, -0.0, np.nan, np.inf], dtype=np.float16)),
        ("count", np.int32(5)), ("mask", np.array([True, False])), ("bytes", np.arange(3, dtype=np.uint8)),
        ("big_endian", np.arange(3, dtype=">f8")), ("empty", np.zeros((0, 3), dtype=np.float32)),
    ])
    nnlab.save(state, tmp_path / "w.safetensors")
    loaded = nnlab.load(tmp_path / "w.safetensors")
    assert list(loaded) == list(state)
    assert loaded["a"].dtype == np.float32 and loaded["m.tensor"].dtype == nnlab.tensor([1.0]).dtype
    np.testing.assert_array_equal(loaded["a"], state["a"].data)
    np.testing.assert_array_equal(loaded["half"], state["half"])
    assert loaded["count"].shape == () and loaded["count"].dtype == np.int32
    np.testing.assert_array_equal(loaded["big_endian"], np.arange(3.0))
    assert loaded["empty"].shape == (0, 3)


def test_the_safetensors_library_reads_it(tmp_path):
    from safetensors.numpy import load_file

    model = _sequential(0)
    nnlab.save(model.state_dict(), tmp_path / "w.safetensors")
    _same_state(OrderedDict(sorted(load_file(str(tmp_path / "w.safetensors")).items())),
                OrderedDict(sorted(model.state_dict().items())))


def test_read_metadata_gives_the_state_dict_entries(tmp_path):
    model = _sequential(0)
    nnlab.save(model.state_dict(), tmp_path / "w.safetensors")
    entries = model_io.read_metadata(tmp_path / "w.safetensors")
    assert entries["format"] == "nnlab-state-dict" and entries["keys"] == list(model.state_dict())
    assert "architecture" not in entries


def test_a_model_file_still_loads_as_a_model_and_the_kinds_are_told_apart(tmp_path):
    model = _sequential(0)
    nnlab.save(model, tmp_path / "m.safetensors")
    nnlab.save(model.state_dict(), tmp_path / "w.safetensors")
    loaded = nnlab.load(tmp_path / "m.safetensors")
    assert isinstance(loaded, nn.Module)
    np.testing.assert_array_equal(loaded(nnlab.tensor(ROWS)).numpy(), model(nnlab.tensor(ROWS)).numpy())
    assert model_io.read_metadata(tmp_path / "m.safetensors")["format"] == "nnlab-model"
    with pytest.raises(ModelFileError, match="w.safetensors' is not an nnlab model: it is an nnlab state-dict file"):
        model_io.load_model(tmp_path / "w.safetensors")


def test_every_edited_byte_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "w.safetensors"
    nnlab.save(OrderedDict([("b", np.arange(3, dtype=np.float32)), ("a", np.ones(2))]), path)
    payload = path.read_bytes()
    edited = tmp_path / "edited.safetensors"
    for i in range(len(payload)):
        changed = bytearray(payload)
        changed[i] ^= 0x01
        edited.write_bytes(bytes(changed))
        with pytest.raises(ModelFileError, match="edited.safetensors"):
            nnlab.load(edited)


def test_a_forged_keys_entry_is_refused_even_with_a_valid_checksum(tmp_path):
    from nnlab import _modelfile

    path = tmp_path / "w.safetensors"
    nnlab.save({"a": np.ones(2), "b": np.zeros(1)}, path)
    entries, tensors = _modelfile.decode(path, ("nnlab-state-dict", "1"))
    for keys in ('["a"]', '["a","a","b"]', '{"a":1}', '["a","b","c"]'):
        forged = {k: v for k, v in entries.items() if k != "checksum"}
        path.write_bytes(_modelfile.encode(tensors, {**forged, "keys": keys}))
        with pytest.raises(ModelFileError, match="w.safetensors' is corrupted: its keys entry"):
            nnlab.load(path)


@pytest.mark.parametrize("state, error, message", [
    ({1: np.zeros(2)}, TypeError, "state dict key 1 is of type int, not a string"),
    ({"w": np.zeros(2), "opt": np.array([object()])}, TypeError, "entry 'opt' has dtype object"),
    ({"names": np.array(["a", "b"])}, TypeError, "entry 'names' has dtype <U1"),
    ({"optimizer": {"lr": np.zeros(1)}}, TypeError, "entry 'optimizer' is of type dict, not an array"),
    ({"epoch": 3}, TypeError, "entry 'epoch' is of type int, not an array"),
    ({"z": np.zeros(2, dtype=np.complex64)}, TypeError, "entry 'z' has dtype complex64"),
    ({"__metadata__": np.zeros(1)}, ModelFileError, "'__metadata__' is reserved"),
])
def test_what_is_not_a_map_of_names_to_arrays_is_refused_and_nothing_written(tmp_path, state, error, message):
    with pytest.raises(error, match=message) as info:
        nnlab.save(state, tmp_path / "w.safetensors")
    if error is TypeError:
        assert "stores only a map of names to numeric arrays" in str(info.value)
        assert "TrainingState" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_model_file_options_are_refused_for_a_state_dict(tmp_path):
    with pytest.raises(TypeError, match="takes no metadata, classes: those belong to a model file"):
        nnlab.save({"a": np.zeros(1)}, tmp_path / "w.safetensors", metadata={"epoch": 3}, classes=[0, 1])
    assert list(tmp_path.iterdir()) == []


def test_a_refused_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "w.safetensors"
    nnlab.save({"a": np.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        nnlab.save({"a": np.ones(2), "epoch": 4}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


@pytest.mark.parametrize("command", [["info"], ["evaluate"], ["predict", "rows.csv"]])
def test_the_cli_refuses_a_state_dict_file_clearly(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.csv").write_text("a,b,c,d,e\n1,2,3,4,5\n")
    nnlab.save(_sequential(0).state_dict(), tmp_path / "w.safetensors")
    code = main([command[0], "w.safetensors", *command[1:]])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "w.safetensors' is not an nnlab model: it is an nnlab state-dict file" in err, err
    assert "model.load_state_dict(nnlab.load(path))" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv", "w.safetensors"]
