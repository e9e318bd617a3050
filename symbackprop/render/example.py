"""A worked numeric example: one forward and backward pass on one sample, every number shown.

The numbers come from running the generated module (``intermediates``); before they are shown,
every checkable step of the derivation is evaluated with them and must agree. The lecturer picks
the initial weights (an ``.npz`` in the format of ``symbackprop.run.weights``), the sample (an index
into the training data) and the number of significant digits; the example ends with one step of
the spec's optimizer and the new weights, taken from the module's own training kernel and checked
against the update rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from ..errors import SymbackpropError
from ..spec.optimizers import TITLES, OptimizerConfig
from ..symbolic.derivation import Derivation, L
from ..symbolic.network import ActivationFunction, ActivationPrime, Layer, j, p, q
from ..symbolic.optimizers import eta, g, rule, t, theta
from .numeric import check_derivation, element_value, evaluate
from .printing import BackpropLatexPrinter, Ordinal, decimal_number
from .steps import Section, Step, partial
from .written import in_order

DIGITS = 4
"""Significant digits shown (default)."""
MAX_DIGITS = 15
"""More than a float64 holds would be noise."""

MORE_DIGITS = (
    "a written-out line whose rounded numbers would not give its result carries more, and says so"
)
"""How the example rounds, in its intro (``Shown.guarded`` says it at each such line)."""
MAX_SHOWN = 8
"""Vectors longer than this are cut (with a final ellipsis); matrices larger are left out."""
MAX_SUBSTITUTED = 4
"""Layers with at most this many inputs show their first weighted sum with the numbers in it."""
MAX_NUMBERS = 9
"""A wider layer's delta is still written out where it takes at most this many numbers (a
softmax with cross-entropy: a - y, whatever the width)."""
@dataclass(frozen=True)
class WorkedExample:
    """One sample's pass through the generated module and one optimizer step on it."""

    values: dict[str, np.ndarray]
    """Every array of the pass (A0, Z1, ..., dW1, db1, ...), the params (W1, b1, ...) and Y."""
    new_params: dict[str, np.ndarray]
    """The parameters after one step of the optimizer on this sample, by name."""
    sample: int | None
    """The sample's index in the training data (None: a random sample; the spec has no data)."""
    chosen: bool
    """Whether the sample was picked by default (the first with no all-zero gradient)."""
    weights: Path | None
    """Where the initial weights came from (None: the module's init_params(seed))."""
    optimizer: OptimizerConfig
    learning_rate: float
    """The rate of the step: the schedule's rate of epoch 0 (the spec's rate without one)."""
    train_biases: bool
    traces: dict[str, list[dict[str, np.ndarray]]]
    """Per trained parameter, the rule's values before each assignment and after the last
    (``optimizers.reference_trace`` at step t = 1 from a zero state)."""
    differences: dict[str, np.ndarray] | None = None
    """``--fd``: per parameter (W1, b1, ...), the central difference (L(θ+h) - L(θ-h)) / 2h of
    the module's loss at each entry the example prints (``shown_entries``), NaN elsewhere."""
    difference_step: float = 0.0
    """The h of ``differences``."""
    relative_differences: dict[str, np.ndarray] | None = None
    """Each difference's relative difference from the module's gradient (``gradcheck``'s
    measure; NaN where no difference was taken)."""


