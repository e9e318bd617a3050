"""A generated module's text and its file: what code generation returns and the pipeline
caches, writes, loads and sends to sweep workers. Kept apart from ``codegen.module`` (which
imports SymPy and Jinja2) so that a process that only writes or loads a module's text (a sweep
worker, a warm run) imports neither."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import GenerationError
from ..util.fileio import stamp_text, write_output


@dataclass(frozen=True)
class ModuleSource:
    """A generated module: its name and source text."""

    name: str
    text: str

    @property
    def sha256(self) -> str:
        """Digest of the text (for determinism checks)."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def module_bytes(source: ModuleSource) -> bytes:
    """The bytes of a module file: its text under the digest line of ``fileio.stamp_text``."""
    return stamp_text(source.text, "python")


def check_module_name(path: Path) -> None:
    """Refuse a module file name that would shadow the standard library or numpy/numba."""
    from ..spec.model import RESERVED_NAMES

    if Path(path).stem in RESERVED_NAMES:
        raise GenerationError(
            f"a module named '{Path(path).stem}' would shadow the standard library or numpy/numba",
            str(path),
        )


def write_module(source: ModuleSource, path: Path, force: bool = False) -> Path:
    """Write a module by the overwrite rule of ``fileio`` (a .py path; ``force`` for others)."""
    path = Path(path)
    if path.suffix != ".py" and path.is_dir():
        raise GenerationError("is a folder, not a module path", str(path))
    check_module_name(path)
    return write_output(path, module_bytes(source), force=force, suffixes=(".py",))
