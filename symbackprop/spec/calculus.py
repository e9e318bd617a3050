"""Calculus on a spec's expressions: derivatives with kink conventions, exact evaluation.

``differentiate`` is ``sympy.diff`` with PyTorch's conventions at kinks (the subgradient of least
norm); ``mp_value`` evaluates an expression in fixed-precision real arithmetic (mpmath), as the
generated code would in floating point but with 30 digits.  The spec stage uses both to refuse
a function that cannot be differentiated; the symbolic stage derives the network with them.
"""

from __future__ import annotations

import operator

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p


def differentiate(expr: sp.Expr, variable: sp.Symbol) -> sp.Expr:
    """d expr / d variable by ``sympy.diff``, with the kink conventions of :func:`at_kinks`
    (a Max/Min of three or more arguments first written as :func:`one_winner`)."""
    return at_kinks(sp.diff(one_winner(expr), variable))


def one_winner(expr: sp.Expr) -> sp.Expr:
    """Each Max/Min of three or more arguments as a Piecewise that picks the first extreme one.

    SymPy's derivative of Max(a, b, c) weighs each a_i' by H(a_i - Max(others)); where two
    arguments tie on a whole interval every weight is 0 there.  The Piecewise takes exactly one
    branch, so its derivative is that argument's (pairs of two are handled by ``at_kinks``).
    """

    def pick(e: sp.Basic) -> sp.Expr:
        better = sp.Ge if isinstance(e, sp.Max) else sp.Le
        args = e.args
        pieces = [(arg, sp.And(*[better(arg, rest) for rest in args[k + 1 :]])) for k, arg in
                  enumerate(args[:-1])]  # fmt: skip
        return sp.Piecewise(*pieces, (args[-1], True))

    return expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min)) and len(e.args) >= 3, pick)


def at_kinks(df: sp.Expr) -> sp.Expr:
    """PyTorch's convention at non-differentiable points: the subgradient of least norm.

    ``sympy.diff`` gives Abs' = sign (sign(0) = 0), Max/Min' = Heaviside steps and
    sign'/Heaviside' = DiracDelta.  Steps inside derivatives are taken as 0 at 0
    (ReLU'(0) = 0) and DiracDelta (zero away from the kink) as 0, so no code evaluates a delta.
    Where Max(g, h)' = g' H(g - h) + h' H(h - g) has both steps, one of the pair is taken as 1
    at 0: where g = h on a whole interval (Max(x, |x|) for x > 0), the derivative is g' = h',
    not 0.
    """
    df = df.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)

    def open_step(e: sp.Basic) -> bool:
        return isinstance(e, sp.Heaviside) and (len(e.args) == 1 or e.args[1] != 0)

    df = df.replace(open_step, lambda e: sp.Heaviside(e.args[0], 0))
    steps = df.atoms(sp.Heaviside)
    arguments = {e.args[0] for e in steps}
    paired = [e for e in steps if -e.args[0] in arguments]
    first = {e: sp.Heaviside(e.args[0], 1) for e in paired if e.args[0] in _firsts(paired)}
    return df.xreplace(first)


def _firsts(steps: list[sp.Heaviside]) -> set[sp.Expr]:
    """Of each pair of step arguments u and -u, the one that sorts first."""
    arguments = {e.args[0] for e in steps}
    return {u for u in arguments if sp.default_sort_key(u) < sp.default_sort_key(-u)}


def positive_factors(expr: sp.Expr) -> sp.Expr:
    """Write -c (a - 1) as c (1 - a): absorb a leading minus sign into a sum factor."""
    if not isinstance(expr, sp.Mul) or not expr.could_extract_minus_sign():
        return expr
    factors = list(sp.Mul.make_args(-expr))
    for position, factor in enumerate(factors):
        if isinstance(factor, sp.Add):
            factors[position] = sp.expand(-factor)
            return sp.Mul(*factors)
    return expr


def real_value(
    expr: sp.Expr, values: dict[sp.Symbol, object], steps: list | None = None
) -> float | None:
    """``expr`` at ``values`` as a finite float, or None (complex, infinite, undefined).
    ``steps``, where given, collects the magnitude of every step (see :func:`mp_value`)."""
    value = mp_real(expr, values, steps)
    if value is None or abs(float(value)) == float("inf"):
        return None
    return float(value)


def mp_real(
    expr: sp.Expr, values: dict[sp.Symbol, object], steps: list | None = None
) -> object | None:
    """``expr`` at ``values`` as a real mpmath number with 30 significant digits (beyond
    float64's range where it is), or None where it is undefined there (complex, NaN, a division
    by zero). ``steps`` as for :func:`mp_value`."""
    with mpmath.workdps(30):
        try:
            value = mpmath.re(mp_value(expr, values, steps))  # a complex value raised: imag 0
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
            return None
    return None if mpmath.isnan(value) else value


_MPMATH = {
    sp.exp: mpmath.exp,
    sp.log: mpmath.log,
    sp.tanh: mpmath.tanh,
    sp.sinh: mpmath.sinh,
    sp.cosh: mpmath.cosh,
    sp.sin: mpmath.sin,
    sp.cos: mpmath.cos,
    sp.erf: mpmath.erf,
    sp.erfc: mpmath.erfc,
    sp.Abs: abs,
    expm1: mpmath.expm1,
    log1p: mpmath.log1p,
}


