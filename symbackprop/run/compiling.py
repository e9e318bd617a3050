"""Compiling a generated module's kernels once, on both cores where there are two.

A cold ``run`` spends most of its time in Numba compiling the training kernel, then the
inference kernel (``_infer``, behind ``forward``, ``loss`` and ``predict``) for the losses it
reports. The two are independent. Where this process has just derived the module (so nothing of
it is compiled yet) and the machine has a second core, a helper process compiles the inference
kernel into Numba's on-disk cache while this one compiles training, and this one then loads it
from that cache.

Processes that share a module file (a sweep's workers, a helper) compile each part once: a part
compiles under a file lock beside the module, and a process that finds a part taken compiles
another part first, then takes the taken one once it is free, which Numba then loads from its
cache. Locks only order the work: a process that cannot take one compiles on its own.

``python -m symbackprop.run.compiling MODULE_FILE`` is the helper. It is best effort: whatever
stops it leaves the part to the process that needs it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX: no locks, no helper; every process compiles what it calls
    fcntl = None

TRAIN, INFER = "train", "infer"
"""The parts a run compiles: the training kernel, and the kernels of ``forward``/``loss``."""


def compile_inference(module: ModuleType) -> None:
    """Compile (or load) the kernels of ``module.forward`` and ``module.loss``, for the argument
    types every call has (the module converts its inputs to C-contiguous DTYPE arrays)."""
    rows = (1, module.LAYERS[0]), (1, module.LAYERS[-1])
    X, Y = (np.zeros(shape, dtype=module.DTYPE) for shape in rows)
    module.loss(module.init_params(0), X, Y)


@contextlib.contextmanager
def part_lock(module: ModuleType, part: str, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of ``module``'s ``part`` (a file in ``locks/`` beside the module file).
    Yields False only when ``blocking`` is False and another process holds it; True too where
    no lock can be made (no fcntl, a folder this user cannot write): then nothing is shared."""
    path = getattr(module, "__file__", None)
    handle = None
    if fcntl is not None and path:
        folder = Path(path).parent / "locks"
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, exist_ok=True)
            handle = open(folder / f"{Path(path).stem}.{part}.lock", "a")  # noqa: SIM115
    if handle is None:
        yield True
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compile_parts(module: ModuleType, parts: dict[str, Callable[[], object]]) -> None:
    """Run each of ``parts`` (a call that compiles a part of ``module``) once, under its lock:
    a free part first, a taken one (another process compiling it) once it is free."""
    pending = list(parts)
    while pending:
        for part in pending:
            with part_lock(module, part, blocking=False) as held:
                if held:
                    parts[part]()
                    pending.remove(part)
                    break
        else:
            part = pending.pop(0)
            with part_lock(module, part):
                parts[part]()


def start_helper(module: ModuleType, fresh: bool) -> subprocess.Popen | None:
    """A helper process compiling ``module``'s inference kernel while this process compiles
    training: only for a ``fresh`` module (nothing of it compiled) on a machine with a second
    core. None where there is none to start."""
    path = getattr(module, "__file__", None)
    if not fresh or fcntl is None or not path or _cores() < 2:
        return None
    package_root = str(Path(__file__).resolve().parents[2])  # this symbackprop, on its path
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "symbackprop.run.compiling", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None


def _cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def stop_helper(helper: subprocess.Popen | None) -> None:
    """End a helper this process no longer needs (every part it could compile is loaded)."""
    if helper is None:
        return
    if helper.poll() is None:
        helper.kill()
    helper.wait()


def main(argv: list[str] | None = None) -> int:
    """The helper: compile the inference kernel of the cached module file named, unless a
    process holds that part already. Exit status 0 when compiled, 1 when not."""
    from ..pipeline import cached_file_module

    args = sys.argv[1:] if argv is None else argv
    try:
        module = cached_file_module(Path(args[0]))
        with part_lock(module, INFER, blocking=False) as held:
            if held:
                compile_inference(module)
    except KeyboardInterrupt:
        return 130
    except Exception:  # best effort: the process that needs the part compiles it
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
