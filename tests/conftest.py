"""Shared fixtures: a persistent module cache, spec builders, generated-module loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from symbackprop.pipeline import cached_module, load_module
from symbackprop.spec.model import Spec, parse_spec

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
    # Keep generated modules and Numba's compiled kernels between local runs (in pytest's cache
    # folder, unless SYMBACKPROP_CACHE names one: then -p no:cacheprovider works too).
    if "SYMBACKPROP_CACHE" not in os.environ:
        os.environ["SYMBACKPROP_CACHE"] = str(config.cache.mkdir("symbackprop"))
    # Train with the deterministic default kernels; tests/test_kernels.py turns the tuner on.
    os.environ.setdefault("SYMBACKPROP_TUNE", "0")


REQUIRE_TORCH = "SYMBACKPROP_REQUIRE_TORCH"


def have_torch() -> bool:
    """Whether torch imports. Without it the comparisons against torch are skipped, except under
    SYMBACKPROP_REQUIRE_TORCH=1 (.ci/run sets it): there the calling test fails instead."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        missing = str(exc)
    else:
        return True
    if os.environ.get(REQUIRE_TORCH):
        pytest.fail(f"{REQUIRE_TORCH} is set but torch does not import: {missing}", pytrace=False)
    return False


def import_torch():  # noqa: ANN201
    """torch, or skip the test (or, at import, the whole module) where it is not installed;
    fail instead under SYMBACKPROP_REQUIRE_TORCH=1."""
    if not have_torch():
        pytest.skip(
            f"torch is not installed (CI installs it and sets {REQUIRE_TORCH}=1)",
            allow_module_level=True,
        )
    import torch

    return torch


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
        _MODULES[spec] = cached_module(spec)
    return _MODULES[spec]


