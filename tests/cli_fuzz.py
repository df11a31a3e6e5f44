"""What the CLI fuzz tests share: generated configs (hypothesis strategies), files, and the one check.

The check (:func:`check_call`): ``nnlab`` exits 0 or 2 (1 only for a diverged run, which says so), never
with a traceback, and changes no file outside the run folder ``runs/NAME/`` it was asked to write.  Used by
``tests/test_cli_fuzz.py`` (a bounded number of examples in CI) and ``tests/fuzz_cli_long.py`` (a long run).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

SRC = str(Path(__file__).parent.parent / "src")

# ----------------------------------------------------------------- TOML
def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(config: dict) -> str:
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for section, table in config.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------- strategies
garbage = st.one_of(st.integers(-10**13, 10**13), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=6), st.lists(st.integers(-3, 3), max_size=3))
small_int = st.integers(-2, 12)
fraction = st.one_of(st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.9, 1.0]), st.floats(-1, 2))


def _or_garbage(good):
    return st.one_of(good, good, good, garbage)  # mostly plausible values, so runs get past validation too


def sections(world: Path):
    """A strategy for config dicts: plausible small values (so many configs train) mixed with garbage."""
    files = [str(world / n) for n in ("train.csv", "train.npz", "in.csv", "bad.csv")]
    data = {
        "source": _or_garbage(st.sampled_from(["moons", "circles", "xor", "blobs", "spirals", "csv", "npz",
                                               "digits", "mnist"])),
        "n": _or_garbage(st.integers(1, 150)), "noise": _or_garbage(st.floats(0, 1)),
        "path": _or_garbage(st.sampled_from(files)), "target": _or_garbage(st.sampled_from(["label", "a", "x"])),
        "test_size": _or_garbage(fraction), "val_size": _or_garbage(fraction),
        "preprocessing": _or_garbage(st.lists(st.sampled_from(["standardize", "minmax", "unit_norm"]), max_size=2)),
        "categorical_columns": _or_garbage(st.lists(st.integers(-1, 3), max_size=2)),
        "augment_noise_std": _or_garbage(st.floats(0, 1)), "augment_jitter": _or_garbage(st.integers(0, 2)),
    }
    model = {
        "hidden": _or_garbage(st.lists(st.integers(0, 12), max_size=2)),
        "activation": _or_garbage(st.sampled_from(["relu", "tanh", "sigmoid", "maxout", "prelu", "elu", "gelu"])),
        "batch_norm": _or_garbage(st.booleans()), "dropout_keep": _or_garbage(fraction),
        "input_noise_std": _or_garbage(st.floats(0, 1)), "maxout_pieces": _or_garbage(small_int),
        "weight_init": _or_garbage(st.sampled_from(["he_normal", "xavier_uniform", "zeros", "glorot"])),
        "bias_init": _or_garbage(st.sampled_from([0.0, 0.01, "zeros"])),
        "activation_alpha": _or_garbage(st.floats(-1, 2)),
    }
    optimizer = {
        "name": _or_garbage(st.sampled_from(["sgd", "adam", "adamw", "rmsprop", "adagrad", "line_search"])),
        "lr": _or_garbage(st.sampled_from([1e-3, 0.1, 10.0, 1e6, 0.0])), "momentum": _or_garbage(fraction),
        "nesterov": _or_garbage(st.booleans()), "betas": _or_garbage(st.lists(fraction, min_size=2, max_size=2)),
        "eps": _or_garbage(st.sampled_from([1e-8, 0.0, 1.0])), "weight_decay": _or_garbage(st.floats(0, 10)),
    }
    train = {
        "epochs": _or_garbage(st.integers(1, 2)), "batch_size": _or_garbage(st.integers(1, 64)),
        "early_stopping": _or_garbage(st.integers(1, 2)),
        "checkpoint": _or_garbage(st.sampled_from(["best", "last", "none"])),
        "log_format": _or_garbage(st.sampled_from(["csv", "jsonl"])),
        "class_weight": _or_garbage(st.sampled_from(["balanced", [1.0, 2.0], {"0": 3.0}, {"x": 1.0}, [1, 1, 1]])),
    }
    other = {
        "loss": {"name": _or_garbage(st.sampled_from(["cross_entropy", "mse", "euclidean"])),
                 "label_smoothing": _or_garbage(fraction)},
        "schedule": {"name": _or_garbage(st.sampled_from(["constant", "step_decay", "cosine_decay", "plateau",
                                                          "halve_on_rise"])),
                     "warmup_epochs": _or_garbage(st.integers(0, 2)), "factor": _or_garbage(fraction)},
        "regularization": {"l1": _or_garbage(st.floats(0, 1)), "l2": _or_garbage(st.floats(0, 1))},
    }

    def section(keys, unknown=True):
        extra = {"colour": garbage} if unknown else {}
        return st.fixed_dictionaries({}, optional={**keys, **extra})

    top = {"name": _or_garbage(st.sampled_from(["run", "a-b", ".", "..", "x/y", ""])),
           "seed": _or_garbage(st.integers(-1, 3)),
           "data": section(data), "model": section(model), "optimizer": section(optimizer),
           "train": section(train), **{k: section(v, unknown=False) for k, v in other.items()}}
    # Small by default: a config without data.source trains the digits MLP for 40 epochs.
    base = st.fixed_dictionaries({"data": st.just({"source": "moons", "n": 80}), "model": st.just({"hidden": [8]}),
                                  "train": st.just({"epochs": 1})})
    return st.tuples(base, st.fixed_dictionaries({}, optional=top)).map(_merge)


def _merge(pair) -> dict:
    base, drawn = pair
    out = {k: dict(v) for k, v in base.items()}
    for key, value in drawn.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


options = st.lists(st.sampled_from([["--epochs", "1"], ["--epochs", "0"], ["--name", "other"], ["--name", ".."],
                                    ["--overwrite"], ["--resume"]]), max_size=2).map(lambda l: sum(l, []))


# ---------------------------------------------------------------- files
def make_world(world: Path) -> Path:
    """Data files the configs may name (one CSV with text labels), and a good model to mutate."""
    world.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    rows = ["a,b,c,label"] + [",".join(map(str, r)) + f",{l}" for r, l in zip(X, labels)]
    (world / "train.csv").write_text("\n".join(rows) + "\n")
    np.savez(world / "train.npz", X=X.astype(np.float32), y=(X[:, 0] > 0).astype(np.int64))
    (world / "in.csv").write_text("\n".join(["a,b,c"] + [",".join(map(str, r)) for r in X[:8]]) + "\n")
    (world / "bad.csv").write_bytes(b"a,b\n1,\xff\n")
    return world


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


# ---------------------------------------------------------------- calls
class Outcome:
    def __init__(self, code, out, err, changed):
        self.code, self.out, self.err, self.changed = code, out, err, changed


def call_inprocess(argv, cwd: Path) -> Outcome:
    """``nnlab.cli.main(argv)`` in ``cwd``, its output captured; an escaping exception is a traceback (code None)."""
    from nnlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
            except BaseException:
                traceback.print_exc()
                code = None
    finally:
        os.chdir(here)
    return Outcome(code, out.getvalue(), err.getvalue(), None)


def call_subprocess(argv, cwd: Path) -> Outcome:
    result = subprocess.run([sys.executable, "-m", "nnlab.cli", *argv], cwd=cwd, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "PYTHONPATH": SRC})
    return Outcome(result.returncode, result.stdout, result.stderr, None)


def run_and_judge(argv, cwd: Path, world: Path, subprocess_call: bool = False):
    """Run ``nnlab argv`` in ``cwd``; returns the outcome and the list of broken promises (empty: all kept)."""
    before, world_before = snapshot(cwd), snapshot(world)
    outcome = (call_subprocess if subprocess_call else call_inprocess)(argv, cwd)
    problems = []
    if outcome.code is None or "Traceback" in outcome.err:
        problems.append("traceback")
    elif outcome.code not in (0, 1, 2):
        problems.append(f"exit code {outcome.code}")
    elif outcome.code == 1 and "training diverged" not in outcome.err:
        problems.append("exit 1 without 'training diverged'")
    elif outcome.code == 2 and "usage:" not in outcome.err and not outcome.err.startswith("nnlab: error: "):
        problems.append("exit 2 without one 'nnlab: error:' message")
    after = snapshot(cwd)
    outcome.changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    folders = {Path(k).parts[:2] for k in outcome.changed}
    # Every change inside one run folder runs/NAME/ (the fuzz's own inputs lie beside runs/ and stay).
    if snapshot(world) != world_before or len(folders) > 1 or any(f[0] != "runs" or len(f) != 2 for f in folders):
        problems.append(f"files changed outside the run folder: {outcome.changed[:5]}")
    return outcome, problems


def check_call(argv, cwd: Path, world: Path, subprocess_call: bool = False) -> Outcome:
    """Run ``nnlab argv`` in ``cwd`` and assert the CLI's promises; returns the outcome."""
    outcome, problems = run_and_judge(argv, cwd, world, subprocess_call)
    assert not problems, (argv, problems, outcome.err[-2000:])
    return outcome


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """One random edit of a file: flip, set, insert or delete bytes, or truncate it."""
    b = bytearray(data)
    kind = rnd.choice(["flip", "set", "insert", "delete", "truncate", "header"])
    i = rnd.randrange(len(b))
    if kind == "flip":
        b[i] ^= 1 << rnd.randrange(8)
    elif kind == "set":
        b[i] = rnd.randrange(256)
    elif kind == "insert":
        b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
    elif kind == "delete":
        del b[i:i + rnd.randint(1, 4)]
    elif kind == "truncate":
        del b[i:]
    else:  # an edit inside the JSON header, where the architecture and preprocessing live
        n = int.from_bytes(b[:8], "little")
        j = 8 + rnd.randrange(max(n, 1))
        b[j] = rnd.choice(b'0123456789{}[]",:. abcdefghijklmnopqrstuvwxyzTR')
    return bytes(b)
