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
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_printed import CE342, DEEP, LEAKS, OWN

from symbackprop.cli.commands import main
from symbackprop.pipeline import derivation_of
from symbackprop.render.diagram import MAX_DRAWN, Picture, layout, visible
from symbackprop.render.document import MARKER
from symbackprop.render.labels import SCRIPT, SMALL, TINY, Box, label_box, measure
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


# --- Labels never overlap (issue 19): read back from the compiled PDF -------------------------

_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)
_NODE = re.compile(r"^\\node\[[^\n]*\] \((n\d+x\d+|loss)\) at \([^)]*\) \{(.*)\};$", re.M)
_POSITION = re.compile(r"^SBP (\S+) (\S+) (-?\d+) (-?\d+)$", re.M)
SP_PER_BP = 65536 * 72.27 / 72
OVERLAP = 0.3
"""How far (bp) two word boxes may run into each other, or a word into a neuron's circle: the
rounding of pdftotext's boxes, which touch within a label."""


@dataclass(frozen=True)
class Word:
    """One word of the PDF (pdftotext -bbox-layout), in bp from the page's top left."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def meets(self, other: Word) -> bool:
        return (
            min(self.x1, other.x1) - max(self.x0, other.x0) > OVERLAP
            and min(self.y1, other.y1) - max(self.y0, other.y0) > OVERLAP
        )


def _with_positions(tex: str) -> tuple[str, dict[str, str]]:
    """The picture with each neuron's and the loss's centre and border written to the log
    at shipout (\\pdfsavepos: exactly where TikZ put them), and each one's printed text."""
    texts = dict(_NODE.findall(tex))
    anchors = {"c": "center", "e": "east", "ne": "north east", "sw": "south west"}
    marks = "".join(
        rf"\path ({name}.{anchor}) node[inner sep=0pt, outer sep=0pt] {{\pdfsavepos"
        rf"\write-1{{SBP {name} {key} \the\pdflastxpos\space\the\pdflastypos}}}};" + "\n"
        for name in texts
        for key, anchor in anchors.items()
    )
    return tex.replace(r"\end{tikzpicture}", marks + r"\end{tikzpicture}"), texts


def _read_back(tex: str, folder: Path) -> tuple[list[Word], dict, dict[str, str]]:
    """The PDF's words and each node's shape: ("circle", x, y, r) or ("box", x0, y0, x1, y1)."""
    marked, texts = _with_positions(tex)
    log = compile_tex(marked, folder)
    html = subprocess.run(
        ["pdftotext", "-bbox-layout", "d.pdf", "-"], cwd=folder, capture_output=True,
        text=True, check=True, timeout=60,
    ).stdout
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html).group(1))
    words = [Word(unescape(m[5]), *map(float, m.groups()[:4])) for m in _WORD.finditer(html)]
    at: dict[tuple[str, str], tuple[float, float]] = {}
    for name, key, x, y in _POSITION.findall(log.replace("\n\n", "\n")):
        at[(name, key)] = (int(x) / SP_PER_BP, height - int(y) / SP_PER_BP)
    shapes = {}
    for name in texts:
        (x, y), (east, _) = at[(name, "c")], at[(name, "e")]
        if name == "loss":
            (x1, y0), (x0, y1) = at[(name, "ne")], at[(name, "sw")]
            shapes[name] = ("box", x0, y0, x1, y1)
        else:
            shapes[name] = ("circle", x, y, east - x)
    return words, shapes, texts


def _inside(word: Word, shape: tuple) -> tuple[bool, bool]:
    """Whether the word lies wholly inside the shape, and whether it meets it at all."""
    corners = [(word.x0, word.y0), (word.x1, word.y0), (word.x0, word.y1), (word.x1, word.y1)]
    if shape[0] == "box":
        _, x0, y0, x1, y1 = shape
        wholly = all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in corners)
        meets = Word("", x0, y0, x1, y1).meets(word)
        return wholly, meets
    _, cx, cy, r = shape
    wholly = all(math.hypot(x - cx, y - cy) <= r for x, y in corners)
    nearest = math.hypot(
        min(max(cx, word.x0), word.x1) - cx, min(max(cy, word.y0), word.y1) - cy
    )
    return wholly, nearest < r - OVERLAP


def _letters(text: str) -> list[str]:
    """A printed text's letters and digits, for comparing LaTeX with the PDF's words."""
    plain = re.sub(r"\\[A-Za-z]+", "", text)
    return sorted(c for c in plain if c.isalnum() or c == ".")


def _stacked(a: Word, b: Word) -> bool:
    """Whether two words are one symbol's superscript and subscript (they start together, one
    above the other, their boxes grazing: a tenth of a line) or the dots of one \\vdots."""
    if set(a.text) == set(b.text) == {"."}:
        return True
    grazing = min(a.y1, b.y1) - max(a.y0, b.y0) < 0.25 * min(a.y1 - a.y0, b.y1 - b.y0)
    return abs(a.x0 - b.x0) < 1.5 and grazing


