"""Compiling a module's kernels once across processes (issue 17, a cold run's time): a helper,
started before a module is derived, compiles its training kernel into Numba's cache while the
run compiles inference; processes sharing a module take its parts under locks."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec

from symbackprop.errors import SymbackpropError
from symbackprop.pipeline import cached_file_module, cached_module, module_cached
from symbackprop.run.compiling import (
    BACKWARD,
    INFER,
    TRAIN,
    compile_inference,
    compile_parts,
    compile_training,
    helping,
    part_lock,
)
from symbackprop.spec.model import load_spec, parse_spec

two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")


def _fresh(tmp_path: Path, name: str = "helped", folder: str = "modules"):  # noqa: ANN202
    """A module derived and written by this process, in a folder of its own."""
    spec = make_spec([2, 3, 2], "softmax", "cross_entropy", name=name)
    assert not module_cached(spec, tmp_path / folder)
    module = cached_module(spec, folder=tmp_path / folder)
    assert module_cached(spec, tmp_path / folder)
    return module


def _counts(dispatcher) -> tuple[int, int]:  # noqa: ANN001
    stats = dispatcher.stats
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


@two_cores
@pytest.mark.parametrize("folder", ["modules", "new\nline "], ids=["plain", "newline"])
def test_the_helper_compiles_training_and_this_process_loads_it(
    tmp_path: Path, folder: str
) -> None:
    """Given the module's path (any path: one with a newline and a trailing space too)."""
    with helping(True) as helper:  # started before the module exists
        assert helper is not None
        module = _fresh(tmp_path, folder=folder)
        helper.give(Path(module.__file__))
        assert helper.process.wait(timeout=300) == 0
    compile_training(module)
    # loaded from Numba's cache (the helper's work), not compiled here
    assert _counts(module._train) == (1, 0)
    compile_inference(module)  # not the helper's part (where its kernels are not training's)
    assert module.forward(module.init_params(0), np.array([[0.5, -1.0]])).shape == (1, 2)


@two_cores
def test_one_helper_per_process() -> None:
    """Cold runs in several threads at once: the first has the helper, the others none."""
    import threading

    others = []
    with helping(True) as first:
        thread = threading.Thread(target=lambda: others.append(helping(True).__enter__()))
        thread.start()
        thread.join()
    assert first is not None and others == [None]
    with helping(True) as again:  # free again once the first run is done
        assert again is not None


def test_no_helper_where_the_module_is_cached() -> None:
    with helping(False) as helper:
        assert helper is None


