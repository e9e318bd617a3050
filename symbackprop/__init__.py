"""symbackprop: derive, print and compile backpropagation with SymPy, Jinja2 and Numba."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .document import DerivationDocument

__version__ = "0.1.0"

from .errors import ExpressionError  # noqa: E402
from .expressions import parse_expression  # noqa: E402

__all__ = ["ExpressionError", "derive", "parse_expression"]


def derive(
    spec: object,
    notation: str = "default",
    expand: bool = False,
    weight: str | None = None,
    example: bool = False,
) -> DerivationDocument:
    """The derivation of a spec (a Spec, a built-in name or a spec file's path), for notebooks.

    The result renders in Jupyter (``_repr_latex_``, ``_repr_markdown_``) and gives
    ``.latex()``, ``.markdown()``, ``.text()``, ``.document()`` and ``.steps``.
    """
    from .document import document_for
    from .pipeline import as_spec

    return document_for(as_spec(spec), notation, expand, weight, example)  # type: ignore[arg-type]
