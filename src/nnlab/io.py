"""Model files: data only, never code, and tamper-evident.

One file in the safetensors format holds everything: the weights and buffers
(and any preprocessing arrays) as tensors, and in its string metadata the
architecture as a JSON spec, the preprocessing state, the class names, free-form
metadata (for example the run's config), the nnlab version, the creation date
and a SHA-256 checksum over every other byte of the file (see
:mod:`nnlab._modelfile` for the byte format and the order of the checks).
Loading parses JSON and raw arrays, so it can never execute code; it validates
the structure and every layer size against the stored tensor shapes before it
builds anything, then that the layers chain (each takes what the one before
gives), that the class names are one per output and that no floating-point
parameter is stored as integers or bools, and every way a file can be wrong
becomes a
:class:`~nnlab.errors.ModelFileError` naming the file.

The same model, preprocessing and metadata give byte-identical files when
``SOURCE_DATE_EPOCH`` fixes the creation date (the reproducible-builds
convention); without it, ``created`` is the current time.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import stat
from collections.abc import Iterator, Mapping

import numpy as np

from . import _modelfile
from ._modelfile import canonical_json
from .errors import ModelFileError, NnlabError

FORMAT = "nnlab-model"
FORMAT_VERSION = "2"  # 2: the checksum covers the whole file; class names stored
_WEIGHT_PREFIX = "model."
_PREPROCESS_PREFIX = "preprocessing"
_ENTRIES = ("format", "format_version", "nnlab_version", "created", "architecture", "preprocessing",
            "classes", "metadata", "checksum")


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
    would); an existing file keeps its mode.  A symbolic link is followed (its
    target is replaced, the link stays); a device, FIFO or socket is refused, as
    replacing it would destroy it.  Errors name ``path``, never the temporary file.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("hello")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('hello', ['notes.txt'])
    """
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, suffix = os.path.splitext(os.path.basename(path))
    try:
        info = os.stat(path)
        mode = stat.S_IMODE(info.st_mode)
    except FileNotFoundError:
        mode = None
    else:
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):  # a folder fails below, with its errno
            raise NnlabError(f"{path}: not a regular file (a device, FIFO or socket); nnlab writes a file by "
                             "replacing it, which would destroy this one: name a file")
    tmp = os.path.join(folder, _temporary_name(folder, stem, suffix))
    # O_EXCL: never follow or reuse someone else's file; 0o666 lets the kernel apply the umask.
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:  # a read-only or full folder: name the file the user asked for
        exc.filename = path
        raise
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
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, tmp):
            exc.filename = path  # a full disk fails a write() that names no file: name the one being written
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


def _temporary_name(folder: str, stem: str, suffix: str) -> str:
    """``.<stem>.nnlab-tmp-<12 hex><suffix>``, the stem cut short so the name fits the file system's limit.

    The mark adds 24 characters: without the cut, a legal name near the limit (255
    bytes on most file systems) could not be written.  The random part keeps it unique.
    """
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not every system reports it
        limit = 255
    tail = f"{TEMP_MARK}{secrets.token_hex(6)}{suffix}"
    room = max(limit - 1 - len(os.fsencode(tail)), 0)  # bytes, as the limit counts them; 1 for the leading dot
    cut = os.fsencode(stem)[:room]
    while cut and not _whole_characters(cut):  # never half of a multibyte character
        cut = cut[:-1]
    return f".{os.fsdecode(cut)}{tail}"