def _overlaps(words: list[Word], shapes: dict, texts: dict[str, str]) -> list[str]:
    """Every pair of words that overprint, every word that runs into a neuron or the loss, and
    every neuron holding a word other than its own text."""
    found = [
        f"{a.text!r} overprints {b.text!r}"
        for n, a in enumerate(words)
        for b in words[n + 1 :]
        if a.meets(b) and not _stacked(a, b)
    ]
    for name, shape in shapes.items():
        held = []
        for word in words:
            wholly, meets = _inside(word, shape)
            if wholly:
                held.append(word.text)
            elif meets:
                found.append(f"{word.text!r} runs into {name}")
        if _letters("".join(held)) != _letters(texts[name]):
            found.append(f"{name} holds {held}, not {texts[name]!r}")
    return found


LABEL_CASES = {
    "xor-example": ("xor", dict(example=True)),
    "xor-weight-goodfellow": ("xor", dict(weight="W1[0,1]", notation="goodfellow")),
    "mazur-example-nielsen": (MAZUR, dict(example=True, notation="nielsen")),
    "huber-weight-nielsen": (OWN, dict(weight="W1[0,1]", notation="nielsen")),
    "xor-weight-example": ("xor", dict(weight="W1[0,1]", example=True)),
    "huber-example": (OWN, dict(example=True)),
    "ce342-weight": (CE342, dict(weight="W1[0,1]")),
    "mazur-weight": (MAZUR, dict(weight="W1[0,1]")),
    "digits-example": ("digits", dict(example=True)),
    "deep-weight-nielsen": (DEEP, dict(weight="W1[0,1]", notation="nielsen")),
    "xor-example-9-digits": ("xor", dict(example=True, digits=9, weight="W1[1,0]")),
}
"""Issue 19's pictures: xor's overprinted weights, Mazur's, a highlighted path in each
notation, the Huber spec (a Piecewise loss) whose label covered the output neuron; the
softmax paths of CE342 and DEEP, whose labels crowd the last layers; neurons 2 cm wide."""
SLOW_LABEL_CASES = {
    "mazur-example-nielsen", "xor-weight-example", "huber-example", "ce342-weight",
    "mazur-weight", "digits-example", "deep-weight-nielsen", "xor-example-9-digits",
}


@needs_tikz
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=[pytest.mark.slow] if case in SLOW_LABEL_CASES else [])
        for case in LABEL_CASES
    ],
)
def test_no_label_overprints_another_or_a_neuron(case: str, tmp_path: Path) -> None:
    """From the compiled PDF: no two words' boxes overlap, no word runs into a neuron's circle
    or the loss's box, and each neuron holds its own text and nothing else."""
    spec, options = LABEL_CASES[case]
    spec = load_spec(spec) if isinstance(spec, (str, Path)) else spec
    words, shapes, texts = _read_back(diagram_for(spec, **options), tmp_path)
    assert len(shapes) >= 5 and len(words) > 20
    assert _overlaps(words, shapes, texts) == []


def _labels(picture: Picture) -> list[tuple[str, float]]:
    """Every string a picture prints beside or inside a neuron, with its font size (pt)."""
    found = [(edge.label, TINY) for edge in picture.edges if edge.label]
    for node in picture.nodes:
        found += [(text, TINY) for text in (node.above, node.below) if text]
        if node.style != "dots":
            found.append((node.text, SMALL if node.style == "loss" else SCRIPT))
    return found


@needs_tikz
def test_label_sizes_are_never_less_than_tex_sets_them(tmp_path: Path) -> None:
    """The boxes the placement works with hold what TeX sets: every label of these pictures
    (numbers, partials, Nielsen's and Goodfellow's symbols, fractions, a Piecewise's cases),
    measured by TeX, is no wider and no taller than its estimate, and not much smaller."""
    xor = load_spec("xor")
    pictures = [
        layout(derivation_of(CE342), weight="W1[0,1]", notation=NOTATIONS["nielsen"]),
        layout(derivation_of(OWN), weight="W1[0,1]", notation=NOTATIONS["goodfellow"]),
        layout(derivation_of(xor), example=example_for_spec(xor, derivation_of(xor), sample=1)),
    ]
    texts = sorted({label for picture in pictures for label in _labels(picture)})
    texts.append((OWN_HUBER_PARTIAL, TINY))
    font = {TINY: r"\tiny", SCRIPT: r"\scriptsize", SMALL: r"\small"}
    body = "\n".join(
        rf"\setbox0\hbox{{{font[size]} {text}}}\typeout{{SBPBOX {n} \the\wd0/\the\ht0/\the\dp0}}"
        for n, (text, size) in enumerate(texts)
    )
    log = compile_tex(
        "\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n"
        + body + "\nx\\end{document}\n",
        tmp_path,
    )
    found = re.findall(r"SBPBOX (\d+) ([\d.]+)pt/([\d.]+)pt/([\d.]+)pt", log)
    assert len(found) == len(texts)
    for n, width, height, depth in found:
        text, size = texts[int(n)]
        estimate = measure(text, size)
        assert float(width) <= estimate.width <= 1.35 * float(width) + 2, (text, width)
        assert float(height) + float(depth) <= estimate.height + estimate.depth, (text, height)


