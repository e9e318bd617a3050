"""SymPy printers for our notation: scalar Numba code and LaTeX."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.pycode import PythonCodePrinter
from sympy.printing.str import StrPrinter


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

    def _print_Rational(self, expr: sp.Rational) -> str:
        return self._float(repr(float(expr)))

    def _print_Float(self, expr: sp.Float) -> str:
        return self._float(repr(float(expr)))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.args
        if exp.is_Integer and 2 <= int(exp) <= 3:
            factor = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Mul"])
            return "*".join([factor] * int(exp))
        if exp == -1:
            one = self._float("1.0")
            return f"{one}/{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}"
        return super()._print_Pow(expr, rational=rational)

    def parenthesize(self, item: sp.Basic, level: int, strict: bool = False) -> str:
        """As SymPy's, but a power printed as a product (x*x) is bracketed inside products."""
        printed = super().parenthesize(item, level, strict)
        small_power = isinstance(item, sp.Pow) and item.exp.is_Integer and 2 <= item.exp <= 3
        if small_power and level >= sp.printing.precedence.PRECEDENCE["Mul"]:
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

    def _print_erf(self, expr: sp.Expr) -> str:
        return f"math.erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr: sp.Expr) -> str:
        return f"math.erfc({self._print(expr.args[0])})"


def code(expr: sp.Expr, **settings: object) -> str:
    """Print one scalar expression as Numba-compilable Python."""
    return NumbaPrinter(**settings).doprint(expr)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Notation:
    """How symbols are written: W^{(l)}_{jk} (default) or a textbook alternative."""

    name: str
    weight: str = r"W^{{({l})}}"
    bias: str = r"b^{{({l})}}"
    z: str = r"z^{{({l})}}"
    a: str = r"a^{{({l})}}"
    delta: str = r"\delta^{{({l})}}"
    input: str = r"x"
    target: str = r"y"
    size: str = r"n_{{{l}}}"
    description: str = ""
    aliases: dict[str, str] = field(default_factory=dict)

    def base(self, kind: str, layer: int | None) -> str:
        """The LaTeX of a symbol's base, e.g. ``W^{(2)}``."""
        if kind == "a" and layer == 0:
            return self.input
        return getattr(self, kind).format(l=layer)


NOTATIONS: dict[str, Notation] = {
    "default": Notation(
        name="default", description=r"$W^{(l)}_{jk}$, $b^{(l)}_j$, $z^{(l)}$, $a^{(l)}$"
    ),
    "nielsen": Notation(
        name="nielsen",
        weight=r"w^{{{l}}}",
        bias=r"b^{{{l}}}",
        z=r"z^{{{l}}}",
        a=r"a^{{{l}}}",
        delta=r"\delta^{{{l}}}",
        input=r"a^{{0}}",
        description=r"Nielsen's $w^l_{jk}$, $b^l_j$, $z^l$, $a^l$",
    ),
}

_KINDS = {"W": "weight", "b": "bias", "z": "z", "a": "a", "delta": "delta", "n": "size"}


_SCALAR = re.compile(r"^(W|b)(\d+)_(\d+)(?:_(\d+))?$")
_VECTOR = re.compile(r"^([xy])(\d+)$")


class BackpropLatexPrinter(LatexPrinter):
    """LaTeX in a notation profile: ``W^{(2)}_{jk}``, ``\\delta^{(1)}_{p}``, ``n_{2}``."""

    def __init__(self, notation: Notation | None = None, **settings: object) -> None:
        settings.setdefault("symbol_names", {sp.Symbol("Lbar"): r"\bar{L}"})
        super().__init__(settings)
        self.notation = notation or NOTATIONS["default"]

    def _base(self, name: str) -> str | None:
        for prefix, kind in sorted(_KINDS.items(), key=lambda kv: -len(kv[0])):
            rest = name[len(prefix) :]
            if name.startswith(prefix) and rest.isdigit():
                return self.notation.base(kind, int(rest))
        if name == "y":
            return self.notation.target
        return None

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        base = self._base(str(expr.base.label)) or self._print(expr.base.label)
        indices = "".join(self._print(index) for index in expr.indices)
        return f"{base}_{{{indices}}}"

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._base(str(expr.label)) or self._print(expr.label)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return self._base(expr.name) or super()._print_MatrixSymbol(expr)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        base = self._print(expr.arg)
        return rf"\left({base}\right)^{{\top}}" if "^" in base else rf"{base}^{{\top}}"

    def _helper_print_standard_power(self, expr: sp.Pow, template: str) -> str:
        base = self._print(expr.base)
        if "^" in base and isinstance(expr.base, (sp.Indexed, sp.Symbol)):
            return template % (rf"\left({base}\right)", self._print(expr.exp))
        return super()._helper_print_standard_power(expr, template)

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return r" \odot ".join(self.parenthesize(arg, 60) for arg in expr.args)

    def _print_Elementwise(self, expr: sp.MatrixExpr) -> str:
        prime = "'" if expr.prime else ""
        return rf"{expr.activation.latex}{prime}\left({self._print(expr.args[1])}\right)"

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        name = expr.name
        scalar = _SCALAR.match(name)
        if scalar:
            kind, layer, first, second = scalar.groups()
            base = self.notation.base("weight" if kind == "W" else "bias", int(layer))
            return f"{base}_{{{first}{second or ''}}}"
        vector = _VECTOR.match(name)
        if vector:
            kind, index = vector.groups()
            base = self.notation.input if kind == "x" else self.notation.target
            return f"{base}_{{{index}}}"
        return self._base(name) or super()._print_Symbol(expr, style=style)

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        numerator = self._print(expr.expr)
        (variable, count), *_ = expr.variable_count
        variable_tex = self._print(variable)
        if expr.expr.is_Symbol or isinstance(expr.expr, (sp.Indexed, sp.MatrixSymbol)):
            return rf"\frac{{\partial {numerator}}}{{\partial {variable_tex}}}"
        return rf"\frac{{\partial}}{{\partial {variable_tex}}} {numerator}"

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp: object = None) -> str:
        i, j = (self._print(arg) for arg in expr.args)
        tex = rf"\delta_{{{i}{j}}}"
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_ActivationFunction(self, expr: sp.Function, exp: object = None) -> str:
        name = type(expr).activation.latex
        tex = rf"{name}\left({self._print(expr.args[0])}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _print_ActivationPrime(self, expr: sp.Function, exp: object = None) -> str:
        name = type(expr).activation.latex
        tex = rf"{name}'\left({self._print(expr.args[0])}\right)"
        return rf"\left({tex}\right)^{{{exp}}}" if exp else tex


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


def latex(expr: sp.Basic, notation: Notation | None = None, **settings: object) -> str:
    """LaTeX of an expression in a notation profile."""
    return BackpropLatexPrinter(notation, **settings).doprint(expr)
