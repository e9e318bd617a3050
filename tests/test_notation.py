"""Every notation profile says where its indices start, and every index a document prints,
the worked example's sample number included, follows what it says (issue 19).

``--indices 0|1`` (``derive(indices=...)``) counts from 0 or 1 in any profile; without it a
profile counts as its source does (default from 0 as the code does, Nielsen and Goodfellow
from 1). The text format writes W2[j, k] in every profile and counts as the profile does.
"""

from __future__ import annotations

import io
import re

import pytest

from symbackprop import derive
from symbackprop.cli.commands import main
from symbackprop.errors import SymbackpropError

SAMPLE = 2
"""The worked example's row of xor's data (counted from 0, as ``--sample`` takes it)."""

LATEX_ZERO = re.compile(r"(?<!n)_\{0[,}]|_\{\d+,0\}|_\{[a-z]=0\}")
"""An index 0 in LaTeX: x_{0}, W_{0,1}, W_{1,0}, \\sum_{j=0} (n_{0} is layer 0's width: layers
are numbered as the profile numbers them, whatever the indices)."""
TEXT_ZERO = re.compile(r"\w\[(?:0[,\]]|\d+, 0\])")
"""An index 0 in text: x[0], W1[0, 1], W1[1, 0], right after the name (a vector of numbers,
``a = [1, 0]ᵀ``, follows an equals sign)."""

PROFILES = {
    "default": ("default", None, 0),
    "default-from-1": ("default", 1, 1),
    "nielsen": ("nielsen", None, 1),
    "nielsen-from-0": ("nielsen", 0, 0),
    "goodfellow": ("goodfellow", None, 1),
}


def _body(text: str) -> str:
    """A document without its comment lines (the banner)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(("%", "<!--")))


@pytest.mark.parametrize("case", sorted(PROFILES))
def test_each_profile_states_its_convention_and_prints_by_it(case: str) -> None:
    notation, indices, first = PROFILES[case]
    document = derive(
        "xor", notation=notation, indices=indices, example=True, sample=SAMPLE, weight="W1[0,1]"
    )
    latex, markdown, text = (
        _body(t) for t in (document.document(), document.markdown(), document.text())
    )
    for body in (latex, markdown, text):
        assert f"indices start at {first}" in body
        assert f"indices start at {1 - first}" not in body
        assert f"sample {SAMPLE + first} of the training data" in body
    for body, zero in ((latex, LATEX_ZERO), (markdown, LATEX_ZERO), (text, TEXT_ZERO)):
        found = zero.search(body)
        if first == 1:  # no index 0 anywhere: equations, reasons, headings, the example
            assert found is None, body[max(0, found.start() - 100) : found.end() + 100]
        else:
            assert found is not None
    heading = "Chain rule along every path for "
    expected = {0: ("_{0,1}", "[0, 1]"), 1: ("_{1,2}", "[1, 2]")}[first]
    assert heading in latex and expected[0] in latex.split(heading)[1].split("\n")[0]
    weight = {"default": "W1", "nielsen": "w²", "goodfellow": "W⁽¹⁾"}[notation]  # the text's
    assert f"{heading}{weight}{expected[1]}" in text


def test_the_default_says_as_in_the_code_only_outside_lecture() -> None:
    plain = derive("xor")
    lecture = derive("xor", lecture=True)
    for fmt in ("latex", "markdown", "text"):
        assert "indices start at 0 (as in the code)" in plain.notation_line(fmt)
        assert "indices start at 0" in lecture.notation_line(fmt)
        assert "code" not in lecture.notation_line(fmt)
    assert "indices start at 1;" in derive("xor", lecture=True, indices=1).document()


def test_indices_are_0_or_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SymbackpropError, match="--indices"):
        derive("xor", indices=2)
    with pytest.raises(SymbackpropError, match="--indices"):
        derive("xor", indices=True)
    with pytest.raises(SystemExit):
        main(["derive", "xor", "--indices", "2"], out=io.StringIO())
    assert "invalid choice" in capsys.readouterr().err
    out = io.StringIO()
    assert main(["derive", "xor", "--indices", "1", "--format", "text"], out=out) == 0
    assert "indices start at 1." in out.getvalue()
