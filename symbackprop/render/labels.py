"""Where a diagram's labels go: each printed string's box, and edge labels placed where they meet
nothing else.

A label's size is estimated from its LaTeX, glyph by glyph, with Computer Modern's widths at the
picture's font sizes (stretched a little, so a box is never smaller than the printed one); every
neuron is drawn as large as its widest text needs; the loss moves right until the labels of its
edges fit; then each edge's label takes the place along its edge whose box keeps clear of every
neuron, every label already there and as many other edges as it can. A label too wide for its
edge, or with no place left, is written in the picture's note instead (``symbol = value``).
The tests read the compiled PDF's word boxes back and check that no two overlap and none runs
into a neuron.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

PT = 2.54 / 72.27
"""Centimetres per TeX point."""
TINY, SCRIPT, SMALL = 5.0, 7.0, 9.0
"""The picture's font sizes (pt): labels, neurons and captions, the loss."""
INNER = 1.0 * PT
"""A label's inner sep (the template's ``inner sep=1pt``)."""
GAP = 1.5 * PT
"""The least room between a label and anything it must not meet."""
OUTER = 0.8 * PT
"""Half the thickest line a neuron is drawn with (how far its border's anchors lie outside)."""
RADIUS = 0.45
"""A neuron's least radius (cm); every neuron of a picture is drawn as large as its widest text
needs."""
MAX_LABEL = 2.2
"""An edge's label wider than this (cm) names its partial on the edge, its value in the note."""
ARROW = 0.09
"""An arrow tip's reach (cm) back from the border it points at."""
WIDEN = 3
"""How many times the columns may move apart (each time by a fifth) to make room for labels."""
MARGIN = 1.06
"""Widths estimated are stretched by this much (glyph by glyph, the estimate can run a few
percent short of TeX's)."""


@dataclass(frozen=True)
class Extent:
    """A typeset box (pt): width, height above the baseline and depth below it."""

    width: float
    height: float
    depth: float


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle (cm)."""

    left: float
    bottom: float
    right: float
    top: float

    @staticmethod
    def around(x: float, y: float, width: float, height: float) -> Box:
        return Box(x - width / 2, y - height / 2, x + width / 2, y + height / 2)

    def meets(self, other: Box, gap: float = GAP) -> bool:
        return (
            self.left < other.right + gap
            and other.left < self.right + gap
            and self.bottom < other.top + gap
            and other.bottom < self.top + gap
        )

    def meets_circle(self, x: float, y: float, r: float, gap: float = GAP) -> bool:
        nearest_x = min(max(x, self.left), self.right)
        nearest_y = min(max(y, self.bottom), self.top)
        return math.hypot(nearest_x - x, nearest_y - y) < r + gap

    def crosses(self, start: tuple[float, float], end: tuple[float, float]) -> bool:
        """Whether the segment from ``start`` to ``end`` passes through the box."""
        (x0, y0), (x1, y1) = start, end
        low, high = 0.0, 1.0
        for delta, lower, upper, origin in (
            (x1 - x0, self.left, self.right, x0),
            (y1 - y0, self.bottom, self.top, y0),
        ):
            if abs(delta) < 1e-12:
                if not lower <= origin <= upper:
                    return False
                continue
            t0, t1 = sorted(((lower - origin) / delta, (upper - origin) / delta))
            low, high = max(low, t0), min(high, t1)
            if low > high:
                return False
        return True


def label_box(text: str, x: float, y: float, size: float = TINY) -> Box:
    """The box (cm) of ``text`` set at ``size`` pt with the labels' inner sep, centred at (x, y)."""
    extent = measure(text, size)
    return Box.around(
        x, y, extent.width * PT + 2 * INNER, (extent.height + extent.depth) * PT + 2 * INNER
    )


@dataclass(frozen=True)
class Line:
    """An edge as drawn: from the border of its source to the border of its target (cm)."""

    start: tuple[float, float]
    end: tuple[float, float]

    def at(self, t: float) -> tuple[float, float]:
        (x0, y0), (x1, y1) = self.start, self.end
        return x0 + t * (x1 - x0), y0 + t * (y1 - y0)

    def at_distance(self, back: float) -> tuple[float, float]:
        """The point ``back`` cm before the end (where an arrow tip is)."""
        length = math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]) or 1.0
        return self.at(1.0 - back / length)


