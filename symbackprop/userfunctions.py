"""Activations and losses written in a spec: built-in names, expressions and [functions.NAME].

A spec's ``activation``, ``output`` and ``loss`` take a built-in name (``tanh``,
``leaky_relu(0.2)``), the name of a ``[functions.NAME]`` table, or an expression (in ``x`` for
activations, in ``a`` and ``y`` for a loss).  Expressions are read by
:func:`symbackprop.expressions.parse_expression` (never ``eval``) and registered in the function
registry, so derivation, printing, code generation and ``check`` treat them like built-ins.
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from .errors import ExpressionError, SpecError
from .expressions import parse_expression
from .functions import (
    ACTIVATIONS,
    LOSSES,
    Activation,
    Loss,
    at_kinks,
    builtin_activation,
    builtin_loss,
    register_activation,
    register_loss,
)
from .functions import a as a_sym
from .functions import x as x_sym
from .names import unknown

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
    derivative = at_kinks(sp.diff(expr, variable))
    if derivative.has(sp.Derivative, sp.Subs):
        raise SpecError(f"SymPy cannot differentiate {expr} with respect to {variable}", where)
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


def user_activation(name: str, text: Any, latex: str, where: str) -> str:
    """Register the activation written in ``text`` (in x) under ``name``; returns the key."""
    expected = "activation name or an expression in x"
    expr = _user_expression(text, ("x",), x_sym, "x", expected, where)
    activation = Activation(
        name=name or sp.sstr(expr),
        expr=expr,
        latex=latex,
        description=f"f(x) = {sp.sstr(expr)} (written in the spec)",
    )
    key = register_activation(activation).name
    _USER.add(key)
    return key


_USER: set[str] = set()
"""Registry keys of functions written in specs: valid only in the spec that defines them."""


def uses_user_functions(spec: Any) -> bool:  # noqa: ANN401
    """Whether a spec's network uses an activation or loss written in a spec."""
    return any(name in _USER for name in (*spec.activations, spec.output, spec.loss))


def user_loss(name: str, text: Any, latex: str, where: str) -> str:
    """Register the loss term written in ``text`` (in a and y) under ``name``; returns the key.

    Its reduction over the outputs is the mean unless the spec says ``loss_reduction = "sum"``.
    """
    expected = "loss name or an expression in a and y"
    term = _user_expression(text, ("a", "y"), a_sym, "a (the prediction)", expected, where)
    loss = Loss(
        name=name or sp.sstr(term),
        term=term,
        mean=True,
        latex=latex,
        description=f"loss term {sp.sstr(term)} (written in the spec)",
    )
    key = register_loss(loss).name
    _USER.add(key)
    return key


def parse_functions(table: Any, where: str) -> dict[str, str]:
    """The ``[functions.NAME]`` tables: each registered; returns NAME -> "activation" | "loss"."""
    if not isinstance(table, dict):
        raise SpecError("must be a table of [functions.NAME] tables", f"{where}: functions")
    kinds: dict[str, str] = {}
    for name, entry in table.items():
        here = f"{where}: functions.{name}"
        if not name.isidentifier():
            raise SpecError("function names must be identifiers", here)
        taken = {builtin_activation(name), builtin_loss(name)} - {None} - _USER
        if taken:
            raise SpecError(f"'{name}' is a built-in name; choose another", here)
        if not isinstance(entry, dict):
            raise SpecError("must be a table (activation = ... or loss = ..., latex = ...)", here)
        unknown = sorted(set(entry) - {"activation", "loss", "latex"})
        if unknown:
            raise SpecError(f"unknown field '{unknown[0]}' (known: activation, latex, loss)", here)
        if ("activation" in entry) == ("loss" in entry):
            raise SpecError("needs exactly one of 'activation' or 'loss'", here)
        default = rf"\operatorname{{{name}}}" if len(name) > 1 else name
        latex = validate_latex_name(entry.get("latex", default), f"{here}.latex")
        if "activation" in entry:
            user_activation(name, entry["activation"], latex, f"{here}.activation")
            kinds[name] = "activation"
        else:
            user_loss(name, entry["loss"], latex, f"{here}.loss")
            kinds[name] = "loss"
    return kinds


_INLINE_LATEX = ("f", "g", "h", "u", "v")


def resolve_activation(text: Any, functions: dict[str, str], inline: list[str], where: str) -> str:
    """The registry key for a spec's activation entry: built-in, [functions] name or expression."""
    if not isinstance(text, str):
        raise SpecError("must be an activation name or an expression in x", where)
    if functions.get(text) == "activation":
        return text
    if functions.get(text) == "loss":
        raise SpecError(f"'{text}' is defined as a loss, not an activation", where)
    key = builtin_activation(text)
    if key is not None and key not in _USER:
        return key
    if text.strip().isidentifier() and text.strip() != "x":
        named = {n for n, k in functions.items() if k == "activation"}
        raise SpecError(unknown("activation", text, (set(ACTIVATIONS) - _USER) | named), where)
    position = inline.index(text) if text in inline else len(inline)
    if text not in inline:
        inline.append(text)
    latex = _INLINE_LATEX[position] if position < len(_INLINE_LATEX) else f"f_{{{position + 1}}}"
    return user_activation("", text, latex, where)


def resolve_loss(text: Any, functions: dict[str, str], where: str) -> str:
    """The registry key for a spec's loss: built-in, [functions] name or expression in a, y."""
    if not isinstance(text, str):
        raise SpecError("must be a loss name or an expression in a and y", where)
    if functions.get(text) == "loss":
        return text
    if functions.get(text) == "activation":
        raise SpecError(f"'{text}' is defined as an activation, not a loss", where)
    key = builtin_loss(text)
    if key is not None and key not in _USER:
        return key
    if text.strip().isidentifier():
        named = {n for n, k in functions.items() if k == "loss"}
        raise SpecError(unknown("loss", text, (set(LOSSES) - _USER) | named), where)
    return user_loss("", text, r"\ell", where)
