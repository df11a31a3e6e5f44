"""Model files as an adversarial user meets them: every edit detected, nothing built or read before it is checked."""

import json
import os
import pickle
import tracemalloc

import numpy as np
import pytest

import nnlab
from nnlab import _modelfile, nn
from nnlab.data import Pipeline, Standardizer
from nnlab.errors import ModelFileError


def _small(tmp_path, name="m.safetensors"):
    nnlab.seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
    X = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    path = tmp_path / name
    nnlab.save(model, path, preprocessing=Pipeline([Standardizer()]).fit(X), classes=["no", "yes"],
               metadata={"config": {"seed": 0}})
    return path, path.read_bytes(), X


def _resign(path, payload, edit):
    """The file after ``edit(entries, tensors)`` with a correct checksum: what a forger can make."""
    path.write_bytes(payload)
    entries, tensors = _modelfile.decode(path)
    entries.pop("checksum")
    edit(entries, tensors)
    path.write_bytes(_modelfile.encode(tensors, entries))


def test_every_single_byte_edit_is_refused(tmp_path):
    path, payload, _ = _small(tmp_path)
    fd = os.open(path, os.O_RDWR)
    try:
        for i in range(len(payload)):  # the header (entries, dtypes, shapes, offsets, padding) and every tensor byte
            for flip in (0x01, 0x20):
                os.pwrite(fd, bytes([payload[i] ^ flip]), i)  # in place: rewriting the file each time is slow
                with pytest.raises(ModelFileError):
                    nnlab.load(path)
            os.pwrite(fd, payload[i : i + 1], i)
    finally:
        os.close(fd)
    assert path.read_bytes() == payload and nnlab.load(path) is not None


@pytest.mark.parametrize("old, new", [('"preprocessing"', '"preprocessinG"'), ('\\"Tanh\\"', '\\"ReLU\\"')])
def test_edits_that_would_change_predictions_are_a_checksum_mismatch(tmp_path, old, new):
    path, payload, _ = _small(tmp_path)
    assert old.encode() in payload
    path.write_bytes(payload.replace(old.encode(), new.encode(), 1))
    with pytest.raises(ModelFileError, match="checksum mismatch: the file was changed after it was written"):
        nnlab.load(path)


def test_same_model_gives_the_same_bytes_with_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = _small(tmp_path, "a.safetensors")[1]
    second = _small(tmp_path, "b.safetensors")[1]
    assert first == second
    assert nnlab.io.read_metadata(tmp_path / "a.safetensors")["created"] == "2023-11-14T22:13:20+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ModelFileError, match="SOURCE_DATE_EPOCH"):
        _small(tmp_path, "c.safetensors")


def test_the_safetensors_library_reads_the_file_and_classes_round_trip(tmp_path):
    from safetensors.numpy import load_file

    path, _, X = _small(tmp_path)
    model = nnlab.load(path)
    assert model.classes == ["no", "yes"] and model.metadata == {"config": {"seed": 0}}
    library = load_file(str(path))
    assert {k for k in library if k.startswith("model.")} == {"model." + k for k in model.state_dict()}
    np.testing.assert_array_equal(library["model.0.weight"], model.state_dict()["0.weight"])


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda e, t: e.pop("classes"), "missing entries \\['classes'\\]"),
        (lambda e, t: e.update(extra="1"), "unknown entries"),
        (lambda e, t: e.update(architecture="[1, 2]"), "architecture entry is a list"),
        (lambda e, t: e.update(metadata="[]"), "metadata entry is a list"),
        (lambda e, t: e.update(preprocessing='"x"'), "preprocessing entry is a str"),
        (lambda e, t: e.update(classes='["a"]'), "two or more distinct"),
        (lambda e, t: e.update(classes='["a", "b", "c"]'),
         "m.safetensors': its classes entry names 3 classes but the model gives 2 outputs"),
        (lambda e, t: e.update(architecture="[" * 200_000 + "]" * 200_000), "nested deeper than 64"),
        (lambda e, t: e.update(format_version="1"), "format version '1'; this nnlab reads version '2'"),
        (lambda e, t: t.update({"evil": np.zeros(2)}), "unexpected tensor 'evil'"),
        (lambda e, t: e.update(preprocessing=json.dumps({"type": "Standardizer", "mean": {"__array__": []}})),
         "invalid preprocessing state"),
    ],
)
def test_forged_files_with_a_valid_checksum_are_still_validated(tmp_path, edit, message):
    path, payload, _ = _small(tmp_path)
    _resign(path, payload, edit)
    with pytest.raises(ModelFileError, match=message):
        nnlab.load(path)


