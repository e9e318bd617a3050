"""Running a LaTeX engine on a document symbackprop wrote: no shell escape, no reading or writing
outside the working folder, its own process group, and a time limit that ends in one line.

The document is built from a spec, and a spec is user input: even with names checked by
``spec.userfunctions.validate_latex_name``, the engine runs as if the source were hostile.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
from pathlib import Path

from ..errors import SymbackpropError

LATEX_TIMEOUT = 120.0
"""Seconds a LaTeX run may take (``SYMBACKPROP_LATEX_TIMEOUT`` changes it)."""

TIMEOUT_VARIABLE = "SYMBACKPROP_LATEX_TIMEOUT"

LATEX_ENVIRONMENT = {"openin_any": "p", "openout_any": "p", "shell_escape": "f"}
"""kpathsea settings: "paranoid" reading and writing (no absolute paths, no ``..``, no dot
files) and no shell escape, whatever texmf.cnf says."""


def latex_timeout() -> float:
    """The time limit for one LaTeX run, from the environment (one-line error when malformed)."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return LATEX_TIMEOUT
    try:
        value = float(text) if len(text) <= 30 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise SymbackpropError(
            f"must be a number of seconds > 0 and at most 86400, not {text[:30]!r}",
            TIMEOUT_VARIABLE,
        )
    return value


def run_latex(
    engine: str, folder: Path, source: str, timeout: float | None = None, where: str = "--pdf"
) -> tuple[int, str]:
    """Run ``engine`` on ``source`` (a file name in ``folder``): (exit status, its output).

    A run past ``timeout`` seconds (``latex_timeout()`` by default) is killed with its whole
    process group and reported in one line at ``where``; so is Ctrl-C (then re-raised).
    """
    limit = latex_timeout() if timeout is None else timeout
    command = [engine, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", source]
    process = subprocess.Popen(
        command,
        cwd=folder,
        env={**os.environ, **LATEX_ENVIRONMENT},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise SymbackpropError(
            f"{Path(engine).name} did not finish within {limit:g} s and was stopped "
            f"(a looping document? {TIMEOUT_VARIABLE} sets the limit)",
            where,
        ) from None
    except BaseException:
        kill_group(process)
        raise
    return process.returncode, output.decode("utf-8", "replace")


def kill_group(process: subprocess.Popen) -> None:
    """Kill ``process`` and everything it started (its own session), then reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pass
