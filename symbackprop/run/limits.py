"""Memory estimates made before allocating, and the cap that refuses absurd sizes in one line.

Sizes come from the spec (the weights), the data (rows) and the settings (batch, epochs): a
layer of 10**12 units, 10**12 epochs or a gradient check of a 10**10-parameter network is refused
with its estimate before anything is allocated, instead of failing later with a MemoryError or
thrashing the machine.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from ..errors import SymbackpropError
from ..spec.model import Spec, parameter_count

LIMIT_ENV = "SYMBACKPROP_MAX_MEMORY"
"""Environment variable overriding the cap: bytes, or a number with K, M, G or T (binary)."""

DEFAULT_LIMIT = 8 << 30
"""The cap when the variable is unset: 8 GiB, or 3/4 of the physical memory if that is less."""

ORDER_CHUNK = 1 << 22
"""Samples (epochs x rows) whose order is drawn at once (the generated modules' ORDER_CHUNK)."""

CHECK_SAMPLES = 8
"""Samples ``check`` evaluates the loss on (gradcheck's default)."""

WORK_ENV = "SYMBACKPROP_MAX_WORK"
"""Environment variable overriding the cap on ``check``'s finite-difference work (multiply-adds)."""

DEFAULT_WORK = 10**12
"""Multiply-adds ``check`` may spend on finite differences by default (minutes on one core)."""

CHECKED_PER_PARAM = 200
"""Entries of each parameter array ``check`` compares (gradcheck's ``max_per_param``)."""

KERNEL_ENV = "SYMBACKPROP_KERNEL"
"""Environment variable forcing one kernel variant in a tuned module (no measuring)."""

KERNEL_VARIANTS = ("blas", "loops", "micro")
"""The values KERNEL_ENV takes: a tuned module's VARIANTS."""

MAX_SETTING = 1e30
"""The largest value either limit variable takes (more is no limit at all, and is refused)."""

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class MemoryLimitError(SymbackpropError):
    """A run, check or module would need more memory than the cap allows."""


@dataclass(frozen=True)
class Estimate:
    """Bytes a piece of work needs, by part (weights, buffers, data, order, losses...)."""

    parts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        """All parts together."""
        return sum(size for _, size in self.parts)

    def describe(self) -> str:
        """'12.0 GiB (weights 8.0 GiB, gradients ...)', the largest parts first."""
        parts = sorted((p for p in self.parts if p[1]), key=lambda p: -p[1])
        inside = ", ".join(f"{name} {format_bytes(size)}" for name, size in parts[:4])
        return f"{format_bytes(self.total)} ({inside})" if inside else format_bytes(self.total)


def format_bytes(size: float) -> str:
    """A byte count for people: '512 B', '3.2 MiB', '7.3 TiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _shown(raw: str) -> str:
    """A variable's value for a message: quoted, or its length when it is long."""
    return repr(raw) if len(raw) <= 40 else f"a value of {len(raw)} characters"


def memory_limit() -> int:
    """The cap in bytes: $SYMBACKPROP_MAX_MEMORY, else min(8 GiB, 3/4 of physical memory)."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if raw:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", raw, flags=re.IGNORECASE)
        if not match:
            raise SymbackpropError(
                f"must be a size such as 16G or 500M, not {_shown(raw)}", f"${LIMIT_ENV}"
            )
        size = float(match[1]) * _UNITS[match[2].upper()]
        if not math.isfinite(size) or size > MAX_SETTING:
            raise SymbackpropError(
                f"must be a size such as 16G or 500M, at most {MAX_SETTING:.0e} bytes, "
                f"not {_shown(raw)}",
                f"${LIMIT_ENV}",
            )
        return int(size)
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return DEFAULT_LIMIT
    return min(DEFAULT_LIMIT, physical * 3 // 4) if physical > 0 else DEFAULT_LIMIT


def _itemsize(spec: Spec) -> int:
    return 4 if spec.dtype == "float32" else 8


def _buffers(spec: Spec, rows: int) -> int:
    """The module's per-pass buffers for ``rows`` samples: A0, Z, A, delta per layer, LSE."""
    return rows * (spec.layers[0] + 3 * sum(spec.layers[1:]) + 1) * _itemsize(spec)


def module_estimate(spec: Spec) -> Estimate:
    """The least any use of the module needs: the weights and one set of gradients."""
    size = parameter_count(spec.layers) * _itemsize(spec)
    return Estimate((("weights", size), ("gradients", size)))


def training_estimate(spec: Spec, rows: int, batch: int, epochs: int) -> Estimate:
    """``run``: weights, gradients, batch buffers, the data in the module's dtype, the order
    drawn a chunk at a time, the per-epoch losses (kept twice: the chunks and the whole), and
    the evaluation pass over all rows at the end."""
    weights = parameter_count(spec.layers) * _itemsize(spec)
    n_in, n_out = spec.layers[0], spec.layers[-1]
    chunk_epochs = max(1, min(epochs, ORDER_CHUNK // max(rows, 1)))
    return Estimate(
        (
            ("weights", weights),
            ("gradients", weights),
            ("batch buffers", _buffers(spec, min(batch, max(rows, 1)))),
            ("data", rows * (n_in + n_out) * (8 + _itemsize(spec))),
            ("sample order", chunk_epochs * rows * 24),
            ("epoch losses", epochs * 16),
            ("evaluation", _buffers(spec, rows) + weights),
        )
    )


def check_estimate(spec: Spec) -> Estimate:
    """``check``: the float64 module's weights, gradients and buffers (and the float32 twin's)."""
    count = parameter_count(spec.layers)
    parts = [
        ("float64 weights", count * 8),
        ("float64 gradients", count * 8 * 2),
        ("buffers", _buffers(spec, CHECK_SAMPLES) * (8 // _itemsize(spec))),
    ]
    if spec.dtype == "float32":
        parts += [("float32 weights and gradients", count * 4 * 3)]
    return Estimate(tuple(parts))


def ensure_fits(estimate: Estimate, what: str, where: str) -> None:
    """Refuse (one line, with the estimate) work that needs more memory than the cap."""
    limit = memory_limit()
    if estimate.total > limit:
        raise MemoryLimitError(
            f"{what} would need about {estimate.describe()}, more than the limit of "
            f"{format_bytes(limit)} (set {LIMIT_ENV} to change it)",
            where,
        )


def check_work(spec: Spec) -> int:
    """Multiply-adds of ``check``'s finite differences: four loss evaluations (each a forward
    pass over CHECK_SAMPLES samples) per checked entry, for the float64 module."""
    sizes = spec.layers
    macs = sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])) * CHECK_SAMPLES
    entries = sum(
        min(CHECKED_PER_PARAM, n_out * n_in) + min(CHECKED_PER_PARAM, n_out)
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    )
    return 4 * entries * macs


def ensure_work_fits(work: int, what: str, where: str) -> None:
    """Refuse (one line, with the estimate) work above $SYMBACKPROP_MAX_WORK multiply-adds."""
    raw = os.environ.get(WORK_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_WORK
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SETTING:  # NaN, inf, 1e400 (inf) and negatives too
        message = f"must be a number > 0 such as 1e13, at most {MAX_SETTING:.0e}, not {_shown(raw)}"
        raise SymbackpropError(message, f"${WORK_ENV}")
    limit = int(value)
    if work > limit:
        raise MemoryLimitError(
            f"{what} would take about {work:.2g} multiply-adds, more than the limit of "
            f"{limit:.2g} (set {WORK_ENV} to change it)",
            where,
        )


def forced_kernel(module: object = None) -> str:
    """$SYMBACKPROP_KERNEL ('' when unset), refused in one line unless a tuned module knows it
    (and, for blas, unless ``module`` has SciPy's BLAS), before the module would raise."""
    raw = os.environ.get(KERNEL_ENV, "")
    if raw and raw not in KERNEL_VARIANTS:
        known = ", ".join(KERNEL_VARIANTS)
        raise SymbackpropError(f"must be one of {known}, not {_shown(raw)}", f"${KERNEL_ENV}")
    if raw == "blas" and hasattr(module, "VARIANTS") and not getattr(module, "SCIPY_BLAS", True):
        raise SymbackpropError("blas needs SciPy's BLAS, which does not import here", KERNEL_ENV)
    return raw
