"""symbackprop: derive, print and compile backpropagation with SymPy, Jinja2 and Numba."""

from __future__ import annotations

__version__ = "0.1.0"
