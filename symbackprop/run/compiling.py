"""Compiling a generated module's kernels once, on both cores where there are two.

A cold ``run`` spends most of its time in Numba: compiling the training kernel, and the
inference kernel (``_infer`` behind ``forward``, ``loss`` and ``predict``) for the losses it
reports. The two are independent. Where the module is not in the cache yet (so it will be
derived, and nothing of it is compiled) and the machine has a second core, the run starts a
helper process before it derives: the helper imports Numba and sets up its compiler while the
run derives, then, given the module's file, compiles training into Numba's on-disk cache while
the run compiles the backward pass (which the helper's training kernel calls: by the time the
helper has compiled the forward pass, it usually loads the backward pass from the cache, or
else compiles it too) and then inference, and the run then loads training from that cache.

Processes that share a module file (a run and its helper, a sweep's workers) compile each part
once: a part compiles under a file lock beside the module, and a process that finds a part
taken compiles another part first, then takes the taken one once it is free (Numba then loads it
from its cache). Locks only order the work: where one cannot be made, a process compiles alone.

``python -m symbackprop.run.compiling`` is the helper: it reads the module file's path from its
standard input (all of it, to its end). It is best effort: whatever stops it leaves its part to
the run.
"""

from __future__ import annotations

import contextlib
import os
import site
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX: no locks, no helper; every process compiles what it calls
    fcntl = None

TRAIN, BACKWARD, INFER = "train", "backward", "infer"
"""The parts a run compiles: the training kernel (with the forward and backward passes it
calls), the backward pass alone (``module.compile_backward``: compiled by one process while
another compiles training, which then loads it from the cache), and the kernels of
``forward``/``loss``."""


def _zeros(module: ModuleType) -> tuple[np.ndarray, np.ndarray]:
    """One row of inputs and targets of the module's widths and dtype."""
    rows = (1, module.LAYERS[0]), (1, module.LAYERS[-1])
    X, Y = (np.zeros(shape, dtype=module.DTYPE) for shape in rows)
    return X, Y


def compile_inference(module: ModuleType) -> None:
    """Compile (or load) the kernels of ``module.forward`` and ``module.loss``. The module
    converts every argument to the same types (C-contiguous DTYPE arrays), so these are the
    kernels every call runs."""
    module.loss(module.init_params(0), *_zeros(module))


def compile_training(module: ModuleType) -> None:
    """Compile (or load) the training kernel ``train_with_order`` runs, as the runner calls it
    (with the optimizer's state where it has one): the module converts the rate, batch size and
    arrays to the same types whatever their values. It trains no epochs, so a tuned module's
    kernel_plan measures nothing and writes no wisdom for this batch of one."""
    params = module.init_params(0)
    extra = {"state": module.init_state(params)} if hasattr(module, "init_state") else {}
    order = np.zeros((0, 1), dtype=np.int64)  # no epochs: a tuned module measures nothing
    module.train_with_order(params, *_zeros(module), order, 0.01, 1, False, **extra)


LOCK_WAIT = 60.0
"""Seconds a process waits for a part another process holds (a compile takes seconds), before it
compiles the part itself: a process stopped (Ctrl-Z) or hung while holding a lock never stalls
another for longer."""


def _lock_file(module: ModuleType, part: str) -> int | None:
    """An open descriptor of the lock file of ``module``'s ``part`` (``locks/`` beside the
    module file, made 0700), or None where there can be none (no fcntl, no module file, a
    folder this user cannot write, something other than a regular file there)."""
    path = getattr(module, "__file__", None)
    if fcntl is None or not path:
        return None
    folder = Path(path).parent / "locks"
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / f"{Path(path).stem}.{part}.lock", flags, 0o600)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device planted there: no lock
        os.close(fd)
        return None
    return fd


def _take(fd: int, wait: float) -> bool:
    """Take the lock on ``fd`` within ``wait`` seconds (0: only if free now)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


@contextlib.contextmanager
def part_lock(module: ModuleType, part: str, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of ``module``'s ``part``. Yields False only when ``blocking`` is False and
    another process holds it. Yields True without a lock where none can be made (then nothing
    is shared) and, when ``blocking``, after LOCK_WAIT seconds of waiting."""
    fd = _lock_file(module, part)
    if fd is None:
        yield True
        return
    try:
        if not _take(fd, LOCK_WAIT if blocking else 0.0):
            yield blocking
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


