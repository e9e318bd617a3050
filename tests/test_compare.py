"""``derive SPEC --compare OTHER [OTHER ...]``: one column per spec, in every format, within the
margin (issue 20's comparison of more than two losses; issue 19's compare page that ran 22.4pt
into the margin)."""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

import pytest
from conftest import make_spec
from test_latex import BCE, needs_latex
from test_layout import overfull_boxes
from test_printed import OWN

from symbackprop.cli.commands import main
from symbackprop.errors import SymbackpropError
from symbackprop.pipeline import derivation_of
from symbackprop.render.compare import (
    MAX_SPECS,
    PORTRAIT_SPECS,
    TEXT_WIDTH,
    compare,
    compare_document,
    merged,
    page_for,
)
from symbackprop.render.printing import NOTATIONS
from symbackprop.spec.model import load_spec

DIGITS_MSE = make_spec([64, 32, 10], "softmax", "mse", "tanh", "digitsmse")
"""digits with MSE in place of cross-entropy (issue 19's ``digitsmse.toml``)."""
DEEP = make_spec([4, 5, 4, 3], "softmax", "cross_entropy", ["relu", "tanh"], "deep")
RELU = make_spec([3, 5, 2], "identity", "mse", "relu", "relu_id")
DEFAULT = NOTATIONS["default"]


@functools.cache
def _derivation(spec):  # noqa: ANN001, ANN202 - a built-in's name or a Spec
    return derivation_of(load_spec(spec) if isinstance(spec, str) else spec)


def _derivations(*specs) -> list:  # noqa: ANN002
    """The specs' derivations (each derived once in this module)."""
    return [_derivation(spec) for spec in specs]


@pytest.fixture(scope="module")
def three() -> list:
    """xor (sigmoid, MSE), digits (softmax, cross-entropy), digits with MSE."""
    return _derivations("xor", "digits", DIGITS_MSE)


def test_three_specs_as_text(three: list) -> None:
    """A line per spec in each row, the spec's name first; a dash where a spec lacks the step;
    a heading line per spec with its layers, activations, output and loss."""
    text = compare(three, "text", DEFAULT)
    assert text.startswith("xor vs digits vs digitsmse, where they differ\n")
    assert "  digitsmse  64-32-10, tanh, softmax output, mse\n" in text
    blocks = text.split("\n\n")[1:]
    assert len(blocks) >= 6
    for block in blocks:
        lines = block.strip("\n").splitlines()
        assert [line.split(":")[0].strip() for line in lines[1:]] == ["xor", "digits", "digitsmse"]
    sigma = next(b for b in blocks if b.startswith("sigmoid'(u)"))
    assert sigma.count("—") == 2  # only xor has σ'
    delta = next(b for b in blocks if b.startswith("δ2[p]\n"))
    assert "digits:    a2[p] - y[p]" in delta and "Σ_j a2[j]²" in delta  # CE cancels, MSE not
    assert "z1[j]" not in text  # steps every spec reads the same are left out


def test_three_specs_as_markdown(three: list) -> None:
    """Three cells in every row of the table, none split by a ``|`` in its math."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    table = compare(three, "markdown", DEFAULT)
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows[1] == "|---|---|---|"
    assert all(row.count("|") - row.count(r"\|") == 4 for row in rows), rows
    assert "**digitsmse**: 64-32-10, tanh, softmax output, mse" in rows[0]
    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)
    cells = [t for t in md.parse(table) if t.type == "td_open"]
    assert len(cells) == 3 * (len(rows) - 2)
    assert table.count("| — |") >= 2


def test_three_specs_as_latex(three: list) -> None:
    """A column per spec, each row its own table (a page may break between them); the row
    order follows every spec's reading order."""
    tex = compare(three, "latex", DEFAULT)
    column = f"p{{{page_for(3).width}\\linewidth}}"
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") > 6
    assert all(line.count(column) == 3 for line in tex.splitlines() if "begin{tabular}" in line)
    assert r"\textbf{d\penalty300{}i" in tex and "64--32--10" in tex
    assert "---" in tex and "landscape" not in tex
    # digits' softmax Jacobian comes after the step before it in digits, not at the end
    assert tex.index(r"\frac{\partial a^{(2)}_{j}}{\partial z^{(2)}_{p}}") < tex.index(
        r"\sigma'\bigl(u\bigr) &="
    )


