"""Training from arrays in memory (``symbackprop.train(spec, X=..., y=...)``): the same weights
as training from a file holding the same numbers; arrays of the wrong shape or kind refused in
one line naming them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import symbackprop
from symbackprop import DataError
from symbackprop.spec.model import load_spec


def _xor_data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(float)


def test_training_from_arrays_gives_the_weights_training_from_the_same_file_gives(
    tmp_path: Path,
) -> None:
    X, y = _xor_data()
    np.savetxt(tmp_path / "xor.csv", np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    spec_text = (Path(symbackprop.__file__).parent / "specs" / "xor.toml").read_text()
    (tmp_path / "xor.toml").write_text(spec_text.replace('dataset = "xor"', 'dataset = "xor.csv"'))
    from_file = symbackprop.train(str(tmp_path / "xor.toml"), epochs=30)
    spec = load_spec(str(tmp_path / "xor.toml"))  # one module for both (its [data] is not read)
    from_arrays = symbackprop.train(spec, X=X, y=y, epochs=30)
    for a, b in zip(from_file.params, from_arrays.params):
        np.testing.assert_array_equal(a, b)
    assert from_arrays.result.train_loss == from_file.result.train_loss


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.ones((4, 3)), np.zeros(4), "inputs have shape (4, 3), but the network takes 2"),
        (np.ones(2), np.zeros(1), "inputs must be 2-D, one row of 2 inputs per sample, not of "
         "shape (2,) (one sample: reshape it to (1, 2))"),  # was: has shape (2,), takes 2
        (np.full((4, 2), np.nan), np.zeros(4), "inputs contain NaN or infinity (sample 0)"),
        (np.ones((4, 2)) + 1j, np.zeros(4), "X must hold real numbers"),
        (np.ones((4, 2)), np.array(["a"] * 4), "y must hold real numbers"),
        (np.ones((4, 2)), np.zeros(3), "4 input rows but 3 target rows"),
    ],
)
def test_arrays_of_the_wrong_shape_or_kind_are_refused_in_one_line(
    X: np.ndarray, y: np.ndarray, message: str
) -> None:
    with pytest.raises(DataError) as caught:
        symbackprop.train("xor", X=X, y=y, epochs=1)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("arrays: ")


def test_x_without_y_is_refused() -> None:
    with pytest.raises(TypeError, match="X and y together"):
        symbackprop.train("xor", X=np.ones((4, 2)))