_BEYOND = mpmath.mpf("1e308")
"""An argument this large (past float64's range) gets a function's limit, not its value: exp of
exp(700) ~ 10^304 has a 10^(10^303)-sized value, and the exp or sin of that needs ln 2 or pi to
as many bits (mpmath would compute for ever)."""

_INF = mpmath.mpf("inf")
_AT_INFINITY = {  # the value towards +infinity, towards -infinity
    sp.exp: (_INF, mpmath.mpf(0)),
    expm1: (_INF, mpmath.mpf(-1)),
    sp.sinh: (_INF, -_INF),
    sp.cosh: (_INF, _INF),
    sp.tanh: (mpmath.mpf(1), mpmath.mpf(-1)),
    sp.erf: (mpmath.mpf(1), mpmath.mpf(-1)),
    sp.erfc: (mpmath.mpf(0), mpmath.mpf(2)),
    sp.sin: (mpmath.nan, mpmath.nan),
    sp.cos: (mpmath.nan, mpmath.nan),
}


def _at_infinity(expr: sp.Basic, args: list) -> object | None:
    """The limit that stands for a function of an argument beyond :data:`_BEYOND`, else None."""
    if expr.func in _AT_INFINITY and len(args) == 1 and abs(args[0]) > _BEYOND:
        if not isinstance(args[0], mpmath.mpf):
            return mpmath.nan
        return _AT_INFINITY[expr.func][0 if args[0] > 0 else 1]
    if isinstance(expr, sp.Pow) and abs(args[1]) > _BEYOND:
        base, power = args
        if not isinstance(base, mpmath.mpf) or not isinstance(power, mpmath.mpf) or base < 0:
            return mpmath.nan
        if base in (0, 1):
            return None
        return _INF if (base > 1) == (power > 0) else mpmath.mpf(0)
    return None


def mp_value(
    expr: sp.Basic, values: dict[sp.Symbol, object], steps: list | None = None
) -> object:
    """An expression's value in mpmath at its working precision (fixed, unlike ``evalf``, which
    raises the precision until a tiny result such as 1 + erf(-500) has its digits, for minutes).
    Functions outside the table fall back to ``evalf``.  Real arithmetic, as generated code's:
    a complex intermediate (sqrt or log of a negative value) raises ValueError, even where a
    later Abs would make it real again.  ``steps``, where given, receives the magnitude of the
    value of every operation evaluated (each node of the tree, the taken branch of a
    Piecewise): what generated code holds in a float on the way."""
    value = _mp_node(expr, values, steps)
    if isinstance(value, mpmath.mpc) and value.imag != 0:
        raise ValueError(f"{expr} is complex here")
    if steps is not None and not expr.is_Atom:
        steps.append(abs(value))
    return value


def _mp_node(expr: sp.Basic, values: dict[sp.Symbol, object], steps: list | None) -> object:
    if expr in values:
        return mpmath.mpmathify(values[expr])
    if expr.is_Number or expr in (sp.pi, sp.E):
        return mpmath.mpmathify(sp.Float(expr, mpmath.mp.dps + 5))
    if isinstance(expr, sp.Piecewise):
        for value, condition in expr.args:
            if _holds(condition, values):
                return mp_value(value, values, steps)
        raise ValueError("no Piecewise branch holds")
    args = [mp_value(arg, values, steps) for arg in expr.args]
    limit = _at_infinity(expr, args)
    if limit is not None:
        return limit
    if isinstance(expr, sp.Add):
        return mpmath.fsum(args)
    if isinstance(expr, sp.Mul):
        return mpmath.fprod(args)
    if isinstance(expr, sp.Pow):
        return mpmath.power(*args)
    if expr.func in _MPMATH:
        return _MPMATH[expr.func](*args)
    if isinstance(expr, (sp.Max, sp.Min)):
        return (max if isinstance(expr, sp.Max) else min)(args)
    if isinstance(expr, sp.sign):
        return mpmath.sign(args[0])
    if isinstance(expr, sp.Heaviside):
        at_zero = args[1] if len(args) > 1 else mpmath.mpf(0.5)
        return at_zero if args[0] == 0 else mpmath.mpf(args[0] > 0)
    return mpmath.mpmathify(complex(expr.evalf(mpmath.mp.dps, subs=values)))


_COMPARISONS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _holds(condition: sp.Basic, values: dict[sp.Symbol, object]) -> bool:
    """A Piecewise condition's truth at ``values``."""
    if condition in (sp.true, sp.false):
        return bool(condition)
    if isinstance(condition, sp.And):
        return all(_holds(c, values) for c in condition.args)
    if isinstance(condition, sp.Or):
        return any(_holds(c, values) for c in condition.args)
    if isinstance(condition, sp.Not):
        return not _holds(condition.args[0], values)
    if isinstance(condition, sp.core.relational.Relational):
        left, right = (mp_value(side, values) for side in condition.args)
        return bool(_COMPARISONS[condition.rel_op](left, right))
    return bool(condition.subs(values))
