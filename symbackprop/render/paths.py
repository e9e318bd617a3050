"""The chain rule edge by edge: one weight's gradient as a sum over every path to the loss.

Each edge's partial derivative comes from ``sympy.diff`` of the relation it crosses
(z = W a + b, a = f(z), the loss); the path products summed equal the delta rule, and
the step carries a check against the generated module's gradient.
"""

from __future__ import annotations

import itertools
import math

import sympy as sp

from ..errors import SymbackpropError
from ..spec.calculus import positive_factors
from ..symbolic.derivation import Derivation, L, collapse, to_forward_values
from ..symbolic.expansion import ParamRef, layer_level_gradient, param_symbol, parse_param
from ..symbolic.network import Layer, activation_function, j, p
from .steps import Chain, Section, Step, partial

MAX_PATHS = 64
"""Above this many paths the listing would not be readable."""
SUM_WRITTEN_OUT = 4
"""Up to this many paths their sum is written out; above, it is cited by equation numbers."""


def path_section(derivation: Derivation, weight: str) -> Section:
    """A section listing every path from a weight to the loss with its edge partials."""
    network = derivation.network
    ref = parse_param(weight, network.spec)
    count = path_count(network.spec.layers, ref.layer, network.output.activation.elementwise)
    if count > MAX_PATHS:  # counted by formula: enumerating them could take forever
        raise SymbackpropError(
            f"{count} paths lead from {ref} to the loss; at most {MAX_PATHS} are listed "
            "(pick a weight nearer the output, or use `symbackprop inspect`)",
            "--weight",
        )
    paths = list(enumerate_paths(derivation, ref))
    steps = []
    totals = []
    for number, edges in enumerate(paths, start=1):
        symbols = Chain(*(partial(top, bottom) for top, bottom, _ in edges))
        values = Chain(*(value for _, _, value in edges))
        totals.append(values)
        steps.append(
            Step(
                "paths",
                symbols,
                (values,),
                f"path {number}: one \\texttt{{sympy.diff}} per edge",
                label=f"path{number}",
                lecture_reasons=(f"path {number}: one partial derivative per edge",),
            )
        )
    check_name = f"d{ref.base}"
    gradient = layer_level_gradient(derivation, ref)
    if len(paths) <= SUM_WRITTEN_OUT:
        rhs: tuple[sp.Basic, ...] = (sp.Add(*totals), gradient)
        reasons = ("the sum over the paths", "the delta rule gives the same")
    else:
        rhs = (gradient,)
        reasons = (
            f"the sum of the {len(paths)} paths {{eq:path1}} to {{eq:path{len(paths)}}}; "
            "the delta rule gives the same",
        )
    steps.append(
        Step(
            "paths",
            partial(L, param_symbol(ref)),
            rhs,
            reasons[-1],
            (check_name, ref.index),
            reasons=reasons,
        )
    )
    intro = (
        "Every path from ${0}$ to ${1}$; each factor is one edge's partial "
        r"derivative as \texttt{sympy.diff} found it."
    )
    title = "Chain rule along every path for ${0}$"
    lecture = "Every path from ${0}$ to ${1}$; each factor is one edge's partial derivative."
    return Section(
        title, tuple(steps), intro, intro_math=(param_symbol(ref), L), lecture_intro=lecture
    )


def path_count(layers: tuple[int, ...], layer: int, elementwise_output: bool = True) -> int:
    """How many paths lead from a parameter of weight layer ``layer`` to the loss.

    One neuron per layer above it; with a softmax output, each output z reaches every output a.
    """
    count = math.prod(layers[layer + 1 :])
    return count if elementwise_output else count * layers[-1]


def enumerate_paths(derivation: Derivation, ref: ParamRef):  # noqa: ANN202
    """Yield each path as a list of (numerator, variable, partial derivative) edges, loss first."""
    network = derivation.network
    sizes = network.concrete_sizes()
    start = network.layers[ref.layer - 1]
    first = ref.index[0]
    # dz^(l)_p / dW^(l)_pq (or db), from the weighted sum.
    param = start.W[ref.index] if ref.kind == "W" else start.b[ref.index]
    z_start = _concrete(start.z_expr.xreplace({j: first}), sizes)
    bottom_edge = (start.z[first], param, sp.diff(z_start, param))

    upper_layers = network.layers[ref.layer :]
    ranges = [range(sizes[layer.n_out]) for layer in upper_layers]
    out = network.output
    softmax = not out.activation.elementwise
    if softmax:
        ranges.append(range(sizes[out.n_out]))  # the output a_j that each z_m reaches
    for choice in itertools.product(*ranges):
        neurons = (first, *choice[: len(upper_layers)])
        layers = (start, *upper_layers)
        edges = []
        for position, layer in enumerate(layers[:-1]):
            here, there = neurons[position], neurons[position + 1]
            upper = layers[position + 1]
            edges.append(_activation_edge(layer, here))
            z_next = _concrete(upper.z_expr.xreplace({j: there}), sizes)
            edges.append((upper.z[there], layer.a[here], sp.diff(z_next, layer.a[here])))
        last = neurons[-1]
        if softmax:
            target = choice[-1]
            jacobian = positive_factors(
                sp.factor(derivation.output.jacobian.xreplace({j: target, p: last}))
            )
            edges.append((out.a[target], out.z[last], jacobian))
            top = target
        else:
            edges.append(_activation_edge(out, last))
            top = last
        dL_da = derivation.output.dL_da.xreplace({p: top}).xreplace(sizes)
        edges.append((L, out.a[top], dL_da))
        yield list(reversed([bottom_edge, *edges]))


def _activation_edge(layer: Layer, neuron: int) -> tuple[sp.Basic, sp.Basic, sp.Expr]:
    """da_m / dz_m by sympy.diff, through the forward value where SymPy found that form."""
    f = activation_function(layer.activation)
    derivative = sp.diff(f(layer.z[neuron]), layer.z[neuron])
    return (layer.a[neuron], layer.z[neuron], to_forward_values(derivative, layer))


def _concrete(expr: sp.Expr, sizes: dict) -> sp.Expr:
    return collapse(expr.xreplace(sizes)).doit()
