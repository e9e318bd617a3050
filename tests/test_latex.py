"""Derivation documents: they compile with pdflatex, match their golden files, render in Jupyter."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

import symbackprop
from symbackprop.pipeline import derivation_of
from symbackprop.render.compare import compare, compare_document
from symbackprop.run.documents import document_for
from symbackprop.spec.model import load_spec, parse_spec

GOLDEN = ROOT / "tests" / "golden"
HAVE_LATEX = shutil.which("pdflatex") is not None
needs_latex = pytest.mark.skipif(
    not HAVE_LATEX and not os.environ.get("SYMBACKPROP_REQUIRE_LATEX"),
    reason="pdflatex is not installed (CI sets SYMBACKPROP_REQUIRE_LATEX=1 and installs it)",
)

BCE = parse_spec(
    {
        "name": "xor_bce",
        "network": {
            "layers": [2, 4, 1],
            "activation": "tanh",
            "output": "sigmoid",
            "loss": "binary_cross_entropy",
        },
    }
)


def pdflatex(tex: str, folder: Path) -> Path:
    """Compile a document without edits; fail the test with LaTeX's first error."""
    source = folder / "doc.tex"
    source.write_text(tex)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors[:3] or result.stdout[-2000:]
    pdf = folder / "doc.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    return pdf


DOCUMENTS = {
    "xor": dict(spec="xor"),
    "digits": dict(spec="digits"),
    "xor-expand": dict(spec="xor", expand=True),
    "xor-example": dict(spec="xor", example=True),
    "digits-example": dict(spec="digits", example=True),
    "xor-weight": dict(spec="xor", weight="W1[0,1]"),
    "digits-weight": dict(spec="digits", weight="W2[3,1]"),
    "digits-nielsen": dict(spec="digits", notation="nielsen"),
}


@needs_latex
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.slow) if c == "digits-example" else c
        for c in sorted(DOCUMENTS)
    ],
)  # digits' worked example compiles a module too: -m slow
def test_documents_compile(case: str, tmp_path: Path) -> None:
    options = dict(DOCUMENTS[case])
    spec = load_spec(options.pop("spec"))
    pdflatex(document_for(spec, **options).document(), tmp_path)


@needs_latex
def test_comparison_compiles(tmp_path: Path) -> None:
    pdflatex(
        compare_document(
            [derivation_of(load_spec("xor")), derivation_of(BCE)],
            symbackprop.render.document.NOTATIONS["default"],
        ),
        tmp_path,
    )


def test_comparison_shows_the_cancelled_factor() -> None:
    notation = symbackprop.render.document.NOTATIONS["default"]
    text = compare([derivation_of(load_spec("xor")), derivation_of(BCE)], "text", notation)
    delta_rows = text.split("δ2[p]")[1]
    assert "2·a2[p]·(1 - a2[p])·(a2[p] - y[p])/n2" in delta_rows  # MSE keeps sigma'
    assert "(a2[p] - y[p])/n2" in delta_rows and "cancels" in delta_rows  # BCE cancels it
    assert "z1[j]" not in text  # identical steps are left out


def test_comparison_states_its_index_convention_and_counts_by_it() -> None:
    """Issue 19: ``--compare`` says where indices start, in every format, and its text form
    counts as ``--indices`` (and the profile) say."""
    from symbackprop.render.printing import NOTATIONS

    xor, bce = derivation_of(load_spec("xor")), derivation_of(BCE)
    default, from_1 = NOTATIONS["default"], NOTATIONS["default"].counted_from(1)
    for fmt in ("latex", "markdown", "text"):
        assert "Indices start at 0 (as in the code)." in compare([xor, bce], fmt, default)
        assert "Indices start at 1." in compare([xor, bce], fmt, from_1)
    nielsen = compare([xor, bce], "text", NOTATIONS["nielsen"])
    assert "Nielsen's notation; indices start at 1." in nielsen
    assert "δ³[p]" in nielsen and "δ2[p]" not in nielsen and "\nC\n" in nielsen
    assert "Indices start at 1." in compare_document([xor, bce], from_1)
    # concrete indices (a weight's step) are counted from the profile's first index
    from symbackprop.render.compare import text_printer
    from symbackprop.symbolic.network import build_network

    w = build_network(load_spec("xor")).layers[0].W[0, 1]
    assert text_printer(from_1)(w) == "W1[1, 2]" and text_printer(default)(w) == "W1[0, 1]"