def test_two_specs_read_as_before() -> None:
    """``--compare OTHER`` as before: two columns, "between the two derivations"."""
    xor, bce = _derivations("xor", BCE)
    tex = compare_document([xor, bce], DEFAULT)
    assert "differs between the two derivations" in tex
    assert r"} and \texttt{x\penalty300{}o\penalty300{}r\penalty300{}\_\allowbreak{}b" in tex
    assert "a4paper,margin=2cm" in tex


def test_merged_keeps_each_order() -> None:
    assert merged([["a", "b", "d"], ["a", "c", "d", "e"], ["x", "b"]]) == [
        "x", "a", "c", "b", "d", "e",
    ]  # fmt: skip


def test_columns_share_the_line() -> None:
    """Column widths from the count: n columns and their gaps fill at most the line; portrait up
    to PORTRAIT_SPECS, landscape beyond."""
    for count in range(2, MAX_SPECS + 1):
        page = page_for(count)
        assert page.landscape == (count > PORTRAIT_SPECS)
        assert count * page.width + (count - 1) * page.gap <= 1
        assert page.points < page.width * TEXT_WIDTH[page.landscape]


def test_specs_that_share_a_name_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "v2").mkdir()
    for folder, size in ((tmp_path, 4), (tmp_path / "v2", 5)):
        (folder / "net.toml").write_text(
            f'name = "net"\n[network]\nlayers = [2, {size}, 1]\noutput = "sigmoid"\n'
            'loss = "mse"\nactivation = "relu"\n'
        )
    out = io.StringIO()
    paths = [str(tmp_path / "net.toml"), str(tmp_path / "v2" / "net.toml")]
    assert main(["derive", paths[0], "--compare", paths[1], "--format", "text"], out) == 0
    assert f"{paths[0]} vs {paths[1]}, where they differ" in out.getvalue()
    assert "Every step reads the same in both derivations." in out.getvalue()


def test_specs_made_in_memory_that_share_a_name_are_numbered() -> None:
    """A sweep's variant and its spec (one name, no file of the variant's own)."""
    from symbackprop.render.compare import columns

    twin = make_spec([2, 4, 1], "sigmoid", "binary_cross_entropy", "tanh", "xor")
    labels = [column.label for column in columns(_derivations("xor", twin, "digits"))]
    assert labels == ["xor (1)", "xor (2)", "digits"]


def test_cli_takes_several_specs(tmp_path: Path) -> None:
    """``--compare A B`` and ``--compare A --compare B`` both give three columns."""
    other = tmp_path / "bce.toml"
    other.write_text(
        'name = "xor_bce"\n[network]\nlayers = [2, 4, 1]\nactivation = "tanh"\n'
        'output = "sigmoid"\nloss = "binary_cross_entropy"\n'
    )
    outputs = []
    twice = ["--compare", "digits", "--compare", str(other)]
    for args in (["--compare", "digits", str(other)], twice):
        out = io.StringIO()
        assert main(["derive", "xor", *args, "--format", "text"], out) == 0
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("xor vs digits vs xor_bce, where they differ")


