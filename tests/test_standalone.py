"""Generated modules are standalone: numpy, numba and the standard library, SciPy optional.

A module calls SciPy's BLAS (gemm) for its larger layers; it must train and predict in a
process where ``scipy`` cannot be imported (on its own register-tiled loops), to the same result,
and Numba's on-disk cache must not hand the BLAS variant to such a process.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop.codegen.source import module_bytes
from symbackprop.pipeline import derivation_of, render_module
from symbackprop.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(path.stem for path in (ROOT / "generated").glob("*.py"))

# Imports the module from its folder by name (so Numba's cache finds it), trains a few epochs on
# the module's own demo data and predicts; with "block" first, `scipy` raises ImportError.
SCRIPT = """
import json, sys

class BlockScipy:
    def find_spec(self, name, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError(f"{name} is blocked for this test")

if sys.argv[1] == "block":
    sys.meta_path.insert(0, BlockScipy())
sys.path.insert(0, sys.argv[2])
module = __import__(sys.argv[3])
X, Y = module._demo_data(100, seed=3)
params = module.init_params(0)
losses = module.train(params, X, Y, 3, 0.05, 16)
chosen = getattr(module, "CHOSEN", {})
print(json.dumps({
    "loss": float(losses[-1]),
    "predict": module.predict(params, X).tolist(),
    "scipy_blas": getattr(module, "SCIPY_BLAS", None),
    "scipy_imported": any(name.split(".")[0] == "scipy" for name in sys.modules),
    "plan": chosen[16].tolist() if 16 in chosen else None,
}))
"""


def _run(folder: Path, name: str, block: bool, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "block" if block else "allow", str(folder), name],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _check_without_scipy(folder: Path, name: str, tmp_path: Path, **settings: str) -> dict:
    """Runs with SciPy, then without (same Numba cache: the BLAS variant cached first must not
    be loaded); both train to the same finite loss and predict the same."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), **settings)
    env["SYMBACKPROP_CACHE"] = str(tmp_path / "cache")
    with_scipy = _run(folder, name, False, env)
    without = _run(folder, name, True, env)
    assert not without["scipy_imported"]
    assert math.isfinite(without["loss"])
    assert abs(without["loss"] - with_scipy["loss"]) <= 1e-12 * abs(with_scipy["loss"])
    assert without["predict"] == with_scipy["predict"]
    if with_scipy["scipy_blas"] is not None:  # the module calls gemm where SciPy is there
        assert with_scipy["scipy_blas"] is True and without["scipy_blas"] is False
    again = _run(folder, name, True, env)  # now from Numba's cache
    assert abs(again["loss"] - with_scipy["loss"]) <= 1e-12 * abs(with_scipy["loss"])
    return without


@pytest.mark.parametrize(
    "name",
    # digits (its tiles compile twice: 15 s) runs under -m slow, xor (5 s) by default
    [pytest.param(n, marks=pytest.mark.slow) if n == "digits" else n for n in COMMITTED],
)
def test_committed_module_trains_and_predicts_without_scipy(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "modules"
    folder.mkdir()
    shutil.copy(ROOT / "generated" / f"{name}.py", folder / f"{name}.py")
    _check_without_scipy(folder, name, tmp_path)


def _tuned(spec_name: str, folder: Path) -> str:
    spec = dataclasses.replace(load_spec(spec_name), name=f"{spec_name}_tuned", kernels="tuned")
    folder.mkdir()
    (folder / f"{spec.name}.py").write_bytes(module_bytes(render_module(derivation_of(spec))))
    return spec.name


def _check_tuned(spec_name: str, tmp_path: Path) -> None:
    folder = tmp_path / "modules"
    name = _tuned(spec_name, folder)
    # the default plan (no measuring): BLAS with SciPy, the tiles without
    _check_without_scipy(folder, name, tmp_path, SYMBACKPROP_TUNE="0")
    # the tuner measures without SciPy too, and never picks BLAS there
    tuned = _run(folder, name, True, dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
                                          SYMBACKPROP_CACHE=str(tmp_path / "cache"),
                                          SYMBACKPROP_TUNE="1"))  # fmt: skip
    assert math.isfinite(tuned["loss"]) and not tuned["scipy_imported"]
    assert tuned["plan"] is not None and min(min(row) for row in tuned["plan"]) >= 1  # no BLAS


@pytest.mark.slow  # 16 s cold; the committed modules' cases above run by default
def test_tuned_xor_trains_without_scipy(tmp_path: Path) -> None:
    _check_tuned("xor", tmp_path)


@pytest.mark.slow
def test_tuned_digits_trains_without_scipy(tmp_path: Path) -> None:
    _check_tuned("digits", tmp_path)


@pytest.mark.parametrize(
    "name",
    # xor by default; digits and a tuned module (each 8-10 s) under -m slow
    [n if n == "xor" else pytest.param(n, marks=pytest.mark.slow) for n in [*COMMITTED, "tuned"]],
)
def test_modules_run_as_python_under_numba_disable_jit(name: str, tmp_path: Path) -> None:
    """NUMBA_DISABLE_JIT=1 (to step through a kernel in a debugger) runs a module's kernels as
    Python: same loss as compiled, up to the fused multiply-adds, same predictions."""
    folder = tmp_path / "modules"
    if name == "tuned":
        name = _tuned("xor", folder)
    else:
        folder.mkdir()
        shutil.copy(ROOT / "generated" / f"{name}.py", folder / f"{name}.py")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), SYMBACKPROP_TUNE="0")
    compiled = _run(folder, name, False, env)
    # a tuned module measures nothing then: Python's timings would be kept for compiled runs
    env.pop("SYMBACKPROP_TUNE")
    python = _run(folder, name, False, dict(env, NUMBA_DISABLE_JIT="1", SYMBACKPROP_CACHE=str(
        tmp_path / "cache")))  # fmt: skip
    assert abs(python["loss"] - compiled["loss"]) <= 1e-9 * abs(compiled["loss"])
    assert python["predict"] == compiled["predict"]
    assert not (tmp_path / "cache" / "wisdom.json").exists()
