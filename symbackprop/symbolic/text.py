"""Plain-text form of the project's expressions: ``dL/da2[p]``, ``W2[j, p]``, ``sigmoid'(z1[p])``.

Used wherever an expression is written as one line of text: comments in generated code,
error messages, the text document (whose Unicode printer builds on this one).
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter


class BackpropStrPrinter(StrPrinter):
    """Plain text: ``dL/da2[p]``, ``W2[j, p]``, ``sigmoid'(z1[p])``."""

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        (variable, _), *_ = expr.variable_count
        numerator = self._print(expr.expr)
        if not (expr.expr.is_Symbol or isinstance(expr.expr, (sp.Indexed, sp.MatrixSymbol))):
            numerator = f"({numerator})"
        return f"d{numerator}/d{self._print(variable)}"

    def _print_Elementwise(self, expr: sp.MatrixExpr) -> str:
        prime = "'" if expr.prime else ""
        return f"{expr.activation.name}{prime}({self._print(expr.args[1])})"

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return " (*) ".join(self.parenthesize(arg, 60) for arg in expr.args)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        return f"{self._print(expr.arg)}^T"

    def _print_MatrixBase(self, expr: sp.MatrixBase) -> str:
        rows = [
            "[" + ", ".join(self._print(v) for v in expr.row(r)) + "]" for r in range(expr.rows)
        ]
        return rows[0] if len(rows) == 1 else "[" + ", ".join(rows) + "]"

    _print_ImmutableDenseMatrix = _print_MatrixBase
    _print_MutableDenseMatrix = _print_MatrixBase

    def _print_Sum(self, expr: sp.Sum) -> str:
        indices = ",".join(self._print(limit[0]) for limit in expr.limits)
        return f"sum_{indices}({self._print(expr.function)})"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        *pieces, (last, _) = expr.args
        text_ = self._print(last)
        for value, condition in reversed(pieces):
            text_ = f"{self._print(value)} if {self._print(condition)} else {text_}"
        return f"({text_})"


def text(expr: sp.Basic) -> str:
    """Plain-text form of an expression in our notation."""
    return BackpropStrPrinter().doprint(expr)
