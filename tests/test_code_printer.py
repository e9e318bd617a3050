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


@pytest.mark.parametrize(
    ("expr", "value"),
    [(sp.pi * z, math.pi), (sp.E * z, math.e), (sp.oo * z, math.inf), (-sp.oo * z, -math.inf)],
    ids=["pi", "E", "oo", "-oo"],
)
def test_constants_compile_and_keep_a_float32_kernel_in_float32(
    expr: sp.Expr, value: float
) -> None:
    """math.pi, math.e and the infinities are Python floats: cast in a float32 kernel, whose
    arithmetic they would otherwise widen to float64 (and -oo printed as float('-inf'), which
    Numba cannot compile)."""
    import numpy as np
    from numba import njit

    for float32, dtype in ((False, np.float64), (True, np.float32)):
        printed = code(expr, float32=float32)
        namespace = {"math": math, "np": np}
        exec(f"def f(z):\n    return {printed}\n", namespace)  # our own output, for Numba
        kernel = njit(namespace["f"])
        result = kernel(dtype(1.0))
        returns = str(kernel.nopython_signatures[0].return_type)
        assert returns == dtype.__name__ and result == dtype(value), (printed, returns)
