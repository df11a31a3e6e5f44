"""``nnlab export RUN --format onnx [-o model.onnx]``: a run's model, with its preprocessing, as an ONNX file."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

FORMATS = ("onnx",)


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="write a trained model (and its preprocessing) as an ONNX file")
    export.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder (runs/NAME) or a model file")
    export.add_argument("--format", default="onnx", help="file format (only 'onnx')")
    export.add_argument("-o", "--output", help="where to write (default: model.onnx in the run folder, "
                        "or the model file's name with .onnx)")
    export.add_argument("--input-shape", help="shape of one input without the batch axis, e.g. 1,40 "
                        "(default: the preprocessing's or the first layer's width)")
    export.add_argument("--no-preprocessing", action="store_true",
                        help="leave the saved preprocessing out: the graph takes preprocessed inputs")


def command(args) -> int:
    if args.format not in FORMATS:
        raise ConfigError(f"--format {args.format!r} is not supported; choose one of: {', '.join(FORMATS)}")
    from .. import io as model_io
    from .commands import _model_path

    source = _model_path(args.model)
    output = Path(args.output) if args.output else (
        Path(args.model) / "model.onnx" if Path(args.model).is_dir() else source.with_suffix(".onnx"))
    if output.is_dir():
        raise ConfigError(f"the output path {str(output)!r} is a folder; pass -o FILE")
    if output.exists() and source.exists() and os.path.samefile(output, source):
        raise ConfigError(f"the output file {str(output)!r} is the model file itself; pass another -o FILE")
    shape = _shape(args.input_shape)
    try:
        from .. import onnx as nnlab_onnx

        import onnx  # noqa: F401  (only to report a missing package as a user error)
    except ImportError:
        raise ConfigError("nnlab export --format onnx needs the onnx package: pip install 'nnlab[onnx]'") from None
    model = model_io.load_model(source)
    proto = nnlab_onnx.export(model, output, input_shape=shape, include_preprocessing=not args.no_preprocessing)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    print(f"wrote {output} (ONNX opset {nnlab_onnx.OPSET}, input {tuple(dims)}, "
          f"{len(proto.graph.node)} nodes)")
    return 0


def _shape(text: str | None):
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise ConfigError(f"--input-shape takes positive integers separated by commas (e.g. 1,40), got {text!r}")
    if max(shape) >= 2**31:
        raise ConfigError(f"--input-shape {text!r}: each size must be below 2**31 (the shape of one input, e.g. 1,40)")
    import math

    from .memory import check_memory

    # the export traces a batch of 2 such inputs (float64 at most)
    check_memory(f"--input-shape {text!r}", 2 * math.prod(shape) * 8, "give the shape of one input, e.g. 1,40")
    return shape
