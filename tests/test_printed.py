"""Every displayed equation equals, as printed, the expression it came from.

Each right-hand side of each step is read back from the LaTeX rows the document lays out (long
sides broken over lines included) by ``printed.parse_printed`` and compared numerically with
the SymPy expression the step holds, at concrete sizes and random values for every leaf. The
other tests evaluate the SymPy objects; this one evaluates the text a reader sees.
"""

from __future__ import annotations

import random
import re

import pytest
import sympy as sp
from conftest import ROOT, make_spec
from printed import Unparsed, numeric, parse_printed

from symbackprop import parse_expression
from symbackprop.pipeline import derivation_of
from symbackprop.render.diagram import diagram
from symbackprop.render.document import derivation_document
from symbackprop.render.printing import BackpropLatexPrinter
from symbackprop.render.steps import Chain
from symbackprop.run.example import example_for_spec
from symbackprop.spec.model import load_spec, parse_spec

CE342 = parse_spec(
    {
        "name": "ce342",
        "network": {
            "layers": [3, 4, 2],
            "activation": "tanh",
            "output": "softmax",
            "loss": "cross_entropy",
        },
    }
)
"""Issue 19's 3-4-2 tanh/softmax/cross-entropy network: its per-path products printed
``-a_i a_j`` without parentheses."""

OWN = parse_spec(
    {
        "name": "own",
        "network": {
            "layers": [2, 3, 2, 1],
            "activation": ["my_swish", "tanh"],
            "output": "identity",
            "loss": "my_huber",
        },
        "functions": {
            "my_swish": {"activation": "x/(1 + exp(-x))"},
            "my_huber": {
                "loss": "Piecewise(((a - y)**2/2, Abs(a - y) <= 1), (Abs(a - y) - 1/2, True))"
            },
        },
    }
)
"""A network of the user's own functions (an expression activation, a Piecewise loss)."""

MAZUR = load_spec(ROOT / "tests" / "fixtures" / "mazur.toml")
"""Mazur's 2-2-2 sigmoid network (his weights are not needed: the module's init weights)."""

DEEP = make_spec([4, 5, 4, 3], "softmax", "cross_entropy", ["relu", "tanh"], "deep")

CASES = {
    "xor": ("xor", {}),
    "xor-expand": ("xor", {"expand": True}),
    "xor-weight": ("xor", {"weight": "W1[0,1]"}),
    "xor-weight-from-1": ("xor", {"weight": "W1[0,1]", "indices": 1}),
    "digits-goodfellow": ("digits", {"notation": "goodfellow"}),
    "ce342-weight-nielsen": (CE342, {"weight": "W1[0,1]", "notation": "nielsen"}),
    "ce342-weight": (CE342, {"weight": "W1[0,1]"}),
    "ce342-expand": (CE342, {"expand": True}),
    "own-weight": (OWN, {"weight": "W1[1,0]"}),
    "deep-nielsen": (DEEP, {"notation": "nielsen"}),
    "xor-example": ("xor", {"example": True}),
    "xor-example-digits": ("xor", {"example": True, "digits": 7, "indices": 1}),
    "ce342-example-goodfellow": (CE342, {"example": True, "notation": "goodfellow"}),
    "own-example": (OWN, {"example": True}),
    "mazur-example-nielsen": (MAZUR, {"example": True, "notation": "nielsen"}),
}


def _rhs_texts(line) -> list[str]:  # noqa: ANN001 - a PrintedLine
    """Each right-hand side's text, its broken rows joined again."""
    texts: list[str] = []
    for row in line.rows:
        if not row.relation:  # a long left side alone on its row
            continue
        if row.relation == r"\qquad":
            texts[-1] += " " + row.text
        else:
            texts.append(row.text)
    return texts


def _checked(case: str) -> tuple[int, list[str]]:
    spec, options = CASES[case]
    spec = load_spec(spec) if isinstance(spec, str) else spec
    derivation = derivation_of(spec)
    if options.get("example"):  # the worked example's numbers, from the generated module
        options = options | {"example": example_for_spec(spec, derivation)}
    document = derivation_document(derivation, **options)
    printer = BackpropLatexPrinter(document.notation)
    sizes = derivation.network.concrete_sizes()
    count, problems = 0, []
    for section, printed in zip(document.sections(), document.printed(), strict=True):
        for step, line in zip(section.steps, printed.lines, strict=True):
            for rhs, text in zip(step.rhs, _rhs_texts(line), strict=True):
                if isinstance(rhs, sp.MatrixExpr | sp.MatrixBase) or rhs.has(sp.MatrixExpr):
                    continue  # matrix forms: shapes, not numbers
                count += 1
                problems += _compare(rhs, text, printer, sizes)
    return count, problems


