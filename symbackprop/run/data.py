"""Training data: built-in datasets, CSV and NPZ files, validated against the network."""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..spec.model import Spec, is_classifier
from ..util.escape import plain_line
from ..util.names import counted
from .datasets import DATASETS, generated_names, load_builtin

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
    classes: tuple[str, ...] | None = None
    """The CSV's string labels in class order (sorted), or None for numeric labels."""


def load_data(spec: Spec, classes: tuple[str, ...] | None = None) -> Dataset:
    """Load, validate and split the spec's data. ``classes``: the class names saved with the
    weights (``evaluate``): string labels are mapped through them, not sorted afresh."""
    path = data_file(spec)
    if path is None:
        source = spec.data.dataset or spec.name
        where = f"dataset '{source}'"
        _csv_only(spec, source)
        X, targets = _builtin(source, spec, where)
    else:
        where = str(path)
        _generated_only(spec, path)
        if path.suffix != ".csv":
            _csv_only(spec, str(path))
        X, targets, classes = _read_file(path, spec, classes)
    return _prepare(X, targets, spec, where, classes)


def _generated_only(spec: Spec, path: Path) -> None:
    """Refuse ``samples`` or ``noise`` beside a data file (they apply to generated data)."""
    for key in ("samples", "noise"):
        if getattr(spec.data, key) is not None:
            raise DataError(
                f"applies to generated datasets only ({', '.join(generated_names())}), "
                f"not the data file '{path}'",
                f"{spec.source}: data.{key}",
            )


def _csv_only(spec: Spec, source: str) -> None:
    """Refuse column choices for data that has no named columns (.npz, built-ins)."""
    data = spec.data
    for key, given in (
        ("features", data.features is not None),
        ("drop", bool(data.drop)),
        ("missing", data.missing != "error"),
    ):
        if given:
            raise DataError(
                f"applies to .csv files only, not '{source}'", f"{spec.source}: data.{key}"
            )


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


def _read_file(
    path: Path, spec: Spec, classes: tuple[str, ...] | None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]:
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
        return np.asarray(X, dtype=np.float64), real_array(arrays, target_key, path), None
    table = read_table(path)
    inputs, targets = _columns(table, spec)
    rows = _complete_rows(table, inputs + targets, spec)
    X = _numbers(table, rows, inputs)
    if len(targets) == 1:
        values, classes = _labels(table, rows, targets[0], spec, classes)
        return X, values, classes
    return X, _numbers(table, rows, targets), None


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


@dataclass(frozen=True)
class CsvTable:
    """A CSV file's cells as text: the header (None without one), the rows, each row's line."""

    path: Path
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]

    @property
    def width(self) -> int:
        return len(self.rows[0])

    def column(self, index: int) -> str:
        """How errors name a column: its header name, else its 1-based number."""
        if self.header is not None and index < len(self.header):
            return repr(self.header[index])
        return str(index + 1)

    def at(self, row: int, column: int) -> str:
        """Where a cell is: ``data.csv line 2, column 'diagnosis'``."""
        return f"{self.path} line {self.lines[row]}, column {self.column(column)}"


def read_table(path: Path) -> CsvTable:
    """The one CSV reader: a header (a first row with no number in it; a UTF-8 BOM is dropped)
    or None, and the rows as text. Rows of unequal width and files above ``MAX_CSV_BYTES`` are
    refused; cells become numbers (strictly: no ``1_0``, ``0x1``) where they are used."""
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


def read_csv(path: Path) -> tuple[list[str] | None, np.ndarray]:
    """A numeric CSV file: its header or None, and every column as float64 (``read_table``)."""
    table = read_table(path)
    return table.header, _numbers(table, range(len(table.rows)), list(range(table.width)))


def _csv_rows(path: Path) -> CsvTable:
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    with path.open(newline="", encoding="utf-8-sig") as handle:  # utf-8-sig: a BOM is dropped
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if not rows and header is None and not any(_is_float(cell) for cell in row):
                header = [cell.strip() for cell in row]  # a first row with no number in it
                continue
            width = len(rows[0]) if rows else len(row)
            if len(row) != width:
                raise DataError(
                    f"line {line_number}: {counted(len(row), 'column')}, expected {width}",
                    str(path),
                )
            rows.append(row)
            lines.append(line_number)
    if not rows:
        raise DataError("no data rows", str(path))
    return CsvTable(path, header, rows, lines)


def _numbers(table: CsvTable, rows: Sequence[int], columns: list[int]) -> np.ndarray:
    """The cells of these rows and columns as float64; a cell that is not a number is refused
    naming its file, line and column."""
    values = np.empty((len(rows), len(columns)))
    for i, row in enumerate(rows):
        cells = table.rows[row]
        for j, column in enumerate(columns):
            cell = cells[column]
            if not _is_float(cell):
                raise DataError(f"{cell!r} is not a number", table.at(row, column))
            values[i, j] = float(cell)
            if not math.isfinite(values[i, j]):
                raise DataError(
                    f"{cell.strip()!r} is NaN or infinity (sample {i})", table.at(row, column)
                )
    return values


