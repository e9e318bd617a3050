"""Textbook order for printed products and sums (used by the LaTeX printer).

SymPy keeps expressions in its canonical order, which prints (2a - 2y)/n, (1 - s)s and
(-a + y)/(n(a - 1)a).  These helpers decide, without changing the expression's value, how a
product or a sum is written: numeric content pulled out of sums (2(a - y)/n), simple factors
before parenthesised ones (s(1 - s)), the sign of each parenthesised sum chosen so the fewest
minus signs show ((a - y)/(n a(1 - a))), sums over an index first (sum_k W_jk a_k + b_j).
"""

from __future__ import annotations

import itertools

import sympy as sp

MAX_FLIPPED = 8
"""Sign choices are searched exhaustively for products of at most this many sums."""


def split_sign(term: sp.Expr) -> tuple[bool, sp.Expr]:
    """(negative, magnitude) of a term of a sum; handles unevaluated negative numbers."""
    if isinstance(term, sp.UnevaluatedExpr):
        inner = term.args[0]
        if inner.is_number and inner.is_negative:
            return True, sp.UnevaluatedExpr(-inner)
        return False, term
    if isinstance(term, sp.Mul):
        factors = list(term.args)
        negative = False
        changed = False
        for position, factor in enumerate(factors):
            if isinstance(factor, sp.UnevaluatedExpr):
                is_negative, magnitude = split_sign(factor)
                if is_negative:
                    factors[position] = magnitude
                    negative, changed = not negative, True
            elif factor.is_Number and factor.is_negative:
                factors[position] = -factor
                negative, changed = not negative, True
        if changed:
            factors = [f for f in factors if f != 1] or [sp.Integer(1)]
            magnitude = factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)
            return negative, magnitude
    if getattr(term, "is_chain", False) and term.args:
        negative, first = split_sign(term.args[0])
        if negative:
            return True, term.func(first, *term.args[1:])
        return False, term
    if isinstance(term, sp.Sum):
        negative, magnitude = split_sign(term.function)
        return (True, sp.Sum(magnitude, *term.limits)) if negative else (False, term)
    if term.could_extract_minus_sign():
        return True, -term
    return False, term


def textbook_terms(terms: list[sp.Expr]) -> list[sp.Expr]:
    """Terms of a sum in reading order: sums over an index first, a positive term leading."""
    def parenthesised(term: sp.Expr) -> int:
        return sum(1 for f in sp.Mul.make_args(term) if isinstance(f, sp.Add))

    with_sum = [t for t in terms if t.has(sp.Sum)]
    ordered = with_sum + sorted((t for t in terms if not t.has(sp.Sum)), key=parenthesised)
    if ordered and split_sign(ordered[0])[0]:
        positive = next((t for t in ordered if not split_sign(t)[0]), None)
        if positive is not None:
            ordered.remove(positive)
            ordered.insert(0, positive)
    return ordered


def _rank(factor: sp.Expr) -> int:
    """Where a factor goes in a product: numbers, symbols, forward values, functions, sums."""
    if factor.is_Number or (isinstance(factor, sp.UnevaluatedExpr) and factor.args[0].is_number):
        return 0
    base = factor.base if isinstance(factor, sp.Pow) else factor
    if isinstance(base, sp.Indexed):
        name = str(base.base.label)
        if isinstance(factor, sp.Pow):
            return 4
        if name.startswith("delta"):
            return 2
        return 3 if name[0] == "a" and name[1:].isdigit() else 1
    if isinstance(base, sp.Symbol) and base.name[0] == "x" and base.name[1:].isdigit():
        return 4 if isinstance(factor, sp.Pow) else 3
    if isinstance(base, (sp.Symbol, sp.Derivative)):
        return 4 if isinstance(factor, sp.Pow) else 1
    if isinstance(factor, sp.KroneckerDelta):
        return 6
    if isinstance(factor, sp.Add) or (isinstance(factor, sp.Pow) and isinstance(base, sp.Add)):
        return 7
    if isinstance(factor, sp.Sum):
        return 9
    if isinstance(factor, sp.log):
        return 8
    return 5


def _minus_count(expr: sp.Expr) -> float:
    """Minus signs a sum shows when printed (a negative constant counts half more)."""
    terms = sp.Add.make_args(expr)
    negative = sum(1 for t in terms if split_sign(t)[0])
    constant = any(t.is_Number and t.is_negative for t in terms)
    return negative + (0.5 if constant else 0.0)


def textbook_product(
    expr: sp.Expr,
) -> tuple[bool, sp.Rational, list[sp.Expr], list[sp.Expr]] | None:
    """(negative, rational coefficient, numerator factors, denominator factors) in reading
    order, or None where the product is left to SymPy's printer."""
    if not expr.is_commutative or not isinstance(expr, sp.Mul):
        return None
    if any(isinstance(f, sp.UnevaluatedExpr) for f in expr.args):
        return None
    coefficient, factors = expr.as_coeff_mul()
    if not coefficient.is_Rational:
        return None
    negative = bool(coefficient < 0)
    coefficient = abs(coefficient)
    top: list[sp.Expr] = []
    bottom: list[sp.Expr] = []
    for factor in factors:
        if isinstance(factor, sp.Sum):
            is_negative, factor = split_sign(factor)
            negative ^= is_negative
        base, exponent = factor.as_base_exp()
        if exponent.is_Number and exponent.is_negative:
            bottom.append(base if exponent == -1 else base ** (-exponent))
        else:
            top.append(factor)
    # Numeric content of a parenthesised sum joins the coefficient: (2a - 2y) -> 2(a - y).
    for group, into_top in ((top, True), (bottom, False)):
        for position, factor in enumerate(group):
            if isinstance(factor, sp.Add):
                content, primitive = factor.primitive()
                if content.is_Rational and content not in (0, 1) and content > 0:
                    group[position] = primitive
                    coefficient = coefficient * content if into_top else coefficient / content
    # Signs of the parenthesised sums: the choice showing the fewest minus signs.
    sums = [
        (group, position)
        for group in (top, bottom)
        for position, f in enumerate(group)
        if isinstance(f, sp.Add)
    ]
    if sums and len(sums) <= MAX_FLIPPED:
        best = None
        for flips in itertools.product((False, True), repeat=len(sums)):
            parity = negative ^ (sum(flips) % 2 == 1)
            cost = sum(
                _minus_count(-group[position] if flip else group[position])
                for (group, position), flip in zip(sums, flips)
            ) + (1 if parity else 0)
            key = (cost, sum(flips))
            if best is None or key < best[0]:
                best = (key, flips, parity)
        _, flips, negative = best
        for (group, position), flip in zip(sums, flips):
            if flip:
                group[position] = sp.expand(-group[position])
    top.sort(key=_rank)
    bottom.sort(key=_rank)
    return negative, coefficient, top, bottom
