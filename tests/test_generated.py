"""Generated modules: gradients vs finite differences and vs SymPy, formulas vs code, hygiene."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from conftest import OUTPUT_LOSS, ROOT, RacingParser, combo_spec, make_spec, module_for, sample

from symbackprop.codegen.module import MARKER, render_module
from symbackprop.pipeline import derivation_of, module_source
from symbackprop.render.numeric import check_derivation
from symbackprop.render.steps import derivation_steps
from symbackprop.run.gradcheck import check_gradients
from symbackprop.spec.model import Spec, parse_spec
from symbackprop.symbolic.expansion import Scalars, all_params, closed_forms
from symbackprop.util.fileio import is_owned, unstamp_text


@pytest.mark.parametrize(
    ("output", "loss"),
    [
        pair if pair == ("softmax", "cross_entropy") else pytest.param(
            *pair, marks=pytest.mark.slow
        )
        for pair in OUTPUT_LOSS
    ],
)  # one pair by default (the gradient fuzz covers the rest there too); all under -m slow
def test_gradients_match_finite_differences(output: str, loss: str) -> None:
    """Every activation (one hidden layer each) with every output/loss pair: rel. error < 1e-6."""
    module = module_for(combo_spec(output, loss))
    results = check_gradients(module, seed=3)
    assert sum(r.checked for r in results) == sum(r.total for r in results)  # all entries
    worst = max(r.max_rel_error for r in results)
    assert worst < 1e-6, results


def test_gradient_check_detects_a_wrong_gradient() -> None:
    """The checker is not vacuous: a gradient off by 0.1% fails it."""
    module = module_for(combo_spec("sigmoid", "mse"))

    class Tampered:
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(module, name)

        def gradients(self, params, X, Y):  # noqa: ANN001, ANN201
            grads = module.gradients(params, X, Y)
            grads[0] = grads[0] * 1.001
            return grads

    worst = max(r.max_rel_error for r in check_gradients(Tampered(), seed=3))
    assert worst > 1e-4


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
def test_gradients_match_sympy_closed_forms(output: str, loss: str) -> None:
    """The generated gradients equal the fully expanded SymPy closed forms on a 2-3-2 net."""
    spec = make_spec([2, 3, 2], output, loss, "tanh", name=f"s_{output}_{loss}")
    module = module_for(spec)
    derivation = derivation_of(spec)
    scalars = Scalars(derivation.network)
    refs = all_params(spec)
    forms = closed_forms(derivation, refs)
    X, Y = sample(module, 1, seed=5)
    params = module.init_params(4)
    grads = dict(zip(module.PARAM_NAMES, module.gradients(params, X, Y)))
    point = {s: float(X[0, k]) for k, s in enumerate(scalars.x)}
    point |= {s: float(Y[0, j]) for j, s in enumerate(scalars.y)}
    for name, value in zip(module.PARAM_NAMES, params):
        for index, symbol in scalars.params[name].items():
            point[symbol] = float(value[index])
    for ref, form in zip(refs, forms):
        expected = float(sp.N(form.xreplace(point)))
        assert grads[ref.base][ref.index] == pytest.approx(expected, rel=1e-10, abs=1e-13)


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
def test_displayed_steps_match_code(output: str, loss: str) -> None:
    """Every displayed step that names a module array evaluates to the module's numbers."""
    spec = combo_spec(output, loss)
    module = module_for(spec)
    derivation = derivation_of(spec)
    X, Y = sample(module, 1, seed=7)
    params = module.init_params(6)
    values = module.intermediates(params, X, Y) | dict(zip(module.PARAM_NAMES, params))
    values["Y"] = Y
    assert check_derivation(derivation, values) == []
    checked = [step for step in derivation_steps(derivation) if step.check]
    assert len(checked) >= 3 * len(spec.layers)


def test_step_check_detects_drift() -> None:
    """A formula that disagrees with the code is reported."""
    spec = combo_spec("softmax", "cross_entropy")
    module = module_for(spec)
    X, Y = sample(module, 1, seed=7)
    params = module.init_params(6)
    values = module.intermediates(params, X, Y) | dict(zip(module.PARAM_NAMES, params))
    values["Y"] = Y
    values["delta2"] = values["delta2"] * 1.01
    assert check_derivation(derivation_of(spec), values)


