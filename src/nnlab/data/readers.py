"""Local data files: CSV with a named target column, ``.npz`` archives, MNIST-format IDX files.

Nothing is downloaded. Every problem with a file (missing, truncated, a value that
is not a number) is a :class:`~nnlab.errors.DataError` naming the file and, where
there is one, the line and column.
"""

from __future__ import annotations

import math
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

# IDX type codes (http://yann.lecun.com/exdb/mnist/): data stored big-endian.
IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
F32_MAX = float(np.finfo(np.float32).max)
F32_RANGE = f"exceeds float32's range (largest finite value {str(np.finfo(np.float32).max)})"


def read_csv(path, target: str | int | list | None = None, delimiter: str = ",", with_names: bool = False,
             categorical=None):
    """``(X, y)`` from a CSV file whose first line names the columns; ``y`` is the ``target`` column.

    X is float32 with the other columns in file order. Numeric targets that are all
    whole numbers become int64 labels, other numeric targets float32; text targets
    (class names) become indices 0..K-1 of the sorted names. ``target=None`` reads
    features only (``y`` is None); a list of column names reads several targets,
    ``y`` is then {name: array} (multi-task data).  ``with_names`` adds a third item,
    ``{"feature_names": [...], "class_names": [...] or None}`` (with several
    targets, class_names is {name: [...] or None}).

    ``categorical``: feature columns (names, or indices among the feature columns)
    that hold categories such as "male"/"female" (the notes' one-hot example).  X
    is then a text array of every feature cell (stripped), numbers still checked
    in the other columns, for a :class:`~nnlab.data.OneHotEncoder` to encode.
    """
    import csv  # here, not at the top: with zipfile and gzip, 20 ms that ``import nnlab`` need not pay

    path = _existing_file(path, "CSV")
    several = isinstance(target, list | tuple)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = [name.strip() for name in next(reader, [])]
            if not any(header):
                raise DataError(f"{path} is empty: expected a header line naming the columns")
            targets = [_target_index(path, header, t) for t in (target if several else [target]) if t is not None]
            if len(set(targets)) != len(targets):
                raise DataError(f"{path}: target columns {list(target)} name a column twice")
            if targets and len(header) == len(targets):
                raise DataError(f"{path} has no feature columns besides the target(s) "
                                f"{', '.join(repr(header[t]) for t in targets)}")
            features_at = [j for j in range(len(header)) if j not in targets]
            text = _text_columns(path, header, features_at, categorical)
            table = None if text else _fast_table(path, delimiter, len(header), features_at)
            if table is None:  # text cells or a bad value: the row-by-row reader says which
                rows, cells = _parse_rows(path, reader, header, targets, text)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not a UTF-8 text file ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise DataError(f"{path}: malformed CSV: {error}") from None
    if table is not None:
        X = np.ascontiguousarray(table[:, features_at], dtype=np.float32)
        ys = [_targets(table[:, t]) for t in targets]
    else:
        if not rows:
            raise DataError(f"{path} has a header but no data rows")
        X = np.array(rows, dtype=str if text else np.float32)
        ys = [_targets(cells[t]) for t in targets]
    if several:
        y = {header[t]: value for t, (value, _) in zip(targets, ys)}
        class_names = {header[t]: names for t, (_, names) in zip(targets, ys)}
    else:
        y, class_names = ys[0] if ys else (None, None)
    if with_names:
        return X, y, {"feature_names": [header[j] for j in features_at], "class_names": class_names}
    return X, y


def _text_columns(path: Path, header: list[str], features_at: list[int], categorical) -> set:
    """File column indices of the ``categorical`` feature columns (names or feature indices)."""
    found = set()
    for column in categorical or ():
        if isinstance(column, str):
            if column not in header or header.index(column) not in features_at:
                names = ", ".join(header[j] for j in features_at)
                raise DataError(f"{path}: no feature column {column!r} to one-hot encode; feature columns are: {names}")
            found.add(header.index(column))
        elif -len(features_at) <= column < len(features_at):
            found.add(features_at[column])
        else:
            raise DataError(f"{path}: feature column {column} does not exist; the file has {len(features_at)} "
                            "feature columns")
    return found


def _target_index(path: Path, header: list[str], target) -> int | None:
    if target is None:
        return None
    if isinstance(target, int) and not isinstance(target, bool):
        if not -len(header) <= target < len(header):
            raise DataError(f"{path}: target column {target} does not exist; the file has {len(header)} columns")
        return target % len(header)
    if target in header:
        return header.index(target)
    hint = ""
    if all(_is_number(name) for name in header):
        hint = " (the first line looks like data: the file needs a header line naming the columns)"
    raise DataError(f"{path}: no target column {target!r}; columns are: {', '.join(header)}{hint}")