def check_digits(digits: int) -> int:
    """Validate the number of significant digits shown."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= MAX_DIGITS:
        raise SymbackpropError(
            f"must be an integer from 1 to {MAX_DIGITS}, not {digits!r}", "--digits"
        )
    return digits


def example_section(
    derivation: Derivation, example: WorkedExample, digits: int = DIGITS
) -> Section:
    """The worked example, in textbook order (the forward values layer by layer, the loss, the
    output delta, the hidden deltas, the gradients, the step), each formula written out with
    its numbers in its own order; fails if any displayed formula disagrees with the module's
    numbers."""
    digits = check_digits(digits)
    rtol = 1e-5 if derivation.network.spec.dtype == "float32" else 1e-9
    problems = check_derivation(derivation, example.values, rtol)
    if problems:
        raise SymbackpropError(f"formula and code disagree: {problems[0]}", "--example")
    shown = Shown(digits, example.values, derivation.network.concrete_sizes())
    steps = [
        *_forward_steps(derivation, shown),
        *_loss_steps(derivation, shown),
        *_delta_steps(derivation, shown),
        *_gradient_steps(derivation, example, shown),
        *_update_steps(derivation, example, shown),
    ]
    return _section(example, digits, rtol, steps)


def _forward_steps(derivation: Derivation, shown: Shown) -> list[Step]:
    """The input and target, then per layer its parameters, z and a (first entries written
    out where the layer is small)."""
    network, values = derivation.network, shown.values
    steps = [
        Step("example", network.layers[0].vector("a_in"), (shown.vector(values["A0"][0]),),
             "input"),
        Step("example", sp.MatrixSymbol("y", network.output.n_out, 1),
             (shown.vector(values["Y"][0]),), "target"),
    ]  # fmt: skip
    for layer in network.layers:
        l = layer.index
        steps.append(
            Step("example", layer.vector("W"), (shown.matrix(values[f"W{l}"]),), "weights")
        )
        steps.append(Step("example", layer.vector("b"), (shown.vector(values[f"b{l}"]),), "biases"))
        if shown.sizes[layer.n_in] <= MAX_SUBSTITUTED:
            steps.append(shown.written(layer.z[0], layer.z_expr.xreplace({j: 0}), "first entry"))
        steps.append(Step("example", layer.vector("z"), (shown.vector(values[f"Z{l}"][0]),), ""))
        if layer.activation.elementwise or shown.sizes[layer.n_out] <= MAX_SUBSTITUTED:
            why = rf"${layer.activation.latex}$"  # LaTeX text, as the derivation's reasons
            steps.append(shown.written(layer.a[0], layer.a_expr.xreplace({j: 0}), why))
        steps.append(Step("example", layer.vector("a"), (shown.vector(values[f"A{l}"][0]),), ""))
    return steps


def _loss_steps(derivation: Derivation, shown: Shown) -> list[Step]:
    """The loss, written out over the outputs where there are few."""
    network = derivation.network
    why = f"${network.loss.latex}$"
    if shown.sizes[network.output.n_out] > MAX_SUBSTITUTED:
        return [Step("example", L, (shown.number(shown.values["loss"]),), why)]
    return [shown.written(L, network.loss_expr, why, result=float(shown.values["loss"]))]


def _delta_steps(derivation: Derivation, shown: Shown) -> list[Step]:
    """The output delta, then the hidden deltas backwards: first entries written out."""
    network, values = derivation.network, shown.values
    steps = []
    for gradient in reversed(derivation.layers):
        layer = gradient.layer
        l = layer.index
        last = layer is network.output
        small = shown.sizes[network.layers[l].n_out if not last else layer.n_out]
        formula = gradient.delta.xreplace({p: 0})
        if small <= MAX_SUBSTITUTED or shown.numbers_in(formula) <= MAX_NUMBERS:
            for prime in sorted(formula.atoms(ActivationPrime), key=str):
                steps.append(shown.written(prime, prime.expanded(), "its derivative, evaluated"))
            why = "output delta, first entry" if last else "first entry"
            steps.append(shown.written(layer.delta[0], formula, why))
        steps.append(
            Step("example", layer.vector("delta"), (shown.vector(values[f"delta{l}"][0]),), "")
        )
    return steps


def _gradient_steps(
    derivation: Derivation, example: WorkedExample, shown: Shown
) -> list[Step]:
    """Per layer: the weight gradient's entry the step shows, written out, then both arrays."""
    steps = []
    for gradient in derivation.layers:
        layer = gradient.layer
        l = layer.index
        W, b = layer.vector("W"), layer.vector("b")
        delta = layer.vector("delta")
        row, col = _first_nonzero(example.values[f"dW{l}"])
        steps.append(gradient_entry(derivation, shown, l, row, col))
        steps.append(
            Step("example", partial(L, W), (shown.matrix(example.values[f"dW{l}"]),), r"${0}$",
                 why_math=(delta * layer.vector("a_in").T,))
        )  # fmt: skip
        steps.append(
            Step("example", partial(L, b), (shown.vector(example.values[f"db{l}"]),), r"${0}$",
                 why_math=(delta,))
        )  # fmt: skip
        if example.differences is not None:
            steps += _difference_steps(W, layer.W[row, col], f"W{l}", (row, col), example, shown)
            first = _first_nonzero(example.values[f"db{l}"])
            steps += _difference_steps(b, layer.b[first], f"b{l}", first, example, shown)
    return steps


