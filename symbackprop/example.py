"""A worked numeric example: one forward and backward pass on one sample, every number shown.

The numbers come from running the generated module (``intermediates``); before they are shown,
every checkable step of the derivation is evaluated with them and must agree.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .derivation import Derivation, L, Step, partial
from .document import Section
from .errors import SymbackpropError
from .gradcheck import sample_data
from .network import j, p
from .numeric import check_derivation, element_value

DIGITS = 4
"""Significant digits shown."""
MAX_SHOWN = 8
"""Vectors longer than this are cut (with a final ellipsis); matrices larger are left out."""
MAX_SUBSTITUTED = 4
"""Layers with at most this many inputs show their first weighted sum with the numbers in it."""


def example_values(
    derivation: Derivation, X: np.ndarray | None = None, Y: np.ndarray | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """One sample's pass through the generated module: every array by name, params and Y too."""
    from .pipeline import load_module, render_module

    module = load_module(render_module(derivation))
    if X is None or Y is None:
        X, Y = sample_data(module, 1, seed)
    params = module.init_params(seed)
    values = module.intermediates(params, X[:1], Y[:1])
    values.update(dict(zip(module.PARAM_NAMES, params)))
    values["Y"] = np.asarray(Y[:1], dtype=np.float64).reshape(1, -1)
    return values


def example_section(
    derivation: Derivation, X: np.ndarray | None = None, Y: np.ndarray | None = None, seed: int = 0
) -> Section:
    """The worked example; fails if any displayed formula disagrees with the module's numbers."""
    values = example_values(derivation, X, Y, seed)
    problems = check_derivation(derivation, values)
    if problems:
        raise SymbackpropError(f"formula and code disagree: {problems[0]}", "--example")
    network = derivation.network
    sizes = network.concrete_sizes()
    first = network.layers[0]
    steps = [
        Step("example", first.vector("a_in"), (_vector(values["A0"][0]),), "input"),
        Step(
            "example",
            sp.MatrixSymbol("y", network.output.n_out, 1),
            (_vector(values["Y"][0]),),
            "target",
        ),
    ]
    for layer in network.layers:
        l = layer.index
        steps.append(Step("example", layer.vector("W"), (_matrix(values[f"W{l}"]),), "weights"))
        steps.append(Step("example", layer.vector("b"), (_vector(values[f"b{l}"]),), "biases"))
        if sizes[layer.n_in] <= MAX_SUBSTITUTED:
            shown = _substituted(layer.z_expr.xreplace({j: 0}), values, sizes)
            steps.append(
                Step("example", layer.z[0], (shown, _number(values[f"Z{l}"][0, 0])), "first entry")
            )
        steps.append(Step("example", layer.vector("z"), (_vector(values[f"Z{l}"][0]),), ""))
        steps.append(
            Step(
                "example", layer.vector("a"), (_vector(values[f"A{l}"][0]),), layer.activation.name
            )
        )
    steps.append(Step("example", L, (_number(values["loss"]),), f"${network.loss.latex}$"))
    for gradient in reversed(derivation.layers):
        layer = gradient.layer
        l = layer.index
        if layer is not network.output and sizes[network.layers[l].n_out] <= MAX_SUBSTITUTED:
            shown = _substituted(gradient.delta.xreplace({p: 0}), values, sizes)
            steps.append(
                Step(
                    "example",
                    layer.delta[0],
                    (shown, _number(values[f"delta{l}"][0, 0])),
                    "first entry",
                )
            )
        steps.append(Step("example", layer.vector("delta"), (_vector(values[f"delta{l}"][0]),), ""))
    for layer in network.layers:
        l = layer.index
        W, b = layer.vector("W"), layer.vector("b")
        steps.append(
            Step("example", partial(L, W), (_matrix(values[f"dW{l}"]),), r"$\delta a^\top$")
        )
        steps.append(Step("example", partial(L, b), (_vector(values[f"db{l}"]),), r"$\delta$"))
    intro = (
        "One forward and backward pass on one sample, with the numbers the generated module "
        f"computed (rounded to {DIGITS} digits); every formula above was evaluated with them and "
        "agrees to 1e-9."
    )
    return Section("Worked example", tuple(steps), intro)


def _number(value: float) -> sp.Float:
    return sp.Float(float(value), DIGITS)


def _vector(values: np.ndarray) -> sp.Basic:
    """A column vector of rounded numbers, written as a transposed row (cut after MAX_SHOWN)."""
    shown = [_number(v) for v in values[:MAX_SHOWN]]
    if len(values) > MAX_SHOWN:
        shown.append(sp.Symbol(r"\dots"))
    return sp.Transpose(sp.ImmutableMatrix([shown]))


def _matrix(values: np.ndarray) -> sp.Basic:
    """A matrix of rounded numbers, or its shape where it is too large to show."""
    if max(values.shape) > MAX_SHOWN:
        return sp.Symbol(rf"({values.shape[0]} \times {values.shape[1]}\ \text{{matrix}})")
    return sp.Matrix(values.shape[0], values.shape[1], [_number(v) for v in values.ravel()])


def _substituted(expr: sp.Expr, values: dict[str, np.ndarray], sizes: dict) -> sp.Expr:
    """An index-form expression written out with the numbers in place, unevaluated."""
    expr = expr.xreplace(sizes).doit()
    return expr.replace(
        lambda e: isinstance(e, sp.Indexed),
        lambda e: sp.UnevaluatedExpr(_number(element_value(e, values))),
    )