def _compare(rhs: sp.Basic, text: str, printer, sizes: dict) -> list[str]:  # noqa: ANN001
    try:
        parsed = parse_printed(text, rhs, printer)
    except Unparsed as exc:
        return [f"{text}: not read back ({exc})"]
    problems = []
    for trial in range(2):
        random.seed(trial)
        draws: dict = {}
        indices = _free_indices(rhs)
        want = numeric(rhs.xreplace(indices), sizes, draws)
        got = numeric(parsed.xreplace(indices), sizes, draws)
        if abs(got - want) > 1e-12 * max(1.0, abs(want)):
            problems.append(f"{text}: printed value {got} != {want}")
    return problems


def _free_indices(expr: sp.Basic) -> dict:
    """Free index symbols (in an element's indices, unbound by a sum) at 0."""
    sums = [s for s in sp.preorder_traversal(expr) if isinstance(s, sp.Sum)]
    bound = {limit[0] for s in sums for limit in s.limits}
    used = {
        symbol
        for element in expr.atoms(sp.Indexed)
        for index in element.indices
        for symbol in sp.sympify(index).free_symbols
    }
    return {symbol: 0 for symbol in used - bound}


SLOW_CASES = {"ce342-example-goodfellow"}
"""Read back under -m slow only (default-run budget; the other worked examples stay)."""


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in sorted(CASES)],
)
def test_every_equation_reads_back_as_its_expression(case: str) -> None:
    count, problems = _checked(case)
    assert count > 10
    assert problems == []


def test_a_product_printed_without_its_parentheses_is_caught() -> None:
    """The check is not vacuous: ``a (-b c)`` printed as ``a - b c`` reads back differently."""
    a, b, c = sp.symbols("a b c", positive=True)
    printer = BackpropLatexPrinter()
    expr = Chain(a, -b * c)
    assert _compare(expr, printer.doprint(expr), printer, {}) == []
    assert _compare(expr, "a - b c", printer, {})
    assert _compare(expr, r"a \left(- b\right) c", printer, {}) == []


def test_the_softmax_path_keeps_its_minus_inside_the_product() -> None:
    """Issue 19's defect: the Jacobian entry -a_i a_j of a per-path product."""
    spec, options = CASES["ce342-weight-nielsen"]
    tex = derivation_document(derivation_of(spec), **options).latex()
    assert r"\left(- a^{3}_{1} a^{3}_{2}\right)" in tex
    assert r"} - a^{3}_{1} a^{3}_{2} w" not in tex  # the defect: a difference for a product


def test_a_number_among_chain_factors_is_set_apart_by_dots() -> None:
    """Issue 19: id' = 1 on a path printed as ``\\cdot 1 W`` (read: 1W). A number among the
    chain-rule factors has a dot on both sides, in LaTeX (whole and broken lines) and text."""
    document = derivation_document(derivation_of(OWN), weight="W1[1,0]")
    tex, text = document.latex(), document.text()
    assert r"\cdot 1 \cdot W" in tex
    assert not re.search(r"\\cdot 1 [^\\&]", tex) and not re.search(r"\b1 W", tex)
    assert "·1·W3[0, 0]" in text and " * " not in text
    printer = BackpropLatexPrinter()
    w = sp.Symbol("w")
    assert printer.doprint(Chain(sp.Integer(2), sp.Integer(1), w)) == r"2 \cdot 1 \cdot w"


def test_every_broken_product_line_starts_with_an_operator() -> None:
    """Issue 19: a line break inside a product shows an operator. Every continuation row of
    a broken equation starts with ``=``, ``+``, ``-``, ``\\cdot``, ``\\odot`` or closes a
    bracket, never with a bare factor (which would read as a new term)."""
    rows = 0
    for spec, options in (
        (CE342, {"weight": "W1[0,1]"}), (OWN, {"weight": "W1[1,0]"}), (DEEP, {"weight": "W1[0,1]"}),
    ):  # fmt: skip
        tex = derivation_document(derivation_of(spec), **options).latex()
        for line in tex.splitlines():
            match = re.match(r"\s*&\\qquad (.*?) &&", line)
            if match:
                rows += 1
                start = match.group(1).lstrip()
                assert re.match(r"(\\cdot|\\odot|\\times|[-+=]|\\[Bb]igr|\\right)", start), line
    assert rows > 5


