"""The derivation as a Beamer deck: one derivation line per overlay, the diagram beside it.

Each right-hand side of a step (each "=" of the printed derivation) is one line, uncovered on
its own overlay; beside it the network diagram (``symbackprop.render.diagram``) lights up the
layer the line is about, the quantities (z, a, delta) it names and the edges of the chain-rule
factor it uses. The steps are grouped into the deck's sections: the forward pass, the output
delta, the recursion (hidden deltas), the gradients and the update (and a worked example).
Python decides what goes where; ``slides.tex.jinja`` lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..symbolic.derivation import L
from ..symbolic.network import SymbolicNetwork
from ..util.resources import environment
from ..util.version import __version__
from .diagram import Focus, diagram
from .document import DerivationDocument, PrintedLine
from .example import DIGITS, WorkedExample
from .printing import function_names, typewriter
from .steps import Step

GROUPS = (
    ("Forward pass", ("forward", "forward-matrix")),
    ("The output delta", ("loss", "activations", "output")),
    ("The recursion: hidden deltas", ("backprop", "backprop-matrix")),
    ("Gradients", ("gradients", "gradients-matrix")),
    ("The update", ("update", "summary")),
)
"""The deck's sections (frame groups) and the derivation's sections each gathers."""

EXAMPLE_GROUP = "Worked example"
"""The group of the worked example's steps (``--example``); other extra sections go by title."""

MAX_HEIGHT = 10
"""Text rows on one frame (a row with a fraction, a sum or a partial counts two; a step
taller than this has a frame of its own)."""

KINDS = ("z", "a", "delta")
"""A layer's quantities a line can name."""


@dataclass(frozen=True)
class SlideLine:
    """One derivation line: its overlay in the frame, the step's equation number (on the
    step's first line only), its printed rows of math, its reason, its layer and picture."""

    overlay: int
    number: int | None
    rows: tuple[str, ...]
    reason: str
    layer: int | None
    picture: str


@dataclass(frozen=True)
class SlideFrame:
    """A frame: the derivation section it shows (a subtitle) and its lines."""

    subtitle: str
    lines: tuple[SlideLine, ...]


@dataclass(frozen=True)
class FrameGroup:
    """A section of the deck."""

    title: str
    frames: tuple[SlideFrame, ...]


def slides(
    document: DerivationDocument,
    example: WorkedExample | None = None,
    digits: int = DIGITS,
) -> str:
    """The Beamer source of ``document``'s derivation (its notation, lecture mode, title and
    worked example, whose diagrams carry ``example``'s numbers at ``digits`` digits)."""
    groups = deck_groups(document, example, digits)
    spec = document.derivation.network.spec
    return (
        environment()
        .get_template("slides.tex.jinja")
        .render(
            spec=spec,
            names=function_names(spec, escape=typewriter),
            version=__version__,
            groups=groups,
            notation_line=document.notation_line("latex"),
            lecture=document.lecture,
            title=document.title,
        )
    )


def deck_groups(
    document: DerivationDocument,
    example: WorkedExample | None = None,
    digits: int = DIGITS,
) -> list[FrameGroup]:
    """The deck's frame groups in reading order, their lines numbered overlay by overlay."""
    derivation = document.derivation
    pictures: dict[tuple[Focus, bool], str] = {}

    def picture(focus: Focus, numbers: bool) -> str:
        if (focus, numbers) not in pictures:
            pictures[(focus, numbers)] = diagram(
                derivation,
                example=example if numbers else None,
                digits=digits,
                bare=True,
                notation=document.notation,
                focus=focus,
            )
        return pictures[(focus, numbers)]

    order = [title for title, _ in GROUPS]
    gathered: dict[str, list[SlideFrame]] = {title: [] for title in order}
    for section, printed in zip(document.sections(), document.printed("latex")):
        group = _group_of(section.steps[0] if section.steps else None, section.title)
        if group not in gathered:
            order.append(group)
            gathered[group] = []
        numbers = group == EXAMPLE_GROUP
        chunks = _chunks(list(zip(section.steps, printed.lines)))
        for chunk in chunks:
            lines: list[SlideLine] = []
            for step, line in chunk:
                for index, (rows, reason) in enumerate(line_rows(line)):
                    focus = line_focus(derivation.network, step, index)
                    lines.append(
                        SlideLine(
                            len(lines) + 1,
                            line.number if index == 0 else None,
                            rows,
                            reason,
                            focus.layer,
                            picture(focus, numbers and example is not None),
                        )
                    )
            subtitle = printed.title if printed.title != group else ""
            gathered[group].append(SlideFrame(subtitle, tuple(lines)))
    return [FrameGroup(title, tuple(gathered[title])) for title in order if gathered[title]]


