"""Fitting printed equations on the page: a width estimate and line breaking of long sides.

``estimate_width`` measures printed LaTeX roughly in points (10pt Computer Modern, display
style); ``break_lines`` splits a long right-hand side at the top-level terms of its sums and
the factors of its products (recursively, with ``\\bigl( ... \\bigr)`` around a parenthesised
factor that itself spans lines) and fills lines greedily up to a width.  The compile test
(``tests/test_layout.py``) checks the result: no overfull box in any document the tests make.
"""

from __future__ import annotations

import re

import sympy as sp

from .printing import numeric, parenthesised
from .textbook import split_sign, textbook_product, textbook_terms
from .written import Factors, Minus, Terms

CHAR = 5.2
"""Width of an ordinary math character (pt)."""
OPERATOR = 10.0
"""Width of a binary operator or relation with its surrounding space (pt)."""
SCRIPT = 0.72
"""Scale of sub- and superscripts."""

_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
_WORDS = {"tanh", "log", "exp", "max", "min", "sin", "cos", "ReLU", "softmax", "id"}
_ZERO = {"left", "right", "mathopen", "mathclose", "nonumber", "displaystyle", "limits"}
_OPERATORS = {"cdot", "odot", "leftarrow", "ge", "le", "times", "quad", "top"}


