"""The computational graph, in the style of Goodfellow et al., *Deep Learning*, 6.5.1 (figures
6.8 to 6.11): one node per operation, the local derivative written on each edge.

Two kinds. The **scalar** graph has one node per scalar operation: each product
``W_jk a_k``, each sum ``z_j`` of the products and the bias, each activation ``a_j``, the loss;
the leaves are the inputs x, the weights W, the biases b and the targets y. It is drawn for
networks small enough to read that way (``scalar_limit`` says which). The **layer** graph has
one node per layer operation: ``z = W a + b``, ``a = f(z)``, the loss; its edges carry an entry
of the Jacobian in index form (``1[j = p]`` where the operation is elementwise).

Every edge's label is ``sympy.diff`` of the operation of the node it enters with respect to the
node it leaves, printed by the project's LaTeX printer in the notation profile; an activation's
derivative is written through the forward value where the derivation found that form
(``a(1 - a)``), else as SymPy found it. The chain rule multiplies the labels along each path
from a parameter to the loss and sums over the paths (``tests/test_graph.py`` checks that this
gives the derivation's gradient). Python lays the graph out; ``graph.tex.jinja`` writes TikZ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import SymbackpropError
from ..spec.calculus import differentiate, positive_factors
from ..spec.functions import a as a_sym
from ..spec.functions import y as y_sym
from ..spec.model import Spec
from ..symbolic.derivation import Derivation, L, collapse, to_forward_values
from ..symbolic.expansion import concrete
from ..symbolic.network import ActivationPrime, Layer, SymbolicNetwork, activation_function, j, p
from ..symbolic.network import q as q_index
from ..util.escape import latex_text
from ..util.resources import environment
from ..util.version import __version__
from .diagram import Caption
from .document import MARKER
from .layout import estimate_width
from .printing import NOTATIONS, BackpropLatexPrinter, Notation, function_name, latex

KINDS = ("scalar", "layer")
"""The kinds of graph ``--graph`` draws (without a kind: scalar where it fits, else layer)."""
MAX_SCALAR_DEPTH = 3
"""The scalar graph draws at most this many weight layers ..."""
MAX_SCALAR_ROWS = 16
"""... each with at most this many products and biases (n_out (n_in + 1)) in its column ..."""
MAX_SCALAR_SOFTMAX = 3
"""... and a softmax output of at most this many units (each a_j has an edge from every z)."""
MAX_LAYER_DEPTH = 4
"""The layer graph draws at most this many weight layers (two columns each)."""
MAX_WIDTH = 28.0
"""The widest scalar graph drawn (cm): a landscape A4 page."""

ROW = 1.0
"""Scalar graph: the distance (cm) between rows of the product columns."""
INPUT_ROW = 1.6
"""Scalar graph: the distance between input and target leaves."""
WEIGHT_AT = (-0.75, 0.55)
"""Scalar graph: where a weight leaf sits relative to its product (cm)."""
PORT = 1.2
"""Scalar graph: an input's edge runs straight into its product over this distance (cm)."""
SUM_GAP = 1.3
"""Scalar graph: from a product column to its sums (edges labelled 1)."""
LEAF_HEIGHT = 2.4
"""Layer graph: a layer's weight leaf sits this far above its z (cm), its bias leaf below; their
labels are clear of those above the horizontal edges."""
LABEL = 1.2 * 0.7 * 0.03515
"""cm per point of ``layout.estimate_width`` (10pt) for a ``\\scriptsize`` (7pt) label, with a
fifth to spare (the estimate is rough)."""


@dataclass(frozen=True)
class GraphNode:
    """One node at (x, y) cm: a leaf (x, W, b, y) or an operation (product, sum, f, loss)."""

    name: str
    x: float
    y: float
    text: str
    style: str
    symbol: sp.Basic
    """The quantity it holds (index form in the layer graph; a Dummy for a product)."""
    value: sp.Expr | None = None
    """Its operation on its parents' symbols (None: a leaf)."""
    below: str = ""
    """A tag under it (the loss's name)."""


