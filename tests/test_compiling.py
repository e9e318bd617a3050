"""Compiling a module's kernels once across processes (issue 17, a cold run's time): a helper
compiles the inference kernel of a freshly derived module into Numba's cache while the run
compiles training; processes sharing a module take its parts under locks."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec

from symbackprop.errors import SymbackpropError
from symbackprop.pipeline import cached_file_module, cached_module, written_here
from symbackprop.run.compiling import (
    INFER,
    TRAIN,
    compile_inference,
    compile_parts,
    main,
    part_lock,
    start_helper,
    stop_helper,
)
from symbackprop.spec.model import load_spec

two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")


def _fresh(tmp_path: Path, name: str = "helped"):  # noqa: ANN202
    """A module derived and written by this process, in a folder of its own."""
    spec = make_spec([2, 3, 2], "softmax", "cross_entropy", name=name)
    module = cached_module(spec, folder=tmp_path / "modules")
    assert written_here(module)
    return module


def _counts(dispatcher) -> tuple[int, int]:  # noqa: ANN001
    stats = dispatcher.stats
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


@two_cores
def test_the_helper_compiles_inference_and_this_process_loads_it(tmp_path: Path) -> None:
    module = _fresh(tmp_path)
    helper = start_helper(module, fresh=True)
    assert helper is not None
    assert helper.wait(timeout=300) == 0
    compile_inference(module)
    # loaded from Numba's cache (the helper's work), not compiled here: the forward pass of
    # forward and loss (_infer where the module has one, else _forward) and the loss
    inference = getattr(module, "_infer", module._forward)
    assert _counts(inference) == (1, 0)
    assert _counts(module._output_delta) == (1, 0)
    X = np.array([[0.5, -1.0]])
    assert module.forward(module.init_params(0), X).shape == (1, 2)
    assert _counts(inference) == (1, 0)  # the same signature: nothing more compiled


def test_no_helper_for_a_module_compiled_before(tmp_path: Path) -> None:
    module = _fresh(tmp_path, "seen")
    assert start_helper(module, fresh=False) is None
    stop_helper(None)  # nothing to stop


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
        assert main([str(bad)]) == 1  # the helper gives up, silently


@two_cores
@pytest.mark.slow  # derives and compiles xor's training of its own
def test_a_fresh_module_trains_as_the_module_itself_does(tmp_path: Path) -> None:
    """A run's compile with a helper beside it (a module this process just derived) changes
    nothing of its result: the weights are the module's own ``train``'s."""
    from symbackprop.run.data import load_data
    from symbackprop.run.runner import prepare, train

    spec = load_spec("xor")
    module = cached_module(spec, folder=tmp_path / "modules")
    assert written_here(module)
    data = load_data(spec)
    params, result = train(spec, module, data, io.StringIO())
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
