"""Closed forms of single weights: the network written out as scalars (for small networks).

Two independent routes to dL/dw for one weight w:
- ``composed_gradient``: compose the whole per-sample loss as one scalar expression in the
  inputs, targets and every weight, then ``sympy.diff`` it with respect to w;
- ``closed_form``: take the layer-level result of the derivation (delta rule), put in the
  concrete indices and sizes, and substitute every delta, a and z by its definition.
Tests check that both agree; ``inspect`` prints the second (and ``--expand`` all of them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..errors import SymbackpropError
from ..spec.model import Spec
from .derivation import Derivation
from .network import SymbolicNetwork, activation_function, p, q
from .network import j as j_index

MAX_EXPANDED_PARAMS = 60
"""Above this many parameters, ``inspect`` leaves a gradient in terms of the forward quantities."""
EXPAND_LIMIT = 30
"""``--expand`` lists every parameter's closed form for networks of at most this many."""


@dataclass(frozen=True)
class ParamRef:
    """One scalar parameter: ``W2[0, 1]`` or ``b1[3]`` (layer is 1-based)."""

    kind: str
    layer: int
    index: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.kind}{self.layer}[{', '.join(map(str, self.index))}]"

    @property
    def base(self) -> str:
        """The parameter array's name, e.g. ``W2``."""
        return f"{self.kind}{self.layer}"


_REF = re.compile(r"^\s*([Wb])(\d+)\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*$")


def parse_param(text: str, spec: Spec, where: str = "--weight") -> ParamRef:
    """Parse ``'W2[0,1]'`` or ``'b1[3]'`` and check it exists in the spec's network; an error
    names ``where`` (the option or argument that gave it)."""
    match = _REF.match(text)
    if not match:
        raise SymbackpropError(
            f"'{text}' is not a parameter reference like 'W2[0,1]' or 'b1[3]'", where
        )
    kind, layer_text, first, second = match.groups()
    layer = int(layer_text)
    if not 1 <= layer <= spec.depth:
        raise SymbackpropError(
            f"'{text}': layer {layer} does not exist (layers 1..{spec.depth})", where
        )
    n_out, n_in = spec.layers[layer], spec.layers[layer - 1]
    if kind == "W":
        if second is None:
            raise SymbackpropError(f"'{text}': a weight needs two indices [to, from]", where)
        index: tuple[int, ...] = (int(first), int(second))
        shape: tuple[int, ...] = (n_out, n_in)
    else:
        if second is not None:
            raise SymbackpropError(f"'{text}': a bias takes one index", where)
        index, shape = (int(first),), (n_out,)
    if any(i >= n for i, n in zip(index, shape)):
        raise SymbackpropError(
            f"'{text}': index out of range for {kind}{layer} of shape {shape}", where
        )
    return ParamRef(kind, layer, index)


def all_params(spec: Spec) -> list[ParamRef]:
    """Every scalar parameter of the network, layer by layer, weights before biases."""
    refs = []
    for layer in range(1, spec.depth + 1):
        n_out, n_in = spec.layers[layer], spec.layers[layer - 1]
        refs += [ParamRef("W", layer, (j, k)) for j in range(n_out) for k in range(n_in)]
        refs += [ParamRef("b", layer, (j,)) for j in range(n_out)]
    return refs


class Scalars:
    """Scalar symbols for one network: x_k, y_j and every weight and bias."""

    def __init__(self, network: SymbolicNetwork) -> None:
        spec = network.spec
        self.network = network
        self.x = [sp.Symbol(f"x{k}", real=True) for k in range(spec.layers[0])]
        self.y = [sp.Symbol(f"y{j}", real=True) for j in range(spec.layers[-1])]
        self.params: dict[str, dict[tuple[int, ...], sp.Symbol]] = {}
        for ref in all_params(spec):
            self.params.setdefault(ref.base, {})[ref.index] = param_symbol(ref)

    def symbol(self, ref: ParamRef) -> sp.Symbol:
        """The symbol of one parameter."""
        return self.params[ref.base][ref.index]

    def indexed(self) -> dict[sp.Indexed, sp.Symbol]:
        """Map from index-form elements (W2[0, 1], a0[k], y[j]) to these scalars."""
        mapping: dict[sp.Indexed, sp.Symbol] = {}
        for layer in self.network.layers:
            for index, symbol in self.params[f"W{layer.index}"].items():
                mapping[layer.W[index]] = symbol
            for index, symbol in self.params[f"b{layer.index}"].items():
                mapping[layer.b[index]] = symbol
        first = self.network.layers[0]
        mapping.update({first.a_in[k]: s for k, s in enumerate(self.x)})
        mapping.update({self.network.y[j]: s for j, s in enumerate(self.y)})
        return mapping


