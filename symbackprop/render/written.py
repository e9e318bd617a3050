"""Expressions kept in the order they are written, for substitutions a reader can follow.

SymPy keeps sums and products in its canonical order and folds signs into numbers, so a formula
with numbers put in prints ``0.0 \\cdot 0.19 + 0.06 - 1.0 \\cdot 0.33`` where the formula reads
``W_{0,0} x_0 + W_{0,1} x_1 + b_0``. :func:`in_order` fixes the order the document's printer
gives a formula (its textbook order) into :class:`Terms`, :class:`Minus`, :class:`Factors` and
:class:`Ratio`, which SymPy leaves as they are; putting numbers into the leaves then keeps every
operand where the formula has it, every sign with its number (``0.5 \\cdot (-0.3)``), and
``doit`` works the written expression out. The printers (``printing.py``) lay them out.
"""

from __future__ import annotations

import sympy as sp

from ..symbolic.optimizers import Descent
from .textbook import split_sign, textbook_product, textbook_terms


class Terms(sp.Expr):
    """A sum in the order written; a :class:`Minus` term is subtracted. ``doit`` adds."""

    def doit(self, **hints: object) -> sp.Expr:
        return sp.Add(*(arg.doit(**hints) for arg in self.args))


class Minus(sp.Expr):
    """A term subtracted (``- x``), its sign kept apart from its value."""

    def doit(self, **hints: object) -> sp.Expr:
        return -self.args[0].doit(**hints)


class Factors(sp.Expr):
    """A product in the order written. ``doit`` multiplies."""

    def doit(self, **hints: object) -> sp.Expr:
        return sp.Mul(*(arg.doit(**hints) for arg in self.args))


class Ratio(sp.Expr):
    """A fraction numerator / denominator, neither side rearranged. ``doit`` divides."""

    def doit(self, **hints: object) -> sp.Expr:
        top, bottom = (arg.doit(**hints) for arg in self.args)
        return top / bottom


WRITTEN = (Terms, Minus, Factors, Ratio)
"""The order-keeping classes (what the printers and the printed-equals-derived check lay out)."""


def in_order(expr: sp.Basic, order_terms=None) -> sp.Basic:  # noqa: ANN001 - the printer's
    """``expr`` (concrete sizes: every Sum's limits numbers) with its sums and products fixed in
    textbook order; ``order_terms`` orders an Add's terms as the printer does (default:
    ``Add.make_args``)."""
    if isinstance(expr, sp.Sum) and len(expr.limits) == 1:
        (var, low, high), body = expr.limits[0], expr.function
        terms = [in_order(body.xreplace({var: value}), order_terms) for value in
                 range(int(low), int(high) + 1)]  # fmt: skip
        return _terms(terms)
    if isinstance(expr, Descent):  # theta - step, theta first
        first, second = (in_order(arg, order_terms) for arg in expr.args)
        return _terms([first, Minus(second)])
    if isinstance(expr, sp.Add):
        listed = order_terms(expr) if order_terms else list(sp.Add.make_args(expr))
        terms = []
        for term in textbook_terms(listed):
            negative, magnitude = split_sign(term)
            written = in_order(magnitude, order_terms)
            terms.append(Minus(written) if negative else written)
        return _terms(terms)
    if isinstance(expr, sp.Mul):
        return _product(expr, order_terms)
    if isinstance(expr, sp.Pow) and expr.exp.is_Number and expr.exp.is_negative:
        return Ratio(sp.Integer(1), in_order(expr.base ** (-expr.exp), order_terms))
    if isinstance(expr, sp.Pow):
        return sp.Pow(in_order(expr.base, order_terms), expr.exp, evaluate=False)
    if isinstance(expr, sp.Function) and expr.args:
        return expr.func(*(in_order(arg, order_terms) for arg in expr.args), evaluate=False)
    return expr


def _terms(terms: list[sp.Basic]) -> sp.Basic:
    """One term alone, else the Terms (a written-out sum inside a sum joins it)."""
    flat: list[sp.Basic] = []
    for term in terms:
        flat += list(term.args) if isinstance(term, Terms) else [term]
    return flat[0] if len(flat) == 1 else Terms(*flat)


def _product(expr: sp.Mul, order_terms) -> sp.Basic:  # noqa: ANN001
    form = textbook_product(expr)
    if form is None:
        factors = [in_order(f, order_terms) for f in expr.args]
        return Factors(*factors)
    negative, coefficient, top, bottom = form
    numerator = _factors(sp.Integer(coefficient.p), [in_order(f, order_terms) for f in top])
    written = numerator
    if bottom or coefficient.q != 1:
        denominator = _factors(
            sp.Integer(coefficient.q), [in_order(f, order_terms) for f in bottom]
        )
        written = Ratio(numerator, denominator)
    return Minus(written) if negative else written


def _factors(coefficient: sp.Integer, factors: list[sp.Basic]) -> sp.Basic:
    listed = ([coefficient] if coefficient != 1 or not factors else []) + factors
    return listed[0] if len(listed) == 1 else Factors(*listed)