@dataclass(frozen=True)
class Obstacles:
    """What a label must not meet: circles (x, y, r) and boxes, all in cm."""

    circles: tuple[tuple[float, float, float], ...]
    boxes: tuple[Box, ...]

    def hit(self, box: Box) -> bool:
        return any(box.meets(other) for other in self.boxes) or any(
            box.meets_circle(x, y, r) for x, y, r in self.circles
        )


STEPS = tuple(round(0.12 + 0.02 * k, 2) for k in range(39))
"""The fractions along an edge a label may sit at (0.12 ... 0.88)."""


def place(
    text: str,
    line: Line,
    obstacles: Obstacles,
    placed: Sequence[Box],
    others: Iterable[Line],
    prefer: float = 0.5,
) -> tuple[float, Box] | None:
    """The fraction along ``line`` where the label ``text`` meets no obstacle and no box in
    ``placed``, crossing as few of the ``others`` as it can (then nearest ``prefer``), with its
    box; None where every place is taken."""
    others = list(others)
    best: tuple[tuple[int, float], float, Box] | None = None
    for t in STEPS:
        box = label_box(text, *line.at(t))
        if obstacles.hit(box) or any(box.meets(other) for other in placed):
            continue
        score = (sum(box.crosses(o.start, o.end) for o in others), abs(t - prefer))
        if best is None or score < best[0]:
            best = (score, t, box)
    return None if best is None else (best[1], best[2])


# --- The size of printed LaTeX -------------------------------------------------------------

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[^\s]", re.S)
_ROMAN = {"m": 0.84, "w": 0.73, "i": 0.28, "l": 0.28, "j": 0.31, "t": 0.39, "f": 0.31, "r": 0.4}
_ITALIC = {"W": 0.95, "M": 0.97, "N": 0.81, "i": 0.35, "j": 0.42, "l": 0.3, "m": 0.88, "w": 0.72}
_SYMBOLS = {
    r"\partial": 0.57, r"\delta": 0.45, r"\top": 0.78, r"\prime": 0.28, r"\infty": 1.0,
    r"\ldots": 1.2, r"\cdots": 1.2, r"\vdots": 0.28, r"\sum": 1.06, r"\prod": 0.95,
    r"\:": 0.22, r"\,": 0.17, r"\;": 0.28, r"\!": -0.17, r"\ ": 0.33, r"\quad": 1.0,
    r"\qquad": 2.0, r"\_": 0.5, r"\{": 0.5, r"\}": 0.5, r"\%": 0.83, r"\&": 0.78,
}
_BINARY = {"+", "-", r"\cdot", r"\times", r"\odot", r"\pm", "*"}
_RELATION = {"=", "<", ">", r"\leq", r"\geq", r"\le", r"\ge", r"\to", r"\leftarrow", r"\ne",
             r"\neq", r"\approx", r"\rightarrow", r"\mapsto", r"\in"}
_OPEN, _CLOSE = {"(", "[", r"\{", r"\langle"}, {")", "]", r"\}", r"\rangle"}
_TEXT = {r"\text", r"\mathrm", r"\operatorname", r"\textrm", r"\mathit", r"\textit",
         r"\mathbf", r"\textbf", r"\boldsymbol", r"\mathsf"}
_ACCENT = {r"\bar", r"\overline", r"\hat", r"\widehat", r"\tilde", r"\vec", r"\dot"}
_BIG = {r"\bigl", r"\bigr", r"\big", r"\Bigl", r"\Bigr", r"\Big", r"\left", r"\right",
        r"\middle", r"\biggl", r"\biggr"}
_FRACTION = {r"\frac", r"\dfrac", r"\tfrac"}


@lru_cache(maxsize=4096)
def measure(text: str, size: float = TINY) -> Extent:
    """The box (pt) of ``text`` (LaTeX, its math between ``$``) set at ``size`` pt in Computer
    Modern: an estimate that errs large."""
    tokens = _TOKEN.findall(text.replace("$", ""))
    found = _row(tokens, size)
    return Extent(found.width * MARGIN, found.height, found.depth)


def _script_size(size: float) -> float:
    return max(TINY, 0.7 * size)


_WIDER = {5: 1.36, 6: 1.22, 7: 1.14, 8: 1.06, 9: 1.03, 10: 1.0}
"""How much wider than cmr10's, relative to its size, each design size of Computer Modern is
drawn (digits: cmr5 0.681 em, cmr6 0.611, cmr7 0.569, cmr8 0.531, cmr9 0.514, cmr10 0.5)."""


