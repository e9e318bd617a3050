"""SymPy printers for documents: LaTeX in a notation profile, and Unicode text."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy.printing.latex import LatexPrinter

from ..spec.functions import Activation, Loss
from ..symbolic.network import ActivationFunction, ActivationPrime
from ..symbolic.text import BackpropStrPrinter
from ..util.escape import latex_text
from .textbook import split_sign, textbook_product, textbook_terms
from .written import WRITTEN, Factors, Minus, Terms


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
    cost: str = "L"
    """The per-sample loss (Nielsen: C; Goodfellow: J)."""
    cost_batch: str = r"\bar{L}"
    """The minibatch mean of the loss."""
    layer_offset: int = 0
    """Added to layer numbers when printed (Nielsen numbers the input layer 1)."""
    index_offset: int = 0
    """Added to neuron indices when printed (1 for 1-based indices)."""
    transpose_parens: bool = True
    """Print (W^{(2)})^T (True) or W^{(2)T} (False, Goodfellow)."""
    sample: str = ""
    """A short sample of the notation for the README and the document's introduction."""

    def base(self, kind: str, layer: int | None) -> str:
        """The LaTeX of a symbol's base, e.g. ``W^{(2)}``."""
        if kind == "a" and layer == 0:
            return self.input
        if layer is not None:
            layer += self.layer_offset
        return getattr(self, kind).format(l=layer)

    def general(self, kind: str, layer: str) -> str:
        """A symbol of a general layer (``layer`` a letter or ``l+1``), e.g. ``W^{(l+1)}``:
        for the forward and backward rules a picture states."""
        return getattr(self, kind).format(l=layer)

    def letter(self, kind: str) -> str:
        """A symbol's letter without its layer, e.g. ``\\delta`` (a label beside a neuron)."""
        return getattr(self, kind).split("^")[0]

    def transpose(self, base: str) -> str:
        """A printed matrix transposed: ``(W^{(2)})^T``, or ``W^{(2)T}`` (Goodfellow)."""
        if "^" not in base:
            return rf"{base}^{{\top}}"
        if not self.transpose_parens and base.endswith(")}"):
            return base[:-1] + r"\top}"  # W^{(2)} -> W^{(2)\top}
        return rf"\bigl({base}\bigr)^{{\top}}"

    def batch(self, kind: str, layer: int | None) -> str:
        """A vector's minibatch matrix (one sample per row), e.g. ``Z^{(2)}`` for ``z^{(2)}``,
        ``X`` for the input, ``\\Delta^{(1)}`` for ``\\delta^{(1)}`` (Goodfellow: ``G^{(1)}``)."""
        base = self.target if kind == "target" else self.base(kind, layer)
        letter, caret, rest = base.partition("^")
        return BATCH_LETTERS.get(letter, letter.upper()) + caret + rest

    def index(self, value: int) -> str:
        """A concrete neuron index as printed."""
        return str(value + self.index_offset)

    def counted_from(self, first: int | None) -> Notation:
        """The profile with indices (neurons, samples) counted from ``first`` (0 or 1; None:
        the profile's own convention)."""
        if first is None:
            return self
        if first not in (0, 1):
            raise ValueError(f"indices start at 0 or 1, not {first!r}")
        return replace(self, index_offset=first)

    def convention(self, lecture: bool = False) -> str:
        """Where indices start, as the document says it ("(as in the code)" only outside
        ``--lecture``: a lecture's reader has no code)."""
        code = " (as in the code)" if self.index_offset == 0 and not lecture else ""
        return f"indices start at {self.index_offset}{code}"

    def describe(self, lecture: bool = False) -> str:
        """The notation paragraph's sentence: the profile and its index convention."""
        return f"{self.description}; {self.convention(lecture)}"


BATCH_LETTERS = {r"\delta": r"\Delta"}
"""Letters whose minibatch matrix is not simply the capital (``Notation.batch``)."""

