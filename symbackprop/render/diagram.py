"""The network drawn: a TikZ picture of neurons, weights, z/a/delta per layer and the backward flow.

Python lays the picture out (which neurons are drawn, where, what each label says); the
``diagram.tex.jinja`` template writes the TikZ. With a weight, the chain rule's paths from that
weight to the loss (``symbackprop.render.paths``) are highlighted and every edge on them carries its
partial derivative; with a worked example, the numbers of one sample's pass sit beside every
neuron (and on the path edges).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import sympy as sp

from ..symbolic.derivation import Derivation, L
from ..symbolic.expansion import ParamRef, parse_param
from ..symbolic.network import p as p_index
from ..util.escape import latex_text
from ..util.resources import environment
from ..util.version import __version__
from .document import MARKER
from .example import DIGITS, WorkedExample
from .labels import settle
from .numeric import evaluate
from .printing import NOTATIONS, Notation, decimal_number, function_name, latex

MAX_DRAWN = 8
"""Layers wider than this are drawn as their first HEAD and last TAIL neurons with dots between."""
HEAD, TAIL = 3, 2
DX, DY, DY_NUMBERS = 3.6, 1.25, 1.9
"""Column and row spacing (cm); rows further apart when labels sit above and below neurons."""
MAX_WEIGHT_LABELS = 4
"""With numbers, weights are written on the edges between layers at most this wide."""
LOSS_GAP = 0.85 * DX
"""The least distance from the output layer to the loss (more where its edges' labels need it)."""


@dataclass(frozen=True)
class Node:
    """One neuron (or the dots standing for elided ones) at (x, y) cm."""

    name: str
    x: float
    y: float
    text: str
    style: str = "neuron"
    above: str = ""
    """A label above the node (z, or the activation derivative on a highlighted path)."""
    below: str = ""
    """A label below the node (delta)."""


@dataclass(frozen=True)
class Edge:
    """A line between two nodes, with an optional label (LaTeX math) at ``pos`` along it."""

    source: str
    target: str
    style: str = "edge"
    label: str = ""
    pos: float = 0.5
    """Where along the edge the label sits (0: its source, 1: its target)."""
    symbol: str = ""
    """What the label's value is, in LaTeX (``W^{(1)}_{0,1}``, a partial): the note names it
    where the picture has no room for the label."""
    at: tuple[float, float] | None = None
    """The label's centre (cm), once placed."""


@dataclass(frozen=True)
class Caption:
    """Text under a column."""

    x: float
    lines: tuple[str, ...]


@dataclass
class Picture:
    """Everything the template draws."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    captions: list[Caption] = field(default_factory=list)
    deltas: list[Node] = field(default_factory=list)
    """The backward row: delta^(L) ... delta^(1), with arrows from right to left."""
    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0
    note: str = ""
    forward: str = ""
    """The forward rule written along the top, in the picture's notation."""
    backward: str = ""
    """The backward rule written along the bottom."""
    caption: tuple[str, ...] = ()
    """Lines under the picture (``--title``, and with ``--lecture`` the notation)."""
    focused: bool = False
    """Whether a ``Focus`` restyled it (the template then defines the focus styles)."""
    radius: float = 0.45
    """Every neuron's radius (cm)."""
    moved: list[str] = field(default_factory=list)
    """Labels written in the note for want of room on the picture (``$symbol = value$``)."""


@dataclass(frozen=True)
class Focus:
    """What one slide overlay lights up (``symbackprop slides``): a layer, some of its
    quantities, and the edges of the chain-rule factor the equation shown uses."""

    layer: int | None = None
    """The current layer (0: the input), its neurons and caption highlighted; None: none."""
    parts: tuple[str, ...] = ()
    """Which of the layer's ``z``, ``a``, ``delta`` the equation names (set in colour)."""
    edges: tuple[int, ...] = ()
    """Edges lit: ``l`` the edges into layer ``l`` (its weights), depth + 1 those into the loss."""


def visible(n: int, forced: set[int]) -> list[int | None]:
    """The neurons of an n-wide layer that are drawn, None where dots stand for the rest."""
    if n <= MAX_DRAWN:
        return list(range(n))
    shown = sorted(set(range(HEAD)) | set(range(n - TAIL, n)) | {i for i in forced if i < n})
    slots: list[int | None] = []
    for i in shown:
        if slots and slots[-1] is not None and i != slots[-1] + 1:
            slots.append(None)
        slots.append(i)
    return slots


def diagram(
    derivation: Derivation,
    weight: str | None = None,
    example: WorkedExample | None = None,
    digits: int = DIGITS,
    bare: bool = False,
    notation: Notation | None = None,
    lecture: bool = False,
    title: str | None = None,
    focus: Focus | None = None,
) -> str:
    """The TikZ source: a complete document cropped to the picture, or a bare tikzpicture.

    ``notation``: labels in that profile's symbols and index convention; ``title`` (plain
    text) and ``lecture`` (the notation stated, for slides and handouts): a caption under it;
    ``focus``: a layer, its quantities and some edges highlighted (a slide's overlay).
    """
    picture = layout(derivation, weight, example, digits, notation)
    picture.caption = _figure_caption(notation or NOTATIONS["default"], lecture, title)
    if focus is not None:
        focused(picture, focus, derivation, notation or NOTATIONS["default"])
    spec = derivation.network.spec
    return (
        environment()
        .get_template("diagram.tex.jinja")
        .render(
            picture=picture,
            bare=bare,
            marker=MARKER,
            version=__version__,
            spec=spec,
        )
    )


def layout(
    derivation: Derivation,
    weight: str | None = None,
    example: WorkedExample | None = None,
    digits: int = DIGITS,
    notation: Notation | None = None,
) -> Picture:
    """Where every neuron, edge and label goes, labelled in ``notation`` (default profile)."""
    notation = notation or NOTATIONS["default"]

    def tex(expr: sp.Basic) -> str:
        return latex(expr, notation)

    network = derivation.network
    spec = network.spec
    sizes = spec.layers
    depth = spec.depth
    ref = parse_param(weight, spec) if weight is not None else None
    forced: dict[int, set[int]] = {l: set() for l in range(depth + 1)}
    if ref is not None:
        forced[ref.layer].add(ref.index[0])
        if ref.kind == "W":
            forced[ref.layer - 1].add(ref.index[1])
    values = example.values if example is not None else None

    def number(value: float) -> str:  # as the worked example prints it
        return latex(decimal_number(value, digits))

    picture = Picture()
    picture.forward, picture.backward = _rules(notation)
    columns: list[list[int | None]] = [visible(n, forced[l]) for l, n in enumerate(sizes)]
    tallest = max(len(c) for c in columns)
    dy = DY if values is None and ref is None else DY_NUMBERS  # room for labels
    picture.top = (tallest - 1) / 2 * dy + 1.0
    picture.bottom = -(tallest - 1) / 2 * dy - 1.0
    for l, slots in enumerate(columns):
        x = l * DX
        for k, i in enumerate(slots):
            y = ((len(slots) - 1) / 2 - k) * dy
            if i is None:
                picture.nodes.append(Node(f"d{l}x{k}", x, y, r"\vdots", "dots"))
                continue
            node = _neuron(network, l, i, (x, y), values, number, notation)
            picture.nodes.append(node)
        caption = _caption(network, l, tex, l + notation.layer_offset)
        picture.captions.append(Caption(x, caption))
    cost = notation.cost
    loss_text = rf"${cost}$" if values is None else rf"${cost} = {number(values['loss'])}$"
    picture.nodes.append(
        Node("loss", depth * DX + LOSS_GAP, 0.0, loss_text, "loss", below=f"${network.loss.latex}$")
    )
    for l in range(1, depth + 1):
        label_weights = (
            values is not None
            and ref is None
            and max(sizes[l - 1], sizes[l]) <= MAX_WEIGHT_LABELS
        )
        for q in columns[l - 1]:
            for p in columns[l]:
                if p is None or q is None:
                    continue
                label = f"${number(values[f'W{l}'][p, q])}$" if label_weights else ""
                symbol = tex(network.layers[l - 1].W[p, q])
                edge = Edge(f"n{l - 1}x{q}", f"n{l}x{p}", "edge", label, 0.3, symbol)
                picture.edges.append(edge)
    for p in columns[depth]:
        if p is not None:
            picture.edges.append(Edge(f"n{depth}x{p}", "loss", "edge", pos=0.5))
    if ref is not None:
        _highlight(picture, derivation, ref, values, number, notation)
    _finish(picture, network, notation)
    return picture


def _finish(picture: Picture, network, notation: Notation) -> None:  # noqa: ANN001
    """Place the labels (``labels.settle``), then the backward row under the columns where
    they ended, the picture's sides, and a note stating what had no room on the picture."""
    settle(picture)
    loss_x = next(node.x for node in picture.nodes if node.name == "loss")
    columns_x = [caption.x for caption in picture.captions]
    picture.deltas = _backward_row(network, columns_x, loss_x, picture.bottom, notation)
    picture.left = -1.2
    picture.right = loss_x + 1.2
    if picture.moved:
        moved = ", ".join(rf"\mbox{{{text}}}" for text in picture.moved)
        room = f"Written here for want of room on the picture: {moved}."
        picture.note = f"{picture.note}. {room}" if picture.note else room


def _neuron(  # noqa: ANN001
    network, l: int, i: int, at: tuple[float, float], values, number, notation: Notation
) -> Node:
    """A neuron: its a (x in the input layer) inside, z above and delta below with numbers."""
    x, y = at
    if l == 0:
        symbol = network.layers[0].a_in[i]
        text = (
            f"${latex(symbol, notation)}$"
            if values is None
            else f"${number(values['A0'][0, i])}$"
        )
        return Node(f"n0x{i}", x, y, text, "input")
    layer = network.layers[l - 1]
    if values is None:
        return Node(f"n{l}x{i}", x, y, f"${latex(layer.a[i], notation)}$")
    return Node(
        f"n{l}x{i}",
        x,
        y,
        f"${number(values[f'A{l}'][0, i])}$",
        above=f"${notation.letter('z')} = {number(values[f'Z{l}'][0, i])}$",
        below=f"${notation.letter('delta')} = {number(values[f'delta{l}'][0, i])}$",
    )


def _rules(notation: Notation) -> tuple[str, str]:
    """The forward and backward rules of a general layer l, in the profile's symbols."""
    W, b, z, a, delta = (
        notation.general(kind, "l") for kind in ("weight", "bias", "z", "a", "delta")
    )
    a_below = notation.general("a", "l-1")
    W_above, delta_above = (notation.general(kind, "l+1") for kind in ("weight", "delta"))
    forward = rf"{a} = f\bigl({W} {a_below} + {b}\bigr)"
    backward = (
        rf"{delta} = \bigl({notation.transpose(W_above)} {delta_above}\bigr) \odot "
        rf"f'\bigl({z}\bigr)"
    )
    return forward, backward


def _figure_caption(notation: Notation, lecture: bool, title: str | None) -> tuple[str, ...]:
    """The lines under the picture: the title (escaped), and for a lecture what the picture
    shows and how its symbols read."""
    lines = [rf"\textbf{{{latex_text(title)}}}"] if title else []
    if lecture:
        lines.append(
            "The forward pass along the top, the backward pass (the deltas) along the bottom; "
            f"${notation.cost}$ is the loss and {notation.convention(lecture=True)}."
        )
    return tuple(lines)


def _caption(network, l: int, tex, number: int) -> tuple[str, ...]:  # noqa: ANN001
    """The text under column ``l``: the layer (numbered ``number`` as the profile numbers it),
    its activation and its vectors."""
    if l == 0:
        return ("input", rf"${tex(network.layers[0].vector('a_in'))}$")
    layer = network.layers[l - 1]
    z, a, delta = (tex(layer.vector(kind)) for kind in ("z", "a", "delta"))
    kind = "output" if layer is network.output else "hidden"
    return (
        f"{kind} layer {number}: {function_name(layer.activation)}",
        rf"${z} \to {a}$, ${delta}$",
    )


def _backward_row(  # noqa: ANN001
    network, columns_x: list[float], loss_x: float, bottom: float, notation: Notation
) -> list[Node]:
    """delta^(L), ..., delta^(1) under their columns (at ``columns_x``); the template draws
    arrows leftwards."""
    y = bottom - 1.2
    a_out = latex(network.output.vector("a"), notation)
    row = [Node("dLda", loss_x, y, rf"$\partial {notation.cost} / \partial {a_out}$", "flow")]
    for l in range(len(columns_x) - 1, 0, -1):
        delta = latex(network.layers[l - 1].vector("delta"), notation)
        row.append(Node(f"flow{l}", columns_x[l], y, f"${delta}$", "flow"))
    return row


def _highlight(  # noqa: ANN001
    picture: Picture, derivation: Derivation, ref: ParamRef, values, number, notation: Notation
) -> None:
    """Mark every path from the parameter to the loss; label its edges with their partials."""
    from .paths import enumerate_paths

    network = derivation.network
    sizes = network.concrete_sizes()
    out = network.output
    softmax = not out.activation.elementwise
    edges = {(e.source, e.target): n for n, e in enumerate(picture.edges)}
    nodes = {node.name: n for n, node in enumerate(picture.nodes)}
    layer_of: dict[sp.IndexedBase, int] = {}
    for layer in network.layers:
        layer_of[layer.z] = layer_of[layer.a] = layer.index
    param_layer = network.layers[ref.layer - 1]
    param_base = param_layer.W if ref.kind == "W" else param_layer.b

    def tex(expr: sp.Basic) -> str:
        return latex(expr, notation)

    def shown(expr: sp.Expr) -> str:
        text = tex(expr) if values is None else number(evaluate(expr, values, sizes))
        return f"${text}$"

    def mark(source: str, target: str, style: str, label: str, symbol: str) -> None:
        if (source, target) in edges:
            n = edges[(source, target)]
            picture.edges[n] = replace(picture.edges[n], style=style, label=label, symbol=symbol)

    def annotate(name: str, text: str) -> None:
        if name in nodes:
            node = picture.nodes[nodes[name]]
            picture.nodes[nodes[name]] = Node(
                node.name, node.x, node.y, node.text, "onpath", text or node.above, node.below
            )

    for path in enumerate_paths(derivation, ref):
        for top, bottom, value in path:
            symbol = rf"\partial {notation.cost if top == L else tex(top)} / \partial {tex(bottom)}"
            if top == L:  # into the loss: dL/da_j
                mark(f"n{out.index}x{int(bottom.indices[0])}", "loss", "path", shown(value), symbol)
            elif bottom.base == param_base:  # the parameter: dz_p/dW_pq = a_q, dz_p/db_p = 1
                neuron = f"n{ref.layer}x{ref.index[0]}"
                if ref.kind == "W":
                    mark(f"n{ref.layer - 1}x{ref.index[1]}", neuron, "weight", shown(value), symbol)
                else:
                    annotate(neuron, "")
            elif layer_of[top.base] == layer_of[bottom.base]:  # a = f(z) inside one neuron
                l, i = layer_of[top.base], int(bottom.indices[0])
                if softmax and l == out.index:
                    annotate(f"n{l}x{i}", "")  # labelled with dL/dz below
                else:
                    partial = rf"\partial {tex(top)} / \partial {tex(bottom)}"
                    annotate(f"n{l}x{i}", f"${partial} = {shown(value)[1:-1]}$")
            else:  # z^(l+1)_k = sum_m W_km a^(l)_m + b_k: dz_k/da_m = W_km
                source = f"n{layer_of[bottom.base]}x{int(bottom.indices[0])}"
                target = f"n{layer_of[top.base]}x{int(top.indices[0])}"
                mark(source, target, "path", shown(value), symbol)
    if softmax:
        for neuron in range(sizes[out.n_out]):
            name = f"n{out.index}x{neuron}"
            if name in nodes and picture.nodes[nodes[name]].style == "onpath":
                delta = derivation.output.delta.xreplace({p_index: neuron})
                partial = rf"\partial {notation.cost} / \partial {tex(out.z[neuron])}"
                node = picture.nodes[nodes[name]]
                picture.nodes[nodes[name]] = Node(
                    node.name,
                    node.x,
                    node.y,
                    node.text,
                    "onpath",
                    f"${partial} = {shown(delta)[1:-1]}$",
                    node.below,
                )
        z, a = tex(out.z[sp.Symbol("m")]), tex(out.a[sp.Symbol("j")])
        picture.note = (
            f"softmax: each ${z}$ reaches every ${a}$; an output neuron on a path "
            rf"shows $\partial {notation.cost} / \partial {z}$, the sum over those paths"
        )


FOCUS_COLOUR = "orange!85!black"
"""The colour of what a focus lights up (the template's focus styles use it too)."""


def focused(picture: Picture, focus: Focus, derivation: Derivation, notation: Notation) -> None:
    """Restyle ``picture`` in place for ``focus``: the layer's neurons ``current``, the lit
    edges ``factor``, the layer's caption with the named quantities in colour, and its delta
    in the backward row ``flowcurrent`` when the equation names it."""
    picture.focused = True
    network = derivation.network
    depth = network.spec.depth
    column = f"n{focus.layer}x" if focus.layer is not None else None
    for n, node in enumerate(picture.nodes):
        lit = (column is not None and node.name.startswith(column)) or (
            node.name == "loss" and depth + 1 in focus.edges
        )
        if lit and node.style != "dots":
            style = "currentloss" if node.name == "loss" else "current"
            picture.nodes[n] = replace(node, style=style)
    targets = {f"n{l}x" for l in focus.edges if l <= depth}
    for n, edge in enumerate(picture.edges):
        into_loss = edge.target == "loss" and depth + 1 in focus.edges
        if into_loss or any(edge.target.startswith(t) for t in targets):
            picture.edges[n] = replace(edge, style="factor")
    if focus.layer is None:
        return
    lit_flow = {"flow" + str(focus.layer)} if "delta" in focus.parts else set()
    if depth + 1 in focus.edges:
        lit_flow.add("dLda")
    picture.deltas = [
        Node(node.name, node.x, node.y, node.text, "flowcurrent") if node.name in lit_flow
        else node
        for node in picture.deltas
    ]
    caption = picture.captions[focus.layer]
    lines = _focused_caption(network, focus, notation)
    picture.captions[focus.layer] = Caption(caption.x, (caption.lines[0], *lines))


def _focused_caption(network, focus: Focus, notation: Notation) -> tuple[str, ...]:  # noqa: ANN001
    """The second caption line of the focus's layer, the quantities it names in colour."""

    def shown(kind: str, symbol: sp.Basic) -> str:
        text = f"${latex(symbol, notation)}$"
        return rf"\textcolor{{{FOCUS_COLOUR}}}{{{text}}}" if kind in focus.parts else text

    if focus.layer == 0:
        return (shown("a", network.layers[0].vector("a_in")),)
    layer = network.layers[focus.layer - 1]
    z, a, delta = (shown(kind, layer.vector(kind)) for kind in ("z", "a", "delta"))
    return (rf"\textbf{{{z} $\to$ {a}, {delta}}}",)
