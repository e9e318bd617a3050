"""Worked examples a lecturer controls: weights from a file, the sample, the digits, one step.

Mazur's "A Step by Step Backpropagation Example" (2015) is the outside check: his published
numbers must come out of the CLI. The written-out sums are checked by working them out from the
printed text alone; the step against PyTorch autograd and its SGD.
"""

from __future__ import annotations

import ast
import io
import math
import operator
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from conftest import ROOT, import_torch

from symbackprop.cli.commands import main
from symbackprop.pipeline import derivation_of, load_module, render_module
from symbackprop.render.document import DerivationDocument
from symbackprop.render.example import example_section
from symbackprop.render.steps import derivation_steps
from symbackprop.run.documents import document_for
from symbackprop.run.example import worked_example
from symbackprop.run.weights import save_weights
from symbackprop.spec.model import load_spec

FIXTURES = ROOT / "tests" / "fixtures"
MAZUR = FIXTURES / "mazur.toml"

# Mazur's weights w1..w8 and biases, as torch.nn.Linear shapes: W1 = [[w1, w2], [w3, w4]].
MAZUR_PARAMS = [
    np.array([[0.15, 0.20], [0.25, 0.30]]),
    np.array([0.35, 0.35]),
    np.array([[0.40, 0.45], [0.50, 0.55]]),
    np.array([0.60, 0.60]),
]
# His printed results, as printed (significant digits as he gives them).
MAZUR_NUMBERS = {
    "out_h1": "0.593269992",
    "out_h2": "0.596884378",
    "net_o1": "1.105905967",
    "out_o1": "0.75136507",
    "out_o2": "0.772928465",
    "E_total": "0.298371109",
    "dE/dw5": "0.082167041",
    "w5+": "0.35891648",
    "w6+": "0.408666186",
    "w7+": "0.511301270",
    "w8+": "0.561370121",
    "w1+": "0.149780716",
    "w2+": "0.19956143",
    "w3+": "0.24975114",
    "w4+": "0.29950229",
}


def significant(text: str) -> int:
    """Significant digits of a printed decimal."""
    return len(text.replace("-", "").replace(".", "").lstrip("0"))