def test_softmax_with_mse_states_bp1_through_the_jacobian() -> None:
    """Issue 19: a softmax output with MSE printed BP1 as the definition of delta (nabla_z L).
    Its BP1 is the Jacobian's transpose times the gradient by the outputs, and says so; and
    the CE reason that cancels a factor ends on what it cancels against."""
    spec = make_spec([3, 4, 2], "softmax", "mse", ["tanh"], "smse")
    tex = derivation_document(derivation_of(spec)).latex()
    bp1 = next(line for line in tex.splitlines() if "BP1" in line and "&=" in line)
    assert r"\frac{\partial a^{(2)}}{\partial z^{(2)}}" in bp1 and r"\nabla_{a^{(2)}}" in bp1
    assert r"\nabla_{z^{(2)}}" not in bp1 and "not elementwise" in bp1
    digits = derivation_document(derivation_of(load_spec("digits"))).text()
    assert "cancels against the same factor of (12)" in digits
    assert not re.search(r"Jacobian's\s*$", digits, re.M)


def test_float_literals_are_the_decimals_written() -> None:
    """``0.5`` in a spec's expression is 1/2 (printed as a fraction, exact in the algebra, the
    same double in the code); a long or tiny float stays a float."""
    exact = parse_expression("0.5*x + 2.0 - 0.125", ("x",))
    (x,) = exact.free_symbols
    assert exact == x / 2 + sp.Rational(15, 8)
    assert not parse_expression("0.5*x + 2.0", ("x",)).atoms(sp.Float)
    assert parse_expression("1e-300*x", ("x",)).atoms(sp.Float)
    assert parse_expression("0.1234567891*x", ("x",)).atoms(sp.Float)


def test_own_functions_are_defined_once_and_their_spec_text_is_not_typeset() -> None:
    """A user activation's definition f(u) = ... stands in the document once, before its
    derivative; no reason quotes the spec's raw text (``**``, ``Abs(``, ``<=``)."""
    document = derivation_document(derivation_of(OWN))
    steps = [step for step in document.steps if step.label == "def-my_swish"]
    assert len(steps) == 1
    (definition,) = steps[0].rhs
    u = next(iter(definition.free_symbols))
    assert sp.simplify(definition - u / (1 + sp.exp(-u))) == 0
    tex = document.latex()
    assert tex.count(r"defined in the spec (\texttt{[functions.my\_swish]})") == 1
    printed = [line for section in document.printed() for line in section.lines]
    reasons = [row.reason for line in printed for row in line.rows]
    assert not [r for r in reasons if "**" in r or "Abs(" in r or "<=" in r]
    math = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert "0.5" not in math and "1.0" not in math


LEAKS = {
    "default": [r"\bC\b", r"\bJ\b", r"(?<![A-Za-z\\])[hgw]\^\{"],
    "nielsen": [r"\bL\b", r"\bL_", r"\\bar\{L\}", r"\bJ\b", r"W\^\{", r"\^\{\(\d"],
    "goodfellow": [r"\bL\b", r"\bL_", r"\\bar\{L\}", r"\bC\b", r"z\^\{", r"\\delta", r"\bz_"],
}
"""What gives another profile's symbols away: its loss letter, its symbol bases."""


def _math(text: str) -> list[str]:
    """The inline math of a reason, note or intro."""
    return re.findall(r"\$([^$]*)\$", text)


@pytest.mark.parametrize("notation", sorted(LEAKS))
def test_each_profile_prints_only_its_own_symbols(notation: str) -> None:
    """Equations, reasons, notes and intros of a document in one notation hold no symbol of
    another (Goodfellow's a is the pre-activation: a sentence about z_p and a_j would be false
    there)."""
    found = []
    for spec, options in [(CE342, {"weight": "W1[0,1]"}), ("xor", {}), (OWN, {})]:
        spec = load_spec(spec) if isinstance(spec, str) else spec
        document = derivation_document(derivation_of(spec), notation=notation, **options)
        for section in document.printed():
            texts = _math(section.intro)
            for line in section.lines:
                texts += _math(line.why) + _math(line.note)
                for row in line.rows:
                    texts += [row.left, row.text, *_math(row.reason)]
            for step in section.algorithm:  # Goodfellow's Algorithm 6.4, as laid out
                texts += _math(step.text) + _math(step.reason)
            for text_ in texts:
                found += [(p, text_) for p in LEAKS[notation] if re.search(p, text_)]
    assert found == []


TEXT_LEAKS = {
    "nielsen": [r"\bL\b", r"L̄", r"\bW\d", r"\b[abz]\d\[", r"δ\d", r"\bx\[", r"\bn\d"],
    "goodfellow": [r"\bL\b", r"L̄", r"\bC\b", r"\bz\d", r"δ", r"\b[ab]\d\["],
}
"""The code's names (W1, a1[j], δ2, L) or another profile's letters in a profile's text."""


