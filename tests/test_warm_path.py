"""The warm path and the module cache (issues 17 and 18): a cached module is found by its key and
loaded with no SymPy, Jinja2 or ruff; the cache folder is private; what is loaded is verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from symbackprop.pipeline import (
    cached_module,
    cached_source,
    ensure_cache_dir,
    module_key,
    render_module,
)
from symbackprop.spec.builtins import ELEMENTWISE, REQUIRES_OUTPUT, TARGETS
from symbackprop.spec.model import load_spec
from symbackprop.util.fileio import stamp_text, unstamp_text

HEAVY = ("sympy", "jinja2", "ruff")  # ruff: formatting a module


def _cli(args: list[str], cwd: Path, cache: Path, *flags: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SYMBACKPROP_CACHE=str(cache))
    return subprocess.run(
        [sys.executable, *flags, "-m", "symbackprop", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_builtin_tables_match_the_registry() -> None:
    from symbackprop.spec.functions import ACTIVATIONS, LOSSES

    base = {n: a for n, a in ACTIVATIONS.items() if "(" not in n}
    assert ELEMENTWISE == {n: a.elementwise for n, a in base.items()}
    losses = {n: l for n, l in LOSSES.items() if "(" not in n}
    assert REQUIRES_OUTPUT == {n: l.requires_output for n, l in losses.items()}
    assert TARGETS == {n: l.targets for n, l in losses.items()}


def test_import_symbackprop_imports_no_sympy() -> None:
    code = (
        "import sys, symbackprop, symbackprop.cli; "
        "print(sorted(set(sys.argv[1:]) & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_warm_run_predict_evaluate_import_no_sympy_jinja2_ruff(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _cli(["run", "xor", "--quiet-derivation", "--save", "w.npz"], tmp_path, cache)
    assert first.returncode == 0, first.stderr
    commands = (
        ["run", "xor", "--quiet-derivation", "--epochs", "3"],
        ["predict", "xor", "w.npz", "xor"],
        ["evaluate", "xor", "w.npz", "xor"],
    )
    for args in commands:
        done = _cli(args, tmp_path, cache, "-X", "importtime")
        assert done.returncode == 0, done.stderr
        imported = {
            line.split("|")[-1].strip()
            for line in done.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert not imported & set(HEAVY), (args, sorted(imported & set(HEAVY)))
        assert not {m for m in imported if m.startswith("sympy.")}, args


# A sweep worker's trial, given a module's text as the client sends it: no SymPy, Jinja2 or Ruff
# (codegen.module's imports, 0.3 s of each worker's first trial when it built a ModuleSource).
WORKER_TRIAL = """
import json, sys
from pathlib import Path
from symbackprop.spec.model import load_spec
from symbackprop.tools.sweep import run_trial
name, text = sys.argv[1], Path(sys.argv[2]).read_text()
record = run_trial(name, text, load_spec("xor", {"training": {"epochs": 3}}))
print(json.dumps([record.get("status"), sorted(set(sys.argv[3:]) & set(sys.modules))]))
"""


def test_a_sweep_workers_trial_imports_no_sympy_jinja2_ruff(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = cached_source(load_spec("xor"), folder=cache / "modules")
    text = tmp_path / "module.txt"
    text.write_text(source.text)
    env = dict(os.environ, SYMBACKPROP_CACHE=str(cache))
    done = subprocess.run(
        [sys.executable, "-c", WORKER_TRIAL, source.name, str(text), *HEAVY],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["ok", []]


# Runs the command line in this process's interpreter and reports which of the modules named
# after the command's arguments (after "--") it imported.
REPORT_IMPORTS = """
import json, sys
from symbackprop.cli import main
split = sys.argv.index("--")
status = main(sys.argv[1:split])
print(json.dumps(sorted(set(sys.argv[split + 1 :]) & set(sys.modules))), file=sys.stderr)
sys.exit(status)
"""


def test_predict_and_evaluate_of_blas_layers_never_import_scipy_linalg(tmp_path: Path) -> None:
    """digits has layers big enough for BLAS in training: predict and evaluate run its _infer
    kernel (no BLAS) and skip Numba's BLAS probe, so scipy.linalg is never imported (0.2 s of
    CPU), to the same outputs as the module's forward."""
    import numpy as np

    from symbackprop.run.workflow import read_inputs

    spec = load_spec("digits")
    module = cached_module(spec)
    params = module.init_params(3)
    module.save_params(tmp_path / "w.npz", params)
    heavy = ["scipy.linalg", "scipy.linalg.cython_blas", *HEAVY]
    for command in ("predict", "evaluate"):
        done = subprocess.run(
            [sys.executable, "-c", REPORT_IMPORTS, command, "digits", "w.npz", "digits", "--",
             *heavy],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1] == "[]", (command, done.stderr)
        if command == "predict":
            rows = [line.split(",") for line in done.stdout.splitlines()[1:]]
            printed = np.array([[float(cell) for cell in row[1:]] for row in rows])
    X, _ = read_inputs(spec, "digits")
    assert np.array_equal(printed, module.forward(params, X))


