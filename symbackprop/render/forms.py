"""One step of backpropagation in index form, matrix form and minibatch form, side by side.

``derive --forms index,matrix,batch``: each row is one quantity (a layer's weighted input and
activation, the output delta, each hidden delta, each layer's gradients), each column one form.
The index form is the derivation's own expression; the matrix form is the one the document's
matrix sections print; the minibatch form is *derived* from the matrix form by stacking the
samples as rows (``stacked``): a per-sample column vector v becomes V^T, so a per-sample
relation transposes, (W a + b)^T = A W^T + 1 b^T, and a per-sample gradient summed over the
batch, sum_i delta_i a_i^T, is Delta^T A (a column left with a sample axis is summed by
multiplying with 1); the mean divides by m.  Under every matrix its shape is written, at the
spec's layer sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import SymbackpropError
from ..symbolic.derivation import Derivation, L
from ..symbolic.network import Elementwise, j, p, q
from .layout import OPERATOR, break_lines, estimate_width
from .steps import L_batch, Nabla, partial

FORMS = ("index", "matrix", "batch")
"""The forms ``--forms`` knows, in the order they are printed."""

FORM_TITLES = {"index": "index form", "matrix": "matrix form", "batch": "minibatch form"}

m = sp.Symbol("m", integer=True, positive=True)
"""The number of samples in a minibatch."""


class Batch(sp.MatrixSymbol):
    """A per-sample column vector stacked over the minibatch, one sample per row: ``Z^{(l)}``
    (m x n_l) for ``z^{(l)}``, ``X`` for the input, ``Y`` for the targets, ``Delta^{(l)}``."""


@dataclass(frozen=True)
class FormCell:
    """One quantity in one form: ``lhs = rhs``; ``shapes`` are the matrices whose shapes are
    written under it (``shape_of``), ``ranges`` the free indices of an index form."""

    lhs: sp.Basic
    rhs: sp.Basic
    shapes: tuple[sp.Basic, ...] = ()
    ranges: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()


@dataclass(frozen=True)
class FormRow:
    """One quantity (``what``, plain words) in each form asked for, in that order."""

    what: str
    cells: tuple[FormCell, ...]


@dataclass(frozen=True)
class FormsTable:
    """The forms section: its forms, its rows and the layer sizes its shapes are taken at."""

    forms: tuple[str, ...]
    rows: tuple[FormRow, ...]
    sizes: dict


def check_forms(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``index,matrix,batch`` (any of them, in any order, each once) as a tuple in FORMS order;
    anything else refused in one line."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    unknown = [n for n in names if n not in FORMS]
    if not names or unknown or len(set(names)) != len(names):
        what = f"unknown form '{unknown[0]}'" if unknown else "each form at most once"
        raise SymbackpropError(
            f"{what if names else 'no form named'} (known: {', '.join(FORMS)})", "--forms"
        )
    return tuple(n for n in FORMS if n in names)


def forms_table(derivation: Derivation, forms: tuple[str, ...]) -> FormsTable:
    """The forms section's builder: every quantity of the step in each of ``forms``."""
    forms = check_forms(forms)
    rows = [
        FormRow(what, tuple(_cell(form, index, matrix) for form in forms))
        for what, index, matrix in _quantities(derivation)
    ]
    return FormsTable(forms, tuple(rows), derivation.network.concrete_sizes())