def sample(module, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Random inputs and targets of the kind the module's loss expects."""
    from symbackprop.run.gradcheck import sample_data

    return sample_data(module, n, seed)


class RacingParser:
    """Stands in for the ``ast`` module of ``symbackprop.util.parsing``: its ``parse`` raises
    CPython 3.11's spurious "AST constructor recursion depth mismatch" SystemError (what a parse
    in another thread can cause) ``failures`` more times, then parses."""

    def __init__(self, failures: int) -> None:
        import ast

        self.failures, self._parse = failures, ast.parse

    def parse(self, *args: object, **kwargs: object) -> object:
        if self.failures:
            self.failures -= 1
            raise SystemError("AST constructor recursion depth mismatch (before=51, after=85)")
        return self._parse(*args, **kwargs)


def pointwise_module(name: str, lines: list[str], dtype: str, outputs: tuple[str, ...]):  # noqa: ANN201
    """A small Numba module with ``evaluate(points, Y, *outputs)``: for each point ``z``, the
    printed ``lines`` (scalar code as the kernels print it) fill row i of the output arrays.
    It includes the generated modules' vectorisable _exp/_tanh helpers."""
    from symbackprop.codegen.module import MARKER, ModuleSource
    from symbackprop.util.resources import environment

    fast = environment().get_template("fastmath.py.jinja").module
    body = "\n".join(f"        {line}" for line in lines)
    source = f"""{MARKER} (test kernels: {name})
import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

KERNEL = dict(cache=True, fastmath={{"contract"}}, error_model="numpy")

{fast.bits(dtype)}

{fast.exp(dtype)}

{fast.tanh(dtype)}

@njit(**KERNEL)
def evaluate(points, Y, {", ".join(outputs)}):
    for i in range(points.shape[0]):
        z = points[i]
{body}
"""
    return load_module(ModuleSource(name, source))


# Tests kept out of the default run (they compile a module of their own or run long) so that
# `python -m pytest` stays under 5 minutes on 2 cores from a cold Numba cache; they run under
# `-m slow`, as CI does after the default run. Each entry is a test id or the start of one.
SLOW_IN_DEFAULT_RUN = (
    "tests/test_kernels.py::test_every_variant_trains_like_blas[loops-d",
    "tests/test_kernels.py::test_every_variant_trains_like_blas[micro-d",
    "tests/test_kernels.py::test_float32_microkernels_stay_float32_and_agree",
    "tests/test_kernels.py::test_variants_and_tuning_with_adam",
    "tests/test_kernels.py::test_tuner_choice_is_cached_and_reused",
    "tests/test_bench.py::test_bench_records_the_machine_and_each_layers_kernels",
    "tests/test_bench.py::test_missing_peer_is_reported_not_fatal",
    "tests/test_derivation.py::test_layer_level_equals_full_expansion[tanh-softmax-mse]",
    "tests/test_divergence.py::test_diverged_keeps_the_parameters_and_state_of_the_batch_before[",
    "tests/test_generated.py::test_displayed_steps_match_code[identity-mse]",
    "tests/test_generated.py::test_displayed_steps_match_code[softmax-mse]",
    "tests/test_generated.py::test_displayed_steps_match_code[tanh-mse]",
    "tests/test_generated.py::test_displayed_steps_match_code[relu-mse]",
    "tests/test_generated.py::test_gradients_match_sympy_closed_forms[identity-mse]",
    "tests/test_generated.py::test_gradients_match_sympy_closed_forms[tanh-mse]",
    "tests/test_generated.py::test_gradients_match_sympy_closed_forms[relu-mse]",
    "tests/test_generated.py::test_gradients_match_sympy_closed_forms[softmax-mse]",
    "tests/test_worked_example.py::test_written_out_sums_reproduce_their_printed_results[2]",
    "tests/test_worked_example.py::test_written_out_sums_reproduce_their_printed_results[6]",
    "tests/test_workflow.py::test_per_epoch_calls_carry_optimizer_state_and_schedule",
    "tests/test_sweep.py::test_derivations_diff_of_the_best_variant",
    "tests/test_bench.py::test_cli_bench_xor_numpy",
    "tests/test_kernels.py::test_every_variant_trains_like_blas[",
    "tests/test_divergence.py::test_a_state_overflow_is_caught_before_anything_is_written",
    "tests/test_generated.py::test_displayed_steps_match_code[sigmoid-binary_cross_entropy]",
    "tests/test_worked_example.py::test_frozen_biases_stay_in_the_module_and_the_document",
    # moved when the cold default run measured 5:33 in CI (4:32 on a quiet machine)
    "tests/test_kernels.py::test_default_plan_is_blas_from_the_threshold_and_loops_below",
    "tests/test_diagram.py::test_diagrams_compile_without_overfull_boxes[mazur-example]",
    # moved when optimizer examples, compositions and the expression fuzz joined the default run
    "tests/test_worked_example.py::test_example_ends_with_every_optimizers_step[sgd_nesterov]",
    "tests/test_worked_example.py::test_example_ends_with_every_optimizers_step[adamw_amsgrad",
    "tests/test_worked_example.py::test_example_ends_with_every_optimizers_step[rmsprop_centered]",
    # moved when torch joined CI (its default run measured 5:16 with them)
    "tests/test_user_functions.py::test_gradients_match_finite_differences_and_torch[builtins]",
    # moved when CI's cold default run measured 298 s (a local cold run 296 s): each has a
    # sibling left in the default run
    "tests/test_generated.py::test_gradients_match_sympy_closed_forms[sigmoid-binary_cross_entropy]",
    "tests/test_hostile.py::test_hostile_case[first batch diverges (weights of 1e200, identity",
    "tests/test_cli.py::test_run_spec_file_with_csv",
)
"""Kept by default: the divergence line via test_limits, two output/loss pairs of each module
check, D = 3 and 4 of the worked sums; every kernel variant against BLAS runs under -m slow."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW_IN_DEFAULT_RUN):
            item.add_marker(pytest.mark.slow)