@pytest.mark.parametrize("notation", sorted(TEXT_LEAKS))
def test_text_format_follows_the_profile(notation: str) -> None:
    """``--format text`` takes the profile's symbols: Nielsen's w², a¹, δ³, C; Goodfellow's
    W⁽¹⁾, h⁽¹⁾, a⁽¹⁾ (his pre-activation), g⁽²⁾, J."""
    spec = load_spec("xor")
    found = []
    example = example_for_spec(spec, derivation_of(spec))
    for options in ({"example": example}, {"weight": "W1[0,1]"}):
        text = derivation_document(derivation_of(spec), notation=notation, **options).text()
        body = [line for line in text.splitlines() if not line.lstrip().startswith("note:")]
        found += [(p, line) for line in body for p in TEXT_LEAKS[notation] if re.search(p, line)]
    assert found == []
    symbols = {"nielsen": ("w²[", "a¹[", "δ³[", "∂C/∂"), "goodfellow": ("W⁽¹⁾[", "h⁽¹⁾[", "g⁽²⁾[")}
    assert all(symbol in text for symbol in symbols[notation])


@pytest.mark.parametrize(
    ("spec", "notation"), [("xor", "default"), ("digits", "goodfellow"), (DEEP, "nielsen")]
)
def test_forms_index_column_reads_back_as_derived(spec, notation: str) -> None:  # noqa: ANN001
    """``--forms``: each index-form equation, as laid out in its column (broken lines joined),
    reads back as the derivation's expression (matrix and minibatch forms: shapes, checked by
    tests/test_forms.py)."""
    from symbackprop.render.forms import forms_table, printed_forms

    spec = load_spec(spec) if isinstance(spec, str) else spec
    derivation = derivation_of(spec)
    document = derivation_document(derivation, notation=notation)
    printer = BackpropLatexPrinter(document.notation)
    table = forms_table(derivation, ("index", "matrix", "batch"))
    printed = printed_forms(table, "latex", printer)
    problems, count = [], 0
    for row, (_, cells) in zip(table.rows, printed.rows, strict=True):
        cell, text = row.cells[0], cells[0]
        assert text.lines[0] == printer.doprint(cell.lhs)
        sizes = derivation.network.concrete_sizes()
        problems += _compare(cell.rhs, " ".join(text.lines[1:]), printer, sizes)
        count += 1
    assert count == len(table.rows) >= 8 and problems == []


DIGITS_MSE = parse_spec(
    {
        "name": "digitsmse",
        "network": {"layers": [64, 32, 10], "activation": "tanh", "output": "softmax",
                    "loss": "mse"},
    }
)  # fmt: skip
"""digits with MSE (issue 19's digitsmse.toml): its output delta breaks over several lines."""


@pytest.mark.parametrize(
    "specs",
    [
        ("xor", "digits", DIGITS_MSE),
        pytest.param((OWN, "xor", CE342, DIGITS_MSE), marks=pytest.mark.slow),
    ],
    ids=["three", "four-own"],
)
def test_comparison_columns_read_back_as_derived(specs: tuple) -> None:
    """``derive --compare`` with three (and four) specs: each cell's equation, as laid out in
    its column (broken lines joined; a piecewise loss stacked), reads back as that spec's
    expression."""
    from symbackprop.render.compare import compare, fitting
    from symbackprop.render.printing import NOTATIONS

    derivations = [derivation_of(load_spec(s) if isinstance(s, str) else s) for s in specs]
    notation = NOTATIONS["default"]
    printer = BackpropLatexPrinter(notation)
    _, rows = fitting(derivations, notation)
    tex = compare(derivations, "latex", notation)
    problems, count, broken = [], 0, 0
    for row in rows:
        for derivation, cell in zip(derivations, row.cells, strict=True):
            if cell is None or cell.rhs.has(sp.MatrixExpr) or isinstance(cell.rhs, sp.MatrixBase):
                continue
            assert all(line in tex for line in cell.lines)
            sizes = derivation.network.concrete_sizes()
            problems += _compare(cell.rhs, " ".join(cell.lines), printer, sizes)
            count, broken = count + 1, broken + (len(cell.lines) > 1)
    assert count >= 12 and broken >= 2 and problems == []
    if OWN in specs:
        assert any(r"\text{otherwise}" in line for row in rows for c in row.cells if c
                   for line in c.lines)  # fmt: skip