def _section(example: WorkedExample, digits: int, rtol: float, steps: list[Step]) -> Section:
    """The example's section: its steps under both intros (the sample's number in {0})."""
    intro, lecture = (_intro(example, digits, rtol, lecture=x) for x in (False, True))
    number = () if example.sample is None else (Ordinal(example.sample),)
    return Section(
        "Worked example", tuple(steps), intro, intro_math=number, lecture_intro=lecture
    )


def _intro(example: WorkedExample, digits: int, rtol: float, lecture: bool = False) -> str:
    """The example's first paragraph; ``lecture``: without what the module computed and how
    the numbers were checked. The sample's number is {0}, printed in the document's index
    convention (``printing.Ordinal``)."""
    if example.sample is None:
        which = "a random sample (the spec has no training data)"
    elif example.chosen:
        which = (
            "sample {0} of the training data (the first whose gradients have no "
            "all-zero array)"
        )
    else:
        which = "sample {0} of the training data"
    start = (
        rf"the weights from \texttt{{{_tex_text(example.weights.name)}}}"
        if example.weights is not None
        else r"the initial weights of \texttt{init\_params(seed)}"
    )
    frozen = "; the biases are frozen." if not example.train_biases else "."
    if lecture:
        return (
            f"One forward and backward pass on {which.split(' (')[0]}, every number rounded to "
            f"{digits} significant digits ({MORE_DIGITS}). It ends with "
            f"{_describe(example.optimizer)} on this sample alone (learning rate "
            f"{example.learning_rate:g}){frozen}"
        )
    return (
        f"One forward and backward pass on {which}, from {start}, with the numbers the generated "
        f"module computed (rounded to {digits} significant digits; {MORE_DIGITS}); every formula "
        f"above was evaluated with them and agrees to {rtol:g}. It ends with "
        f"{_describe(example.optimizer)} on this sample alone (learning rate "
        f"{example.learning_rate:g}), as the module's training kernel takes it"
        + (
            "; the biases are frozen (\\texttt{train\\_biases = false})."
            if not example.train_biases
            else "."
        )
    )


def _tex_text(value: str) -> str:
    """A file name safe inside ``\\texttt{}`` (LaTeX's special characters escaped or dropped)."""
    out = "".join(ch for ch in value if ch not in "\\^~{}")
    for char in "$&#_%":
        out = out.replace(char, "\\" + char)
    return out


def _describe(optimizer: OptimizerConfig) -> str:
    """What the example's last step is, for the introduction."""
    update = rule(optimizer)
    if not update.state and len(update.assignments) == 1:
        return "one gradient-descent step"
    settings = ", ".join(f"${sp.latex(k)} = {v:g}$" for k, v in update.hyper.items())
    return (
        f"one step of {TITLES[optimizer.name]} (the update rule above at $t = 1$, its state "
        f"starting at zero{'; ' + settings if settings else ''})"
    )


def _update_steps(derivation: Derivation, example: WorkedExample, shown: Shown) -> list[Step]:
    """The rule's assignments for one entry of every parameter, the symbols first (theta - eta g
    with the entry's own names), then the numbers in the same places; then the new array."""
    values = example.values
    steps = []
    for layer in derivation.network.layers:
        for kind in ("W", "b"):
            name = f"{kind}{layer.index}"
            symbol = layer.vector(kind)
            new = example.new_params[name]
            if name not in example.traces:
                steps.append(
                    Step("example", symbol, (shown.vector(new),), "frozen", relation=r"\leftarrow")
                )
                continue
            element = _first_nonzero(values["d" + name])
            steps += update_entry(example, shown, layer, kind, element)
            result = shown.matrix(new) if kind == "W" else shown.vector(new)
            steps.append(
                Step("example", symbol, (result,), "after the step", relation=r"\leftarrow")
            )
    return steps


def gradient_entry(derivation: Derivation, shown: Shown, l: int, row: int, col: int) -> Step:
    """The gradient of the weight ``W{l}[row, col]``: its formula (BP4 in index form), the
    numbers in the same places, the result."""
    gradient = derivation.layers[l - 1]
    entry = gradient.dW.xreplace({p: row, q: col})
    return shown.written(partial(L, gradient.layer.W[row, col]), entry, "")