def test_the_program_freezes_the_collector_on_its_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """main() as the program (no argv) freezes the collector's objects before the interpreter's
    exit walks them; main(argv), as tests and notebooks call it, leaves the collector alone."""
    import gc
    import io

    from symbackprop.cli import main

    gc.unfreeze()
    assert main(["list"], io.StringIO()) == 0
    assert gc.get_freeze_count() == 0
    monkeypatch.setattr(sys, "argv", ["symbackprop", "list"])
    try:
        assert main(out=io.StringIO()) == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_runtime_settings_do_not_change_the_module(tmp_path: Path) -> None:
    """The key leaves out data and run-time training settings: the module text must not use them."""
    from symbackprop.pipeline import derivation_of

    spec = load_spec("xor")
    other = replace(
        spec,
        training=replace(
            spec.training, learning_rate=0.01, batch_size=3, epochs=7, seed=5, drop_last=True,
            patience=4,
        ),
        data=replace(spec.data, dataset="moons", test_fraction=0.5, samples=10),
    )
    assert module_key(spec) == module_key(other)
    assert render_module(derivation_of(spec)).text == render_module(derivation_of(other)).text
    assert module_key(spec) != module_key(replace(spec, dtype="float32"))
    assert module_key(spec) != module_key(replace(spec, source="elsewhere.toml"))


def test_threads_loading_one_module_never_see_it_half_executed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``symbackprop.train`` from a thread pool loads the spec's module in each thread: while one
    thread executes the module file, the others wait, then get the whole module (they found it
    in sys.modules half executed, without ``train``, before the pipeline's lock)."""
    import threading
    import time

    from symbackprop import pipeline

    spec = replace(load_spec("xor"), name="threads_xor")
    folder = tmp_path / "modules"
    pipeline.cached_source(spec, folder=folder)  # written, not loaded: every thread loads it
    execute = pipeline._VerifiedLoader.exec_module

    def slow(self, module):  # noqa: ANN001, ANN202 (a wider window for the race)
        time.sleep(0.3)
        execute(self, module)

    monkeypatch.setattr(pipeline._VerifiedLoader, "exec_module", slow)
    start, found = threading.Barrier(4), []

    def load() -> None:
        start.wait()
        module = cached_module(spec, folder=folder)
        found.append((module, hasattr(module, "train")))

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [whole for _, whole in found] == [True] * 4
        assert len({id(module) for module, _ in found}) == 1
    finally:
        for module, _ in found[:1]:
            sys.modules.pop(module.__name__, None)


def test_a_process_forked_while_a_thread_loads_a_module_can_load_one() -> None:
    """A child forked while another thread holds the pipeline's lock (a multiprocessing "fork"
    pool started during a cold train) gets a lock of its own; it waited forever before."""
    import threading

    from symbackprop import pipeline

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pipeline._MODULES:
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        child = os.fork()
        if child == 0:  # the child: exit 0 if it can take the lock
            os._exit(0 if pipeline._MODULES.acquire(timeout=5) else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        thread.join()


def test_edited_or_stale_cached_module_is_rebuilt(tmp_path: Path) -> None:
    spec = load_spec("xor")
    folder = tmp_path / "modules"
    module = cached_module(spec, folder=folder)
    path = Path(module.__file__)
    good = path.read_bytes()
    # edited after it was written (the stamp no longer matches): rebuilt
    path.write_bytes(good.replace(b'"""', b'"""EDITED ', 1))
    del sys.modules[path.stem]
    cached_module(spec, folder=folder)
    assert path.read_bytes() == good
    # restamped by hand but written for another key (another version or code): rebuilt
    body = unstamp_text(good).replace(module_key(spec), "0" * 64)
    path.write_bytes(stamp_text(body, "python"))
    del sys.modules[path.stem]
    again = cached_module(spec, folder=folder)
    assert path.read_bytes() == good
    assert again.LAYERS == (2, 4, 1)


def test_cache_folder_is_private_and_checked(tmp_path: Path) -> None:
    folder = ensure_cache_dir(tmp_path / "new" / "modules")
    assert folder.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    from symbackprop.errors import SymbackpropError

    with pytest.raises(SymbackpropError, match="writable by group or others"):
        ensure_cache_dir(shared)


def test_group_writable_cache_is_refused_in_one_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "modules").mkdir(parents=True)
    (cache / "modules").chmod(0o775)
    done = _cli(["run", "xor", "--quiet-derivation", "--epochs", "1"], tmp_path, cache)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "writable by group or others" in done.stderr


def test_planted_numba_in_the_cache_folder_does_not_run(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "modules").mkdir(parents=True, mode=0o700)
    marker = tmp_path / "PWNED"
    for name in ("numba", "numpy", "llvmlite", "socket"):
        (cache / "modules" / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(99)\n"
        )
    done = _cli(["run", "xor", "--quiet-derivation", "--epochs", "2"], tmp_path, cache)
    assert done.returncode == 0, done.stderr
    again = _cli(["run", "xor", "--quiet-derivation", "--epochs", "2"], tmp_path, cache)
    assert again.returncode == 0, again.stderr
    assert not marker.exists()
    assert str(cache / "modules") not in sys.path


def test_a_module_text_that_does_not_compile_is_never_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendering by code that changed under the running process can give a text that does not
    compile (a function's source read from the new file at the old line numbers): loading it
    fails in one line and the file is removed, so no later run loads it under its valid key."""
    from symbackprop import pipeline
    from symbackprop.codegen.module import ModuleSource
    from symbackprop.errors import GenerationError

    spec = load_spec("xor")
    good = render_module(pipeline.derivation_of(spec))
    late = "\nimport math\nfrom __future__ import annotations\n"  # valid syntax, not compilable
    broken = good.text.replace("\nimport math\n", late, 1)
    assert broken != good.text
    monkeypatch.setattr(pipeline, "render_module", lambda *a: ModuleSource(good.name, broken))
    folder = tmp_path / "modules"
    with pytest.raises(GenerationError, match="does not compile.*__future__.*removed"):
        cached_module(spec, folder=folder)
    assert not list(folder.glob("*.py"))
    monkeypatch.setattr(pipeline, "render_module", lambda *a: good)
    assert cached_module(spec, folder=folder).LAYERS == (2, 4, 1)  # rebuilt
