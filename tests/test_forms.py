"""Printed forms: textbook order, reasons citing equation numbers, notation profiles, the
BP1-BP4 summary, Markdown that renders and text without LaTeX."""

from __future__ import annotations

import re

import pytest
import sympy as sp
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from test_latex import BCE

import symbackprop
from symbackprop.pipeline import derivation_of
from symbackprop.render.compare import compare
from symbackprop.render.printing import NOTATIONS, latex, unicode_text
from symbackprop.render.textbook import textbook_product
from symbackprop.run.documents import document_for
from symbackprop.spec.model import load_spec

a, y, s = (sp.Symbol(name, real=True) for name in "ays")
n = sp.Symbol("n", positive=True)


@pytest.mark.parametrize(
    ("expr", "printed"),
    [
        ((2 * a - 2 * y) / n, r"\frac{2 \left(a - y\right)}{n}"),
        ((1 - s) * s, r"s \left(1 - s\right)"),
        ((-a + y) / (n * (a - 1) * a), r"\frac{a - y}{a n \left(1 - a\right)}"),
        (sp.Sum(-y * sp.log(a), (sp.Symbol("j"), 0, n - 1)), r"- \sum_{j=0}^{n - 1} y \log a"),
    ],
)
def test_textbook_order(expr: sp.Expr, printed: str) -> None:
    assert latex(expr) == printed


def test_signs_of_parenthesised_sums_cancel() -> None:
    # 3 (y - a)(s - 1): both flipped, so no leading minus sign and no "s - 1"
    assert latex(3 * (y - a) * (s - 1)) == r"3 \left(1 - s\right) \left(a - y\right)"


@pytest.mark.parametrize(
    "expr",
    [
        (2 * a - 2 * y) / n,
        (-a + y) / (n * (a - 1) * a),
        -3 * (a - 1) * (y - 2) ** 2 / (5 * (s - a)),
        sp.Rational(-3, 4) * (2 * a + 4) * s,
    ],
)
def test_textbook_product_keeps_the_value(expr: sp.Expr) -> None:
    """The reordered, sign-flipped product multiplies back to the same expression."""
    negative, coefficient, top, bottom = textbook_product(expr)
    rebuilt = (-1 if negative else 1) * coefficient * sp.Mul(*top) / sp.Mul(*bottom)
    assert sp.simplify(rebuilt - expr) == 0


def test_documents_read_in_textbook_form() -> None:
    xor = symbackprop.derive("xor").latex()
    assert r"\frac{2 \left(a^{(2)}_{p} - y_{p}\right)}{n_{2}}" in xor  # 2(a - y)/n
    assert r"\sum_{k=0}^{n_{0} - 1} W^{(1)}_{jk} x_{k} + b^{(1)}_{j}" in xor  # bias last
    assert r"\delta^{(1)}_{p} x_{q}" in xor  # delta a^T
    digits = symbackprop.derive("digits").latex()
    assert r"- \sum_{j=0}^{n_{2} - 1} y_{j} \log a^{(2)}_{j}" in digits
    bce = symbackprop.derive(BCE).latex()
    assert r"\frac{a^{(2)}_{p} - y_{p}}{n_{2} a^{(2)}_{p} \left(1 - a^{(2)}_{p}\right)}" in bce
    for tex in (xor, digits, bce):
        assert "+ -" not in tex and "'\\left(" not in tex  # no "+ -", no tanh' (x)
        assert r"\delta_{jp}" not in tex  # the Kronecker delta is the indicator 1[j = p]


def test_indicator_is_explained_once() -> None:
    for name in ("xor", "digits"):
        tex = symbackprop.derive(name).latex()
        assert r"\mathbf{1}[j = p]" in tex
        assert tex.count("is 1 when $j = p$ and 0 otherwise") == 1


def test_multi_digit_indices_are_separated() -> None:
    w_1_11, w_11_1 = sp.Symbol("W1_1_11"), sp.Symbol("W1_11_1")
    assert latex(w_1_11) == r"W^{(1)}_{1,11}" and latex(w_11_1) == r"W^{(1)}_{11,1}"
    W = sp.IndexedBase("W2")
    j, k = sp.symbols("j k", integer=True)
    assert latex(W[j, k]) == r"W^{(2)}_{jk}" and latex(W[0, 1]) == r"W^{(2)}_{0,1}"