def test_loss_and_forward_agree_with_numpy() -> None:
    """forward/loss against a plain NumPy forward pass written here."""
    spec = make_spec([5, 7, 3], "softmax", "cross_entropy", "tanh", name="np_check")
    module = module_for(spec)
    X, Y = sample(module, 20, seed=1)
    W1, b1, W2, b2 = module.init_params(2)
    hidden = np.tanh(X @ W1.T + b1)
    logits = hidden @ W2.T + b2
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(module.forward([W1, b1, W2, b2], X), probs, rtol=1e-12)
    expected = -np.mean(np.sum(Y * np.log(probs), axis=1))
    assert module.loss([W1, b1, W2, b2], X, Y) == pytest.approx(expected, rel=1e-12)


def test_extreme_inputs_stay_finite() -> None:
    """Stable forms: huge logits give finite losses and gradients (no overflow, no log 0)."""
    for output, loss in [("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy")]:
        module = module_for(make_spec([2, 2], output, loss, name=f"x_{output}"))
        params = [np.full_like(p, 400.0) for p in module.init_params(0)]
        X = np.array([[1.0, 1.0], [-1.0, -1.0]])
        Y = np.array([[0.0, 1.0], [1.0, 0.0]])
        assert np.isfinite(module.loss(params, X, Y))
        assert all(np.all(np.isfinite(g)) for g in module.gradients(params, X, Y))


def test_same_spec_same_bytes() -> None:
    spec = combo_spec("softmax", "cross_entropy")
    assert render_module(derivation_of(spec)).text == render_module(derivation_of(spec)).text


