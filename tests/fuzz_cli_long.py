"""A long fuzz run of `nnlab` (not collected by pytest; run by hand, its counts go into the closing note).

    PYTHONPATH=src python tests/fuzz_cli_long.py --configs 600 --subprocess 40 --edits 3000 --csv 400

Counts, per kind of input:
  configs   generated TOML configs and options for ``nnlab train`` (tests/cli_fuzz.py's strategies)
  raw       random bytes / text as the config file
  csv       generated CSV files for ``nnlab predict``
  edits     random one-place edits of a trained model file, then ``nnlab predict``
A *traceback* is an exception escaping ``main()`` or "Traceback" on stderr; a *silent prediction change* is
an edited model file that ``predict`` accepts (exit 0) and whose predictions file differs from the one of
the original file; a *misaligned output* is an accepted CSV whose predictions file has another number of
rows than the input has data rows.  Every call is also checked for files changed outside its run folder.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cli_fuzz import make_world, mutate, options, run_and_judge, sections, to_toml  # noqa: E402


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))


def _judge(counts, kind, argv, files, world, subprocess_call=False):
    with tempfile.TemporaryDirectory() as d:
        for name, content in files.items():
            path = Path(d) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        outcome, problems = run_and_judge(argv, Path(d), world, subprocess_call)
        counts[kind]["tried"] += 1
        counts[kind][{0: "exit 0", 1: "diverged (exit 1)", 2: "refused (exit 2)"}.get(outcome.code, "other exit")] += 1
        for problem in problems:
            key = problem.split(":")[0]
            counts[kind][key] += 1
            if counts[kind][key] <= 3:
                print(f"PROBLEM {kind}: {problem}\n  argv={argv}\n  stderr={outcome.err[-600:]!r}", flush=True)
        extra = {}
        for name in ("runs/p/out.csv",):
            if (Path(d) / name).exists():
                extra[name] = (Path(d) / name).read_bytes()
        return outcome, extra


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, default=300)
    parser.add_argument("--subprocess", type=int, default=20)
    parser.add_argument("--raw", type=int, default=200)
    parser.add_argument("--csv", type=int, default=200)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = collections.defaultdict(collections.Counter)
    began = time.time()
    with tempfile.TemporaryDirectory() as w:
        world = make_world(Path(w) / "world")
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "c.toml").write_text(f'[data]\nsource = "csv"\npath = "{world / "train.csv"}"\n'
                                            'target = "label"\n[model]\nhidden = [8]\n[train]\nepochs = 2\n')
            outcome, problems = run_and_judge(["train", "c.toml", "--quiet"], Path(d), world)
            assert outcome.code == 0 and not problems, outcome.err
            model = (Path(d) / "runs" / "c" / "model.safetensors").read_bytes()
        inputs = (world / "in.csv").read_text()

        @_settings(args.configs)
        @given(config=sections(world), extra=options)
        def configs(config, extra):
            _judge(counts, "configs", ["train", "c.toml", "--quiet", *extra], {"c.toml": to_toml(config)}, world)

        @_settings(args.subprocess)
        @given(config=sections(world), extra=options)
        def configs_in_processes(config, extra):
            _judge(counts, "configs (real processes)", ["train", "c.toml", "--quiet", *extra],
                   {"c.toml": to_toml(config)}, world, subprocess_call=True)

        @_settings(args.raw)
        @given(raw=st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
        def raw(raw):
            _judge(counts, "raw", ["train", "c.toml", "--quiet", "--epochs", "1"], {"c.toml": raw}, world)

        cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 5).map(str),
                         st.sampled_from(["", " ", "x", "1e400", "--1", '"3"', "\ufeff1"]))

        @_settings(args.csv)
        @given(header=st.sampled_from(["a,b,c", "a,b", "a,b,c,d", "1,2,3", "", "\ufeffa,b,c"]),
               rows=st.lists(st.lists(cell, max_size=4).map(",".join), max_size=8))
        def csv(header, rows):
            files = {"in.csv": "\n".join([header, *rows]) + "\n", "m.safetensors": model}
            outcome, extra = _judge(counts, "csv", ["predict", "m.safetensors", "in.csv", "-o", "runs/p/out.csv"],
                                    files, world)
            if outcome.code == 0 and len(extra["runs/p/out.csv"].decode().splitlines()) != 1 + len(rows):
                counts["csv"]["misaligned outputs"] += 1

        configs()
        configs_in_processes()
        raw()
        csv()
        rnd = random.Random(args.seed)
        _, ref = _judge(counts, "edits (reference)", ["predict", "m.safetensors", "in.csv", "-o", "runs/p/out.csv"],
                        {"in.csv": inputs, "m.safetensors": model}, world)
        for _ in range(args.edits):
            edited = mutate(model, rnd)
            outcome, extra = _judge(counts, "edits", ["predict", "m.safetensors", "in.csv", "-o", "runs/p/out.csv"],
                                    {"in.csv": inputs, "m.safetensors": edited}, world)
            if edited == model:
                counts["edits"]["no-op edits (same bytes)"] += 1
            if outcome.code == 0 and extra.get("runs/p/out.csv") != ref["runs/p/out.csv"]:
                counts["edits"]["silent prediction changes"] += 1
            if outcome.code == 0 and edited != model:
                counts["edits"]["changed file accepted"] += 1
    print(json.dumps({k: dict(v) for k, v in counts.items()}, indent=2))
    print(f"{time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