def test_every_line_has_a_reason_and_every_citation_resolves() -> None:
    for options in ({}, {"weight": "W1[0,1]"}, {"expand": True}):
        doc = document_for(load_spec("xor"), **options)
        text = doc.text()
        assert "{eq:" not in doc.latex() and "{eq:" not in text
        numbers = [int(m) for m in re.findall(r"^\((\d+)\)", text, flags=re.M)]
        assert numbers == list(range(1, len(doc.steps) + 1))
        for cited in re.findall(r"\((\d+)\)", "".join(re.findall(r"because: .*", text))):
            assert 1 <= int(cited) <= len(doc.steps)
        for step in doc.steps:
            assert step.why or (step.reasons and all(step.reasons)), step
    # One update, for a generic parameter theta, not one per parameter.
    steps = symbackprop.derive("digits").steps
    assert len([s for s in steps if s.section == "update"]) == 1


def test_summary_and_softmax_line() -> None:
    doc = symbackprop.derive("digits")
    tex = doc.latex()
    assert r"a^{(2)} &= \operatorname{softmax}\bigl(z^{(2)}\bigr)" in tex
    summary = [s for s in doc.steps if s.section == "summary"]
    assert [s.why.split(",")[0] for s in summary][:5] == ["BP1", "BP2", "BP3", "BP3", "BP4"]
    assert r"\delta^{(2)} &= a^{(2)} - y" in tex  # BP1, cancelled form
    xor = symbackprop.derive("xor").latex()
    assert r"\nabla_{a^{(2)}} L \odot \sigma'\bigl(z^{(2)}\bigr)" in xor  # BP1, general form


def test_notation_profiles() -> None:
    nielsen = symbackprop.derive("xor", notation="nielsen").latex()
    # Input layer 1 (a^1 = x), first weights w^2, cost C, indices from 1.
    assert r"z^{2}_{j} &= \sum_{k=1}^{n_{1}} w^{2}_{jk} a^{1}_{k} + b^{2}_{j}" in nielsen
    assert r"\frac{\partial C}{\partial a^{3}_{p}}" in nielsen and "w^{1}" not in nielsen
    goodfellow = symbackprop.derive("xor", notation="goodfellow").latex()
    assert r"a^{(1)}_{j} &= \sum_{k=1}^{n_{0}} W^{(1)}_{jk} x_{k} + b^{(1)}_{j}" in goodfellow
    assert r"h^{(1)}_{j} &= \tanh\bigl(a^{(1)}_{j}\bigr)" in goodfellow
    assert r"W^{(2)\top} g^{(2)}" in goodfellow and r"\frac{\partial J}" in goodfellow
    for profile in NOTATIONS.values():
        assert profile.description and profile.sample


KATEX_MACROS = {
    "frac", "partial", "sum", "left", "right", "bigl", "bigr", "mathopen", "sigma", "tanh",
    "delta", "odot", "top", "mathbf", "operatorname", "log", "begin", "end", "tag", "nabla",
    "eta", "theta", "bar", "leftarrow", "ge", "le", "cdot", "dots", "times", "max", "quad",
    "qquad", "mathrm", "vert", "exp", "text",
}  # fmt: skip
"""Macros KaTeX and MathJax both render without extensions (\\text only with plain words)."""


def _math_tokens(markdown: str) -> tuple[list[str], list[str], list[str]]:
    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True)
    blocks, inline, texts = [], [], []
    for token in md.parse(markdown):
        if token.type == "math_block":
            blocks.append(token.content)
        for child in token.children or []:
            (inline if child.type.startswith("math") else texts).append(child.content)
    return blocks, inline, texts