@dataclass(frozen=True)
class GraphEdge:
    """An edge from ``source`` into ``target`` carrying d target / d source."""

    source: str
    target: str
    variable: sp.Basic
    """What the target's operation is differentiated by: the source's symbol (in the layer
    graph its element, with the free indices p, q)."""
    derivative: sp.Expr
    """``sympy.diff`` of the target's operation by ``variable`` (free indices j, p, q in the
    layer graph: j the target's, p and q the source's)."""
    label: str
    """The derivative printed (LaTeX math)."""
    partial: str = ""
    """Layer graph: the partial derivative the label is (printed), written above it."""
    pos: float = 0.5
    via: tuple[float, float] | None = None
    """A point the edge curves to (leaving the source horizontally) before it runs straight
    into the target; the label sits on the straight part."""
    side: str = ""
    """Where the label sits: on the edge (""), or a TikZ anchor such as ``right``."""


@dataclass
class Graph:
    """Everything the template draws."""

    kind: str
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    columns: list[Caption] = field(default_factory=list)
    """Text under a span of the picture (a layer, the inputs, the loss), as the network
    picture's captions."""
    caption: tuple[str, ...] = ()
    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0

    def node(self, name: str) -> GraphNode:
        """The node called ``name``."""
        return next(node for node in self.nodes if node.name == name)


def graph(
    derivation: Derivation,
    kind: str | None = None,
    bare: bool = False,
    notation: Notation | None = None,
    lecture: bool = False,
    title: str | None = None,
) -> str:
    """The TikZ source of the computational graph: a document cropped to the picture, or a
    bare tikzpicture. ``kind``: "scalar", "layer" or None (scalar where it fits, else layer);
    ``title`` (plain text) and ``lecture`` (the notation stated): lines of the caption."""
    notation = notation or NOTATIONS["default"]
    drawn = graph_layout(derivation, kind, notation)
    drawn.caption = graph_caption(drawn.kind, notation, lecture, title)
    return (
        environment()
        .get_template("graph.tex.jinja")
        .render(
            graph=drawn,
            bare=bare,
            marker=MARKER,
            version=__version__,
            spec=derivation.network.spec,
        )
    )


def graph_layout(
    derivation: Derivation, kind: str | None = None, notation: Notation | None = None
) -> Graph:
    """The graph of ``kind`` (see ``graph_kind``), laid out and labelled in ``notation``; a
    scalar graph wider than MAX_WIDTH (long labels: a Piecewise loss's derivative) gives way to
    the layer graph, or is refused where it was asked for."""
    notation = notation or NOTATIONS["default"]
    if graph_kind(derivation.network.spec, kind) == "scalar":
        drawn = scalar_graph(derivation, notation)
        width = drawn.right - drawn.left
        if width <= MAX_WIDTH:
            return drawn
        if kind == "scalar":
            raise SymbackpropError(
                f"the scalar graph of this network would be {width:.0f} cm wide, at most "
                f"{MAX_WIDTH:.0f} cm fit a page; draw it with --graph layer",
                "--graph",
            )
    return layer_graph(derivation, notation)


def graph_kind(spec: Spec, kind: str | None = None) -> str:
    """The kind of graph drawn for ``spec``: ``kind`` ("scalar" or "layer"), or with None the
    scalar graph where ``scalar_limit`` allows, else the layer graph; refused in one line (the
    limit named) where the network is too large for it."""
    if kind is not None and kind not in KINDS:
        raise SymbackpropError(f"unknown graph '{kind}' (known: {', '.join(KINDS)})", "--graph")
    elementwise = spec.activation(spec.layer_activation(spec.depth)).elementwise
    too_large = scalar_limit(spec.layers, elementwise)
    if kind == "scalar" and too_large:
        raise SymbackpropError(f"{too_large}; draw it with --graph layer", "--graph")
    if kind == "scalar" or not too_large and kind is None:
        return "scalar"
    if spec.depth > MAX_LAYER_DEPTH:
        raise SymbackpropError(
            f"the graph draws networks of at most {MAX_LAYER_DEPTH} weight layers "
            f"(this one has {spec.depth}); draw it without --graph",
            "--graph",
        )
    return "layer"


