"""``symbackprop slides``: a Beamer deck whose overlays step through every derivation line, the
diagram beside each lighting the layer of the equation shown; it compiles without an overfull
box, its source is the same byte for byte, and its errors are one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_latex import needs_latex, pdflatex

from symbackprop.cli.commands import main
from symbackprop.pipeline import derivation_of
from symbackprop.render.document import derivation_document
from symbackprop.render.slides import derivation_lines
from symbackprop.run.documents import slides_for
from symbackprop.spec.model import load_spec

_FRAME = re.compile(r"\\begin\{frame\}\[t\](.*?)\\end\{frame\}", re.S)
_LINE = re.compile(
    r"% overlay (\d+): layer (\w+)\n\\uncover<(\d+)->\{\\noindent\\sbpnow\{(\d+)\}"
    r"\\makebox\[2\.1em\]\[l\]\{\\tiny (?:\((\d+)\))?\}%\n\\begin\{minipage\}.*?\n(.*?)"
    r"\\end\{minipage\}",
    re.S,
)
_PICTURE = re.compile(
    r"\\only<(\d+)>\{% overlay (\d+): layer (\w+)\n(.*?)\\end\{tikzpicture\}", re.S
)
_CURRENT = re.compile(r"\\node\[current[,\]][^\n]*\(n(\d+)x\d+\)")


@pytest.fixture(scope="module")
def decks() -> dict[str, str]:
    return {name: slides_for(load_spec(name)) for name in ("xor",)}


def _frames(tex: str) -> list[tuple[list[tuple], list[tuple]]]:
    """Each frame's equation lines (overlay, number, rows) and pictures (overlay, TikZ)."""
    frames = []
    for body in _FRAME.findall(tex):
        lines = []
        for comment, _, uncover, marker, number, rows in _LINE.findall(body):
            assert comment == uncover == marker
            lines.append((int(uncover), number, rows))
        pictures = [(int(only), tikz) for only, comment, _, tikz in _PICTURE.findall(body)]
        assert all(str(only) == comment for only, comment, _, _ in _PICTURE.findall(body))
        frames.append((lines, pictures))
    return frames


def _lines(name: str) -> int:
    return derivation_lines(derivation_document(derivation_of(load_spec(name))))


def test_every_derivation_line_has_its_own_overlay(decks: dict[str, str]) -> None:
    """Frame by frame, line k is uncovered from overlay k and the picture of overlay k is
    shown on k alone; over the deck, one line per right-hand side of the derivation."""
    tex = decks["xor"]
    frames = _frames(tex)
    total = 0
    for lines, pictures in frames:
        overlays = [overlay for overlay, _, _ in lines]
        assert overlays == list(range(1, len(lines) + 1))
        assert [overlay for overlay, _ in pictures] == overlays
        assert len(re.findall(r"\\only<\d+>\{", "".join(t for _, t in pictures))) == 0
        total += len(lines)
    assert total == _lines("xor") == 42
    document = derivation_document(derivation_of(load_spec("xor")))
    numbers = [int(n) for lines, _ in frames for _, n, _ in lines if n]
    assert numbers == [line.number for s in document.printed("latex") for line in s.lines]


def test_each_part_of_the_derivation_is_a_section(decks: dict[str, str]) -> None:
    """Issue 20: the forward pass, the output delta, the recursion, the gradients and the
    update each a section, in that order, and each section's frames hold its own equations
    (the output delta's the delta of the last layer, the update's the arrows)."""
    tex = decks["xor"]
    titles = re.findall(r"\\section\{([^}]*)\}", tex)
    assert titles == [
        "Forward pass", "The output delta", "The recursion: hidden deltas", "Gradients",
        "The update",
    ]  # fmt: skip
    parts = dict(zip(titles, re.split(r"\\section\{[^}]*\}", tex)[1:], strict=True))
    assert r"z^{(1)}_{j} =" in parts["Forward pass"]
    assert r"\delta^{(2)}_{p} =" not in parts["Forward pass"]
    assert r"\delta^{(2)}_{p} =" in parts["The output delta"]
    assert r"\delta^{(1)}_{p} =" in parts["The recursion: hidden deltas"]
    assert r"\frac{\partial L}{\partial W^{(1)}_{pq}}" in parts["Gradients"]
    assert r"\leftarrow" in parts["The update"] and r"\leftarrow" not in parts["Gradients"]


def _layers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\^\{\((\d+)\)\}", text)}