@pytest.mark.parametrize("options", [{}, {"weight": "W1[0,1]"}])
def test_markdown_renders(options: dict) -> None:
    doc = document_for(load_spec("xor"), **options)
    blocks, inline, texts = _math_tokens(doc.markdown())
    assert len(blocks) == len(doc.steps)  # every block parsed whole, one per step
    assert all(b.strip().startswith(r"\begin{aligned}") and r"\tag{" in b for b in blocks)
    assert not any("$" in t for t in texts)  # no math left unparsed
    used = set(re.findall(r"\\([A-Za-z]+)", " ".join(blocks + inline)))
    assert used <= KATEX_MACROS, used - KATEX_MACROS
    assert "texttt" not in doc.markdown()


def test_comparison_table_cells_stay_whole() -> None:
    xor, bce = derivation_of(load_spec("xor")), derivation_of(BCE)
    table = compare([xor, bce], "markdown", NOTATIONS["default"])
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert all(row.count("|") - row.count(r"\|") == 3 for row in rows), rows
    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)
    cells = [t for t in md.parse(table) if t.type == "td_open"]
    assert len(cells) == 2 * (len(rows) - 2)


@pytest.mark.parametrize("name", ["xor", "digits"])
def test_text_has_no_latex(name: str) -> None:
    weight = {"xor": "W1[0,1]", "digits": "W2[3,1]"}[name]
    text = document_for(load_spec(name), weight=weight).text()
    xor, bce = derivation_of(load_spec("xor")), derivation_of(BCE)
    text += compare([xor, bce], "text", NOTATIONS["default"])
    assert not re.search(r"\\[A-Za-z]|[{}$]|\^\{|\[\]", text), re.search(
        r".{30}(\\[A-Za-z]|[{}$]|\^\{|\[\]).{30}", text
    )
    assert "KroneckerDelta" not in text and "1[j = p]" in text
    assert unicode_text(sp.Symbol("Lbar")) == "L̄"


# --- derive --forms: index, matrix and minibatch forms side by side (issue 20) ---

FORMS_SPECS = ("xor", "digits")


def _forms_document(name: str, forms: str = "index,matrix,batch", **options: object):  # noqa: ANN202
    from symbackprop.render.document import derivation_document

    return derivation_document(derivation_of(load_spec(name)), forms=forms, **options)


@pytest.mark.parametrize("name", FORMS_SPECS)
def test_forms_shapes_match_the_spec_layers(name: str) -> None:
    """Every matrix's printed shape is the spec's: W^(l) is n_l x n_(l-1), a vector n_l x 1,
    a minibatch matrix m x n_l; the text and the LaTeX say the same."""
    layers = load_spec(name).layers
    text = _forms_document(name).text().split("== Index, matrix and minibatch forms ==")[1]
    for l in range(1, len(layers)):
        shape = f"W{l}: {layers[l]}×{layers[l - 1]}"
        assert text.count(shape) == 2 * (2 + (l > 1)), shape  # z, dW (and the recursion)
        for vector in (f"z{l}", f"a{l}", f"δ{l}"):
            assert f"{vector}: {layers[l]}×1" in text
        for batch in (f"Z{l}", f"A{l}", f"Δ{l}"):
            assert f"{batch}: m×{layers[l]}" in text
    assert f"X: m×{layers[0]}" in text and f"x: {layers[0]}×1" in text
    assert f"j: 0…{layers[1] - 1}" in text  # the index form: where each free index runs
    tex = _forms_document(name, notation="goodfellow").latex()
    assert rf"$W^{{(2)}}$: ${layers[2]} \times {layers[1]}$" in tex
    assert rf"$H^{{(1)}}$: $m \times {layers[1]}$" in tex  # Goodfellow's h, stacked


