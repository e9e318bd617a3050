"""The pipeline end to end: spec -> symbolic network -> derivation -> module, and loading it.

The warm path: a spec's module is found in the cache by ``module_key`` (a digest of everything
that defines its text) and loaded by file, so ``run``, ``predict`` and ``evaluate`` import no
SymPy or Jinja2 (nor run ruff) once a module is cached.  Deriving, rendering and formatting (the
stages below, imported here lazily) happen only on a cache miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import stat
import sys
import threading
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import GenerationError, SymbackpropError
from .spec.model import Data, Spec, load_spec
from .util.fileio import stamp_text, unstamp_text
from .util.version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable

    from .codegen.source import ModuleSource
    from .symbolic.derivation import Derivation

MODULE_STAGES = ("util", "spec", "symbolic", "codegen")
"""The packages whose code defines a generated module's text (with ``templates/`` and this
file): their sources are part of every module's cache key."""

KEY_LINE = "# symbackprop module cache key: "
"""The last line of a cached module: the key it was written for (checked when loading)."""

_MODULES = threading.RLock()
"""Held while a thread derives, writes or loads a module: another thread (``symbackprop.train``
from a thread pool) waits, then finds it written and loaded, never half executed in
``sys.modules``, nor derived twice. A new one in a forked child (``_unlock_in_child``)."""


def _unlock_in_child() -> None:
    """A process forked while another thread held ``_MODULES`` would wait for it forever (that
    thread is not in the child): the child starts with a lock of its own."""
    global _MODULES
    _MODULES = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_unlock_in_child)


def as_spec(spec: Spec | str | Path) -> Spec:
    """A Spec from a Spec, a built-in spec's name or a spec file's path."""
    return spec if isinstance(spec, Spec) else load_spec(spec)


def derivation_of(spec: Spec | str | Path) -> Derivation:
    """The derivation of a spec's network."""
    from .symbolic.derivation import derive
    from .symbolic.network import build_network

    return derive(build_network(as_spec(spec)))


def render_module(derivation: Derivation, kernels: str | None = None) -> ModuleSource:
    """The standalone training module of a derivation (``codegen.module.render_module``)."""
    from .codegen.module import render_module as render

    return render(derivation, kernels)


def module_source(spec: Spec | str | Path) -> ModuleSource:
    """The generated training module of a spec."""
    return render_module(derivation_of(spec))


def cache_dir() -> Path:
    """Where ``run`` and ``check`` keep generated modules (SYMBACKPROP_CACHE overrides)."""
    root = os.environ.get("SYMBACKPROP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "symbackprop"
    )
    return Path(root) / "modules"


def _cache_where() -> str:
    return "SYMBACKPROP_CACHE" if os.environ.get("SYMBACKPROP_CACHE") else "module cache"