def _columns(
    table: CsvTable, spec: Spec, optional_target: bool = False
) -> tuple[list[int], list[int]]:
    """The input columns and the target column(s) by ``[data]`` features, drop and target
    (names need a header); without a target, the inputs then the targets, as the network's
    sizes say. ``optional_target``: a file of inputs alone is fine (``predict``)."""
    data = spec.data
    named = data.features is not None or data.drop or isinstance(data.target, str)
    if named and table.header is None:
        key = "features" if data.features is not None else "drop" if data.drop else "target"
        raise DataError("names columns, but the file has no header row", _field(table, key))
    if table.header is not None and named and len(table.header) != table.width:
        header = counted(len(table.header), "column")
        raise DataError(f"the header has {header}, the rows {table.width}", str(table.path))
    dropped = {_column_index(table, name, "drop") for name in data.drop}
    rest = [c for c in range(table.width) if c not in dropped]
    if data.target is None:
        return _positional(table, rest, spec, optional_target)
    target = _target_index(table, spec, optional_target, len(rest) == spec.layers[0])
    if data.features is not None:
        inputs = [_column_index(table, name, "features") for name in data.features]
    else:
        inputs = [c for c in rest if c != target]
    return inputs, [] if target is None else [target]


def csv_inputs(path: Path, spec: Spec) -> tuple[np.ndarray, tuple[int, ...]]:
    """A CSV's input columns (``predict``), chosen as for training, the target column being
    optional; and the file's line numbers of the rows ``missing = "drop"`` left out."""
    table = read_table(path)
    inputs, _ = _columns(table, spec, optional_target=True)
    rows = _complete_rows(table, inputs, spec)
    kept = set(rows)
    dropped = tuple(table.lines[row] for row in range(len(table.rows)) if row not in kept)
    return _numbers(table, rows, inputs), dropped


def _field(table: CsvTable, key: str) -> str:
    return f"{table.path}: data.{key}"


def _column_index(table: CsvTable, name: str, key: str) -> int:
    header = table.header or []
    if name not in header:
        known = f" (columns: {', '.join(header)})" if header else " (the file has no header)"
        raise DataError(f"no column named '{name}'{known}", _field(table, key))
    return header.index(name)


def _target_index(
    table: CsvTable, spec: Spec, optional: bool, inputs_only: bool
) -> int | None:
    """The target column's index; None where it is ``optional`` (``predict``) and the file
    lacks it: a name not in the header, or an index where the other columns are just the
    inputs (``inputs_only``)."""
    target = spec.data.target
    if isinstance(target, str):
        if optional and target not in (table.header or []):
            return None
        return _column_index(table, target, "target")
    if optional and inputs_only:
        return None
    if int(target) >= table.width:  # type: ignore[arg-type]
        raise DataError(
            f"column index {target}, but the file has {counted(table.width, 'column')}",
            str(table.path),
        )
    return int(target)  # type: ignore[arg-type]


def _positional(
    table: CsvTable, columns: list[int], spec: Spec, optional_target: bool
) -> tuple[list[int], list[int]]:
    """One row per sample: the inputs, then the target column(s) or one class label."""
    n_in, n_out = spec.layers[0], spec.layers[-1]
    width = len(columns)
    if optional_target and width == n_in:
        return columns, []
    if width == n_in + n_out or (width == n_in + 1 and n_out > 1):
        return columns[:n_in], columns[n_in:]
    raise DataError(
        f"{counted(width, 'column')}, but the network takes {counted(n_in, 'input')} and "
        f"{counted(n_out, 'output')} "
        f"(expected {n_in + n_out} columns, or {n_in + 1} with a class label)",
        str(table.path),
    )


def _complete_rows(table: CsvTable, columns: list[int], spec: Spec) -> list[int]:
    """The rows with a value in every used column: a row with an empty cell is refused naming
    its line and column, or left out under ``missing = "drop"``."""
    keep = []
    for row, cells in enumerate(table.rows):
        empty = next((c for c in columns if not cells[c].strip()), None)
        if empty is None:
            keep.append(row)
        elif spec.data.missing != "drop":
            raise DataError(
                'empty cell (fill it, or set data.missing = "drop" to leave such rows out)',
                table.at(row, empty),
            )
    if not keep:
        raise DataError("no rows left: every row has an empty cell", str(table.path))
    return keep


MAX_LABEL_CHARS = 200
"""A class name (a CSV label) is at most this long."""