BAD = {
    "missing": (["--compare", "digits", "{tmp}/nope.toml"], "{tmp}/nope.toml: no such spec file"),
    "spec again": (["--compare", "xor"], "--compare: xor is SPEC as well; compare each spec once"),
    "twice": (["--compare", "digits", "digits"], "--compare: digits is given twice"),
    "same file": (["--compare", "{tmp}/a.toml", "{tmp}/../{base}/a.toml"],
                  "--compare: {tmp}/../{base}/a.toml is the same spec file as {tmp}/a.toml"),
    "same network": (["--compare", "{tmp}/a.toml", "{tmp}/b.toml"],
                     "--compare: {tmp}/b.toml describes the same network as {tmp}/a.toml"),
    "too many": (["--compare", "digits", *[f"{{tmp}}/{n}.toml" for n in "cdefg"]],
                 "--compare: a LaTeX page holds at most 6 specs side by side (7 given)"),
    "weight": (["--compare", "digits", "--weight", "W1[0,1]"],
               "--compare: has no --weight form; derive each spec with --weight"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_comparisons_are_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad input: one line naming the problem and where, status 2, nothing overwritten."""
    body = (
        'name = "{}"\n[network]\nlayers = [2, {}, 1]\nactivation = "relu"\n'
        'output = "sigmoid"\nloss = "mse"\n'
    )
    for number, name in enumerate("abcdefg"):
        size = 4 if name in "ab" else number + 1
        (tmp_path / f"{name}.toml").write_text(body.format(name, size))
    target = tmp_path / "kept.tex"
    target.write_text("mine\n")
    args, message = BAD[case]
    fill = {"tmp": str(tmp_path), "base": tmp_path.name}
    argv = ["derive", "xor", *[a.format(**fill) for a in args], "-o", str(target), "--force"]
    assert main(argv, out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.startswith("symbackprop: error: " + message.format(**fill)), err
    assert err.count("\n") == 1
    assert target.read_text() == "mine\n"


def test_a_side_no_column_holds_is_refused_with_the_count_that_fits() -> None:
    """Six specs beside a Huber loss written as a Piecewise: its loss step cannot be broken to
    a sixth of a landscape page; the refusal names it and the count that fits."""
    derivations = _derivations(OWN, "xor", "digits", DIGITS_MSE, BCE, RELU)
    with pytest.raises(SymbackpropError) as caught:
        compare(derivations, "latex", DEFAULT)
    message = str(caught.value)
    assert message.startswith("--compare: own's step for L is too wide for a column of 6 specs")
    assert re.search(r"compare at most [2-5] specs with own", message)
    assert "\n" not in message
    assert "own" in compare(derivations, "text", DEFAULT)  # text has no page


MARGIN = {
    "xor-digits-digitsmse": ("xor", "digits", DIGITS_MSE),
    "digits-digitsmse": ("digits", DIGITS_MSE),  # issue 19: 22.4pt into the margin
}
SLOW_MARGIN = {
    "four-portrait": ("xor", "digits", DIGITS_MSE, BCE),
    "four-own-landscape": (OWN, DEEP, RELU, BCE),
    "five": ("xor", "digits", DIGITS_MSE, BCE, DEEP),
    "six": ("xor", "digits", DIGITS_MSE, BCE, DEEP, RELU),
    "three-own-portrait": (OWN, DEEP, RELU),
    "nielsen-three": ("xor", "digits", DIGITS_MSE),
}


@needs_latex
@pytest.mark.parametrize("case", sorted(MARGIN))
def test_comparisons_stay_within_the_margin(case: str, tmp_path: Path) -> None:
    tex = compare_document(_derivations(*MARGIN[case]), DEFAULT)
    assert overfull_boxes(tex, tmp_path) == []


@needs_latex
@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SLOW_MARGIN))
def test_more_comparisons_stay_within_the_margin(case: str, tmp_path: Path) -> None:
    """Four specs on a portrait page; five, six, and four beside a piecewise loss on a
    landscape one; every count within the margin."""
    derivations = _derivations(*SLOW_MARGIN[case])
    notation = NOTATIONS["nielsen"] if case.startswith("nielsen") else DEFAULT
    tex = compare_document(derivations, notation)
    landscape = len(derivations) > PORTRAIT_SPECS or case == "four-own-landscape"
    assert ("a4paper,landscape,margin=2cm" in tex) == landscape
    assert overfull_boxes(tex, tmp_path) == []
