"""The bytes of an nnlab model file: a safetensors file, written canonically and read defensively.

Layout (the safetensors format): an 8-byte little-endian header length N, N
bytes of JSON header (padded with spaces to a multiple of 8), then the raw
tensor bytes.  The header maps each tensor name to its dtype, shape and byte
range, and ``__metadata__`` holds string entries (the architecture etc., see
:mod:`nnlab.io`), one of them ``checksum``.

Why nnlab writes the bytes itself instead of calling ``safetensors``: the
library orders ``__metadata__`` keys by a per-process hash, so the same model
would give different bytes in every run.  Here the header is canonical JSON
(sorted keys, no spaces), so the same model always gives the same bytes, and
the ``safetensors`` library still reads the file (a test checks it).

The checksum is SHA-256 over the whole file as it would be with an empty
``checksum`` entry: the header (every metadata entry, every dtype, shape and
offset) and every tensor byte.  Reading checks, in order and before any large
allocation: a regular file (never a FIFO or device); the header length against
a cap and the file size; the header as canonical JSON no deeper than
``MAX_JSON_DEPTH``; every tensor entry's type, dtype, shape and byte range
against each other and the file size; then the checksum.  A checksum guards
against accidents and edits, not against a forger, who can recompute it, so
:mod:`nnlab.io` validates the content as well.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat

import numpy as np

from .errors import ModelFileError

MAX_HEADER_BYTES = 64 * 2**20  # architectures and metadata are far smaller; arrays travel as tensors
MAX_JSON_DEPTH = 64
DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
          "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_DTYPE_NAMES = {np.dtype(v): k for k, v in DTYPES.items()}
CHECKSUM_KEY = "checksum"


def canonical_json(value) -> str:
    """The one JSON text of ``value``: sorted keys, no spaces, ASCII only, no NaN or infinity."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _header_bytes(header: dict) -> bytes:
    text = canonical_json(header).encode("ascii")
    return text + b" " * (-len(text) % 8)


def _digest(header: dict, data: bytes) -> str:
    blank = {**header, "__metadata__": {**header["__metadata__"], CHECKSUM_KEY: ""}}
    h = hashlib.sha256(_header_bytes(blank))
    h.update(data)
    return h.hexdigest()


def encode(tensors: dict, metadata: dict) -> bytes:
    """The file bytes for ``tensors`` (name -> array) and ``metadata`` (name -> str); adds the checksum."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name], order="C")  # not ascontiguousarray, which makes a 0-d array 1-d
        dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        if dtype not in _DTYPE_NAMES:
            raise ModelFileError(f"tensor {name!r} has dtype {arr.dtype}, which a model file cannot store")
        raw = arr.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    data = b"".join(chunks)
    header["__metadata__"] = {**metadata, CHECKSUM_KEY: ""}
    header["__metadata__"][CHECKSUM_KEY] = _digest(header, data)
    head = _header_bytes(header)
    return len(head).to_bytes(8, "little") + head + data


# ------------------------------------------------------------------ reading
def decode(path, kind: tuple[str, str] | None = None) -> tuple[dict, dict]:
    """(metadata, tensors) of the model file at ``path``, or :class:`ModelFileError` saying what is wrong.

    ``kind`` is the (format, format_version) the file must carry; by default an nnlab model file's.
    """
    path = os.fspath(path)
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        head, header = _read_header(path, f, size)
        length = len(head)
        metadata, layout, data_size = _check_layout(path, header, size - 8 - length, kind)
        data = f.read(data_size + 1)
    if len(data) != data_size:
        raise ModelFileError(f"{path!r} changed size while it was read; try again")
    if head != _header_bytes(header):
        raise ModelFileError(f"{path!r}: checksum mismatch: the file was changed after it was written "
                             "(its header is not as nnlab writes it)")
    if metadata[CHECKSUM_KEY] != _digest(header, data):
        raise ModelFileError(f"{path!r}: checksum mismatch: the file was changed after it was written")
    tensors = {name: np.frombuffer(data, dtype=DTYPES[dtype], count=math.prod(shape), offset=begin)
               .reshape(shape).copy() for name, (dtype, shape, begin) in layout.items()}
    return metadata, tensors


def format_of(path) -> object:
    """The ``format`` entry of the file at ``path`` (which kind of nnlab file it is), read from its header alone.

    For a reader that takes more than one kind (``nnlab.load``); :func:`decode` then checks the whole file.
    """
    path = os.fspath(path)
    with _open_regular(path) as f:
        _, header = _read_header(path, f, os.fstat(f.fileno()).st_size)
    metadata = header.get("__metadata__")
    return metadata.get("format") if isinstance(metadata, dict) else None


def _read_header(path: str, f, size: int) -> tuple[bytes, dict]:
    """(raw header bytes, parsed header) of the open file ``f``, its length checked before it is read."""
    start = f.read(8)
    if len(start) < 8:
        raise ModelFileError(f"{path!r} is not an nnlab model file (too short: {len(start)} bytes)")
    length = int.from_bytes(start, "little")
    if length > size - 8:
        raise ModelFileError(_not_a_model(path, start, (
            f"is truncated or not an nnlab model file (its header length field says {length} bytes, "
            f"the file has {size - 8} after it)")))
    if length > MAX_HEADER_BYTES:
        raise ModelFileError(_not_a_model(path, start, (
            f"is not an nnlab model file (its header length field says {length} bytes, "
            f"beyond the {MAX_HEADER_BYTES // 2**20} MiB limit)")))
    head = f.read(length)
    return head, _parse_header(path, head, start)


class _open_regular:
    """Open ``path`` for reading without blocking, and refuse anything but a regular file."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        path = self.path
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang the open
        except FileNotFoundError:
            raise ModelFileError(f"model file {path!r} does not exist") from None
        except IsADirectoryError:
            raise ModelFileError(f"{path!r} is a folder, not an nnlab model file") from None
        except PermissionError:
            raise ModelFileError(f"cannot read {path!r}: permission denied") from None
        except OSError as exc:
            raise ModelFileError(f"cannot read {path!r}: {exc.strerror or exc}") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
            raise ModelFileError(f"{path!r} is {kind}, not an nnlab model file")
        self.file = os.fdopen(fd, "rb")
        return self.file

    def __exit__(self, *exc):
        self.file.close()