@pytest.mark.parametrize("name", ["xor", "digits"])
@pytest.mark.parametrize("fmt", ["latex", "markdown", "text"])
def test_golden_derivations(name: str, fmt: str) -> None:
    """The built-in derivations equal their golden files (update: scripts/regenerate.py)."""
    suffix = {"latex": "tex", "markdown": "md", "text": "txt"}[fmt]
    golden = GOLDEN / f"{name}.{suffix}"
    assert document_for(load_spec(name)).render(fmt) == golden.read_text(), (
        f"{golden} is out of date: run `python scripts/regenerate.py` and review the diff"
    )


def test_notebook_api() -> None:
    doc = symbackprop.derive("xor")
    assert doc.latex().startswith("% Generated") and not hasattr(doc, "_repr_latex_")
    assert doc._repr_markdown_() == doc.markdown() and "$$" in doc.markdown()
    assert doc.markdown().count("$$") % 2 == 0
    sections = {step.section for step in doc.steps}
    assert {
        "forward",
        "loss",
        "activations",
        "output",
        "backprop",
        "gradients",
        "update",
    } <= sections
    with_example = symbackprop.derive("xor", example=True, notation="nielsen")
    # Nielsen numbers the input layer 1: the first weights are w^2, the input a^1.
    assert "Worked example" in with_example.text() and "w^{2}" in with_example.latex()
    assert "a^{1}" in with_example.latex() and "w^{1}" not in with_example.latex()


def test_forward_value_forms_are_shown() -> None:
    latex = symbackprop.derive("xor").latex()
    # The dummy variable is u (x is the network input); s(1 - s) in textbook order.
    assert r"\sigma'\bigl(u\bigr)" in latex and r"\sigma'\bigl(x\bigr)" not in latex
    assert r"\sigma\bigl(u\bigr) \left(1 - \sigma\bigl(u\bigr)\right)" in latex
    assert r"\tanh'\bigl(u\bigr) &= 1 - \tanh^{2}" in latex
    digits = symbackprop.derive("digits").latex()
    assert r"\sum_j y_j = 1" in digits and r"a^{(2)}_{p} - y_{p}" in digits


def test_expand_refuses_big_networks() -> None:
    from symbackprop.errors import SymbackpropError

    with pytest.raises(SymbackpropError, match="2410 parameters"):
        document_for(load_spec("digits"), expand=True)


def test_weight_paths_count() -> None:
    doc = document_for(load_spec("xor"), weight="W1[0,1]")
    paths = [s for s in doc.steps if s.section == "paths"]
    assert len(paths) == 2  # one path through the single output, plus the total
    doc = document_for(load_spec("digits"), weight="W2[3,1]")
    assert len([s for s in doc.steps if s.section == "paths"]) == 11  # softmax: 10 paths


@pytest.mark.parametrize(
    "options",
    [dict(expand=True, weight="W1[2,1]"), dict(weight="b1[0]")],
)
def test_extra_sections_match_the_module(options: dict) -> None:
    """Closed forms and path sums, evaluated with the module's numbers, equal its gradients."""
    from symbackprop.render.numeric import check_step
    from symbackprop.run.example import example_values

    doc = document_for(load_spec("xor"), **options)
    values = example_values(doc.derivation, seed=3)
    sizes = doc.derivation.network.concrete_sizes()
    extra = [step for section in doc.extra for step in section.steps if step.check]
    assert extra
    for step in extra:
        assert check_step(step, values, sizes) == [], step


