"""Numbers behind the formulas: evaluate displayed steps on a generated module's intermediates.

This is how a printed formula is kept from drifting from the code: each step that names a
module array (``Step.check``) is evaluated with that pass's numbers and compared.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import sympy as sp

from ..symbolic.derivation import Derivation
from ..symbolic.network import ActivationFunction, ActivationPrime
from .steps import Step, derivation_steps

_ARRAY = re.compile(r"^(a|z|delta|W|b|y)(\d*)$")
_SCALAR = re.compile(r"^(W|b|x|y)(\d+)((?:_\d+)*)$")


def array_name(base: str) -> str:
    """The module array holding an IndexedBase's values: a1 -> A1, z2 -> Z2, y -> Y."""
    match = _ARRAY.match(base)
    if not match:
        raise KeyError(base)
    kind, layer = match.groups()
    return {"a": "A", "z": "Z", "y": "Y"}.get(kind, kind) + layer


def per_sample(name: str) -> bool:
    """Whether a module array has one row per sample (A, Z, Y, delta) or not (W, b, dW, db)."""
    return name[0] in "AZY" or name.startswith("delta")


def element_value(element: sp.Indexed, values: dict[str, np.ndarray], row: int = 0) -> float:
    """The number behind one index-form element (``a1[2]``, ``W2[0, 1]``) for sample ``row``."""
    name = array_name(str(element.base.label))
    index = tuple(int(i) for i in element.indices)
    return float(values[name][(row, *index)] if per_sample(name) else values[name][index])


def evaluate(
    expr: sp.Basic, values: dict[str, np.ndarray], sizes: dict[sp.Symbol, int], row: int = 0
) -> float:
    """The value of an index-form expression (free indices already fixed) for sample ``row``."""
    expr = sp.sympify(expr).xreplace(sizes).doit()

    def number(element: sp.Indexed) -> sp.Float:
        return sp.Float(element_value(element, values, row), 30)

    def scalar(symbol: sp.Symbol) -> sp.Float:
        match = _SCALAR.match(symbol.name)
        kind, layer, rest = match.groups()
        index = tuple(int(i) for i in rest.split("_") if i)
        if kind in "xy":
            return sp.Float(float(values["A0" if kind == "x" else "Y"][(row, int(layer))]), 30)
        return sp.Float(float(values[f"{kind}{layer}"][index]), 30)

    expr = expr.replace(lambda e: isinstance(e, sp.Indexed), number)
    expr = expr.replace(lambda e: isinstance(e, sp.Symbol) and bool(_SCALAR.match(e.name)), scalar)
    expr = expr.replace(lambda e: isinstance(e, ActivationFunction | ActivationPrime), _expanded)
    return float(sp.N(expr, 30))


def _expanded(e: ActivationFunction | ActivationPrime) -> sp.Expr:
    return e.expanded()


def checkable(expr: sp.Basic) -> bool:
    """Whether an expression can be evaluated from numbers (no unevaluated derivatives)."""
    return not expr.has(sp.Derivative) and not isinstance(expr, sp.MatrixExpr)


def check_step(
    step: Step,
    values: dict[str, np.ndarray],
    sizes: dict[sp.Symbol, int],
    rtol: float = 1e-9,
    row: int = 0,
) -> list[str]:
    """Mismatches between a step's right-hand sides and the module's array, at every index."""
    if step.check is None:
        return []
    name, indices = step.check
    target = np.asarray(values[name])
    sampled = per_sample(name)
    shape = target.shape[1:] if sampled else target.shape
    problems = []
    if all(isinstance(i, int) for i in indices) and indices:
        combinations: list[tuple[int, ...]] = [tuple(indices)]  # one fixed element
        indices = ()
    else:
        combinations = list(itertools.product(*(range(n) for n in shape)))
    for index in combinations:
        fixed = dict(zip(indices, index))
        expected = float(target[(row, *index)] if sampled else target[index])
        for rhs in step.rhs:
            if not checkable(rhs):
                continue
            got = evaluate(rhs.xreplace(fixed), values, sizes, row)
            if abs(got - expected) > rtol * max(1.0, abs(expected)):
                problems.append(
                    f"{name}{list(index)}: formula {rhs} gives {got!r}, code {expected!r}"
                )
    return problems


def check_derivation(
    derivation: Derivation, values: dict[str, np.ndarray], rtol: float = 1e-9
) -> list[str]:
    """Every checkable step of a derivation against one sample's module numbers."""
    sizes = derivation.network.concrete_sizes()
    problems = []
    for step in derivation_steps(derivation):
        problems += check_step(step, values, sizes, rtol)
    return problems