def _parse_rows(path: Path, reader, header: list[str], targets: list[int], text: set):
    """Feature rows (floats, or text cells for the ``text`` columns) and the target columns' cells."""
    features, cells = [], {t: [] for t in targets}
    width = len(header)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank line
        line = reader.line_num
        if len(row) != width:
            raise DataError(f"{path}, line {line}: {len(row)} values, but the header names {width} columns")
        values = []
        for j, cell in enumerate(row):
            if j in cells:
                cell = cell.strip()
                if not cell:
                    raise DataError(f"{path}, line {line}: the target column {header[j]!r} is empty")
                if _is_number(cell) and not math.isfinite(float(cell)):
                    raise DataError(f"{path}, line {line}, target column {header[j]!r}: {cell!r} is not finite")
                cells[j].append(cell)
                continue
            if j in text:
                if not cell.strip():
                    raise DataError(f"{path}, line {line}: the categorical column {header[j]!r} is empty")
                values.append(cell.strip())
                continue
            try:
                value = float(cell)
            except ValueError:
                hint = (" (a column of categories such as 'male'/'female' must be listed as categorical, "
                        "e.g. in data.categorical_columns of a run config)")
                raise DataError(
                    f"{path}, line {line}, column {header[j]!r}: {cell.strip()!r} is not a number{hint}"
                ) from None
            if not math.isfinite(value):
                raise DataError(f"{path}, line {line}, column {header[j]!r}: {cell.strip()!r} is not a finite number")
            if abs(value) > F32_MAX and _f32_overflows(value):  # features are float32: it would become infinity
                raise DataError(f"{path}, line {line}, column {header[j]!r}: {cell.strip()!r} {F32_RANGE}")
            values.append(repr(value) if text else value)
        features.append(values)
    return features, cells


def _targets(cells):
    """Numeric targets (int64 when all whole numbers, else float32), or class names as indices."""
    if isinstance(cells, np.ndarray) or all(_is_number(cell) for cell in cells):
        y = np.asarray(cells, dtype=np.float64) if isinstance(cells, np.ndarray) else np.array([float(c) for c in cells])
        if not np.isfinite(y).all():
            raise DataError(f"target value {y[int(np.argmin(np.isfinite(y)))]} is not a finite number")
        if (y == np.round(y)).all():
            return y.astype(np.int64), None
        return y.astype(np.float32), None
    names, y = np.unique(np.array(cells), return_inverse=True)
    return y.astype(np.int64), names.tolist()


def _f32_overflows(values) -> np.ndarray:
    """Where float32 rounding turns a finite value into infinity (above the largest float32 by half a step)."""
    with np.errstate(over="ignore"):  # the overflow is what is being asked about, not a warning to print
        return np.isinf(np.asarray(values, dtype=np.float32)) & np.isfinite(values)


