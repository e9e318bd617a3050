"""Generated gradients against central finite differences of the generated loss.

Five-point central differences, (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h with h = 1e-5: the
truncation error is O(h^4) and the round-off about 1e-11 of the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from numpy.typing import ArrayLike

from ..errors import SymbackpropError

RELATIVE_FLOOR = 1e-4
"""Magnitudes below this count as this in the relative error: central differences of an O(1)
loss carry ~1e-10 of round-off, which would swamp the relative error of tiny gradients."""


def relative_difference(numeric: ArrayLike, exact: ArrayLike) -> np.ndarray:
    """|numeric - exact| / max(|numeric|, |exact|, RELATIVE_FLOOR), entry by entry: the one
    measure every gradient comparison of the project reports."""
    numeric, exact = np.asarray(numeric, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(numeric), np.abs(exact)), RELATIVE_FLOOR)
    return np.abs(numeric - exact) / scale


@dataclass(frozen=True)
class ParamCheck:
    """How one parameter array's gradient compared with finite differences."""

    name: str
    checked: int
    total: int
    max_abs_error: float
    max_rel_error: float


def sample_data(module: ModuleType, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs and targets of the kind the module's loss expects."""
    rng = np.random.default_rng(seed)
    n_in, n_out = module.LAYERS[0], module.LAYERS[-1]
    X = rng.standard_normal((n, n_in))
    if module.TARGETS == "one_hot":
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif module.TARGETS == "binary":
        Y = (rng.random((n, n_out)) < 0.5).astype(np.float64)
    else:
        Y = rng.standard_normal((n, n_out))
    return X, Y


def check_gradients(
    module: ModuleType,
    seed: int = 0,
    samples: int = 8,
    max_per_param: int = 200,
    step: float | None = None,
    where: str = "check",
) -> list[ParamCheck]:
    """Compare ``module.gradients`` with central differences of ``module.loss``.

    Up to ``max_per_param`` entries of each parameter array are checked (all of them for small
    networks), chosen at random with ``seed``. A non-finite loss, gradient or difference is no
    agreement: a SymbackpropError at ``where`` says which (NaN compares as nothing).
    """
    X, Y = sample_data(module, samples, seed)
    params = module.init_params(seed)
    h = step or difference_step(params[0].dtype)
    analytic = module.gradients(params, X, Y)
    require_finite(module.loss(params, X, Y), zip(module.PARAM_NAMES, analytic), where)
    rng = np.random.default_rng(seed + 1)
    results = []
    for name, param, grad in zip(module.PARAM_NAMES, params, analytic):
        flat = param.reshape(-1)
        chosen = np.arange(flat.size)
        if flat.size > max_per_param:
            chosen = np.sort(rng.choice(flat.size, max_per_param, replace=False))
        max_abs = max_rel = 0.0
        for i in chosen:
            old = flat[i]
            values = []
            for offset in (-2, -1, 1, 2):
                flat[i] = old + offset * h
                values.append(module.loss(params, X, Y))
            flat[i] = old
            # Five-point central difference: truncation error O(h^4).
            numeric = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
            exact = float(grad.reshape(-1)[i])
            if not np.isfinite(numeric):
                raise SymbackpropError(
                    f"the finite difference of the loss along {name} is not finite ({numeric}): "
                    "a function of the spec overflows or is undefined near the check's point",
                    where,
                )
            error = abs(numeric - exact)
            max_abs = max(max_abs, error)
            max_rel = max(max_rel, float(relative_difference(numeric, exact)))
        results.append(ParamCheck(name, int(chosen.size), int(flat.size), max_abs, max_rel))
    return results


def require_finite(loss: float, gradients: Iterable[tuple[str, np.ndarray]], where: str) -> None:
    """Refuse (one line at ``where``) a non-finite loss or gradient at the check's point."""
    if not np.isfinite(loss):
        bad = f"the loss ({loss})"
    else:
        bad = next((f"the gradient of {n}" for n, g in gradients if not np.isfinite(g).all()), "")
    if bad:
        raise SymbackpropError(
            f"{bad} is not finite at the check's random inputs: a function of the spec is "
            "undefined or overflows there (log or sqrt of a negative value?); nothing to compare",
            where,
        )


def compare_precisions(
    single: ModuleType, double: ModuleType, seed: int = 0, samples: int = 8, where: str = "check"
) -> list[ParamCheck]:
    """A float32 module's gradients against its float64 twin's, at the same (rounded) point.

    Finite differences cannot resolve float32 gradients (round-off ~1e-7 of the loss over a
    step of ~1e-2); the float64 twin, itself checked by finite differences, can.
    """
    X, Y = sample_data(double, samples, seed)
    params32 = single.init_params(seed)
    params64 = [p.astype(np.float64) for p in params32]
    X = X.astype(np.float32).astype(np.float64)
    results = []
    grads32 = single.gradients(params32, X, Y)
    grads64 = double.gradients(params64, X, Y)
    require_finite(double.loss(params64, X, Y), zip(double.PARAM_NAMES, grads64), where)
    require_finite(single.loss(params32, X, Y), zip(single.PARAM_NAMES, grads32), where)
    for name, g32, g64 in zip(single.PARAM_NAMES, grads32, grads64):
        error = np.abs(g32.astype(np.float64) - g64)
        relative = float(relative_difference(g32, g64).max())
        results.append(ParamCheck(name, g64.size, g64.size, float(error.max()), relative))
    return results


@dataclass(frozen=True)
class DirectionCheck:
    """The gradient of one parameter array along a random direction, two ways."""

    name: str
    analytic: float
    numeric: float

    @property
    def error(self) -> float:
        """Relative disagreement (magnitudes below RELATIVE_FLOOR count as the floor)."""
        if not (np.isfinite(self.numeric) and np.isfinite(self.analytic)):
            return np.inf
        return float(relative_difference(self.numeric, self.analytic))


def directional_checks(
    module: ModuleType, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray, seed: int = 0
) -> list[DirectionCheck]:
    """g . u against the five-point central difference of the loss along u, one random unit
    direction u per parameter array, on the batch X, Y (cheap: one gradient, four losses each).

    A NaN anywhere counts as a disagreement (its error is inf), never as agreement.
    """
    rng = np.random.default_rng(seed)
    h = difference_step(params[0].dtype)
    analytic = module.gradients(params, X, Y)
    checks = []
    for index, (name, grad) in enumerate(zip(module.PARAM_NAMES, analytic)):
        u = rng.standard_normal(grad.shape)
        u /= np.linalg.norm(u) or 1.0
        values = []
        for offset in (-2, -1, 1, 2):
            moved = list(params)
            moved[index] = (params[index] + offset * h * u).astype(params[index].dtype)
            values.append(float(module.loss(moved, X, Y)))
        numeric = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
        along = float(np.sum(grad.astype(np.float64) * u))
        checks.append(DirectionCheck(name, along, numeric if np.isfinite(numeric) else np.nan))
    return checks


def worst_direction(
    module: ModuleType, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray, tries: int = 2
) -> DirectionCheck | None:
    """The worst disagreeing direction if every one of ``tries`` random draws disagrees beyond
    the module's tolerance (1e-5, float32 1e-2), else None.  A second draw keeps a direction
    that happens to cross a kink (ReLU, Abs) from refusing a correct module."""
    tolerance = 1e-2 if params[0].dtype == np.float32 else 1e-5
    worst = None
    for seed in range(tries):
        checks = directional_checks(module, params, X, Y, seed)
        bad = max(checks, key=lambda c: c.error)
        if bad.error <= tolerance:
            return None
        worst = bad
    return worst


def difference_step(dtype: type) -> float:
    """The step h of a central difference: 1e-5 for float64, 1e-2 for float32 (round-off of
    the loss ~1e-7 there)."""
    return 1e-2 if dtype == np.float32 else 1e-5


def central_difference(
    loss: Callable[[list[np.ndarray]], float],
    params: list[np.ndarray],
    index: int,
    entry: tuple[int, ...],
    h: float,
) -> float:
    """(L(theta + h) - L(theta - h)) / 2h for the entry ``entry`` of ``params[index]``: two
    evaluations of ``loss`` alone (no gradient is read); ``params`` is left as it was."""
    array = params[index]
    old = array[entry]
    values = []
    for offset in (h, -h):
        array[entry] = old + offset
        values.append(float(loss(params)))
    array[entry] = old
    return (values[0] - values[1]) / (2 * h)


def central_differences(
    loss: Callable[[list[np.ndarray]], float],
    params: list[np.ndarray],
    index: int,
    entries: Iterable[tuple[int, ...]],
    h: float,
) -> np.ndarray:
    """``central_difference`` at each of ``entries`` of ``params[index]``; NaN elsewhere."""
    out = np.full(params[index].shape, np.nan)
    for entry in entries:
        out[entry] = central_difference(loss, params, index, entry, h)
    return out