def _imports(text: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
def test_module_is_standalone_and_clean(output: str, loss: str, tmp_path) -> None:  # noqa: ANN001
    text = module_source(combo_spec(output, loss)).text
    assert text.startswith(MARKER)
    # numpy, numba and the standard library (json, platform, time: the kernel tuner; io, secrets,
    # stat: the file functions printed from symbackprop/fileio.py)
    allowed = {"math", "os", "io", "secrets", "stat", "numpy", "numba", "json", "platform", "time"}
    assert _imports(text) <= allowed
    assert "symbackprop" not in _imports(text) and "sympy" not in _imports(text)
    path = tmp_path / "module.py"
    path.write_text(text)
    lint = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--line-length",
            "100",
            "--select",
            "E,F,W,B",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "--line-length", "100",
         str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fmt.returncode == 0


def test_formatting_failures_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """ruff formats every module; a text it cannot parse, or a ruff that cannot run, is a
    GenerationError naming the problem, not a traceback or an unformatted module."""
    import ruff.__main__

    from symbackprop.codegen.module import format_python
    from symbackprop.errors import GenerationError

    assert format_python("x = ( 1,2 )\n") == "x = (1, 2)\n"
    with pytest.raises(GenerationError, match="ruff could not format .*module.py:1:5"):
        format_python("def (:\n")
    monkeypatch.setattr(ruff.__main__, "find_ruff_bin", lambda: "/nonexistent/ruff")
    with pytest.raises(GenerationError, match="cannot run ruff to format the module"):
        format_python("x = 1\n")


def test_formatting_survives_a_missing_or_broken_ruff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A working directory that is gone (ruff refused to start in it), no ruff package, a ruff
    that prints nothing or never returns: a module is formatted, or a one-line GenerationError,
    never a traceback, a hang or an empty module that the cache would keep."""
    import ruff.__main__

    from symbackprop.codegen import module
    from symbackprop.errors import GenerationError

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert module.format_python("x = ( 1,2 )\n") == "x = (1, 2)\n"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ruff.__main__", None)  # not installed
    with pytest.raises(GenerationError, match="not installed"):
        module.format_python("x = 1\n")
    monkeypatch.setitem(sys.modules, "ruff.__main__", ruff.__main__)
    for name, body in [
        ("silent", "cat > /dev/null"),
        ("comment", "cat > /dev/null; echo '# formatted'"),
        ("stuck", "sleep 30"),
    ]:
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\n{body}\n")
        fake.chmod(0o755)
        monkeypatch.setattr(ruff.__main__, "find_ruff_bin", lambda fake=fake: str(fake))
        monkeypatch.setattr(module, "FORMAT_SECONDS", 1)
        with pytest.raises(GenerationError, match="no module that parses|cannot run ruff"):
            module.format_python("x = 1\n")


def test_formatting_survives_the_ast_race_of_python_3_11(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CPython 3.11's ast.parse can raise "AST constructor recursion depth mismatch" while
    another thread parses (CI's sweep, whose client runs threads, failed so): the check that
    ruff's output parses tries again, and a parser that keeps failing is a one-line error."""
    from symbackprop.codegen import module
    from symbackprop.errors import GenerationError
    from symbackprop.util import parsing

    racing = RacingParser(2)
    monkeypatch.setattr(parsing, "ast", racing)  # our parses only
    assert module.format_python("x = ( 1,2 )\n") == "x = (1, 2)\n"
    assert racing.failures == 0
    monkeypatch.setattr(parsing, "ast", RacingParser(parsing.PARSE_TRIES))
    with pytest.raises(GenerationError, match="parser kept failing"):
        module.format_python("x = 1\n")


@pytest.mark.parametrize("name", ["xor", "digits"])
def test_committed_modules_are_up_to_date(name: str) -> None:
    """generated/<name>.py is what the current templates produce (update: scripts/regenerate.py)."""
    path = ROOT / "generated" / f"{name}.py"
    assert is_owned(path), f"generated/{name}.py was edited by hand"
    committed = unstamp_text(path.read_bytes())
    assert committed == module_source(name).text, (
        f"generated/{name}.py is out of date: run `python scripts/regenerate.py`"
    )


def test_committed_module_runs_standalone(tmp_path) -> None:  # noqa: ANN001
    """The committed xor module, copied to an empty folder, runs its self-check and demo."""
    target = tmp_path / "xor.py"
    target.write_text((ROOT / "generated" / "xor.py").read_text())
    result = subprocess.run(
        [sys.executable, str(target)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    worst = float(result.stdout.split("finite differences): ")[1].split()[0])
    assert worst < 1e-5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_exp_and_tanh_match_libm(dtype: str) -> None:
    """The generated _exp and _tanh against math.exp / math.tanh, in ulps of the dtype."""
    import math

    from symbackprop.spec.model import parse_spec

    spec = parse_spec(
        {
            "name": f"fast_{dtype}",
            "network": {
                "layers": [2, 3, 2],
                "activation": "tanh",
                "output": "softmax",
                "loss": "cross_entropy",
                "dtype": dtype,
            },
        }
    )
    module = module_for(spec)
    floats = np.float64 if dtype == "float64" else np.float32
    eps = float(np.finfo(floats).eps)
    limit = 700.0 if dtype == "float64" else 85.0
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.uniform(-limit, limit, 3000), rng.uniform(-3, 3, 3000), [0.0]])
    for x in xs.astype(floats):
        exact = math.exp(float(x))
        assert abs(float(module._exp(x)) - exact) <= 2 * eps * exact
    for x in np.concatenate([xs[3000:], rng.uniform(-1e-3, 1e-3, 500)]).astype(floats):
        exact = math.tanh(float(x))
        tolerance = (40 if dtype == "float64" else 4) * eps * max(abs(exact), 1e-300)
        assert abs(float(module._tanh(x)) - exact) <= max(tolerance, 1e-300)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_exp_overflows_and_underflows_as_libm(dtype: str) -> None:
    """Beyond the normal range _exp gives what exp does in the dtype: inf once e**x exceeds the
    largest float and, flushing subnormals, 0 once e**x < 2**(minexp + 0.5); just inside either
    end it is finite and within 2 ulp. (It clamped x to [-708, 709] before:
    log(1 + exp(1000 x))/1000 came out as 0.709 for every x above 0.709.)"""
    import math

    from symbackprop.spec.model import parse_spec

    spec = parse_spec(
        {
            "name": f"edges_{dtype}",
            "network": {"layers": [1, 1], "output": "sigmoid", "loss": "mse", "dtype": dtype},
        }
    )
    module = module_for(spec)
    floats = np.float64 if dtype == "float64" else np.float32
    info = np.finfo(floats)
    top = math.log(float(info.max))  # 709.78 / 88.72
    flushed = (info.minexp + 0.5) * math.log(2.0)  # -708.05 / -86.99
    huge = 1e300 if dtype == "float64" else 3e38
    xs = np.concatenate(
        [
            np.linspace(top - 3, top + 3, 601),
            np.linspace(flushed - 40, flushed + 3, 601),
            [top * 1.5, flushed * 1.5, huge, -huge, math.inf, -math.inf],
        ]
    ).astype(floats)
    for x in xs:
        if abs(float(x) - flushed) < 1e-6 or abs(float(x) - top) < 1e-6:
            continue  # a rounding away from either threshold
        try:
            exact = math.exp(float(x))
        except OverflowError:
            exact = math.inf
        with np.errstate(over="ignore"):
            want = 0.0 if float(x) < flushed else float(floats(exact))  # inf above its max
        got = float(module._exp(x))
        if math.isinf(want) or want == 0.0:
            assert got == want, (x, got, want)
        else:
            assert abs(got - exact) <= 2 * float(info.eps) * exact, (x, got, exact)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output, loss", [("identity", "bce_with_logits"), ("softplus", "mse")])
def test_output_deltas_stay_finite_and_right_for_large_outputs(
    dtype: str, output: str, loss: str
) -> None:
    """Derived as exp(a)/(exp(a) + 1) - y and 2 (a - y) (exp(a) - 1) exp(-a), these deltas are
    nan (inf/inf, inf * 0) once exp overflows (709.8; float32 88.7): the kernels evaluate the
    same product through the loss's stable term and the activation's stable f'. The bias
    gradient of a 1-1 network at weight 1 is the delta, against NumPy's own sigmoid and
    softplus; a logit of exactly 0 gives sigmoid(0) - y = 0.5 - y."""
    from symbackprop.spec.model import parse_spec

    network = {"layers": [1, 1], "output": output, "loss": loss, "dtype": dtype}
    module = module_for(parse_spec({"name": f"big_{output}_{dtype}", "network": network}))
    floats = np.float64 if dtype == "float64" else np.float32
    big = (710.0, 800.0, 1e4) if dtype == "float64" else (89.0, 100.0, 1e4)
    zs = np.array([0.0, 0.5, -3.0, *big, *(-z for z in big)])
    params = [np.ones((1, 1), floats), np.zeros(1, floats)]
    for z in zs:
        y = 0.3
        got = module.gradients(params, np.array([[z]], floats), np.array([[y]], floats))[1][0]
        sigmoid = 0.5 * (1.0 + np.tanh(z / 2))  # no overflow for any z
        if loss == "bce_with_logits":
            want = sigmoid - y
        else:
            want = 2 * (np.logaddexp(0.0, z) - y) * sigmoid
        tolerance = 1e-12 if dtype == "float64" else 1e-5
        assert got == pytest.approx(want, rel=tolerance, abs=tolerance), (z, got, want)


def test_forward_pass_keeps_each_hidden_factor() -> None:
    """Fp{l} (what _forward keeps for _backward) is f'(z{l}), against derivatives written here
    with NumPy; the output layer keeps none."""
    spec = combo_spec("sigmoid", "mse")  # hidden layers: identity, sigmoid, tanh, relu
    module = module_for(spec)
    X, Y = sample(module, 9, seed=3)
    values = module.intermediates(module.init_params(4), X, Y)
    sigmoid = 1.0 / (1.0 + np.exp(-values["Z2"]))
    expected = {
        "Fp1": np.ones_like(values["Z1"]),
        "Fp2": sigmoid * (1.0 - sigmoid),
        "Fp3": 1.0 - np.tanh(values["Z3"]) ** 2,
        "Fp4": (values["Z4"] > 0).astype(float),
    }
    for name, factor in expected.items():
        np.testing.assert_allclose(values[name], factor, rtol=1e-12, atol=1e-15, err_msg=name)
    assert "Fp5" not in values and len(module.LAYERS) == 6


def _reads_a_local(node: ast.AST) -> bool:
    """Whether an expression reads a variable (not only constants: ``math.sqrt(2.0)``)."""
    return any(
        isinstance(name, ast.Name) and name.id not in ("math", "np")
        for name in ast.walk(node)
    )


def _activation_blocks(source: str) -> list[list[ast.stmt]]:
    """The statements of each block of _forward that evaluates a layer's activation: its loop
    body after ``Z{l}[r, j] = z``, in the order of the layers."""
    function = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name == "_forward"
    )
    blocks = []
    for node in ast.walk(function):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        starts = [
            i
            for i, statement in enumerate(body)
            if isinstance(statement, ast.Assign)
            and ast.unparse(statement.targets[0]).startswith("Z")
            and ast.unparse(statement.value) == "z"
        ]
        blocks += [body[start + 1 :] for start in starts]
    return blocks