def _quantities(derivation: Derivation) -> list[tuple[str, FormCell, FormCell]]:
    """(what, index form, matrix form) of each quantity, in the order of one training step."""
    network, output = derivation.network, derivation.output
    rows = []
    for layer in network.layers:
        l, z, a = layer.index, layer.vector("z"), layer.vector("a")
        product = layer.vector("W") * layer.vector("a_in") + layer.vector("b")
        over_j = ((j, layer.n_out),)
        rows.append(
            (f"forward, layer {l}: weighted input",
             FormCell(layer.z[j], layer.z_expr, ranges=over_j), FormCell(z, product))
        )  # fmt: skip
        rows.append(
            (f"forward, layer {l}: activation",
             FormCell(layer.a[j], layer.a_expr, ranges=over_j),
             FormCell(a, Elementwise(layer.activation, z)))
        )  # fmt: skip
    out = network.output
    rows.append(
        ("output delta", FormCell(out.delta[p], output.delta, ranges=((p, out.n_out),)),
         FormCell(out.vector("delta"), _output_matrix(derivation)))
    )  # fmt: skip
    for gradient, upper in zip(reversed(derivation.layers[:-1]), reversed(network.layers[1:])):
        layer = gradient.layer
        recursion = sp.HadamardProduct(
            upper.vector("W").T * upper.vector("delta"),
            Elementwise(layer.activation, layer.vector("z"), 1),
        )
        rows.append(
            (f"recursion, layer {layer.index}",
             FormCell(layer.delta[p], gradient.delta, ranges=((p, layer.n_out),)),
             FormCell(layer.vector("delta"), recursion))
        )  # fmt: skip
    for gradient in derivation.layers:
        layer = gradient.layer
        W, b, delta = layer.vector("W"), layer.vector("b"), layer.vector("delta")
        rows.append(
            (f"gradient, layer {layer.index}: weights",
             FormCell(partial(L, layer.W[p, q]), gradient.dW,
                      ranges=((p, layer.n_out), (q, layer.n_in))),
             FormCell(partial(L, W), delta * layer.vector("a_in").T))
        )  # fmt: skip
        rows.append(
            (f"gradient, layer {layer.index}: biases",
             FormCell(partial(L, layer.b[p]), gradient.db, ranges=((p, layer.n_out),)),
             FormCell(partial(L, b), delta))
        )  # fmt: skip
    return rows


def _output_matrix(derivation: Derivation) -> sp.MatrixExpr:
    """The output delta in vector form, as BP1 of the summary writes it."""
    network, output = derivation.network, derivation.output
    out = network.output
    a_vec, z_vec = out.vector("a"), out.vector("z")
    if network.loss.targets_sum_to_one and output.assumption:
        return a_vec - sp.MatrixSymbol("y", out.n_out, 1)
    if out.activation.elementwise:
        return sp.HadamardProduct(Nabla(a_vec), Elementwise(out.activation, z_vec, 1))
    return Nabla(z_vec)


def _cell(form: str, index: FormCell, matrix: FormCell) -> FormCell:
    """One quantity in ``form``: the index form with its free indices' ranges, the matrix
    form, or the minibatch form derived from the matrix form; each with its matrices."""
    if form == "index":
        return index
    if form == "matrix":
        return FormCell(matrix.lhs, matrix.rhs, _matrices(matrix.lhs, matrix.rhs))
    lhs, rhs = _batch(matrix.lhs, matrix.rhs)
    return FormCell(lhs, rhs, _matrices(lhs, rhs))


def _batch(lhs: sp.Basic, rhs: sp.MatrixExpr) -> tuple[sp.Basic, sp.MatrixExpr]:
    """The minibatch form of a per-sample matrix-form equation: a relation between vectors
    transposed with every vector stacked; a gradient summed over the batch, its mean."""
    if isinstance(lhs, sp.Derivative):
        total = _summed(rhs)
        if total.shape[1] == m:  # a sample axis left: summed by the ones vector
            total = total * sp.OneMatrix(m, 1)
        return partial(L_batch, lhs.variables[0]), sp.MatMul(1 / m, total)
    return stacked(lhs), stacked(rhs)


def stacked(expr: sp.Basic) -> sp.Basic:
    """A per-sample column-vector expression with the samples stacked as rows: its transpose,
    each vector v^T written as the batch matrix V and the bias b^T broadcast as 1 b^T."""
    if isinstance(expr, sp.MatrixSymbol) and expr.shape[1] == 1:
        if expr.name.startswith("b"):
            return sp.OneMatrix(m, 1) * expr.T
        return Batch(expr.name, m, expr.shape[0])
    if isinstance(expr, sp.MatrixSymbol):  # a parameter matrix
        return expr.T
    if isinstance(expr, sp.Transpose):
        return expr.arg  # (W^T)^T
    if isinstance(expr, sp.MatMul):
        scalars = [arg for arg in expr.args if not isinstance(arg, sp.MatrixExpr)]
        matrices = [stacked(arg) for arg in reversed(expr.args) if isinstance(arg, sp.MatrixExpr)]
        return sp.MatMul(*scalars, *matrices)
    if isinstance(expr, sp.MatAdd):
        return sp.MatAdd(*(stacked(arg) for arg in expr.args))
    if isinstance(expr, sp.HadamardProduct):
        return sp.HadamardProduct(*(stacked(arg) for arg in expr.args))
    if isinstance(expr, Elementwise):
        return Elementwise(expr.activation, stacked(expr.args[1]), int(expr.args[2]))
    if isinstance(expr, Nabla):
        return Nabla(stacked(expr.args[0]))
    raise TypeError(f"no minibatch form for {type(expr).__name__}")