def test_inspect_steps_match_the_module() -> None:
    from symbackprop.pipeline import derivation_of
    from symbackprop.render.closed_forms import inspect_steps
    from symbackprop.render.numeric import check_step
    from symbackprop.run.example import example_values
    from symbackprop.symbolic.expansion import parse_param

    for name, weight in [("xor", "W1[3,0]"), ("digits", "W1[3,5]"), ("digits", "b2[4]")]:
        derivation = derivation_of(name)
        values = example_values(derivation, seed=1)
        steps = inspect_steps(derivation, parse_param(weight, derivation.network.spec))
        for step in steps:
            assert check_step(step, values, derivation.network.concrete_sizes()) == []


@pytest.mark.parametrize("spec", ["xor", "digits"])
def test_derivative_steps_match_finite_differences(spec: str) -> None:
    """The displayed dL/da and f'(x) steps (no module array behind them) against central
    differences of the displayed definitions."""
    import random

    import sympy as sp

    from symbackprop.symbolic.derivation import L
    from symbackprop.symbolic.network import ActivationFunction, ActivationPrime, p

    doc = symbackprop.derive(spec)
    network = doc.derivation.network
    rng = random.Random(0)
    n = network.concrete_sizes()[network.output.n_out]
    loss_step = next(s for s in doc.steps if s.lhs == L)
    a, y = network.output.a, network.y
    point = {a[k]: sp.Float(rng.uniform(0.05, 0.95)) for k in range(n)}
    point |= {y[k]: sp.Float(rng.uniform(0, 1)) for k in range(n)}
    loss = loss_step.rhs[0].xreplace({network.output.n_out: n}).doit()
    da_step = next(s for s in doc.steps if s.section == "loss" and s.lhs != L)
    for k in range(n):
        h = 1e-6
        up = loss.xreplace(point | {a[k]: point[a[k]] + h})
        down = loss.xreplace(point | {a[k]: point[a[k]] - h})
        numeric = float((up - down) / (2 * h))
        shown = da_step.rhs[-1].xreplace({p: k, network.output.n_out: n}).xreplace(point)
        assert float(shown) == pytest.approx(numeric, rel=1e-6)
    for step in (s for s in doc.steps if s.section == "activations"):
        x = step.lhs.args[0]  # the dummy variable u
        f = type(step.lhs).activation.expr.subs(symbackprop.spec.functions.x, x)
        for value in [-1.7, -0.2, 0.3, 2.2]:
            numeric = float((f.subs(x, value + 1e-6) - f.subs(x, value - 1e-6)) / 2e-6)
            for rhs in step.rhs:
                expanded = rhs.replace(
                    lambda e: isinstance(e, ActivationFunction | ActivationPrime),
                    lambda e: e.expanded(),
                )
                assert float(expanded.subs(x, value)) == pytest.approx(numeric, rel=1e-6)


def test_pdf_without_a_latex_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--pdf with no engine installed: one clear line, nothing written."""
    import symbackprop.render.document as document
    from symbackprop.errors import SymbackpropError

    monkeypatch.setattr(document.shutil, "which", lambda name: None)
    target = tmp_path / "xor.pdf"
    with pytest.raises(SymbackpropError, match="no LaTeX engine found"):
        document.compile_pdf(document_for(load_spec("xor")).document(), target)
    assert not target.exists()


@needs_latex
@pytest.mark.parametrize(("name", "notation"), [("xor", "default"), ("digits", "nielsen")])
def test_forms_compile_without_overfull_boxes(name: str, notation: str, tmp_path: Path) -> None:
    """``derive --forms index,matrix,batch``: the three columns fit the page."""
    document = document_for(load_spec(name), notation, forms="index,matrix,batch")
    pdflatex(document.document(), tmp_path)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line]


@needs_latex
def test_example_with_fd_has_no_overfull_box(tmp_path: Path) -> None:
    """``--example`` and ``--example --fd`` compile with no overfull box: the written-out
    substitutions break between their terms like any long line."""
    for fd in (False, True):
        folder = tmp_path / str(fd)
        folder.mkdir()
        pdflatex(document_for(load_spec("xor"), example=True, fd=fd).document(), folder)
        log = (folder / "doc.log").read_text(errors="replace")
        assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line]