def _every_activation(name: str, dtype: str, output: str = "sigmoid", loss: str = "mse") -> Spec:
    """A network of 3-wide hidden layers, one for each elementwise built-in activation."""
    from symbackprop.spec.functions import ACTIVATIONS

    names = sorted(name for name, act in ACTIVATIONS.items() if act.elementwise)
    network = {
        "layers": [3] * (len(names) + 1) + [2],
        "activation": names,
        "output": output,
        "loss": loss,
        "dtype": dtype,
    }
    return parse_spec({"name": name, "network": network})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_activation_and_its_factor_evaluate_each_call_once(dtype: str) -> None:
    """f(z) and the f'(z) kept beside it are printed after ``sympy.cse``: a sigmoid's
    e^{-|z|} is one call (the unnamed code made five), for every built-in activation."""
    spec = _every_activation(f"calls_{dtype}", dtype)
    blocks = _activation_blocks(render_module(derivation_of(spec)).text)
    assert len(blocks) == len(spec.layers) - 1  # every hidden layer and the output layer
    for block in blocks:
        calls = [
            ast.unparse(call)
            for statement in block
            for call in ast.walk(statement)
            if isinstance(call, ast.Call) and _reads_a_local(call)
        ]
        repeated = {call for call in calls if calls.count(call) > 1}
        assert not repeated, repeated


