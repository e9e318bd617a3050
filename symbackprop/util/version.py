"""The project's version (one place; the wheel reads it from here)."""

__version__ = "0.1.0"
