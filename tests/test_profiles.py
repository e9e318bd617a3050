"""What a textbook profile adds in its author's own form (issue 19): Nielsen's BP3 and BP4 per
component in the summary (``dC/dw^l_jk = a^{l-1}_k delta^l_j``), and Goodfellow et al.'s
Algorithm 6.4, the backward pass with one running ``g``, in LaTeX, Markdown and text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp
from test_latex import needs_latex
from test_layout import overfull_boxes

from symbackprop import derive
from symbackprop.render.numeric import check_step
from symbackprop.run.example import example_values


def _number(text: str, lhs: str) -> str:
    """The equation number of the text line whose left side is ``lhs``."""
    match = re.search(rf"^\((\d+)\)\s+{re.escape(lhs)} = ", text, re.M)
    assert match, lhs
    return match.group(1)


def test_nielsen_summary_states_bp3_and_bp4_per_component() -> None:
    """Each vector BP3 and BP4 is followed by Nielsen's component form, citing the index form
    it comes from; the forms equal the module's gradients; other profiles do not have them."""
    document = derive("xor", notation="nielsen")
    tex, text, markdown = document.latex(), document.text(), document.markdown()
    for latex_line in (
        r"\frac{\partial C}{\partial b^{2}_{j}} &= \delta^{2}_{j}",
        r"\frac{\partial C}{\partial w^{3}_{jk}} &= a^{2}_{k} \delta^{3}_{j}",
    ):
        assert latex_line in tex and latex_line in markdown
    summary = text[text.index("== Summary") :]
    for layer, sup, below in ((2, "²", "¹"), (3, "³", "²")):
        bp3 = _number(text, f"∂C/∂b{sup}[p]")
        bp4 = _number(text, f"∂C/∂w{sup}[p, q]")
        assert re.search(
            rf"∂C/∂b{sup} = δ{sup}\n.*BP3, .*\n\(\d+\)\s+∂C/∂b{sup}\[j\] = δ{sup}\[j\]\n"
            rf"\s+because: BP3 per component, \({bp3}\) with j for p\n",
            summary,
        ), layer
        assert re.search(
            rf"∂C/∂w{sup} = δ{sup} a{below}ᵀ\n.*BP4, .*\n"
            rf"\(\d+\)\s+∂C/∂w{sup}\[j, k\] = a{below}\[k\]·δ{sup}\[j\]\n"
            rf"\s+because: BP4 per component, \({bp4}\) with j, k for p, q\n",
            summary,
        ), layer
    values = example_values(document.derivation, seed=3)
    sizes = document.derivation.network.concrete_sizes()
    components = [s for s in document.steps if s.label.endswith("-component")]
    assert len(components) == 4
    assert all(check_step(step, values, sizes) == [] for step in components)
    for notation in ("default", "goodfellow"):
        assert "per component" not in derive("xor", notation=notation).text()


XOR_TEXT = [
    "the forward computation, (5) to (8) (Algorithm 6.3)",
    "g ← ∇_h⁽²⁾ J",
    "for k = 2, 1 do",
    "k = 2:",
    "g ← ∇_a⁽²⁾ J = g ⊙ sigmoid'(a⁽²⁾)",
    "∇_b⁽²⁾ J = g",
    "∇_W⁽²⁾ J = g h⁽¹⁾ᵀ",
    "g ← ∇_h⁽¹⁾ J = W⁽²⁾ᵀ g",
    "k = 1:",
    "g ← ∇_a⁽¹⁾ J = g ⊙ tanh'(a⁽¹⁾)",
    "∇_b⁽¹⁾ J = g",
    "∇_W⁽¹⁾ J = g xᵀ",
    "g ← ∇_x J = W⁽¹⁾ᵀ g",
    "end for",
]
"""xor's Algorithm 6.4 in the text format, line by line: forward, g by the output, then for
k = 2, 1 the four lines of the loop."""