def _not_a_model(path: str, start: bytes, reason: str) -> str:
    """Why the file cannot be an nnlab model: the format its first bytes name, else ``reason``."""
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return f"{path!r} is a pickle file (perhaps saved with torch.save or pickle), not an nnlab model file"
    if start[:4] == b"PK\x03\x04":
        if _is_pytorch_zip(path):
            return f"{path!r} is a PyTorch file (torch.save), not an nnlab model file"
        return f"{path!r} is a zip archive (for example a NumPy .npz file), not an nnlab model file"
    if start[:6] == b"\x93NUMPY":
        return f"{path!r} is a NumPy .npy file, not an nnlab model file"
    return f"{path!r} {reason}"


def _is_pytorch_zip(path: str) -> bool:
    import zipfile  # reads the directory only: no member is extracted or unpickled

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist()[:1000])
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def parse_json(text, what: str, path: str):
    """JSON no deeper than MAX_JSON_DEPTH, else ModelFileError naming ``what``."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = _too_deep(what, path)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path!r} is not an nnlab model file (its {what} is not valid JSON)") from None
    stack = [(value, 1)]
    while stack:  # iterative: a deep value must not hit the recursion limit here either
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            _too_deep(what, path)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


def _too_deep(what, path):
    raise ModelFileError(f"{path!r}: its {what} is nested deeper than {MAX_JSON_DEPTH} levels; "
                         "nnlab does not write such files") from None


def _parse_header(path: str, head: bytes, start: bytes) -> dict:
    if head[:1] != b"{":
        raise ModelFileError(_not_a_model(path, start, "is not an nnlab model file (it has no safetensors header)"))
    header = parse_json(head, "header", path)
    if not isinstance(header, dict):
        raise ModelFileError(f"{path!r} is not an nnlab model file (its header is not a JSON object)")
    return header


def _check_layout(path: str, header: dict, data_size: int, kind):
    """Every tensor entry well-formed and inside the data; returns (metadata, layout, data size)."""
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(f"{path!r} is a safetensors file but not an nnlab model "
                             "(its __metadata__ is missing or not a map of strings)")
    if kind is None:
        from .io import FORMAT, FORMAT_VERSION

        kind = (FORMAT, FORMAT_VERSION)
    if metadata.get("format") != kind[0]:
        from .state_file import FORMAT as STATE_DICT, WHAT_IT_IS

        what = "an nnlab model" if kind[0] == "nnlab-model" else f"an {kind[0]} file"
        if metadata.get("format") == STATE_DICT:  # the likeliest mix-up: say what the file is and how to use it
            raise ModelFileError(f"{path!r} is not {what}: it is {WHAT_IT_IS}")
        raise ModelFileError(f"{path!r} is a safetensors file but not {what} (no {kind[0]} format tag)")
    if metadata.get("format_version") != kind[1]:
        raise ModelFileError(f"{path!r} has format version {metadata.get('format_version')!r}; this nnlab "
                             f"reads version {kind[1]!r} (save it again with this nnlab)")
    if CHECKSUM_KEY not in metadata:
        raise ModelFileError(f"{path!r} is not a complete nnlab model file (it has no checksum entry)")
    layout, ranges = {}, []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}
                and entry["dtype"] in DTYPES and _ints(entry["shape"]) and _ints(entry["data_offsets"])
                and len(entry["data_offsets"]) == 2):
            raise ModelFileError(f"{path!r} is corrupted: the entry of tensor {name!r} is malformed")
        begin, end = entry["data_offsets"]
        nbytes = math.prod(entry["shape"]) * np.dtype(DTYPES[entry["dtype"]]).itemsize
        if not 0 <= begin <= end <= data_size or end - begin != nbytes:
            raise ModelFileError(f"{path!r} is truncated or corrupted: tensor {name!r} of shape {tuple(entry['shape'])} "
                                 f"does not fit its byte range {begin}..{end} ({data_size} data bytes)")
        layout[name] = (entry["dtype"], tuple(entry["shape"]), begin)
        ranges.append((begin, end))
    covered = 0
    for begin, end in sorted(ranges):
        if begin != covered:
            raise ModelFileError(f"{path!r} is corrupted: its tensors overlap or leave gaps in the data")
        covered = end
    if covered != data_size:
        raise ModelFileError(f"{path!r} is corrupted: {data_size - covered} bytes after the last tensor")
    return metadata, layout, data_size


def _ints(value) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)
