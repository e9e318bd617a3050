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
from dataclasses import replace
from typing import Any

import sympy as sp

from ..errors import ExpressionError, SpecError
from ..util.names import unknown
from .calculus import differentiate
from .expressions import CONSTANTS, FUNCTIONS, parse_expression
from .functions import ACTIVATIONS, LOSSES, Activation, Loss, builtin_activation, builtin_loss
from .functions import a as a_sym
from .functions import x as x_sym

# --- LaTeX names: a small allowlist grammar ----------------------------------------------------
#
# TeX reads ``^^75`` as ``u`` before it splits a name into commands, so a name is not checked for
# bad commands but built from good parts only: letters, digits, a few marks, balanced braces,
# ``_``/``^`` followed by a group or one letter or digit, and the commands below (the first set
# followed by a {group}). Everything else, ``^^`` and every other backslash included, is refused.

LATEX_GROUP_COMMANDS = frozenset(
    "operatorname mathrm mathit mathbf mathsf mathcal boldsymbol hat tilde bar vec dot "
    "ddot check breve widehat widetilde overline".split()
)
LATEX_COMMANDS = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
    "xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta "
    "Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell prime ast star dagger partial nabla "
    "infty cdot log exp ln sin cos tan sinh cosh tanh max min".split()
)
LATEX_SYMBOLS = frozenset(",;!_")
"""Control symbols allowed after a backslash: thin, medium and negative spaces, an underscore."""
_LATEX_MARKS = frozenset(" ',.()+-*/|<>=:;")
_LATEX_TOKEN = re.compile(r"\\(?:[A-Za-z]+|.?)|[\s\S]", re.DOTALL)
_ALLOWED_TEXT = (
    "letters, digits, {groups}, _ and ^ followed by a group or one letter or digit, "
    "\\operatorname{...}, \\mathrm{...}, \\mathbf{...} and the like, Greek letters"
)


def validate_latex_name(text: Any, where: str) -> str:
    """A user-given LaTeX name, read by the allowlist grammar above; one SpecError otherwise."""
    if not isinstance(text, str) or not 0 < len(text) <= 60:
        raise SpecError("must be a LaTeX name of 1 to 60 characters", where)
    problem = latex_name_problem(text)
    if problem:
        raise SpecError(f"LaTeX name {text!r}: {problem} (allowed: {_ALLOWED_TEXT})", where)
    return text


def latex_name_problem(text: str) -> str | None:
    """What makes ``text`` no LaTeX name of the grammar above, or None when it is one."""
    if "^^" in text:
        return "'^^' is refused (TeX reads it as another character)"
    tokens = _LATEX_TOKEN.findall(text)
    depth = 0
    expect_group = False
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if expect_group and token != "{":
            return f"{tokens[index - 1]} must be followed by {{...}}"
        expect_group = False
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return "unbalanced braces"
        elif token in ("_", "^"):
            if following != "{" and not (following.isascii() and following.isalnum()):
                return f"{token!r} must be followed by {{...}} or one letter or digit"
        elif token.startswith("\\"):
            name = token[1:]
            if name in LATEX_GROUP_COMMANDS:
                expect_group = True
            elif name not in LATEX_COMMANDS and name not in LATEX_SYMBOLS:
                shown = token if name.isalpha() else repr(token)
                return f"the command {shown} is not allowed"
        elif not (token.isascii() and (token.isalnum() or token in _LATEX_MARKS)):
            return f"the character {token!r} is not allowed"
    if expect_group:
        return f"{tokens[-1]} must be followed by {{...}}"
    return "unbalanced braces" if depth else None


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
    """The activation written in ``text`` (in x), called ``name``; without a name it is an
    expression written inline (named by :func:`name_inline`, its SymPy text its key)."""
    expected = "activation name or an expression in x"
    expr = _user_expression(text, ("x",), x_sym, "x", expected, where)
    return Activation(
        name=name or sp.sstr(expr),
        expr=expr,
        latex=latex,
        description=f"f(x) = {sp.sstr(expr)} (written in the spec)",
        inline=not name,
    )


def user_loss(name: str, text: Any, latex: str, where: str) -> Loss:
    """The loss term written in ``text`` (in a and y), called ``name``; without a name it is an
    expression written inline (its SymPy text its key, ``latex`` and ``symbol`` its name).

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
        inline=not name,
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
        typeset = name.replace("_", r"\_")  # an underscore of the name, not a subscript
        default = rf"\operatorname{{{typeset}}}" if len(name) > 1 else typeset
        if "latex" not in entry and not name.isascii():
            raise SpecError("a name that is not ASCII needs latex = ... (how to typeset it)", here)
        latex = validate_latex_name(entry.get("latex", default), f"{here}.latex")
        if "^" in latex:
            latex = f"{{{latex}}}"  # the documents write f' for the derivative: no ^ ^ then
        if "activation" in entry:
            function = user_activation(name, entry["activation"], latex, f"{here}.activation")
        else:
            function = user_loss(name, entry["loss"], latex, f"{here}.loss")
        functions[name] = function
    return functions


INLINE_ACTIVATION = (r"\varphi", "φ")
"""The letter of an activation written inline in ``[network]`` (LaTeX, text): no profile's
symbol (not f, every layer's activation; not Goodfellow's g or h), subscripted 1, 2, ... where
a spec writes several (φ_1, φ_2, in order of first use)."""
INLINE_LOSS = (r"\ell", "ℓ")
"""The letter of a loss term written inline in ``[network]`` (LaTeX, text)."""


def _free_names(letter: tuple[str, str], count: int, taken: set[str]) -> list[tuple[str, str]]:
    """``count`` names (LaTeX, text) of ``letter``: the letter alone for one, else subscripted
    1, 2, ...; none of them in ``taken`` (LaTeX names the spec's own functions use)."""
    tex, shown = letter
    candidates = [letter] if count == 1 else []
    number = 0
    while len(candidates) < count + len(taken):
        number += 1
        candidates.append((f"{tex}_{{{number}}}", f"{shown}_{number}"))
    return [c for c in candidates if c[0] not in taken][:count]


def name_inline(
    activations: list[Activation], functions: dict[str, Activation | Loss]
) -> list[Activation]:
    """``activations`` with those written inline named φ (φ_1, φ_2, ... for several distinct
    expressions, in order of first use): one name each, the same wherever it is used."""
    distinct = list(dict.fromkeys(act.name for act in activations if act.inline))
    taken = {function.latex for function in functions.values()}
    names = dict(zip(distinct, _free_names(INLINE_ACTIVATION, len(distinct), taken), strict=True))
    return [
        replace(act, latex=names[act.name][0], symbol=names[act.name][1]) if act.inline else act
        for act in activations
    ]


def resolve_activation(
    text: Any, functions: dict[str, Activation | Loss], where: str
) -> Activation:
    """A spec's activation entry: built-in, [functions] name or expression (named by
    :func:`name_inline` once all of the spec's are known)."""
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
    return user_activation("", text, INLINE_ACTIVATION[0], where)


def resolve_loss(text: Any, functions: dict[str, Activation | Loss], where: str) -> Loss:
    """A spec's loss: built-in, [functions] name or expression in a, y (named ℓ)."""
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
    taken = {function.latex for function in functions.values()}
    ((latex, symbol),) = _free_names(INLINE_LOSS, 1, taken)
    return replace(user_loss("", text, latex, where), symbol=symbol)