def scalar_limit(layers: tuple[int, ...] | list[int], elementwise_output: bool = True) -> str:
    """Why the scalar graph of a network of these sizes would not fit ("" where it does)."""
    depth = len(layers) - 1
    rows = max(n_out * (n_in + 1) for n_in, n_out in zip(layers, layers[1:]))
    if depth > MAX_SCALAR_DEPTH:
        return (
            f"the scalar graph draws at most {MAX_SCALAR_DEPTH} weight layers "
            f"(this network has {depth})"
        )
    if rows > MAX_SCALAR_ROWS:
        return (
            f"the scalar graph draws at most {MAX_SCALAR_ROWS} products and biases per layer "
            f"(this network has {rows})"
        )
    if not elementwise_output and layers[-1] > MAX_SCALAR_SOFTMAX:
        return (
            f"the scalar graph draws a softmax of at most {MAX_SCALAR_SOFTMAX} units "
            f"(this network has {layers[-1]})"
        )
    return ""


def graph_caption(
    kind: str, notation: Notation, lecture: bool = False, title: str | None = None
) -> tuple[str, ...]:
    """The lines under the picture: the title (escaped), which graph it is and what its edge
    labels mean, and for a lecture the loss's symbol and where indices start."""
    z, a, cost = notation.letter("z"), notation.letter("a"), notation.cost
    weight, bias = notation.letter("weight"), notation.letter("bias")
    found = "" if lecture else r" (as \texttt{sympy.diff} finds it)"
    lines = [rf"\textbf{{{latex_text(title)}}}"] if title else []
    if kind == "scalar":
        lines.append(
            rf"Computational graph, one node per scalar operation: $\times$ multiplies a weight "
            rf"${weight}$ by an input, ${z}$ adds the products and the bias ${bias}$, ${a}$ "
            rf"applies the activation, ${cost}$ is the loss. Each edge from $v$ into $u$ carries "
            rf"the local derivative $\partial u / \partial v${found}; the chain rule multiplies "
            rf"them along every path from a parameter to ${cost}$ and adds the paths."
        )
    else:
        lines.append(
            rf"Computational graph, one node per layer operation (${z} = {weight} {a} + {bias}$, "
            rf"${a} = f({z})$, the loss ${cost}$). Each edge from $v$ into $u$ carries the entry "
            rf"$\partial u_j / \partial v_p$ of the local Jacobian (by a matrix: "
            rf"$\partial u_j / \partial v_{{pq}}$){found}; $\mathbf{{1}}[j = p]$ is 1 where "
            r"$j = p$ and 0 elsewhere."
        )
    if lecture:
        lines.append(f"${cost}$ is the loss and {notation.convention(lecture=True)}.")
    return tuple(lines)