XOR_LATEX = [
    "the forward computation, (5) to (8) (Algorithm 6.3)",
    r"$g \leftarrow \nabla_{h^{(2)}} J$",
    r"\textbf{for} $k = 2, 1$ \textbf{do}",
    "$k = 2$:",
    r"$g \leftarrow \nabla_{a^{(2)}} J = g \odot \sigma'\bigl(a^{(2)}\bigr)$",
    r"$\nabla_{b^{(2)}} J = g$",
    r"$\nabla_{W^{(2)}} J = g h^{(1)\top}$",
    r"$g \leftarrow \nabla_{h^{(1)}} J = W^{(2)\top} g$",
    "$k = 1$:",
    r"$g \leftarrow \nabla_{a^{(1)}} J = g \odot \tanh'\bigl(a^{(1)}\bigr)$",
    r"$\nabla_{b^{(1)}} J = g$",
    r"$\nabla_{W^{(1)}} J = g x^{\top}$",
    r"$g \leftarrow \nabla_{x} J = W^{(1)\top} g$",
    r"\textbf{end for}",
]
"""The same lines in LaTeX (Markdown writes them alike, its bold as ``**``)."""


def _algorithm(document: str, start: str, pattern: str) -> list[str]:
    """The algorithm's lines of a rendered document, from its title on."""
    rest = document[document.index("Algorithm 6.4 of Goodfellow") :]
    return [m.group(1) for m in re.finditer(pattern, rest[rest.index(start) :], re.M)]


def test_goodfellow_writes_algorithm_6_4_with_one_running_g() -> None:
    """The backward pass as his Algorithm 6.4 in all three formats: forward, g by the output,
    for k = l, ..., 1 the gradient by the pre-activation, the bias and weight gradients and g
    propagated down; g is the only vector assigned; each line cites what it restates."""
    document = derive("xor", notation="goodfellow")
    text = _algorithm(document.text(), "1.", r"^\d+\.\s+(.*?)$")
    assert text == XOR_TEXT
    tex = document.latex()
    items = _algorithm(tex, r"\item", r"^\\item .*?\{\\raggedright (.*?)\}(?:\\hfill|$)")
    assert items == XOR_LATEX
    markdown = _algorithm(document.markdown(), "1. ", r"^\d+\. (?:&emsp;)*(.*?)(?: — .*)?$")
    assert markdown == [re.sub(r"\\textbf\{([^{}]*)\}", r"**\1**", line) for line in XOR_LATEX]
    assert "elementwise: now g = g⁽¹⁾, (15) in vector form" in document.text()
    assert "(20), with no regularizer" in document.text()
    steps = [s for s in document.steps if s.section == "algorithm"]
    sizes = document.derivation.network.concrete_sizes()
    assert len(steps) == 9
    for step in steps:  # real matrix expressions: every side has the left side's shape
        shape = [sp.sympify(n).subs(sizes) for n in step.lhs.shape]
        assert all([sp.sympify(n).subs(sizes) for n in rhs.shape] == shape for rhs in step.rhs)
    for notation in ("default", "nielsen"):
        assert "Algorithm 6.4" not in derive("xor", notation=notation).text()


def test_goodfellows_softmax_cross_entropy_line_reads_g_is_h_minus_y() -> None:
    """A softmax output is not elementwise: g by its pre-activation goes through the
    Jacobian, and with cross-entropy it is h - y (his y-hat - y)."""
    document = derive("digits", notation="goodfellow")
    text = document.text()
    assert "5.          g ← ∇_a⁽²⁾ J = (∂h⁽²⁾/∂a⁽²⁾)ᵀ g = h⁽²⁾ - y\n" in text
    assert "g ⊙ softmax'" not in text
    tex = document.latex()
    assert (
        r"$g \leftarrow \nabla_{a^{(2)}} J = \bigl(\frac{\partial h^{(2)}}{\partial a^{(2)}}"
        r"\bigr)^{\top} g = h^{(2)} - y$" in tex
    )


@needs_latex
def test_profile_additions_fit_the_page(tmp_path: Path) -> None:
    """xor's Goodfellow algorithm (the softmax one compiles in test_layout) and Nielsen's
    summary compile with no overfull box."""
    for notation, what in (("goodfellow", r"\begin{enumerate}"), ("nielsen", "per component")):
        tex = derive("xor", notation=notation).document()
        assert what in tex
        assert overfull_boxes(tex, tmp_path) == []


@pytest.mark.parametrize("notation", ["goodfellow", "nielsen"])
def test_lecture_keeps_the_profile_additions(notation: str) -> None:
    """``--lecture`` documents keep them (their reasons name no tool)."""
    text = derive("xor", notation=notation, lecture=True).text()
    assert ("g ← ∇_x J = W⁽¹⁾ᵀ g" if notation == "goodfellow" else "BP4 per component") in text
