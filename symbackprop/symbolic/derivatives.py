"""Activation derivatives as the derivation and the generated kernels use them.

f'(x) comes from ``sympy.diff`` (``spec.calculus.differentiate``); where it can be proved, it is
re-expressed through the forward value s = f(x) (sigma' = s(1 - s)) so kernels reuse what the
forward pass computed.  A rewrite is accepted only where it holds at every checked point.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import cache

import mpmath
import sympy as sp

from ..spec.calculus import differentiate, mp_real, positive_factors, real_value
from ..spec.functions import ACTIVATIONS, Activation, Loss, a, s, x


def _activation(activation: Activation | str) -> Activation:
    return ACTIVATIONS[activation] if isinstance(activation, str) else activation


@cache
def derivative(activation: Activation | str) -> sp.Expr:
    """f'(x) of an elementwise activation (or a built-in's name), as ``sympy.diff`` finds it
    (kinks: see ``at_kinks``)."""
    return differentiate(_activation(activation).expr, x)


@cache
def output_form_derivative(activation: Activation | str) -> sp.Expr | None:
    """f'(x) written through the forward value s = f(x), or None where no such form is proved.

    Candidates come from substituting f(x) -> s in f'(x), from the unique inverse of f where f
    is built from one-to-one steps, and from renaming x -> s (ReLU, identity); a candidate g is
    accepted only if g(f(x)) = f'(x) holds (see :func:`rewrite_holds`).  Where f is not
    one-to-one, no inverse is unique, and f'(x) is evaluated from x.
    """
    act = _activation(activation)
    return proved_output_form(act.expr, derivative(act))


def kernel_derivative(activation: Activation) -> sp.Expr:
    """f' as the generated kernels evaluate it, in x and s = f(x): the registry's stable form,
    else the form through the forward value where one is proved, else f'(x) from x."""
    if activation.code_derivative is not None:
        return activation.code_derivative
    df = differentiate(activation.expr, x)
    form = proved_output_form(activation.expr, df)
    return form if form is not None else df


def code_loss_slope(loss: Loss) -> sp.Expr:
    """dL/da of one loss term (in a and y) as generated code evaluates it: ``sympy.diff`` of
    the registry's stable code term where it gives one, else of the term. The code term is
    first made one Piecewise with each Abs resolved on its side: its pieces each have a kink
    at 0 (the Abs, the Piecewise) where their sum is smooth, and differentiated apart their
    one-sided conventions need not add up (bce_with_logits gave 1 - y at a = 0, not 1/2 - y)."""
    if loss.code_term is None:
        return differentiate(loss.term, a)
    return differentiate(sp.piecewise_fold(loss.code_term.rewrite(sp.Piecewise)), a)


def output_form_candidates(f: sp.Expr, df: sp.Expr) -> Iterator[sp.Expr]:
    """Expressions in s that may equal f'(x) at s = f(x), cheapest first (not yet checked),
    each built only when asked for. Through f's inverse, ``sp.cancel`` is tried before
    ``sp.simplify`` (0.1-0.2 s, most of a cold run's derivation): tanh' is proved by the
    substitution f -> s, and sigmoid' = s(1 - s) by cancelling, neither reaching simplify."""
    if not df.has(x):
        yield df
    substituted = df.subs(f, s)
    if not substituted.has(x):
        yield substituted
    inverse = unique_inverse(f)
    if inverse is not None and sp.count_ops(df) <= MAX_REWRITE_OPS:
        at_inverse = df.subs(x, inverse)
        for simplified in (sp.cancel, sp.simplify):
            candidate = simplified(at_inverse)
            if _low_degree(candidate):  # exp(k s) - 1 factors into ~k/3 cyclotomic factors
                candidate = sp.factor(candidate)
            candidate = positive_factors(candidate)
            if not candidate.has(x):
                yield candidate
    yield df.subs(x, s)


MAX_FACTOR_DEGREE = 16
"""Highest degree (in any generator: s, exp(s), ...) of a candidate that is factored: a sharp
softplus log(1 + exp(k x))/k gives exp(k s) - 1, whose factoring took 0.7 s at k = 2000 and
minutes beyond 10,000, into a product of dozens of factors."""


def _low_degree(expr: sp.Expr) -> bool:
    """Whether ``expr``'s numerator and denominator have degree <= MAX_FACTOR_DEGREE in each of
    their generators (as ``sp.factor`` sees them: exp(k s) is exp(s)**k)."""
    try:
        polys, _ = sp.parallel_poly_from_expr(sp.fraction(sp.together(expr)))
    except sp.PolificationFailed:
        return True
    return all(max(p.degree_list(), default=0) <= MAX_FACTOR_DEGREE for p in polys)


def proved_output_form(f: sp.Expr, df: sp.Expr) -> sp.Expr | None:
    """The first candidate form of f'(x) through s = f(x) that :func:`rewrite_holds`."""
    for candidate in output_form_candidates(f, df):
        if rewrite_holds(candidate, f, df):
            return candidate
    return None


MAX_REWRITE_OPS = 40
"""Largest f'(x) (SymPy operations) that is cancelled (then, where that leaves x, simplified)
after substituting the inverse."""

_INVERSE_FUNCTIONS = {sp.exp: sp.log, sp.log: sp.exp, sp.tanh: sp.atanh, sp.sinh: sp.asinh}

_POWER_INVERSES = {sp.S.NegativeOne: -1, sp.S.Half: 2, -sp.S.Half: -2}


