"""Names in messages: the closest known one ("did you mean 'tanh'?"), counts ("1 column")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest known name, or '' when nothing is close."""
    if not isinstance(name, str):
        return ""
    options = sorted(known)
    lowered = {option.lower(): option for option in options}
    if name.lower() in lowered:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, name: object, known: Iterable[str]) -> str:
    """The message for an unknown name: what it is, a suggestion, and the known names."""
    options = sorted(known)
    return f"unknown {kind} {name!r}{did_you_mean(name, options)} (known: {', '.join(options)})"


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless one: "1 column", "3 columns"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