NOTATIONS: dict[str, Notation] = {
    "default": Notation(
        name="default",
        description=(
            r"$W^{(l)}_{jk}$ joins neuron $k$ of layer $l-1$ to neuron $j$ of layer $l$, "
            r"$z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$, $a^{(l)} = f(z^{(l)})$, $a^{(0)} = x$, "
            r"per-sample loss $L$"
        ),
        sample=r"z^{(1)} = W^{(1)} x + b^{(1)}, \quad \delta^{(1)} = "
        r"\bigl((W^{(2)})^{\top} \delta^{(2)}\bigr) \odot f'(z^{(1)})",
    ),
    "nielsen": Notation(
        name="nielsen",
        weight=r"w^{{{l}}}",
        bias=r"b^{{{l}}}",
        z=r"z^{{{l}}}",
        a=r"a^{{{l}}}",
        delta=r"\delta^{{{l}}}",
        input=r"a^{1}",
        cost="C",
        cost_batch=r"\bar{C}",
        layer_offset=1,
        index_offset=1,
        description=(
            r"Nielsen's (\emph{Neural Networks and Deep Learning}, ch.~2): the input layer is "
            r"layer 1 with $a^1 = x$, so the first weights are $w^2$; $w^l_{jk}$ joins neuron $k$ "
            r"of layer $l-1$ to neuron $j$ of layer $l$; the cost is $C$"
        ),
        sample=r"z^{2} = w^{2} a^{1} + b^{2}, \quad \delta^{2} = "
        r"\bigl((w^{3})^{\top} \delta^{3}\bigr) \odot \sigma'(z^{2})",
    ),
    "goodfellow": Notation(
        name="goodfellow",
        weight=r"W^{{({l})}}",
        bias=r"b^{{({l})}}",
        z=r"a^{{({l})}}",
        a=r"h^{{({l})}}",
        delta=r"g^{{({l})}}",
        input=r"x",
        cost="J",
        cost_batch=r"\bar{J}",
        transpose_parens=False,
        description=(
            r"Goodfellow, Bengio and Courville's (\emph{Deep Learning}, 6.5): "
            r"$a^{(k)} = b^{(k)} + W^{(k)} h^{(k-1)}$, $h^{(k)} = f(a^{(k)})$, $h^{(0)} = x$, "
            r"the cost is $J$ and $g^{(k)} = \partial J / \partial a^{(k)}$"
        ),
        index_offset=1,
        sample=r"a^{(1)} = W^{(1)} x + b^{(1)}, \quad g^{(1)} = "
        r"\bigl(W^{(2)\top} g^{(2)}\bigr) \odot f'(a^{(1)})",
    ),
}

class Ordinal(sp.Basic):
    """A position counted from 0 (a sample's row in the data) that a document prints in its
    profile's convention: ``Ordinal(0)`` is "1" where indices start at 1, "0" where at 0."""

    def __new__(cls, value: int) -> Ordinal:
        return super().__new__(cls, sp.Integer(value))

    @property
    def value(self) -> int:
        """The position counted from 0."""
        return int(self.args[0])


_KINDS = {"W": "weight", "b": "bias", "z": "z", "a": "a", "delta": "delta", "n": "size"}


_SCALAR = re.compile(r"^(W|b)(\d+)_(\d+)(?:_(\d+))?$")
_VECTOR = re.compile(r"^([xy])(\d+)$")


