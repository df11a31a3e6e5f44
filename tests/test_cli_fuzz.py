"""Hypothesis drives `nnlab` with generated configs, options, CSV files and edited model files: it exits 0 or 2
(1 only for a diverged run), never with a traceback, changes no file outside its run folder, and an edited
model file never loads with other predictions.  Most examples call ``main()`` in this process (fast); a few
run a real process.  The long run is ``tests/fuzz_cli_long.py``."""

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_fuzz import check_call, make_world, mutate, options, sections, to_toml

FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = make_world(tmp_path_factory.mktemp("world"))
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "c.toml").write_text(f'[data]\nsource = "csv"\npath = "{world / "train.csv"}"\n'
                                        'target = "label"\n[model]\nhidden = [8]\n[train]\nepochs = 2\n')
        assert check_call(["train", "c.toml", "--quiet"], Path(d), world).code == 0
        (world / "model.safetensors").write_bytes((Path(d) / "runs" / "c" / "model.safetensors").read_bytes())
    return world


def _in_fresh_folder(world, argv, config=None, subprocess_call=False):
    with tempfile.TemporaryDirectory() as d:
        if config is not None:
            (Path(d) / "c.toml").write_text(config) if isinstance(config, str) else (Path(d) / "c.toml").write_bytes(
                config)
        return check_call(argv, Path(d), world, subprocess_call=subprocess_call)


def test_fuzzed_configs_and_options(world):
    outcomes = []

    @FAST
    @given(config=sections(world), extra=options)
    def run(config, extra):
        outcomes.append(_in_fresh_folder(world, ["train", "c.toml", "--quiet", *extra], to_toml(config)).code)

    run()
    assert 0 in outcomes and 2 in outcomes  # the generator reaches both trained runs and refusals


@settings(max_examples=3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(config=sections(Path("/nonexistent")))
def test_fuzzed_configs_in_a_real_process(world, config):
    _in_fresh_folder(world, ["train", "c.toml", "--quiet"], to_toml(config), subprocess_call=True)


@FAST
@given(raw=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_config_files_that_are_not_toml(world, raw):
    assert _in_fresh_folder(world, ["train", "c.toml", "--quiet", "--epochs", "1"], raw).code in (0, 2)


cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 5).map(str),
                 st.sampled_from(["", " ", "x", "1e400", "--1", '"3"']))
row = st.lists(cell, min_size=0, max_size=4).map(",".join)


@FAST
@given(header=st.sampled_from(["a,b,c", "a,b", "a,b,c,d", "1,2,3", ""]), rows=st.lists(row, max_size=6))
def test_predict_on_generated_csv_files(world, header, rows):
    text = "\n".join([header, *rows]) + "\n"
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "in.csv").write_text(text)
        outcome = check_call(["predict", str(world / "model.safetensors"), "in.csv", "-o", "runs/p/out.csv"],
                             Path(d), world)
        if outcome.code == 0:  # one prediction per input row, in order
            written = (Path(d) / "runs" / "p" / "out.csv").read_text().splitlines()
            assert len(written) == 1 + len(rows)


def test_edited_model_files_never_predict_differently(world):
    """150 random edits of a model file: each is refused (exit 2) or predicts exactly as the original."""
    good = (world / "model.safetensors").read_bytes()
    rnd = random.Random(0)
    with tempfile.TemporaryDirectory() as d:
        cwd = Path(d)
        (cwd / "in.csv").write_text((world / "in.csv").read_text())
        assert check_call(["predict", str(world / "model.safetensors"), "in.csv", "-o", "runs/p/ref.csv"],
                          cwd, world).code == 0
        reference = (cwd / "runs" / "p" / "ref.csv").read_bytes()
        refused = changed = 0
        for _ in range(150):
            edited = mutate(good, rnd)
            (cwd / "runs" / "p" / "m.safetensors").write_bytes(edited)
            outcome = check_call(["predict", "runs/p/m.safetensors", "in.csv", "-o", "runs/p/out.csv"], cwd, world)
            if outcome.code == 0:
                assert (cwd / "runs" / "p" / "out.csv").read_bytes() == reference  # no silent change
            else:
                refused += 1
            changed += edited != good
        assert refused == changed  # the whole-file checksum: every edit that changes a byte is refused