def _group(text: str, start: int) -> tuple[str, int]:
    """The brace group (or single token) starting at ``start``: (content, index after it)."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text):
        return "", start
    if text[start] != "{":
        if text[start] == "\\":
            match = _COMMAND.match(text, start)
            return match.group(0), match.end()
        return text[start], start + 1
    depth = 0
    for position in range(start, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : position], position + 1
    return text[start + 1 :], len(text)


def _environment(text: str, start: int, name: str) -> tuple[str, int]:
    end_tag = rf"\end{{{name}}}"
    end = text.find(end_tag, start)
    if end < 0:
        return text[start:], len(text)
    return text[start:end], end + len(end_tag)


def estimate_width(text: str) -> float:
    """Approximate width of inline LaTeX math ``text`` in points (display style)."""
    width = 0.0
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            match = _COMMAND.match(text, position)
            name = match.group(1)
            position = match.end()
            if name == "frac":
                top, position = _group(text, position)
                bottom, position = _group(text, position)
                width += max(estimate_width(top), estimate_width(bottom)) + 3
            elif name in ("sum", "prod"):
                limits = 0.0
                while position < len(text) and text[position] in "_^":
                    group, position = _group(text, position + 1)
                    limits = max(limits, SCRIPT * estimate_width(group))
                width += max(14.0, limits) + 3
            elif name in ("mathbf", "mathrm", "operatorname", "text", "texttt", "mathit"):
                group, position = _group(text, position)
                width += CHAR * len(group) + 2
            elif name == "begin":
                env, position = _group(text, position)
                if env.startswith("{"):
                    _, position = _group(text, position)
                body, position = _environment(text, position, env)
                width += _matrix_width(body) + 12
            elif name in ("bigl", "bigr", "Bigl", "Bigr"):
                position += 1
                width += 4.5
            elif name in _ZERO:
                if name in ("left", "right"):
                    position += 1 if position < len(text) and text[position] != "\\" else 0
                    width += 4.5
            elif name in _OPERATORS:
                width += OPERATOR
            elif name == "qquad":
                width += 2 * OPERATOR
            elif name in _WORDS:
                width += CHAR * len(name)
            elif name in (",", ":", ";", "!", " "):
                width += 2.0
            else:
                width += CHAR * 1.1
        elif char in "^_":
            group, position = _group(text, position + 1)
            width += SCRIPT * estimate_width(group)
        elif char in "{} ":
            position += 1
        elif char in "+=<>" or (char == "-" and width > 0):
            width += OPERATOR
            position += 1
        else:
            width += CHAR
            position += 1
    return width


def _matrix_width(body: str) -> float:
    rows = [row.split("&") for row in body.split(r"\\")]
    columns = max(len(row) for row in rows)
    widths = [
        max((estimate_width(row[c]) for row in rows if c < len(row)), default=0.0)
        for c in range(columns)
    ]
    return sum(widths) + 10.0 * (columns - 1)


def break_lines(
    expr: sp.Basic,
    printer: sp.printing.printer.Printer,
    budget: float,
    first: float | None = None,
) -> list[str]:
    """The printed expression as lines of at most ``budget`` points where it can be split
    (the first line ``first`` points, where its room differs from the others')."""
    first = budget if first is None else first
    whole = printer.doprint(expr)
    if estimate_width(whole) <= first:
        return [whole]
    lines: list[str] = []

    def room() -> float:
        return first if len(lines) == 1 else budget

    for group in _terms(_chunks(expr, printer, min(budget, first))):
        whole = " ".join(group)
        if lines and estimate_width(f"{lines[-1]} {whole}") > room() and (
            budget >= estimate_width(whole)
        ):
            lines.append(whole)  # a term that fits on a line of its own is not split
            continue
        for chunk in group:
            if lines and estimate_width(f"{lines[-1]} {chunk}") <= room():
                lines[-1] = f"{lines[-1]} {chunk}"
            elif lines and isinstance(chunk, _Factor) and not chunk.startswith(r"\cdot"):
                lines.append(rf"\cdot {chunk}")  # a break inside a product shows the product
            else:
                lines.append(chunk)
    return lines


def _terms(chunks: list[str]) -> list[list[str]]:
    """The chunks grouped by term: a chunk that does not continue a product starts a group."""
    groups: list[list[str]] = []
    for chunk in chunks:
        if groups and isinstance(chunk, _Factor):
            groups[-1].append(chunk)
        else:
            groups.append([chunk])
    return groups


class _Factor(str):
    """A piece that multiplies the piece before it: a line starting with it shows ``\\cdot``."""


def _like(piece: str, text: str) -> str:
    """``text`` (built around ``piece``) marked as a factor where ``piece`` was one."""
    return _Factor(text) if isinstance(piece, _Factor) else text


def _product(
    factors: list[list[str]], texts: list[str], args: tuple[sp.Basic, ...] | None = None
) -> list[str]:
    """The pieces of a product written in order: each factor after the first starts a
    ``_Factor`` piece; one that prints with a leading minus is put in parentheses (else
    ``a \\; -b`` reads as a difference), one that starts with a digit gets ``\\cdot``, and
    so does one after a number among chain-rule factors ``args`` (``\\cdot 1 \\cdot W``)."""
    out: list[str] = []
    for position, (parts, text) in enumerate(zip(factors, texts, strict=True)):
        if out and text.startswith("-"):
            parts = _wrapped(parts, text)
        if out:
            first = parts[0]
            after_number = args is not None and numeric(args[position - 1])
            if first[:1].isdigit() or after_number:
                first = rf"\cdot {first}"
            parts = [_Factor(first), *parts[1:]]
        out += parts
    return out


def _wrapped(parts: list[str], single: str) -> list[str]:
    """Parentheses around a factor: paired ``\\left( \\right)`` on one line, else ``\\bigl``
    (``\\Bigl`` around a sum or fraction, which stands taller than a line of symbols)."""
    if len(parts) == 1:
        return [rf"\left({single}\right)"]
    tall = any(r"\sum" in part or r"\frac" in part for part in parts)
    opening, closing = (r"\Bigl(", r"\Bigr)") if tall else (r"\bigl(", r"\bigr)")
    return [opening + parts[0], *parts[1:-1], _like(parts[-1], parts[-1] + closing)]


def _chunks(expr: sp.Basic, printer: sp.printing.printer.Printer, budget: float) -> list[str]:
    """Pieces of the printed expression between which a line may break."""
    from ..symbolic.network import ActivationFunction, ActivationPrime
    from .steps import Chain

    whole = printer._print(expr)
    if estimate_width(whole) <= budget * 0.5:
        return [whole]
    if isinstance(expr, Terms | Factors):
        return _written(expr, printer, budget)
    if isinstance(expr, sp.Add):
        out: list[str] = []
        for position, term in enumerate(textbook_terms(printer.ordered_terms(expr))):
            negative, magnitude = split_sign(term)
            parts = _chunks(magnitude, printer, budget)
            if isinstance(magnitude, sp.Add):
                parts = _wrapped(parts, printer._print(magnitude))
            sign = "- " if negative else ("+ " if position else "")
            out += [sign + parts[0], *parts[1:]]
        return out
    if (
        isinstance(expr, sp.Transpose)
        and isinstance(expr.arg, sp.MatrixBase)
        and expr.arg.rows == 1
    ):
        entries = [printer._print(value) + "," for value in expr.arg]
        entries[-1] = entries[-1][:-1]
        return [rf"\bigl[{entries[0]}", *entries[1:-1], rf"{entries[-1]}\bigr]^{{\top}}"]
    if isinstance(expr, sp.HadamardProduct):
        return _hadamard(expr, printer, budget)
    if isinstance(expr, Chain):
        texts = [printer._print(arg) for arg in expr.args]
        return _product([_factor(arg, printer, budget) for arg in expr.args], texts, expr.args)
    if isinstance(expr, sp.Mul):
        form = textbook_product(expr)
        if form is not None:
            negative, coefficient, top, bottom = form
            out = []
            if bottom or coefficient.q != 1:
                bottom_tex = printer._product(sp.Integer(coefficient.q), bottom)
                out.append(rf"\frac{{{coefficient.p}}}{{{bottom_tex}}}")
            elif coefficient != 1:
                out.append(printer._print(coefficient))
            factors = [_factor(factor, printer, budget) for factor in top]
            texts = out + [printer._print(factor) for factor in top]
            out = _product([[piece] for piece in out] + factors, texts)
            if negative:
                out[0] = "- " + out[0]
            return out
        texts = [printer._print(arg) for arg in expr.args]
        return _product([_factor(arg, printer, budget) for arg in expr.args], texts)
    if isinstance(expr, (ActivationFunction, ActivationPrime)):
        name = type(expr).activation.latex + ("'" if isinstance(expr, ActivationPrime) else "")
        parts = _chunks(expr.args[0], printer, budget)
        if len(parts) > 1:
            last = _like(parts[-1], rf"{parts[-1]}\bigr)")
            return [rf"{name}\bigl({parts[0]}", *parts[1:-1], last]
    if isinstance(expr, sp.Pow) and isinstance(expr.base, sp.Add) and expr.exp.is_Integer:
        parts = _chunks(expr.base, printer, budget)
        if len(parts) > 1:
            exponent = printer._print(expr.exp)
            last = _like(parts[-1], rf"{parts[-1]}\bigr)^{{{exponent}}}")
            return [rf"\bigl({parts[0]}", *parts[1:-1], last]
    if isinstance(expr, sp.Sum) and len(expr.limits) == 1:
        negative, magnitude = split_sign(expr)
        if not negative:
            header = printer._print(sp.Sum(sp.Symbol("BODY"), *expr.limits)).replace("BODY", "")
            body = _chunks(expr.function, printer, budget - estimate_width(header))
            if len(body) > 1 or body[0] != printer._print(expr.function):
                if isinstance(expr.function, sp.Add):
                    body = _wrapped(body, "")
                return [header.strip() + " " + body[0], *body[1:]]
    if isinstance(expr, sp.Piecewise) and estimate_width(whole) > budget - OPERATOR:
        # (the room left once an operator starts its line)
        return [stacked_cases(expr, printer)] if whole.startswith(r"\begin{cases}") else [whole]
    return [whole]


def stacked_cases(expr: sp.Piecewise, printer: sp.printing.printer.Printer) -> str:
    """A piecewise expression too wide for its line, each condition on the row under its value
    (``cases`` in SymPy's words: "value," then "for condition" or "otherwise")."""
    rows = []
    for value, condition in expr.args:
        rows.append(printer._print(value) + ",")
        if condition == sp.true:
            rows.append(r"\text{otherwise}")
        else:
            rows.append(rf"\text{{for}}\: {printer._print(condition)}")
    return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"


def _written(
    expr: Terms | Factors, printer: sp.printing.printer.Printer, budget: float
) -> list[str]:
    """Pieces of a written-out sum or product (a worked example's substitution) as the printer
    writes them (``printing``: terms and factors in place, a negative number or a sum in
    parentheses, a number after a factor set apart by ``\\cdot``)."""
    out: list[str] = []
    for position, arg in enumerate(expr.args):
        if isinstance(expr, Terms):
            inner = arg.args[0] if isinstance(arg, Minus) else arg
            text = printer._print(inner)
            parts = _chunks(inner, printer, budget)
            if (position or isinstance(arg, Minus)) and parenthesised(inner, text):
                parts = _wrapped(parts, text)
            elif isinstance(inner, Terms | Minus | sp.Add):  # the first term, a sum itself
                parts = _wrapped(parts, text)
            sign = "- " if isinstance(arg, Minus) else ("+ " if position else "")
            out += [sign + parts[0], *parts[1:]]
            continue
        text = printer._print(arg)
        parts = _chunks(arg, printer, budget)
        if parenthesised(arg, text):
            parts = _wrapped(parts, text)
        if position:
            dot = r"\cdot " if numeric(arg) else ""
            parts = [_Factor(dot + parts[0]), *parts[1:]]
        out += parts
    return out


def _hadamard(
    expr: sp.HadamardProduct, printer: sp.printing.printer.Printer, budget: float
) -> list[str]:
    """Pieces of an elementwise product: a line may break before each ``\\odot`` (which then
    starts the line), operands parenthesised as the printer parenthesises them."""
    out: list[str] = []
    for arg in expr.args:
        text = printer._print(arg)
        parts = _chunks(arg, printer, budget)
        if printer.parenthesize(arg, 60) != text:
            parts = _wrapped(parts, text)
        out += [rf"\odot {parts[0]}" if out else parts[0], *parts[1:]]
    return out


def _factor(factor: sp.Basic, printer: sp.printing.printer.Printer, budget: float) -> list[str]:
    parts = _chunks(factor, printer, budget)
    if isinstance(factor, sp.Add):
        return _wrapped(parts, printer._print(factor))
    return parts
