"""Categorical CSV features given as text (the notes' "male"/"female"): one-hot encoded, stored, applied in predict."""

import subprocess
import sys

import numpy as np
import pytest

import nnlab
from nnlab.data import OneHotEncoder, read_csv
from nnlab.errors import DataError


def _nnlab(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nnlab.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def _people(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    sex, city = rng.choice(["male", "female"], n), rng.choice(["paris", "rome", "oslo"], n)
    age = rng.uniform(18, 80, n)
    bought = np.where((sex == "male") ^ (city == "oslo"), "yes", "no")  # learnable from the categories only
    with open(path, "w") as f:
        f.write("age,sex,city,bought\n")
        f.writelines(f"{a:.1f},{s},{c},{b}\n" for a, s, c, b in zip(age, sex, city, bought))


def test_read_csv_keeps_categorical_columns_as_text(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("age,sex,y\n30,male,1\n41.5, female ,0\n")
    X, y, info = read_csv(path, target="y", with_names=True, categorical=["sex"])
    assert X.tolist() == [["30.0", "male"], ["41.5", "female"]] and y.tolist() == [1, 0]
    encoded = OneHotEncoder(columns=[1]).fit(X).transform(X)
    assert encoded.dtype == np.float32 and encoded.tolist() == [[30.0, 0.0, 1.0], [41.5, 1.0, 0.0]]
    with pytest.raises(DataError, match=r"column 'sex': 'male' is not a number \(a column of categories"):
        read_csv(path, target="y")
    with pytest.raises(DataError, match="no feature column 'colour'"):
        read_csv(path, target="y", categorical=["colour"])
    (tmp_path / "q.csv").write_text("age,sex,y\nold,male,1\n")
    with pytest.raises(DataError, match="column 'age': 'old' is not a number"):
        read_csv(tmp_path / "q.csv", target="y", categorical=["sex"])


def test_encoder_state_is_checked_when_loaded():
    state = OneHotEncoder(columns=[1]).fit(np.array([["1", "male"], ["2", "female"]])).get_state()
    assert state["categories"] == [["female", "male"]]
    assert OneHotEncoder.from_state(state).transform(np.array([["3", "male"]])).tolist() == [[3.0, 0.0, 1.0]]
    for bad, message in ((["male", "female"], "not sorted"), ([], "non-empty list"), (["a", 1], "numbers or of strings")):
        with pytest.raises(DataError, match=message):
            OneHotEncoder.from_state({**state, "categories": [bad]})
    with pytest.raises(DataError, match="'columns'"):
        OneHotEncoder.from_state({**state, "columns": [5]})


def test_cli_trains_on_text_categories_and_predict_applies_them(tmp_path):
    _people(tmp_path / "people.csv")
    (tmp_path / "run.toml").write_text(
        '[data]\nsource = "csv"\npath = "people.csv"\ntarget = "bought"\ncategorical_columns = ["sex", "city"]\n'
        '[model]\nhidden = [16]\n[optimizer]\nlr = 0.01\n[train]\nepochs = 30\ncheckpoint = "none"\n')
    trained = _nnlab("train", "run.toml", "--quiet", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert float(trained.stdout.split("test accuracy:")[1].split()[0]) >= 0.9
    model = nnlab.load(tmp_path / "runs" / "run" / "model.safetensors")
    encoder = model.preprocessing.steps[0]
    assert [c.tolist() for c in encoder.categories] == [["female", "male"], ["oslo", "paris", "rome"]]
    (tmp_path / "new.csv").write_text("age,sex,city\n30,male,rome\n60,female,rome\n25,male,oslo\n")
    predicted = _nnlab("predict", "runs/run", "new.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    rows = (tmp_path / "new.predictions.csv").read_text().splitlines()
    assert rows[0] == "prediction,p_no,p_yes" and [r.split(",")[0] for r in rows[1:]] == ["yes", "no", "no"]

    (tmp_path / "unseen.csv").write_text("age,sex,city\n30,male,berlin\n")
    refused = _nnlab("predict", "runs/run", "unseen.csv", cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "has value berlin at row 0, not seen in fit (known: oslo, paris, rome)" in refused.stderr
    assert not (tmp_path / "unseen.predictions.csv").exists()


def test_a_model_file_with_unsorted_categories_is_refused(tmp_path):
    from nnlab import nn
    from nnlab.errors import ModelFileError

    encoder = OneHotEncoder(columns=[0]).fit(np.array([["male", "1"], ["female", "2"]]))
    encoder.categories = [np.array(["male", "female"])]  # as an edited file would hold them
    nnlab.save(nn.Linear(3, 2), tmp_path / "m.safetensors", preprocessing=encoder)
    with pytest.raises(ModelFileError, match="invalid preprocessing state: .*not sorted and distinct"):
        nnlab.load(tmp_path / "m.safetensors")


def test_the_example_script_runs_with_the_default_checkpoint_and_its_resume_state(tmp_path):
    """The per-epoch resume state holds the Checkpoint's preprocessing, text categories included (it failed there)."""
    from pathlib import Path

    script = Path(__file__).parent.parent / "examples" / "categorical_csv.py"
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "exit code for an unseen category: 2" in done.stdout


def test_text_arrays_round_trip_through_a_training_state():
    from nnlab.train import resume

    arrays = {}
    saved = resume._plain({"categories": [np.array(["female", "male"]), np.array(["b", "a"], dtype="S1")]}, arrays, "x")
    assert arrays == {}  # text goes to the JSON entry, never to a tensor
    back = resume._restore(saved, arrays)["categories"]
    assert [c.tolist() for c in back] == [["female", "male"], [b"b", b"a"]] and back[0].dtype == np.dtype("<U6")