def _group_of(step: Step | None, title: str) -> str:
    """The deck section a derivation section goes to."""
    name = step.section if step is not None else ""
    for group, names in GROUPS:
        if name in names:
            return group
    return EXAMPLE_GROUP if name == "example" else title


def _chunks(
    pairs: list[tuple[Step, PrintedLine]],
) -> list[list[tuple[Step, PrintedLine]]]:
    """Steps in frames of at most MAX_HEIGHT (``_height``; a taller step alone)."""
    chunks: list[list[tuple[Step, PrintedLine]]] = []
    used = MAX_HEIGHT
    for step, line in pairs:
        height = _height(step, line)
        if used + height > MAX_HEIGHT:
            chunks.append([])
            used = 0
        chunks[-1].append((step, line))
        used += height
    return chunks


def _height(step: Step, line: PrintedLine) -> int:
    """A step's height in text rows: a row of a line with a sum, a partial or a fraction
    (displayed, with limits) counts two."""
    tall = [_tall(step.lhs) or _tall(rhs) for rhs in step.rhs]
    return sum(
        len(rows) * (2 if tall[n] else 1) if n < len(tall) else len(rows)
        for n, (rows, _) in enumerate(line_rows(line))
    )


def _tall(expr: sp.Basic) -> bool:
    """Whether an expression prints over more than one text row (display style)."""
    if expr.has(sp.Sum, sp.Derivative):
        return True
    return any(
        isinstance(part, sp.Pow) and part.exp.is_negative for part in sp.preorder_traversal(expr)
    )


def line_rows(line: PrintedLine) -> list[tuple[tuple[str, ...], str]]:
    """A printed step's lines: one per right-hand side, each its rows of math (a long left
    side alone on the first, long right sides broken) and its reason."""
    lines: list[tuple[list[str], str]] = []
    pending: list[str] = []
    for row in line.rows:
        if not row.relation:  # the left side on a row of its own
            pending.append(row.text)
        elif row.relation == r"\qquad" and lines:  # a long right side, continued
            lines[-1][0].append(rf"\qquad {row.text}")
        elif row.left:
            lines.append(([*pending, f"{row.left} {row.relation} {row.text}"], row.reason))
            pending = []
        else:
            lines.append(([*pending, rf"\qquad {row.relation} {row.text}"], row.reason))
            pending = []
    return [(tuple(rows), reason) for rows, reason in lines]


def _names(network: SymbolicNetwork) -> dict[str, tuple[int, str]]:
    """The network's symbols by name: (layer, kind), the input being layer 0's ``a``."""
    table = {str(network.layers[0].a_in.label): (0, "a")}
    for layer in network.layers:
        for kind in ("W", "b", *KINDS):
            table[str(getattr(layer, kind).label)] = (layer.index, kind)
    return table


def _found(expr: sp.Basic, table: dict[str, tuple[int, str]]) -> set[tuple[int, str]]:
    """The network quantities (layer, kind) an expression names, as indexed or matrix symbols."""
    names = {symbol.name for symbol in expr.atoms(sp.Symbol)}
    names |= {matrix.name for matrix in expr.atoms(sp.MatrixSymbol)}
    return {table[name] for name in names if name in table}


def line_focus(network: SymbolicNetwork, step: Step, index: int) -> Focus:
    """What the diagram lights up beside a step's ``index``-th right-hand side: the layer of
    the left side, the quantities of that layer the line names, and the edges of its chain-rule
    factors (a weight matrix, a partial of a weighted sum, the loss's partial by the outputs)."""
    table = _names(network)
    depth = network.spec.depth
    rhs = step.rhs[index]
    named = _found(step.lhs, table)
    seen = named | _found(rhs, table)
    layers = [layer for layer, _ in named]
    layer = max(layers) if layers else None
    edges = {m for m, kind in seen if kind == "W" and m > 0}
    for derivative in (step.lhs.atoms(sp.Derivative) | rhs.atoms(sp.Derivative)):
        top = _found(derivative.expr, table)
        bottom = set().union(*(_found(v, table) for v in derivative.variables))
        if any(kind in ("W", "a", "z") for _, kind in bottom):  # dz/db: a bias, no edge
            edges |= {m for m, kind in top if kind == "z"}
        if derivative.expr == L and (depth, "a") in bottom:
            edges.add(depth + 1)
    if step.lhs == L:
        edges.add(depth + 1)
    if layer is None and step.section == "update":
        edges |= set(range(1, depth + 1))
    parts = tuple(kind for kind in KINDS if (layer, kind) in seen) if layer is not None else ()
    return Focus(layer, parts, tuple(sorted(edges)))


def derivation_lines(document: DerivationDocument) -> int:
    """How many lines (right-hand sides) the deck uncovers: one overlay each."""
    return sum(len(step.rhs) for section in document.sections() for step in section.steps)