def _summed(expr: sp.MatrixExpr) -> sp.MatrixExpr:
    """A per-sample gradient (products of vectors, v and u^T) with the samples stacked, the
    product summing over them: v -> V^T, u^T -> U."""
    if isinstance(expr, sp.Transpose):
        return Batch(expr.arg.name, m, expr.arg.shape[0])
    if isinstance(expr, sp.MatrixSymbol):
        return Batch(expr.name, m, expr.shape[0]).T
    if isinstance(expr, sp.MatMul):
        return sp.MatMul(*(_summed(arg) for arg in expr.args))
    raise TypeError(f"no minibatch sum for {type(expr).__name__}")


def _matrices(lhs: sp.Basic, rhs: sp.Basic) -> tuple[sp.Basic, ...]:
    """The matrices of an equation whose shapes are written under it, each once, in order."""
    found: list[sp.Basic] = []
    for expr in (lhs, rhs):
        for sub in sp.preorder_traversal(expr):
            if isinstance(sub, sp.MatrixSymbol | sp.OneMatrix) and sub not in found:
                found.append(sub)
    return tuple(found)


def shape_of(matrix: sp.Basic, sizes: dict) -> tuple[sp.Expr, sp.Expr]:
    """A matrix's shape at the spec's layer sizes (the minibatch's m stays a symbol)."""
    rows, cols = sp.Tuple(*matrix.shape).xreplace(sizes)  # ints or symbols, never strings
    return rows, cols


GAP = 0.015
"""The space between two columns, a fraction of the line."""
CELL_WIDTH = 420.0
"""Points the columns of the LaTeX table share (an A4 page with 2 cm margins, less gaps)."""


@dataclass(frozen=True)
class PrintedCell:
    """A cell as printed: the equation's lines (a long right side broken) and the shapes."""

    lines: tuple[str, ...]
    shapes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PrintedForms:
    """The forms section in one format: column headings, each column's width (a fraction of
    the line), and the rows."""

    headings: tuple[str, ...]
    width: float
    rows: tuple[tuple[str, tuple[PrintedCell, ...]], ...]
    gap: float = GAP


def printed_forms(
    table: FormsTable, fmt: str, printer: sp.printing.printer.Printer
) -> PrintedForms:
    """The table printed by ``printer`` (LaTeX for latex and markdown, Unicode for text); a
    LaTeX equation too long for its column is broken by ``layout.break_lines``."""
    columns = len(table.forms)
    budget = CELL_WIDTH / columns - 2 * OPERATOR
    rows = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            lhs = printer.doprint(cell.lhs)
            if fmt == "text":
                lines: list[str] = [printer.doprint(cell.rhs)]
            else:
                lines = break_lines(cell.rhs, printer, budget - estimate_width(lhs))
            shapes = [(printer.doprint(x), _size(printer, shape_of(x, table.sizes), fmt))
                      for x in cell.shapes]  # fmt: skip
            shapes += [(printer.doprint(index), _range(printer, index, size, table.sizes, fmt))
                       for index, size in cell.ranges]  # fmt: skip
            cells.append(PrintedCell((lhs, *lines), tuple(shapes)))
        rows.append((row.what, tuple(cells)))
    headings = tuple(FORM_TITLES[form] for form in table.forms)
    width = round((1 - GAP * (columns - 1)) / columns - 0.002, 3)
    return PrintedForms(headings, width, tuple(rows))


def _size(printer: sp.printing.printer.Printer, shape: tuple, fmt: str) -> str:
    rows, cols = (printer.doprint(n) for n in shape)
    return f"{rows}×{cols}" if fmt == "text" else rf"{rows} \times {cols}"


def _range(
    printer: sp.printing.printer.Printer, index: sp.Symbol, size: sp.Expr, sizes: dict, fmt: str
) -> str:
    """Where a free index runs, counted as the profile counts (first .. last)."""
    offset = getattr(getattr(printer, "notation", None), "index_offset", None)
    if offset is None:
        offset = getattr(printer, "offset", 0)
    last = int(size.xreplace(sizes)) - 1 + offset
    return f"{offset}…{last}" if fmt == "text" else rf"{offset}, \dots, {last}"
