"""Closed forms of single weights as displayed steps (``inspect``, the document's expansion)."""

from __future__ import annotations

from ..spec.model import parameter_count
from ..symbolic.derivation import Derivation, L
from ..symbolic.expansion import (
    MAX_EXPANDED_PARAMS,
    ParamRef,
    Scalars,
    closed_forms,
    concrete,
    delta_values,
    layer_level_gradient,
    param_symbol,
)
from ..symbolic.network import j as j_index
from ..symbolic.network import p
from .steps import Step, partial


def closed_form_steps(derivation: Derivation, refs: list[ParamRef]) -> tuple[Step, ...]:
    """dL/dw = closed form, one step per parameter, each checked against the module's gradient."""
    forms = closed_forms(derivation, refs, explicit=False)
    return tuple(
        Step(
            "closed-forms",
            partial(L, param_symbol(ref)),
            (form,),
            "closed form",
            (f"d{ref.base}", ref.index),
        )
        for ref, form in zip(refs, forms)
    )


def inspect_steps(derivation: Derivation, ref: ParamRef) -> tuple[Step, ...]:
    """The gradient of one parameter: the delta rule with its indices, each delta it needs, and
    (for networks of at most MAX_EXPANDED_PARAMS parameters) the closed form."""
    network = derivation.network
    sizes = network.concrete_sizes()
    layer_gradient = layer_level_gradient(derivation, ref)
    steps = [
        Step(
            "inspect",
            partial(L, param_symbol(ref)),
            (layer_gradient,),
            "delta rule",
            (f"d{ref.base}", ref.index),
        )
    ]
    # The deltas this gradient depends on: its own neuron's, then every neuron's above it.
    needed = [ref.index[0]]
    for gradient in derivation.layers[ref.layer - 1 :]:
        layer = gradient.layer
        for index in needed:
            steps.append(
                Step(
                    "inspect",
                    layer.delta[index],
                    (gradient.delta.xreplace({p: index}).xreplace(sizes),),
                    "output delta" if layer is network.output else "delta recursion",
                    (f"delta{layer.index}", (index,)),
                )
            )
        if layer is not network.output:
            needed = list(range(sizes[network.layers[layer.index].n_out]))
    if parameter_count(network.spec.layers) <= MAX_EXPANDED_PARAMS:
        steps += closed_form_steps(derivation, [ref])
    return tuple(steps)


def named_closed_form_steps(derivation: Derivation, refs: list[ParamRef]) -> tuple[Step, ...]:
    """Every parameter's gradient written out once, in the weights, x, y and the forward values
    a^(l)_j (named, not expanded: each is defined once by a weighted sum step first).

    The closed form of ``closed_form_steps`` repeats every forward value wherever it occurs; here
    they stay named, so a 2-4-1 network's gradients fit on a line.
    """
    network = derivation.network
    sizes = network.concrete_sizes()
    scalars = Scalars(network)
    names = scalars.indexed()
    steps: list[Step] = []
    for layer in network.layers:
        for neuron in range(sizes[layer.n_out]):
            weighted = concrete(layer.z_expr.xreplace({j_index: neuron}), sizes).xreplace(names)
            steps.append(
                Step(
                    "closed-forms",
                    layer.z[neuron],
                    (weighted,),
                    f"{{eq:z{layer.index}}} written out",
                    (f"Z{layer.index}", (neuron,)),
                )
            )
    deltas = delta_values(derivation, names)
    for ref in refs:
        form = layer_level_gradient(derivation, ref).xreplace(deltas).xreplace(names)
        cited = ", ".join(
            f"{{eq:delta{gradient.layer.index}}}" for gradient in derivation.layers[ref.layer - 1 :]
        )
        steps.append(
            Step(
                "closed-forms",
                partial(L, param_symbol(ref)),
                (form,),
                f"{{eq:d{ref.base}}} with {cited} put in",
                (f"d{ref.base}", ref.index),
            )
        )
    return tuple(steps)