def printed_numbers(output: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", output)]


def found(published: str, numbers: list[float]) -> bool:
    """Whether some printed number rounds to the published one at its precision."""
    digits = significant(published)
    want = f"{float(published):.{digits - 1}e}"
    return any(f"{n:.{digits - 1}e}" == want for n in numbers)


@pytest.fixture
def mazur_weights(tmp_path: Path) -> Path:
    return save_weights(tmp_path / "mazur.npz", load_spec(MAZUR), MAZUR_PARAMS)


def test_mazur_numbers_come_out_of_the_cli(mazur_weights: Path) -> None:
    out = io.StringIO()
    argv = ["derive", str(MAZUR), "--example", "--weights", str(mazur_weights), "--sample", "0"]
    status = main([*argv, "--digits", "10"], out=out)
    assert status == 0
    text = out.getvalue()
    numbers = printed_numbers(text)
    missing = [name for name, value in MAZUR_NUMBERS.items() if not found(value, numbers)]
    assert missing == [], missing
    assert r"\texttt{train\_biases = false}" in text  # his biases stay put
    # At the default 4 digits his loss still shows, rounded.
    out4 = io.StringIO()
    assert main(argv, out=out4) == 0
    assert found("0.2984", printed_numbers(out4.getvalue()))


@pytest.mark.slow
def test_mazur_numbers_from_a_subprocess(mazur_weights: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "symbackprop", "derive", str(MAZUR), "--example", "--weights"]
        + [str(mazur_weights), "--sample", "0", "--digits", "10", "--format", "text"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    numbers = printed_numbers(result.stdout)
    assert all(found(value, numbers) for value in MAZUR_NUMBERS.values())


def test_mazur_against_his_formulas_by_hand() -> None:
    """Our MSE with n_out = 2 is his E = sum 1/2 (target - out)^2: the fixture's loss scaling."""
    module = load_module(render_module(derivation_of(MAZUR)))
    X, Y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    assert module.loss([p.copy() for p in MAZUR_PARAMS], X, Y) == pytest.approx(
        0.298371109, abs=5e-10
    )


# --- the written-out sums reproduce the printed results ---------------------------------------

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: pow}


def arithmetic(text: str) -> float:
    """The value of a printed arithmetic expression (numbers, + - * ** and parentheses only)."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"not plain arithmetic: {ast.dump(node)}")

    # The text format is Unicode: "·" multiplies, "²" squares.
    text = text.replace("·", "*").replace("²", "**2").replace("³", "**3")
    return value(ast.parse(text, mode="eval").body)


def written_out(text: str) -> list[tuple[str, str, str]]:
    """(left side, written-out expression, printed result) of every written-out step (its
    formula, the formula with numbers, the result)."""
    pattern = re.compile(
        r"^\(\d+\)\s+(\S[^\n]*?) (?:=|←) [^\n]*\n\s+= ([^\n]*)\n\s+= (\S+)$", re.M
    )
    return [m.groups() for m in pattern.finditer(text) if not re.search(r"[a-z]", m.group(2))]


@pytest.mark.parametrize("digits", [2, 3, 4, 6])
def test_written_out_sums_reproduce_their_printed_results(digits: int) -> None:
    """Worked out from the printed numbers alone, each sum rounds to the printed result."""
    derivation = derivation_of("xor")
    module = load_module(render_module(derivation))
    data_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    data_Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    checked = 0
    for seed in (digits, digits + 10):  # two weight draws per precision
        params = [p * 3 for p in module.init_params(seed)]  # larger weights: more digits matter
        example = worked_example(derivation, data_X, data_Y, params=params, sample=seed % 4)
        section = example_section(derivation, digits=digits, example=example)
        text = DerivationDocument(derivation).section_text(section)
        for lhs, expression, result in written_out(text):
            got = arithmetic(expression) + 0.0  # -0.0 (a negative times 0) is 0
            assert f"{got:.{digits - 1}e}" == f"{float(result):.{digits - 1}e}", (lhs, text)
            assert significant(result.rstrip("0") or "0") <= digits
            checked += 1
    assert checked >= 2 * 4  # z1, z2, delta1 and the parameter steps, every time


def test_default_sample_is_the_first_with_no_all_zero_gradient() -> None:
    """XOR's sample 0 is x = (0, 0): dL/dW1 = delta1 x^T is all zero, so sample 1 is shown."""
    doc = document_for(load_spec("xor"), example=True)
    text = doc.text()
    assert "sample 1 of the training data (the first whose gradients" in text
    assert "x = [0, 1]ᵀ" in text
    chosen = document_for(load_spec("xor"), example=True, sample=0).text()
    assert "on sample 0 of the training data," in chosen and "x = [0, 0]ᵀ" in chosen


def test_one_step_matches_torch_sgd(tmp_path: Path) -> None:
    """The new weights after the step against PyTorch autograd + torch.optim.SGD."""
    torch = import_torch()
    spec = load_spec("xor")
    derivation = derivation_of(spec)
    module = load_module(render_module(derivation))
    params = module.init_params(7)
    X = np.array([[1.0, 0.0]])
    Y = np.array([[1.0]])
    example = worked_example(derivation, X, Y, params=params, sample=0)
    tensors = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    W1, b1, W2, b2 = tensors
    a1 = torch.tanh(torch.tensor(X) @ W1.T + b1)
    a2 = torch.sigmoid(a1 @ W2.T + b2)
    loss = torch.nn.functional.mse_loss(a2, torch.tensor(Y))
    optimizer = torch.optim.SGD(tensors, lr=spec.training.learning_rate)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert example.values["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for name, tensor in zip(module.PARAM_NAMES, tensors, strict=True):
        np.testing.assert_allclose(example.new_params[name], tensor.detach().numpy(), rtol=1e-12)


def test_frozen_biases_stay_in_the_module_and_the_document(tmp_path: Path) -> None:
    spec = load_spec(MAZUR)
    derivation = derivation_of(spec)
    update = [s for s in derivation_steps(derivation) if s.section == "update"]
    frozen = [s for s in update if s.why.startswith("frozen") and "train" in s.why]
    assert len(frozen) == 2 and all(s.rhs == (s.lhs,) for s in frozen)
    module = load_module(render_module(derivation))
    assert "Biases are frozen" in module.__doc__
    params = [p.copy() for p in MAZUR_PARAMS]
    X = np.random.default_rng(0).random((6, 2))
    Y = np.random.default_rng(1).random((6, 2))
    module.train(params, X, Y, epochs=3, learning_rate=0.5, batch_size=2)
    np.testing.assert_array_equal(params[1], MAZUR_PARAMS[1])
    np.testing.assert_array_equal(params[3], MAZUR_PARAMS[3])
    assert not np.allclose(params[0], MAZUR_PARAMS[0])
    # The same network with trainable biases moves them (the flag, not the data, froze them).
    from dataclasses import replace

    trained = replace(spec, training=replace(spec.training, train_biases=True))
    free = load_module(render_module(derivation_of(trained)))
    params = [p.copy() for p in MAZUR_PARAMS]
    free.train(params, X, Y, epochs=3, learning_rate=0.5, batch_size=2)
    assert not np.allclose(params[1], MAZUR_PARAMS[1])


def test_train_biases_must_be_a_boolean(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MAZUR.read_text().replace("train_biases = false", 'train_biases = "no"'))
    assert main(["derive", str(bad)], out=io.StringIO()) == 2
    assert "training.train_biases: must be true or false" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--sample", "4"], "--sample: sample 4 is out of range: the training data has 4"),
        (["--sample", "-1"], "--sample: must be >= 0"),
        (["--digits", "0"], "--digits: must be an integer from 1 to 15"),
        (["--weights", "missing.npz"], "missing.npz: no such weights file"),
        (["--weights", "wrong.npz"], "array 'W1' has shape (2, 2)"),
        (["--weights", "junk.npz"], "junk.npz: not a readable .npz weights file"),
    ],
)
def test_bad_example_options_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], words: str
) -> None:
    # Mazur's weights do not fit XOR's 2-4-1 network; a text file is not an .npz.
    np.savez(tmp_path / "wrong.npz", **dict(zip(("W1", "b1", "W2", "b2"), MAZUR_PARAMS)))
    (tmp_path / "junk.npz").write_text("not a zip")
    extra = [str(tmp_path / e) if e.endswith(".npz") else e for e in extra]
    out = io.StringIO()
    assert main(["derive", "xor", "--example", *extra], out=out) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("symbackprop: error: ")
    assert words in err, err
    assert out.getvalue() == ""


