"""Training data: built-in datasets, CSV and NPZ files, validated against the network."""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..spec.model import Spec, is_classifier
from ..util.escape import plain_line
from .datasets import DATASETS, load_builtin

BUILTIN_DATASETS = tuple(DATASETS)

MAX_CSV_BYTES = 256 << 20
"""CSV files above this size are refused before reading (use .npz for large data)."""

MAX_ARRAY_BYTES = 4 << 30
"""An .npz array whose header claims more than this is refused before it is read."""

_NUMBER = re.compile(
    r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.I | re.ASCII
)
"""What a CSV cell may hold: a decimal number (no ``1_0``, no hex); NaN/inf are refused later."""


@dataclass(frozen=True)
class Dataset:
    """Inputs and targets (targets one-hot where labels were given), split into train and test."""

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    classification: bool


def load_data(spec: Spec) -> Dataset:
    """Load, validate and split the spec's data."""
    path = data_file(spec)
    if path is None:
        source = spec.data.dataset or spec.name
        where = f"dataset '{source}'"
        X, targets = _builtin(source, spec, where)
    else:
        where = str(path)
        X, targets = _read_file(path, spec)
    return _prepare(X, targets, spec, where)


def dataset_from_arrays(X: Any, y: Any, spec: Spec, where: str = "arrays") -> Dataset:  # noqa: ANN401
    """Inputs and targets given in memory (``symbackprop.train(X=..., y=...)``, the scikit-learn
    estimators), checked and split as a data file's columns are: ``y`` holds class labels
    (integers 0..n_out-1) or target rows, as the file's target column(s) would."""
    arrays = []
    for name, values in (("X", X), ("y", y)):
        try:
            array = np.asarray(values)
            if array.dtype.kind not in "biuf":  # complex, strings, objects: no silent cast
                raise TypeError(f"dtype {array.dtype}")
            arrays.append(array.astype(np.float64))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} must hold real numbers ({exc})", where) from None
    return _prepare(arrays[0], arrays[1], spec, where)


def data_file(spec: Spec) -> Path | None:
    """The file the spec's data comes from, or None for a built-in dataset."""
    source = spec.data.dataset or (spec.name if spec.name in BUILTIN_DATASETS else None)
    if source is None:
        raise DataError("no dataset given (set data.dataset in the spec)", spec.source)
    if source in BUILTIN_DATASETS and not _looks_like_path(source, spec):
        return None
    path = Path(source)
    if not path.is_absolute() and spec.data.base_dir is not None:
        path = spec.data.base_dir / path
    return path


