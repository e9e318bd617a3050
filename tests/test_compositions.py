"""Features together: specs with their own [functions] through compare, sweeps (fresh worker
processes), saved weights, pickling and the registry (issue 16's compositions)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli.commands import main
from symbackprop.errors import DataError
from symbackprop.pipeline import module_source
from symbackprop.run.weights import load_weights, save_weights
from symbackprop.spec.functions import ACTIVATIONS, LOSSES
from symbackprop.spec.model import load_spec
from symbackprop.tools.grid import parse_grid, read_table, variants

ROOT = Path(__file__).resolve().parent.parent
SPEC = """name = "{name}"
[network]
layers = [2, 3, 1]
activation = "f"
output = "identity"
loss = "{loss}"
[functions.f]
activation = "{body}"
[functions.my_huber]
loss = "Piecewise((0.5*(a - y)**2, Abs(a - y) <= 1), (Abs(a - y) - 0.5, True))"
[training]
epochs = 30
batch_size = 4
learning_rate = 0.1
[data]
dataset = "xor"
"""


def write_spec(folder: Path, name: str, body: str, loss: str = "my_huber") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(SPEC.format(name=name, body=body, loss=loss))
    return path


def test_compare_sees_each_specs_own_body_of_one_name(tmp_path: Path) -> None:
    a = write_spec(tmp_path, "ta", "tanh(x)")
    b = write_spec(tmp_path, "sq", "x**2")
    out = io.StringIO()
    assert main(["derive", str(a), "--compare", str(b), "--format", "text"], out) == 0
    shown = out.getvalue()
    assert "1 - tanh(u)²" in shown and "2·u" in shown, shown


def test_spec_functions_stay_in_the_spec_not_the_registry(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "own", "x/(1 + Abs(x))"))
    assert [f.name for f in spec.functions] == ["f", "my_huber"]
    assert "f" not in ACTIVATIONS and "my_huber" not in LOSSES
    twin = load_spec(write_spec(tmp_path, "own", "x**2"))
    assert twin != spec and hash(twin) != hash(spec)
    assert module_source(twin).text != module_source(spec).text


def test_grid_over_function_bodies_gives_distinct_variants(tmp_path: Path) -> None:
    base = read_table(str(write_spec(tmp_path, "grid", "tanh(x)")))
    axes = parse_grid(['functions.f={activation="x**2"},{activation="tanh(x)"}'], base.table)
    found = variants(base, axes)
    bodies = [str(v.spec.activation("f").expr) for v in found]
    assert bodies == ["x**2", "tanh(x)"]
    assert found[0].spec != found[1].spec


def test_saved_weights_refuse_another_body_of_the_same_name(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "w", "tanh(x)"))
    path = tmp_path / "w.npz"
    params = [np.zeros((3, 2)), np.zeros(3), np.zeros((1, 3)), np.zeros(1)]
    save_weights(path, spec, params)
    assert len(load_weights(path, spec)[0]) == 4
    other = load_spec(write_spec(tmp_path, "w", "x**2"))
    with pytest.raises(DataError, match=r"f\(x\) = tanh\(x\)"):
        load_weights(path, other)
    data = tmp_path / "x.csv"
    data.write_text("0,1\n1,0\n")
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "predict", str(tmp_path / "w.toml"), str(path),
         str(data)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_pickled_spec_with_its_own_loss_works_in_a_fresh_process(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "pk", "x/(1 + Abs(x))"))
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    code = (
        "import pickle, sys\n"
        "from symbackprop.pipeline import module_source\n"
        "spec = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "print(len(module_source(spec).text), spec.loss_function.name)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "spec.pkl")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[1] == "my_huber"
    assert int(run.stdout.split()[0]) == len(module_source(spec).text)


@pytest.mark.slow
def test_a_sweep_with_its_own_loss_and_bodies_trains_every_trial_on_workers(
    tmp_path: Path,
) -> None:
    """Fresh Dask worker processes: each trial trains its own body of f with the user loss."""
    pytest.importorskip("distributed")
    spec = write_spec(tmp_path, "sw", "tanh(x)")
    grid = 'functions.f={activation="x**2"},{activation="tanh(x)"}'
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "sweep", str(spec), "--grid", grid,
         "--workers", "2", "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    trials = json.loads((tmp_path / "out" / "results.json").read_text())["trials"]
    assert len(trials) == 2 and all(t["status"] == "ok" for t in trials), trials
    losses = {t["final_loss"] for t in trials}
    assert len(losses) == 2  # two bodies, two different trainings


def test_readme_lists_the_public_api_that_all_exports() -> None:
    import re

    import symbackprop

    readme = (ROOT / "README.md").read_text()
    paragraph = readme.split("The public API is what `symbackprop.__all__` lists:")[1]
    paragraph = paragraph.split("\n\n")[0].split("A bad override")[0]
    named = set(re.findall(r"`([A-Za-z_]+)`", paragraph))
    assert named == set(symbackprop.__all__)
    assert all(hasattr(symbackprop, name) for name in symbackprop.__all__)