def _whole_characters(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason != "unexpected end of data"  # other bad bytes are the file name's own, not the cut's
    return True


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


def _created() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise ModelFileError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {epoch!r}") from None
    else:
        when = datetime.datetime.now(datetime.timezone.utc)
    return when.isoformat(timespec="seconds")


def save(model, path, preprocessing=None, metadata: dict | None = None, classes=None) -> None:
    """Write ``model`` (architecture, weights, buffers), its preprocessing and class names to ``path``.

    ``preprocessing`` is an object with ``get_state()`` (from :mod:`nnlab.data`)
    and ``classes`` the label of each output unit, in order (ints or strings);
    by default the model's own ``preprocessing`` and ``classes`` attributes, if
    it has them.  ``metadata`` is any JSON-able dict (for example the run's
    config).  The write is atomic (:func:`atomic_path`).  ``model`` may instead be a
    state dict (a mapping of names to arrays, as ``model.state_dict()`` gives): that
    writes a state-dict file (:mod:`nnlab.state_file`), PyTorch's ``torch.save`` idiom.
    """
    from ._version import __version__
    from .nn import to_spec
    from .state_file import save_state_dict

    if isinstance(model, Mapping):
        return save_state_dict(model, path, preprocessing=preprocessing, metadata=metadata, classes=classes)

    spec = to_spec(model)
    outputs = _chained(model)
    tensors = {_WEIGHT_PREFIX + k: v for k, v in model.state_dict().items()}  # encode makes each C-contiguous
    if preprocessing is None:
        preprocessing = getattr(model, "preprocessing", None)
    if classes is None:
        classes = getattr(model, "classes", None)
    pre_plain = None
    if preprocessing is not None:
        from .data.preprocessing import split_state

        _fits_model(preprocessing, model)
        pre_plain, pre_arrays = split_state(preprocessing.get_state(), _PREPROCESS_PREFIX)
        tensors.update(pre_arrays)
    entries = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnlab_version": __version__,
        "created": _created(),
        "architecture": canonical_json(spec),
        "preprocessing": canonical_json(pre_plain),
        "classes": canonical_json(_outputs_named(_classes(classes, "classes"), outputs, "classes")),
        "metadata": canonical_json(_plain(metadata or {})),
    }
    atomic_write(os.fspath(path), _modelfile.encode(tensors, entries))


def _plain(value):
    """``value`` with NumPy scalars and other odd leaves made JSON-able (as str), so the file is canonical JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    return str(value)


def _classes(classes, where):
    """None, or a list of at least two distinct labels, each an int or a string."""
    if classes is None:
        return None
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if (len(classes) < 2 or not all(isinstance(c, int | str) and not isinstance(c, bool) for c in classes)
            or len(set(classes)) != len(classes)):
        raise ModelFileError(f"{where} must be two or more distinct ints or strings, got {classes[:10]!r}")
    return classes


def _chained(model) -> tuple | None:
    """The model's output shape for one row, refusing a model whose layer sizes do not chain."""
    from .nn.shapes import row_output_shape

    try:
        return row_output_shape(model)
    except NnlabError as exc:
        raise ModelFileError(f"the model's layer sizes do not chain: {exc}") from None


def _fits_model(preprocessing, model) -> None:
    """Refuse preprocessing whose steps do not chain, or whose output width is not the model's input width."""
    from .nn.shapes import input_features

    steps = list(getattr(preprocessing, "steps", [preprocessing]))
    for a, b in zip(steps, steps[1:]):
        gives, takes = getattr(a, "n_outputs", None), getattr(b, "n_features", None)
        if gives is not None and takes is not None and gives != takes:
            raise ModelFileError(f"its preprocessing steps do not chain: {type(a).__name__} gives {gives} features "
                                 f"per row, the {type(b).__name__} after it takes {takes}")
    gives, takes = getattr(preprocessing, "n_outputs", None), input_features(model)
    if gives is not None and takes is not None and gives != takes:
        raise ModelFileError(f"its preprocessing gives {gives} features per row but the model takes {takes}")


def _outputs_named(classes, outputs, what: str):
    """``classes``, one label per output unit of a model whose output for one row has shape ``outputs``."""
    if classes is not None and outputs is not None and tuple(outputs[1:]) != (len(classes),):
        gives = f"{outputs[1]} outputs" if len(outputs) == 2 else f"outputs of shape {outputs} for one row"
        raise ModelFileError(f"{what} names {len(classes)} classes but the model gives {gives}; "
                             "one class per output unit")
    return classes