class BackpropLatexPrinter(LatexPrinter):
    """LaTeX in a notation profile: ``W^{(2)}_{jk}``, ``\\delta^{(1)}_{p}``, ``n_{2}``.

    Products and sums print in textbook order (see ``textbook.py``): numbers first, then
    symbols, forward values, functions, parenthesised sums; 2(a - y)/n rather than
    (2a - 2y)/n; a(1 - a) rather than -a(a - 1); no "+ -" before a negative number.
    """

    def __init__(self, notation: Notation | None = None, **settings: object) -> None:
        self.notation = notation or NOTATIONS["default"]
        settings.setdefault(
            "symbol_names",
            {
                sp.Symbol("Lbar", real=True): self.notation.cost_batch,
                sp.Symbol("Lbar"): self.notation.cost_batch,
                sp.Symbol("L", real=True): self.notation.cost,
            },
        )
        super().__init__(settings)
        self.inline = False
        """Inline use (in a sentence): derivatives print as a slash, not a stacked fraction."""

    def ordered_terms(self, expr: sp.Expr) -> list[sp.Expr]:
        """An Add's terms in the order this printer prints them (before ``textbook_terms``)."""
        return list(self._as_ordered_terms(expr))

    def _print_Float(self, expr: sp.Float) -> str:
        """A whole number without its ``.0`` (a worked example's input 1, target 0)."""
        whole = integral(expr)
        return self._print(whole) if whole is not None else super()._print_Float(expr)

    def _print_Rounded(self, expr: Rounded) -> str:
        mantissa, exponent = expr.fixed()
        return mantissa if exponent is None else rf"{mantissa} \cdot 10^{{{exponent}}}"

    def _base(self, name: str) -> str | None:
        found = layered(name)
        if found is not None:
            return self.notation.base(*found)
        if name == "y":
            return self.notation.target
        return None

    def _indices(self, indices: tuple[sp.Basic, ...]) -> str:
        """Subscripts: W_{jk} for letters, W_{1,11} with commas once any index is a number."""
        printed = [
            self.notation.index(int(index)) if index.is_Integer else self._print(index)
            for index in indices
        ]
        if len(printed) > 1 and any(len(text_) > 1 or text_.isdigit() for text_ in printed):
            return ",".join(printed)
        return "".join(printed)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        base = self._base(str(expr.base.label)) or self._print(expr.base.label)
        return f"{base}_{{{self._indices(expr.indices)}}}"

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._base(str(expr.label)) or self._print(expr.label)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return self._base(expr.name) or super()._print_MatrixSymbol(expr)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        return self.notation.transpose(self._print(expr.arg))

    def _print_Batch(self, expr: sp.MatrixSymbol) -> str:
        kind, layer = batch_kind(expr.name)
        return self.notation.batch(kind, layer)

    def _print_OneMatrix(self, expr: sp.MatrixExpr) -> str:
        return r"\mathbf{1}"

    def _helper_print_standard_power(self, expr: sp.Pow, template: str) -> str:
        base = self._print(expr.base)
        if isinstance(expr.base, WRITTEN):
            return template % (rf"\left({base}\right)", self._print(expr.exp))
        if "^" in base and isinstance(expr.base, (sp.Indexed, sp.Symbol)):
            return template % (rf"\bigl({base}\bigr)", self._print(expr.exp))
        return super()._helper_print_standard_power(expr, template)

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return r" \odot ".join(self.parenthesize(arg, 60) for arg in expr.args)

    def _call(self, name: str, argument: sp.Basic) -> str:
        """f(u): ``\\bigl( \\bigr)`` for flat arguments, ``\\left( \\right)`` for tall ones."""
        inner = self._print(argument)
        if r"\frac" in inner or r"\sum" in inner or r"\begin" in inner:
            return rf"{name}\mathopen{{}}\left({inner}\right)"
        return rf"{name}\bigl({inner}\bigr)"

    def _print_Elementwise(self, expr: sp.MatrixExpr) -> str:
        prime = "'" if expr.prime else ""
        return self._call(f"{expr.activation.latex}{prime}", expr.args[1])

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        name = expr.name
        scalar = _SCALAR.match(name)
        if scalar:
            kind, layer, first, second = scalar.groups()
            base = self.notation.base("weight" if kind == "W" else "bias", int(layer))
            numbers = [sp.Integer(int(first))] + ([sp.Integer(int(second))] if second else [])
            return f"{base}_{{{self._indices(tuple(numbers))}}}"
        vector = _VECTOR.match(name)
        if vector:
            kind, index = vector.groups()
            base = self.notation.input if kind == "x" else self.notation.target
            return f"{base}_{{{self.notation.index(int(index))}}}"
        return self._base(name) or super()._print_Symbol(expr, style=style)

    def _print_Ordinal(self, expr: Ordinal) -> str:
        return self.notation.index(expr.value)

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        numerator = self._print(expr.expr)
        (variable, count), *_ = expr.variable_count
        variable_tex = self._print(variable)
        if self.inline:
            return rf"\partial {numerator} / \partial {variable_tex}"
        if expr.expr.is_Symbol or isinstance(expr.expr, (sp.Indexed, sp.MatrixSymbol)):
            return rf"\frac{{\partial {numerator}}}{{\partial {variable_tex}}}"
        return rf"\frac{{\partial}}{{\partial {variable_tex}}} {numerator}"

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp: object = None) -> str:
        i, j = (self._print(arg) for arg in expr.args)
        tex = rf"\mathbf{{1}}[{i} = {j}]"
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_ActivationFunction(self, expr: sp.Function, exp: object = None) -> str:
        tex = self._call(type(expr).activation.latex, expr.args[0])
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _print_ActivationPrime(self, expr: sp.Function, exp: object = None) -> str:
        tex = self._call(f"{type(expr).activation.latex}'", expr.args[0])
        return rf"\bigl({tex}\bigr)^{{{exp}}}" if exp else tex

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        """(0 if c else 1) as the indicator 1[not c]: ReLU'(z) = 1[z > 0]."""
        if len(expr.args) == 2:
            (first, condition), (second, always) = expr.args
            if always == sp.true and {first, second} == {sp.Integer(0), sp.Integer(1)}:
                if first == 0:
                    condition = sp.Not(condition)
                return rf"\mathbf{{1}}[{self._print(condition)}]"
        return super()._print_Piecewise(expr)

    def _print_ImmutableDenseMatrix(self, expr: sp.MatrixBase) -> str:
        if expr.rows == 1 and expr.cols > 1:
            entries = ", ".join(self._print(value) for value in expr)
            return rf"\left[{entries}\right]"
        return super()._print_MatrixBase(expr)

    def _print_log(self, expr: sp.Expr, exp: object = None) -> str:
        argument = expr.args[0]
        if isinstance(argument, (sp.Indexed, sp.Symbol)):
            tex = rf"\log {self._print(argument)}"
        else:
            tex = self._call(r"\log", argument)
        return rf"\bigl({tex}\bigr)^{{{exp}}}" if exp else tex

    def _print_Sum(self, expr: sp.Sum) -> str:
        if len(expr.limits) != 1:
            return super()._print_Sum(expr)
        negative, magnitude = split_sign(expr)
        if negative:
            return "- " + self._print(magnitude)
        ((var, low, high),) = expr.limits
        offset = self.notation.index_offset
        low_tex, high_tex = self._print(low + offset), self._print(high + offset)
        body = self._print(expr.function)
        if self._needs_add_brackets(expr.function):
            body = rf"\left({body}\right)"
        return rf"\sum_{{{self._print(var)}={low_tex}}}^{{{high_tex}}} {body}"

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        terms = textbook_terms(list(self._as_ordered_terms(expr, order=order)))
        tex = ""
        for position, term in enumerate(terms):
            negative, magnitude = split_sign(term)
            if position == 0:
                tex = "- " if negative else ""
            else:
                tex += " - " if negative else " + "
            term_tex = self._print(magnitude)
            if self._needs_add_brackets(magnitude):
                term_tex = rf"\left({term_tex}\right)"
            tex += term_tex
        return tex

    def _print_Mul(self, expr: sp.Expr) -> str:
        if not expr.free_symbols and any(isinstance(f, sp.UnevaluatedExpr) for f in expr.args):
            # Numbers written out (worked examples): a consistent \cdot between factors.
            parts = []
            for factor in expr.args:
                tex = self._print(factor)
                if isinstance(factor, sp.Add) or tex.startswith("-"):
                    tex = rf"\left({tex}\right)"
                parts.append(tex)
            return r" \cdot ".join(parts)
        form = textbook_product(expr)
        if form is None:
            return super()._print_Mul(expr)
        negative, coefficient, numerator, denominator = form
        sums = [f for f in numerator if isinstance(f, sp.Sum)]
        if sums and (denominator or coefficient.q != 1):
            # (1/n) sum_j ..., not (sum_j ...)/n
            rest = [f for f in numerator if not isinstance(f, sp.Sum)]
            top = self._product(sp.Integer(coefficient.p), rest)
            bottom = self._product(sp.Integer(coefficient.q), denominator)
            tex = rf"\frac{{{top}}}{{{bottom}}} " + self._product(sp.Integer(1), sums)
            return f"- {tex}" if negative else tex
        top = self._product(coefficient.p if coefficient.q != 1 else coefficient, numerator)
        tex = top
        if denominator or coefficient.q != 1:
            bottom = self._product(sp.Integer(coefficient.q), denominator)
            tex = rf"\frac{{{top}}}{{{bottom}}}"
        return f"- {tex}" if negative else tex

    def _print_Terms(self, expr: Terms) -> str:
        tex = ""
        for position, term in enumerate(expr.args):
            if isinstance(term, Minus):
                tex += ("- " if position == 0 else " - ") + self._operand(term.args[0])
                continue
            term_tex = self._print(term)
            if isinstance(term, Terms | sp.Add) or (position and term_tex.startswith("-")):
                term_tex = rf"\left({term_tex}\right)"
            tex += term_tex if position == 0 else " + " + term_tex
        return tex

    def _print_Minus(self, expr: Minus) -> str:
        return "- " + self._operand(expr.args[0])

    def _operand(self, expr: sp.Basic) -> str:
        """A written-out factor or subtracted term: a sum or a negative number in parentheses
        (``0.5 \\cdot (-0.3)``, ``- (-0.3)``), so that no sign is folded."""
        tex = self._print(expr)
        return rf"\left({tex}\right)" if parenthesised(expr, tex) else tex

    def _print_Factors(self, expr: Factors) -> str:
        parts: list[str] = []
        for position, factor in enumerate(expr.args):
            if position and numeric(factor):  # 2 a, but a · 2 and 0.5 · 0.3
                parts.append(r"\cdot")
            parts.append(self._operand(factor))
        return " ".join(parts)

    def _print_Ratio(self, expr: sp.Basic) -> str:
        top, bottom = (self._print(arg) for arg in expr.args)
        return rf"\frac{{{top}}}{{{bottom}}}"

    def _print_Chain(self, expr: sp.Expr) -> str:
        """Chain-rule factors in the order written: a sum or a later negative factor in
        parentheses; a number set apart by dots on both sides (``\\cdot 1 \\cdot``)."""
        parts: list[str] = []
        for position, factor in enumerate(expr.args):
            tex = self._print(factor)
            if isinstance(factor, sp.Add) or (position and tex.startswith("-")):
                tex = rf"\left({tex}\right)"
            if position and (numeric(factor) or numeric(expr.args[position - 1])):
                parts.append(r"\cdot")
            parts.append(tex)
        return " ".join(parts)

    def _product(self, coefficient: sp.Number, factors: list[sp.Expr]) -> str:
        parts: list[str] = []
        if coefficient != 1 or not factors:
            parts.append(self._print(coefficient))
        for position, factor in enumerate(factors):
            tex = self._print(factor)
            last = position == len(factors) - 1
            alone = len(factors) == 1 and not parts
            if (isinstance(factor, sp.Add) and not alone) or (
                isinstance(factor, sp.Sum) and not last
            ):
                tex = rf"\left({tex}\right)"
            if parts and (tex[0].isdigit() or tex.startswith("-")) and parts[-1][-1].isdigit():
                parts.append(r"\cdot")
            parts.append(tex)
        return " ".join(parts)


