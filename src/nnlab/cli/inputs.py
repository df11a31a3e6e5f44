"""Checks of the files ``predict`` and ``evaluate`` read and write, before any work is done."""

from __future__ import annotations

import os

from ..data.readers import _is_number  # the reader's own rule for "this cell is a number"
from ..errors import ConfigError, DataError


def read_rows(path: str) -> None:
    """Refuse a CSV file whose first line is data, or with blank lines (the output rows would not line up).

    One prediction is written per input row, in order; a file without a header
    line would lose its first row to the header, and a blank line would shift
    every later row against the input, so both are refused with the line number.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            if first.strip() and all(_is_number(cell.strip()) for cell in first.split(",")):
                raise DataError(f"{path}: the first line holds numbers ({first.strip()[:60]!r}), not column "
                                "names; add a header line naming the columns")
            for number, line in enumerate(handle, start=2):
                if not line.strip():
                    rest = handle.read()
                    if rest.strip():
                        raise DataError(f"{path}, line {number}: blank line; remove it, so that the output "
                                        "rows line up with the input rows")
                    return
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except FileNotFoundError:
        raise DataError(f"input file {path!r} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"input path {path!r} is a folder, not a CSV file") from None


def output_path(input_path: str, output: str | None, model_path: str | os.PathLike | None = None) -> str:
    """Where ``predict`` writes: never the input file, never the model file it read, never a folder."""
    out = output or (os.path.splitext(input_path)[0] + ".predictions.csv")
    if os.path.isdir(out):
        raise ConfigError(f"the output path {out!r} is a folder; pass -o FILE")
    if os.path.exists(out) and os.path.exists(input_path) and os.path.samefile(out, input_path):
        raise ConfigError(f"the output file {out!r} is the input file; pass another -o FILE")
    if model_path is not None and os.path.exists(out) and os.path.exists(model_path) \
            and os.path.samefile(out, model_path):  # export's rule: writing there would destroy the model
        raise ConfigError(f"the output file {out!r} is the model file itself; pass another -o FILE")
    return out
