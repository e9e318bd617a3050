"""Two derivations side by side, where they differ (e.g. sigmoid with MSE vs with BCE)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..symbolic.derivation import Derivation
from ..util.resources import environment
from ..util.version import __version__
from .document import justification, markdown_text, plain
from .printing import BackpropLatexPrinter, Notation, UnicodeTextPrinter
from .steps import Step, derivation_steps


@dataclass(frozen=True)
class Difference:
    """One step that reads differently in the two derivations (None where one lacks it)."""

    section: str
    lhs: str
    left: str | None
    right: str | None
    left_why: str
    right_why: str


def differences(
    left: Derivation, right: Derivation, fmt: str, notation: Notation
) -> list[Difference]:
    """The steps whose printed right-hand sides differ, in the left derivation's order."""
    printer = BackpropLatexPrinter(notation).doprint if fmt != "text" else text_printer(notation)

    def keyed(derivation: Derivation) -> dict[tuple[str, str], Step]:
        return {(s.section, printer(s.lhs)): s for s in derivation_steps(derivation)}

    def referrer(derivation: Derivation):  # noqa: ANN202
        labelled = {s.label: s for s in derivation_steps(derivation) if s.label}

        def refs(label: str) -> str:
            lhs = printer(labelled[label].lhs)
            return f"the step for {lhs}" if fmt == "text" else f"the step for ${lhs}$"

        return refs

    a, b = keyed(left), keyed(right)
    order = list(a) + [key for key in b if key not in a]
    out = []
    for key in order:
        sa, sb = a.get(key), b.get(key)
        ra = printer(sa.rhs[-1]) if sa else None
        rb = printer(sb.rhs[-1]) if sb else None
        if ra != rb:
            why_a = justification(sa, printer, referrer(left)) if sa else ""
            why_b = justification(sb, printer, referrer(right)) if sb else ""
            if fmt == "text":
                why_a, why_b = plain(why_a), plain(why_b)
            elif fmt == "markdown":
                why_a, why_b = markdown_text(why_a), markdown_text(why_b)
            out.append(Difference(key[0], key[1], ra, rb, why_a, why_b))
    return out


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


def compare(left: Derivation, right: Derivation, fmt: str, notation: Notation) -> str:
    """The two derivations side by side where they differ, in ``fmt`` (latex, markdown, text)."""
    template = {
        "latex": "compare.tex.jinja",
        "markdown": "compare.md.jinja",
        "text": "compare.txt.jinja",
    }[fmt]
    rows = differences(left, right, fmt, notation)
    if fmt == "markdown":
        rows = [_table_safe(row) for row in rows]
    return (
        environment()
        .get_template(template)
        .render(
            left=left.network.spec,
            right=right.network.spec,
            rows=rows,
            version=__version__,
            convention=convention(notation),
        )
    )


def _no_pipes(text_: str | None) -> str | None:
    """A table cell's text with no bare ``|`` (it would split the GFM cell): ``\\vert`` inside
    math, ``&#124;`` outside."""
    if text_ is None:
        return None
    parts = re.split(r"(\$[^$]*\$)", text_)
    return "".join(
        part.replace("|", r"\vert ") if part.startswith("$") else part.replace("|", "&#124;")
        for part in parts
    )


def _table_safe(row: Difference) -> Difference:
    def math(text_: str | None) -> str | None:
        return None if text_ is None else _no_pipes(f"${text_}$")[1:-1]

    return Difference(
        row.section,
        math(row.lhs) or "",
        math(row.left),
        math(row.right),
        _no_pipes(row.left_why) or "",
        _no_pipes(row.right_why) or "",
    )


def compare_document(left: Derivation, right: Derivation, notation: Notation) -> str:
    """A complete LaTeX document holding the side-by-side comparison."""
    return (
        environment()
        .get_template("compare_document.tex.jinja")
        .render(
            left=left.network.spec,
            right=right.network.spec,
            version=__version__,
            body=compare(left, right, "latex", notation),
        )
    )