def update_entry(
    example: WorkedExample, shown: Shown, layer: Layer, kind: str, element: tuple[int, ...]
) -> list[Step]:
    """The optimizer's assignments for one entry of ``layer``'s W or b (``kind``): each with
    the entry's own names (theta - eta g), then the numbers in the same places, the result."""
    update = rule(example.optimizer)
    known = update.hyper | {eta: example.learning_rate}
    entry = layer.W[element] if kind == "W" else layer.b[element]
    names = {theta: entry, g: partial(L, entry)}
    trace = example.traces[f"{kind}{layer.index}"]
    steps = []
    for number, assignment in enumerate(update.assignments):
        before = {k: float(v[element]) for k, v in trace[number].items()}
        result = float(trace[number + 1][assignment.lhs.name][element])
        formula = shown.ordered(assignment.rhs.xreplace({t: sp.Integer(1)} | names))
        numbers = {value: sp.Symbol(symbol.name) for symbol, value in names.items()}
        written, digits = shown.assignment(formula.xreplace(numbers), before, known, result)
        why = assignment.why + (
            rf", $\eta = {example.learning_rate:g}$" if assignment.rhs.has(eta) else ""
        )
        lhs = names.get(assignment.lhs, assignment.lhs)
        rhs = (formula, written, shown.number(result))
        steps.append(
            Step("example", lhs, rhs, shown.guarded(why, digits), relation=r"\leftarrow")
        )
    return steps


def shown_entries(gradient: np.ndarray) -> list[tuple[int, ...]]:
    """The entries of a gradient array the example prints: its written-out entry, and every
    entry of the array where it is shown (vectors: the first MAX_SHOWN)."""
    entries = [_first_nonzero(gradient)]
    if gradient.ndim == 1:
        entries += [(i,) for i in range(min(len(gradient), MAX_SHOWN))]
    elif max(gradient.shape) <= MAX_SHOWN:
        entries += list(np.ndindex(gradient.shape))
    return list(dict.fromkeys(entries))


class CentralDifference(sp.Basic):
    """(L(θ + h) - L(θ - h)) / 2h for a parameter or one of its entries (display only)."""

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        theta_, loss = printer._print(self.args[0]), printer._print(L)
        return rf"\frac{{{loss}({theta_} + h) - {loss}({theta_} - h)}}{{2h}}"

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        theta_, loss = printer._print(self.args[0]), printer._print(L)
        return f"({loss}({theta_} + h) - {loss}({theta_} - h))/2h"


def _difference_steps(
    layer_symbol: sp.Basic, entry_symbol: sp.Basic, name: str, element: tuple[int, ...],
    example: WorkedExample, shown: Shown,
) -> list[Step]:  # fmt: skip
    """``--fd``: the central difference beside a printed gradient (its written entry, then the
    array), with the h used and the relative difference from the module's gradient."""
    fd, relative = example.differences[name], example.relative_differences[name]
    mask = ~np.isnan(fd)
    worst = float(np.max(relative[mask]))
    h = f"$h = {example.difference_step:g}$"
    one = float(relative[element])
    steps = [
        Step("example", CentralDifference(entry_symbol), (shown.number(fd[element]),),
             f"central difference of the loss, {h}; relative difference {one:.1e}")
    ]  # fmt: skip
    if mask.all() or fd.ndim == 1:
        values = shown.matrix(fd) if fd.ndim == 2 else shown.vector(fd)
        steps.append(
            Step("example", CentralDifference(layer_symbol), (values,),
                 f"each entry so, {h}; largest relative difference {worst:.1e}")
        )  # fmt: skip
    return steps


def _first_nonzero(gradient: np.ndarray) -> tuple[int, ...]:
    """The first entry (row-major) of a gradient that is not zero; the first entry otherwise."""
    nonzero = np.flatnonzero(gradient)
    flat = int(nonzero[0]) if len(nonzero) else 0
    return tuple(int(i) for i in np.unravel_index(flat, gradient.shape))


