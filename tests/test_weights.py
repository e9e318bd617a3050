"""Saved weights: round trip, and one clear error for files that do not fit the spec."""

from __future__ import annotations

import numpy as np
import pytest

from symbackprop.errors import DataError
from symbackprop.run.weights import load_weights, save_weights
from symbackprop.spec.model import load_spec
from symbackprop.spec.parameters import param_shapes


def test_round_trip_keeps_values_and_extras(tmp_path):
    spec = load_spec("xor")
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(shape) for shape in param_shapes(spec).values()]
    path = save_weights(tmp_path / "w.npz", spec, params, {"x_mean": np.arange(2.0)})
    loaded, extra = load_weights(path, spec)
    assert all(np.array_equal(a, b) for a, b in zip(loaded, params))
    assert np.array_equal(extra["x_mean"], np.arange(2.0))
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary left behind


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("W2"), "missing array 'W2'"),
        (lambda a: a.update(W1=np.zeros((2, 4))), "array 'W1' has shape (2, 4)"),
        (lambda a: a.update(b1=np.full(4, np.nan)), "array 'b1' holds non-finite values"),
        (lambda a: a.update(network=np.array("64-32-10")), "saved for network '64-32-10'"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, change, message):
    spec = load_spec("xor")
    arrays = {name: np.zeros(shape) for name, shape in param_shapes(spec).items()}
    change(arrays)
    np.savez(tmp_path / "w.npz", **arrays)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_weights(tmp_path / "w.npz", spec)


def test_not_an_npz(tmp_path):
    (tmp_path / "w.npz").write_text("hello")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_weights(tmp_path / "w.npz", load_spec("xor"))
