"""The command line: a parser and one function per command."""

from .commands import main

__all__ = ["main"]
