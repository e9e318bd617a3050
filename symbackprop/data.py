"""Training data: built-in datasets, CSV and NPZ files, validated against the network."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DATASETS, load_builtin
from .errors import DataError
from .functions import LOSSES
from .spec import Spec

BUILTIN_DATASETS = tuple(DATASETS)


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
    source = spec.data.dataset or (spec.name if spec.name in BUILTIN_DATASETS else None)
    if source is None:
        raise DataError("no dataset given (set data.dataset in the spec)", spec.source)
    if source in BUILTIN_DATASETS and not _looks_like_path(source, spec):
        where = f"dataset '{source}'"
        X, targets = _builtin(source, spec, where)
    else:
        path = Path(source)
        if not path.is_absolute() and spec.data.base_dir is not None:
            path = spec.data.base_dir / path
        where = str(path)
        X, targets = _read_file(path, spec)
    return _prepare(X, targets, spec, where)


def _looks_like_path(source: str, spec: Spec) -> bool:
    base = spec.data.base_dir or Path(".")
    return (base / source).is_file()


def _builtin(name: str, spec: Spec, where: str) -> tuple[np.ndarray, np.ndarray]:
    data = spec.data
    return load_builtin(
        name, data.samples, data.noise, spec.training.seed, spec.layers[-1], where
    )


def _read_file(path: Path, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError("data file does not exist", str(path))
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix == ".csv" and spec.data.target is not None:
        return _read_csv_target(path, spec)
    if path.suffix == ".csv":
        return _read_csv(path, spec)
    raise DataError("unsupported data file (use .csv or .npz)", str(path))


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if "X" not in keys:
                raise DataError(f"no array 'X' in the archive (has: {sorted(keys)})", str(path))
            target_key = "y" if "y" in keys else "Y" if "Y" in keys else None
            if target_key is None:
                raise DataError(f"no array 'y' in the archive (has: {sorted(keys)})", str(path))
            X, y = archive["X"], archive[target_key]
    except (OSError, ValueError) as exc:
        raise DataError(f"not a readable .npz archive ({exc})", str(path)) from None
    for name, array in (("X", X), (target_key, y)):
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(
            array.dtype, np.complexfloating
        ):
            raise DataError(f"array '{name}' is not real-valued numbers ({array.dtype})", str(path))
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def _read_csv(path: Path, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """A CSV with one row per sample: the inputs, then the target column(s); a header is allowed."""
    n_in, n_out = spec.layers[0], spec.layers[-1]
    rows: list[list[float]] = []
    with path.open(newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            try:
                values = [float(cell) for cell in row]
            except ValueError:
                if not rows and line_number == 1:
                    continue  # header
                bad = next(c for c in row if not _is_float(c))
                raise DataError(f"line {line_number}: '{bad}' is not a number", str(path)) from None
            if rows and len(values) != len(rows[0]):
                raise DataError(
                    f"line {line_number}: {len(values)} columns, expected {len(rows[0])}",
                    str(path),
                )
            rows.append(values)
    if not rows:
        raise DataError("no data rows", str(path))
    table = np.array(rows)
    width = table.shape[1]
    if width == n_in + n_out:
        return table[:, :n_in], table[:, n_in:]
    if width == n_in + 1 and n_out > 1:
        return table[:, :n_in], table[:, n_in]
    raise DataError(
        f"{width} columns, but the network takes {n_in} inputs and {n_out} outputs "
        f"(expected {n_in + n_out} columns, or {n_in + 1} with a class label)",
        str(path),
    )


def _read_csv_target(path: Path, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """A CSV whose target column is named by ``[data] target`` (header name or 0-based index);
    every other column is an input. A first row that is wholly non-numeric is the header."""
    target = spec.data.target
    where = str(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        lines = [
            (number, row)
            for number, row in enumerate(csv.reader(handle), start=1)
            if row and any(cell.strip() for cell in row)
        ]
    if not lines:
        raise DataError("no data rows", where)
    header: list[str] | None = None
    if not any(_is_float(cell) for cell in lines[0][1]):
        header = [cell.strip() for cell in lines[0][1]]
        lines = lines[1:]
    width = len(header) if header else len(lines[0][1]) if lines else 0
    if isinstance(target, str):
        if header is None or target not in header:
            known = f" (columns: {', '.join(header)})" if header else " (the file has no header)"
            raise DataError(f"no column named '{target}'{known}", f"{where}: data.target")
        column = header.index(target)
    else:
        column = int(target)
        if column >= width:
            raise DataError(f"column index {column}, but the file has {width} columns", where)
    rows: list[list[float]] = []
    for number, row in lines:
        if len(row) != width:
            raise DataError(f"line {number}: {len(row)} columns, expected {width}", where)
        bad = next((cell for cell in row if not _is_float(cell)), None)
        if bad is not None:
            raise DataError(f"line {number}: '{bad}' is not a number", where)
        rows.append([float(cell) for cell in row])
    if not rows:
        raise DataError("no data rows", where)
    table = np.array(rows)
    return np.delete(table, column, axis=1), table[:, column]


def _is_float(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _prepare(X: np.ndarray, targets: np.ndarray, spec: Spec, where: str) -> Dataset:
    n_in = spec.layers[0]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise DataError(
            f"inputs have shape {X.shape}, but the network takes {n_in} inputs per sample",
            where,
        )
    if not np.all(np.isfinite(X)):
        row = int(np.argwhere(~np.isfinite(X))[0][0])
        raise DataError(f"inputs contain NaN or infinity (sample {row})", where)
    Y, classification = _targets(targets, spec, where)
    if Y.shape[0] != X.shape[0]:
        raise DataError(f"{X.shape[0]} input rows but {Y.shape[0]} target rows", where)
    X_train, Y_train, X_test, Y_test = _split(X, Y, spec)
    return Dataset(where, X_train, Y_train, X_test, Y_test, classification)


def _targets(targets: np.ndarray, spec: Spec, where: str) -> tuple[np.ndarray, bool]:
    """Targets as an (n, n_out) float array; integer labels become one-hot rows."""
    n_out = spec.layers[-1]
    targets = np.asarray(targets)
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
    kind = LOSSES[spec.loss].targets
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
    classification = spec.output in ("softmax", "sigmoid") and bool(np.all((Y == 0) | (Y == 1)))
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