def data_version(spec: Spec) -> tuple:
    """What tells one state of the spec's data file from another without reading it (device,
    inode, size, modification time in ns), or () for a built-in dataset: a cache of loaded data
    keyed with it never serves a file that changed since."""
    path = data_file(spec)
    if path is None:
        return ()
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return (str(path),)  # the reader names the problem
    return (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def data_digest(spec: Spec) -> str:
    """SHA-256 of the spec's data file (its first 16 hex digits), or ``built-in NAME``: what a
    sweep's results were trained on. The file is checked as the reader checks it first."""
    path = data_file(spec)
    if path is None:
        return f"built-in {spec.data.dataset or spec.name}"
    check_data_file(path)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _looks_like_path(source: str, spec: Spec) -> bool:
    base = spec.data.base_dir or Path(".")
    try:
        return (base / source).is_file()
    except (OSError, ValueError):
        return False


def _builtin(name: str, spec: Spec, where: str) -> tuple[np.ndarray, np.ndarray]:
    data = spec.data
    return load_builtin(
        name, data.samples, data.noise, spec.training.seed, spec.layers[-1], where
    )


def _read_file(path: Path, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    if path.suffix not in (".npz", ".csv"):
        check_data_file(path)
        raise DataError("unsupported data file (use .csv or .npz)", str(path))
    if path.suffix == ".npz":
        arrays = read_npz(path)
        if "X" not in arrays:
            raise DataError(f"no array 'X' in the archive (has: {sorted(arrays)})", str(path))
        target_key = "y" if "y" in arrays else "Y" if "Y" in arrays else None
        if target_key is None:
            raise DataError(f"no array 'y' in the archive (has: {sorted(arrays)})", str(path))
        X = real_array(arrays, "X", path)
        return np.asarray(X, dtype=np.float64), real_array(arrays, target_key, path)
    header, table = read_csv(path)
    if spec.data.target is not None:
        return _target_column(header, table, spec, str(path))
    return _split_columns(table, spec, str(path))


# --- The one reader of data files: run, predict, evaluate and sweep read through it ----------


MISSING = {"data file": "data file does not exist", "weights file": "no such weights file"}


def check_data_file(path: Path, kind: str = "data file") -> int:
    """Refuse (one line) a data or weights file that is missing, a folder, a FIFO or device
    (never opened), or unreadable; its size otherwise."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(MISSING[kind], str(path)) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DataError(f"cannot read the {kind} ({reason})", str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"is a folder, not a {kind}", str(path))
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the reader for ever
        raise DataError("is not a regular file (a FIFO or device?)", str(path))
    if not os.access(path, os.R_OK):
        raise DataError(f"cannot read the {kind} (permission denied)", str(path))
    return info.st_size


def read_csv(path: Path) -> tuple[list[str] | None, np.ndarray]:
    """A numeric CSV file: its header (a first row with no number in it; a UTF-8 BOM is dropped)
    or None, and its rows as float64. Strict: ``1_0``, ``0x1`` or a typo is an error naming line
    and column; rows of unequal width and files above ``MAX_CSV_BYTES`` are refused."""
    size = check_data_file(path)
    if size > MAX_CSV_BYTES:
        raise DataError(
            f"is {size} bytes; CSV files of at most {MAX_CSV_BYTES} bytes are read "
            "(store large data as .npz)",
            str(path),
        )
    try:
        return _csv_rows(path)
    except csv.Error as exc:
        raise DataError(f"not a readable CSV file ({exc})", str(path)) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read the data file ({exc.strerror or exc})", str(path)) from None


def _csv_rows(path: Path) -> tuple[list[str] | None, np.ndarray]:
    rows: list[list[float]] = []
    header: list[str] | None = None
    with path.open(newline="", encoding="utf-8-sig") as handle:  # utf-8-sig: a BOM is dropped
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            numeric = [_is_float(cell) for cell in row]
            if not any(numeric) and not rows and header is None:
                header = [cell.strip() for cell in row]  # a first row with no number in it
                continue
            if not all(numeric):
                column = numeric.index(False)
                raise DataError(
                    f"line {line_number}: {row[column]!r} is not a number (column {column + 1})",
                    str(path),
                )
            width = len(rows[0]) if rows else len(row)
            if len(row) != width:
                raise DataError(
                    f"line {line_number}: {len(row)} columns, expected {width}", str(path)
                )
            rows.append([float(cell) for cell in row])
    if not rows:
        raise DataError("no data rows", str(path))
    return header, np.array(rows)


def read_npz(path: Path, kind: str = "data file") -> dict[str, np.ndarray]:
    """The arrays of an .npz file, after its headers are checked (no array claiming more than the
    archive holds or than ``MAX_ARRAY_BYTES``, none with 0 rows, no pickled objects)."""
    check_data_file(path, kind)
    what = "archive" if kind == "data file" else kind
    try:
        # headers first: an array claiming terabytes (or more than the archive holds) is refused
        # before np.load allocates it; a file that is not a zip never reaches np.load's unpickler
        _check_npz_headers(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise DataError(MISSING[kind], str(path)) from None
    except _NPZ_ERRORS as exc:
        raise DataError(f"not a readable .npz {what} ({exc})", str(path)) from None
    return arrays


def real_array(arrays: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    """``arrays[name]`` if it holds real numbers (not strings, objects or complex numbers)."""
    array = arrays[name]
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"array '{name}' is not real-valued numbers ({array.dtype})", str(path))
    return array


MAX_NPZ_MEMBERS = 1000
"""Arrays an .npz may hold (a weights file holds 2 per layer and a few more)."""

MAX_NPZ_BYTES = 1 << 30
"""What all members of an .npz may inflate to, together (their sizes as the archive states
them; zipfile never inflates a member past its stated size)."""


def _check_npz_members(members: list[zipfile.ZipInfo], path: Path) -> None:
    """Refuse, before anything is inflated, too many members, a member that is not an .npy
    array, or more than MAX_NPZ_BYTES in all (a deflated bomb)."""
    if len(members) > MAX_NPZ_MEMBERS:
        raise DataError(
            f"holds {len(members)} members; an .npz holds at most {MAX_NPZ_MEMBERS} arrays",
            str(path),
        )
    raw = next((m.filename for m in members if not m.filename.endswith(".npy")), None)
    if raw is not None:
        raise DataError(
            f"member {raw[:80]!r} is not an .npy array (an .npz holds only arrays)", str(path)
        )
    total = sum(m.file_size for m in members)
    if total > MAX_NPZ_BYTES:
        raise DataError(
            f"its arrays inflate to {total} bytes; at most {MAX_NPZ_BYTES} are read", str(path)
        )


def _check_npz_headers(path: Path) -> None:
    """Read each array's .npy header (not its data): refuse absurd or inconsistent sizes."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        _check_npz_members(members, path)
        for member in members:
            name = member.filename[:-4]
            with archive.open(member) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                header = handle.tell()
            claimed = math.prod(shape) * dtype.itemsize
            if claimed > MAX_ARRAY_BYTES or claimed > member.file_size - header:
                raise DataError(
                    f"array '{name}' claims shape {shape} ({claimed} bytes) but the archive "
                    f"holds {member.file_size} bytes for it (limit {MAX_ARRAY_BYTES})",
                    str(path),
                )
            if len(shape) >= 1 and shape[0] == 0:
                raise DataError(f"array '{name}' has 0 rows: no samples", str(path))


_NPZ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError)


def check_inputs(X: np.ndarray, spec: Spec, where: str) -> None:
    """Inputs the network can take: (n, n_in), some rows, finite after the cast to its dtype."""
    n_in = spec.layers[0]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise DataError(
            f"inputs have shape {X.shape}, but the network takes {n_in} inputs per sample",
            where,
        )
    if X.shape[0] == 0:
        raise DataError("no samples", where)
    if not np.all(np.isfinite(X)):
        row = int(np.argwhere(~np.isfinite(X))[0][0])
        raise DataError(f"inputs contain NaN or infinity (sample {row})", where)
    _finite_in_dtype(X, spec.dtype, "inputs", where)


def _split_columns(table: np.ndarray, spec: Spec, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One row per sample: the inputs, then the target column(s)."""
    n_in, n_out = spec.layers[0], spec.layers[-1]
    width = table.shape[1]
    if width == n_in + n_out:
        return table[:, :n_in], table[:, n_in:]
    if width == n_in + 1 and n_out > 1:
        return table[:, :n_in], table[:, n_in]
    raise DataError(
        f"{width} columns, but the network takes {n_in} inputs and {n_out} outputs "
        f"(expected {n_in + n_out} columns, or {n_in + 1} with a class label)",
        where,
    )


def _target_column(
    header: list[str] | None, table: np.ndarray, spec: Spec, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """The column ``[data] target`` names (header name or 0-based index) is the target; every
    other column is an input."""
    target = spec.data.target
    width = table.shape[1]
    if header is not None and len(header) != width:
        raise DataError(f"the header has {len(header)} columns, the rows {width}", where)
    if isinstance(target, str):
        if header is None or target not in header:
            known = f" (columns: {', '.join(header)})" if header else " (the file has no header)"
            raise DataError(f"no column named '{target}'{known}", f"{where}: data.target")
        column = header.index(target)
    else:
        column = int(target)
        if column >= width:
            raise DataError(f"column index {column}, but the file has {width} columns", where)
    return np.delete(table, column, axis=1), table[:, column]


def _is_float(cell: str) -> bool:
    """A strict decimal number (surrounding spaces allowed; ``1_0``, ``0x1`` are not numbers)."""
    return _NUMBER.fullmatch(cell.strip()) is not None


def _prepare(X: np.ndarray, targets: np.ndarray, spec: Spec, where: str) -> Dataset:
    check_inputs(X, spec, where)
    Y, classification = _targets(targets, spec, where)
    _finite_in_dtype(Y, spec.dtype, "targets", where)
    if Y.shape[0] != X.shape[0]:
        raise DataError(f"{X.shape[0]} input rows but {Y.shape[0]} target rows", where)
    X_train, Y_train, X_test, Y_test = _split(X, Y, spec)
    return Dataset(plain_line(where), X_train, Y_train, X_test, Y_test, classification)


def _finite_in_dtype(values: np.ndarray, dtype: str, what: str, where: str) -> None:
    """Refuse values that become infinite in the module's dtype (1e39 in float32)."""
    with np.errstate(over="ignore"):
        cast = values.astype(dtype)
    bad = ~np.isfinite(cast)
    if bad.any():
        row, *rest = (int(i) for i in np.argwhere(bad)[0])
        value = values[(row, *rest)]
        raise DataError(
            f"{what} overflow {dtype} (sample {row}: {value:g} is beyond its range)", where
        )


def _targets(targets: np.ndarray, spec: Spec, where: str) -> tuple[np.ndarray, bool]:
    """Targets as an (n, n_out) float array; integer labels become one-hot rows."""
    n_out = spec.layers[-1]
    targets = np.asarray(targets)
    if targets.ndim not in (1, 2):
        raise DataError(
            f"targets must be a 1-D or 2-D array (one row per sample), not {targets.ndim}-D", where
        )
    if targets.ndim == 2 and targets.shape[1] == 1 and n_out > 1:
        targets = targets[:, 0]
    if not np.all(np.isfinite(targets.astype(np.float64))):
        row = int(np.argwhere(~np.isfinite(targets.astype(np.float64)))[0][0])
        raise DataError(f"targets contain NaN or infinity (sample {row})", where)
    if targets.ndim == 1 and n_out > 1:
        labels = targets.astype(np.float64)
        if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_out:
            raise DataError(
                f"class labels must be integers in 0..{n_out - 1} for {n_out} outputs",
                where,
            )
        return np.eye(n_out)[labels.astype(np.int64)], True
    Y = targets.astype(np.float64).reshape(len(targets), -1)
    if Y.shape[1] != n_out:
        raise DataError(
            f"targets have {Y.shape[1]} columns, the network has {n_out} outputs", where
        )
    kind = spec.loss_targets
    if kind == "one_hot":
        sums = Y.sum(axis=1)
        bad = np.argwhere((np.abs(sums - 1) > 1e-6) | np.any(Y < 0, axis=1))
        if bad.size:
            row = int(bad[0][0])
            raise DataError(
                f"{spec.loss} targets must be non-negative and sum to 1 (sample {row} sums to "
                f"{sums[row]:g})",
                where,
            )
    if kind == "binary" and (Y.min() < 0 or Y.max() > 1):
        raise DataError(f"{spec.loss} targets must lie in [0, 1]", where)
    classification = is_classifier(spec) and bool(np.all((Y == 0) | (Y == 1)))
    return Y, classification


def _split(X: np.ndarray, Y: np.ndarray, spec: Spec) -> tuple[np.ndarray, ...]:
    fraction = spec.data.test_fraction
    if fraction == 0:
        return X, Y, X[:0], Y[:0]
    n = X.shape[0]
    n_test = math.ceil(n * fraction)
    if n_test >= n:
        raise DataError(f"test_fraction {fraction} leaves no training samples", spec.source)
    order = np.random.default_rng(spec.training.seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], Y[train], X[test], Y[test]
