"""What code a machine runs: CPU model, ISA level, BLAS kernels, threads; and the AVX2 settings.

``symbackprop bench`` records these with every run, and ``bench --isa avx2`` re-runs itself
with ``AVX2_ENV`` so that an AVX-512 machine also measures the AVX2 code of OpenBLAS, Numba and
XLA (as a machine without AVX-512 would run it).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

AVX2_ENV = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NUMBA_CPU_NAME": "haswell",
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
}
"""Environment that limits OpenBLAS, Numba and XLA to AVX2 code paths."""

ISA_LEVELS = ("avx512", "avx2")
"""Values of ``bench --isa``: avx512 is the machine as it is (whatever its best ISA)."""


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return []


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def isa_level() -> str:
    """The widest vector ISA the CPU reports: "avx512", "avx2", "avx" or "" (not x86 / unknown)."""
    flags = next((line.split() for line in _cpuinfo() if line.startswith("flags")), [])
    for flag, level in (("avx512f", "avx512"), ("avx2", "avx2"), ("avx", "avx")):
        if flag in flags:
            return level
    return ""


def blas_info() -> dict[str, Any]:
    """The BLAS numpy calls: library, version, core type (kernel family) and threads.

    From threadpoolctl when it is installed; otherwise only what the environment says.
    """
    info: dict[str, Any] = {"coretype_env": os.environ.get("OPENBLAS_CORETYPE", "")}
    try:
        import numpy  # noqa: F401 - loads the BLAS threadpoolctl inspects
        from threadpoolctl import threadpool_info
    except ImportError:
        info["library"] = "unknown (threadpoolctl not installed)"
        return info
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            info.update(
                library=pool.get("internal_api", ""),
                version=pool.get("version", ""),
                coretype=pool.get("architecture", ""),
                threads=pool.get("num_threads"),
            )
            break
    return info


def numba_target() -> str:
    """The CPU Numba compiles for: NUMBA_CPU_NAME, or the host's name as LLVM sees it."""
    name = os.environ.get("NUMBA_CPU_NAME")
    if name:
        return name
    try:
        import llvmlite.binding as llvm

        return llvm.get_host_cpu_name()
    except Exception:  # noqa: BLE001 - informational only
        return "host"


def machine() -> str:
    """The machine in one phrase, for a benchmark's header: "AMD EPYC 9B14 (avx512), 2 cores"."""
    return f"{cpu_model()} ({isa_level() or 'no AVX'}), {os.cpu_count()} cores"


def details() -> dict[str, Any]:
    """Everything above, for a results file."""
    return {
        "cpu_model": cpu_model(),
        "isa": isa_level(),
        "isa_setting": "avx2" if os.environ.get("NUMBA_CPU_NAME") == "haswell" else "native",
        "blas": blas_info(),
        "threads": os.cpu_count(),
        "numba_cpu": numba_target(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
