"""Activations and losses written in a spec: parsing, errors, and generated modules whose
gradients match finite differences and PyTorch autograd (new built-ins and user expressions)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import import_torch, module_for, sample

from symbackprop.errors import SpecError
from symbackprop.pipeline import derivation_of
from symbackprop.run.gradcheck import check_gradients
from symbackprop.spec.functions import ACTIVATIONS, LOSSES
from symbackprop.spec.model import parse_spec
from symbackprop.symbolic.text import text

torch = import_torch()
F = torch.nn.functional

from test_expression_fuzz import ISSUE_23  # noqa: E402
from test_functions import TORCH_ACTIVATIONS, TORCH_LOSSES  # noqa: E402

SWISH = "x/(1 + exp(-x))"
GELU = "0.5*x*(1 + erf(x/sqrt(2)))"
SOFTPLUS = "log(1 + exp(x))"
MISH = "x*tanh(log(1 + exp(x)))"
HUBER = "Piecewise((0.5*(a - y)**2, Abs(a - y) <= 1), (Abs(a - y) - 0.5, True))"

def key(text_: str, variables: tuple[str, ...] = ("x",)) -> str:
    """The registry key of an inline expression (its SymPy string)."""
    import sympy as sp

    from symbackprop import parse_expression

    return sp.sstr(parse_expression(text_, variables))


TORCH = {
    **TORCH_ACTIVATIONS,  # the built-ins, as tests/test_functions.py checks them
    "leaky_relu(0.2)": lambda t: F.leaky_relu(t, 0.2),
    key(SWISH): F.silu,
    key(GELU): F.gelu,
    key(SOFTPLUS): F.softplus,
    key(MISH): F.mish,
    "swish2": F.silu,
}
TORCH_LOSS = {
    **TORCH_LOSSES,
    key(HUBER, ("a", "y")): lambda a, y: F.huber_loss(a, y, reduction="none"),
    "my_huber": lambda a, y: F.huber_loss(a, y, reduction="none"),
}


def spec_of(name: str, layers: list[int], hidden: list[str], output: str, loss: str, **more):  # noqa: ANN001, ANN003, ANN201
    network = {"layers": layers, "activation": hidden, "output": output, "loss": loss}
    network.update(more.pop("network", {}))
    return parse_spec({"name": name, "network": network, **more})


BUILTINS = spec_of(
    "new_builtins",
    [3, 4, 4, 4, 4, 4, 4, 4, 2],
    ["leaky_relu", "elu", "selu", "softplus", "silu", "gelu", "gelu_tanh"],
    "identity",
    "huber",
)
USER = spec_of(
    "user_functions",
    [3, 4, 4, 4, 4, 4, 4, 4, 4, 2],
    ["mish", "hard_tanh", "hard_sigmoid", "leaky_relu(0.2)", SWISH, GELU, SOFTPLUS, MISH],
    "swish2",
    "my_huber",
    functions={
        "swish2": {"activation": SWISH, "latex": r"\operatorname{swish}"},
        "my_huber": {"loss": HUBER, "latex": r"\mathrm{Huber}"},
    },
)


def torch_gradients(spec, params, X, Y):  # noqa: ANN001, ANN201
    """The mean per-sample loss of the same network and its gradients by torch autograd."""
    tensors = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    names = [*spec.activations, spec.output]
    a = torch.tensor(X, dtype=torch.float64)
    for layer, name in enumerate(names):
        W, b = tensors[2 * layer], tensors[2 * layer + 1]
        a = TORCH[name](a @ W.T + b)
    terms = TORCH_LOSS[spec.loss](a, torch.tensor(Y, dtype=torch.float64))
    per_sample = terms.sum(dim=1) if spec.loss_reduction == "sum" else terms.mean(dim=1)
    loss = per_sample.mean()
    grads = torch.autograd.grad(loss, tensors)
    return float(loss.detach()), [g.numpy() for g in grads]


@pytest.mark.parametrize("spec", [BUILTINS, USER], ids=["builtins", "user"])
def test_gradients_match_finite_differences_and_torch(spec) -> None:  # noqa: ANN001
    """New built-ins, and user expressions (swish, GELU, softplus, mish, a written-out Huber):
    generated gradients equal central differences (1e-6) and torch autograd (1e-7)."""
    module = module_for(spec)
    results = check_gradients(module, seed=3)
    assert max(r.max_rel_error for r in results) < 1e-6, results
    X, Y = sample(module, 16, seed=7)
    X = X * 2.5  # reach both sides of the kinks and the saturated ranges
    params = module.init_params(5)
    params = [p * 2.0 for p in params]
    loss, grads = torch_gradients(spec, params, X, Y)
    assert module.loss(params, X, Y) == pytest.approx(loss, rel=1e-12)
    # PyTorch's softplus (and mish through it) is exactly linear above x = 20 (its threshold),
    # which moves values by up to e^-20 ~ 2e-9: agreement to 1e-7 relative, not 1e-12.
    for ours, ref in zip(module.gradients(params, X, Y), grads, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("loss", "output", "reduction"),
    [("mae", "tanh", "sum"), ("bce_with_logits", "identity", None), (HUBER, "identity", "sum")],
)
def test_more_losses_match_torch(loss: str, output: str, reduction: str | None) -> None:
    network = {"loss_reduction": reduction} if reduction else {}
    spec = spec_of(f"l_{len(loss)}_{output}", [3, 4, 3], ["elu"], output, loss, network=network)
    module = module_for(spec)
    assert max(r.max_rel_error for r in check_gradients(module, seed=1)) < 1e-6
    X, Y = sample(module, 12, seed=2)
    params = module.init_params(1)
    loss_value, grads = torch_gradients(spec, params, X, Y)
    assert module.loss(params, X, Y) == pytest.approx(loss_value, rel=1e-12)
    for ours, ref in zip(module.gradients(params, X, Y), grads, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-13)


def test_spec_functions_are_kept_in_the_spec_and_printed_like_builtins() -> None:
    # An expression written inline keeps its SymPy text as its key and gets a letter of its own
    # (not f, every layer's activation): the first of the four is varphi_1.
    assert USER.activations[4] == key(SWISH)
    assert USER.activation(key(SWISH)).latex == r"\varphi_{1}"
    assert USER.activation(key(MISH)).latex == r"\varphi_{4}"
    assert USER.activation("swish2").latex == r"\operatorname{swish}"
    assert USER.loss_function.name == "my_huber" and USER.loss_function.mean
    assert not {"swish2", key(SWISH)} & set(ACTIVATIONS) and "my_huber" not in LOSSES
    derivation = derivation_of(USER)
    hidden = derivation.layer(5)
    assert f"{key(SWISH)}'(z5[p])" in text(hidden.delta)
    from symbackprop.run.documents import document_for

    latex = document_for(USER, "default").latex()
    assert r"\operatorname{swish}" in latex and r"\begin{cases}" in latex  # Huber's pieces
    assert r"\operatorname{mish}" in latex and r"\varphi_{1}\bigl(" in latex
    assert r"f\bigl(" not in latex


def test_loss_reduction_sum_and_mean() -> None:
    base = {"name": "r", "network": {"layers": [2, 3], "output": "identity", "loss": "mse"}}
    assert derivation_of(parse_spec(base)).network.loss.mean
    base["network"]["loss_reduction"] = "sum"
    assert not derivation_of(parse_spec(base)).network.loss.mean
    base["network"]["loss_reduction"] = "max"
    with pytest.raises(SpecError, match="loss_reduction"):
        parse_spec(base)


@pytest.mark.parametrize(
    ("network", "functions", "words"),
    [
        ({"activation": "x + z"}, {}, ["network.activation", "'z'", "column 5"]),
        ({"activation": "__import__('os')"}, {}, ["network.activation", "__import__"]),
        ({"activation": "nosuch"}, {}, ["unknown activation 'nosuch'"]),
        ({"activation": "3 + 4"}, {}, ["does not depend on x"]),
        ({"loss": "(a - q)**2"}, {}, ["network.loss", "'q'"]),
        ({"loss": "y**2"}, {}, ["does not depend on a"]),
        ({"loss": "mse", "output": "x**"}, {}, ["network.output", "invalid syntax"]),
        ({}, {"tanh": {"activation": "x"}}, ["functions.tanh", "built-in"]),
        ({}, {"f": {"activation": "x", "loss": "a"}}, ["exactly one"]),
        ({}, {"f": {"activation": "x", "latex": r"\input{/etc/passwd}"}}, ["functions.f.latex"]),
        ({}, {"f": {"activation": "x", "latex": "f}{"}}, ["unbalanced"]),
        ({}, {"f": {"activation": "x", "colour": "red"}}, ["unknown field 'colour'"]),
        ({"activation": "hl"}, {"hl": {"loss": "(a - y)**2"}}, ["is defined as a loss"]),
    ],
)
def test_bad_functions_give_one_clear_error(network: dict, functions: dict, words: list) -> None:
    table = {
        "name": "bad",
        "network": {"layers": [2, 3, 1], "activation": "tanh", "output": "identity",
                    "loss": "mse", **network},
    }
    if functions:
        table["functions"] = functions
    with pytest.raises(SpecError) as info:
        parse_spec(table)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


SWISH_SPEC = f"""name = "swish_xor"
[network]
layers = [2, 4, 1]
activation = "{SWISH}"
output = "sigmoid"
loss = "mse"
[training]
learning_rate = 0.5
batch_size = 4
epochs = 300
[data]
dataset = "xor"
"""


@pytest.mark.slow
def test_swish_spec_runs_checks_and_its_pdf_compiles(tmp_path: Path) -> None:
    """End to end: run, check and derive --document --pdf on activation = "x/(1 + exp(-x))"."""
    spec = tmp_path / "swish.toml"
    spec.write_text(SWISH_SPEC)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "symbackprop", *args],
            capture_output=True, text=True, cwd=tmp_path, timeout=900,
        )

    run = cli("run", str(spec), "--quiet-derivation")
    assert run.returncode == 0, run.stderr
    assert "final training loss" in run.stdout and "nan" not in run.stdout
    check = cli("check", str(spec))
    assert check.returncode == 0, check.stdout + check.stderr
    pdf = tmp_path / "swish.pdf"
    derive = cli("derive", str(spec), "--document", "--pdf", "-o", str(pdf))
    assert derive.returncode == 0, derive.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


# Issue 23's table: expression activations in a 2-3-1 sigmoid/MSE network on XOR. The first five
# were wrong in every kernel (a printer bug: a negated product lost the brackets of its squared
# denominator); each now passes `check` and trains to torch's loss from the same weights.
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def _issue_23_spec(text: str):  # noqa: ANN202
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return spec_of(f"i23_{digest}", [2, 3, 1], [text], "sigmoid", "mse")


def _torch_training(text: str, params: list[np.ndarray], epochs: int, rate: float) -> float:
    """Full-batch gradient descent on XOR in torch, the activation built from its SymPy tree."""
    from test_expression_fuzz import torch_of

    from symbackprop import parse_expression

    expr = parse_expression(text, ("x",))
    W1, b1, W2, b2 = (torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params)
    X, Y = torch.tensor(XOR_X), torch.tensor(XOR_Y)
    for _ in range(epochs):
        out = torch.sigmoid(torch_of(expr, X @ W1.T + b1) @ W2.T + b2)
        loss = ((out - Y) ** 2).mean(dim=1).mean()
        grads = torch.autograd.grad(loss, [W1, b1, W2, b2])
        with torch.no_grad():
            for tensor, grad in zip((W1, b1, W2, b2), grads):
                tensor -= rate * grad
    out = torch.sigmoid(torch_of(expr, X @ W1.T + b1) @ W2.T + b2)
    return float(((out - Y) ** 2).mean().detach())


ISSUE_23_DEFAULT = ("x/(1 + Abs(x))",)


@pytest.mark.parametrize(
    "text",
    [t if t in ISSUE_23_DEFAULT else pytest.param(t, marks=pytest.mark.slow) for t in ISSUE_23],
)
def test_issue_23_activations_check_and_train_like_torch(text: str) -> None:
    module = module_for(_issue_23_spec(text))
    assert max(r.max_rel_error for r in check_gradients(module, seed=0)) < 1e-6
    params = [p * 2.0 for p in module.init_params(0)]
    expected = _torch_training(text, params, epochs=300, rate=0.5)
    trained = [p.copy() for p in params]
    module.train(trained, XOR_X, XOR_Y, epochs=300, learning_rate=0.5, batch_size=4)
    assert module.loss(trained, XOR_X, XOR_Y) == pytest.approx(expected, rel=1e-9)


def test_run_refuses_gradients_that_disagree_with_finite_differences(tmp_path: Path) -> None:
    """`run` checks a spec with its own functions on one batch before training: a module whose
    hidden gradient is off (as issue 23's were) is refused in one line; a right one trains."""
    from types import SimpleNamespace

    from symbackprop.errors import SymbackpropError
    from symbackprop.run.runner import ensure_gradients_agree

    module = module_for(_issue_23_spec("x/(1 + Abs(x))"))
    params = module.init_params(0)
    ensure_gradients_agree(module, params, XOR_X, XOR_Y, "spec.toml")

    def off(ps, X, Y):  # noqa: ANN001, ANN202
        grads = module.gradients(ps, X, Y)
        return [grads[0] * 0.6, *grads[1:]]

    wrong = SimpleNamespace(
        gradients=off, loss=module.loss, PARAM_NAMES=module.PARAM_NAMES
    )
    with pytest.raises(SymbackpropError, match="gradient of W1 disagrees") as caught:
        ensure_gradients_agree(wrong, params, XOR_X, XOR_Y, "spec.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("spec.toml: ")

    def nan(ps, X, Y):  # noqa: ANN001, ANN202
        return [g * np.nan for g in module.gradients(ps, X, Y)]

    with pytest.raises(SymbackpropError, match="gradient of W1 is not finite on the first batch"):
        ensure_gradients_agree(
            SimpleNamespace(gradients=nan, loss=module.loss, PARAM_NAMES=module.PARAM_NAMES),
            params, XOR_X, XOR_Y, "spec.toml",
        )  # fmt: skip


def test_derivation_says_when_f_prime_is_evaluated_from_z() -> None:
    """No proved form through the forward value: the derivation says the code uses z."""
    from symbackprop.run.documents import document_for

    shown = document_for(_issue_23_spec("x/(1 + x**2)")).text()
    words = "evaluates φ' from the weighted input"  # the inline expression's letter
    assert words in shown
    assert words not in document_for(_issue_23_spec("log(1 + exp(x))")).text()


@pytest.mark.parametrize(
    ("name", "entry", "message"),
    [
        ("exp", {"activation": "x**2"}, "a name of the expression syntax"),
        ("pi", {"activation": "x**2"}, "a name of the expression syntax"),
        ("x", {"activation": "x**2"}, "a name of the expression syntax"),
        ("φ", {"activation": "x**2"}, "needs latex = "),
    ],
)
def test_misleading_function_names_are_refused(name: str, entry: dict, message: str) -> None:
    table = {"name": "n", "network": {"layers": [2, 1], "output": name, "loss": "mse"}}
    with pytest.raises(SpecError, match=message):
        parse_spec({**table, "functions": {name: entry}})


@pytest.mark.slow
def test_float32_specs_with_relu_like_functions_are_not_refused_before_training() -> None:
    """The pre-training check of a float32 module runs on its float64 twin: float32 finite
    differences (step 1e-2) crossed ReLU kinks and refused correct modules."""
    from symbackprop.run.runner import check_functions

    spec = spec_of("f32relu", [64, 32, 10], ["Max(x, 0)"], "softmax", "cross_entropy",
                   network={"dtype": "float32"})  # fmt: skip
    module = module_for(spec)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 17, (32, 64)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    check_functions(spec, module, module.init_params(0), X, Y)


def test_inline_expressions_are_named_phi_in_order_and_never_like_another_function() -> None:
    """Issue 19: a fourth expression written inline was named u (the derivatives' dummy). They
    are phi_1, phi_2, ... in order of first use (one distinct expression: phi alone), one name
    per expression however often it is used; a letter a [functions] entry took is skipped; an
    inline loss is ell. The SymPy text stays the key the spec and the code use."""
    four = [SWISH, GELU, SOFTPLUS, MISH]
    spec = spec_of("four", [2, 3, 3, 3, 3, 1], four, SWISH, HUBER)
    latex = [spec.activation(name).latex for name in (*spec.activations, spec.output)]
    assert latex == [rf"\varphi_{{{n}}}" for n in (1, 2, 3, 4, 1)]
    assert [spec.activation(name).shown for name in spec.activations[:2]] == ["φ_1", "φ_2"]
    assert spec.activations == tuple(key(text_) for text_ in four)
    assert spec.loss_function.latex == r"\ell" and spec.loss_function.shown == "ℓ"
    one = spec_of("one", [2, 3, 3, 1], [SWISH, SWISH], "identity", "mse")
    assert one.activation(key(SWISH)).latex == r"\varphi"
    taken = spec_of(
        "taken", [2, 3, 3, 1], ["mine", SWISH], SOFTPLUS, "mse",
        functions={"mine": {"activation": "x**3", "latex": r"\varphi_{1}"}},
    )  # fmt: skip
    assert [taken.activation(n).latex for n in (*taken.activations, taken.output)] == [
        r"\varphi_{1}", r"\varphi_{2}", r"\varphi_{3}",
    ]  # fmt: skip
