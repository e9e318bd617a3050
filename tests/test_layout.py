"""Every document fits the page: compiled with pdflatex, its log holds no overfull box.

pdflatex reports one ``Overfull \\hbox`` per display that is too wide (not one per line), so
a single occurrence fails the test.  The default run compiles xor, digits, an --expand and a
--weight document, the comparison and the notation profiles; the 4-layer network and the
worked examples (which run a generated module) are marked slow.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import make_spec
from test_latex import BCE, needs_latex, pdflatex

from symbackprop.pipeline import derivation_of
from symbackprop.render.compare import compare_document
from symbackprop.render.layout import break_lines, estimate_width
from symbackprop.render.printing import NOTATIONS, BackpropLatexPrinter
from symbackprop.run.documents import document_for
from symbackprop.spec.model import load_spec

DEEP = make_spec([4, 5, 4, 3], "softmax", "cross_entropy", ["relu", "tanh"], "deep")
"""A 4-layer relu/tanh/softmax network (4-5-4-3)."""

FAST = {
    "xor": ("xor", {}),
    "digits": ("digits", {}),
    "xor-expand": ("xor", {"expand": True}),
    "xor-weight": ("xor", {"weight": "W1[0,1]"}),
    "digits-weight": ("digits", {"weight": "W2[3,1]"}),
    "xor-nielsen": ("xor", {"notation": "nielsen"}),
    "digits-goodfellow": ("digits", {"notation": "goodfellow"}),
}
SLOW = {
    "deep": (DEEP, {}),
    "deep-weight": (DEEP, {"weight": "W1[0,1]"}),
    "deep-nielsen": (DEEP, {"notation": "nielsen"}),
    "xor-example": ("xor", {"example": True}),
    "digits-example": ("digits", {"example": True}),
    "deep-example": (DEEP, {"example": True}),
    "xor-nielsen-expand": ("xor", {"notation": "nielsen", "expand": True}),
}


def overfull_boxes(tex: str, folder: Path) -> list[str]:
    """Compile once with pdflatex; the overfull-box lines of the log (errors fail the test)."""
    pdflatex(tex, folder)
    log = (folder / "doc.log").read_text(errors="replace")
    return [line for line in log.splitlines() if re.match(r"Overfull \\[hv]box", line)]


def _document(spec, options: dict) -> str:  # noqa: ANN001
    spec = load_spec(spec) if isinstance(spec, str) else spec
    return document_for(spec, **options).document()


@needs_latex
@pytest.mark.parametrize("case", sorted(FAST))
def test_documents_fit_the_page(case: str, tmp_path: Path) -> None:
    spec, options = FAST[case]
    tex = _document(spec, options)
    assert "+ -" not in tex
    assert overfull_boxes(tex, tmp_path) == []


@needs_latex
@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SLOW))
def test_more_documents_fit_the_page(case: str, tmp_path: Path) -> None:
    spec, options = SLOW[case]
    tex = _document(spec, options)
    assert "+ -" not in tex
    assert overfull_boxes(tex, tmp_path) == []


@needs_latex
def test_comparison_fits_the_page(tmp_path: Path) -> None:
    xor, bce = derivation_of(load_spec("xor")), derivation_of(BCE)
    tex = compare_document([xor, bce], NOTATIONS["default"])
    assert overfull_boxes(tex, tmp_path) == []


@needs_latex
def test_overfull_boxes_are_detected(tmp_path: Path) -> None:
    """The check itself: a display wider than the page is reported."""
    wide = " + ".join(f"x_{{{n}}}" for n in range(200))
    tex = (
        "\\documentclass{article}\\usepackage{amsmath}\\begin{document}"
        f"\\begin{{align}}y &= {wide}\\end{{align}}\\end{{document}}"
    )
    assert overfull_boxes(tex, tmp_path)


def test_long_sides_are_broken_within_the_budget() -> None:
    """A long sum breaks at its terms into lines within the budget, and nothing is lost."""
    import sympy as sp

    terms = sp.symbols("t0:40")
    expr = sp.Add(*[t * sp.Symbol(f"w{n}") for n, t in enumerate(terms)])
    printer = BackpropLatexPrinter()
    lines = break_lines(expr, printer, 150)
    assert len(lines) > 3 and all(estimate_width(line) <= 150 for line in lines)
    assert " ".join(lines).replace(" ", "") == printer.doprint(expr).replace(" ", "")


def test_width_estimate_orders_sizes() -> None:
    assert estimate_width(r"\frac{a + b}{c}") < estimate_width(r"a + b + c")
    assert estimate_width(r"W^{(1)}_{jk}") < estimate_width(r"W^{(1)} W^{(1)}")
    assert estimate_width(r"\sum_{j=0}^{n_{2} - 1} x_j") < 40
