"""``symbackprop exam``: reproducible variants, exercise sheets without answers, answers that a
plain NumPy pass recomputes from each variant's .npz, sheets that fit the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_latex import needs_latex
from test_layout import overfull_boxes

from symbackprop.cli.commands import main
from symbackprop.run.exam import write_exam
from symbackprop.spec.model import load_spec, parse_spec

SOFTMAX = parse_spec(
    {
        "name": "digits_like",
        "network": {
            "layers": [3, 4, 3],
            "activation": "tanh",
            "output": "softmax",
            "loss": "cross_entropy",
        },
        "training": {"learning_rate": 0.1},
    }
)
DIGITS = 4


def _kit(folder: Path, spec, variants: int = 2, seed: int = 7) -> Path:  # noqa: ANN001
    write_exam(spec, folder, variants, seed, pdf=False)
    return folder


@pytest.fixture(scope="module")
def xor_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _kit(tmp_path_factory.mktemp("xor"), load_spec("xor"))


@pytest.fixture(scope="module")
def softmax_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _kit(tmp_path_factory.mktemp("softmax"), SOFTMAX)


def _flat(record: dict) -> list[float]:
    """Every answer of a variant's record, entry by entry."""
    out: list[float] = []
    for key in ("forward", "output_delta", "hidden_delta", "gradients", "updated"):
        for value in record[key].values():
            out += value if isinstance(value, list) else [value]
    return out + [record["loss"]]


def _printed(value: float) -> float:
    """A value at the printed precision (DIGITS significant digits), as a magnitude."""
    return float(f"{abs(value):.{DIGITS - 1}e}")