WITHIN = {BACKWARD: TRAIN}
"""Parts that another part compiles too: skipped by a process once it has that one (a warm
run loading training from the cache would otherwise load the backward pass a second time)."""


def compile_parts(module: ModuleType, parts: dict[str, Callable[[], object]]) -> None:
    """Run each of ``parts`` (a call that compiles a part of ``module``), in order, once, under
    its lock: a free part first, a taken one (another process compiling it) once it is free; a
    part WITHIN one already run is skipped."""
    pending = list(parts)

    def run(part: str) -> None:
        parts[part]()
        pending[:] = [p for p in pending if p != part and WITHIN.get(p) != part]

    while pending:
        for part in pending:
            with part_lock(module, part, blocking=False) as held:
                if held:
                    run(part)
                    break
        else:
            part = pending[0]
            with part_lock(module, part):
                run(part)


class Helper:
    """A helper process, started before the module exists: ``give`` it the module, ``stop`` it
    when the run no longer needs it."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def give(self, path: Path) -> None:
        """Send the module file's path (``pipeline.cached_module``'s ``on_file``, as soon as the
        file is written): the helper compiles training unless a process holds it."""
        with contextlib.suppress(OSError, ValueError):  # the helper ended: the run compiles
            self.process.stdin.write(os.fsencode(path))  # any path: the end of input ends it
            self.process.stdin.close()

    def stop(self) -> None:
        """End the helper (at once where it still runs: the run has what it needs)."""
        with contextlib.suppress(OSError, ValueError):
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


_ONE_HELPER = threading.Lock()
"""Held by the thread whose run has a helper: runs in other threads at once (a thread pool
training cold specs) start none (a second core helps one compile; more would only use memory)."""


@contextlib.contextmanager
def helping(needed: bool) -> Iterator[Helper | None]:
    """A helper for a module that is not compiled yet (``needed``: it will be derived), on a
    machine with a second core, where no other thread's run has one; None otherwise. Stopped at
    the end."""
    if needed and fcntl is not None and _cores() >= 2 and _ONE_HELPER.acquire(blocking=False):
        try:
            with _helper() as helper:
                yield helper
        finally:
            _ONE_HELPER.release()
    else:
        yield None


@contextlib.contextmanager
def _helper() -> Iterator[Helper | None]:
    """Start the helper process (None if it cannot start); stop it at the end."""
    helper = None
    with contextlib.suppress(OSError):
        process = subprocess.Popen(
            # -P: not the working directory first on the path (a numpy.py there would run)
            [sys.executable, "-P", "-m", "symbackprop.run.compiling"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_helper_environment(),
        )
        helper = Helper(process)
    try:
        yield helper
    finally:
        if helper is not None:
            helper.stop()


def _helper_environment() -> dict[str, str]:
    """This process's environment, with the folder this symbackprop was imported from on the
    helper's path where the interpreter would not look there by itself (a checkout used without
    installing it); an installed package's site-packages is not put before the standard
    library."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    if root not in {str(Path(p).resolve()) for p in site.getsitepackages()}:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def _warm_up() -> None:
    """Set up Numba's compiler (its first compile in a process costs about 0.4 s)."""
    from numba import njit

    njit(lambda x: x + 1)(1.0)


def _end_with(parent: int) -> None:
    """End this process at once when ``parent`` has ended (a run stopped by Ctrl-C or killed
    while this one compiles): checked every 0.1 s on a daemon thread, which runs even while
    LLVM compiles (Numba's calls into LLVM release the interpreter)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="parent watch", daemon=True).start()


def main() -> int:
    """The helper: set up, read a cached module file's path from standard input, and compile
    its training kernel unless a process holds that part. Exit status 0 when done (or given
    nothing), 1 when not. It ends with the run that started it."""
    _end_with(os.getppid())
    try:
        _warm_up()
        from ..pipeline import cached_file_module

        path = sys.stdin.buffer.read()  # all of it: a path may hold a newline
        if not path:  # the run ended, or found the module compiled after all
            return 0
        module = cached_file_module(Path(os.fsdecode(path)))
        with part_lock(module, TRAIN, blocking=False) as held:
            if held:
                compile_training(module)
    except KeyboardInterrupt:
        return 130
    except Exception:  # best effort: the run compiles what the helper did not
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
