"""Errors that reach the user as one line: what is wrong and where."""

from __future__ import annotations


class SymbackpropError(Exception):
    """A user-facing error: the CLI prints it on one line and exits with status 2."""

    def __init__(self, message: str, where: str | None = None) -> None:
        from .util.escape import plain_line

        # One line whatever the message holds (a path may contain newlines).
        self.message = plain_line(message)
        self.where = None if where is None else plain_line(where)
        super().__init__(f"{self.where}: {self.message}" if where else self.message)


class SpecError(SymbackpropError):
    """The spec file is missing, malformed or describes an invalid network."""


class DataError(SymbackpropError):
    """Training data is missing, malformed or does not fit the network."""


class GenerationError(SymbackpropError):
    """A generated module could not be written (e.g. it would overwrite a foreign file)."""


class ExpressionError(SymbackpropError, ValueError):
    """A formula that is not valid or not allowed; the message names the token and its column."""


class TrainingDiverged(SymbackpropError):
    """Training stopped at a non-finite batch loss or update; the CLI exits with status 3.

    ``epoch`` is the epoch of the run (from 1) it stopped in, where known.
    """

    def __init__(self, message: str, *, epoch: int | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