def test_forms_batch_form_is_the_stacked_matrix_form() -> None:
    """The printed minibatch forms: Z = X W^T + 1 b^T, the recursion with Delta W, and the
    gradients as Delta^T A / m, in each format."""
    tex = _forms_document("xor").latex()
    assert r"Z^{(1)} &= X \bigl(W^{(1)}\bigr)^{\top} + \mathbf{1} \bigl(b^{(1)}\bigr)^{\top}" in tex
    recursion = r"\Delta^{(1)} &= \left(\Delta^{(2)} W^{(2)}\right) \odot \tanh'\bigl(Z^{(1)}\bigr)"
    assert recursion in tex.replace(r" \\ &\qquad \odot", r" \odot")  # (a line may break at ⊙)
    assert (
        r"\frac{\partial \bar{L}}{\partial W^{(2)}} &= \frac{1}{m} "
        r"\left(\bigl(\Delta^{(2)}\bigr)^{\top} A^{(1)}\right)"
    ) in tex
    text = _forms_document("digits").text()
    assert "Δ2 = A2 - Y" in text and "δ2 = a2 - y" in text  # BP1 cancelled, stacked
    assert "∂L̄/∂b1 = 1/m (Δ1ᵀ 𝟏)" in text
    only = _forms_document("xor", "batch,matrix").text()
    assert "matrix form:" in only and "index form:" not in only
    assert only.index("matrix form:") < only.index("minibatch form:")  # FORMS order
    assert "Index, matrix and minibatch" not in symbackprop.derive("xor").text()  # opt-in


@pytest.mark.parametrize("name", FORMS_SPECS)
def test_forms_batch_forms_equal_the_mean_of_the_per_sample_forms(name: str) -> None:
    """The minibatch forms, evaluated with random numbers at the spec's sizes and m = 3: each
    row of Z (and of Delta's recursion) is the matrix form of that sample, and Delta^T A / m is
    the mean of the samples' delta a^T (the stacking rule derives, it is not typed)."""
    import numpy as np

    from symbackprop.render.forms import Batch, forms_table, m
    from symbackprop.render.steps import Nabla
    from symbackprop.symbolic.network import Elementwise

    derivation = derivation_of(load_spec(name))
    sizes = derivation.network.concrete_sizes() | {m: 3}
    table = forms_table(derivation, ("matrix", "batch"))
    rng = np.random.default_rng(0)
    checked = 0
    for row in table.rows:
        matrix, batch = row.cells
        if not batch.rhs.has(Batch) or any(
            isinstance(sub, Elementwise | Nabla) for sub in sp.preorder_traversal(batch.rhs)
        ):
            continue  # activations (elementwise, by definition)
        draws = {}
        for symbol in batch.rhs.atoms(sp.MatrixSymbol):
            shape = tuple(int(sp.sympify(n).xreplace(sizes)) for n in symbol.shape)
            draws[symbol] = sp.ImmutableMatrix(rng.standard_normal(shape))
        ones = {sp.OneMatrix(m, 1): sp.ImmutableMatrix.ones(3, 1), m: 3}
        stacked = np.array(batch.rhs.xreplace(draws).xreplace(ones).doit(), dtype=float)
        per_sample = []
        for sample in range(3):
            values = {
                sp.MatrixSymbol(s.name, s.shape[1], 1): draws[s][sample, :].T
                for s in draws if isinstance(s, Batch)
            } | {s: v for s, v in draws.items() if not isinstance(s, Batch)}  # fmt: skip
            per_sample.append(np.array(matrix.rhs.xreplace(values).doit(), dtype=float))
        if isinstance(batch.lhs, sp.Derivative):  # the mean of the per-sample gradients
            expected = sum(per_sample) / 3
        else:  # one sample per row
            expected = np.hstack(per_sample).T
        assert np.allclose(stacked, expected), row.what
        checked += 1
    assert checked >= 3 * len(derivation.network.layers)  # z, dW, db of every layer


def test_forms_are_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from symbackprop.cli.commands import main

    for forms, message in [
        ("index,tensor", "--forms: unknown form 'tensor' (known: index, matrix, batch)"),
        ("matrix,matrix", "--forms: each form at most once"),
    ]:
        assert main(["derive", "xor", "--forms", forms]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert main(["derive", "xor", "--forms", "index", "--compare", "digits"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["derive", "xor", "--forms", "batch", "--format", "text"]) == 0
    assert "Z1 = X W1ᵀ + 𝟏 b1ᵀ" in capsys.readouterr().out


def test_forms_markdown_table_cells_stay_whole() -> None:
    markdown = _forms_document("xor").markdown()
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 10 and all(row.count(" | ") == 3 for row in rows), rows
    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)
    assert len([t for t in md.parse(markdown) if t.type == "td_open"]) == 4 * 10
