"""The pipeline end to end: spec -> symbolic network -> derivation -> module, and loading it."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from .codegen.module import ModuleSource, module_bytes, render_module, write_module
from .errors import SymbackpropError
from .spec.model import Spec, load_spec
from .symbolic.derivation import Derivation, derive
from .symbolic.network import build_network
from .util.escape import plain_line


def as_spec(spec: Spec | str | Path) -> Spec:
    """A Spec from a Spec, a built-in spec's name or a spec file's path."""
    return spec if isinstance(spec, Spec) else load_spec(spec)


def derivation_of(spec: Spec | str | Path) -> Derivation:
    """The derivation of a spec's network."""
    return derive(build_network(as_spec(spec)))


def module_source(spec: Spec | str | Path) -> ModuleSource:
    """The generated training module of a spec."""
    return render_module(derivation_of(spec))


def cache_dir() -> Path:
    """Where ``run`` and ``check`` keep generated modules (SYMBACKPROP_CACHE overrides)."""
    root = os.environ.get("SYMBACKPROP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "symbackprop"
    )
    return Path(root) / "modules"


def load_module(source: ModuleSource, folder: Path | None = None) -> ModuleType:
    """Write a generated module under a name unique to its text and import it by that name.

    Importing by name (its folder on ``sys.path``) lets Numba's on-disk cache find the compiled
    kernels in the next process.
    """
    folder = folder or cache_dir()
    name = f"{source.name}_{hashlib.sha256(source.text.encode()).hexdigest()[:12]}"
    path = folder / f"{name}.py"
    try:
        current = path.read_bytes() if path.is_file() else None
    except OSError:
        current = None
    if current != module_bytes(source):
        where = "SYMBACKPROP_CACHE" if os.environ.get("SYMBACKPROP_CACHE") else "module cache"
        try:
            write_module(source, path, force=True)
        except SymbackpropError as exc:
            raise SymbackpropError(
                f"{exc} (set SYMBACKPROP_CACHE to a writable folder)", where
            ) from None
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    except RuntimeError as exc:  # Numba cannot cache beside the module or in HOME
        if "cache" not in str(exc):
            raise
        raise SymbackpropError(
            f"cannot load the generated module {path} ({plain_line(exc)}); "
            "set SYMBACKPROP_CACHE and NUMBA_CACHE_DIR to writable folders",
            "module cache",
        ) from None


def float64_module(spec: Spec) -> ModuleType:
    """The generated module of the spec's float64 twin (its own when it is float64): finite
    differences, which gradient checks compare with, cannot resolve a float32 loss."""
    double = spec if spec.dtype == "float64" else replace(spec, dtype="float64")
    return load_module(module_source(double))
