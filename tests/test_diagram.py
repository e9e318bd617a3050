"""The network drawn: TikZ pictures that compile without overfull boxes and say the right things.

The highlighted path labels are checked against the module: along each path the labelled
partials multiply, and the path products sum to the module's gradient of that weight.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_printed import CE342, LEAKS

from symbackprop.cli.commands import main
from symbackprop.pipeline import derivation_of
from symbackprop.render.diagram import MAX_DRAWN, layout, visible
from symbackprop.render.document import MARKER
from symbackprop.render.printing import NOTATIONS
from symbackprop.run.documents import diagram_for
from symbackprop.run.example import example_for_spec
from symbackprop.run.weights import save_weights
from symbackprop.spec.model import load_spec
from symbackprop.util.fileio import unstamp_text

MAZUR = ROOT / "tests" / "fixtures" / "mazur.toml"
MAZUR_PARAMS = [
    np.array([[0.15, 0.20], [0.25, 0.30]]),
    np.array([0.35, 0.35]),
    np.array([[0.40, 0.45], [0.50, 0.55]]),
    np.array([0.60, 0.60]),
]


def _have_tikz() -> bool:
    if shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None:
        return False
    found = subprocess.run(["kpsewhich", "tikz.sty"], capture_output=True, text=True, timeout=60)
    return bool(found.stdout.strip())


needs_tikz = pytest.mark.skipif(
    not _have_tikz() and not os.environ.get("SYMBACKPROP_REQUIRE_LATEX"),
    reason="pdflatex with TikZ is not installed (Debian: texlive-pictures)",
)


def compile_tex(tex: str, folder: Path) -> str:
    """pdflatex the picture; returns the log. Fails on any error."""
    (folder / "d.tex").write_text(tex)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors[:3] or result.stdout[-2000:]
    assert (folder / "d.pdf").read_bytes().startswith(b"%PDF")
    return (folder / "d.log").read_text(errors="replace")


@pytest.fixture
def mazur_weights(tmp_path: Path) -> Path:
    return save_weights(tmp_path / "mazur.npz", load_spec(MAZUR), MAZUR_PARAMS)


CASES = {
    "xor": dict(spec="xor"),
    "digits": dict(spec="digits"),
    "xor-weight": dict(spec="xor", weight="W1[0,1]"),
    "digits-weight": dict(spec="digits", weight="W2[3,1]"),
    "xor-example": dict(spec="xor", example=True),
    "xor-weight-example": dict(spec="xor", weight="W1[2,1]", example=True),
    "mazur-example": dict(spec=str(MAZUR), example=True, sample=0, mazur=True),
}


@needs_tikz
@pytest.mark.parametrize("case", sorted(CASES))
def test_diagrams_compile_without_overfull_boxes(
    case: str, tmp_path: Path, mazur_weights: Path
) -> None:
    options = dict(CASES[case])
    spec = load_spec(options.pop("spec"))
    if options.pop("mazur", False):
        options["weights"] = mazur_weights
    log = compile_tex(diagram_for(spec, **options), tmp_path)
    assert "Overfull \\hbox" not in log and "Overfull \\vbox" not in log


@needs_tikz
def test_bare_picture_inputs_into_a_document(tmp_path: Path) -> None:
    bare = diagram_for(load_spec("xor"), weight="W2[0,3]", bare=True)
    assert bare.startswith(MARKER) and r"\documentclass" not in bare
    assert bare.count(r"\begin{tikzpicture}") == 1
    (tmp_path / "picture.tex").write_text(bare)
    host = (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{tikz}\n"
        "\\begin{document}\n\\noindent\\resizebox{\\linewidth}{!}{\\input{picture}}\n\\end{document}\n"
    )
    log = compile_tex(host, tmp_path)
    assert "Overfull \\hbox" not in log


def test_wide_layers_are_elided_but_the_weight_stays_visible() -> None:
    assert visible(MAX_DRAWN, set()) == list(range(MAX_DRAWN))
    assert visible(64, set()) == [0, 1, 2, None, 62, 63]
    assert visible(64, {40}) == [0, 1, 2, None, 40, None, 62, 63]
    picture = layout(derivation_of("digits"), weight="W1[10,40]")
    names = {node.name for node in picture.nodes}
    assert {"n0x40", "n1x10"} <= names and "n0x39" not in names
    assert sum(node.style == "dots" for node in picture.nodes) == 2 + 2 + 1  # 64, 32, 10 wide
    weight = [edge for edge in picture.edges if edge.style == "weight"]
    assert [(e.source, e.target) for e in weight] == [("n0x40", "n1x10")]


def _label_number(label: str) -> float:
    match = re.fullmatch(r"\$(-?[\d.]+(?:\s*\\cdot\s*10\^\{(-?\d+)\})?)\$", label.strip())
    assert match, label
    mantissa = float(match.group(1).split("\\cdot")[0])
    return mantissa * 10 ** int(match.group(2) or 0)


def test_path_labels_multiply_to_the_modules_gradient() -> None:
    """xor W1[2,1] (one output): weight edge, tanh', W2, sigmoid', dL/da along the one path."""
    spec = load_spec("xor")
    derivation = derivation_of(spec)
    example = example_for_spec(spec, derivation, sample=3)
    picture = layout(derivation, weight="W1[2,1]", example=example, digits=8)
    on_path = [edge for edge in picture.edges if edge.style in ("path", "weight")]
    assert sorted((e.source, e.target) for e in on_path) == [
        ("n0x1", "n1x2"),
        ("n1x2", "n2x0"),
        ("n2x0", "loss"),
    ]
    nodes = [node for node in picture.nodes if node.style == "onpath"]
    assert sorted(n.name for n in nodes) == ["n1x2", "n2x0"]
    factors = [_label_number(e.label) for e in on_path]
    factors += [_label_number("$" + n.above.split("=")[-1].strip()) for n in nodes]
    product = math.prod(factors)
    expected = example.values["dW1"][2, 1]
    assert product == pytest.approx(expected, rel=1e-6)
    # And independently: the edge into the loss is dL/da = 2 (a - y) / n_out for MSE.
    a, y = example.values["A2"][0, 0], example.values["Y"][0, 0]
    into_loss = next(edge for edge in on_path if edge.target == "loss")
    assert _label_number(into_loss.label) == pytest.approx(2 * (a - y), rel=1e-7)


def test_symbolic_labels_name_the_partials() -> None:
    tex = diagram_for(load_spec("xor"), weight="W1[0,1]")
    assert r"\partial a^{(1)}_{0} / \partial z^{(1)}_{0}" in tex
    assert r"W^{(2)}_{0,0}" in tex  # dz^(2)_0 / da^(1)_0 on the hidden-to-output edge
    assert "forward pass" in tex and "backward pass" in tex
    softmax = diagram_for(load_spec("digits"), weight="W2[3,1]")
    assert r"\partial L / \partial z^{(2)}_{3}" in softmax and "softmax: each" in softmax


def test_example_numbers_are_the_modules(mazur_weights: Path) -> None:
    tex = diagram_for(load_spec(MAZUR), example=True, weights=mazur_weights, sample=0, digits=9)
    for number in ("0.593269992", "0.75136507", "0.298371109", "0.15", "0.55"):
        assert number in tex, number


def test_cli_writes_refuses_and_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = tmp_path / "xor.tex"
    assert main(["diagram", "xor", "-o", str(target)], out=io.StringIO()) == 0
    assert unstamp_text(target.read_bytes()).startswith(MARKER)
    assert (
        main(["diagram", "xor", "--weight", "W1[0,0]", "-o", str(target)], out=io.StringIO()) == 0
    )
    foreign = tmp_path / "mine.tex"
    foreign.write_text("my notes")
    assert main(["diagram", "xor", "-o", str(foreign)], out=io.StringIO()) == 2
    assert foreign.read_text() == "my notes"
    for argv, words in [
        (["diagram", "xor", "--weight", "W3[0,0]"], "layer 3 does not exist"),
        (["diagram", "xor", "--bare", "--pdf"], "--bare makes a picture"),
        (["diagram", "xor", "--sample", "2"], "need --example"),
        (["diagram", "xor", "--example", "--sample", "9"], "out of range"),
    ]:
        capsys.readouterr()
        assert main(argv, out=io.StringIO()) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and words in err, err


@pytest.mark.parametrize("notation", sorted(LEAKS))
def test_labels_are_in_the_profiles_symbols(notation: str) -> None:
    """Every label, rule, caption and note in one profile's symbols and index convention
    (issue 19): no symbol of another profile, no index 0 where indices start at 1."""
    first = NOTATIONS[notation].index_offset
    for spec, options in ((CE342, {"weight": "W1[0,1]"}), (load_spec("xor"), {"example": True})):
        tex = diagram_for(spec, notation=notation, lecture=True, **options)
        math = re.findall(r"\$([^$]*)\$", tex)
        assert [(p, m) for m in math for p in LEAKS[notation] if re.search(p, m)] == []
        assert f"${NOTATIONS[notation].cost}$ is the loss and indices start at {first}." in tex
        assert first == 0 or re.search(r"_\{0\}", tex) is None
    assert re.search(r"_\{0\}", diagram_for(load_spec("xor"), notation=notation, indices=0))
    assert not re.search(r"_\{0\}", diagram_for(load_spec("xor"), notation=notation, indices=1))


def test_default_rules_and_a_caption_only_when_asked() -> None:
    plain = diagram_for(load_spec("xor"))
    assert r"forward pass: $a^{(l)} = f\bigl(W^{(l)} a^{(l-1)} + b^{(l)}\bigr)$" in plain
    assert r"\delta^{(l)} = \bigl(\bigl(W^{(l+1)}\bigr)^{\top} \delta^{(l+1)}\bigr)" in plain
    assert "is the loss" not in plain and r"\textbf" not in plain
    goodfellow = diagram_for(load_spec("xor"), notation="goodfellow")
    backward = r"g^{(l)} = \bigl(W^{(l+1)\top} g^{(l+1)}\bigr) \odot f'\bigl(a^{(l)}\bigr)"
    assert backward in goodfellow
    titled = diagram_for(load_spec("xor"), title="50% & $y_1$")
    assert r"\textbf{50\% \& \$y\_1\$}" in titled and "is the loss" not in titled
    nielsen = diagram_for(load_spec("xor"), notation="nielsen")
    assert "hidden layer 2: tanh" in nielsen and "output layer 3: sigmoid" in nielsen


def test_cli_diagram_notation_lecture_title(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    args = ["diagram", "xor", "--notation", "goodfellow", "--lecture", "--title", "Figure 1"]
    assert main(args, out=out) == 0
    assert r"\textbf{Figure 1}" in out.getvalue() and "$g^{(1)}$" in out.getvalue()
    for bad in (["--notation", "bogus"], ["--title", ""], ["--indices", "2"]):
        try:
            status = main(["diagram", "xor", *bad], out=io.StringIO())
        except SystemExit as exc:  # argparse's own usage error
            status = exc.code
        assert status == 2
    err = capsys.readouterr().err
    assert "--notation: unknown notation 'bogus'" in err and "--title: must be one line" in err


@needs_tikz
def test_a_lecture_diagram_compiles(tmp_path: Path) -> None:
    tex = diagram_for(CE342, weight="W1[0,1]", notation="nielsen", lecture=True, title="50% & x")
    log = compile_tex(tex, tmp_path)
    assert "Overfull" not in log