SWISH, SOFTPLUS = "x/(1 + exp(-x))", "log(1 + exp(x))"
HUBER = "Piecewise(((a - y)**2/2, Abs(a - y) <= 1), (Abs(a - y) - 1/2, True))"
INLINE = {
    "one": parse_spec(
        {
            "name": "inline",
            "network": {"layers": [2, 3, 1], "activation": SWISH, "output": "identity",
                        "loss": HUBER},
        }
    ),
    "two": parse_spec(
        {
            "name": "inline2",
            "network": {"layers": [2, 3, 2, 1], "activation": [SWISH, SOFTPLUS],
                        "output": SWISH, "loss": HUBER},
        }
    ),
}  # fmt: skip
"""Issue 19's specs with expressions written in [network] (no [functions] table)."""
RAW = ("**", "Abs(", "<=", "[functions.", "exp(-x)", "textless", "Piecewise")
"""The spec's text, which no format may show outside a LaTeX comment."""


def _applied(name: str, fmt: str) -> str:
    """A pattern for ``name`` applied (its derivative too) as ``fmt`` prints it."""
    opening = r"\\bigl\(|\\mathopen\{\}\\left\(" if fmt != "text" else r"\("
    return rf"(?<![A-Za-z\\]){name}'?(?:{opening})"


@pytest.mark.parametrize("case", sorted(INLINE))
def test_inline_functions_have_names_of_their_own_and_are_defined_once(case: str) -> None:
    """Issue 19: an activation written inline printed as ``x/(1 + exp(-x))(z1[j])`` in text and
    as f (every layer's activation) in LaTeX, a fourth one as u; the loss's reason typeset the
    spec's text. Each is now named by a letter no profile uses (phi, phi_1, phi_2; ell), the
    same in every format and notation, defined once, equal to the expression as printed."""
    spec = INLINE[case]
    derivation = derivation_of(spec)
    inline = list(spec.functions)  # no [functions] table: every function of its own is inline
    activations = [f for f in inline if hasattr(f, "expr")]
    assert len(activations) == (1 if case == "one" else 2) and len(inline) == len(activations) + 1
    names = {f.latex for f in inline}
    assert len(names) == len(inline) and not names & {"f", "g", "h", "u", "x", "a", "y", "z"}
    u = sp.Symbol("u", real=True)
    for notation in ("default", "nielsen", "goodfellow"):
        document = derivation_document(derivation, notation=notation)
        for fmt in ("latex", "markdown", "text"):
            shown = document.render(fmt)
            body = "\n".join(line for line in shown.splitlines() if not line.startswith("%"))
            body = re.sub(r"\*\*([a-z ]+)\*\*", r"\1", body)  # Markdown bold: **for**, **end for**
            assert [raw for raw in RAW if raw in body] == [], (notation, fmt)
            rows = [row for section in document.printed(fmt) for line in section.lines
                    for row in line.rows]  # fmt: skip
            equations = "\n".join(f"{row.left} {row.text}" for row in rows)
            for generic in ("f", "u", "g", "h"):
                assert not re.search(_applied(generic, fmt), equations), (notation, fmt, generic)
            for function in activations:
                name = function.shown if fmt == "text" else re.escape(function.latex)
                assert re.search(_applied(name, fmt), equations), (notation, fmt, name)
                left = rf"{function.latex}\bigl(u\bigr)"
                left = f"{function.shown}(u)" if fmt == "text" else left
                definitions = [row for row in rows if row.left.strip() == left]
                assert len(definitions) == 1, (notation, fmt, left)
                printed = definitions[0].text
                want = function.expr.subs(parse_expression("x"), u)
                if fmt == "text":
                    got = parse_expression(printed.replace("·", "*"), ("u",))
                else:
                    got = parse_printed(printed, want, BackpropLatexPrinter(document.notation))
                assert sp.simplify(got - want) == 0, (notation, fmt, printed)
            reasons = [row.reason for row in rows]
            assert any(r.startswith("defined in the spec") for r in reasons)
            assert [r for r in reasons if "defined in the spec (" in r] == []
            letters = [f.shown if fmt == "text" else f.latex for f in activations]
            found = re.findall(r"φ(?:_\d+)?" if fmt == "text" else r"\\varphi(?:_\{\d+\})?", body)
            assert set(found) == set(letters), (notation, fmt)  # reasons and notes too
    picture = diagram(derivation, bare=True)
    assert [raw for raw in RAW if raw in picture] == [] and "$\\ell$" in picture
    assert all(f"layer {n}: ${spec.activation(name).latex}$" in picture
               for n, name in enumerate(spec.activations, 1))  # fmt: skip
