"""``derive --lecture``: documents for slides, notes and exams (issue 19).

No banner, no implementation notes and no tool named in a reason; reasons name the calculus
rules; ``--title`` replaces the title. The rules named are checked against rules worked out by
hand for each function, and the same document without ``lecture`` still names the tool (so the
checks here can fail).
"""

from __future__ import annotations

import io
import re

import pytest
import sympy as sp
from test_latex import needs_latex, pdflatex
from test_printed import CE342, OWN

from symbackprop import derive
from symbackprop.cli.commands import main
from symbackprop.render.rules import rules_used

TOOL_WORDS = re.compile(
    r"sympy|symbackprop|implementation note|note:|the code\b|module|init\\?_params", re.IGNORECASE
)

u, a, y = sp.symbols("u a y", real=True)


@pytest.mark.parametrize(
    ("expr", "var", "rules"),
    [
        (sp.tanh(u), u, "the derivative of tanh"),
        (1 / (1 + sp.exp(-u)), u, "the reciprocal rule, the derivative of exp and the chain rule"),
        (u / (1 + sp.exp(-u)), u, "the quotient rule, the derivative of exp and the chain rule"),
        (u * sp.tanh(u), u, "the product rule and the derivative of tanh"),
        ((a - y) ** 2 / 2, a, "the power rule and the chain rule"),
        (-y * sp.log(a), a, "the derivative of log"),
        (
            -y * sp.log(a) - (1 - y) * sp.log(1 - a),
            a,
            "the sum rule, the derivative of log and the chain rule",
        ),
        (sp.Max(u, 0), u, "the derivative of max in each argument"),
        (y**2, a, ""),
    ],
)
def test_rules_named_are_the_textbook_rules(expr: sp.Expr, var: sp.Symbol, rules: str) -> None:
    assert rules_used(expr, var) == rules


CASES = {
    "xor": ("xor", {}),
    "digits-goodfellow": ("digits", {"notation": "goodfellow"}),
    "ce342-weight": (CE342, {"weight": "W1[0,1]"}),
    "own": (OWN, {}),
    "xor-example": ("xor", {"example": True}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_lecture_documents_name_rules_not_tools(case: str) -> None:
    spec, options = CASES[case]
    plain = derive(spec, **options)
    lecture = derive(spec, lecture=True, title="Lecture 7: the chain rule", **options)
    assert TOOL_WORDS.search(plain.document()) and TOOL_WORDS.search(plain.text())
    for text in (lecture.document(), lecture.text(), lecture.markdown()):
        body = "\n".join(line for line in text.splitlines() if not line.startswith(("%", "<!--")))
        found = TOOL_WORDS.search(body)
        assert found is None, body[max(0, found.start() - 200) : found.end() + 200]
        assert "Lecture 7: the chain rule" in body
    assert "differentiating" in lecture.text() and "rule" in lecture.text()
    # the same equations, numbered alike: only reasons, notes and the banner differ
    assert [line.rhs for s in lecture.printed() for line in s.lines] == [
        line.rhs for s in plain.printed() for line in s.lines
    ]


def test_own_activation_reason_names_its_rules() -> None:
    text = derive(OWN, lecture=True).text()
    assert "the quotient rule, the derivative of exp and the chain rule" in text


def test_title_is_checked_and_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("", "two\nlines", "x" * 201):
        assert main(["derive", "xor", "--lecture", "--title", bad], out=io.StringIO()) == 2
        err = capsys.readouterr().err
        assert err.startswith("symbackprop: error: --title: ") and err.count("\n") == 1
    assert main(["derive", "xor", "--lecture", "--compare", "digits"], out=io.StringIO()) == 2
    assert capsys.readouterr().err.startswith("symbackprop: error: --compare: has no lecture")
    tex = derive("xor", lecture=True, title=r"50% of \input{x} & $y_1$").document()
    assert r"\title{50\% of \textbackslash{}input\{x\} \& \$y\_1\$}" in tex


@needs_latex
def test_a_lecture_document_compiles(tmp_path) -> None:  # noqa: ANN001
    pdflatex(derive(CE342, weight="W1[0,1]", lecture=True, title="50% & $y_1$").document(),
             tmp_path)  # fmt: skip
