"""``symbackprop export`` (issue 21): saved weights load into the README's ``torch.nn.Sequential``
and give the generated module's outputs (standardisation folded into the first layer); ONNX where
the onnx packages are installed; expression activations refused; the CLI's files and errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, import_torch, make_spec, module_for

from symbackprop.errors import SymbackpropError
from symbackprop.run.export import (
    TORCH_MODULES,
    folded,
    sequential_code,
    state_dict_arrays,
    torch_bytes,
    torch_sequential,
)
from symbackprop.run.weights import save_weights
from symbackprop.spec.builtins import ELEMENTWISE
from symbackprop.spec.model import load_spec, parse_spec

torch = import_torch()
nn = torch.nn

MOONS = ROOT / "tests" / "workflow" / "moons.toml"


def readme_model(spec_path: str, state_file: Path):  # noqa: ANN201
    """What the README's "Export to PyTorch" section does, for the network of ``spec_path``:
    the nn.Sequential the command printed, built by hand, then the state dict loaded."""
    code = sequential_code(load_spec(spec_path))
    model = eval(code, {"nn": nn})  # the line `export` prints and the README shows
    model.load_state_dict(torch.load(state_file))
    return model.eval()


def random_params(module, seed: int, scale: float = 1.0) -> list[np.ndarray]:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=p.shape) for p in module.init_params(seed)]


def torch_outputs(model, X: np.ndarray) -> np.ndarray:  # noqa: ANN001
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("name", ["xor", "digits"])
def test_the_readme_sequential_gives_the_modules_outputs(tmp_path: Path, name: str) -> None:
    spec = load_spec(name)
    module = module_for(spec)
    params = random_params(module, 1)
    save_weights(tmp_path / "w.npz", spec, params)
    from symbackprop.cli.commands import main

    out = io.StringIO()
    assert main(["export", name, str(tmp_path / "w.npz"), "--torch", str(tmp_path / "m.pt")],
                out) == 0  # fmt: skip
    assert sequential_code(spec) in out.getvalue()
    X = np.random.default_rng(2).normal(size=(50, spec.layers[0])) * 3
    expected = module.forward(params, X)
    got = torch_outputs(readme_model(name, tmp_path / "m.pt"), X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_standardisation_is_folded_into_the_first_layer_exactly(tmp_path: Path) -> None:
    spec = load_spec(str(MOONS))
    assert spec.data.standardize
    module = module_for(spec)
    params = random_params(module, 3)
    rng = np.random.default_rng(4)
    scaling = {"x_mean": rng.normal(size=2) * 5, "x_std": rng.uniform(0.1, 10, size=2)}
    save_weights(tmp_path / "w.npz", spec, params, scaling)
    from symbackprop.cli.commands import main

    out = io.StringIO()
    assert main(["export", str(MOONS), str(tmp_path / "w.npz"), "--torch",
                 str(tmp_path / "m.pt")], out) == 0  # fmt: skip
    assert "folded into the first Linear layer" in out.getvalue()
    X = rng.normal(size=(40, 2)) * 4 + scaling["x_mean"]
    expected = module.forward(params, (X - scaling["x_mean"]) / scaling["x_std"])
    got = torch_outputs(readme_model(str(MOONS), tmp_path / "m.pt"), X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    # the folding's formula, and nothing else changes
    W, b = folded(params, scaling)[:2]
    np.testing.assert_allclose(W, params[0] / scaling["x_std"], rtol=1e-15)
    np.testing.assert_allclose(
        b, params[1] - params[0] @ (scaling["x_mean"] / scaling["x_std"]), rtol=1e-13
    )
    assert all(a is b for a, b in zip(folded(params, {})[2:], params[2:], strict=True))


# every built-in activation, in three small networks (hidden layers, then the output's)
NETWORKS = [
    (["identity", "sigmoid", "relu", "leaky_relu", "leaky_relu(0.2)"], "softmax", "cross_entropy"),
    (["elu", "elu(0.5)", "selu", "softplus", "silu"], "identity", "mse"),
    (["gelu", "gelu_tanh", "mish", "hard_tanh"], "hard_sigmoid", "mse"),
]


def test_every_builtin_activation_has_a_torch_module() -> None:
    assert set(TORCH_MODULES) == set(ELEMENTWISE)
    covered = {name.split("(")[0] for hidden, output, _ in NETWORKS for name in [*hidden, output]}
    assert covered == set(ELEMENTWISE) - {"tanh"}  # tanh: xor, digits, moons


@pytest.mark.parametrize(("hidden", "output", "loss"), NETWORKS)
def test_every_activation_exports_to_the_modules_outputs(
    hidden: list[str], output: str, loss: str
) -> None:
    spec = make_spec([3] + [4] * len(hidden) + [3], output, loss, hidden, f"ex_{output}")
    module = module_for(spec)
    params = random_params(module, 5, scale=2.0)  # large weighted inputs: saturation, softplus > 20
    model = torch_sequential(spec)
    model.load_state_dict(
        {k: torch.from_numpy(v) for k, v in state_dict_arrays(params, {}).items()}
    )
    X = np.random.default_rng(6).normal(size=(200, 3)) * 4
    np.testing.assert_allclose(
        torch_outputs(model, X), module.forward(params, X), rtol=1e-12, atol=1e-13
    )


def test_float32_specs_export_float32_tensors() -> None:
    spec = parse_spec({"name": "ex32", "network": {"layers": [2, 3, 1], "output": "sigmoid",
                       "loss": "mse", "dtype": "float32"}})  # fmt: skip
    assert sequential_code(spec).endswith(".float()")
    params = [p.astype(np.float32) for p in module_for(spec).init_params(0)]
    state = torch.load(io.BytesIO(torch_bytes(state_dict_arrays(params, {}))))
    assert {v.dtype for v in state.values()} == {torch.float32}
    torch_sequential(spec).load_state_dict(state)


EXPRESSION_SPEC = """name = "own_act"
[functions.wiggle]
activation = "x + sin(x)"
[network]
layers = [2, 3, 1]
activation = "wiggle"
output = "sigmoid"
loss = "mse"
[data]
dataset = "xor"
"""


def test_an_expression_activation_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "own.toml"
    path.write_text(EXPRESSION_SPEC)
    with pytest.raises(SymbackpropError, match="activation 'wiggle' is written in the spec"):
        sequential_code(load_spec(str(path)))
    weights = tmp_path / "w.npz"
    weights.write_bytes(b"never read")
    run = symbackprop(tmp_path, "export", "own.toml", "w.npz", "--torch", "own.pt")
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and "'wiggle'" in run.stderr, run.stderr
    assert not (tmp_path / "own.pt").exists()


def symbackprop(folder: Path, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", *argv],
        capture_output=True, text=True, timeout=300, cwd=folder, env=env,
    )  # fmt: skip


@pytest.mark.slow  # end to end; the hostile table and the state-dict tests stay
def test_the_cli_writes_refuses_foreign_files_and_replaces_its_own(tmp_path: Path) -> None:
    spec = load_spec("xor")
    params = random_params(module_for(spec), 7)
    save_weights(tmp_path / "xor.npz", spec, params)
    run = symbackprop(tmp_path, "export", "xor", "xor.npz", "--torch", "xor.pt")
    assert run.returncode == 0, run.stderr
    assert "nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())" in run.stdout
    first = (tmp_path / "xor.pt").read_bytes()
    again = symbackprop(tmp_path, "export", "xor", "xor.npz", "--torch", "xor.pt")
    assert again.returncode == 0, again.stderr  # its own, unchanged file: replaced
    assert (tmp_path / "xor.pt").read_bytes() == first
    (tmp_path / "mine.pt").write_text("a colleague's model")
    refused = symbackprop(tmp_path, "export", "xor", "xor.npz", "--torch", "mine.pt")
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert "--force" in refused.stderr
    assert (tmp_path / "mine.pt").read_text() == "a colleague's model"
    forced = symbackprop(tmp_path, "export", "xor", "xor.npz", "--torch", "mine.pt", "--force")
    assert forced.returncode == 0 and (tmp_path / "mine.pt").read_bytes() == first
    for argv, words in [
        (("--torch", "m.txt"), "ending in .pt or .pth"),
        ((), "give --torch FILE.pt and/or --onnx FILE.onnx"),
        (("--torch", "m.pt", "--onnx", "m.pt"), "ending in .onnx"),
    ]:
        bad = symbackprop(tmp_path, "export", "xor", "xor.npz", *argv)
        assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
        assert words in bad.stderr
    (tmp_path / "wrong.npz").write_bytes((tmp_path / "xor.npz").read_bytes())
    digits = symbackprop(tmp_path, "export", "digits", "wrong.npz", "--torch", "d.pt")
    assert digits.returncode == 2 and "saved for network" in digits.stderr
    assert not (tmp_path / "d.pt").exists()


def test_a_missing_torch_is_one_line_naming_pip_install(tmp_path: Path) -> None:
    spec = load_spec("xor")
    save_weights(tmp_path / "xor.npz", spec, random_params(module_for(spec), 7))
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('no torch here')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "export", "xor", "xor.npz", "--torch", "x.pt"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
    assert "pip install torch" in run.stderr
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.slow  # 25 s: torch.onnx's exporter (the default run keeps the .pt round trips)
def test_onnx_gives_the_modules_outputs(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from onnx.reference import ReferenceEvaluator

    spec = load_spec(str(MOONS))
    module = module_for(spec)
    params = random_params(module, 8)
    scaling = {"x_mean": np.array([0.5, -0.25]), "x_std": np.array([0.8, 1.7])}
    save_weights(tmp_path / "w.npz", spec, params, scaling)
    run = symbackprop(tmp_path, "export", str(MOONS), "w.npz", "--onnx", "m.onnx")
    assert run.returncode == 0, run.stderr
    X = np.random.default_rng(9).normal(size=(7, 2))
    model = onnx.load(str(tmp_path / "m.onnx"))
    (got,) = ReferenceEvaluator(model).run(None, {"input": X})
    expected = module.forward(params, (X - scaling["x_mean"]) / scaling["x_std"])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    again = symbackprop(tmp_path, "export", str(MOONS), "w.npz", "--onnx", "m.onnx")
    assert again.returncode == 0, again.stderr  # its own file (the digest beside it)


@pytest.mark.slow  # end to end; the hostile table and the state-dict tests stay
def test_a_kaggle_csv_trains_predicts_and_exports_to_equal_outputs(tmp_path: Path) -> None:
    """The issue's "done when": string labels, an id column, standardised inputs; the exported
    model's outputs on raw inputs equal `predict`'s (printed with 17 digits) to 1e-12."""
    from test_csv import SPEC, kaggle_rows

    text, _ = kaggle_rows(60)
    (tmp_path / "train.csv").write_text(text)
    (tmp_path / "net.toml").write_text(SPEC.format(
        name="kaggle_export", n_out=2, output="softmax", loss="cross_entropy",
        target="diagnosis"))  # fmt: skip
    run = symbackprop(tmp_path, "run", "net.toml", "--quiet-derivation", "--save", "w.npz")
    assert run.returncode == 0, run.stderr
    export = symbackprop(tmp_path, "export", "net.toml", "w.npz", "--torch", "net.pt")
    assert export.returncode == 0, export.stderr
    assert "folded" in export.stdout and "classes B, M" in export.stdout
    predict = symbackprop(tmp_path, "predict", "net.toml", "w.npz", "train.csv")
    assert predict.returncode == 0, predict.stderr
    rows = [line.split(",") for line in predict.stdout.splitlines()[1:]]
    expected = np.array([[float(v) for v in row[1:]] for row in rows])
    X = np.loadtxt(tmp_path / "train.csv", delimiter=",", skiprows=1, usecols=(2, 3, 4))
    got = torch_outputs(readme_model(str(tmp_path / "net.toml"), tmp_path / "net.pt"), X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    labels = np.array(["B", "M"])[np.argmax(got, axis=1)]
    np.testing.assert_array_equal(labels, [row[0] for row in rows])


def test_missing_onnx_packages_are_one_line_naming_pip_install(tmp_path: Path) -> None:
    spec = load_spec("xor")
    save_weights(tmp_path / "xor.npz", spec, random_params(module_for(spec), 7))
    (tmp_path / "onnxscript").mkdir()
    (tmp_path / "onnxscript" / "__init__.py").write_text("raise ImportError('not here')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "export", "xor", "xor.npz", "--torch", "x.pt",
         "--onnx", "x.onnx"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
    assert "pip install onnx onnxscript" in run.stderr
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "x.onnx").exists()