def _em(size: float) -> float:
    """The width (pt) of an em of Computer Modern at ``size`` pt, as wide as it is drawn."""
    return size * _WIDER.get(round(size), 1.0 if size > 10 else 1.36)


def _group(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The tokens of the group (or the single token) at ``i``, and the index after it."""
    if i >= len(tokens):
        return [], i
    if tokens[i] != "{":
        return [tokens[i]], i + 1
    depth = 0
    for j in range(i, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return tokens[i + 1 : j], j + 1
    return tokens[i + 1 :], len(tokens)


def _row(tokens: list[str], size: float) -> Extent:
    """A row of math atoms: widths (with TeX's spacing around operators) summed."""
    width = height = depth = 0.0
    previous = "open"
    i = 0
    while i < len(tokens):
        kind, extent, i = _atom(tokens, i, size)
        if kind == "bin" and previous in ("bin", "rel", "open", "punct"):
            kind = "ord"  # a sign, not an operation
        spacing = {"bin": 2 * 0.222, "rel": 2 * 0.278, "punct": 0.167, "op": 0.167}
        width += extent.width + spacing.get(kind, 0.0) * _em(size)
        extent, i = _scripts(tokens, i, size, extent)
        width += extent.width
        height, depth = max(height, extent.height), max(depth, extent.depth)
        previous = kind
    return Extent(width, height, depth)


def _scripts(tokens: list[str], i: int, size: float, base: Extent) -> tuple[Extent, int]:
    """The superscript and subscript after an atom: their width (the wider of the two) and the
    atom's height and depth with them."""
    small = _script_size(size)
    up = down = None
    while i < len(tokens) and tokens[i] in ("^", "_", "'"):
        if tokens[i] == "'":
            up = Extent((up.width if up else 0) + 0.3 * _em(small), 0.75 * small, 0)
            i += 1
            continue
        group, i_next = _group(tokens, i + 1)
        found = _row(group, small)
        up, down = (found, down) if tokens[i] == "^" else (up, found)
        i = i_next
    if up is None and down is None:
        return Extent(0.0, base.height, base.depth), i
    width = max(up.width if up else 0, down.width if down else 0) + 0.1 * _em(small)
    height = max(base.height, 0.6 * size + up.height) if up else base.height
    depth = max(base.depth, 0.5 * size + down.depth) if down else base.depth
    return Extent(width, height, depth), i


def _atom(tokens: list[str], i: int, size: float) -> tuple[str, Extent, int]:
    """One atom at ``i``: its class (ord, bin, rel, open, close, punct, op), box and the
    index after it."""
    token = tokens[i]
    em = _em(size)
    if token == "{":
        group, i = _group(tokens, i)
        return "ord", _row(group, size), i
    if token in _TEXT:
        group, i = _group(tokens, i + 1)
        kind = "op" if token == r"\operatorname" else "ord"
        return kind, _text(group, size), i
    if token == r"\begin":
        return _environment(tokens, i, size)
    if token in _FRACTION:
        top, i = _group(tokens, i + 1)
        bottom, i = _group(tokens, i)
        small = _script_size(size)
        upper, lower = _row(top, small), _row(bottom, small)
        width = max(upper.width, lower.width) + 0.2 * em
        return "ord", Extent(width, 0.35 * em + upper.height + upper.depth,
                             lower.height + lower.depth), i
    if token in _ACCENT or token == r"\sqrt":
        group, i = _group(tokens, i + 1)
        inner = _row(group, size)
        extra = 0.85 * em if token == r"\sqrt" else 0.0
        return "ord", Extent(inner.width + extra, inner.height + 0.3 * em, inner.depth), i
    if token == r"\left":
        return _fenced(tokens, i, size)
    if token in _BIG:
        delimiter = tokens[i + 1] if i + 1 < len(tokens) else "."
        width = 0.0 if delimiter == "." else 0.47 * em
        kind = "open" if token.endswith("l") or token == r"\left" else "close"
        return kind, Extent(width, 0.9 * em, 0.4 * em), i + 2
    return _symbol(token, size) + (i + 1,)


def _fenced(tokens: list[str], i: int, size: float) -> tuple[str, Extent, int]:
    """``\\left( ... \\right)``: the delimiters grow to the height and depth of what they hold."""
    depth, end = 0, i
    for end in range(i, len(tokens)):
        depth += {r"\left": 1, r"\right": -1}.get(tokens[end], 0)
        if depth == 0:
            break
    inner = _row(tokens[i + 2 : end], size)
    ends = (tokens[i + 1], tokens[min(end + 1, len(tokens) - 1)])
    delimiters = sum(0.47 * _em(size) for d in ends if d != ".")
    height = max(inner.height, 0.9 * size) + 0.15 * size
    extent = Extent(inner.width + delimiters, height, max(inner.depth, 0.4 * size) + 0.15 * size)
    return "ord", extent, end + 2


def _symbol(token: str, size: float) -> tuple[str, Extent]:
    """A single character or symbol command."""
    def sized(width: float, height: float = 0.75, depth: float = 0.25) -> Extent:
        return Extent(width * _em(size), height * size, depth * size)

    if token in _BINARY:
        return "bin", sized(0.78)
    if token in _RELATION:
        return "rel", sized(0.78)
    if token in _OPEN or token in _CLOSE:
        return ("open" if token in _OPEN else "close"), sized(0.39)
    if token in (",", ";"):
        return "punct", sized(0.28)
    if token in _SYMBOLS:
        return "ord", sized(_SYMBOLS[token])
    if token.startswith("\\") and len(token) > 2:
        name = token[1:]
        if name in ("log", "exp", "tanh", "sin", "cos", "max", "min", "sign", "ln", "sinh",
                    "cosh", "arctan", "sgn"):
            return "op", sized(0.5 * len(name))
        return "ord", sized(0.8)  # a Greek letter or a symbol this table does not know
    if token.isdigit():
        return "ord", sized(0.5, 0.68, 0.02)
    if token == ".":
        return "ord", sized(0.28, 0.12, 0.0)
    if token in ("|", "!"):
        return "ord", sized(0.28)
    if token in ("/", "'"):
        return "ord", sized(0.5)
    if token.isalpha():
        default = 0.8 if token.isupper() else 0.6
        return "ord", sized(_ITALIC.get(token, default))
    return "ord", sized(0.8)


def _text(tokens: list[str], size: float) -> Extent:
    """Upright text (``\\text``, ``\\mathrm``, ``\\operatorname``): Computer Modern Roman."""
    width = 0.0
    for token in tokens:
        if token in ("{", "}"):
            continue
        if token in _SYMBOLS:
            width += _SYMBOLS[token]
        elif len(token) == 1 and token.isupper():
            width += 0.75
        elif len(token) == 1:
            width += _ROMAN.get(token, 0.53)
        else:
            width += 0.6 * len(token)
    return Extent(width * _em(size), 0.75 * size, 0.25 * size)


def _environment(tokens: list[str], i: int, size: float) -> tuple[str, Extent, int]:
    """``cases`` (or any other array): rows stacked, columns side by side, a brace before."""
    name, i = _group(tokens, i + 1)
    end = i
    while end < len(tokens) and not (
        tokens[end] == r"\end" and _group(tokens, end + 1)[0] == name
    ):
        end += 1
    body = tokens[i:end]
    rows: list[list[list[str]]] = [[[]]]
    depth = 0
    for token in body:
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth == 0 and token == r"\\":
            rows.append([[]])
        elif depth == 0 and token == "&":
            rows[-1].append([])
        else:
            rows[-1][-1].append(token)
    cells = [[_row(cell, size) for cell in row] for row in rows if any(row)]
    columns = max(len(row) for row in cells) if cells else 0
    widths = [
        max((row[c].width for row in cells if c < len(row)), default=0.0) for c in range(columns)
    ]
    brace = 0.9 * _em(size) if "cases" in "".join(name) else 0.0
    width = brace + sum(widths) + 1.0 * _em(size) * max(columns - 1, 0)
    total = sum(max(cell.height for cell in row) + max(cell.depth for cell in row) + 0.3 * size
                for row in cells)
    _, i_end = _group(tokens, end + 1)
    return "ord", Extent(width, total / 2 + 0.25 * size, total / 2 - 0.25 * size), i_end


# --- A picture's labels, settled --------------------------------------------------------------


def settle(picture: Any) -> None:
    """Size and place ``picture``'s labels (a ``symbackprop.render.diagram.Picture``, changed in
    place): the neurons' radius, the loss clear of its edges' labels, every edge's label where
    its box meets nothing. Where labels of the highlighted path find no place, or labels beside
    two columns' neurons overlap, the columns move apart (up to ``WIDEN`` times); a label still
    without a place is written in ``picture.moved``; the top and bottom clear the labels."""
    neurons = [node for node in picture.nodes if node.style not in ("dots", "loss")]
    picture.radius = max([RADIUS] + [neuron_radius(node.text) for node in neurons])
    picture.edges = [_fitting(edge, picture.moved) for edge in picture.edges]
    for attempt in range(WIDEN + 1):
        _clear_loss(picture)
        _apart(picture)
        sides = [box for node in picture.nodes for box in _side_boxes(node, picture.radius)]
        edges, left = _placed(picture, sides)
        crowded = _clashes(picture) or any(edge.style != "edge" for edge in left)
        if not crowded or attempt == WIDEN:
            break
        picture.nodes = [replace(node, x=round(node.x * 1.2, 3)) for node in picture.nodes]
        picture.captions = [replace(caption, x=round(caption.x * 1.2, 3))
                            for caption in picture.captions]
    picture.edges = edges
    picture.moved += [_stated(edge.symbol, edge.label) for edge in left]
    _shorten(picture)
    sides = [box for node in picture.nodes for box in _side_boxes(node, picture.radius)]
    if sides:
        picture.top = max(picture.top, max(box.top for box in sides) - 0.25)
        picture.bottom = min(picture.bottom, min(box.bottom for box in sides) - 0.3)


def _placed(picture: Any, sides: list[Box]) -> tuple[list[Any], list[Any]]:
    """The edges with their labels placed (``at``, ``pos``), the highlighted path's first, and
    the edges whose labels found no place (their labels removed in the first list)."""
    neurons = [node for node in picture.nodes if node.style not in ("dots", "loss")]
    lines = [_line(picture, edge) for edge in picture.edges]
    circles = [(node.x, node.y, picture.radius + OUTER) for node in neurons]
    circles += [(*line.at_distance(ARROW), ARROW) for line in lines]
    boxes = [_node_box(node, picture.radius) for node in picture.nodes if node not in neurons]
    obstacles = Obstacles(tuple(circles), tuple(boxes + sides))
    edges, left, taken = list(picture.edges), [], []
    for n in sorted(range(len(lines)), key=lambda n: edges[n].style == "edge"):
        if not edges[n].label:
            continue
        others = (line for m, line in enumerate(lines) if m != n)
        found = place(edges[n].label, lines[n], obstacles, taken, others, edges[n].pos)
        if found is None:
            left.append(edges[n])
            edges[n] = replace(edges[n], label="")
        else:
            taken.append(found[1])
            edges[n] = replace(edges[n], pos=found[0], at=lines[n].at(found[0]))
    return edges, left


def neuron_radius(text: str) -> float:
    """The radius (cm) of a circle round ``text`` set in the neurons' font, as TikZ draws it
    (half the diagonal of the text's box with its inner sep), rounded up to 0.025 cm."""
    extent = measure(text, SCRIPT)
    half = math.hypot(extent.width / 2 + 1.0, (extent.height + extent.depth) / 2 + 1.0) * PT
    return math.ceil(half / 0.025 - 1e-9) * 0.025


def _stated(symbol: str, label: str) -> str:
    return f"${symbol} = {label.strip('$')}$" if symbol else label


def _fitting(edge: Any, moved: list[str]) -> Any:
    """The edge, its label its symbol where the value is too wide (the value then in ``moved``)."""
    if not edge.label or not edge.symbol:
        return edge
    box = label_box(edge.label, 0.0, 0.0)
    if box.right - box.left <= MAX_LABEL:
        return edge
    moved.append(_stated(edge.symbol, edge.label))
    return replace(edge, label=f"${edge.symbol}$")


def _clear_loss(picture: Any) -> None:
    """Move the loss right until the widest label on an edge into it fits between the output
    neuron and the loss, with room to spare on either side."""
    into = [edge for edge in picture.edges if edge.target == "loss" and edge.label]
    n, loss = next((n, node) for n, node in enumerate(picture.nodes) if node.name == "loss")
    if not into:
        return
    width = max(measure(edge.label).width * PT + 2 * INNER for edge in into)
    output = max(node.x for node in picture.nodes if node.style not in ("dots", "loss"))
    half = (_node_box(loss, picture.radius).right - loss.x) + ARROW
    needed = output + picture.radius + OUTER + width + half + 0.6
    if needed > loss.x:
        picture.nodes[n] = replace(loss, x=round(needed, 2))


def _node_box(node: Any, radius: float) -> Box:
    """The loss's box, or the dots': what edge labels must keep clear of."""
    if node.style == "dots":
        return Box.around(node.x, node.y, 0.4, 0.75)
    extent = measure(node.text, SMALL)
    inner = 6.0  # the loss's inner sep, 1/3 em of \small on either side
    width = max(1.0, (extent.width + inner) * PT) + 2 * OUTER
    height = max(0.8, (extent.height + extent.depth + inner) * PT) + 2 * OUTER
    return Box.around(node.x, node.y, width, height)


def _side_boxes(node: Any, radius: float) -> list[Box]:
    """The boxes of the labels above and below a node (TikZ anchors them at its border)."""
    boxes = []
    reach = radius if node.style != "loss" else _node_box(node, radius).top - node.y - OUTER
    for text, sign in ((node.above, 1), (node.below, -1)):
        if text:
            box = label_box(text, 0.0, 0.0)
            near = node.y + sign * reach
            far = near + sign * (OUTER + box.top - box.bottom)
            box = Box(node.x + box.left, min(near, far), node.x + box.right, max(near, far))
            boxes.append(box)
    return boxes


def _footprint(node: Any, radius: float) -> tuple[list[Box], tuple[float, float, float] | None]:
    """What a node covers: its labels' boxes (and the loss's or the dots' own box), and its
    circle (x, y, r) if it is a neuron."""
    boxes = _side_boxes(node, radius)
    if node.style in ("dots", "loss"):
        return [*boxes, _node_box(node, radius)], None
    return boxes, (node.x, node.y, radius + OUTER)


def _clash(one: tuple, other: tuple) -> bool:
    """Whether two footprints overlap."""
    (boxes, circle), (other_boxes, other_circle) = one, other
    if any(a.meets(b) for a in boxes for b in other_boxes):
        return True
    if circle and any(box.meets_circle(*circle) for box in other_boxes):
        return True
    if other_circle and any(box.meets_circle(*other_circle) for box in boxes):
        return True
    if circle and other_circle:
        (x, y, r), (u, v, q) = circle, other_circle
        return math.hypot(x - u, y - v) < r + q + GAP
    return False


def _clashes(picture: Any) -> list[tuple[int, int]]:
    """The pairs of nodes (indices) that overlap: a neuron and another, or a label above or
    below one and another node or its labels."""
    footprints = [_footprint(node, picture.radius) for node in picture.nodes]
    return [
        (m, n)
        for n in range(len(footprints))
        for m in range(n)
        if _clash(footprints[n], footprints[m])
    ]


def _apart(picture: Any) -> None:
    """Move the rows apart (every node's y, the top and the bottom) until no column's neurons
    and labels above and below them overlap."""
    for _ in range(12):
        if not any(picture.nodes[m].x == picture.nodes[n].x for m, n in _clashes(picture)):
            return
        picture.nodes = [replace(node, y=round(node.y * 1.15, 3)) for node in picture.nodes]
        picture.top, picture.bottom = picture.top * 1.15, picture.bottom * 1.15


def _shorten(picture: Any) -> None:
    """Where labels beside neurons of two columns still overlap, the wider one keeps its symbol
    (``∂a/∂z``) and its value moves to the note."""
    for pair in _clashes(picture):
        k = max(pair, key=lambda n: len(picture.nodes[n].above))
        wide = picture.nodes[k]
        if " = " in wide.above:
            picture.moved.append(wide.above)
            picture.nodes[k] = replace(wide, above=wide.above.split(" = ")[0] + "$")


def _line(picture: Any, edge: Any) -> Line:
    """The edge as drawn: from its source's border to its target's."""
    nodes = {node.name: node for node in picture.nodes}
    source, target = nodes[edge.source], nodes[edge.target]
    start = _border(source, (target.x, target.y), picture.radius)
    end = _border(target, (source.x, source.y), picture.radius)
    return Line(start, end)


def _border(node: Any, toward: tuple[float, float], radius: float) -> tuple[float, float]:
    """Where the line from ``node``'s centre toward a point leaves it."""
    dx, dy = toward[0] - node.x, toward[1] - node.y
    length = math.hypot(dx, dy) or 1.0
    if node.style == "loss":
        box = _node_box(node, radius)
        half_w, half_h = box.right - node.x, box.top - node.y
        scale = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
        return node.x + dx * scale, node.y + dy * scale
    reach = radius + OUTER / 2
    return node.x + dx / length * reach, node.y + dy / length * reach
