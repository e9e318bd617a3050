"""The Numba printer: SymPy expressions as scalar Python (``math`` module) for one element."""

from __future__ import annotations

import sympy as sp
from sympy.core.mul import _keep_coeff
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter


class NumbaPrinter(PythonCodePrinter):
    """Scalar Python (``math`` module) that Numba compiles, for one element of a batch.

    ``arrays`` maps an IndexedBase name to a format string for its element, e.g.
    ``{"a2": "A2[r, {}]"}``; ``symbols`` maps plain symbol names to code.  Numbers print as
    floats of the kernel's dtype, small integer powers as products.
    """

    FAST_FUNCTIONS = ("exp", "tanh")
    """Functions printed as calls to the module's vectorisable helpers (``_exp``, ``_tanh``)."""

    def __init__(
        self,
        arrays: dict[str, str] | None = None,
        symbols: dict[str, str] | None = None,
        float32: bool = False,
        used: set[str] | None = None,
    ) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})
        self.arrays = arrays or {}
        self.symbol_map = symbols or {}
        self.float32 = float32
        self.used = used if used is not None else set()
        """Names of the fast helpers the printed code calls (shared between printers)."""

    def _print_exp(self, expr: sp.Expr) -> str:
        self.used.add("exp")
        return f"_exp({self._print(expr.args[0])})"

    def _print_tanh(self, expr: sp.Expr) -> str:
        self.used.add("tanh")
        return f"_tanh({self._print(expr.args[0])})"

    def _float(self, value: str) -> str:
        return f"np.float32({value})" if self.float32 else value

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        name = str(expr.base.label)
        indices = [str(self._print(index)) for index in expr.indices]
        template = self.arrays.get(name)
        if template is None:
            return f"{name}[{', '.join(indices)}]"
        return template.format(*indices)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.symbol_map.get(expr.name, expr.name)

    def _print_Integer(self, expr: sp.Integer) -> str:
        return self._float(f"{int(expr)}.0")

    def _print_known_constant(self, expr: sp.Expr) -> str:
        """``math.pi``, ``math.e``, ``math.inf``: Python floats, so cast in a float32 kernel, whose
        sums and products would otherwise be carried out in float64."""
        printed = getattr(PythonCodePrinter, f"_print_{type(expr).__name__}")(self, expr)
        return self._float(printed)

    _print_Pi = _print_Exp1 = _print_Infinity = _print_NaN = _print_ComplexInfinity = (
        _print_known_constant
    )

    def _print_NegativeInfinity(self, expr: sp.Expr) -> str:
        """-math.inf (SymPy's Python printer writes ``float('-inf')``, which Numba cannot
        compile)."""
        return self._float("-math.inf")

    def _print_Rational(self, expr: sp.Rational) -> str:
        return self._float(repr(float(expr)))

    def _print_Float(self, expr: sp.Float) -> str:
        return self._float(repr(float(expr)))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.args
        if exp.is_Integer and 2 <= int(exp) <= 3:
            factor = self.parenthesize(base, PRECEDENCE["Mul"])
            return "*".join([factor] * int(exp))
        if exp == -1:
            return f"{self._float('1.0')}/{self.parenthesize(base, PRECEDENCE['Pow'])}"
        if exp.is_Integer and -3 <= int(exp) <= -2:
            power = sp.Pow(base, -exp, evaluate=False)
            return f"{self._float('1.0')}/{self.parenthesize(power, PRECEDENCE['Mul'])}"
        return super()._print_Pow(expr, rational=rational)

    def _print_Mul(self, expr: sp.Mul) -> str:
        """A product; a negative one as ``-`` before the positive product.

        SymPy gives a negated product the precedence of a sum, so its factors would be
        bracketed for a sum, not for a product: ``-x/(u + 1)**2`` lost the brackets around the
        denominator printed as ``(u + 1)*(u + 1)``.
        """
        coefficient, rest = expr.as_coeff_Mul()
        if coefficient < 0:
            positive = _keep_coeff(-coefficient, rest)
            return "-" + self.parenthesize(positive, PRECEDENCE["Mul"], strict=True)
        return super()._print_Mul(expr)

    def parenthesize(self, item: sp.Basic, level: int, strict: bool = False) -> str:
        """As SymPy's, but a power printed as a product (x*x) is bracketed inside products, and a
        positive fraction, printed as one float literal (0.5), is not (SymPy ranks p/q as a
        product: ``(0.5)*x``)."""
        if isinstance(item, sp.Rational | sp.Float) and item.is_positive:
            return self._print(item)
        printed = super().parenthesize(item, level, strict)
        small_power = isinstance(item, sp.Pow) and item.exp.is_Integer and 2 <= item.exp <= 3
        if small_power and level >= PRECEDENCE["Mul"]:
            return f"({printed})"
        return printed

    def _print_Max(self, expr: sp.Max) -> str:
        return f"max({', '.join(self._print(arg) for arg in expr.args)})"

    def _print_Min(self, expr: sp.Min) -> str:
        return f"min({', '.join(self._print(arg) for arg in expr.args)})"

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_sign(self, expr: sp.Expr) -> str:
        """sign(u) with sign(0) = 0 (math.copysign would give +-1 at 0)."""
        u = self._print(expr.args[0])
        one, zero = self._float("1.0"), self._float("0.0")
        return f"({one} if {u} > {zero} else (-{one} if {u} < {zero} else {zero}))"

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        """H(u), with H(0) as the expression says (SymPy's default 1/2; 0 in derivatives)."""
        u = self._print(expr.args[0])
        at_zero = self._print(expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2))
        one, zero = self._float("1.0"), self._float("0.0")
        return f"({one} if {u} > {zero} else ({zero} if {u} < {zero} else {at_zero}))"

    def _print_Relational(self, expr: sp.Expr) -> str:
        """A comparison, unbracketed: it is only ever a condition (of a conditional, or inside
        ``and``/``or``/``not``, which all bind looser). Between integers (a step counter and a
        number) it stays in integers."""
        integers = all(arg.is_integer for arg in expr.args)
        lhs, rhs = (
            str(arg) if integers and arg.is_Integer else self._print(arg) for arg in expr.args
        )
        return f"{lhs} {expr.rel_op} {rhs}"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        """``(a if c else b if d else e)``: brackets around the whole only (a conditional binds
        looser than any operator, so its pieces and conditions need none). One whose last
        condition is not True prints as SymPy prints it (``... else None``)."""
        *pieces, (last, otherwise) = expr.args
        if otherwise != sp.true:
            return super()._print_Piecewise(expr)
        chain = [f"{self._print(value)} if {self._print(cond)} else" for value, cond in pieces]
        return f"({' '.join([*chain, self._print(last)])})"

    def _print_floor(self, expr: sp.Expr) -> str:
        """floor(k/n) of an integer k and a positive integer n as exact integer division."""
        numerator, denominator = expr.args[0].as_numer_denom()
        if numerator.is_integer and denominator.is_Integer and denominator > 0:
            return f"({self._print(numerator)} // {denominator})"
        return f"math.floor({self._print(expr.args[0])})"

    def _print_erf(self, expr: sp.Expr) -> str:
        return f"math.erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr: sp.Expr) -> str:
        return f"math.erfc({self._print(expr.args[0])})"


def code(expr: sp.Expr, **settings: object) -> str:
    """Print one scalar expression as Numba-compilable Python."""
    return NumbaPrinter(**settings).doprint(expr)  # type: ignore[arg-type]