# -- the local derivatives -------------------------------------------------------------------


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shorter of a derivative and its factored form: 2 (a - y) rather than 2 a - 2 y."""
    if expr.has(sp.Piecewise, sp.KroneckerDelta):
        return expr
    factored = positive_factors(sp.factor(expr))
    return factored if sp.count_ops(factored) <= sp.count_ops(expr) else expr


def activation_partial(layer: Layer, expr: sp.Expr) -> sp.Expr:
    """``sympy.diff`` of an activation, written through the forward value where the derivation
    found that form (tanh' = 1 - a^2), else as SymPy found it in z."""
    through = to_forward_values(expr, layer)
    return through.replace(lambda e: isinstance(e, ActivationPrime), lambda e: e.expanded())


def softmax_partial(layer: Layer, value: sp.Expr, variable: sp.Expr) -> sp.Expr:
    """d a_j / d z_m of a written-out softmax ``value``, by ``sympy.diff``, with e^{z_i} written
    as a_i S (S the sum of the exponentials): a_j (1 - a_j) or -a_j a_m."""
    derivative = sp.diff(value, variable)
    S = sp.Dummy("S", positive=True)
    _, denominator = sp.fraction(value)

    def exponential(e: sp.Basic) -> bool:  # e^{c z_i}: SymPy writes (e^{z_i})^2 as e^{2 z_i}
        return isinstance(e, sp.exp) and isinstance(e.args[0].as_coeff_Mul()[1], sp.Indexed)

    def through_a(e: sp.exp) -> sp.Expr:
        power, z = e.args[0].as_coeff_Mul()
        return (layer.a[z.indices[0]] * S) ** power

    derivative = derivative.xreplace({denominator: S}).replace(exponential, through_a)
    return positive_factors(sp.factor(sp.cancel(derivative)))


def loss_partial(network: SymbolicNetwork, variable: sp.Indexed) -> sp.Expr:
    """dL / d a_p or dL / d y_p in index form, by ``sympy.diff`` of the loss (kinks as the
    derivation takes them); where a Piecewise term keeps the sum from collapsing, the loss's
    term differentiated at (a_p, y_p), as the derivation does."""
    derivative = collapse(differentiate(network.loss_expr, variable))
    if derivative.has(sp.KroneckerDelta):
        by = a_sym if variable.base == network.output.a else y_sym
        term = differentiate(network.loss.term, by)
        derivative = term.xreplace({a_sym: network.output.a[p], y_sym: network.y[p]})
        derivative = derivative / network.output.n_out if network.loss.mean else derivative
    return tidy(derivative)


# -- laying out -------------------------------------------------------------------------------


class _Drawing:
    """A graph being laid out, and how its labels are printed."""

    def __init__(self, kind: str, network: SymbolicNetwork, notation: Notation) -> None:
        self.graph = Graph(kind)
        self.network = network
        self.sizes = network.concrete_sizes()
        self.notation = notation
        self.inline = BackpropLatexPrinter(notation)
        self.inline.inline = True

    def tex(self, expr: sp.Basic) -> str:
        return latex(expr, self.notation)

    def width(self, expr: sp.Basic) -> float:
        """A label's width (cm, ``\\scriptsize``)."""
        return estimate_width(self.tex(expr)) * LABEL

    def node(self, name: str, at: tuple[float, float], symbol: sp.Basic, style: str,
             value: sp.Expr | None = None, text: str | None = None,
             below: str = "") -> GraphNode:  # fmt: skip
        """A node showing ``text`` (default: its symbol printed)."""
        shown = f"${self.tex(symbol)}$" if text is None else text
        node = GraphNode(name, at[0], at[1], shown, style, symbol, value, below)
        self.graph.nodes.append(node)
        return node

    def edge(self, source: GraphNode, target: GraphNode, derivative: sp.Expr,
             partial: tuple[sp.Basic, sp.Basic] | None = None,
             **how: object) -> GraphEdge:  # fmt: skip
        """An edge labelled with ``derivative`` (and, given, the ``partial`` it is)."""
        shown = self.inline.doprint(sp.Derivative(*partial)) if partial else ""
        variable = partial[1] if partial else source.symbol
        if source.y == target.y and "via" not in how:
            how.setdefault("side", "above")  # clear of the line it labels
        edge = GraphEdge(
            source.name, target.name, variable, derivative, self.tex(derivative), shown, **how
        )
        self.graph.edges.append(edge)
        return edge


# -- the scalar graph -------------------------------------------------------------------------


def scalar_graph(derivation: Derivation, notation: Notation | None = None) -> Graph:
    """One node per scalar operation, laid out left to right: the inputs, per layer its
    products (a weight leaf beside each), sums (with the bias leaves) and activations, then
    the loss with the target leaves to its right."""
    network = derivation.network
    drawing = _Drawing("scalar", network, notation or NOTATIONS["default"])
    sizes = network.spec.layers
    first = network.layers[0]
    inputs = [
        drawing.node(f"in{i}", (0.0, _centred(i, sizes[0], INPUT_ROW)), first.a_in[i], "leaf")
        for i in range(sizes[0])
    ]
    drawing.graph.columns.append(Caption(0.0, ("input",)))
    x = 0.0
    for layer in network.layers:
        x, inputs = _scalar_layer(drawing, layer, x, inputs)
    _scalar_loss(drawing, network, x, inputs)
    return _framed(drawing.graph)


def _centred(row: int, rows: int, pitch: float) -> float:
    """The y of row ``row`` of ``rows`` rows ``pitch`` apart, centred on 0."""
    return ((rows - 1) / 2 - row) * pitch


def _scalar_layer(
    drawing: _Drawing, layer: Layer, x: float, inputs: list[GraphNode]
) -> tuple[float, list[GraphNode]]:
    """One layer's products, sums and activations right of ``x``; returns the activations'
    column and nodes."""
    n_in, n_out = len(inputs), drawing.sizes[layer.n_out]
    l = layer.index
    rows = n_out * (n_in + 1)
    weights = [layer.W[i, m] for i in range(n_out) for m in range(n_in)]
    products_x = x + PORT + max(1.2, max(drawing.width(w) for w in weights))
    sums_x = products_x + SUM_GAP
    sums: list[GraphNode] = []
    for i in range(n_out):
        parts = []
        for m, source in enumerate(inputs):
            y = _centred(i * (n_in + 1) + m, rows, ROW)
            parts.append(_product(drawing, layer, (i, m), (products_x, y), source))
        y = _centred(i * (n_in + 1) + n_in, rows, ROW)
        parts.append(drawing.node(f"b{l}x{i}", (products_x, y), layer.b[i], "leaf"))
        total = sp.Add(*(part.symbol for part in parts))
        centre = sum(part.y for part in parts) / len(parts)
        z = drawing.node(f"z{l}x{i}", (sums_x, centre), layer.z[i], "op", total)
        for part in parts:
            drawing.edge(part, z, sp.diff(total, part.symbol))
        sums.append(z)
    activations_x, outputs = _activations(drawing, layer, sums_x, sums)
    _layer_column(drawing, layer, (x + activations_x) / 2 + 0.4)
    return activations_x, outputs


def _product(drawing: _Drawing, layer: Layer, index: tuple[int, int], at: tuple[float, float],
             source: GraphNode) -> GraphNode:  # fmt: skip
    """The node W_jk a_k with its weight leaf, and the two edges into it."""
    i, m = index
    weight = layer.W[i, m]
    value = weight * source.symbol
    symbol = sp.Dummy(f"u{layer.index}_{i}_{m}")
    name = f"u{layer.index}x{i}x{m}"
    node = drawing.node(name, at, symbol, "product", value, r"$\times$")
    leaf_at = (at[0] + WEIGHT_AT[0], at[1] + WEIGHT_AT[1])
    leaf = drawing.node(f"W{layer.index}x{i}x{m}", leaf_at, weight, "leaf")
    drawing.edge(leaf, node, sp.diff(value, weight), side="above right", pos=0.5)
    port = (at[0] - PORT, at[1])
    drawing.edge(source, node, sp.diff(value, source.symbol), pos=0.45, via=port)
    return node


def _activations(
    drawing: _Drawing, layer: Layer, sums_x: float, sums: list[GraphNode]
) -> tuple[float, list[GraphNode]]:
    """a_j = f(z_j) beside each sum (a softmax's a_j: an edge from every z of its layer)."""
    zs = [node.symbol for node in sums]
    derivatives: dict[tuple[int, int], sp.Expr] = {}
    if layer.activation.elementwise:
        f = activation_function(layer.activation)
        values = [f(z) for z in zs]
        for i, z in enumerate(zs):
            derivatives[(i, i)] = activation_partial(layer, sp.diff(values[i], z))
    else:
        exps = [sp.exp(z) for z in zs]
        values = [e / sp.Add(*exps) for e in exps]
        for i, value in enumerate(values):
            for m, z in enumerate(zs):
                derivatives[(i, m)] = softmax_partial(layer, value, z)
    widest = max(drawing.width(d) for d in derivatives.values())
    x = sums_x + max(1.6, widest + 1.25)
    outputs = [
        drawing.node(f"a{layer.index}x{i}", (x, z.y), layer.a[i], "op", values[i])
        for i, z in enumerate(sums)
    ]
    for (i, m), derivative in derivatives.items():
        if i == m:
            drawing.edge(sums[m], outputs[i], derivative)
        else:  # softmax: the label near its sum, clear of the crossing edges
            drawing.edge(sums[m], outputs[i], derivative, pos=0.28)
    return x, outputs


def _scalar_loss(
    drawing: _Drawing, network: SymbolicNetwork, x: float, outputs: list[GraphNode]
) -> None:
    """The loss node right of the outputs, the targets' leaves right of it."""
    value = concrete(network.loss_expr, drawing.sizes)
    targets = [network.y[i] for i in range(len(outputs))]
    by_output = [tidy(differentiate(value, node.symbol)) for node in outputs]
    by_target = [tidy(differentiate(value, target)) for target in targets]
    loss_x = x + max(1.8, max(drawing.width(d) for d in by_output) + 1.5)
    loss = drawing.node("loss", (loss_x, 0.0), L, "loss", value, below=network.loss.latex)
    targets_x = loss_x + max(1.6, max(drawing.width(d) for d in by_target) + 1.3)
    for node, derivative in zip(outputs, by_output):
        drawing.edge(node, loss, derivative)
    for i, (target, derivative) in enumerate(zip(targets, by_target)):
        at = (targets_x, _centred(i, len(targets), INPUT_ROW))
        leaf = drawing.node(f"y{i}", at, target, "leaf")
        drawing.edge(leaf, loss, derivative)
    equation = drawing.tex(sp.Eq(L, value, evaluate=False))
    drawing.graph.columns.append(Caption((loss_x + targets_x) / 2, ("the loss", f"${equation}$")))


def _layer_column(drawing: _Drawing, layer: Layer, x: float) -> None:
    """The text under a layer: which it is, its sum and its activation (concrete sizes in the
    scalar graph)."""
    network = drawing.network
    sizes = drawing.sizes if drawing.graph.kind == "scalar" else {}
    kind = "output" if layer is network.output else "hidden"
    number = layer.index + drawing.notation.layer_offset
    name = function_name(layer.activation)
    z = drawing.tex(sp.Eq(layer.z[j], layer.z_expr.xreplace(sizes), evaluate=False))
    a = drawing.tex(sp.Eq(layer.a[j], layer.a_expr.xreplace(sizes), evaluate=False))
    drawing.graph.columns.append(Caption(x, (f"{kind} layer {number}: {name}", f"${z}$", f"${a}$")))


def _framed(graph: Graph) -> Graph:
    """The picture's bounds, from its nodes."""
    graph.left = min(node.x for node in graph.nodes) - 0.9
    graph.right = max(node.x for node in graph.nodes) + 0.9
    graph.top = max(node.y for node in graph.nodes) + 0.5
    graph.bottom = min(node.y for node in graph.nodes) - 0.7
    return graph


# -- the layer graph ----------------------------------------------------------------------------


def layer_graph(derivation: Derivation, notation: Notation | None = None) -> Graph:
    """One node per layer operation, left to right: x, then per layer z = W a + b (the leaves W
    above it, b below) and a = f(z), then the loss with the targets y right of it. Edges carry
    Jacobian entries in index form (j: the entered node's index; p, q: the left node's)."""
    network = derivation.network
    drawing = _Drawing("layer", network, notation or NOTATIONS["default"])
    first = network.layers[0]
    text = _vector(drawing, first, "a_in")
    source = drawing.node("in", (0.0, 0.0), first.a_in, "leaf", text=text)
    drawing.graph.columns.append(Caption(0.0, ("input",)))
    x = 0.0
    for layer in network.layers:
        x, source = _layer_step(drawing, derivation, layer, x, source)
    out = network.output
    by_output = loss_partial(network, out.a[p])
    by_target = loss_partial(network, network.y[p])
    loss_x = x + _gap(drawing, by_output, (L, out.a[p]))
    loss = drawing.node("loss", (loss_x, 0.0), L, "loss", network.loss_expr,
                        below=network.loss.latex)  # fmt: skip
    drawing.edge(source, loss, by_output, partial=(L, out.a[p]))
    targets_x = loss_x + _gap(drawing, by_target, (L, network.y[p]))
    target = drawing.node("y", (targets_x, 0.0), network.y, "leaf",
                          text=f"${drawing.tex(sp.MatrixSymbol('y', out.n_out, 1))}$")  # fmt: skip
    drawing.edge(target, loss, by_target, partial=(L, network.y[p]))
    equation = drawing.tex(sp.Eq(L, network.loss_expr))
    drawing.graph.columns.append(Caption((loss_x + targets_x) / 2, ("the loss", f"${equation}$")))
    return _framed(drawing.graph)


def _vector(drawing: _Drawing, layer: Layer, kind: str) -> str:
    return f"${drawing.tex(layer.vector(kind))}$"


def _gap(drawing: _Drawing, derivative: sp.Expr, partial: tuple[sp.Basic, sp.Basic]) -> float:
    """The distance between two columns of the layer graph that fits an edge's two lines."""
    printed = drawing.inline.doprint(sp.Derivative(*partial))
    widest = max(drawing.width(derivative), estimate_width(printed) * LABEL)
    return max(2.2, widest + 1.3)


def _layer_step(
    drawing: _Drawing, derivation: Derivation, layer: Layer, x: float, source: GraphNode
) -> tuple[float, GraphNode]:
    """z = W a + b right of ``source`` (W's leaf above it, b's below) and a = f(z)."""
    l = layer.index
    by_input = collapse(sp.diff(layer.z_expr, layer.a_in[p]))
    z_x = x + _gap(drawing, by_input, (layer.z[j], layer.a_in[p]))
    z = drawing.node(f"z{l}", (z_x, 0.0), layer.z, "op", layer.z_expr, _vector(drawing, layer, "z"))
    drawing.edge(source, z, by_input, partial=(layer.z[j], layer.a_in[p]))
    for kind, height in (("W", LEAF_HEIGHT), ("b", -LEAF_HEIGHT)):
        base = getattr(layer, kind)
        element = base[p, q_index] if kind == "W" else base[p]
        text = _vector(drawing, layer, kind)
        leaf = drawing.node(f"{kind}{l}", (z_x, height), base, "leaf", text=text)
        by_leaf = collapse(sp.diff(layer.z_expr, element))
        drawing.edge(leaf, z, by_leaf, partial=(layer.z[j], element), side="right", pos=0.3)
    if layer.activation.elementwise:
        by_z = activation_partial(layer, collapse(sp.diff(layer.a_expr, layer.z[p])))
    else:  # the derivation's sympy.diff of the softmax, e^{z_i} written as a_i S
        by_z = derivation.output.jacobian
    a_x = z_x + _gap(drawing, by_z, (layer.a[j], layer.z[p]))
    a = drawing.node(f"a{l}", (a_x, 0.0), layer.a, "op", layer.a_expr, _vector(drawing, layer, "a"))
    drawing.edge(z, a, by_z, partial=(layer.a[j], layer.z[p]))
    _layer_column(drawing, layer, (z_x + a_x) / 2)
    return a_x, a
