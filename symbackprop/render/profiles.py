"""What a textbook profile adds to a document, in its author's own form.

Nielsen (ch. 2) states BP3 and BP4 per component, ``dC/db^l_j = delta^l_j`` and
``dC/dw^l_jk = a^{l-1}_k delta^l_j``: the summary gives them beside the vector forms.
Goodfellow et al. (6.5) write the backward pass as Algorithm 6.4, one running gradient ``g``
overwritten layer by layer: the document adds it for the network at hand, its loop over
``k = l, ..., 1`` written out (each ``k`` has its own activation). Every line is a SymPy
expression (Indexed elements, MatrixSymbols and matrix products) the project's printers write.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..symbolic.derivation import Derivation, L, OutputDelta
from ..symbolic.network import Elementwise, SymbolicNetwork, j, k
from .steps import AlgorithmLine, Chain, Jacobian, Nabla, Section, Step, partial

ALGORITHM_TITLE = "The backward pass as Algorithm 6.4 of Goodfellow et al."


def nielsen_components(network: SymbolicNetwork, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """The summary with BP3 and BP4 per component (Nielsen's w^l_jk, a^{l-1}_k delta^l_j)
    after each vector form."""
    components: dict[str, Step] = {}
    for layer in network.layers:
        l = layer.index
        components[f"bp3-{l}"] = Step(
            "summary",
            partial(L, layer.b[j]),
            (layer.delta[j],),
            rf"BP3 per component, {{eq:db{l}}} with $j$ for $p$",
            (f"db{l}", (j,)),
            label=f"bp3-{l}-component",
        )
        components[f"bp4-{l}"] = Step(
            "summary",
            partial(L, layer.W[j, k]),
            (Chain(layer.a_in[k], layer.delta[j]),),
            rf"BP4 per component, {{eq:dW{l}}} with $j, k$ for $p, q$",
            (f"dW{l}", (j, k)),
            label=f"bp4-{l}-component",
        )
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if step.label in components:
            out.append(components[step.label])
    return tuple(out)


def _gradient_line(network: SymbolicNetwork, output: OutputDelta, index: int) -> Step:
    """g <- the gradient by layer ``index``'s pre-activation: elementwise, through the
    output's Jacobian, or h - y for softmax with cross-entropy."""
    layer = network.layers[index - 1]
    a_vec, z_vec = layer.vector("a"), layer.vector("z")
    g = sp.MatrixSymbol("g", layer.n_out, 1)
    delta = layer.vector("delta")
    if layer.activation.elementwise:
        output_layer = index == network.output.index
        cited = f"{{eq:delta{index}}}" if output_layer else f"{{eq:delta{index}-matrix}}"
        return Step(
            "algorithm",
            g,
            (Nabla(z_vec), sp.HadamardProduct(g, Elementwise(layer.activation, z_vec, 1))),
            "",
            relation=r"\leftarrow",
            why_math=(delta,),
            reasons=("", rf"elementwise: now $g = {{0}}$, {cited} in vector form"),
        )
    rhs: tuple[sp.Basic, ...] = (Nabla(z_vec), sp.Transpose(Jacobian(a_vec, z_vec)) * g)
    reasons = ("", rf"not elementwise: the Jacobian of {{eq:a{index}}}; now $g = {{0}}$")
    if network.loss.targets_sum_to_one and output.assumption:
        rhs += (a_vec - sp.MatrixSymbol("y", layer.n_out, 1),)
        reasons = (
            "",
            rf"not elementwise: the Jacobian of {{eq:a{index}}}",
            rf"{{eq:delta{index}}} in vector form (${output.assumption}$): now $g = {{0}}$",
        )
    return Step("algorithm", g, rhs, "", relation=r"\leftarrow", why_math=(delta,), reasons=reasons)


def _loop_body(network: SymbolicNetwork, output: OutputDelta, index: int) -> list[Step]:
    """Layer ``index``'s four lines of the loop: g by the pre-activation, the bias and weight
    gradients, g by the layer below's activation."""
    layer = network.layers[index - 1]
    g = sp.MatrixSymbol("g", layer.n_out, 1)
    a_in = layer.vector("a_in")
    below = (
        f"propagated to the layer below: the first factor of {{eq:delta{index - 1}-matrix}}"
        if index > 1
        else r"the loop's last line: the gradient by the input, not needed for an update"
    )
    return [
        _gradient_line(network, output, index),
        Step(
            "algorithm",
            Nabla(layer.vector("b")),
            (g,),
            rf"{{eq:db{index}-matrix}}, with no regularizer",
        ),
        Step(
            "algorithm",
            Nabla(layer.vector("W")),
            (g * a_in.T,),
            rf"{{eq:dW{index}-matrix}}, with no regularizer",
        ),
        Step(
            "algorithm",
            sp.MatrixSymbol("g", layer.n_in, 1),
            (Nabla(a_in), layer.vector("W").T * g),
            "",
            relation=r"\leftarrow",
            reasons=("", below),
        ),
    ]


def goodfellow_algorithm(derivation: Derivation) -> Section:
    """Algorithm 6.4 for this network: after the forward computation, g by the output, then
    for k = l, ..., 1 the four lines of the loop, one running g."""
    network, output = derivation.network, derivation.output
    out = network.output
    count = len(network.layers)
    forward = f"{{eq:z1-matrix}} to {{eq:a{count}-matrix}}"
    ks = ", ".join(str(index) for index in range(count, 0, -1))
    first = Step(
        "algorithm",
        sp.MatrixSymbol("g", out.n_out, 1),
        (Nabla(out.vector("a")),),
        r"the gradient on the output layer ($\hat{y} = {0}$), its components by {eq:dL-da}",
        relation=r"\leftarrow",
        why_math=(out.vector("a"),),
    )
    steps: list[Step] = [first]
    lines = [
        AlgorithmLine(0, words=f"the forward computation, {forward} (Algorithm 6.3)"),
        AlgorithmLine(0, step=0),
        AlgorithmLine(0, words=rf"\textbf{{for}} $k = {ks}$ \textbf{{do}}"),
    ]
    for index in range(count, 0, -1):
        lines.append(AlgorithmLine(1, words=f"$k = {index}$:"))
        for step in _loop_body(network, output, index):
            lines.append(AlgorithmLine(2, step=len(steps)))
            steps.append(step)
    lines.append(AlgorithmLine(0, words=r"\textbf{end for}"))
    intro = (
        r"The same gradients with one running vector $g$, overwritten layer by layer as in "
        r"Goodfellow et al.'s Algorithm 6.4 (his $a$ is the pre-activation, $h$ the "
        r"activation); the loop over $k$ is written out for this network."
    )
    return Section(ALGORITHM_TITLE, tuple(steps), intro, algorithm=tuple(lines))


def profile_sections(
    derivation: Derivation, notation: str, sections: tuple[Section, ...]
) -> tuple[Section, ...]:
    """The base sections with what the profile ``notation`` adds: Nielsen's per-component
    BP3 and BP4 in the summary; Goodfellow's Algorithm 6.4 after the summary."""
    if notation == "nielsen":
        return tuple(
            replace(s, steps=nielsen_components(derivation.network, s.steps))
            if s.steps and s.steps[0].section == "summary"
            else s
            for s in sections
        )
    if notation == "goodfellow":
        return (*sections, goodfellow_algorithm(derivation))
    return sections