def test_same_seed_same_bytes(tmp_path: Path, xor_kit: Path) -> None:
    again = _kit(tmp_path / "again", load_spec("xor"))
    names = sorted(p.name for p in xor_kit.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert {"answers.json", "exercise-2.tex", "solution-2.tex", "variant-2.npz"} <= set(names)
    for name in names:
        assert (xor_kit / name).read_bytes() == (again / name).read_bytes(), name
    other = _kit(tmp_path / "other", load_spec("xor"), variants=1, seed=8)
    assert (other / "variant-1.npz").read_bytes() != (xor_kit / "variant-1.npz").read_bytes()


@pytest.mark.parametrize("kit", ["xor_kit", pytest.param("softmax_kit", marks=pytest.mark.slow)])
def test_exercises_hold_no_answer(kit: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(kit)
    answers = json.loads((folder / "answers.json").read_text())
    for record in answers["variants"]:
        exercise = (folder / record["exercise"]).read_text()
        solution = (folder / record["solution"]).read_text()
        written = {abs(float(t)) for t in re.findall(r"\d+(?:\.\d+)?", exercise)}
        for value in _flat(record):
            assert _printed(value) not in written, (record["variant"], value)
            assert f"{abs(value):.{DIGITS}g}" in solution, (record["variant"], value)
        seen: dict[float, float] = {}  # answers differ at the printed precision unless equal
        for value in _flat(record):
            same = seen.setdefault(_printed(value), abs(value))
            assert abs(same - abs(value)) <= 1e-12 * abs(value), (record["variant"], value)
        assert solution.count(r"\boxed{") == sum(
            len(record[k]) for k in ("forward", "gradients", "updated")
        ) + 3  # the loss, the output delta and the hidden delta


def _activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    assert name == "softmax"
    e = np.exp(z - z.max())
    return e / e.sum()


def _slope(name: str, a: np.ndarray) -> np.ndarray:
    return {"tanh": 1 - a**2, "sigmoid": a * (1 - a)}[name]


def _recompute(spec, arrays: dict[str, np.ndarray], record: dict, rate: float) -> dict:  # noqa: ANN001
    """The forward and backward pass in plain NumPy (no symbackprop), as answers.json has it."""
    depth = spec.depth
    names = [*spec.activations, spec.output]
    x, y = arrays["x"].ravel(), arrays["y"].ravel()
    a, z_, acts = [x], {}, {}
    for l in range(1, depth + 1):
        z = arrays[f"W{l}"] @ a[-1] + arrays[f"b{l}"].ravel()
        z_[l], acts[l] = z, _activation(names[l - 1], z)
        a.append(acts[l])
    out = a[-1]
    if spec.loss == "mse":
        loss = np.mean((out - y) ** 2)
        delta = 2 * (out - y) / len(y) * _slope(spec.output, out)
    else:
        assert spec.loss == "cross_entropy" and spec.output == "softmax"
        loss = -np.sum(y * np.log(out))
        delta = out - y
    deltas = {depth: delta}
    for l in range(depth - 1, 0, -1):
        deltas[l] = (arrays[f"W{l + 1}"].T @ deltas[l + 1]) * _slope(names[l - 1], a[l])
    forward = {}
    for l in range(1, depth + 1):
        forward[f"z{l}"], forward[f"a{l}"] = list(z_[l]), list(acts[l])
    gradients, updated = {}, {}
    for name in record["gradients"]:
        l, row, col = (int(n) for n in re.findall(r"\d+", name))
        gradients[name] = deltas[l][row] * a[l - 1][col]
        updated[name] = arrays[f"W{l}"][row, col] - rate * gradients[name]
    return {
        "forward": forward,
        "loss": loss,
        "output_delta": {f"delta{depth}": list(deltas[depth])},
        "hidden_delta": {f"delta{depth - 1}": list(deltas[depth - 1])},
        "gradients": gradients,
        "updated": updated,
    }


def _check_recomputed(folder: Path, spec) -> None:  # noqa: ANN001
    answers = json.loads((folder / "answers.json").read_text())
    assert answers["digits"] == DIGITS
    assert len(answers["variants"]) == len(list(folder.glob("variant-*.npz")))
    for record in answers["variants"]:
        with np.load(folder / record["weights"]) as data:
            arrays = {name: data[name] for name in data.files}
        for value in arrays.values():  # nice numbers: tenths in [-1, 1]
            assert np.all(np.abs(value) <= 1) and np.allclose(value * 10, np.round(value * 10))
        ours = _recompute(spec, arrays, record, answers["learning_rate"])
        assert _flat(ours) and len(_flat(ours)) == len(_flat(record))
        for mine, theirs in zip(_flat(ours), _flat(record), strict=True):
            assert f"{mine:.{DIGITS - 1}e}" == f"{theirs:.{DIGITS - 1}e}", (record["variant"])
        assert all(abs(v) >= 1e-2 for v in _flat(record))  # no near-zero answer


@pytest.mark.parametrize(
    "kit, spec", [("xor_kit", "xor"), pytest.param("softmax_kit", SOFTMAX, marks=pytest.mark.slow)]
)
def test_answers_recomputed_from_the_npz(
    kit: str, spec, request: pytest.FixtureRequest  # noqa: ANN001
) -> None:
    spec = load_spec(spec) if isinstance(spec, str) else spec
    _check_recomputed(request.getfixturevalue(kit), spec)


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["xor", SOFTMAX])
def test_many_variants_recomputed(spec, tmp_path: Path) -> None:  # noqa: ANN001
    spec = load_spec(spec) if isinstance(spec, str) else spec
    _check_recomputed(_kit(tmp_path, spec, variants=25, seed=11), spec)


@needs_latex
@pytest.mark.parametrize("kit", ["xor_kit", pytest.param("softmax_kit", marks=pytest.mark.slow)])
def test_sheets_fit_the_page(kit: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    folder = request.getfixturevalue(kit)
    for name in ("exercise-1.tex", "solution-1.tex"):
        work = tmp_path / name.removesuffix(".tex")
        work.mkdir()
        assert overfull_boxes((folder / name).read_text(), work) == [], name


@needs_latex
@pytest.mark.slow
def test_pdfs_are_reproducible(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        write_exam(load_spec("xor"), tmp_path / folder, 1, 5, pdf=True)
    for name in ("exercise-1.pdf", "solution-1.pdf"):
        data = (tmp_path / "one" / name).read_bytes()
        assert data.startswith(b"%PDF") and data == (tmp_path / "two" / name).read_bytes()


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["xor", "--variants", "0"], "--variants"),
        (["xor", "--variants", "201"], "--variants"),
        (["digits", "--variants", "1"], "at most 8 neurons"),
        (["xor", "--answers", "marks.txt"], ".json"),
        (["xor", "--notation", "klingon"], "--notation"),
    ],
)
def test_cli_errors_are_one_line(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["exam", *argv, "-o", str(tmp_path / "out"), "--no-pdf"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "out" / "answers.json").exists()


@pytest.mark.parametrize("notation, indices", [("default", "1"), ("nielsen", "0")])
def test_sheets_count_indices_as_asked(notation: str, indices: str, tmp_path: Path) -> None:
    """``--indices`` overrides the profile's own count on both sheets: the asked-for weight, the
    sums' bounds and the notation paragraph; the answers file keeps the code's 0-based names."""
    argv = ["exam", "xor", "-o", str(tmp_path), "--no-pdf", "--seed", "3"]
    assert main([*argv, "--notation", notation, "--indices", indices]) == 0
    first = int(indices)
    for sheet in ("exercise-1.tex", "solution-1.tex"):
        tex = (tmp_path / sheet).read_text()
        assert f"indices start at {first}" in tex, sheet
        subscripts = [int(i) for i in re.findall(r"_\{(\d+)(?:,\d+)?\}", tex)]
        subscripts += [int(i) for i in re.findall(r"_\{\d+,(\d+)\}", tex)]
        assert subscripts and min(subscripts) == first, (sheet, sorted(set(subscripts)))
    exercise = (tmp_path / "exercise-1.tex").read_text().replace(" ", "")
    assert f"sum_{{j={first}}}" in exercise  # the loss's sum, among the formulas to use
    record = json.loads((tmp_path / "answers.json").read_text())["variants"][0]
    assert all("[" in name for name in record["gradients"]), record["gradients"]


@pytest.mark.parametrize(
    "notation, cost",
    [("nielsen", "C"), pytest.param("goodfellow", "J", marks=pytest.mark.slow)],
)
def test_sheets_name_the_profiles_loss(notation: str, cost: str, tmp_path: Path) -> None:
    """The sheets' own sentences are in the profile's symbols: Nielsen's exercise says
    "so C-bar = C", not the default profile's L-bar = L."""
    argv = ["exam", "xor", "-o", str(tmp_path), "--no-pdf", "--seed", "3", "--notation", notation]
    assert main(argv) == 0
    exercise = (tmp_path / "exercise-1.tex").read_text()
    assert rf"(so $\bar{{{cost}}} = {cost}$)" in exercise
    assert not re.search(r"\\bar\{L\}|\bL\b", exercise)


def test_a_users_file_is_never_replaced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "solution-1.tex").write_text("my own notes\n")
    code = main(["exam", "xor", "-o", str(tmp_path), "--no-pdf"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "solution-1.tex" in err
    assert (tmp_path / "solution-1.tex").read_text() == "my own notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solution-1.tex"]


def test_a_sum_of_tenths_prints_as_its_decimal() -> None:
    """Tenths summed in binary land a few ulps off their decimal (0.94 + 1e-16): printed as the
    decimal it is, ``0.94`` beside ``0.24``, not ``0.9400`` as if rounding had changed it."""
    from symbackprop.render.printing import BackpropLatexPrinter, decimal_number

    printer = BackpropLatexPrinter()
    values = (0.9400000000000001, 0.24, -0.06000000000000005)  # z of variant 1, seed 7, ce342
    printed = [printer.doprint(decimal_number(value, 4)) for value in values]
    assert printed == ["0.94", "0.24", "-0.06"]
    assert printer.doprint(decimal_number(2 / 3, 4)) == "0.6667"
    assert printer.doprint(decimal_number(0.94004, 4)) == "0.9400"  # rounding changed it


def test_ctrl_c_while_compiling_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every PDF is made before any file is written: Ctrl-C in the (minutes-long) compilation
    of 200 variants left every new .tex beside the previous kit's PDFs and answers.json."""
    import symbackprop.render.document as document

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(document, "latex_engine", lambda: "pdflatex")
    monkeypatch.setattr(document, "run_latex", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_exam(load_spec("xor"), tmp_path, 1, 7, pdf=True)
    assert list(tmp_path.iterdir()) == []