@pytest.mark.parametrize("size", [10**12, 20000])
def test_layer_sizes_are_checked_against_the_tensors_before_allocating(tmp_path, size):
    path, payload, _ = _small(tmp_path)
    arch = lambda e: json.loads(e["architecture"])  # noqa: E731

    def edit(entries, tensors):
        spec = arch(entries)
        spec["layers"][0]["args"].update(in_features=size, out_features=size)
        entries["architecture"] = json.dumps(spec)

    _resign(path, payload, edit)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=f"Linear needs weight of shape \\({size}, {size}\\)"):
            nnlab.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # a 20000 x 20000 float32 weight alone would be 1.6 GB


def test_a_huge_header_length_is_refused_before_reading(tmp_path):
    path = tmp_path / "sparse.safetensors"
    with open(path, "wb") as f:
        f.write((3 * 10**9).to_bytes(8, "little") + b"{")
        f.truncate(3 * 10**9 + 8)  # sparse: takes no disk space
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="beyond the 64 MiB limit"):
            nnlab.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_raw_header_structure_is_checked(tmp_path):
    path = tmp_path / "raw.safetensors"

    def write(header: dict, data=b""):
        text = json.dumps(header).encode()
        path.write_bytes(len(text).to_bytes(8, "little") + text + data)

    write({"__metadata__": [1, 2]})
    with pytest.raises(ModelFileError, match="not an nnlab model"):
        nnlab.load(path)
    write({"__metadata__": {"format": "nnlab-model", "format_version": "2", "checksum": ""},
           "t": {"dtype": "F32", "shape": [10**9], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(ModelFileError, match="does not fit its byte range"):
        nnlab.load(path)
    write({"a": {"dtype": "F32", "shape": [1]}})
    with pytest.raises(ModelFileError, match="not an nnlab model"):
        nnlab.load(path)
    deep = b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    path.write_bytes(len(deep).to_bytes(8, "little") + deep)
    with pytest.raises(ModelFileError, match="header is nested deeper than 64 levels"):
        nnlab.load(path)


def test_fifo_and_device_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        nnlab.load(fifo)  # would block forever if it were opened for a blocking read
    with pytest.raises(ModelFileError, match="not a regular file"):
        nnlab.load("/dev/zero")


def test_pickle_npz_and_pytorch_files_are_named(tmp_path):
    (tmp_path / "a.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    np.savez(tmp_path / "b.npz", w=np.zeros(2))
    np.save(tmp_path / "c.npy", np.zeros(2))
    for name, kind in (("a.pkl", "a pickle file"), ("b.npz", "a zip archive"), ("c.npy", "NumPy .npy")):
        with pytest.raises(ModelFileError, match=kind):
            nnlab.load(tmp_path / name)
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, tmp_path / "d.pt")
    with pytest.raises(ModelFileError, match="is a PyTorch file \\(torch.save\\), not an nnlab model file"):
        nnlab.load(tmp_path / "d.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "e.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ModelFileError, match="pickle file"):
        nnlab.load(tmp_path / "e.pt")


@pytest.mark.parametrize("edit", [{"in_channels": 10**6}, {"kernel_size": [30000, 30000]}, {"groups": 3}])
def test_conv_filter_sizes_are_checked_before_allocating(tmp_path, edit):
    nnlab.seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    path = tmp_path / "c.safetensors"
    nnlab.save(model, path)

    def forge(entries, tensors):
        spec = json.loads(entries["architecture"])
        spec["layers"][0]["args"].update(edit)
        entries["architecture"] = json.dumps(spec)

    _resign(path, path.read_bytes(), forge)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="Conv2d"):
            nnlab.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # 10**6 x 4 x 3 x 3 or 4 x 30000 x 30000 float32 filters would be 144 MB or 14 GB



def test_conv_state_shapes_match_the_layers_they_describe(tmp_path):
    nnlab.seed(0)
    for layer in (nn.Conv2d(4, 6, (3, 2), groups=2, bias=False), nn.Conv1d(3, 5, 4, padding="same")):
        spec = layer.spec_args()
        assert type(layer).state_shapes(spec) == {k: v.shape for k, v in layer.state_dict().items()}


def _forge_layer(path, payload, index, **args):
    """Layer ``index`` with edited arguments and tensors of the shapes they need: each layer fits its own tensors."""

    def edit(entries, tensors):
        spec = json.loads(entries["architecture"])
        layer = spec["layers"][index]
        layer["args"].update(args)
        for name, shape in getattr(nn, layer["type"]).state_shapes(layer["args"]).items():
            tensors[f"model.{index}.{name}"] = np.zeros(shape, np.float32)
        entries["architecture"] = json.dumps(spec)

    _resign(path, payload, edit)


def _cnn(tmp_path):
    nnlab.seed(0)
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3), nn.BatchNorm(4), nn.ReLU(),
                          nn.Conv2d(4, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    path = tmp_path / "m.safetensors"
    nnlab.save(model, path, classes=["a", "b", "c"])
    return path, path.read_bytes()


@pytest.mark.parametrize("model, index, args, message", [
    ("mlp", 2, {"in_features": 4}, r"layer '2': Linear expects 4 features on the last axis, got input shape \(1, 3\)"),
    ("cnn", 4, {"in_channels": 3}, r"layer '4': Conv2d expects input \(N, C, H, W\) with C = 3 channels, got shape "
                                   r"\(1, 4, 6, 6\)"),
    ("cnn", 2, {"num_features": 5}, r"layer '2': BatchNorm expects 5 channels on axis 1"),
    ("cnn", 6, {"in_features": 30}, r"layer '6': Linear expects 30 features on the last axis, got input shape \(1, 32\)"),
])
def test_layers_whose_sizes_do_not_chain_are_refused_at_load(tmp_path, model, index, args, message):
    path, payload = _small(tmp_path)[:2] if model == "mlp" else _cnn(tmp_path)
    nnlab.load(path)
    _forge_layer(path, payload, index, **args)
    with pytest.raises(ModelFileError, match="m.safetensors': the model's layer sizes do not chain: " + message):
        nnlab.load(path)


def test_the_cli_names_the_forged_file_and_writes_nothing(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path, payload, _ = _small(tmp_path)
    _forge_layer(path, payload, 2, in_features=4)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    for command in (["info", path.name], ["export", path.name, "-o", "m.onnx"]):
        result = subprocess.run([sys.executable, "-m", "nnlab.cli", *command], cwd=tmp_path, env=env,
                                capture_output=True, text=True)
        assert result.returncode == 2 and result.stdout == "", result.stdout
        assert result.stderr.startswith("nnlab: error: 'm.safetensors': the model's layer sizes do not chain")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_refuses_what_load_would(tmp_path):
    with pytest.raises(ModelFileError, match="classes names 3 classes but the model gives 2 outputs"):
        nnlab.save(nn.Sequential(nn.Linear(2, 2)), tmp_path / "a.safetensors", classes=[0, 1, 2])
    with pytest.raises(ModelFileError, match="layer '1': Linear expects 4 features"):
        nnlab.save(nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 2)), tmp_path / "b.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_parameter_shared_by_assignment(tmp_path):
    # Stored once under its first name, the shared weight left layer '2' without one: a file load refused.
    encoder, decoder = nn.Linear(3, 3, rng=0), nn.Linear(3, 3, rng=1)
    decoder.weight = encoder.weight
    with pytest.raises(nnlab.errors.ConfigError, match=r"'2.weight' is the same Parameter as '0.weight'.*TiedLinear"):
        nnlab.save(nn.Sequential(encoder, nn.ReLU(), decoder), tmp_path / "tied.safetensors")
    assert list(tmp_path.iterdir()) == []
    encoder = nn.Linear(3, 2, rng=0)  # the tie a spec records still saves and loads as one Parameter
    nnlab.save(nn.Sequential(encoder, nn.Tanh(), nn.TiedLinear(encoder)), tmp_path / "ok.safetensors")
    loaded = nnlab.load(tmp_path / "ok.safetensors")
    assert loaded[2].weight is loaded[0].weight


def _forge_standardizer(width, second=None):
    """A forger's edit: the Standardizer made ``width`` wide (its vectors resized), optionally a second step."""
    def edit(entries, tensors):
        pre = json.loads(entries["preprocessing"])
        pre["steps"][0]["n_features"] = width
        for name in ("mean", "scale"):
            tensors[f"preprocessing.steps.0.{name}"] = np.ones(width, np.float32)
        if second is not None:
            pre["steps"].append({"type": "UnitNormalizer", "n_features": second})
        entries["preprocessing"] = json.dumps(pre)
    return edit


@pytest.mark.parametrize("edit, message", [
    (_forge_standardizer(3), "its preprocessing gives 3 features per row but the model takes 2"),
    (_forge_standardizer(2, second=5), "its preprocessing steps do not chain: Standardizer gives 2 features per row, "
                                       "the UnitNormalizer after it takes 5"),
])
def test_preprocessing_that_does_not_fit_the_model_is_refused_at_load(tmp_path, edit, message):
    path, payload, _ = _small(tmp_path)
    _resign(path, payload, edit)
    with pytest.raises(ModelFileError, match=f"m.safetensors'?: {message}"):
        nnlab.load(path)


def test_save_refuses_preprocessing_of_another_width(tmp_path):
    from nnlab.data import OneHotEncoder

    X = np.array([[0.0, 1.0], [1.0, 2.0], [0.0, 3.0]], dtype=np.float32)
    encoded = Pipeline([OneHotEncoder(columns=[0]), Standardizer()]).fit(X)  # 2 columns of column 0, then column 1
    assert encoded.n_outputs == 3 == encoded.transform(X).shape[1]
    nnlab.save(nn.Sequential(nn.Linear(3, 2)), tmp_path / "ok.safetensors", preprocessing=encoded)
    with pytest.raises(ModelFileError, match="its preprocessing gives 3 features per row but the model takes 2"):
        nnlab.save(nn.Sequential(nn.Linear(2, 2)), tmp_path / "bad.safetensors", preprocessing=encoded)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.safetensors"]


@pytest.mark.parametrize("key, dtype", [("model.0.weight", np.int32), ("model.2.bias", np.bool_),
                                        ("model.0.weight", np.uint8)])
def test_a_parameter_forged_as_integers_or_bools_is_refused_not_cast(tmp_path, key, dtype):
    path, payload, _ = _small(tmp_path)

    def edit(entries, tensors):
        tensors[key] = np.ones(tensors[key].shape, dtype)  # the right shape, a valid checksum: only the dtype is off

    _resign(path, payload, edit)
    with pytest.raises(ModelFileError, match=f"m.safetensors' is corrupted: tensor '{key}' has dtype "
                                             f"{np.dtype(dtype)}, but the model's '{key[6:]}' is floating point"):
        nnlab.load(path)


def test_a_running_statistic_forged_as_integers_is_refused(tmp_path):
    path = tmp_path / "bn.safetensors"
    nnlab.save(nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm(3)), path)

    def edit(entries, tensors):
        tensors["model.1.running_var"] = np.ones(3, np.int64)

    _resign(path, path.read_bytes(), edit)
    with pytest.raises(ModelFileError, match="tensor 'model.1.running_var' has dtype int64"):
        nnlab.load(path)
    _resign(path, path.read_bytes(), lambda e, t: t.update({"model.1.running_var": np.ones(3, np.float16)}))
    assert nnlab.load(path)[1].running_var.dtype == np.float32  # another float width is still read, as before