class Shown:
    """Numbers as printed: ``digits`` significant digits, guard digits inside written-out
    formulas; ``values`` and ``sizes`` are the example's arrays and the layer sizes."""

    def __init__(
        self, digits: int, values: dict[str, np.ndarray] | None = None, sizes: dict | None = None
    ) -> None:
        self.digits = digits
        self.values = values or {}
        self.sizes = sizes or {}

    def number(self, value: float, digits: int | None = None) -> sp.Float:
        """``value`` rounded once, in decimal (sp.Float(value, d) would round in binary first),
        printed with all its digits where rounding changed it (``printing.decimal_number``)."""
        return decimal_number(value, digits or self.digits)

    def vector(self, values: np.ndarray) -> sp.Basic:
        """A column vector of rounded numbers, written as a transposed row (cut after MAX_SHOWN)."""
        shown = [self.number(v) for v in values[:MAX_SHOWN]]
        if len(values) > MAX_SHOWN:
            shown.append(sp.Symbol(r"\dots"))
        return sp.Transpose(sp.ImmutableMatrix([shown]))

    def matrix(self, values: np.ndarray) -> sp.Basic:
        """A matrix of rounded numbers, or its shape where it is too large to show."""
        if max(values.shape) > MAX_SHOWN:
            return sp.Symbol(rf"({values.shape[0]} \times {values.shape[1]}\ \text{{matrix}})")
        return sp.Matrix(values.shape[0], values.shape[1], [self.number(v) for v in values.ravel()])

    @staticmethod
    def ordered(formula: sp.Expr) -> sp.Expr:
        """A formula fixed in the order the document prints it (``written.in_order``)."""
        printer = BackpropLatexPrinter()
        formula = formula.replace(sp.Max, WrittenMax)
        return in_order(formula, printer.ordered_terms)

    def written(
        self, lhs: sp.Basic, formula: sp.Expr, why: str, result: float | None = None
    ) -> Step:
        """``lhs = formula = the formula with numbers = result``: an index-form formula (its
        free indices fixed) in its printed order, then with the numbers in the same places."""
        formula, conditions = self.branch(formula.xreplace(self.sizes))
        formula = self.ordered(formula)
        if result is None:
            result = evaluate(formula.doit(), self.values, self.sizes)
        numbers, digits = self.substituted(formula, self.values, self.sizes, result)
        if conditions:  # the branch of a Piecewise the numbers take
            held = ", ".join(f"${{{n}}}$" for n in range(len(conditions)))
            why = f"{why}; the branch where {held} holds" if why else f"where {held} holds"
        return Step("example", lhs, (formula, numbers, self.number(result)),
                    self.guarded(why, digits), why_math=conditions)  # fmt: skip

    def branch(self, formula: sp.Expr) -> tuple[sp.Expr, tuple[sp.Basic, ...]]:
        """A formula with each Piecewise replaced by the branch the example's numbers take
        (sums over a few outputs written out first, so each has its own numbers), and the
        conditions that chose them (an ``otherwise`` branch: the earlier conditions negated)."""
        if not formula.has(sp.Piecewise):
            return formula, ()
        formula = formula.replace(
            lambda e: isinstance(e, sp.Sum), lambda e: e.doit(deep=False)
        )
        chosen, conditions = {}, []
        for piecewise in sorted(formula.atoms(sp.Piecewise), key=sp.default_sort_key):
            failed = []
            for piece, condition in piecewise.args:
                if condition == sp.true or self.holds(condition):
                    chosen[piecewise] = piece
                    held = condition if condition != sp.true else sp.And(*failed)
                    conditions += [held] if held != sp.true else []
                    break
                failed.append(sp.Not(condition))
        return formula.xreplace(chosen), tuple(conditions)

    def holds(self, condition: sp.Basic) -> bool:
        """Whether a Piecewise condition holds at the example's numbers."""
        numbers = {
            e: sp.Float(element_value(e, self.values)) for e in condition.atoms(sp.Indexed)
        }
        return bool(condition.xreplace(numbers) == sp.true)

    def numbers_in(self, formula: sp.Expr) -> int:
        """How many numbers the formula takes when written out (its sums expanded)."""
        sums = [s.xreplace(self.sizes) for s in formula.atoms(sp.Sum)]
        outside = formula.replace(lambda e: isinstance(e, sp.Sum), lambda e: sp.Integer(1))
        inside = sum(len(s.doit(deep=False).atoms(sp.Indexed)) for s in sums)
        return len(outside.atoms(sp.Indexed)) + inside

    def guarded(self, why: str, digits: int) -> str:
        """A line's reason, saying so where its numbers carry more than ``self.digits``."""
        if digits == self.digits:
            return why
        said = f"numbers to {digits} digits: with {self.digits} the line misses its result"
        return f"{why}; {said}" if why else said

    def substituted(
        self, expr: sp.Expr, values: dict[str, np.ndarray], sizes: dict, result: float
    ) -> tuple[sp.Expr, int]:
        """An index-form expression with the numbers in place, unevaluated, that reproduces
        ``result`` to ``digits`` when worked out, and the digits its numbers carry: ``digits``,
        or more where the line needs them to reproduce its result."""
        expr = expr.xreplace(sizes)
        primes = {  # f'(z) evaluated in a step of its own: its number here
            prime: evaluate(prime, values, sizes) for prime in expr.atoms(ActivationPrime)
        }

        def written(guard: int) -> sp.Expr:
            digits = self.digits + guard
            evaluated = {k: sp.UnevaluatedExpr(self.number(v, digits)) for k, v in primes.items()}
            return expr.xreplace(evaluated).replace(
                lambda e: isinstance(e, sp.Indexed),
                lambda e: sp.UnevaluatedExpr(
                    self.number(element_value(e, values), self.digits + guard)
                ),
            )

        return self._reproducing(written, result)

    def assignment(
        self,
        rhs: sp.Expr,
        before: dict[str, float],
        known: dict[sp.Symbol, float],
        result: float,
    ) -> tuple[sp.Expr, int]:
        """An assignment's right side at step t = 1 with numbers for its symbols: the values
        ``before`` it and the settings ``known`` (exactly where short, else rounded as the
        values), and the digits they carry (as ``substituted``)."""
        rhs = rhs.xreplace({t: sp.Integer(1)}).replace(sp.Max, WrittenMax)

        def written(guard: int) -> sp.Expr:
            digits = self.digits + guard
            numbers = {
                symbol: sp.UnevaluatedExpr(
                    self.setting(known[symbol], digits)
                    if symbol in known
                    else self.number(before[symbol.name], digits)
                )
                for symbol in rhs.free_symbols
            }
            return rhs.xreplace(numbers)

        return self._reproducing(written, result)

    def setting(self, value: float, digits: int) -> sp.Float:
        """A setting (learning rate, beta) as written in the spec where that is short, else
        rounded like the other numbers of its line."""
        exact = repr(float(value))
        if len(exact.replace("-", "").replace(".", "").lstrip("0")) <= digits:
            return sp.Float(exact, "")
        return self.number(value, digits)

    def _reproducing(
        self, written: Callable[[int], sp.Expr], result: float
    ) -> tuple[sp.Expr, int]:
        """The line at ``digits``, else with the fewest extra (guard) digits that reproduce
        ``result``; and the digits used."""
        target = rounded(result, self.digits)
        for guard in range(MAX_DIGITS - self.digits + 1):
            shown = written(guard)
            if rounded(worked_out(shown), self.digits) == target:
                return shown, self.digits + guard
        return written(MAX_DIGITS - self.digits), MAX_DIGITS


class WrittenMax(sp.Function):
    """max(a, b) with numbers written in (SymPy's Max compares its arguments, so cannot hold
    them unevaluated); ``doit`` evaluates it."""

    def doit(self, **hints: object) -> sp.Expr:
        return sp.Max(*(arg.doit(**hints) for arg in self.args))

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        return rf"\max\left({', '.join(printer._print(arg) for arg in self.args)}\right)"

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        return f"max({', '.join(printer._print(arg) for arg in self.args)})"


def rounded(value: float, digits: int) -> str:
    """A number to ``digits`` significant digits, as text (for comparing printed results)."""
    if value == 0 or not math.isfinite(value):
        return repr(float(value))
    return f"{value:.{digits - 1}e}"


def worked_out(expr: sp.Expr) -> float:
    """The value of a written-out expression (numbers in UnevaluatedExpr, activations)."""
    expr = expr.replace(lambda e: isinstance(e, sp.Float), lambda e: sp.Float(str(e), 40))
    expr = expr.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0]).doit()
    expr = expr.replace(
        lambda e: isinstance(e, ActivationFunction | ActivationPrime), lambda e: e.expanded()
    )
    return float(sp.N(expr, 30))
