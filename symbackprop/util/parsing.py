"""Parsing Python source into an AST, safe from CPython 3.11's thread race."""

from __future__ import annotations

import ast


class ParserRaceError(RuntimeError):
    """CPython 3.11's parser met its thread race on every try."""


PARSE_TRIES = 5
"""How often a parse that met CPython 3.11's AST race is tried before its error is raised."""


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse(source, mode=mode)``, tried again when CPython 3.11 raises its spurious
    "AST constructor recursion depth mismatch" SystemError: the counter it checks is shared by
    every thread of the interpreter, so a parse in another thread (a traceback being formatted,
    a library reading source) can trip ours (python/cpython#106905; CI's sweep failed so). The
    text is unchanged, so a second parse gives the tree the first should have. The race
    is a ParserRaceError if every try meets it; any other SystemError is raised as is."""
    tries = 1
    while True:
        try:
            return ast.parse(source, mode=mode)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc):
                raise
            if tries >= PARSE_TRIES:
                raise ParserRaceError(f"Python's parser failed {tries} times: {exc}") from exc
            tries += 1