def check_label(label: str, where: str) -> None:
    """A class name: printable text (it is printed by ``predict``) of at most MAX_LABEL_CHARS."""
    if not label.isprintable() or len(label) > MAX_LABEL_CHARS:
        raise DataError(
            f"class name {label[:40]!r} must be printable text of at most "
            f"{MAX_LABEL_CHARS} characters",
            where,
        )


def _labels(
    table: CsvTable, rows: list[int], column: int, spec: Spec, classes: tuple[str, ...] | None
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """A single target column: numbers as they are, or string labels (a classifier's) mapped to
    class indices in sorted order, or in the order ``classes`` gives (saved with the weights)."""
    texts = [table.rows[row][column].strip() for row in rows]
    numeric = [_is_float(text) for text in texts]
    if classes is None and all(numeric):
        values = np.array([float(text) for text in texts])
        n_out = spec.layers[-1]
        bad = ~np.isfinite(values)
        if n_out > 1:  # class labels: refused here, where the line and column are known
            bad |= (values != np.round(values)) | (values < 0) | (values >= n_out)
        if bad.any():
            i = int(np.argmax(bad))
            what = (
                f": class labels must be integers in 0..{n_out - 1} for {n_out} outputs"
                if n_out > 1 and np.isfinite(values[i])
                else " is NaN or infinity"
            )
            raise DataError(f"{texts[i]!r}{what} (sample {i})", table.at(rows[i], column))
        return values, None
    if not is_classifier(spec):
        i = numeric.index(False)
        raise DataError(f"{texts[i]!r} is not a number", table.at(rows[i], column))
    where = f"{table.path}, column {table.column(column)}"
    if classes is None:
        classes = tuple(sorted(set(texts)))
        check_classes(classes, spec, where)
    index = {name: k for k, name in enumerate(classes)}
    unknown = next((i for i, text in enumerate(texts) if text not in index), None)
    if unknown is not None:
        raise DataError(
            f"{texts[unknown]!r} is not one of the classes the weights know "
            f"({', '.join(classes)})",
            table.at(rows[unknown], column),
        )
    labels = np.array([index[text] for text in texts])
    return (labels.reshape(-1, 1).astype(np.float64) if spec.layers[-1] == 1 else labels), classes


def check_classes(classes: Sequence[str], spec: Spec, where: str) -> None:
    """Class names that fit the network: one per output (two for a single output), distinct,
    each a ``check_label``."""
    if not is_classifier(spec):
        raise DataError(f"class names need a softmax or sigmoid output, not '{spec.output}'",
                        where)  # fmt: skip
    n_out = spec.layers[-1]
    expected = 2 if n_out == 1 else n_out
    for label in classes:
        check_label(label, where)
    if len(classes) != expected or len(set(classes)) != len(classes):
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        takes = "a single output takes 2" if n_out == 1 else f"the network has {n_out} outputs"
        raise DataError(
            f"{len(classes)} classes ({shown}), but {takes} (one class per output)", where
        )


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
    if X.ndim != 2:
        raise DataError(
            f"inputs must be 2-D, one row of {n_in} inputs per sample, not of shape {X.shape} "
            f"(one sample: reshape it to (1, {n_in}))",
            where,
        )
    if X.shape[1] != n_in:
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


def _is_float(cell: str) -> bool:
    """A strict decimal number (surrounding spaces allowed; ``1_0``, ``0x1`` are not numbers)."""
    return _NUMBER.fullmatch(cell.strip()) is not None


def _prepare(
    X: np.ndarray,
    targets: np.ndarray,
    spec: Spec,
    where: str,
    classes: tuple[str, ...] | None = None,
) -> Dataset:
    check_inputs(X, spec, where)
    Y, classification = _targets(targets, spec, where)
    _finite_in_dtype(Y, spec.dtype, "targets", where)
    if Y.shape[0] != X.shape[0]:
        raise DataError(f"{X.shape[0]} input rows but {Y.shape[0]} target rows", where)
    X_train, Y_train, X_test, Y_test = _split(X, Y, spec)
    return Dataset(plain_line(where), X_train, Y_train, X_test, Y_test, classification, classes)


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
            bad = (labels != np.round(labels)) | (labels < 0) | (labels >= n_out)
            row = int(np.argmax(bad))
            raise DataError(
                f"class labels must be integers in 0..{n_out - 1} for {n_out} outputs "
                f"(sample {row} holds {labels[row]:g})",
                where,
            )
        return np.eye(n_out)[labels.astype(np.int64)], True
    Y = targets.astype(np.float64).reshape(len(targets), -1)
    if Y.shape[1] != n_out:
        raise DataError(
            f"targets have {counted(Y.shape[1], 'column')}, the network has "
            f"{counted(n_out, 'output')}",
            where,
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