def ensure_cache_dir(folder: Path) -> Path:
    """The module cache folder, made (mode 0700) if missing; refused when it is not a folder of
    this user's that only this user may write (a module planted there would run)."""
    hint = "(set SYMBACKPROP_CACHE to a writable folder)"
    try:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError as exc:
        raise SymbackpropError(
            f"cannot make the module cache folder {folder} ({exc.strerror or exc}) {hint}",
            _cache_where(),
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise SymbackpropError(f"{folder} is not a folder {hint}", _cache_where())
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise SymbackpropError(
            f"the module cache folder {folder} is not owned by you; refusing to load code from "
            f"it {hint}",
            _cache_where(),
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SymbackpropError(
            f"the module cache folder {folder} is writable by group or others; refusing to "
            f"load code from it (chmod 700 it, or set SYMBACKPROP_CACHE)",
            _cache_where(),
        )
    return folder


@cache
def code_digest() -> str:
    """SHA-256 of the code that writes modules: the version, the stages' sources, templates."""
    from .util.resources import templates_dir

    here = Path(__file__).resolve().parent
    files = [Path(__file__).resolve()]
    for stage in MODULE_STAGES:
        files += sorted((here / stage).glob("*.py"))
    files += sorted(templates_dir().glob("*.jinja"))
    digest = hashlib.sha256(f"symbackprop {__version__}\n".encode())
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def module_key(spec: Spec) -> str:
    """The digest naming a spec's module in the cache: everything the module's text depends on
    (the spec without its data and run-time training settings, its own functions' bodies, the
    project's version, code and templates).  Two specs with one key have one module text."""
    runtime = ("learning_rate", "batch_size", "epochs", "seed", "drop_last", "patience")
    defaults = type(spec.training)()
    training = replace(spec.training, **{f: getattr(defaults, f) for f in runtime})
    defining = replace(spec, data=Data(), training=training)
    text = f"{code_digest()}\n{defining!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def cached_module(
    spec: Spec,
    derivation: Derivation | None = None,
    folder: Path | None = None,
    on_file: Callable[[Path], object] | None = None,
) -> ModuleType:
    """The spec's generated module: from the cache when a module with its key is there and
    intact (no SymPy, Jinja2 or ruff), else derived (or from ``derivation``), rendered, written
    and loaded.  A stale, edited or other-version file is rebuilt, never loaded. ``on_file`` is
    called with the intact file's path before this process loads it (and imports Numba): a
    helper process compiles from it meanwhile."""
    path, data = _cached(spec, derivation, folder)
    if on_file is not None:
        on_file(path)
    return _load_file(path, data)


def cached_source(spec: Spec, folder: Path | None = None) -> ModuleSource:
    """The spec's module text as ``cached_module`` keeps it, without loading it: read from the
    cache (no SymPy) when there, else derived, rendered and written. A sweep sends it to its
    workers: variants of one network (a learning-rate grid) share one derivation."""
    from .codegen.source import ModuleSource

    path, data = _cached(spec, None, folder)
    return ModuleSource(path.stem, unstamp_text(data))


def load_cached_source(source: ModuleSource, folder: Path | None = None) -> ModuleType:
    """Load a module text ``cached_source`` gave (a sweep worker's): the same file, under the
    same name, as ``cached_module`` keeps, written only where missing or different (a worker
    that shares the client's cache folder adds no second copy)."""
    return _write_and_load(source, source.name, folder)


def _cached(spec: Spec, derivation: Derivation | None, folder: Path | None) -> tuple[Path, bytes]:
    """The cached module's path and verified bytes, written first on a miss."""
    path, key = _module_file(spec, folder)
    with _MODULES:
        data = _read_verified(path, key)
        if data is None:
            derivation = derivation or derivation_of(spec)
            source = render_module(derivation)
            data = stamp_text(f"{source.text}{KEY_LINE}{key}\n", "python")
            _write_cache(path, data)
    return path, data


def module_cached(spec: Spec, folder: Path | None = None) -> bool:
    """Whether ``cached_module(spec)`` would load an intact module from the cache (else it
    derives one, and Numba, whose on-disk cache is keyed by the file's modification time, has
    compiled nothing of it)."""
    try:
        path, key = _module_file(spec, folder)
    except SymbackpropError:  # no cache folder to read: cached_module says why
        return False
    return _read_verified(path, key) is not None


def _module_file(spec: Spec, folder: Path | None) -> tuple[Path, str]:
    """Where the cache keeps the spec's module, and its key."""
    key = module_key(spec)
    return ensure_cache_dir(folder or cache_dir()) / f"{spec.name}_{key[:20]}.py", key


def cached_file_module(path: Path) -> ModuleType:
    """Load the cached module file ``path`` by name (a helper process compiling a kernel of the
    module another process derived): only an intact file whose key its name carries, in the
    private cache folder; anything else is refused."""
    path = Path(path)  # as the deriving process named it: Numba keys its cache by this path
    try:
        regular = stat.S_ISREG(os.lstat(path).st_mode)  # not a FIFO, a device, a link, a folder
    except (OSError, ValueError):
        regular = False
    if not regular:
        raise SymbackpropError("is not an intact cached module", str(path))
    ensure_cache_dir(path.parent)  # there already: checked (this user's, private), not made
    try:
        last = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    except (OSError, UnicodeDecodeError):
        last = ""
    key = last.removeprefix(KEY_LINE)
    data = _read_verified(path, key) if last.startswith(KEY_LINE) else None
    if data is None or not path.stem.endswith(f"_{key[:20]}"):
        raise SymbackpropError("is not an intact cached module", str(path))
    return _load_file(path, data)


def _read_verified(path: Path, key: str) -> bytes | None:
    """The cached module's bytes if they carry their own digest and ``key``, else None."""
    try:
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None
    if data is None:
        return None
    try:
        body = unstamp_text(data)
    except UnicodeDecodeError:
        return None
    if stamp_text(body, "python") != data or not body.endswith(f"{KEY_LINE}{key}\n"):
        return None
    return data


def _write_cache(path: Path, data: bytes) -> None:
    from .codegen.source import check_module_name
    from .util.fileio import write_output

    check_module_name(path)
    try:
        write_output(path, data, force=True, suffixes=(".py",))
    except SymbackpropError as exc:
        raise SymbackpropError(
            f"{exc} (set SYMBACKPROP_CACHE to a writable folder)", _cache_where()
        ) from None


def load_module(source: ModuleSource, folder: Path | None = None) -> ModuleType:
    """Write a generated module under a name unique to its text and load it from that file (for
    modules not named by a spec's key: a sweep's, a worked example's)."""
    name = f"{source.name}_{hashlib.sha256(source.text.encode()).hexdigest()[:12]}"
    return _write_and_load(source, name, folder)


def _write_and_load(source: ModuleSource, name: str, folder: Path | None) -> ModuleType:
    """Write ``source`` as module file ``name`` in the cache where that file is missing or
    different, and load it from the bytes written."""
    from .codegen.source import module_bytes

    path = ensure_cache_dir(folder or cache_dir()) / f"{name}.py"
    expected = module_bytes(source)
    with _MODULES:
        try:
            current = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        except OSError:
            current = None
        if current != expected:
            _write_cache(path, expected)
        return _load_file(path, expected)


class _VerifiedLoader(importlib.machinery.SourceFileLoader):
    """Loads a module file from the bytes already read and verified (not from a second read, nor
    from a ``__pycache__`` file that nothing verified)."""

    def __init__(self, name: str, path: str, data: bytes) -> None:
        super().__init__(name, path)
        self.data = data

    def get_data(self, path: str) -> bytes:
        return self.data if path == self.path else super().get_data(path)

    def path_stats(self, path: str) -> dict[str, float]:
        raise OSError("generated modules are compiled from their verified source")


def _load_file(path: Path, data: bytes) -> ModuleType:
    """Execute the verified ``data`` as the module of file ``path``, registered in sys.modules
    under its file's (digest-based) name, with no folder put on sys.path: Numba's on-disk cache
    finds the compiled kernels by the file's path. One thread at a time (``_MODULES``)."""
    with _MODULES:
        return _execute(path, data)


def _execute(path: Path, data: bytes) -> ModuleType:
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    loader = _VerifiedLoader(name, str(path), data)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except SyntaxError as exc:
        # a text that does not compile (this package's files replaced while it ran: a function's
        # source read at stale line numbers) must not stay in the cache under a valid key
        sys.modules.pop(name, None)
        with contextlib.suppress(OSError):
            path.unlink()
        raise GenerationError(
            f"the generated module does not compile ({exc.msg}, line {exc.lineno}); removed "
            "from the cache (were symbackprop's files replaced while it ran?)",
            str(path),
        ) from None
    except RuntimeError as exc:  # Numba cannot cache beside the module or in HOME
        sys.modules.pop(name, None)
        if "cache" not in str(exc):
            raise
        from .util.escape import plain_line

        raise SymbackpropError(
            f"cannot load the generated module {path} ({plain_line(exc)}); "
            "set SYMBACKPROP_CACHE and NUMBA_CACHE_DIR to writable folders",
            "module cache",
        ) from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def float64_module(spec: Spec) -> ModuleType:
    """The generated module of the spec's float64 twin (its own when it is float64): finite
    differences, which gradient checks compare with, cannot resolve a float32 loss."""
    double = spec if spec.dtype == "float64" else replace(spec, dtype="float64")
    return cached_module(double)
