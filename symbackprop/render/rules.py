"""The calculus rules a derivative takes, named for a reader (``derive --lecture``).

``rules_used(expr, var)`` walks the expression from the outside in along the parts that depend
on ``var`` and names the textbook rule at each level: sum, product, quotient, reciprocal and
power rules, the derivative of each elementary function met, each piece of a piecewise
function, and the chain rule when a function's argument is not ``var`` itself. It names the
rules; SymPy computed the derivative.
"""

from __future__ import annotations

import sympy as sp
from sympy.concrete.summations import Sum
from sympy.core.function import Application

QUOTIENT, PRODUCT, SUM_RULE = "the quotient rule", "the product rule", "the sum rule"
CHAIN = "the chain rule"


def rules_used(expr: sp.Basic, var: sp.Basic) -> str:
    """The rules that differentiate ``expr`` with respect to ``var``, outermost first, as a
    phrase ("quotient rule, derivative of exp and chain rule"); "" for a constant or ``var``."""
    names: list[str] = []
    _walk(expr, var, names)
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _add(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _walk(expr: sp.Basic, var: sp.Basic, names: list[str]) -> None:
    """Name the rule at ``expr``'s top and go on into the parts that depend on ``var``."""
    if expr == var or not expr.has(var):
        return
    if isinstance(expr, Sum):
        _walk(expr.function, var, names)
        return
    if isinstance(expr, (sp.Add, sp.Mul)):
        _walk_operands(expr, var, names)
        return
    if isinstance(expr, sp.Piecewise):
        _add(names, "the derivative of each piece")
        for piece, _ in expr.args:
            _walk(piece, var, names)
        return
    inner = _walk_function(expr, var, names)
    if inner is not None and inner != var and inner.has(var):
        _walk(inner, var, names)
        _add(names, CHAIN)


def _walk_operands(expr: sp.Add | sp.Mul, var: sp.Basic, names: list[str]) -> None:
    """A sum's or a product's operands that depend on ``var``."""
    dependent = [arg for arg in expr.args if arg.has(var)]
    if isinstance(expr, sp.Mul) and len(dependent) > 1:
        divides = any(arg.is_Pow and arg.exp.is_negative for arg in dependent)
        _add(names, QUOTIENT if divides else PRODUCT)
        dependent = [arg.base if arg.is_Pow and arg.exp == -1 else arg for arg in dependent]
    elif isinstance(expr, sp.Add) and len(dependent) > 1:
        _add(names, SUM_RULE)
    for arg in dependent:
        _walk(arg, var, names)


def _walk_function(expr: sp.Basic, var: sp.Basic, names: list[str]) -> sp.Basic | None:
    """Name the rule of a power or an elementary function; its argument (None: no single one)."""
    if expr.is_Pow:
        if expr.exp.has(var):
            _add(names, "the derivative of exp (a variable exponent)")
            return None
        _add(names, "the reciprocal rule" if expr.exp == -1 else "the power rule")
        return expr.base
    if isinstance(expr, Application) and len(expr.args) == 1:
        _add(names, f"the derivative of {_function_name(expr)}")
        return expr.args[0]
    if isinstance(expr, Application):  # Max, Min: a function of several arguments
        _add(names, f"the derivative of {_function_name(expr)} in each argument")
        for arg in expr.args:
            _walk(arg, var, names)
        return None
    _add(names, "differentiation")
    return None


def _function_name(expr: sp.Basic) -> str:
    name = type(expr).__name__
    return {"Abs": "|x|", "Max": "max", "Min": "min", "Heaviside": "the step function"}.get(
        name, name
    )