def _read(path) -> tuple[dict, dict]:
    """(entries with JSON decoded, tensors) after every structural check of the file."""
    path = os.fspath(path)
    meta, tensors = _modelfile.decode(path)
    missing = [k for k in _ENTRIES if k not in meta]
    unknown = [k for k in meta if k not in _ENTRIES]
    if missing or unknown:
        what = "; ".join(filter(None, [missing and f"missing entries {missing}", unknown and f"unknown entries {unknown}"]))
        raise ModelFileError(f"{path!r} is not a complete nnlab model file ({what})")
    out = dict(meta)
    for key, kinds in (("architecture", dict), ("preprocessing", (dict, type(None))),
                       ("classes", (list, type(None))), ("metadata", dict)):
        out[key] = _modelfile.parse_json(meta[key], f"{key} entry", path)
        if not isinstance(out[key], kinds):
            raise ModelFileError(f"{path!r} is corrupted: its {key} entry is a {type(out[key]).__name__}")
    try:
        out["classes"] = _classes(out["classes"], "its classes entry")
    except ModelFileError as exc:
        raise ModelFileError(f"{path!r}: {exc}") from None
    for name in tensors:
        if not (name.startswith(_WEIGHT_PREFIX) or name.startswith(_PREPROCESS_PREFIX + ".")):
            raise ModelFileError(f"{path!r} holds an unexpected tensor {name!r}")
    return out, tensors


def _floating_where_the_model_is(where: str, model, weights: dict) -> None:
    """Refuse integer or bool tensors for the model's floating-point arrays (every parameter, the running statistics).

    nnlab writes each array in its own dtype, so such a tensor was forged; load_state_dict would cast it
    silently (a bool weight becoming 0.0 and 1.0).
    """
    own = model._state_arrays()
    for key, value in weights.items():
        target = own.get(key)
        if target is not None and target.dtype.kind == "f" and value.dtype.kind != "f":
            raise ModelFileError(f"{where} is corrupted: tensor {_WEIGHT_PREFIX + key!r} has dtype {value.dtype}, "
                                 f"but the model's {key!r} is floating point ({target.dtype}); nnlab does not "
                                 "write such files")


def read_metadata(path) -> dict:
    """The file's entries (format, versions, creation date, architecture, classes, config) without building the model
    (for a state-dict file: its own entries, ``keys`` in order)."""
    from . import state_file

    return state_file.read_entries(path) if state_file.holds_state_dict(path) else _read(path)[0]


def load(path):
    """What :func:`save` wrote to ``path``: the model (:func:`load_model`), or from a state-dict file an
    OrderedDict of name -> NumPy array in the saved order, for ``model.load_state_dict``."""
    from . import state_file

    return state_file.load_state_dict(path) if state_file.holds_state_dict(path) else load_model(path)


def load_model(path):
    """Rebuild the model saved at ``path``, with ``model.preprocessing``, ``model.classes`` and ``model.metadata``.

    Raises :class:`~nnlab.errors.ModelFileError` for a missing, truncated,
    corrupted or edited file, or one that is not an nnlab model (a state-dict file included).
    """
    from .data.preprocessing import merge_state, preprocessor_from_state
    from .nn import from_spec
    from .nn.spec import check_state_shapes

    meta, tensors = _read(path)
    where = repr(os.fspath(path))
    weights = {k[len(_WEIGHT_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_WEIGHT_PREFIX)}
    try:
        check_state_shapes(meta["architecture"], {k: v.shape for k, v in weights.items()})
    except NnlabError as exc:
        raise ModelFileError(f"{where} does not match its architecture: {exc}") from None
    try:
        model = from_spec(meta["architecture"])
    except NnlabError as exc:
        raise ModelFileError(f"{where} has an invalid architecture: {exc}") from None
    try:  # a forged file: tensors that fit each layer's own sizes, layers that do not fit each other
        _outputs_named(meta["classes"], _chained(model), "its classes entry")
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    _floating_where_the_model_is(where, model, weights)
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise ModelFileError(f"{where} does not match its architecture: {message}") from None
    preprocessing = None
    if meta["preprocessing"] is not None:
        try:
            preprocessing = preprocessor_from_state(merge_state(meta["preprocessing"], tensors))
        except (NnlabError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ModelFileError(f"{where} has invalid preprocessing state: {exc}") from None
        try:
            _fits_model(preprocessing, model)
        except ModelFileError as exc:
            raise ModelFileError(f"{where}: {exc}") from None
    model.preprocessing = preprocessing
    model.classes = meta["classes"]
    model.metadata = meta["metadata"]
    model.eval()
    return model
