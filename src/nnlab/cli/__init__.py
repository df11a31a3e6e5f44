"""The ``nnlab`` command: thin wrappers over the library.

User errors (bad config, bad data, bad model file) print one message and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
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

    search = sub.add_parser("lr-search", help="the notes' coarse-then-fine learning-rate search")
    search.add_argument("config", nargs="?", help="TOML config file (omit for the default digits MLP)")
    search.add_argument("--epochs", type=int, default=3, help="epochs per trial (default 3)")
    search.add_argument("--no-refine", action="store_true", help="only the coarse log grid")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from . import commands  # heavy imports only once a command runs

    try:
        return commands.run(args)
    except NnlabError as exc:
        print(f"nnlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