def layered(name: str) -> tuple[str, int] | None:
    """The profile kind and layer of a layer symbol's name: ``W2`` -> (weight, 2), ``delta1``
    -> (delta, 1), ``n2`` -> (size, 2); None for any other name."""
    for prefix, kind in sorted(_KINDS.items(), key=lambda kv: -len(kv[0])):
        rest = name[len(prefix) :]
        if name.startswith(prefix) and rest.isdigit():
            return kind, int(rest)
    return None


def batch_kind(name: str) -> tuple[str, int | None]:
    """The kind and layer of a minibatch matrix's vector name: ``delta2`` -> (delta, 2),
    ``a0`` -> (a, 0) (the input), ``y`` -> (target, None)."""
    return layered(name) or ("target", None)


def numeric(expr: sp.Basic) -> bool:
    """A factor with no symbol in it (a number written out): set apart by a multiplication dot."""
    return not expr.free_symbols and not expr.atoms(sp.Indexed)


def parenthesised(expr: sp.Basic, printed: str) -> bool:
    """Whether a written-out factor or subtracted term (printed as ``printed``) takes
    parentheses: a sum, or a negative number, so that no sign is folded into its neighbour."""
    return isinstance(expr, Terms | Minus | sp.Add) or printed.startswith("-")


def function_name(function: Activation | Loss) -> str:
    """A function named in running LaTeX text (a layer's caption, a worked example's reason):
    its name, underscores as spaces; an expression written in the spec by its letter
    (``$\\varphi$``), never by the spec's text."""
    if function.inline:
        return f"${function.latex}$"
    return latex_text(function.name.replace("_", " "))