def test_example_options_need_example(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", "xor", "--sample", "1"], out=io.StringIO()) == 2
    assert "need --example" in capsys.readouterr().err


def test_python_api_takes_the_same_options(mazur_weights: Path) -> None:
    import symbackprop

    doc = symbackprop.derive(MAZUR, example=True, weights=mazur_weights, sample=0, digits=9)
    numbers = printed_numbers(doc.latex())
    assert found(MAZUR_NUMBERS["w5+"], numbers) and found(MAZUR_NUMBERS["E_total"], numbers)
    assert not math.isnan(numbers[0])


@pytest.mark.slow  # default-run budget (CI's cold run was 298 s of 300); runs in CI's slow set
def test_float32_spec_example_checks_at_float32_precision() -> None:
    from dataclasses import replace

    spec = replace(load_spec("xor"), dtype="float32")
    text = document_for(spec, example=True, sample=2).text()
    assert "agrees to 1e-05" in text and "W1 ← [[" in text


EXAMPLE_OPTIMIZERS = {
    "sgd_nesterov": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "adam": {"optimizer": "adam", "learning_rate": 0.05},
    "adamw_amsgrad_cosine": {
        "optimizer": "adamw",
        "amsgrad": True,
        "learning_rate": 0.05,
        "schedule": {"kind": "cosine", "T_max": 10, "eta_min": 0.001},
    },
    "rmsprop_centered": {"optimizer": "rmsprop", "centered": True, "momentum": 0.5},
}


@pytest.mark.parametrize("case", sorted(EXAMPLE_OPTIMIZERS))
def test_example_ends_with_every_optimizers_step(case: str) -> None:
    """The example's step is the rule's, the module's and torch.optim's: the new weights against
    one torch.optim step from the same weights and gradients; the rule's assignments written out
    with numbers, each reproducing its printed result."""
    torch = import_torch()
    from dataclasses import replace

    from symbackprop.spec.optimizers import parse_training_extras
    from symbackprop.symbolic.optimizers import rule

    xor = load_spec("xor")
    extras = parse_training_extras(EXAMPLE_OPTIMIZERS[case], "test")
    rate = EXAMPLE_OPTIMIZERS[case].get("learning_rate", xor.training.learning_rate)
    training = replace(xor.training, learning_rate=rate, **extras)
    spec = replace(xor, name=f"xor_{case}", training=training)
    derivation = derivation_of(spec)
    example = worked_example(derivation, *xor_data(), sample=1)
    config = spec.training.optimizer
    names = ("W1", "b1", "W2", "b2")
    tensors = [torch.tensor(example.values[name], requires_grad=True) for name in names]
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    optimizer = cls.get(config.name, torch.optim.RMSprop)(tensors, lr=rate, **config.settings())
    for tensor, name in zip(tensors, names, strict=True):
        tensor.grad = torch.tensor(example.values["d" + name])
    optimizer.step()
    for tensor, name in zip(tensors, names, strict=True):
        np.testing.assert_allclose(example.new_params[name], tensor.detach().numpy(), rtol=1e-12)
    text = document_for(spec, example=True, sample=1).text()
    assert text.count("because: after the step") == 4
    assert len(written_steps(text)) == 4 * len(rule(config).assignments)
    for lhs, expression, result in written_steps(text):
        assert f"{evaluate(expression):.3e}" == f"{float(result):.3e}", (lhs, expression)


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    return np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array(
        [[0.0], [1.0], [1.0], [0.0]]
    )


def written_steps(text: str) -> list[tuple[str, str, str]]:
    """(left side, written-out expression, printed result) of the update's numeric steps."""
    pattern = re.compile(r"^\(\d+\)\s+(\S[^\n]*?) ← [^\n]*\n\s+= ([^\n]*)\n\s+= (\S+)$", re.M)
    return [m.groups() for m in pattern.finditer(text)]


def evaluate(text: str) -> float:
    """A written-out update step (numbers, + - · / ² sqrt max) worked out."""
    text = text.replace("·", "*").replace("²", "**2").replace("sqrt", "math.sqrt")
    return float(eval(text, {"math": math, "max": max, "__builtins__": {}}))


def test_the_example_is_an_exam_solution_in_textbook_order() -> None:
    """Issue 19: forward values, the loss, the output delta, the hidden deltas, the gradients,
    the step, each written out: the formula with its symbols, then the numbers in the same
    places (signs kept with their numbers, the bias where the formula has it), then the result;
    the step as theta - eta g, the old value first."""
    tex = document_for(load_spec("xor"), example=True, indices=1).latex()
    example = tex[tex.index(r"\paragraph{Worked example}") :]
    expected = [
        r"z^{(1)}_{1} &= W^{(1)}_{1,1} x_{1} + W^{(1)}_{1,2} x_{2} + b^{(1)}_{1}",
        r"&= 0.1937 \cdot 0 + \left(-0.3256\right) \cdot 1 + 0.06170",
        r"a^{(1)}_{1} &= \tanh\bigl(z^{(1)}_{1}\bigr)",
        r"L &= \left(a^{(2)}_{1} - y_{1}\right)^{2}",
        r"&= \left(0.6452 - 1\right)^{2}",
        r"\delta^{(2)}_{1} &= 2 a^{(2)}_{1} \left(1 - a^{(2)}_{1}\right)",
        r"&= 2 \cdot 0.64518 \cdot \left(1 - 0.64518\right) \cdot \left(0.64518 - 1\right)",
        r"&= \left(1 - \left(-0.25792\right)^{2}\right) \cdot 0.35740 \cdot "
        r"\left(-0.16245\right)",
        r"\frac{\partial L}{\partial W^{(1)}_{1,2}} &= \delta^{(1)}_{1} x_{2}",
        r"W^{(2)}_{1,1} &\leftarrow W^{(2)}_{1,1} - \eta \frac{\partial L}{\partial W^{(2)}_{1,1}}",
        r"&= 0.3574 - 0.5 \cdot 0.04190",
        r"&= -0.3256 - 0.5 \cdot \left(-0.05420\right)",
    ]
    positions = [example.find(line) for line in expected]
    assert -1 not in positions, [line for line, at in zip(expected, positions) if at < 0]
    assert positions[:10] == sorted(positions[:10])  # textbook order
    assert "- 0.5 \\cdot 0.3" not in example and "0.5 \\cdot 0.04190 - " not in example
    assert not re.search(r"(\\bigr\)|\\right\)) ?-?\d", example)  # no number juxtaposed


def test_user_activation_derivatives_are_evaluated() -> None:
    """f'(z) of an activation given as an expression gets a step of its own (its derivative
    with the number in), and the delta uses its value: no f'(number) is left unevaluated."""
    from test_printed import OWN

    text = document_for(OWN, example=True).text()
    assert "my_swish'(z1[0]) = " in text
    assert not re.search(r"my_swish'\(-?\d", text)


def test_example_reasons_are_latex_text() -> None:
    """A reason is LaTeX text: a user activation's name (``my_swish``) is typeset as in the
    derivation, never left with a bare ``_`` that stops pdflatex with "Missing $ inserted"."""
    from test_printed import OWN

    document = document_for(OWN, example=True)
    reasons = [row.reason for printed in document.printed() for line in printed.lines
               for row in line.rows if row.reason]  # fmt: skip
    outside_math = [re.sub(r"(?<!\\)\$.*?(?<!\\)\$", "", reason) for reason in reasons]
    assert [r for r in outside_math if re.search(r"(?<!\\)[_^&#%]", r)] == []
    assert any(r.startswith(r"$\operatorname{my\_swish}$") for r in reasons)


def test_fd_beside_each_printed_gradient() -> None:
    """``--example --fd``: a central difference of the module's loss beside each printed
    gradient, equal to it at the printed precision, h and the relative difference stated;
    the notebook API's ``derive(..., fd=True)`` as the CLI's flag."""
    import symbackprop
    from symbackprop.pipeline import derivation_of
    from symbackprop.render.example import rounded
    from symbackprop.run.example import example_for_spec

    text = symbackprop.derive("xor", example=True, fd=True).text()
    assert text.count("(L(") == 8 and "h = 1e-05; relative difference" in text
    spec = load_spec("xor")
    numbers = example_for_spec(spec, derivation_of(spec), fd=True)
    for name, fd in numbers.differences.items():
        analytic = numbers.values["d" + name]
        mask = ~np.isnan(fd)
        assert mask.any()
        for value, exact in zip(fd[mask], analytic[mask]):
            assert rounded(value, 4) == rounded(exact, 4) or abs(value - exact) < 1e-9


def test_fd_uses_the_loss_alone() -> None:
    """The difference is computed from loss evaluations only: a known loss gives its
    derivative, and the parameters are left as they were."""
    from symbackprop.run.gradcheck import central_difference

    params = [np.array([[1.0, 2.0]]), np.array([3.0])]
    loss = lambda ps: float(ps[0][0, 1] ** 3 + ps[1][0] ** 2)  # noqa: E731
    assert abs(central_difference(loss, params, 0, (0, 1), 1e-5) - 12.0) < 1e-6
    assert abs(central_difference(loss, params, 1, (0,), 1e-5) - 6.0) < 1e-6
    assert params[0].tolist() == [[1.0, 2.0]] and params[1].tolist() == [3.0]


def test_fd_needs_example(capsys) -> None:  # noqa: ANN001
    from symbackprop.cli.commands import main

    assert main(["derive", "xor", "--fd"]) == 2
    err = capsys.readouterr().err
    assert err == "symbackprop: error: --fd: needs --example\n"


def test_a_piecewise_loss_is_written_out_on_the_branch_its_numbers_take() -> None:
    """Issue 19: a Huber loss written as a Piecewise printed only its value. Now the loss and
    the output delta are written out on the branch the sample takes, the reason names that
    branch's condition, and NumPy agrees the condition holds and the branch gives the loss."""
    from test_printed import OWN

    from symbackprop.run.example import example_for_spec

    text = document_for(OWN, example=True).text()
    assert "(a3[0] - y[0])²/2\n" in text.split("Worked example")[1]
    assert text.count("the branch where |a3[0] - y[0]| ≤ 1 holds") == 2
    derivation = derivation_of(OWN)
    values = example_for_spec(OWN, derivation).values
    residual = float(values["A3"][0, 0] - values["Y"][0, 0])
    assert abs(residual) <= 1 and math.isclose(float(values["loss"]), residual**2 / 2)


def test_the_otherwise_branch_states_the_negated_condition() -> None:
    """Where no listed condition holds, the ``True`` branch is taken and the reason states
    the earlier conditions negated (|a - y| > 1), computed from the numbers."""
    from test_printed import OWN

    from symbackprop.render.example import Shown
    from symbackprop.render.printing import UnicodeTextPrinter

    network = derivation_of(OWN).network
    sizes = network.concrete_sizes()
    shown = Shown(4, {"A3": np.array([[3.5]]), "Y": np.array([[0.5]])}, sizes)
    step = shown.written(sp.Symbol("L"), network.loss_expr, "huber", result=2.5)
    assert [str(c) for c in step.why_math] == ["Abs(a3[0] - y[0]) > 1"]
    text = UnicodeTextPrinter().doprint
    assert [text(rhs) for rhs in step.rhs] == ["|a3[0] - y[0]| - 1/2", "|3.5 - 0.5| - 1/2", "2.5"]


@pytest.mark.slow  # default-run budget (CI's cold run was 298 s of 300); runs in CI's slow set
def test_a_wide_softmax_layer_still_writes_its_output_delta_out() -> None:
    """Issue 19: layers wider than 4 were never substituted. A delta that takes few numbers
    whatever the width (softmax with cross-entropy: a - y) is written out for digits' ten
    outputs; the hidden delta's 10-term sum is not; a cut vector ends in … in text."""
    text = document_for(load_spec("digits"), example=True, sample=0).text()
    example = text.split("== Worked example ==")[1]
    values = example_for_spec_values("digits", 0)
    a, y = values["A2"][0, 0], values["Y"][0, 0]
    line = re.search(r"δ2\[0\] = a2\[0\] - y\[0\]\n\s+= (\S+) - (\S+)\n\s+= (\S+)", example)
    assert line, example[:2000]
    printed = [float(v) for v in line.groups()]
    assert printed[1] == y and math.isclose(printed[0], a, rel_tol=1e-3)
    assert math.isclose(printed[2], a - y, rel_tol=1e-3)
    assert "δ1[0] = " not in example and "\\dots" not in text and "…]ᵀ" in example


def example_for_spec_values(name: str, sample: int) -> dict:
    """The worked example's numbers (the generated module's pass) for a built-in spec."""
    from symbackprop.run.example import example_for_spec

    spec = load_spec(name)
    return example_for_spec(spec, derivation_of(spec), sample=sample).values