@pytest.mark.parametrize(("given", "status"), [("", 0), ("/nonexistent/m_0123.py\n", 1)])
def test_the_helper_ends_quietly_without_a_module(given: str, status: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop.run.compiling"],
        input=given, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (status, "", "")


def test_a_taken_part_waits_while_a_free_one_compiles(tmp_path: Path) -> None:
    module = _fresh(tmp_path, "locked")
    ran: list[str] = []
    infer_done = threading.Event()

    def infer() -> None:
        ran.append(INFER)
        infer_done.set()

    parts = {TRAIN: lambda: ran.append(TRAIN), INFER: infer}
    with part_lock(module, TRAIN) as held:  # another process compiling training
        assert held
        worker = threading.Thread(target=compile_parts, args=(module, parts))
        worker.start()
        assert infer_done.wait(timeout=60)
        assert ran == [INFER]  # training waits for the lock
    worker.join(timeout=60)
    assert ran == [INFER, TRAIN]
    with part_lock(module, TRAIN, blocking=False) as held:
        assert held  # released


def test_a_part_within_one_already_run_is_skipped(tmp_path: Path) -> None:
    """The backward pass alone is compiled only where training is taken (another process
    compiles it): a process that has run training (which compiles or loads it) skips it."""
    module = _fresh(tmp_path, "within")
    ran: list[str] = []
    parts = {part: functools.partial(ran.append, part) for part in (TRAIN, BACKWARD, INFER)}
    compile_parts(module, parts)
    assert ran == [TRAIN, INFER]
    ran.clear()
    with part_lock(module, TRAIN):  # another process compiling training
        worker = threading.Thread(target=compile_parts, args=(module, parts))
        worker.start()
        for _ in range(6000):  # a minute at most
            if len(ran) == 2:
                break
            worker.join(timeout=0.01)
        assert ran == [BACKWARD, INFER]
    worker.join(timeout=60)
    assert ran == [BACKWARD, INFER, TRAIN]


def test_the_helper_loads_only_an_intact_cached_module(tmp_path: Path) -> None:
    module = _fresh(tmp_path, "intact")
    path = Path(module.__file__)
    assert cached_file_module(path) is module  # the same file, already loaded
    edited = path.with_name(path.name.replace("intact", "edited"))
    edited.write_bytes(path.read_bytes().replace(b"init_params", b"init_param5", 1))
    renamed = path.with_name("other_0123456789abcdef0123.py")
    renamed.write_bytes(path.read_bytes())
    for bad in (edited, renamed, tmp_path / "missing.py"):
        with pytest.raises(SymbackpropError, match="not an intact cached module"):
            cached_file_module(bad)


@two_cores
@pytest.mark.slow  # derives and compiles xor's training of its own
def test_a_fresh_module_trains_as_the_module_itself_does(tmp_path: Path) -> None:
    """A run's compile with a helper beside it (a module this process derives) changes nothing
    of its result: the weights are the module's own ``train``'s."""
    from symbackprop.run.data import load_data
    from symbackprop.run.runner import prepare, train

    spec = load_spec("xor")
    folder = tmp_path / "modules"
    with helping(not module_cached(spec, folder)) as helper:
        assert helper is not None
        module = cached_module(spec, folder=folder)
        data = load_data(spec)
        params, result = train(spec, module, data, io.StringIO(), helper=helper)
    settings, prepared = spec.training, prepare(spec, data, module.DTYPE)
    expected = module.init_params(settings.seed)
    losses = module.train(
        expected, prepared.X_train, prepared.Y_train, settings.epochs, settings.learning_rate,
        settings.batch_size, seed=settings.seed, drop_last=settings.drop_last,
    )  # fmt: skip
    for got, want in zip(params, expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(result.losses, losses)
    assert result.train_loss == module.loss(params, prepared.X_train, prepared.Y_train)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@two_cores
@pytest.mark.slow  # derives a 64-32-10 network, whose training takes the helper seconds
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_helper_ends_with_the_run_that_started_it(tmp_path: Path) -> None:
    """A run killed (or stopped by Ctrl-C) while its helper compiles: the helper ends within a
    second, not when its compile would have."""
    import time

    code = f"""
import os, sys, time
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from conftest import make_spec
from symbackprop.pipeline import cached_module
from symbackprop.run.compiling import helping
with helping(True) as helper:
    spec = make_spec([64, 32, 10], "softmax", "cross_entropy", name="orphan")
    cached_module(spec, folder=Path({str(tmp_path / "modules")!r}), on_file=helper.give)
    print(helper.process.pid, flush=True)
    time.sleep(1.0)  # the helper is compiling training now
    os._exit(0)  # as Ctrl-C ends a run: no clean-up
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pid, ended = int(done.stdout), time.monotonic()
    while _running(pid) and time.monotonic() - ended < 30:
        time.sleep(0.05)
    assert not _running(pid)
    assert time.monotonic() - ended < 1.0


def test_special_files_are_neither_loaded_nor_locked(tmp_path: Path) -> None:
    """A FIFO or a device where a module or a lock file should be: refused at once, no read
    that blocks or never ends; a path in a missing folder makes no folder."""
    module = _fresh(tmp_path, "special")
    folder = Path(module.__file__).parent
    fifo = folder / "fifo_0123456789abcdef0123.py"
    os.mkfifo(fifo)
    for bad in (fifo, Path("/dev/zero"), folder):
        with pytest.raises(SymbackpropError, match="not an intact cached module"):
            cached_file_module(bad)
    missing = tmp_path / "made" / "by" / "helper" / "m_0123456789abcdef0123.py"
    with pytest.raises(SymbackpropError):
        cached_file_module(missing)
    assert not (tmp_path / "made").exists()
    (folder / "locks").mkdir(mode=0o700, exist_ok=True)
    os.mkfifo(folder / "locks" / f"{Path(module.__file__).stem}.infer.lock")
    with part_lock(module, INFER) as held:  # opened without blocking, not a regular file
        assert held


def test_a_lock_held_by_a_stopped_process_is_waited_for_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process holding a part and never letting go (stopped by Ctrl-Z, hung): the part is
    compiled anyway after LOCK_WAIT seconds, not waited for forever."""
    import time

    import symbackprop.run.compiling as compiling

    monkeypatch.setattr(compiling, "LOCK_WAIT", 0.3)
    module = _fresh(tmp_path, "stuck")
    with part_lock(module, TRAIN):  # the stuck process
        started = time.monotonic()
        with part_lock(module, TRAIN) as held:
            assert held
        assert 0.25 < time.monotonic() - started < 5
        with part_lock(module, TRAIN, blocking=False) as held:
            assert not held


@two_cores
def test_the_helper_never_imports_from_the_working_directory(tmp_path: Path) -> None:
    """A numpy.py where the run was started: the helper does not put that folder on its path."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    marker = tmp_path / "imported"
    (shadow / "numpy.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    code = (
        "from symbackprop.run.compiling import helping\n"
        "with helping(True) as helper:\n"
        "    helper.process.stdin.close()\n"
        "    assert helper.process.wait(timeout=120) == 0\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path[1:])}
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=shadow, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_compiling_a_tuned_module_measures_nothing(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    """Warming training trains no epochs: a tuned module's tuner neither measures nor writes a
    plan for the warm-up's batch of one (it did: wisdom.json gained a "B=1" entry per run)."""
    import dataclasses

    from conftest import module_for

    module = module_for(dataclasses.replace(load_spec("xor"), kernels="tuned"))
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    monkeypatch.setenv("SYMBACKPROP_TUNE", "1")
    monkeypatch.delenv("SYMBACKPROP_KERNEL", raising=False)
    monkeypatch.setattr(module, "_PLANS", {})
    monkeypatch.setattr(module, "_tune", lambda *args: pytest.fail("measured while compiling"))
    compile_training(module)
    assert not (tmp_path / "wisdom.json").exists()


@pytest.mark.parametrize(
    "network",
    [
        {"layers": [2, 3, 2], "output": "softmax", "loss": "cross_entropy"},
        {"layers": [3, 4, 4, 1], "output": "sigmoid", "loss": "mse", "dtype": "float32"},
        {"layers": [2, 5, 1], "output": "identity", "loss": "mse", "kernels": "tuned"},
    ],
    ids=["softmax", "float32-deep", "tuned"],
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_backward_pass_alone_has_the_types_training_calls_it_with(
    tmp_path: Path, network: dict, optimizer: str
) -> None:
    """The module's ``compile_backward`` compiles the one ``_backward`` that training links
    (loaded from the cache by a process compiling training meanwhile): training adds no second
    signature."""
    if len(network["layers"]) > 2:
        network = {**network, "activation": "tanh"}
    spec = parse_spec(
        {"name": f"bw_{optimizer}", "network": network, "training": {"optimizer": optimizer}}
    )
    module = cached_module(spec, folder=tmp_path / "modules")
    module.compile_backward()
    assert len(module._backward.signatures) == 1
    compile_training(module)
    assert len(module._backward.signatures) == 1
    assert len(module._train.signatures) == 1