def test_the_lit_layer_is_the_equation_s(decks: dict[str, str]) -> None:
    """On every overlay whose equation's left side names a layer (z^(l), a^(l), delta^(l),
    W^(l), b^(l)), the diagram's current neurons are that layer's (the highest it names) and
    nobody else's; an equation of a weight's gradient lights the edges into its layer."""
    checked = 0
    for lines, pictures in _frames(decks["xor"]):
        lhs = ""
        for (overlay, number, rows), (_, tikz) in zip(lines, pictures):
            if number:
                first = rows.split("\n")[0]
                lhs = re.split(r" = | \\leftarrow ", first, maxsplit=1)[0]
            current = {int(m) for m in _CURRENT.findall(tikz)}
            named = _layers(lhs)
            if named:
                assert current == {max(named)}, (overlay, lhs, current)
                checked += 1
            if r"\partial W^{(" in lhs:
                layer = max(named)
                factors = re.findall(r"\\draw\[factor\] \(n\d+x\d+\) -- \(n(\d+)x\d+\)", tikz)
                assert factors and {int(f) for f in factors} == {layer}
    assert checked >= 30


def test_the_same_spec_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.tex", tmp_path / "b.tex"
    assert main(["slides", "xor", "--tex", "-o", str(first)]) == 0
    assert main(["slides", "xor", "--tex", "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert b"\\documentclass[aspectratio=169,10pt]{beamer}" in first.read_bytes()


@pytest.mark.parametrize(
    "argv",
    [
        ["slides", "no-such-spec"],
        ["slides", "xor", "--tex", "-o", "deck.pdf"],
        ["slides", "xor", "-o", "deck.tex"],
        ["slides", "xor", "--sample", "3"],
        ["slides", "xor", "--notation", "nobody", "--tex"],
        ["slides", "xor", "--title", "", "--tex"],
    ],
)
def test_cli_errors_are_one_line(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symbackprop: error:") and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())


def test_no_latex_engine_is_said_by_slides_not_by_an_option_it_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """``slides`` has no --pdf: the PDF engine's refusal names the command instead."""
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["slides", "xor", "-o", str(tmp_path / "deck.pdf")]) == 2
    err = capsys.readouterr().err
    assert "no LaTeX engine found" in err and err.count("\n") == 1, err
    assert "--pdf" not in err
    assert not any(tmp_path.iterdir())


def test_a_foreign_file_is_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for name in ("mine.pdf", "mine.tex"):
        target = tmp_path / name
        target.write_text("not symbackprop's")
        argv = ["slides", "xor", "-o", str(target)] + (["--tex"] if name.endswith("tex") else [])
        assert main(argv) == 2
        assert "symbackprop: error:" in capsys.readouterr().err
        assert target.read_text() == "not symbackprop's"
    assert main(["slides", "xor", "--tex", "-o", str(tmp_path / "mine.tex"), "--force"]) == 0


def _compiles(tex: str, folder: Path, lines: int) -> None:
    """No overfull box, and one page per derivation line after the title page."""
    pdflatex(tex, folder)
    log = (folder / "doc.log").read_text(errors="replace")
    assert [line for line in log.splitlines() if re.match(r"Overfull \\[hv]box", line)] == []
    pages = re.search(r"Output written on doc\.pdf \((\d+) pages?", log)
    assert pages and int(pages.group(1)) == 1 + lines


@needs_latex
@pytest.mark.parametrize("name", ["xor", pytest.param("digits", marks=pytest.mark.slow)])
def test_decks_compile_one_page_per_line(name: str, tmp_path: Path) -> None:
    _compiles(slides_for(load_spec(name)), tmp_path, _lines(name))


@needs_latex
@pytest.mark.slow
def test_lecture_nielsen_and_example_decks_compile(tmp_path: Path) -> None:
    cases = [
        (dict(notation="nielsen", lecture=True, title="Backprop, week 3"), "Backprop, week 3"),
        (dict(example=True), "Worked example"),
    ]
    for n, (options, shown) in enumerate(cases):
        folder = tmp_path / str(n)
        folder.mkdir()
        tex = slides_for(load_spec("xor"), **options)
        assert shown in tex
        pdflatex(tex, folder)
        log = (folder / "doc.log").read_text(errors="replace")
        assert "Overfull" not in log


@needs_latex
@pytest.mark.slow
def test_the_cli_writes_the_pdf(tmp_path: Path) -> None:
    target = tmp_path / "deck.pdf"
    assert main(["slides", "xor", "-o", str(target)]) == 0
    assert target.read_bytes().startswith(b"%PDF")
    assert main(["slides", "xor", "-o", str(target)]) == 0  # its own file: replaced
