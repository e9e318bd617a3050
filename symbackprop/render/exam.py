"""An exam variant laid out: the exercise sheet (the numbers given, the formulas to use, blanks)
and its solution sheet (the worked example with every substitution, the answers boxed).

The numbers come from ``run.exam`` (the generated module's pass and step, as for ``derive
--example``); here they are only printed. The templates ``exam_exercise.tex.jinja`` and
``exam_solution.tex.jinja`` receive printed strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..symbolic.derivation import Derivation, L
from ..util.resources import environment
from ..util.version import __version__
from .document import DerivationDocument, lecture_section
from .example import (
    MORE_DIGITS,
    Shown,
    WorkedExample,
    example_section,
    gradient_entry,
    update_entry,
)
from .printing import BackpropLatexPrinter, Notation, function_names, typewriter
from .steps import Section, Step, partial

FORMULA_SECTIONS = ("Forward pass, matrix form", "Loss", "Activation derivatives")
"""Sections of the lecture derivation an exercise sheet prints as the formulas to use (then the
four equations of backpropagation and the update)."""
SUMMARY = "Summary: the four equations of backpropagation (BP1 to BP4)"
UPDATE = "The update"


@dataclass(frozen=True)
class ExamVariant:
    """One variant's numbers and what its exercise asks for."""

    number: int
    example: WorkedExample
    named: tuple[tuple[int, int, int], ...]
    """The weights whose gradient and update are asked for: (layer, row, column), from 0."""
    hidden: int
    """The layer whose (hidden) delta is asked for."""
    digits: int


class Boxed(sp.Basic):
    """A final value, boxed on the solution sheet."""

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        return rf"\boxed{{{printer._print(self.args[0])}}}"


def numbers_in(text: str) -> set[float]:
    """The magnitudes of every number written in a LaTeX text (to check that no answer is)."""
    return {abs(float(t)) for t in re.findall(r"\d+(?:\.\d+)?", text)}


def questions(derivation: Derivation, variant: ExamVariant) -> list[tuple[str, Step]]:
    """(answer key, step) per question, in textbook order; the step's right side is the answer
    (a number or a vector of numbers, unrounded)."""
    network = derivation.network
    values = variant.example.values
    asked: list[tuple[str, Step]] = []

    def add(key: str, lhs: sp.Basic, array: np.ndarray, why: str, relation: str = "=") -> None:
        asked.append((key, Step("exam", lhs, (sp.ImmutableMatrix(array.ravel()),), why,
                                relation=relation)))  # fmt: skip

    for layer in network.layers:
        l = layer.index
        add(f"z{l}", layer.vector("z"), values[f"Z{l}"][0], f"The weighted sums of layer {l}")
        add(f"a{l}", layer.vector("a"), values[f"A{l}"][0], f"The activations of layer {l}")
    add("loss", L, np.array([float(values["loss"])]), "The loss")
    output = network.output.index
    add(f"delta{output}", network.output.vector("delta"), values[f"delta{output}"][0],
        "The output delta")  # fmt: skip
    hidden = network.layers[variant.hidden - 1]
    add(f"delta{variant.hidden}", hidden.vector("delta"), values[f"delta{variant.hidden}"][0],
        f"The delta of hidden layer {variant.hidden}")  # fmt: skip
    for l, row, col in variant.named:
        layer = network.layers[l - 1]
        add(f"dW{l}[{row},{col}]", partial(L, layer.W[row, col]),
            np.array([values[f"dW{l}"][row, col]]), "The gradient of one weight")  # fmt: skip
    for l, row, col in variant.named:
        layer = network.layers[l - 1]
        add(f"W{l}[{row},{col}]", layer.W[row, col],
            np.array([variant.example.new_params[f"W{l}"][row, col]]),
            "The weight after one gradient-descent step", relation=r"\leftarrow")  # fmt: skip
    return asked


def exercise_tex(derivation: Derivation, variant: ExamVariant, notation: Notation) -> str:
    """The exercise sheet of a variant: the numbers, the formulas and blanks, no answer."""
    document = DerivationDocument(derivation, notation, lecture=True)
    printer = BackpropLatexPrinter(document.notation)
    tasks = [
        {"what": step.why, "lhs": printer.doprint(step.lhs), "relation": step.relation,
         "blanks": len(step.rhs[0])}
        for _, step in questions(derivation, variant)
    ]  # fmt: skip
    formulas = formula_section(document)
    return _render(
        "exam_exercise.tex.jinja", derivation, variant, document,
        formulas=document.section_latex(formulas), tasks=tasks,
    )  # fmt: skip