OWN_HUBER_PARTIAL = (
    r"$\begin{cases} a^{(3)}_{0} - y_{0} & \text{for}\: \left|{a^{(3)}_{0} - y_{0}}\right| "
    r"\leq 1 \\\operatorname{sign}{\left(a^{(3)}_{0} - y_{0} \right)} & \text{otherwise} "
    r"\end{cases}$"
)
"""The Huber loss's dL/da as SymPy prints it (the picture writes it in its note)."""


def _meets_a_neuron(box: Box, picture: Picture) -> bool:
    neurons = [n for n in picture.nodes if n.style not in ("dots", "loss")]
    return any(box.meets_circle(n.x, n.y, picture.radius, gap=0.0) for n in neurons)


@pytest.mark.parametrize(
    "spec, options",
    [
        ("xor", dict(example=True)),
        (MAZUR, dict(weight="W1[0,1]")),
        (OWN, dict(weight="W1[0,1]", notation="nielsen")),
        (DEEP, dict(weight="W1[0,1]")),
    ],
)
def test_placed_labels_meet_no_neuron_no_label_and_stay_on_their_edge(
    spec: object, options: dict
) -> None:
    """The view model, without TeX: every edge label has a place on its own edge, and its box
    (as estimated) meets no neuron and no other label."""
    spec = load_spec(spec) if isinstance(spec, (str, Path)) else spec
    options = dict(options)
    derivation = derivation_of(spec)
    example = example_for_spec(spec, derivation) if options.pop("example", False) else None
    notation = NOTATIONS[options.pop("notation", "default")]
    picture = layout(derivation, example=example, notation=notation, **options)
    nodes = {node.name: node for node in picture.nodes}
    labelled = [edge for edge in picture.edges if edge.label]
    assert labelled and all(edge.at is not None for edge in labelled)
    boxes = [label_box(edge.label, *edge.at) for edge in labelled]
    for edge in labelled:  # on the line between its neurons' centres
        (x0, y0), (x1, y1) = ((nodes[n].x, nodes[n].y) for n in (edge.source, edge.target))
        x, y = edge.at
        off = abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) / math.hypot(x1 - x0, y1 - y0)
        assert off < 0.02, edge
    for n, box in enumerate(boxes):
        assert not _meets_a_neuron(box, picture), labelled[n]
        assert not any(box.meets(other, gap=0.0) for other in boxes[n + 1 :]), labelled[n]


def test_a_piecewise_partial_is_named_on_its_edge_and_stated_in_the_note() -> None:
    """Huber's dL/da (two cases) is wider than an edge: the edge names it, the note states it;
    a layer whose weights have no room has them listed in the note, not drawn over each other."""
    picture = layout(derivation_of(OWN), weight="W1[0,1]")
    into_loss = next(edge for edge in picture.edges if edge.target == "loss")
    assert into_loss.label == r"$\partial L / \partial a^{(3)}_{0}$"
    assert r"\partial L / \partial a^{(3)}_{0} = \begin{cases}" in picture.note
    tex = diagram_for(OWN, weight="W1[0,1]")
    assert r"\mbox{$\partial L / \partial a^{(3)}_{0} = \begin{cases}" in tex


def test_labels_are_drawn_on_white_after_every_edge() -> None:
    """An edge drawn after a label would run through it: every label (beside a neuron or on an
    edge) comes after the last edge, on an opaque white box."""
    tex = diagram_for(load_spec("xor"), example=True, weight="W1[0,1]")
    lines = tex.splitlines()
    edges = [n for n, line in enumerate(lines) if re.match(r"\\draw\[(edge|path|weight)\]", line)]
    labels = [n for n, line in enumerate(lines) if re.match(r"\\node\[(side|edgelabel)", line)]
    assert edges and len(labels) > 10 and max(edges) < min(labels)
    assert "edgelabel/.style={font=\\tiny, fill=white, inner sep=1pt}" in tex
    assert "side/.style={font=\\tiny, fill=white, inner sep=1pt}" in tex


def test_example_numbers_read_as_the_worked_example_prints_them() -> None:
    """The picture printed W1[2,0] as 0.443 where the worked example's matrix says 0.4430: every
    number on an example diagram is written as the document writes it (one rounding rule)."""
    spec = load_spec("xor")
    picture = diagram_for(spec, example=True, sample=1)
    document = example_document(spec)
    shown = set(re.findall(r"\d+\.\d+", " ".join(re.findall(r"\$([^$]*)\$", picture))))
    assert len(shown) > 20 and "0.4430" in shown
    assert shown <= set(re.findall(r"\d+\.\d+", document))


def example_document(spec) -> str:  # noqa: ANN001
    """The worked example's LaTeX for sample 1."""
    from symbackprop.run.documents import document_for

    return document_for(spec, example=True, sample=1).latex()