def typewriter(name: object) -> str:
    """A name in ``\\texttt`` (escaped): a built-in's or a ``[functions]`` entry's."""
    return rf"\texttt{{{latex_text(name)}}}"


def function_names(
    spec: Any, fmt: str = "latex", escape: Callable[[object], str] = latex_text
) -> dict[str, Any]:
    """A spec's hidden activations (one per hidden layer), output and loss, each named for
    ``fmt`` (latex, markdown, text): a function's name through ``escape``; an expression written
    in the spec by its letter (``$\\varphi_{1}$``; ``φ_1`` in text), never by its text."""

    def named(function: Activation | Loss) -> str:
        if not function.inline:
            return escape(function.name)
        return function.shown if fmt == "text" else f"${function.latex}$"

    return {
        "hidden": [named(spec.activation(name)) for name in spec.activations],
        "output": named(spec.activation(spec.output)),
        "loss": named(spec.loss_function),
    }


def latex(expr: sp.Basic, notation: Notation | None = None, **settings: object) -> str:
    """LaTeX of an expression in a notation profile."""
    return BackpropLatexPrinter(notation, **settings).doprint(expr)


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class Rounded(sp.Float):
    """A number rounded to its precision's significant digits, printed with every one of them,
    trailing zeros kept (``1.420``, ``0.04190``), as a worked example states a rounded value."""

    def fixed(self) -> tuple[str, int | None]:
        """The digits as written: positional from 1e-4 to 1e7, else (mantissa, power of ten)."""
        digits = prec_to_dps(self._prec)
        text = f"{float(self):.{digits - 1}e}"
        if float(self) == 0 or 1e-4 <= abs(float(self)) < 1e7:
            return format(Decimal(text), "f"), None
        mantissa, exponent = text.split("e")
        return mantissa, int(exponent)


