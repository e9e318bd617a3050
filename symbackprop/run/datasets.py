"""Built-in datasets, no download: generated ones (seeded, size and noise settable) and
scikit-learn's bundled ones. ``[data] dataset = "moons"``, ``samples = 500``, ``noise = 0.2``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError


@dataclass(frozen=True)
class BuiltinDataset:
    """One built-in dataset: how to make it and what it is."""

    name: str
    description: str
    make: Callable[[int | None, float | None, int, int], tuple[np.ndarray, np.ndarray]]
    generated: bool
    """True when ``samples`` and ``noise`` apply (the data is drawn, seeded)."""


DATASETS: dict[str, BuiltinDataset] = {}


def register_dataset(dataset: BuiltinDataset) -> BuiltinDataset:
    """Add a dataset to the registry (``symbackprop list`` shows it)."""
    DATASETS[dataset.name] = dataset
    return dataset


def load_builtin(
    name: str, samples: int | None, noise: float | None, seed: int, n_out: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets (class labels, or target rows) of a built-in dataset."""
    dataset = DATASETS[name]
    if not dataset.generated and (samples is not None or noise is not None):
        field = "data.samples" if samples is not None else "data.noise"
        raise DataError(
            f"{field} applies to generated datasets only ({', '.join(generated_names())}), "
            f"not '{name}'",
            where,
        )
    return dataset.make(samples, noise, seed, n_out)


def generated_names() -> list[str]:
    """Names of the datasets that are drawn from a seed."""
    return [name for name, d in DATASETS.items() if d.generated]


def _xor(samples: int | None, noise: float | None, seed: int, n_out: int):  # noqa: ANN202
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    if samples is None and noise is None:
        return X, y
    count = samples or 4
    rng = np.random.default_rng(seed)
    pick = np.arange(count) % 4
    inputs = X[pick] + (noise or 0.0) * rng.standard_normal((count, 2))
    return inputs, y[pick]


def _moons(samples: int | None, noise: float | None, seed: int, n_out: int):  # noqa: ANN202
    from sklearn.datasets import make_moons

    X, y = make_moons(
        n_samples=samples or 500, noise=0.2 if noise is None else noise, random_state=seed
    )
    return X.astype(np.float64), y.astype(np.int64)


def _circles(samples: int | None, noise: float | None, seed: int, n_out: int):  # noqa: ANN202
    from sklearn.datasets import make_circles

    X, y = make_circles(
        n_samples=samples or 500,
        noise=0.1 if noise is None else noise,
        factor=0.5,
        random_state=seed,
    )
    return X.astype(np.float64), y.astype(np.int64)


def _spirals(samples: int | None, noise: float | None, seed: int, n_out: int):  # noqa: ANN202
    """Interleaved spiral arms in the plane, one per output (two for a single output)."""
    arms = max(2, n_out)
    count = samples or 600
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % arms
    radius = rng.random(count)
    angle = labels * (2 * np.pi / arms) + 4.0 * radius
    angle = angle + (0.2 if noise is None else noise) * rng.standard_normal(count)
    X = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return X, labels.astype(np.int64)


def _sklearn(loader: str, csv: str, scale: float = 1.0):  # noqa: ANN202
    def make(samples: int | None, noise: float | None, seed: int, n_out: int):  # noqa: ANN202
        bundled = read_bundled_csv(csv)
        if bundled is None:
            import sklearn.datasets

            bunch = getattr(sklearn.datasets, loader)()
            bundled = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
        X, y = bundled
        return X / scale, y

    return make


def read_bundled_csv(name: str, folder: Path | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Inputs and class labels from the CSV file scikit-learn ships for one of its datasets
    (``sklearn/datasets/data/NAME``), read without importing scikit-learn (0.7 s of a warm
    ``predict``), or None where the file is not there or not in the layout its loaders read
    (then the caller asks scikit-learn). Layout: rows of features then the label; a first row
    ``samples,features,class names...`` except in ``digits.csv.gz``. ``folder``: another
    folder of such files (tests)."""
    import gzip
    import importlib.util

    if folder is None:
        found = importlib.util.find_spec("sklearn")  # locates the package; runs none of it
        if found is None or not found.submodule_search_locations:
            return None
        folder = Path(found.submodule_search_locations[0]) / "datasets" / "data"
    path = folder / name
    try:
        with gzip.open(path, "rt") if name.endswith(".gz") else open(path) as file:
            header = None if name.startswith("digits") else file.readline().split(",")
            table = _numbers(file.read().splitlines())
    except (OSError, ValueError, EOFError):
        return None
    if table.shape[0] == 0 or table.shape[1] < 2:
        return None
    X, labels = table[:, :-1], table[:, -1]
    if header is not None and (len(header) < 2 or header[:2] != [str(n) for n in X.shape]):
        return None
    if not (np.isfinite(X).all() and (labels == np.round(labels)).all() and labels.min() >= 0):
        return None
    return np.ascontiguousarray(X, dtype=np.float64), labels.astype(np.int64)


def _numbers(lines: list[str]) -> np.ndarray:
    """The numbers of CSV lines as float64: read as integers where every cell is one (the
    digits' pixels: 4x faster than NumPy's float parser), else as floats."""
    import warnings

    with warnings.catch_warnings():  # an empty file: None in the caller, not a warning
        warnings.simplefilter("ignore")
        try:
            return np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.int64).astype(np.float64)
        except (ValueError, OverflowError):
            return np.loadtxt(lines, delimiter=",", ndmin=2)


register_dataset(BuiltinDataset("xor", "the four XOR points (2 inputs, target 0/1)", _xor, True))
register_dataset(
    BuiltinDataset("moons", "two interleaved half circles (2 inputs, 2 classes)", _moons, True)
)
register_dataset(
    BuiltinDataset("circles", "a circle inside a circle (2 inputs, 2 classes)", _circles, True)
)
register_dataset(
    BuiltinDataset(
        "spirals", "spiral arms, one class per output (2 inputs, >= 2 classes)", _spirals, True
    )
)
register_dataset(
    BuiltinDataset(
        "iris",
        "scikit-learn's iris flowers (4 inputs, 3 classes)",
        _sklearn("load_iris", "iris.csv"),
        False,
    )
)
register_dataset(
    BuiltinDataset(
        "wine",
        "scikit-learn's wines (13 inputs, 3 classes; standardize)",
        _sklearn("load_wine", "wine_data.csv"),
        False,
    )
)
register_dataset(
    BuiltinDataset(
        "breast_cancer",
        "scikit-learn's breast cancer (30 inputs, 2 classes; standardize)",
        _sklearn("load_breast_cancer", "breast_cancer.csv"),
        False,
    )
)
register_dataset(
    BuiltinDataset(
        "digits",
        "scikit-learn's 8x8 digits, pixels in [0, 1] (64 inputs, 10 classes)",
        _sklearn("load_digits", "digits.csv.gz", 16.0),
        False,
    )
)
