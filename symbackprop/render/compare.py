"""Derivations side by side, where they differ (e.g. a sigmoid output with MSE, with BCE, ...).

One column per derivation, one row per step whose printed result differs in at least one of
them (a derivation without that step shows a dash). The LaTeX columns share the page's width:
each column is as wide as the count allows, and a right-hand side too long for its column is
broken over lines by ``layout.break_lines`` (at the operators it shows). Up to
``PORTRAIT_SPECS`` derivations fit a portrait A4 page, up to ``MAX_SPECS`` a landscape one;
more are refused (text and Markdown have no page and take any count).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import sympy as sp

from ..errors import SymbackpropError
from ..spec.model import Spec
from ..symbolic.derivation import Derivation
from ..util.escape import latex_breakable, plain_line
from ..util.escape import markdown_text as markdown_escaped
from ..util.resources import environment
from ..util.version import __version__
from .document import justification, markdown_text, plain
from .layout import OPERATOR, break_lines, estimate_width
from .printing import BackpropLatexPrinter, Notation, UnicodeTextPrinter, function_names
from .steps import Step, derivation_steps

PORTRAIT_SPECS = 4
"""Derivations a portrait page holds side by side; more go on a landscape page."""
MAX_SPECS = 6
"""Derivations a LaTeX comparison holds at most (a landscape page's columns)."""
TEXT_WIDTH = {False: 483.7, True: 731.3}
"""The text width in points of an A4 page with 2 cm margins: portrait, landscape."""
GAP = 0.02
"""The space between two columns, a fraction of the line."""
QUAD = 10.0
"""A ``\\quad`` (pt), the indent of a continued right-hand side."""
ESTIMATE = 1.15
"""How much wider than ``layout.estimate_width`` a printed side may set (measured on the
steps of xor, digits and softmax/MSE, BCE, 4-layer and own-function specs: at most 1.13)."""
SLACK = 4.0
"""Points of each column kept free besides."""
BESIDE = 0.55
"""A right-hand side stays beside its left-hand side where that leaves it this fraction of the
column; else the left-hand side and ``=`` stand on a line of their own."""


@dataclass(frozen=True)
class Column:
    """One derivation's column: its heading (the spec's name, or its file where two specs share
    a name) and the network it describes."""

    label: str
    spec: Spec

    @property
    def layers(self) -> str:
        return "-".join(str(size) for size in self.spec.layers)

    def names(self, fmt: str) -> dict[str, Any]:
        """Its hidden activations (each once, joined), output and loss as ``fmt`` prints them
        (an expression written in the spec by its letter, never by its text)."""
        escape = {"latex": latex_breakable, "markdown": markdown_escaped, "text": plain_line}
        names = function_names(self.spec, fmt, escape[fmt])
        return names | {"hidden": ", ".join(dict.fromkeys(names["hidden"]))}


@dataclass(frozen=True)
class Page:
    """How a LaTeX comparison is laid out: the page's orientation, each column's width (a
    fraction of the line) and the points a printed equation may take in a column."""

    landscape: bool
    width: float
    gap: float
    points: float


@dataclass(frozen=True)
class Cell:
    """One derivation's step in a row: the result as derived (``rhs``), as printed (``lines``:
    one in text and Markdown, a long LaTeX side broken over several), and its reason."""

    rhs: sp.Basic
    lines: tuple[str, ...]
    why: str
    alone: bool = False
    """The left-hand side and ``=`` stand on a line of their own, the right-hand side under."""
    width: float = 0.0
    """The points the cell's equation takes as laid out (estimated; LaTeX only)."""


@dataclass(frozen=True)
class Difference:
    """One step that reads differently in at least one derivation: its left-hand side (the
    expression and as printed) and a cell per derivation (None where it has no such step)."""

    section: str
    quantity: sp.Basic
    lhs: str
    cells: tuple[Cell | None, ...]


def check_count(count: int, fmt: str) -> None:
    """Refuse a LaTeX comparison of more derivations than a page holds side by side."""
    if fmt == "latex" and count > MAX_SPECS:
        raise SymbackpropError(
            f"a LaTeX page holds at most {MAX_SPECS} specs side by side ({count} given); "
            "compare fewer, or use --format text or markdown",
            "--compare",
        )


def page_for(count: int, landscape: bool | None = None) -> Page:
    """The page and column widths for ``count`` derivations side by side (landscape where
    ``landscape`` says, else beyond ``PORTRAIT_SPECS``)."""
    landscape = count > PORTRAIT_SPECS if landscape is None else landscape
    width = round((1 - GAP * (count - 1)) / count - 0.002, 3)
    return Page(landscape, width, GAP, width * TEXT_WIDTH[landscape] - SLACK)


def differences(
    derivations: Sequence[Derivation], fmt: str, notation: Notation
) -> list[Difference]:
    """The steps whose printed right-hand sides differ in at least one derivation, in reading
    order (a step only some derivations have comes after the step before it in theirs), each
    right-hand side printed on one line (``laid_out`` breaks them into LaTeX columns)."""
    latex = BackpropLatexPrinter(notation)
    printer = latex.doprint if fmt != "text" else text_printer(notation)
    every = [derivation_steps(derivation) for derivation in derivations]
    keyed = [{(s.section, printer(s.lhs)): s for s in steps} for steps in every]
    referrers = [_referrer(steps, printer, fmt) for steps in every]
    out = []
    for key in merged([list(steps) for steps in keyed]):
        steps = [steps.get(key) for steps in keyed]
        printed = [printer(s.rhs[-1]) if s else None for s in steps]
        if len(set(printed)) == 1:
            continue
        cells = tuple(
            None if step is None else Cell(step.rhs[-1], (text,), _reason(step, refs, printer, fmt))
            for step, text, refs in zip(steps, printed, referrers, strict=True)
        )
        quantity = next(step.lhs for step in steps if step is not None)
        out.append(Difference(key[0], quantity, key[1], cells))
    return out


def merged(orders: list[list]) -> list:
    """The keys of every order, each once: the first order's, then each key another order adds
    placed after the key before it there."""
    out: list = []
    for order in orders:
        at = 0
        for key in order:
            if key in out:
                at = out.index(key) + 1
            else:
                out.insert(at, key)
                at += 1
    return out


def _referrer(steps: Sequence[Step], printer, fmt: str):  # noqa: ANN001, ANN202
    """How a reason cites another step of the same derivation (no equation numbers here)."""
    labelled = {s.label: s for s in steps if s.label}

    def refs(label: str) -> str:
        lhs = printer(labelled[label].lhs)
        return f"the step for {lhs}" if fmt == "text" else f"the step for ${lhs}$"

    return refs


def _reason(step: Step, refs, printer, fmt: str) -> str:  # noqa: ANN001
    """A step's reason in ``fmt``."""
    why = justification(step, printer, refs)
    if fmt == "text":
        return plain(why)
    return markdown_text(why) if fmt == "markdown" else why


def laid_out(
    rows: list[Difference], page: Page, printer: BackpropLatexPrinter
) -> list[Difference]:
    """The rows with each LaTeX cell fitted to ``page``'s column: on one line where it fits,
    else broken by ``layout.break_lines`` beside its left-hand side or, where that leaves too
    little room, under it. (A side that cannot be broken narrowly enough stays wider.)"""
    out = []
    for row in rows:
        lhs = ESTIMATE * estimate_width(row.lhs)
        cells = tuple(
            None if cell is None else _fitted(cell, lhs, page.points, printer)
            for cell in row.cells
        )
        out.append(replace(row, cells=cells))
    return out


def _fitted(cell: Cell, lhs: float, points: float, printer: BackpropLatexPrinter) -> Cell:
    """A cell on one line where it fits; else broken beside its left-hand side where that
    leaves room (``BESIDE``) and fits, else under it (the narrower of the two if neither fits)."""
    (whole,) = cell.lines
    width = lhs + OPERATOR + ESTIMATE * estimate_width(whole)
    if width <= points:
        return replace(cell, width=width)
    tries = [True] if points - lhs - OPERATOR - QUAD >= BESIDE * points else []
    laid = [_broken(cell, lhs, points, printer, beside) for beside in [*tries, False]]
    return next((try_ for try_ in laid if try_.width <= points), min(laid, key=_width))


def _width(cell: Cell) -> float:
    return cell.width


def _broken(
    cell: Cell, lhs: float, points: float, printer: BackpropLatexPrinter, beside: bool
) -> Cell:
    """The cell's right-hand side broken beside its left-hand side (``lhs &= ...``, further
    lines ``&\\quad ...``), or under it (``& lhs = \\\\ &\\quad ...``, every line after a
    ``\\quad``)."""
    start, further = (lhs + OPERATOR, lhs + QUAD) if beside else (QUAD, QUAD)
    budget, first = (points - further) / ESTIMATE, (points - start) / ESTIMATE
    lines = tuple(break_lines(cell.rhs, printer, budget, first))
    widths = [ESTIMATE * estimate_width(line) for line in lines]
    width = max([start + widths[0], *(further + w for w in widths[1:])])
    width = width if beside else max(width, lhs + OPERATOR)
    return replace(cell, lines=lines, alone=not beside, width=width)


def fitting(
    derivations: Sequence[Derivation], notation: Notation
) -> tuple[Page, list[Difference]]:
    """The page a LaTeX comparison fits on and its rows laid out for it: portrait up to
    ``PORTRAIT_SPECS`` derivations, landscape beyond, or where a portrait column is too narrow
    for a side the layout cannot break; refused where a landscape column is too narrow."""
    count = len(derivations)
    check_count(count, "latex")
    printer = BackpropLatexPrinter(notation)
    rows = differences(derivations, "latex", notation)
    for landscape in (False, True) if count <= PORTRAIT_SPECS else (True,):
        page = page_for(count, landscape)
        placed = laid_out(rows, page, printer)
        widths = [(cell.width, row, n) for row in placed for n, cell in enumerate(row.cells)
                  if cell is not None]  # fmt: skip
        widest, row, number = max(widths, key=lambda item: item[0], default=(0.0, None, 0))
        if widest <= page.points:
            return page, placed
    fits = max((k for k in range(2, count) if page_for(k, True).points >= widest), default=1)
    label = columns(derivations)[number].label
    step = text_printer(notation)(row.quantity)
    raise SymbackpropError(
        f"{label}'s step for {step} is too wide for a column of {count} specs side by side, "
        f"even on a landscape page; compare at most {fits} specs with {label} "
        "(or use --format text or markdown)",
        "--compare",
    )


def text_printer(notation: Notation):  # noqa: ANN201 - a printing function
    """The text format's printer: indices counted as ``notation`` counts them, a textbook
    profile's own symbols (the default profile keeps the code's names, as documents do)."""
    textbook = notation if notation.name != "default" else None
    return UnicodeTextPrinter(notation.index_offset, notation=textbook).doprint


def convention(notation: Notation) -> str:
    """The comparison's sentence on its notation: the profile and where indices start."""
    profile = "" if notation.name == "default" else f"{notation.name.capitalize()}'s notation; "
    sentence = profile + notation.convention()
    return sentence[0].upper() + sentence[1:]


def columns(derivations: Sequence[Derivation]) -> tuple[Column, ...]:
    """Each derivation's column heading: its spec's name; where specs share a name, each one's
    file as given (a built-in's name or the path), or where that does not tell them apart (a
    spec made in memory), the name numbered: ``xor (1)``, ``xor (2)``."""
    specs = [d.network.spec for d in derivations]
    names = [spec.name for spec in specs]
    labels = []
    for position, spec in enumerate(specs):
        origins = {other.origin for other in specs if other.name == spec.name}
        if names.count(spec.name) == 1:
            labels.append(spec.name)
        elif len(origins) == names.count(spec.name) and "" not in origins:
            labels.append(spec.origin)
        else:
            labels.append(f"{spec.name} ({names[: position + 1].count(spec.name)})")
    return tuple(Column(label, spec) for label, spec in zip(labels, specs, strict=True))


def compare(derivations: Sequence[Derivation], fmt: str, notation: Notation) -> str:
    """The derivations side by side where they differ, in ``fmt`` (latex, markdown, text)."""
    template = {
        "latex": "compare.tex.jinja",
        "markdown": "compare.md.jinja",
        "text": "compare.txt.jinja",
    }[fmt]
    page = None
    if fmt == "latex":
        page, rows = fitting(derivations, notation)
    else:
        rows = differences(derivations, fmt, notation)
    if fmt == "markdown":
        rows = [_table_safe(row) for row in rows]
    return _rendered(template, derivations, rows, page, notation)


def _rendered(
    template: str,
    derivations: Sequence[Derivation],
    rows: list[Difference],
    page: Page | None,
    notation: Notation,
) -> str:
    return (
        environment()
        .get_template(template)
        .render(
            columns=columns(derivations),
            rows=rows,
            page=page,
            version=__version__,
            convention=convention(notation),
        )
    )


def _no_pipes(text_: str) -> str:
    """A table cell's text with no bare ``|`` (it would split the GFM cell): ``\\vert`` inside
    math, ``&#124;`` outside."""
    parts = re.split(r"(\$[^$]*\$)", text_)
    return "".join(
        part.replace("|", r"\vert ") if part.startswith("$") else part.replace("|", "&#124;")
        for part in parts
    )


def _table_safe(row: Difference) -> Difference:
    def math(text_: str) -> str:
        return _no_pipes(f"${text_}$")[1:-1]

    cells = tuple(
        None
        if cell is None
        else replace(cell, lines=tuple(math(line) for line in cell.lines), why=_no_pipes(cell.why))
        for cell in row.cells
    )
    return replace(row, lhs=math(row.lhs), cells=cells)


def compare_document(derivations: Sequence[Derivation], notation: Notation) -> str:
    """A complete LaTeX document holding the side-by-side comparison (on a landscape page
    where the columns need one)."""
    page, rows = fitting(derivations, notation)
    body = _rendered("compare.tex.jinja", derivations, rows, page, notation)
    return (
        environment()
        .get_template("compare_document.tex.jinja")
        .render(columns=columns(derivations), page=page, version=__version__, body=body)
    )
