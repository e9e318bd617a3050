"""Activations and losses written in a spec: built-in names, expressions and [functions.NAME].

A spec's ``activation``, ``output`` and ``loss`` take a built-in name (``tanh``,
``leaky_relu(0.2)``), the name of a ``[functions.NAME]`` table, or an expression (in ``x`` for
activations, in ``a`` and ``y`` for a loss).  Expressions are read by
:func:`symbackprop.spec.expressions.parse_expression` (never ``eval``) into :class:`Activation` and
:class:`Loss` objects that the Spec keeps (``Spec.functions``): nothing is registered
process-wide, so two specs' functions of one name never see each other's body.
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from ..errors import ExpressionError, SpecError
from ..util.names import unknown
from .calculus import differentiate
from .expressions import CONSTANTS, FUNCTIONS, parse_expression
from .functions import ACTIVATIONS, LOSSES, Activation, Loss, builtin_activation, builtin_loss
from .functions import a as a_sym
from .functions import x as x_sym

_LATEX_NAME = re.compile(r"^(?:[A-Za-z0-9 _^{}',.]|\\[A-Za-z]+)+$")
_LATEX_FORBIDDEN = re.compile(
    r"\\(?:input|include|write|immediate|openout|openin|read|def|edef|gdef|xdef|let|catcode"
    r"|csname|endcsname|newcommand|renewcommand|providecommand|expandafter|special|usepackage"
    r"|documentclass|begin|end|makeatletter|loop|repeat|jobname|directlua|tt|verb)(?![A-Za-z])"
)


def validate_latex_name(text: Any, where: str) -> str:
    """A user-given LaTeX name, checked strictly: letters, digits, _ ^ { } ' and plain commands.

    Braces must balance; commands that read or write files or define macros are refused.
    """
    if not isinstance(text, str) or not 0 < len(text) <= 60:
        raise SpecError("must be a LaTeX name of 1 to 60 characters", where)
    if not _LATEX_NAME.match(text) or _LATEX_FORBIDDEN.search(text):
        raise SpecError(
            f"LaTeX name {text!r} may hold only letters, digits, _ ^ {{ }} ' and \\commands "
            "(no file or macro commands)",
            where,
        )
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise SpecError(f"LaTeX name {text!r} has unbalanced braces", where)
    return text


def check_differentiable(expr: sp.Expr, variable: sp.Symbol, where: str) -> sp.Expr:
    """d expr / d variable, or one clear error when SymPy leaves it unevaluated."""
    derivative = differentiate(expr, variable)
    if derivative.has(sp.Derivative, sp.Subs):
        raise SpecError(f"SymPy cannot differentiate {expr} with respect to {variable}", where)
    if derivative.has(sp.re, sp.im, sp.arg, sp.conjugate):
        raise SpecError(
            f"the derivative of {expr} takes the real or imaginary part of a complex value "
            "(a root or log of a possibly negative value inside Abs); write it for real "
            "values, e.g. Abs(x)**p, not Abs(x**p)",
            where,
        )
    return derivative


def _user_expression(
    text: Any, variables: tuple[str, ...], symbol: sp.Symbol, named: str, kinds: str, where: str
) -> sp.Expr:
    """``text`` parsed in ``variables``: it must depend on ``symbol`` (``named`` in messages) and
    be differentiable in it; otherwise a SpecError at ``where`` (``kinds``: what was expected)."""
    if not isinstance(text, str):
        raise SpecError(f"must be a built-in {kinds}", where)
    try:
        expr = parse_expression(text, variables)
    except ExpressionError as exc:
        raise SpecError(f"expression {text!r}: {exc}", where) from None
    if not expr.has(symbol):
        raise SpecError(f"expression {text!r} does not depend on {named}", where)
    check_differentiable(expr, symbol, where)
    return expr


def user_activation(name: str, text: Any, latex: str, where: str) -> Activation:
    """The activation written in ``text`` (in x), called ``name`` (its SymPy text if empty)."""
    expected = "activation name or an expression in x"
    expr = _user_expression(text, ("x",), x_sym, "x", expected, where)
    return Activation(
        name=name or sp.sstr(expr),
        expr=expr,
        latex=latex,
        description=f"f(x) = {sp.sstr(expr)} (written in the spec)",
    )


def user_loss(name: str, text: Any, latex: str, where: str) -> Loss:
    """The loss term written in ``text`` (in a and y), called ``name`` (its SymPy text if empty).

    Its reduction over the outputs is the mean unless the spec says ``loss_reduction = "sum"``.
    """
    expected = "loss name or an expression in a and y"
    term = _user_expression(text, ("a", "y"), a_sym, "a (the prediction)", expected, where)
    return Loss(
        name=name or sp.sstr(term),
        term=term,
        mean=True,
        latex=latex,
        description=f"loss term {sp.sstr(term)} (written in the spec)",
    )


def parse_functions(table: Any, where: str) -> dict[str, Activation | Loss]:
    """The ``[functions.NAME]`` tables: NAME -> its Activation or Loss."""
    if not isinstance(table, dict):
        raise SpecError("must be a table of [functions.NAME] tables", f"{where}: functions")
    functions: dict[str, Activation | Loss] = {}
    for name, entry in table.items():
        here = f"{where}: functions.{name}"
        if not name.isidentifier():
            raise SpecError("function names must be identifiers", here)
        if builtin_activation(name) is not None or builtin_loss(name) is not None:
            raise SpecError(f"'{name}' is a built-in name; choose another", here)
        if name in FUNCTIONS or name in CONSTANTS or name in ("x", "a", "y"):
            raise SpecError(f"'{name}' is a name of the expression syntax; choose another", here)
        if not isinstance(entry, dict):
            raise SpecError("must be a table (activation = ... or loss = ..., latex = ...)", here)
        unknown = sorted(set(entry) - {"activation", "loss", "latex"})
        if unknown:
            raise SpecError(f"unknown field '{unknown[0]}' (known: activation, latex, loss)", here)
        if ("activation" in entry) == ("loss" in entry):
            raise SpecError("needs exactly one of 'activation' or 'loss'", here)
        default = rf"\operatorname{{{name}}}" if len(name) > 1 else name
        if "latex" not in entry and not name.isascii():
            raise SpecError("a name that is not ASCII needs latex = ... (how to typeset it)", here)
        latex = validate_latex_name(entry.get("latex", default), f"{here}.latex")
        if "activation" in entry:
            function = user_activation(name, entry["activation"], latex, f"{here}.activation")
        else:
            function = user_loss(name, entry["loss"], latex, f"{here}.loss")
        functions[name] = function
    return functions


_INLINE_LATEX = ("f", "g", "h", "u", "v")


def resolve_activation(
    text: Any, functions: dict[str, Activation | Loss], inline: list[str], where: str
) -> Activation:
    """A spec's activation entry: built-in, [functions] name or expression."""
    if not isinstance(text, str):
        raise SpecError("must be an activation name or an expression in x", where)
    named = functions.get(text)
    if isinstance(named, Activation):
        return named
    if isinstance(named, Loss):
        raise SpecError(f"'{text}' is defined as a loss, not an activation", where)
    key = builtin_activation(text)
    if key is not None:
        return ACTIVATIONS[key]
    if text.strip().isidentifier() and text.strip() != "x":
        own = {n for n, f in functions.items() if isinstance(f, Activation)}
        raise SpecError(unknown("activation", text, set(ACTIVATIONS) | own), where)
    position = inline.index(text) if text in inline else len(inline)
    if text not in inline:
        inline.append(text)
    latex = _INLINE_LATEX[position] if position < len(_INLINE_LATEX) else f"f_{{{position + 1}}}"
    return user_activation("", text, latex, where)


def resolve_loss(text: Any, functions: dict[str, Activation | Loss], where: str) -> Loss:
    """A spec's loss: built-in, [functions] name or expression in a, y."""
    if not isinstance(text, str):
        raise SpecError("must be a loss name or an expression in a and y", where)
    named = functions.get(text)
    if isinstance(named, Loss):
        return named
    if isinstance(named, Activation):
        raise SpecError(f"'{text}' is defined as an activation, not a loss", where)
    key = builtin_loss(text)
    if key is not None:
        return LOSSES[key]
    if text.strip().isidentifier():
        own = {n for n, f in functions.items() if isinstance(f, Loss)}
        raise SpecError(unknown("loss", text, set(LOSSES) | own), where)
    return user_loss("", text, r"\ell", where)
