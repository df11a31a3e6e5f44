"""Model files: data only, never code.

One file in the safetensors format holds everything: the weights and buffers
(and any preprocessing arrays) as tensors, and in its string metadata the
architecture as a JSON spec, the preprocessing state, a checksum of the tensor
bytes and free-form metadata (nnlab version, date, config).  Loading parses
JSON and raw arrays, so it can never execute code, and every way a file can be
wrong becomes a :class:`~nnlab.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile

import numpy as np

from .errors import ModelFileError, NnlabError

FORMAT = "nnlab-model"
FORMAT_VERSION = "1"
_WEIGHT_PREFIX = "model."
_PREPROCESS_PREFIX = "preprocessing"


def _checksum(tensors: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        digest.update(name.encode())
        digest.update(str(arr.dtype).encode())
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def atomic_write_bytes(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file in the same folder and a rename.

    A crash or error midway leaves any previous file at ``path`` untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(model, path, preprocessing=None, metadata: dict | None = None) -> None:
    """Write ``model`` (architecture, weights, buffers) and its preprocessing to ``path``.

    ``preprocessing`` is an object with ``get_state()`` (from :mod:`nnlab.data`);
    by default the model's own ``preprocessing`` attribute, if it has one.
    ``metadata`` is any JSON-able dict (for example the run's config).
    """
    from safetensors.numpy import save as to_safetensors

    from . import __version__
    from .nn import to_spec

    spec = to_spec(model)
    tensors = {_WEIGHT_PREFIX + k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    if preprocessing is None:
        preprocessing = getattr(model, "preprocessing", None)
    pre_plain = None
    if preprocessing is not None:
        from .data.preprocessing import split_state

        pre_plain, pre_arrays = split_state(preprocessing.get_state(), _PREPROCESS_PREFIX)
        tensors.update(pre_arrays)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnlab_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "architecture": json.dumps(spec),
        "preprocessing": json.dumps(pre_plain),
        "metadata": json.dumps(metadata or {}, default=str),
        "checksum": _checksum(tensors),
    }
    atomic_write_bytes(os.fspath(path), to_safetensors(tensors, metadata=header))


def _read(path) -> tuple[dict, dict]:
    from safetensors.numpy import load as from_safetensors

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"model file {path!r} does not exist")
    if os.path.isdir(path):
        raise ModelFileError(f"{path!r} is a folder, not an nnlab model file")
    with open(path, "rb") as f:
        payload = f.read()
    header = _header(payload, path)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is a safetensors file but not an nnlab model (no nnlab format tag)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has model format version {meta.get('format_version')!r}; this nnlab reads version {FORMAT_VERSION}"
        )
    try:
        tensors = from_safetensors(payload)
    except Exception as exc:  # the parser's own error types vary by version
        raise ModelFileError(f"{path!r} is corrupted: its tensor data cannot be read ({exc})") from None
    if _checksum(tensors) != meta.get("checksum"):
        raise ModelFileError(f"{path!r} is corrupted: the weights do not match the checksum stored with them")
    return meta, tensors


def _header(payload: bytes, path: str) -> dict:
    """Parse the safetensors header (8-byte little-endian length, then JSON) with nnlab's own errors."""
    if len(payload) < 8:
        raise ModelFileError(f"{path!r} is not an nnlab model file (too short: {len(payload)} bytes)")
    size = int.from_bytes(payload[:8], "little")
    if size > len(payload) - 8:
        raise ModelFileError(
            f"{path!r} is truncated or not an nnlab model file "
            f"(header claims {size} bytes, file has {len(payload) - 8} after the length field)"
        )
    try:
        header = json.loads(payload[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path!r} is not an nnlab model file (its header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path!r} is not an nnlab model file (unexpected header)")
    return header


def read_metadata(path) -> dict:
    """The file's metadata (format, versions, creation date, architecture, config) without building the model."""
    meta, _ = _read(path)
    out = dict(meta)
    for key in ("architecture", "preprocessing", "metadata"):
        out[key] = _loads(meta, key, path)
    return out


def _loads(meta: dict, key: str, path):
    try:
        return json.loads(meta.get(key, "null"))
    except json.JSONDecodeError:
        raise ModelFileError(f"{os.fspath(path)!r} is corrupted: its {key} entry is not valid JSON") from None


def load(path):
    """Rebuild the model saved at ``path``; its preprocessing (or None) is set as ``model.preprocessing``.

    Raises :class:`~nnlab.errors.ModelFileError` for a missing, truncated,
    corrupted or edited file, or one that is not an nnlab model.
    """
    from .data.preprocessing import merge_state, preprocessor_from_state
    from .nn import from_spec

    meta, tensors = _read(path)
    spec = _loads(meta, "architecture", path)
    try:
        model = from_spec(spec)
    except NnlabError as exc:
        raise ModelFileError(f"{os.fspath(path)!r} has an invalid architecture: {exc}") from None
    weights = {k[len(_WEIGHT_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_WEIGHT_PREFIX)}
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise ModelFileError(f"{os.fspath(path)!r} does not match its architecture: {message}") from None
    pre_plain = _loads(meta, "preprocessing", path)
    preprocessing = None
    if pre_plain is not None:
        try:
            preprocessing = preprocessor_from_state(merge_state(pre_plain, tensors))
        except (NnlabError, KeyError, ValueError, TypeError) as exc:
            raise ModelFileError(f"{os.fspath(path)!r} has invalid preprocessing state: {exc}") from None
    model.preprocessing = preprocessing
    model.metadata = _loads(meta, "metadata", path)
    model.eval()
    return model
