"""Shared fixtures: a persistent module cache, spec builders, generated-module loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from symbackprop.pipeline import derivation_of, load_module, render_module
from symbackprop.spec import Spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent

# (output activation, loss) pairs the spec accepts; each test network also has one hidden
# layer of every elementwise activation, so all activations meet every loss.
OUTPUT_LOSS = [
    ("identity", "mse"),
    ("sigmoid", "mse"),
    ("tanh", "mse"),
    ("relu", "mse"),
    ("softmax", "mse"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
]
HIDDEN = ["identity", "sigmoid", "tanh", "relu"]


def pytest_configure(config: pytest.Config) -> None:
    # Keep generated modules and Numba's compiled kernels between local runs.
    os.environ.setdefault("SYMBACKPROP_CACHE", str(config.cache.mkdir("symbackprop")))
    # Train with the deterministic default kernels; tests/test_kernels.py turns the tuner on.
    os.environ.setdefault("SYMBACKPROP_TUNE", "0")


def make_spec(
    layers: list[int], output: str, loss: str, activation: Any = "tanh", name: str | None = None
) -> Spec:
    """A spec from its network fields."""
    network = {"layers": layers, "output": output, "loss": loss}
    if len(layers) > 2:
        network["activation"] = activation
    return parse_spec({"name": name or f"t_{output}_{loss}", "network": network})


def combo_spec(output: str, loss: str, layers: list[int] | None = None) -> Spec:
    """A network with one hidden layer of each elementwise activation, then ``output``."""
    sizes = layers or [3, 4, 3, 4, 3, 3]
    return make_spec(sizes, output, loss, HIDDEN[: len(sizes) - 2], f"c_{output}_{loss}")


_MODULES: dict[Spec, Any] = {}


def module_for(spec: Spec):  # noqa: ANN201
    """The generated module of a spec, written to the test cache and imported."""
    if spec not in _MODULES:
        _MODULES[spec] = load_module(render_module(derivation_of(spec)))
    return _MODULES[spec]


def sample(module, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Random inputs and targets of the kind the module's loss expects."""
    from symbackprop.gradcheck import sample_data

    return sample_data(module, n, seed)
