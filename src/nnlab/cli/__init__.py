"""The ``nnlab`` command: thin wrappers over the library.

User errors (bad config, bad data, bad model file) print one message and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from ..errors import NnlabError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnlab",
        description="Train, evaluate and inspect NumPy neural networks from TOML configs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    train = sub.add_parser("train", help="train a model (default: an MLP on the digits data)")
    train.add_argument("config", nargs="?", help="TOML config file (omit for the default digits MLP)")
    train.add_argument("--epochs", type=int, help="override train.epochs")
    train.add_argument("--name", help="override the run name (the folder under runs/)")
    train.add_argument("--runs-dir", help="override the folder that holds the runs")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    train.add_argument("--distributed", action="store_true", help="data-parallel training over the MPI ranks "
                       "(implied under mpiexec -n K > 1; train.batch_size is per rank)")
    train.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="train [ensemble] members on this Dask "
                       "scheduler's workers (default: $DASK_SCHEDULER_ADDRESS, else local processes)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run of this config after its last complete epoch (same config and options)")

    resume = sub.add_parser("resume", help="continue a killed or interrupted run after its last complete epoch")
    resume.add_argument("run", metavar="RUN", help="the run folder (runs/NAME)")
    resume.add_argument("--quiet", action="store_true", help="no progress output")

    evaluate = sub.add_parser("evaluate", help="evaluate a trained run or model file")
    evaluate.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder (runs/NAME) or a model file")
    evaluate.add_argument("--data", help="CSV or .npz file to evaluate on (default: the run's own test split)")
    evaluate.add_argument("--target", help="label column of a CSV file (default: the run's)")

    predict = sub.add_parser("predict", help="predict the classes of the rows of a CSV file")
    predict.add_argument("model", metavar="MODEL", help="a model file or run folder")
    predict.add_argument("input", metavar="INPUT.csv", help="CSV file of raw features, one row per example")
    predict.add_argument("-o", "--output", help="where to write the predictions (default: INPUT.predictions.csv)")

    info = sub.add_parser("info", help="show a model's layers, parameter count and FLOPs per example")
    info.add_argument("model", metavar="MODEL", help="a model file or run folder")

    search = sub.add_parser(
        "lr-search", help="the notes' coarse-then-fine learning-rate search",
        description="Train the config's network for a few epochs at each rate of a log grid, then around the best; "
        "the rates are values for optimizer.lr (with schedule.lr_scaling = \"linear\", the base rate for "
        "schedule.base_batch_size, each trial training at the scaled rate nnlab train would use). The trials "
        "run at a constant rate, without the [schedule]'s decay or warm-up, for --epochs each (train.epochs "
        "and train.early_stopping do not apply); the rest is nnlab train's: the "
        "[regularization] penalties and their schedule, the optimizer's weight decay, the data augmentation.")
    search.add_argument("config", nargs="?", help="TOML config file (omit for the default digits MLP)")
    search.add_argument("--epochs", type=int, default=3, help="epochs per trial (default 3)")
    search.add_argument("--no-refine", action="store_true", help="only the coarse log grid")

    from . import export, lab, tune

    lab.add_parser(sub)
    export.add_parser(sub)
    tune.add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    stdout, sys.stdout = sys.stdout, _NamedOutput(sys.stdout)
    try:
        return _main(args)
    finally:
        sys.stdout = stdout


def _main(args) -> int:
    try:
        if args.command == "lab":
            from . import lab

            return lab.command(args)
        if args.command in ("export", "tune"):
            from importlib import import_module

            return import_module(f".{args.command}", __name__).command(args)
        from . import commands  # heavy imports only once a command runs

        return commands.run(args)
    except NnlabError as exc:
        print(f"nnlab: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``nnlab evaluate ... | head -2``): say so once, and stop Python
        # from reporting the failed flush of stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("nnlab: error: the output was closed before nnlab finished writing (broken pipe)", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename == _STDOUT:  # no second report of the unflushed rest when Python exits
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"nnlab: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnlab: interrupted", file=sys.stderr)
        return 130


_STDOUT = "standard output"


class _NamedOutput:
    """``sys.stdout`` that names itself in a failed write (``nnlab info M > /dev/full`` names no file)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._call("write", text)

    def flush(self):
        return self._call("flush")

    def _call(self, name, *args):
        try:
            return getattr(self._stream, name)(*args)
        except OSError as exc:
            if exc.filename is None:
                exc.filename = _STDOUT
            raise

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _os_error(exc: OSError) -> str:
    """A file-system error as one line naming the path and what to do."""
    path = exc.filename if exc.filename is not None else "a file"
    what = exc.strerror or str(exc)
    hints = {
        errno.ENOSPC: "free some disk space or choose another --runs-dir / -o",
        errno.EDQUOT: "free some disk space or choose another --runs-dir / -o",
        errno.EFBIG: "the file would exceed the file-size limit (ulimit -f); raise it or choose another path",
        errno.EACCES: "check the permissions or choose another path",
        errno.EPERM: "check the permissions or choose another path",
        errno.EROFS: "the file system is read-only; choose another path",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "the path is a folder; name a file",
        errno.ENOENT: "check the path",
    }
    hint = hints.get(exc.errno, "check the path")
    if path == _STDOUT:
        hint = "send nnlab's output somewhere that can take it"
    return f"{path}: {what}; {hint}"


if __name__ == "__main__":
    sys.exit(main())
