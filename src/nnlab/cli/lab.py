"""``nnlab lab list | run NAME [--quick] [--seeds N] | report``: the notes' claims as measured experiments."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ConfigError


def add_parser(sub) -> None:
    """Register the ``lab`` sub-command on the main parser's sub-parsers."""
    lab = sub.add_parser("lab", help="run the lecture notes' claims as measured experiments")
    actions = lab.add_subparsers(dest="lab_command", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="name each experiment with the claim it tests")
    run = actions.add_parser("run", help="run one experiment and print its numbers and verdict")
    run.add_argument("name", help="experiment name (see `nnlab lab list`)")
    report = actions.add_parser("report", help="run every experiment and write one self-contained HTML page")
    report.add_argument("-o", "--output", default="lab-report.html", help="the HTML file (default lab-report.html)")
    for p in (run, report):
        p.add_argument("--quick", action="store_true", help="reduced sizes (minutes instead of tens of minutes)")
        p.add_argument("--seeds", type=int, default=None, help="seeds per experiment (default 3 quick, 5 full)")
        p.add_argument("--jobs", type=int, default=-1, help="parallel processes (default: one per core)")
        p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run the jobs on this Dask scheduler's workers (default: $DASK_SCHEDULER_ADDRESS, else local)")


def _check_output(path: Path) -> None:
    """A clear error now for an -o the report could not be written to once every experiment has run."""
    if path.is_dir():
        raise ConfigError(f"the output path {str(path)!r} is a folder; pass -o FILE")
    folder = path.parent
    if not folder.exists():
        raise ConfigError(f"the output path {str(path)!r} is in the folder {str(folder)!r}, which does not exist; "
                          "create it or pass another -o")
    if not folder.is_dir():
        raise ConfigError(f"the output path {str(path)!r} is under {str(folder)!r}, which is a file, not a folder; "
                          "pass another -o")


def command(args) -> int:
    from .. import lab

    if args.lab_command == "list":
        for e in lab.experiments():
            print(f"{e.number:>2}. {e.name:<17} {e.title}")
            for c in e.claims:
                print(f"      \"{c.quote}\" ({c.notes})")
        for number, text in lab.WAITING.items():
            print(f"{number:>2}. (waiting)         {text}")
        return 0
    if args.lab_command == "report":  # before the experiments run (minutes of compute), not after
        _check_output(Path(args.output))
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 5)
    names = [lab.get(args.name).name] if args.lab_command == "run" else lab.names()
    start = time.perf_counter()
    results = lab.run(names, seeds=seeds, quick=args.quick, n_jobs=args.jobs, scheduler=args.scheduler)
    wall = time.perf_counter() - start
    for r in results:
        print(r.text())
        print()
    if args.lab_command == "report":
        cmd = f"nnlab lab report{' --quick' if args.quick else ''} --seeds {seeds}"
        lab.write_report(results, Path(args.output), wall_seconds=wall, command=cmd)
        print(f"report written to {args.output} ({wall:.0f} s)")
    return 0