def formula_section(document: DerivationDocument) -> Section:
    """The lecture derivation's forward pass, loss, activation derivatives, BP1 to BP4 and the
    update, as one section without reasons (they cite equations the sheet does not print)."""
    titles = (*FORMULA_SECTIONS, SUMMARY, UPDATE)
    chosen = sorted(
        (s for s in document.sections() if s.title in titles), key=lambda s: titles.index(s.title)
    )
    steps = tuple(
        replace(step, why="", reasons=(), why_math=(), lecture_reasons=(), note="")
        for section in chosen
        for step in section.steps
        if not any(s.name == "m" for r in step.rhs for s in r.free_symbols)  # one sample here
    )
    return Section("Formulas to use", steps)


def solution_tex(derivation: Derivation, variant: ExamVariant, notation: Notation) -> str:
    """The solution sheet: every substitution of the worked example, the answers boxed."""
    document = DerivationDocument(derivation, notation, lecture=True)
    worked = lecture_section(example_section(derivation, variant.example, variant.digits))
    boxed = {str(step.lhs) for _, step in questions(derivation, variant)}
    steps = [
        replace(step, rhs=step.rhs[:-1] + (Boxed(step.rhs[-1]),))
        if step.lhs.is_symbol and str(step.lhs) in boxed and not step.relation.startswith("\\")
        else step
        for step in worked.steps
    ]
    steps += _named_steps(derivation, variant)
    intro = (
        f"Every number rounded to {variant.digits} significant digits ({MORE_DIGITS}); the "
        "answers asked for are boxed."
    )
    section = Section("Solution", tuple(steps), intro)
    return _render(
        "exam_solution.tex.jinja", derivation, variant, document,
        solution=document.section_latex(section),
    )  # fmt: skip


def _named_steps(derivation: Derivation, variant: ExamVariant) -> list[Step]:
    """The named gradients (BP4 with numbers) and their gradient-descent step, as the worked
    example writes an entry out, the results boxed."""
    example = variant.example
    shown = Shown(variant.digits, example.values, derivation.network.concrete_sizes())
    steps = []
    for l, row, col in variant.named:
        step = gradient_entry(derivation, shown, l, row, col)
        steps.append(replace(step, why="BP4" + (f"; {step.why}" if step.why else "")))
    for l, row, col in variant.named:
        steps += update_entry(example, shown, derivation.network.layers[l - 1], "W", (row, col))
    return [replace(step, rhs=step.rhs[:-1] + (Boxed(step.rhs[-1]),)) for step in steps]


def _render(
    template: str,
    derivation: Derivation,
    variant: ExamVariant,
    document: DerivationDocument,
    **body: str,
) -> str:
    """A sheet: its header, the network, the numbers given, then ``body``'s printed parts."""
    spec = derivation.network.spec
    printer = BackpropLatexPrinter(document.notation)
    values = variant.example.values
    given = [[(printer.doprint(derivation.network.layers[0].vector("a_in")),
               _printed(printer, values["A0"][0].reshape(-1, 1))),
              (r"y", _printed(printer, values["Y"][0].reshape(-1, 1)))]]  # fmt: skip
    for layer in derivation.network.layers:
        l = layer.index
        given.append([
            (printer.doprint(layer.vector("W")), _printed(printer, values[f"W{l}"])),
            (printer.doprint(layer.vector("b")), _printed(printer, values[f"b{l}"].reshape(-1, 1))),
        ])  # fmt: skip
    return (
        environment()
        .get_template(template)
        .render(
            spec=spec,
            names=function_names(spec, escape=typewriter),
            version=__version__,
            variant=variant.number,
            digits=variant.digits,
            given=given,
            learning_rate=f"{variant.example.learning_rate:g}",
            notation_line=document.notation_line("latex"),
            symbols=document.notation,  # the profile's target, loss and its minibatch mean
            **body,
        )
    )


def _printed(printer: BackpropLatexPrinter, array: np.ndarray) -> str:
    """A given matrix (its entries have one decimal); a column as a transposed row."""
    rows, cols = array.shape
    entries = [sp.Float(f"{float(v):.1f}", 2) for v in array.ravel()]
    if cols == 1 and rows > 1:
        return printer.doprint(sp.Transpose(sp.ImmutableMatrix([entries])))
    return printer.doprint(sp.ImmutableMatrix(rows, cols, entries))