def test_a_float32_module_computes_in_float32(tmp_path: Path) -> None:
    """No sum, product or call in the float32 forward kernel of every built-in activation
    comes out float64 (Numba's types): ``math.pi`` in gelu's derivative, a Python float, made
    gelu's f'(z) a float64 computation."""
    import io

    from symbackprop.pipeline import load_module

    spec = _every_activation("all_float32", "float32", "softmax", "cross_entropy")
    # a new file: compiled here, not loaded from Numba's cache (which keeps no types)
    module = load_module(render_module(derivation_of(spec)), tmp_path)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    module.forward(module.init_params(0), X)  # _forward: no layer takes BLAS, no _infer
    typed = io.StringIO()
    module._forward.inspect_types(file=typed)
    lines = typed.getvalue().splitlines()
    assert sum(line.rstrip().endswith(":: float32") for line in lines) > 100  # typed, not cached
    wide = [
        line.strip()
        for line in lines
        if line.rstrip().endswith(":: float64")
        and any(kind in line for kind in ("binop", "unary", "call"))
    ]
    assert wide == [], wide[:5]


@pytest.mark.parametrize(
    "expression",
    [
        "sin(x)*(1 + pi)**2",
        "exp(x)*(1 + pi)**2 + x**2*(1 + pi)**2",
        "x/sqrt(1 + x**2)",
        "((1 + x**2)**2 + 1)**2",
        "Piecewise((x**2, x > 1), (x, x > 0), (exp(x) - 1, True))*Heaviside(x + 1)",
    ],
)
def test_named_steps_are_distinct_and_used(expression: str) -> None:
    """Each step (c0 = ...) of an activation block computes something no other step does and
    is read after it: a constant square was named again in each expression, (1 + pi) three
    times."""
    spec = parse_spec(
        {"name": "steps", "network": {"layers": [3, 4, 2], "activation": expression,
                                      "output": "identity", "loss": "mse"}}
    )  # fmt: skip
    block = _activation_blocks(render_module(derivation_of(spec)).text)[0]  # the hidden layer
    assert any(ast.unparse(s).startswith("a = ") for s in block)
    steps = [
        (ast.unparse(s.targets[0]), ast.unparse(s.value), i)
        for i, s in enumerate(block)
        if isinstance(s, ast.Assign) and ast.unparse(s.targets[0]).startswith("c")
    ]
    assert [name for name, _, _ in steps] == [f"c{n}" for n in range(len(steps))]
    assert len({code for _, code, _ in steps}) == len(steps), steps
    for name, _, i in steps:
        read = {n.id for s in block[i + 1 :] for n in ast.walk(s) if isinstance(n, ast.Name)}
        assert name in read, name