def forward_values(network: SymbolicNetwork, scalars: Scalars, explicit: bool) -> dict:
    """z^(l)_j and a^(l)_j of every layer as scalar expressions of x and the parameters.

    ``explicit`` writes activations out (tanh(...), 1/(1 + exp(-...))); otherwise they stay
    unevaluated functions (sigma(...)), which print shorter.
    """
    values: dict[sp.Indexed, sp.Expr] = dict(scalars.indexed())
    sizes = network.concrete_sizes()
    for layer in network.layers:
        n_out = sizes[layer.n_out]
        zs = []
        for j in range(n_out):
            z = concrete(layer.z_expr.xreplace({j_index: j}), sizes).xreplace(values)
            values[layer.z[j]] = z
            zs.append(z)
        for j in range(n_out):
            if layer.activation.elementwise:
                f = activation_function(layer.activation)(zs[j])
                values[layer.a[j]] = f.expanded() if explicit else f
            else:
                values[layer.a[j]] = sp.exp(zs[j]) / sp.Add(*[sp.exp(z) for z in zs])
    return values


def concrete(expr: sp.Expr, sizes: dict) -> sp.Expr:
    """Put concrete sizes into an index-form expression and write its sums out."""
    return expr.xreplace(sizes).doit()


def composed_loss(network: SymbolicNetwork, scalars: Scalars) -> sp.Expr:
    """The per-sample loss as one scalar expression of x, y and every parameter."""
    values = forward_values(network, scalars, explicit=True)
    return concrete(network.loss_expr, network.concrete_sizes()).xreplace(values)


def composed_gradient(network: SymbolicNetwork, ref: ParamRef) -> sp.Expr:
    """dL/dw by ``sympy.diff`` of the fully composed loss (the independent route)."""
    scalars = Scalars(network)
    return sp.diff(composed_loss(network, scalars), scalars.symbol(ref))


def layer_level_gradient(derivation: Derivation, ref: ParamRef) -> sp.Expr:
    """The derivation's dL/dw with concrete indices, still in terms of delta, a and z."""
    layer = derivation.layer(ref.layer)
    expr = layer.dW if ref.kind == "W" else layer.db
    indices = {p: ref.index[0]} | ({q: ref.index[1]} if ref.kind == "W" else {})
    return expr.xreplace(indices)


def delta_values(derivation: Derivation, values: dict) -> dict:
    """delta^(l)_p of every layer as scalar expressions (forward values substituted)."""
    network = derivation.network
    sizes = network.concrete_sizes()
    out: dict[sp.Indexed, sp.Expr] = {}
    for gradient in reversed(derivation.layers):
        layer = gradient.layer
        for index in range(sizes[layer.n_out]):
            expr = concrete(gradient.delta.xreplace({p: index}), sizes)
            out[layer.delta[index]] = expr.xreplace(values).xreplace(out)
    return out


def closed_forms(
    derivation: Derivation, refs: list[ParamRef], explicit: bool = True
) -> list[sp.Expr]:
    """dL/dw of each parameter from the layer-level result, every delta, a and z substituted.

    ``explicit`` writes activations out; otherwise they stay named (sigma(...)). For small
    networks: the expressions grow with the product of the layer widths.
    """
    network = derivation.network
    values = forward_values(network, Scalars(network), explicit=explicit)
    deltas = delta_values(derivation, values)
    return [layer_level_gradient(derivation, ref).xreplace(deltas).xreplace(values) for ref in refs]


def param_symbol(ref: ParamRef) -> sp.Symbol:
    """The scalar symbol of a parameter (prints as W^{(2)}_{01})."""
    return sp.Symbol(f"{ref.base}_{'_'.join(map(str, ref.index))}", real=True)


