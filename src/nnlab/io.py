"""Model files: data only, never code.

One file in the safetensors format holds everything: the weights and buffers
(and any preprocessing arrays) as tensors, and in its string metadata the
architecture as a JSON spec, the preprocessing state, a checksum of the tensor
bytes and free-form metadata (nnlab version, date, config).  Loading parses
JSON and raw arrays, so it can never execute code, and every way a file can be
wrong becomes a :class:`~nnlab.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator

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


TEMP_MARK = ".nnlab-tmp-"  # in the name of every temporary file the atomic writer makes (see remove_temporaries)


@contextlib.contextmanager
def atomic_path(path) -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write to; on success it atomically becomes ``path``.

    The one atomic writer of nnlab: the temporary file lies in the same folder (so
    the rename cannot cross file systems) and keeps ``path``'s suffix (for writers
    that look at it).  After the body, its bytes are flushed to disk (fsync), it is
    renamed over ``path`` and the folder is fsynced so the rename itself survives a
    crash.  On any error, Ctrl-C included, the temporary file is removed and
    ``path`` is left as it was.  A new file gets the user's umask (as ``open``
    would); an existing file keeps its mode.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("hello")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('hello', ['notes.txt'])
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, suffix = os.path.splitext(os.path.basename(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = os.path.join(folder, f".{stem}{TEMP_MARK}{secrets.token_hex(6)}{suffix}")
    # O_EXCL: never follow or reuse someone else's file; 0o666 lets the kernel apply the umask.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a folder; its rename is durable enough
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, payload: bytes | str) -> None:
    """Write ``payload`` (bytes, or text as UTF-8) to ``path`` atomically, as :func:`atomic_path` describes."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(payload)
        f.flush()


def remove_temporaries(folder) -> list[str]:
    """Delete the temporary files a killed writer left in ``folder``; returns their names."""
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for name in names:
        if name.startswith(".") and TEMP_MARK in name:
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return sorted(removed)


def save(model, path, preprocessing=None, metadata: dict | None = None) -> None:
    """Write ``model`` (architecture, weights, buffers) and its preprocessing to ``path``.

    ``preprocessing`` is an object with ``get_state()`` (from :mod:`nnlab.data`);
    by default the model's own ``preprocessing`` attribute, if it has one.
    ``metadata`` is any JSON-able dict (for example the run's config).
    """
    from safetensors.numpy import save as to_safetensors

    from ._version import __version__
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
    atomic_write(os.fspath(path), to_safetensors(tensors, metadata=header))


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