def unique_inverse(f: sp.Expr) -> sp.Expr | None:
    """x written through s = f(x), where f is x passed through one-to-one steps only, or None.

    The steps: adding or multiplying by a constant, 1/u, sqrt(u), 1/sqrt(u), exp, log, tanh and
    sinh, each applied once along the one path from f down to x.  Each is one-to-one on its
    domain, so the inverse is unique there (no branch of solve(s = f(x)) to pick), and it is
    built step by step in time linear in the path.
    """
    inverse, node = s, f
    while node != x:
        if isinstance(node, (sp.Add, sp.Mul)):
            dependent = [arg for arg in node.args if arg.has(x)]
            if len(dependent) != 1:
                return None
            constant = node.func(*[arg for arg in node.args if not arg.has(x)])
            inverse = inverse - constant if isinstance(node, sp.Add) else inverse / constant
            node = dependent[0]
        elif isinstance(node, sp.Pow) and node.exp in _POWER_INVERSES:
            inverse, node = inverse ** _POWER_INVERSES[node.exp], node.base
        elif node.func in _INVERSE_FUNCTIONS and len(node.args) == 1:
            inverse, node = _INVERSE_FUNCTIONS[node.func](inverse), node.args[0]
        else:
            return None
    return inverse


REWRITE_POINTS: tuple[float, ...] = tuple(
    sorted(
        {0.0}
        | {
            sign * v
            for sign in (1.0, -1.0)
            for v in (1e-3, 0.1, 0.3, 0.5, 0.7, 1.0, 1.3, 1.7, 2.0, 2.5, 3.0, 4.0, 5.0, 6.5)
            + (8.0, 10.0, 13.0, 20.0, 35.0, 60.0, 100.0, 250.0, 700.0)
        }
    )
)
"""Where a rewrite through the forward value is checked: zero, both signs, small to large |x|
(a branch of a non-one-to-one f is right on one side of its turning point only)."""


FLOAT64_MAX = mpmath.mpf(sys.float_info.max)
"""The largest float64: a step of generated code beyond it is inf (or, after it, nan)."""


def rewrite_holds(candidate: sp.Expr, f: sp.Expr, df: sp.Expr) -> bool:
    """Whether g(f(x)) = f'(x) at every point of :data:`REWRITE_POINTS` where f is defined,
    without a step of g leaving float64's range where f(x) and f'(x) are within it.

    Values are computed with 30 significant digits.  At a point where f(x) and f'(x) are real
    and within float64's range, g(f(x)) must be too and agree to 1e-9 relative; a NaN, an
    infinity, a complex value or a step beyond float64's range there refuses the rewrite.
    Fewer than half the points in f's domain refuses it too.  Where f or f' leaves float64's
    range between two points, g is also checked at the last x before that edge:
    sinh(sinh(x))' = sqrt(s**2 + 1) sqrt(asinh(s)**2 + 1) holds, but s**2 overflows from
    x = 6.57 while f'(x) = cosh(sinh(x)) cosh(x) is finite up to x = 7.25.
    """
    within: dict[float, bool] = {}
    for point in REWRITE_POINTS:
        values = _values(f, df, point)
        if values is None:
            continue
        within[point] = _within_float64(values)
        if within[point] and not _holds_at(candidate, point, values):
            return False
    if sum(within.values()) < len(REWRITE_POINTS) // 2:
        return False
    for edge in _float64_edges(f, df, within):
        if not _holds_at(candidate, edge, _values(f, df, edge)):
            return False
    return True


def _values(f: sp.Expr, df: sp.Expr, point: float) -> tuple[object, object] | None:
    """f(x) and f'(x) at ``point`` (mpmath, 30 digits); None where either is undefined there
    (complex, NaN, a division by zero)."""
    forward, exact = mp_real(f, {x: point}), mp_real(df, {x: point})
    return None if forward is None or exact is None else (forward, exact)


def _within_float64(values: tuple[object, object]) -> bool:
    return max(abs(v) for v in values) <= FLOAT64_MAX


def _holds_at(candidate: sp.Expr, point: float, values: tuple[object, object]) -> bool:
    """Whether g(f(x)) agrees with f'(x) at ``point`` (1e-9 relative), every step of g within
    float64's range; ``values``: f(x) and f'(x) there. g is given both f(x) and f(x) rounded
    to float64, as a kernel holds it: exp(-exp(-x))' = -s log(s) holds, but s is 0 in float64
    from x = -6.6 (0 log 0 = nan, where f' is 0). Neither alone is a float64 evaluation: g is
    still evaluated with 30 digits (exp(tanh(exp(x)))' through atanh(log s) is finite for the
    rounded s = float(e), whose log is 1 - 5e-17, and inf for the exact s and in float64)."""
    forward, exact = values
    for given in (forward, mpmath.mpf(float(forward))):
        steps: list = []
        rewritten = real_value(candidate, {s: given}, steps)
        if rewritten is None or abs(rewritten - float(exact)) > 1e-9 * max(1, abs(float(exact))):
            return False
        if max(steps, default=0) > FLOAT64_MAX:
            return False
    return True


def _float64_edges(f: sp.Expr, df: sp.Expr, within: dict[float, bool]) -> list[float]:
    """For each sign, the last x (to 1e-9 relative, by bisection) before f(x) or f'(x) leaves
    float64's range, where it leaves between two neighbouring points of ``within`` (the points
    where both are defined, and whether both are within float64's range there)."""
    edges = []
    for sign in (1.0, -1.0):
        side = sorted((p for p in within if p * sign > 0), key=abs)
        for near, far in zip(side, side[1:]):
            if within[near] and not within[far]:
                while abs(far - near) > 1e-9 * abs(near):
                    middle = (near + far) / 2
                    values = _values(f, df, middle)
                    if values is not None and _within_float64(values):
                        near = middle
                    else:
                        far = middle
                edges.append(near)
                break
    return edges
