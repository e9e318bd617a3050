"""The Numba printer against SymPy's own evaluation, on the shapes that once printed wrongly."""

from __future__ import annotations

import math

import pytest
import sympy as sp

from symbackprop.codegen.printer import code

z, w = sp.symbols("z w", real=True)

# A negated product takes a sum's precedence in SymPy: its denominator (u + 1)**2, printed as
# (u + 1)*(u + 1), lost its brackets (-z*sign(z)/(|z| + 1)**2 is x/(1 + |x|)'s derivative).
CASES = [
    -z * sp.sign(z) / (sp.Abs(z) + 1) ** 2,
    -2 * z * w / (z**2 + 1) ** 2,
    -w / (z**2 + 1) ** 3,
    -sp.Rational(1, 2) * w / (z + 1) ** 2,
    -(w**2) / (z + 1) ** 2,
    -((w + 1) ** 2),
    1 / (z + 1) ** 2,
    -1 / (z + 1) ** 3,
    -1 / (z + 1),
    w / (z + 1) ** 2 - z / (w - 3) ** 3,
    # conditionals print unbracketed inside one pair of brackets; 0.5 needs none in a product
    sp.Piecewise((0, z <= -1), (1, z >= 1), (sp.erfc(z) / 2, True)),
    w * sp.Piecewise((z, (z > 0) & (z < 1)), (-z, True)) - 1,
    sp.Piecewise((sp.Piecewise((1, w > 0), (2, True)), z > 0), (3, True)) ** 2,
    1 / (1 + sp.Piecewise((z, ~(z > 0.5)), (w, True))),
    sp.Rational(1, 2) * z * w - sp.Rational(3, 2) / w + sp.Rational(1, 4) ** z,
    -sp.Rational(1, 2) * sp.Piecewise((z - w, sp.Abs(z) <= 1), (sp.sign(z - w), True)),
]


@pytest.mark.parametrize("expr", CASES, ids=[str(e) for e in CASES])
def test_printed_code_evaluates_as_sympy(expr: sp.Expr) -> None:
    printed = code(expr)
    assert "(0.5)" not in printed and "if (" not in printed, printed  # no needless brackets
    for zv, wv in [(-0.7, 1.3), (2.5, -0.4), (0.3, 0.9), (0.8, 0.2), (-1.5, -2.0)]:
        value = eval(printed, {"math": math, "abs": abs}, {"z": zv, "w": wv})  # our own output
        assert value == pytest.approx(float(expr.subs({z: zv, w: wv})), rel=1e-13), printed
