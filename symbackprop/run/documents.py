"""A spec's documents and diagrams: the derivation, plus the numbers a worked example needs.

The render stage lays out what it is given; here a spec is derived (through the pipeline's
cache), its training data and weights are read, and the generated module computes the worked
example's numbers, before ``render`` prints them.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SymbackpropError
from ..pipeline import derivation_of
from ..render.diagram import diagram
from ..render.document import (
    DerivationDocument,
    check_title,
    derivation_document,
    notation_named,
)
from ..render.example import DIGITS, check_digits
from ..render.forms import check_forms
from ..render.graph import graph as computational_graph
from ..render.graph import graph_kind
from ..spec.model import Spec
from .example import example_for_spec


def document_for(
    spec: Spec,
    notation: str = "default",
    expand: bool = False,
    weight: str | None = None,
    example: bool = False,
    weights: Path | str | None = None,
    sample: int | None = None,
    digits: int | None = None,
    lecture: bool = False,
    title: str | None = None,
    indices: int | None = None,
    forms: str | tuple[str, ...] | None = None,
    fd: bool = False,
) -> DerivationDocument:
    """A spec's derivation document, with the optional sections asked for.

    ``expand``: every parameter's closed form; ``weight``: the chain rule along every path for
    one weight; ``example``: a worked numeric example on one training sample (random data when
    the spec has none): ``weights`` (an .npz), ``sample`` (an index into the training data) and
    ``digits`` (significant digits) choose it. ``lecture``, ``title``: see
    ``DerivationDocument``; ``indices``: count neurons and samples from 0 or 1 (None: as the
    notation profile does); ``forms``: the step in index, matrix and minibatch form side by
    side (``render.forms``); ``fd``: with ``example``, a central difference of the loss
    beside each printed gradient.
    """
    _check_options(example, weights, sample, digits)
    if forms is not None:
        check_forms(forms)  # before any work
    if fd and not example:
        raise SymbackpropError("needs --example", "--fd")
    derivation = derivation_of(spec)
    worked = example_for_spec(spec, derivation, weights, sample, fd=fd) if example else None
    return derivation_document(
        derivation,
        notation,
        expand,
        weight,
        worked,
        digits,
        lecture=lecture,
        title=title,
        indices=indices,
        forms=forms,
    )


def diagram_for(
    spec: Spec,
    weight: str | None = None,
    example: bool = False,
    weights: Path | str | None = None,
    sample: int | None = None,
    digits: int | None = None,
    bare: bool = False,
    notation: str = "default",
    lecture: bool = False,
    title: str | None = None,
    indices: int | None = None,
    graph: str | None = None,
) -> str:
    """A spec's diagram, as ``symbackprop diagram`` writes it (options as for ``derive``);
    ``graph``: the computational graph instead ("scalar", "layer" or "auto")."""
    _check_options(example, weights, sample, digits)
    profile = notation_named(notation, indices)
    title = check_title(title)
    if graph is not None:
        return _graph_for(spec, graph, weight, example, bare, profile, lecture, title)
    derivation = derivation_of(spec)
    worked = example_for_spec(spec, derivation, weights, sample) if example else None
    digits = DIGITS if digits is None else digits
    return diagram(derivation, weight, worked, digits, bare, profile, lecture, title)


def _graph_for(  # noqa: ANN001 - the options diagram_for checked
    spec: Spec, graph: str, weight, example, bare, profile, lecture, title
) -> str:
    """The computational graph: its kind checked before any work; a weight's paths and a
    worked example belong to the network picture."""
    if weight is not None or example:
        raise SymbackpropError(
            "the computational graph takes no --weight or --example (they are for the network "
            "picture)",
            "--graph",
        )
    kind = None if graph == "auto" else graph
    graph_kind(spec, kind)
    return computational_graph(derivation_of(spec), kind, bare, profile, lecture, title)


def _check_options(
    example: bool, weights: Path | str | None, sample: int | None, digits: int | None
) -> None:
    """The worked example's options come only with it; its digits are checked before work."""
    if not example and (weights is not None or sample is not None or digits is not None):
        raise SymbackpropError("--weights, --sample and --digits need --example", "--example")
    check_digits(DIGITS if digits is None else digits)


def slides_for(
    spec: Spec,
    notation: str = "default",
    example: bool = False,
    weights: Path | str | None = None,
    sample: int | None = None,
    digits: int | None = None,
    lecture: bool = False,
    title: str | None = None,
    indices: int | None = None,
) -> str:
    """A spec's Beamer deck, as ``symbackprop slides`` writes it (options as for ``derive``;
    with ``example`` the worked example is the deck's last section, its diagrams numbered)."""
    from ..render.slides import slides

    _check_options(example, weights, sample, digits)
    derivation = derivation_of(spec)
    worked = example_for_spec(spec, derivation, weights, sample) if example else None
    digits = DIGITS if digits is None else digits
    document = derivation_document(
        derivation, notation, False, None, worked, digits, lecture=lecture, title=title,
        indices=indices,
    )
    return slides(document, worked, digits)
