"""Data loading: built-ins, CSV, NPZ, and every kind of bad data named with its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec

from symbackprop.errors import DataError
from symbackprop.run.data import load_data
from symbackprop.run.datasets import read_bundled_csv
from symbackprop.spec.model import Data, load_spec


def with_data(spec, path: Path, fraction: float = 0.0):  # noqa: ANN001, ANN201
    from dataclasses import replace

    return replace(spec, data=Data(dataset=str(path), test_fraction=fraction))


def test_builtins() -> None:
    xor = load_data(load_spec("xor"))
    assert xor.X_train.shape == (4, 2) and xor.Y_train.shape == (4, 1) and xor.classification
    digits = load_data(load_spec("digits"))
    assert digits.X_train.shape[1] == 64 and digits.Y_train.shape[1] == 10
    assert digits.X_train.max() <= 1.0 and digits.X_test.shape[0] == 450
    np.testing.assert_array_equal(digits.Y_train.sum(axis=1), 1.0)


def test_csv_with_header_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x1,x2,label\n0.1,0.2,0\n0.3,0.4,2\n0.5,0.6,1\n")
    spec = with_data(make_spec([2, 3, 3], "softmax", "cross_entropy"), path)
    data = load_data(spec)
    np.testing.assert_array_equal(data.Y_train, np.eye(3)[[0, 2, 1]])


def test_csv_with_target_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("1,2,0.5\n3,4,0.25\n")
    data = load_data(with_data(make_spec([2, 3, 1], "identity", "mse"), path))
    assert data.Y_train.shape == (2, 1) and not data.classification


def test_npz(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.random.rand(20, 2), y=np.arange(20) % 3)
    data = load_data(with_data(make_spec([2, 3, 3], "softmax", "cross_entropy"), path, 0.25))
    assert data.X_train.shape == (15, 2) and data.X_test.shape == (5, 2)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("1,2,3,4\n", "4 columns, but the network takes 2 inputs and 1 output "),
        ("1,nan,1\n", "NaN or infinity (sample 0)"),
        ("1,2,1\n3,inf,0\n", "NaN or infinity (sample 1)"),
        ("1,2,1\n3,4\n", "line 2: 2 columns, expected 3"),
        ("1,2,1\n3,four,0\n", "line 2, column 2: 'four' is not a number"),
        ("", "no data rows"),
    ],
)
def test_bad_csv(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        load_data(with_data(make_spec([2, 3, 1], "sigmoid", "mse"), path))
    assert words in str(info.value) and str(path) in str(info.value)


def test_bad_labels_and_targets(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, X=np.zeros((3, 2)), y=np.array([0, 5, 1]))
    with pytest.raises(DataError, match="class labels must be integers in 0..2"):
        load_data(with_data(make_spec([2, 3, 3], "softmax", "cross_entropy"), path))
    soft = tmp_path / "soft.npz"
    np.savez(soft, X=np.zeros((2, 2)), y=np.array([[0.5, 0.2, 0.1], [1, 0, 0]]))
    with pytest.raises(DataError, match="sum to 1 \\(sample 0 sums to 0.8\\)"):
        load_data(with_data(make_spec([2, 3, 3], "softmax", "cross_entropy"), soft))
    binary = tmp_path / "binary.npz"
    np.savez(binary, X=np.zeros((2, 2)), y=np.array([[2.0], [0.0]]))
    with pytest.raises(DataError, match="must lie in \\[0, 1\\]"):
        load_data(with_data(make_spec([2, 3, 1], "sigmoid", "binary_cross_entropy"), binary))
    missing = tmp_path / "missing.npz"
    np.savez(missing, inputs=np.zeros((2, 2)))
    with pytest.raises(DataError, match="no array 'X'"):
        load_data(with_data(make_spec([2, 3, 1], "sigmoid", "mse"), missing))


def test_missing_and_unsupported(tmp_path: Path) -> None:
    spec = make_spec([2, 3, 1], "sigmoid", "mse")
    with pytest.raises(DataError, match="data file does not exist"):
        load_data(with_data(spec, tmp_path / "absent.csv"))
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(DataError, match="unsupported data file"):
        load_data(with_data(spec, other))
    with pytest.raises(DataError, match="no dataset given"):
        load_data(spec)


def test_wrong_width_for_builtin() -> None:
    from dataclasses import replace

    spec = replace(make_spec([3, 3, 1], "sigmoid", "mse"), data=Data(dataset="xor"))
    with pytest.raises(DataError, match="network takes 3 inputs"):
        load_data(spec)


@pytest.mark.parametrize("y", [np.float64(np.nan), np.float64(0.0), np.zeros((3, 1, 1))])
def test_targets_of_the_wrong_rank_are_refused(tmp_path: Path, y: np.ndarray) -> None:
    """Found by the file fuzz (hypothesis 6.170): a 0-d ``y`` in an npz gave a traceback."""
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((3, 2)), y=y)
    with pytest.raises(DataError, match="targets must be a 1-D or 2-D array"):
        load_data(with_data(make_spec([2, 3, 1], "sigmoid", "mse"), path))


BUNDLED = {
    "iris.csv": "load_iris",
    "wine_data.csv": "load_wine",
    "breast_cancer.csv": "load_breast_cancer",
    "digits.csv.gz": "load_digits",
}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_files_read_without_sklearn_equal_its_loaders(name: str) -> None:
    import sklearn.datasets

    read = read_bundled_csv(name)
    assert read is not None, f"scikit-learn's {name} was not read"
    bunch = getattr(sklearn.datasets, BUNDLED[name])()
    assert np.array_equal(read[0], bunch.data) and np.array_equal(read[1], bunch.target)


@pytest.mark.parametrize(
    "content",
    [
        "150,4,a,b\n1,2,3,4,0\n",  # the header's row count is not the table's
        "2,2,a,b\n1,2,0.5\n3,4,1\n",  # a label that is not a class
        "2,2,a,b\n1,nan,0\n3,4,1\n",  # a missing value
        "2,2,a,b\n1,x,0\n3,4,1\n",  # not a number
        "",  # empty
    ],
)
def test_a_bundled_file_in_another_layout_is_left_to_sklearn(tmp_path: Path, content: str) -> None:
    (tmp_path / "iris.csv").write_text(content)
    assert read_bundled_csv("iris.csv", tmp_path) is None
    assert read_bundled_csv("wine_data.csv", tmp_path) is None  # not there


def test_builtin_digits_come_without_importing_sklearn() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from symbackprop.run.datasets import load_builtin;"
        "X, y = load_builtin('digits', None, None, 0, 10, 'digits');"
        "assert X.shape == (1797, 64) and X.max() == 1.0 and y.max() == 9;"
        "print('sklearn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