def decimal_number(value: float, digits: int) -> sp.Float:
    """``value`` rounded once, in decimal, to ``digits`` significant digits: a ``Rounded``
    (printed with all of them) where rounding changed it, else the exact value (``0.5``, 1).
    A value a few ulps off its decimal (0.9400000000000001, a sum of tenths) is that decimal:
    printed ``0.94`` as ``0.24`` beside it is, not ``0.9400``."""
    text = f"{float(value):.{digits - 1}e}"
    if math.isclose(float(text), float(value), rel_tol=1e-14):
        return sp.Float(text, digits)
    return Rounded(text, digits)


def integral(number: sp.Float) -> sp.Integer | None:
    """A float's value as an Integer where it is a whole number short enough to print whole
    (``1.0`` -> 1), else None."""
    value = float(number)
    if value.is_integer() and abs(value) < 1e6:
        return sp.Integer(int(value))
    return None


class UnicodeTextPrinter(BackpropStrPrinter):
    """Plain text for documents, in Unicode and textbook order: ``Σ_j W2[j, p]·δ2[j]``,
    ``∂L/∂a2[p]``, ``1[j = p]``, ``a1[p]²``; no LaTeX.  (Generated modules keep ``text``.)"""

    _NAMES = {"Lbar": "L̄", "theta": "θ", "eta": "η", r"\dots": "…"}

    def __init__(
        self, offset: int = 0, settings: dict | None = None, notation: Notation | None = None
    ) -> None:
        super().__init__(settings)
        self.offset = offset
        """Added to concrete indices (1: neurons and samples counted from 1)."""
        self.notation = notation
        """A textbook profile whose symbols the text takes (Nielsen's w², C; Goodfellow's
        h⁽¹⁾, J); None: the code's names (W1, a1, δ2, L), as the default profile prints."""
        if notation is not None:
            self._NAMES = self._NAMES | {
                "L": unicode_symbol(notation.cost),
                "Lbar": unicode_symbol(notation.cost_batch),
            }

    def _print_Float(self, expr: sp.Float) -> str:
        """An exact number in its shortest form (``0.5``, ``1``), at any nesting level."""
        whole = integral(expr)
        if whole is not None:
            return self._print(whole)
        return BackpropStrPrinter({"full_prec": False})._print_Float(expr)

    def _print_Rounded(self, expr: Rounded) -> str:
        mantissa, exponent = expr.fixed()
        return mantissa if exponent is None else f"{mantissa}e{exponent}"

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"|{self._print(expr.args[0])}|"

    _GREEK = {
        "alpha": "α", "beta": "β", "gamma": "γ", "lambda": "λ", "epsilon": "ε", "eta": "η",
        "theta": "θ", "mu": "μ", "rho": "ρ", "pi": "π", "sigma": "σ", "delta": "δ",
    }  # fmt: skip

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr.name in self._NAMES:
            return self._NAMES[expr.name]
        scalar, vector = _SCALAR.match(expr.name), _VECTOR.match(expr.name)
        if scalar:  # W1_0_1 -> W1[0, 1], counted from the offset
            kind, layer, *numbers = scalar.groups()
            return f"{self._name(kind + layer)}[{self._numbers(numbers)}]"
        if vector:  # x0 -> x[0]
            kind, index = vector.groups()
            return f"{self._name('a0' if kind == 'x' else 'y')}[{self._numbers([index])}]"
        if self.notation is not None and layered(expr.name):  # n2 -> Nielsen's n₃
            return self._name(expr.name)
        head, underscore, rest = expr.name.partition("_")
        return self._GREEK.get(head, head) + underscore + rest

    def _numbers(self, numbers: list[str | None]) -> str:
        return ", ".join(str(int(n) + self.offset) for n in numbers if n is not None)

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        (variable, _), *_ = expr.variable_count
        numerator = self._print(expr.expr)
        if not (expr.expr.is_Symbol or isinstance(expr.expr, (sp.Indexed, sp.MatrixSymbol))):
            numerator = f"({numerator})"
        return f"∂{numerator}/∂{self._print(variable)}"

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta) -> str:
        i, j = (self._print(arg) for arg in expr.args)
        return f"1[{i} = {j}]"

    def _print_Ordinal(self, expr: Ordinal) -> str:
        return str(expr.value + self.offset)

    def _print(self, expr: sp.Basic, **kwargs: object) -> str:
        if isinstance(expr, sp.Indexed):  # Indexed has _sympystr, which would win
            return self._print_Indexed(expr)
        if isinstance(expr, (ActivationFunction, ActivationPrime)):  # the prime's, too
            prime = "'" if isinstance(expr, ActivationPrime) else ""
            return f"{type(expr).activation.shown}{prime}({self._print(expr.args[0])})"
        return super()._print(expr, **kwargs)

    def _print_Elementwise(self, expr: sp.MatrixExpr) -> str:
        """f(z1), f'(z1): an activation by its printed name (φ for an expression written in
        the spec; the code's comments keep its SymPy text)."""
        prime = "'" if expr.prime else ""
        return f"{expr.activation.shown}{prime}({self._print(expr.args[1])})"

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        name = self._name(str(expr.base.label))
        indices = (
            str(int(index) + self.offset) if index.is_Integer else self._print(index)
            for index in expr.indices
        )
        return f"{name}[{', '.join(indices)}]"

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return self._name(expr.name)

    def _print_Batch(self, expr: sp.MatrixSymbol) -> str:
        if self.notation is not None:
            return unicode_symbol(self.notation.batch(*batch_kind(expr.name)))
        name = self._name(expr.name)
        return "Δ" + name[1:] if name.startswith("δ") else name.upper()

    def _print_OneMatrix(self, expr: sp.MatrixExpr) -> str:
        return "𝟏"

    def _name(self, name: str) -> str:
        """a0 is the input x; delta2 is δ2 (in a profile: its symbols, e.g. Nielsen's a¹, δ³)."""
        found = layered(name)
        if self.notation is not None and found is not None:
            return unicode_symbol(self.notation.base(*found))
        if self.notation is not None and name in ("y", "L"):  # the target; L[i] of a batch
            return unicode_symbol(self.notation.target if name == "y" else self.notation.cost)
        return "x" if name == "a0" else name.replace("delta", "δ", 1)

    def _print_MatMul(self, expr: sp.MatrixExpr) -> str:
        return " ".join(self.parenthesize(arg, 50) for arg in expr.args)

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if len(expr.args) == 2:
            (first, condition), (second, always) = expr.args
            if always == sp.true and {first, second} == {sp.Integer(0), sp.Integer(1)}:
                if first == 0:
                    condition = sp.Not(condition)
                return f"1[{self._print(condition)}]"
        return super()._print_Piecewise(expr)

    def _print_Relational(self, expr: sp.Expr) -> str:
        symbol = {"==": "=", ">=": "≥", "<=": "≤"}.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {symbol} {self._print(expr.rhs)}"

    def _print_Sum(self, expr: sp.Sum) -> str:
        negative, magnitude = split_sign(expr)
        if negative:
            return "-" + self._print(magnitude)
        indices = ",".join(self._print(limit[0]) for limit in expr.limits)
        body = self._print(expr.function)
        if isinstance(expr.function, sp.Add):
            body = f"({body})"
        return f"Σ_{indices} {body}"

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        return f"{self.parenthesize(expr.arg, 60)}ᵀ"

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return " ⊙ ".join(self.parenthesize(arg, 60) for arg in expr.args)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if isinstance(expr.base, WRITTEN) and expr.exp == sp.S.Half:
            return f"sqrt({self._print(expr.base)})"
        if isinstance(expr.base, WRITTEN) and not (expr.exp.is_Integer and 2 <= expr.exp <= 9):
            return f"({self._print(expr.base)})^{self.parenthesize(expr.exp, 60)}"
        if expr.exp.is_Integer and 2 <= int(expr.exp) <= 9:
            base = self._print(expr.base)
            if not isinstance(expr.base, (sp.Symbol, sp.Indexed, sp.Function)):
                base = f"({base})"
            return base + str(int(expr.exp)).translate(_SUPERSCRIPTS)
        if expr.exp.is_Symbol:
            return f"{self.parenthesize(expr.base, 60)}^{self._print(expr.exp)}"
        return super()._print_Pow(expr, rational=rational)

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        out = ""
        for position, term in enumerate(textbook_terms(list(self._as_ordered_terms(expr)))):
            negative, magnitude = split_sign(term)
            tex = self._print(magnitude)
            if isinstance(magnitude, sp.Add):
                tex = f"({tex})"
            if position == 0:
                out = f"-{tex}" if negative else tex
            else:
                out += f" - {tex}" if negative else f" + {tex}"
        return out

    def _print_Mul(self, expr: sp.Expr) -> str:
        if not expr.free_symbols and any(isinstance(f, sp.UnevaluatedExpr) for f in expr.args):
            # Numbers written out (worked examples): "·" between factors, as elsewhere.
            return "·".join(self.parenthesize(f, 50) for f in expr.args)
        form = textbook_product(expr)
        if form is None:
            return super()._print_Mul(expr)
        negative, coefficient, top, bottom = form
        numerator = self._factors(coefficient.p, top)
        out = numerator
        if bottom or coefficient.q != 1:
            denominator = self._factors(coefficient.q, bottom)
            single_sum = len(bottom) == 1 and isinstance(bottom[0], (sp.Add, sp.Sum))
            if len(bottom) + (coefficient.q != 1) > 1 or (single_sum and coefficient.q == 1):
                denominator = f"({denominator})"
            if coefficient.p == 1 and len(top) == 1 and isinstance(top[0], (sp.Add, sp.Sum)):
                numerator = f"({numerator})"
            out = f"{numerator}/{denominator}"
        return f"-{out}" if negative else out

    def _print_Terms(self, expr: Terms) -> str:
        out = ""
        for position, term in enumerate(expr.args):
            if isinstance(term, Minus):
                out += ("-" if position == 0 else " - ") + self._operand(term.args[0])
                continue
            text_ = self._print(term)
            if isinstance(term, Terms | sp.Add) or (position and text_.startswith("-")):
                text_ = f"({text_})"
            out += text_ if position == 0 else " + " + text_
        return out

    def _print_Minus(self, expr: Minus) -> str:
        return "-" + self._operand(expr.args[0])

    def _operand(self, expr: sp.Basic) -> str:
        """A written-out factor or subtracted term, a sum or negative number in parentheses."""
        text_ = self._print(expr)
        return f"({text_})" if parenthesised(expr, text_) else text_

    def _print_Factors(self, expr: Factors) -> str:
        return "·".join(self._operand(factor) for factor in expr.args)

    def _print_Chain(self, expr: sp.Expr) -> str:
        """Chain-rule factors in the order written, joined by ``·`` (sums parenthesised)."""
        return "·".join(
            f"({text_})" if isinstance(factor, sp.Add) or (position and text_.startswith("-"))
            else text_
            for position, factor in enumerate(expr.args)
            for text_ in [self._print(factor)]
        )

    def _print_Ratio(self, expr: sp.Basic) -> str:
        top, bottom = expr.args
        parts = [self._print(arg) for arg in (top, bottom)]
        parts = [
            f"({text_})" if isinstance(arg, WRITTEN + (sp.Add,)) else text_
            for arg, text_ in zip((top, bottom), parts, strict=True)
        ]
        return "/".join(parts)

    def _factors(self, coefficient: int, factors: list[sp.Expr]) -> str:
        parts = [str(coefficient)] if coefficient != 1 or not factors else []
        for factor in factors:
            text_ = self._print(factor)
            if isinstance(factor, (sp.Add, sp.Sum)) and len(factors) + len(parts) > 1:
                text_ = f"({text_})"
            parts.append(text_)
        return "·".join(parts)


_UNICODE = {r"\delta": "δ", r"\Delta": "Δ", r"\sigma": "σ"}
_SUPERSCRIPT = str.maketrans("0123456789+-()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def unicode_symbol(tex: str) -> str:
    """A profile's symbol (LaTeX) in Unicode: ``w^{2}`` -> w², ``h^{(1)}`` -> h⁽¹⁾, ``\\bar{C}``
    -> C̄, ``\\delta^{3}`` -> δ³."""
    for command, char in _UNICODE.items():
        tex = tex.replace(command, char)
    tex = re.sub(r"\\bar\{(\w)\}", lambda m: m.group(1) + "\u0304", tex)
    tex = re.sub(r"_\{(\d+)\}", lambda m: m.group(1).translate(_SUBSCRIPT), tex)
    return re.sub(r"\^\{([0-9+\-()]+)\}", lambda m: m.group(1).translate(_SUPERSCRIPT), tex)


def unicode_text(expr: sp.Basic, offset: int = 0) -> str:
    """Plain Unicode text of an expression, for the text format of documents (concrete indices
    counted from ``offset``)."""
    return UnicodeTextPrinter(offset).doprint(expr)
