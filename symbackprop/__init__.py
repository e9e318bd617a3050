"""symbackprop: derive, print and compile backpropagation with SymPy, Jinja2 and Numba."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .document import DerivationDocument

__version__ = "0.1.0"


def derive(
    spec: object,
    notation: str = "default",
    expand: bool = False,
    weight: str | None = None,
    example: bool = False,
    weights: object = None,
    sample: int | None = None,
    digits: int | None = None,
) -> DerivationDocument:
    """The derivation of a spec (a Spec, a built-in name or a spec file's path), for notebooks.

    The result renders in Jupyter (``_repr_latex_``, ``_repr_markdown_``) and gives
    ``.latex()``, ``.markdown()``, ``.text()``, ``.document()`` and ``.steps``. With
    ``example=True``: ``weights`` (an .npz of W1, b1, ...), ``sample`` (an index into the
    training data) and ``digits`` (significant digits, default 4) shape the worked example.
    """
    from .document import document_for
    from .pipeline import as_spec

    return document_for(
        as_spec(spec),  # type: ignore[arg-type]
        notation,
        expand,
        weight,
        example,
        weights=weights,  # type: ignore[arg-type]
        sample=sample,
        digits=digits,
    )