def _fast_table(path: Path, delimiter: str, width: int, features_at: list[int]):
    """The whole numeric table through NumPy's C parser, or None when any line needs a closer look."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the slow path words it better
            table = np.loadtxt(path, delimiter=delimiter, skiprows=1, ndmin=2, dtype=np.float64,
                               encoding="utf-8-sig", quotechar='"')
    except ValueError:
        return None
    if table.shape[0] == 0 or table.shape[1] != width or not np.isfinite(table).all():
        return None
    if np.abs(table[:, features_at]).max(initial=0.0) > F32_MAX:  # the row-by-row reader names the cell
        return None
    return table


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_npz(path, x_key: str = "X", y_key: str | None = "y"):
    """``(X, y)`` from a NumPy ``.npz`` archive (no pickled objects): X float32, integer y as int64.

    ``y_key=None`` reads features only (``y`` is None).
    """
    import zipfile  # imported where used (see read_csv)

    path = _existing_file(path, ".npz")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a readable .npz archive (a zip of .npy arrays, as numpy.savez writes)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            for key in (x_key, y_key):
                if key is not None and key not in keys:
                    raise DataError(f"{path} has no array {key!r}; arrays in the file: {', '.join(keys) or 'none'}")
            X = archive[x_key]
            y = None if y_key is None else archive[y_key]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise DataError(f"{path} is not a readable .npz archive ({error})") from None
    except ValueError as error:  # object arrays need pickle, which is refused
        raise DataError(f"{path}: cannot read arrays: {error}") from None
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: array {x_key!r} holds {X.dtype} values, not numbers")
    if X.dtype.kind == "f":  # up front, as read_csv: a bad value in a held-out split would surface after training
        _check_finite_features(path, x_key, X)
    X = X.astype(np.float32, copy=False)
    if y is not None and y.dtype.kind in "biu":
        y = y.astype(np.int64, copy=False)
    return X, y


def _check_finite_features(path: Path, key: str, X: np.ndarray) -> None:
    """Refuse the first non-finite value, or finite value float32 cannot hold, naming its row and column."""
    bad = ~np.isfinite(X)
    what = "is not a finite number"
    if not bad.any():
        if X.dtype.itemsize > 4 and np.abs(X).max(initial=0.0) > F32_MAX:
            bad = _f32_overflows(X)
        what = F32_RANGE
        if not bad.any():
            return
    at = np.unravel_index(int(np.argmax(bad)), X.shape)
    if X.ndim == 0:
        where = count = ""
    else:
        column = at[1] if X.ndim == 2 else tuple(int(i) for i in at[1:]) if X.ndim > 2 else None
        where = f", row {at[0]}" + (f", column {column}" if column is not None else "") + " (counting from 0)"
        rows = int(bad.reshape(len(X), -1).any(axis=1).sum())  # the whole file counted, as evaluate's check does
        count = f" ({rows} rows have such values)" if rows > 1 else ""
    raise DataError(f"{path}: array {key!r}{where}: {X[at].item()!r} {what}{count}")


def read_idx(path) -> np.ndarray:
    """The array in an MNIST-format IDX file, raw or gzipped (detected from the content).

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32; the data follows, big-endian, row-major.
    """
    path = _existing_file(path, "IDX")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        import gzip  # imported where used (see read_csv)

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file: {len(raw)} bytes, shorter than the 4-byte magic number")
    if raw[:2] != b"\x00\x00" or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file: magic number 0x{raw[:4].hex()} (expected 0x0000 then a "
                        f"type code among {', '.join(f'0x{c:02x}' for c in IDX_DTYPES)} and the number of dimensions)")
    ndim = raw[3]
    if ndim == 0:
        raise DataError(f"{path}: corrupt IDX header: 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated IDX file: the header needs {header_size} bytes for {ndim} "
                        f"dimensions, the file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    count = math.prod(shape)
    expected, found = count * dtype.itemsize, len(raw) - header_size
    if found < expected:
        raise DataError(f"{path}: truncated IDX file: the header promises shape {shape} ({expected} bytes of data), "
                        f"found {found} bytes")
    if found > expected:
        raise DataError(f"{path}: corrupt IDX file: {found - expected} bytes beyond the {expected} that shape "
                        f"{shape} needs")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header_size)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def load_mnist_folder(folder, scale: bool = True):
    """``((X_train, y_train), (X_test, y_test))`` from the four MNIST IDX files in a local folder.

    Finds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
    and ``t10k-labels-idx1-ubyte`` (also with ``.`` or ``_`` separators, ``test`` for
    ``t10k``, and ``.gz``). Images are flattened to float32 rows, divided by 255 when
    ``scale`` (pixels in [0, 1]); labels are int64.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"MNIST folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    parts = []
    for split in ("train", "t10k"):
        images = read_idx(_find_idx(folder, files, split, "images", 3))
        labels = read_idx(_find_idx(folder, files, split, "labels", 1))
        if images.ndim < 2 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{folder}: {split} images have shape {images.shape} but labels {labels.shape}: "
                            f"expected one label per image")
        X = images.reshape(len(images), -1).astype(np.float32)
        if scale:
            X /= 255.0
        parts.append((X, labels.astype(np.int64)))
    return tuple(parts)


def _find_idx(folder: Path, files: list[Path], split: str, kind: str, ndim: int) -> Path:
    splits = "(t10k|test)" if split == "t10k" else split
    pattern = re.compile(rf"{splits}[-_.]{kind}[-_.]idx{ndim}[-_.]ubyte(\.gz)?", re.IGNORECASE)
    found = [p for p in files if pattern.fullmatch(p.name)]
    if not found:
        present = ", ".join(p.name for p in files[:12]) or "nothing"
        raise DataError(f"{folder}: no {split}-{kind}-idx{ndim}-ubyte[.gz] file; the folder holds: {present}")
    return found[0]  # sorted: the raw file before its .gz


def _existing_file(path, kind: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{kind} file not found: {path}")
    if not path.is_file():
        raise DataError(f"{path} is not a file")
    return path
