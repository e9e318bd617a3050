"""Sweep grids: ``--grid key=v1,v2`` parsed, mapped to the spec's sections and applied to its table.

Values are applied to the parsed TOML table before ``parse_spec`` validates it, so every spec
field (including ones added later) can be swept and is checked exactly like the file's own.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import SpecError, SymbackpropError
from ..spec.model import (
    Data,
    Spec,
    Training,
    builtin_specs,
    parse_spec,
    read_spec_file,
    resolve,
    same_file,
)

_BARE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.+\-/]*$")
_CLOSING = {"[": "]", "{": "}"}
_SHOWN = 60
"""Characters of a --grid item shown in a message (a longer one is cut, with its length)."""


def shown(text: str) -> str:
    """``text`` for a message: whole when short, else its start and its length."""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN - 20]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Axis:
    """One grid key: where it goes in the spec table and the values it takes."""

    key: str  # as the user wrote it: the results column's name
    section: str | None  # "network", "training", "data", ... (None: a top-level field)
    field: str
    values: tuple[Any, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The values as printed in tables and results.csv."""
        return tuple(label(v) for v in self.values)


@dataclass(frozen=True)
class SpecTable:
    """A spec file's parsed TOML table and what ``load_spec`` derives from the file."""

    table: dict[str, Any]
    source: str
    digest: str
    base_dir: Path

    def spec(self, overrides: dict[tuple[str | None, str], Any] | None = None) -> Spec:
        """The spec with ``overrides`` ((section, field) -> value) applied before validation."""
        table = copy.deepcopy(self.table)
        for (section, name), value in (overrides or {}).items():
            target = table if section is None else table.setdefault(section, {})
            if not isinstance(target, dict):
                raise SpecError("must be a table", f"{self.source}: {section}")
            target[name] = value
        return parse_spec(
            table, source=self.source, digest=self.digest, base_dir=self.base_dir.resolve()
        )


def read_table(source: str | Path) -> SpecTable:
    """Read a spec (built-in name or file) as a table, as ``load_spec`` does, without validating."""
    path = resolve(source)
    raw = read_spec_file(path)  # regular, readable, at most MAX_SPEC_BYTES: as load_spec
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, bad UTF-8, 5000-digit ints
        raise SpecError(f"not valid TOML: {exc}", str(path)) from None
    packaged = builtin_specs().get(path.stem)
    builtin = packaged is not None and same_file(path, packaged)
    label_ = f"{path.stem} (built-in)" if builtin else str(path)
    return SpecTable(table, label_, hashlib.sha256(raw).hexdigest()[:12], path.parent)


def label(value: Any) -> str:
    """A value as TOML writes it, but strings bare: ``0.1``, ``tanh``, ``[2, 4]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else label(value)


def split_values(text: str, where: str) -> list[str]:
    """Comma-separated values; commas inside brackets, braces or quotes belong to the value."""
    parts: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    current = ""
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in _CLOSING:
            stack.append(_CLOSING[char])
        elif char in "]}":
            if not stack or stack.pop() != char:
                raise SymbackpropError(f"unbalanced '{char}' in {shown(text)!r}", where)
        elif char == "," and not stack:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    if quote or stack:
        raise SymbackpropError(f"unclosed {quote or 'bracket'} in {shown(text)!r}", where)
    parts.append(current.strip())
    if any(not part for part in parts):
        raise SymbackpropError(f"empty value in {shown(text)!r}", where)
    return parts


def parse_value(text: str, where: str) -> Any:
    """A TOML literal (``0.1``, ``[64, 32]``, ``true``, ``"a b"``) or a bare word (a string)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    except RecursionError:  # 5,000 nested brackets
        raise SymbackpropError(f"{shown(text)!r} is nested too deeply", where) from None
    except ValueError:  # an integer of over 4,300 digits (Python's int conversion limit)
        message = f"{shown(text)!r} holds an integer of too many digits"
        raise SymbackpropError(message, where) from None
    if _BARE_WORD.match(text):
        return text
    raise SymbackpropError(f"{shown(text)!r} is neither a TOML value nor a bare word", where)


def short_names(table: dict[str, Any]) -> dict[str, list[str | None]]:
    """Each short field name and the sections that have it (the spec's, and the table's own)."""
    sections: dict[str, set[str | None]] = {}

    def add(name: str, section: str | None) -> None:
        sections.setdefault(name, set()).add(section)

    from ..spec.model import NETWORK_KEYS  # the known [network] fields

    for name in NETWORK_KEYS:
        add(name, "network")
    for f in fields(Training):
        add(f.name, "training")
    for f in fields(Data):
        if f.name != "base_dir":
            add(f.name, "data")
    for section, values in table.items():
        if isinstance(values, dict):
            for name in values:
                add(name, section)
    return {name: sorted(s, key=str) for name, s in sections.items()}


def parse_grid(items: list[str], table: dict[str, Any]) -> list[Axis]:
    """``key=v1,v2`` items as axes; keys are short names (``learning_rate``) or dotted.

    A short name is looked up among the spec's [network], [training] and [data] fields and the
    file's own keys; any other goes to [training], where validation rejects it if unknown.
    """
    known = short_names(table)
    axes: list[Axis] = []
    for item in items:
        where = f"--grid {shown(item)}"
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SymbackpropError("expected KEY=VALUE[,VALUE...]", where)
        if "." in key:
            section, _, name = key.rpartition(".")
            if "." in section or not section or not name:
                raise SymbackpropError(f"'{key}' is not SECTION.FIELD", where)
        elif key in known:
            candidates = known[key]
            if len(candidates) > 1:
                dotted = " or ".join(f"{s}.{key}" for s in candidates)
                raise SymbackpropError(f"'{key}' is ambiguous: write {dotted}", where)
            section, name = candidates[0], key
        elif key == "name":
            section, name = None, key
        else:  # any other [training] setting (e.g. an optimizer's); the spec's check names it
            section, name = "training", key
        if (section, name) == ("training", "seed"):
            raise SymbackpropError("the seed is not a grid key: use --seeds N", where)
        if any((a.section, a.field) == (section, name) for a in axes):
            raise SymbackpropError(f"'{key}' is given twice", where)
        values = tuple(parse_value(v, where) for v in split_values(text, where))
        if len({label(v) for v in values}) != len(values):
            raise SymbackpropError("a value is repeated", where)
        axes.append(Axis(key, section, name, values))
    return axes


@dataclass(frozen=True)
class Variant:
    """One point of the grid: its values (one per axis) and its validated spec."""

    index: int
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    spec: Spec


def variants(base: SpecTable, axes: list[Axis]) -> list[Variant]:
    """Every combination of the axes' values, validated; a bad value or combination is an error.

    Each value is first tried alone on the base spec, so an error names the value at fault.
    """
    for axis in axes:
        for value in axis.values:
            try:
                base.spec({(axis.section, axis.field): value})
            except SpecError as exc:
                where = f"--grid {shown(f'{axis.key}={label(value)}')}"
                raise SymbackpropError(exc.message, f"{where}: {exc.where or ''}") from None
    out = []
    for index, values in enumerate(itertools.product(*(a.values for a in axes))):
        overrides = {(a.section, a.field): v for a, v in zip(axes, values)}
        labels = tuple(label(v) for v in values)
        try:
            spec = base.spec(overrides)
        except SpecError as exc:
            combo = shown(", ".join(f"{a.key}={t}" for a, t in zip(axes, labels)))
            raise SymbackpropError(exc.message, f"--grid variant {combo}: {exc.where}") from None
        out.append(Variant(index, values, labels, spec))
    return out
