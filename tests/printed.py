"""Read the LaTeX the project prints back into SymPy, to check each equation *as printed*.

A small recursive-descent parser for the project's own output, not for LaTeX at large. What
SymPy's own printer writes for a whole object (an element ``a^{(2)}_{j}``, a partial derivative,
an indicator, ``\\tanh\\bigl(z\\bigr)``, ``e^{- u}``) is a *leaf*: the parser is given the printed
text of every such object in the expression it checks and reads that text back as that object.
Everything the project lays out itself is parsed: sums and differences, products (juxtaposed,
``\\cdot``, ``\\times``), ``\\frac``, powers, every kind of parenthesis (``\\left( \\right)``,
``\\bigl( \\bigr)``) and ``\\sum`` with its limits, over broken lines joined again. So a factor
that lost its parentheses, a sign that moved, or a line break that starts a new term reads back
as a different expression, and the numbers tell.
"""

from __future__ import annotations

import random
import re

import sympy as sp

from symbackprop.render.layout import stacked_cases
from symbackprop.render.steps import Chain
from symbackprop.render.written import WRITTEN
from symbackprop.symbolic.network import ActivationFunction, ActivationPrime

LAID_OUT = (
    sp.Add, sp.Mul, sp.Pow, sp.Sum, Chain, *WRITTEN, sp.UnevaluatedExpr, sp.Float, sp.Rational,
    sp.Integer,
)  # fmt: skip
"""Objects whose printing is the project's own layout (parsed); everything else is a leaf.
The numbers of a worked example are parsed too (as the decimals printed), with the sums and
products they stand in (``written.Terms``, ``Minus``, ``Factors``, ``Ratio``): a sign folded into
a number or an operand moved reads back as a different value."""

_SPACE = re.compile(r"(\s|\\[,;!]|\\quad|\\qquad)+")
_NUMBER = re.compile(r"\d+(\.\d+)?")
_OPEN = {r"\left(": r"\right)", r"\bigl(": r"\bigr)", r"\Bigl(": r"\Bigr)", "(": ")", "{": "}"}


class Unparsed(ValueError):
    """The text is not an expression this parser reads (the message shows where)."""


def leaves(expr: sp.Basic, printer: sp.printing.printer.Printer) -> dict[str, sp.Basic]:
    """Printed text -> object, for every leaf of ``expr`` (and each power of a function
    application, which SymPy prints as ``\\tanh^{2}{\\left(u \\right)}``, and each piecewise
    expression as ``layout.stacked_cases`` writes it too)."""
    table: dict[str, sp.Basic] = {}
    for sub in sp.preorder_traversal(expr):
        if isinstance(sub, sp.Pow) and isinstance(sub.base, sp.Function):
            table[printer.doprint(sub)] = sub
        if isinstance(sub, sp.Piecewise):  # as the layout stacks it in a narrow column
            table[stacked_cases(sub, printer)] = sub
        if not isinstance(sub, LAID_OUT):
            table[printer.doprint(sub)] = sub
    return table


def sum_headers(expr: sp.Basic, printer: sp.printing.printer.Printer) -> dict[str, tuple]:
    """``\\sum_{j=0}^{n_{2} - 1}`` -> the limits of that sum, for every Sum in ``expr``."""
    body = sp.Symbol("BODY")
    return {
        printer.doprint(sp.Sum(body, *sub.limits)).replace("BODY", "").strip(): sub.limits
        for sub in sp.preorder_traversal(expr)
        if isinstance(sub, sp.Sum)
    }


class _Parser:
    def __init__(self, text: str, table: dict[str, sp.Basic], sums: dict[str, tuple]) -> None:
        self.text, self.pos = text, 0
        self.leaves = sorted(table.items(), key=lambda item: -len(item[0]))
        self.sums = sorted(sums.items(), key=lambda item: -len(item[0]))

    def fail(self, what: str) -> Unparsed:
        return Unparsed(f"{what} at {self.pos}: ...{self.text[self.pos:self.pos + 40]!r}")

    def skip(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.take(token):
            raise self.fail(f"expected {token!r}")

    def expression(self) -> sp.Expr:
        terms = []
        sign = -1 if self.take("-") else (self.take("+") and 1) or 1
        while True:
            terms.append(sign * self.term())
            if self.take("+"):
                sign = 1
            elif self.take("-"):
                sign = -1
            else:
                return sp.Add(*terms)

    def ends_term(self) -> bool:
        self.skip()
        rest = self.text[self.pos :]
        closers = ("+", "-", "}", ")", r"\right", r"\bigr", r"\Bigr")
        return not rest or rest.startswith(closers)

    def term(self) -> sp.Expr:
        factors = []
        while not self.ends_term():
            if self.take(r"\cdot") or self.take(r"\times"):
                continue
            for header, limits in self.sums:
                if self.take(header):
                    factors.append(sp.Sum(self.term(), *limits))
                    return sp.Mul(*factors)
            factors.append(self.power())
        if not factors:
            raise self.fail("empty term")
        return sp.Mul(*factors)

    def power(self) -> sp.Expr:
        base = self.atom()
        if self.take("^"):
            self.expect("{")
            exponent = self.expression()
            self.expect("}")
            return sp.Pow(base, exponent)
        return base

    def atom(self) -> sp.Expr:
        self.skip()
        for printed, obj in self.leaves:
            if self.text.startswith(printed, self.pos):
                self.pos += len(printed)
                return obj
        if self.take(r"\frac"):
            self.expect("{")
            top = self.expression()
            self.expect("}")
            self.expect("{")
            bottom = self.expression()
            self.expect("}")
            return top / bottom
        for opening, closing in _OPEN.items():
            if self.take(opening):
                inner = self.expression()
                self.expect(closing)
                return inner
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return sp.Rational(match.group(0))
        raise self.fail("no leaf, number or group")


def parse_printed(text: str, expr: sp.Basic, printer: sp.printing.printer.Printer) -> sp.Expr:
    """The printed ``text`` of ``expr`` read back, with ``expr``'s leaves as its atoms."""
    parser = _Parser(text, leaves(expr, printer), sum_headers(expr, printer))
    value = parser.expression()
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("left over")
    return value


def numeric(expr: sp.Basic, sizes: dict, draws: dict) -> complex:
    """``expr`` at concrete sizes with a random number for each leaf (the same in ``draws``
    for the same leaf, so two forms of one expression get the same numbers)."""
    opaque = {d: draws.setdefault(d, sp.Dummy()) for d in expr.atoms(sp.Derivative)}
    decimals = {f: sp.Rational(str(f)) for f in expr.atoms(sp.Float)}  # as printed, exactly
    value = expr.xreplace(opaque).xreplace(decimals).xreplace(sizes).doit()
    value = value.replace(
        lambda e: isinstance(e, ActivationFunction | ActivationPrime), lambda e: e.expanded()
    ).doit()
    atoms = value.atoms(sp.Indexed, sp.Symbol)
    numbers = {a: draws.setdefault(a, sp.Float(random.uniform(0.2, 0.9), 30)) for a in atoms}
    return complex(sp.N(value.xreplace(numbers), 30))
