"""symbackprop: derive, print and compile backpropagation with SymPy, Jinja2 and Numba."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .render.document import DerivationDocument
    from .run.workflow import Trained
    from .spec.expressions import parse_expression as parse_expression

from .errors import (  # noqa: E402
    DataError,
    ExpressionError,
    SpecError,
    SymbackpropError,
    TrainingDiverged,
)
from .spec.model import Spec, load_spec  # noqa: E402
from .util.version import __version__ as __version__  # noqa: E402

__all__ = [
    "DataError",
    "ExpressionError",
    "Spec",
    "SpecError",
    "SymbackpropError",
    "TrainingDiverged",
    "derive",
    "generate",
    "load_spec",
    "parse_expression",
    "train",
]


def __getattr__(name: str) -> object:
    """``parse_expression`` (SymPy's) is imported when first asked for: ``import symbackprop``
    and the warm path of ``run``, ``predict`` and ``evaluate`` import no SymPy."""
    if name == "parse_expression":
        from .spec.expressions import parse_expression

        return parse_expression
    raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")


def derive(
    spec: object,
    notation: str = "default",
    expand: bool = False,
    weight: str | None = None,
    example: bool = False,
    weights: object = None,
    sample: int | None = None,
    digits: int | None = None,
    lecture: bool = False,
    title: str | None = None,
    indices: int | None = None,
    forms: object = None,
    fd: bool = False,
) -> DerivationDocument:
    """The derivation of a spec (a Spec, a built-in name or a spec file's path), for notebooks.

    The result renders in Jupyter (``_repr_markdown_``, math by MathJax) and gives
    ``.latex()``, ``.markdown()``, ``.text()``, ``.document()`` and ``.steps``. With
    ``example=True``: ``weights`` (an .npz of W1, b1, ...), ``sample`` (an index into the
    training data) and ``digits`` (significant digits, default 4) shape the worked example.
    ``lecture=True``: for slides, notes and exams (no banner, no implementation notes, reasons
    that name the calculus rules); ``title``: the document's title; ``indices``: count
    neurons and samples from 0 or 1 (None: as the notation profile does; ``default`` counts
    from 0 as the code does, ``nielsen`` and ``goodfellow`` from 1); ``forms``: the step in
    index, matrix and minibatch form side by side (``"index,matrix,batch"`` or any of them);
    ``fd=True`` (with ``example=True``): a central finite difference of the generated module's
    loss printed beside every gradient of the worked example.
    """
    from .pipeline import as_spec
    from .run.documents import document_for

    return document_for(
        as_spec(spec),  # type: ignore[arg-type]
        notation,
        expand,
        weight,
        example,
        weights=weights,  # type: ignore[arg-type]
        sample=sample,
        digits=digits,
        lecture=lecture,
        title=title,
        indices=indices,
        forms=forms,  # type: ignore[arg-type]
        fd=fd,
    )


def generate(spec: object) -> ModuleType:
    """The spec's generated training module, written to the module cache and imported.

    It has ``init_params``, ``forward``, ``loss``, ``gradients``, ``train``, ``predict``,
    ``save_params``, ``load_params``, ... (see the README's "The generated module").
    """
    from .pipeline import as_spec, cached_module

    return cached_module(as_spec(spec))  # type: ignore[arg-type]


def train(
    spec: object,
    weights: object = None,
    progress: bool = False,
    X: object = None,
    y: object = None,
    **training: object,
) -> Trained:
    """Train a spec (a Spec, a built-in name or a spec file) on its data, as ``symbackprop run``.

    ``X`` and ``y`` (arrays: one row per sample; ``y`` class labels 0..n-1 or target rows) train
    on data in memory instead of the spec's ``[data]``, split by its ``test_fraction`` and
    ``validation_fraction`` and standardised as a file would be.
    ``training`` overrides ``[training]`` fields (``epochs=50``, ``learning_rate=0.05``, ...);
    ``weights`` starts from a saved .npz (or a list of arrays); ``progress`` prints the progress
    lines and the report. Returns a ``Trained``: ``.params``, ``.history`` (per-epoch losses),
    ``.result`` (final losses, accuracies, timings), ``.forward(X)`` (outputs), ``.predict(X)``
    (classes for a classifier, as the module's ``predict``), ``.save(path)``.
    """
    from .run.workflow import train_api

    if (X is None) != (y is None):
        raise TypeError("symbackprop.train takes X and y together")
    return train_api(spec, weights, progress, training, None if X is None else (X, y))
