"""The derivation: backpropagation obtained by differentiating the symbolic network with SymPy.

Every gradient here comes from ``sympy.diff`` applied to the layer-level expressions of
``network``; KroneckerDelta sums are collapsed by SymPy (``doit``), and the activation
derivatives are those ``sympy.diff`` finds, re-expressed through the forward values where
SymPy proves such a form.  The results are the textbook delta rule, derived:

    delta^(L)_p = sum_j dL/da_j * da_j/dz_p           (output layer)
    delta^(l)_p = f_l'(z_p) * sum_j W^(l+1)_jp delta^(l+1)_j   (hidden layers)
    dL/dW^(l)_pq = delta^(l)_p a^(l-1)_q,    dL/db^(l)_p = delta^(l)_p
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.concrete.summations import Sum

from ..spec.calculus import at_kinks, differentiate, one_winner, positive_factors
from ..spec.functions import Activation
from ..spec.functions import a as a_sym
from ..spec.functions import s as s_sym
from ..spec.functions import y as y_sym
from .derivatives import code_loss_slope, derivative, output_form_derivative
from .network import (
    ActivationFunction,
    ActivationPrime,
    Layer,
    SymbolicNetwork,
    activation_function,
    activation_prime,
    i,
    j,
    k,
    p,
    q,
)

INDEX_SYMBOLS = {i, j, k, p, q}


L = sp.Symbol("L", real=True)
"""The per-sample loss, as it appears on the left of displayed steps."""


@dataclass(frozen=True)
class ActivationDerivative:
    """An activation's derivative as SymPy found it, and through the forward value if possible."""

    activation: Activation
    derivative: sp.Expr
    output_form: sp.Expr | None


@dataclass(frozen=True)
class LayerGradient:
    """The derived backward quantities of one layer, in index form (free indices p, q).

    ``upstream`` is dz^(l+1)_j / dz^(l)_p as SymPy found it (hidden layers); ``factor`` is the
    elementwise factor of the hidden delta, through the forward values.
    """

    layer: Layer
    delta: sp.Expr
    factor: sp.Expr | None
    upstream: sp.Expr | None
    dW: sp.Expr
    db: sp.Expr


@dataclass(frozen=True)
class OutputDelta:
    """How the output delta came about: dL/da, the output Jacobian and the result."""

    dL_da: sp.Expr
    jacobian: sp.Expr
    chain: sp.Expr
    before_assumptions: sp.Expr
    delta: sp.Expr
    assumption: str | None
    cancelled: sp.Expr | None


@dataclass(frozen=True)
class Derivation:
    """The derived gradients of one network (``render.steps`` lays them out as steps)."""

    network: SymbolicNetwork
    activations: tuple[ActivationDerivative, ...]
    output: OutputDelta
    layers: tuple[LayerGradient, ...]

    def layer(self, index: int) -> LayerGradient:
        """The gradients of weight layer ``index`` (1-based)."""
        return self.layers[index - 1]


def collapse(expr: sp.Expr) -> sp.Expr:
    """Evaluate KroneckerDelta sums until nothing changes (SymPy's ``doit``)."""
    previous = None
    while expr != previous:
        previous = expr
        expr = _drop_index_ranges(_split_sums(expr).doit())
    return expr


def _split_sums(expr: sp.Expr) -> sp.Expr:
    """Distribute each Sum over the terms of its summand and pull out constant factors."""

    def split(sum_: Sum) -> sp.Expr:
        (var, *_), *more = sum_.limits
        terms = sp.Add.make_args(sp.expand_mul(sum_.function))
        result = []
        for term in terms:
            inside = [f for f in sp.Mul.make_args(term) if f.has(var)]
            outside = [f for f in sp.Mul.make_args(term) if not f.has(var)]
            result.append(sp.Mul(*outside) * Sum(sp.Mul(*inside), *sum_.limits))
        return sp.Add(*result)

    return expr.replace(lambda e: isinstance(e, Sum), split)


def _drop_index_ranges(expr: sp.Expr) -> sp.Expr:
    """Drop the ``Piecewise((v, 0 <= p <= n - 1), (0, True))`` that ``doit`` adds for index ranges.

    A free index always lies in its range, so only the first piece can apply.
    """

    def is_range(e: sp.Basic) -> bool:
        if not isinstance(e, sp.Piecewise) or len(e.args) != 2:
            return False
        (_, cond), (other, always) = e.args
        free = cond.free_symbols
        return (
            always == sp.true
            and other == 0
            and bool(free & INDEX_SYMBOLS)
            and all(sym in INDEX_SYMBOLS or sym.is_integer for sym in free)
        )

    return expr.replace(is_range, lambda e: e.args[0].expr)


def _tidy(expr: sp.Expr) -> sp.Expr:
    """The shorter of the expression and its factored form (cancellations show up here)."""
    factored = positive_factors(sp.factor(expr))
    return factored if sp.count_ops(factored) < sp.count_ops(expr) else expr


def _fewest_minus_signs(expr: sp.Expr) -> sp.Expr:
    """The factor or its negative, whichever reads with fewer minus signs: a(1 - a)."""
    flipped = positive_factors(sp.factor(-expr))
    return flipped if sp.sstr(flipped).count("-") <= sp.sstr(expr).count("-") else expr


def to_forward_values(expr: sp.Expr, layer: Layer) -> sp.Expr:
    """Replace f(z_p) by a_p and f'(z_p) by its form through a_p where SymPy found one."""

    def forward(e: ActivationFunction) -> sp.Expr:
        return layer.a[e.args[0].indices[0]]

    def prime(e: ActivationPrime) -> sp.Expr:
        form = output_form_derivative(e.activation)
        index = e.args[0].indices[0]
        if form is None:
            return e
        return form.subs(s_sym, layer.a[index])

    expr = expr.replace(lambda e: isinstance(e, ActivationFunction), forward)
    return expr.replace(lambda e: isinstance(e, ActivationPrime), prime)


def derive(network: SymbolicNetwork) -> Derivation:
    """Differentiate the network's loss with respect to every weight and bias, layer by layer."""
    output = _derive_output_delta(network)
    gradients = {network.output.index: _weight_gradients(network.output, output.delta, None, None)}
    for layer, upper in zip(reversed(network.layers[:-1]), reversed(network.layers[1:])):
        # z^(l+1)_j as a function of z^(l): substitute a^(l)_k = f_l(z^(l)_k), then differentiate.
        f = activation_function(layer.activation)
        z_next = upper.z_expr.xreplace({upper.a_in[k]: f(layer.z[k])})
        upstream = collapse(sp.diff(z_next, layer.z[p]))
        chain = collapse(Sum(upper.delta[j] * upstream, (j, 0, upper.n_out - 1)))
        factored = sp.factor_terms(chain)
        factor = sp.Mul(*[t for t in sp.Mul.make_args(factored) if not isinstance(t, Sum)])
        gradients[layer.index] = _weight_gradients(
            layer,
            to_forward_values(factored, layer),
            to_forward_values(factor, layer),
            upstream,
        )
    layers = tuple(gradients[layer.index] for layer in network.layers)
    activations = tuple(
        ActivationDerivative(act, derivative(act), output_form_derivative(act))
        for act in _distinct_elementwise(network)
    )
    return Derivation(
        network=network,
        activations=activations,
        output=output,
        layers=layers,
    )


def _distinct_elementwise(network: SymbolicNetwork) -> list[Activation]:
    seen: dict[str, Activation] = {}
    for layer in network.layers:
        if layer.activation.elementwise:
            seen.setdefault(layer.activation.name, layer.activation)
    return list(seen.values())


def _derive_output_delta(network: SymbolicNetwork) -> OutputDelta:
    """delta^(L)_p = dL/dz^(L)_p by the chain rule through the output activation."""
    layer = network.output
    loss = network.loss_expr
    dL_da = at_kinks(collapse(sp.diff(one_winner(loss), layer.a[p])))
    if dL_da.has(sp.KroneckerDelta):
        # A Piecewise term keeps its KroneckerDelta sums from collapsing; the loss is a sum of
        # one term per output, so dL/da_p is that term's derivative at (a_p, y_p).
        term = differentiate(network.loss.term, a_sym)
        dL_da = term.xreplace({a_sym: layer.a[p], y_sym: network.y[p]})
        dL_da = dL_da / layer.n_out if network.loss.mean else dL_da
    jacobian = collapse(sp.diff(layer.a_expr, layer.z[p]))
    if not layer.activation.elementwise:
        # Softmax: write e^{z_w} = a_w * S, so the Jacobian reads a_j (delta_jp - a_p).
        S = sp.Dummy("S", positive=True)
        jacobian = jacobian.xreplace({layer.softmax_denominator: S})
        jacobian = jacobian.replace(
            lambda e: isinstance(e, sp.exp) and isinstance(e.args[0], sp.Indexed),
            lambda e: layer.a[e.args[0].indices[0]] * S,
        )
        jacobian = sp.expand(jacobian)
    # f' stays an opaque function while the sums collapse (Sum.doit folds Piecewise outward).
    chain = Sum(dL_da.xreplace({p: j}) * jacobian, (j, 0, layer.n_out - 1))
    collapsed = collapse(chain)
    if collapsed.has(sp.KroneckerDelta) and layer.activation.elementwise:
        # Piecewise loss terms: the Jacobian is diagonal, so delta_p = dL/da_p * f'(z_p).
        f = activation_function(layer.activation)(layer.z[p])
        collapsed = dL_da * sp.diff(f, layer.z[p])
    before = _tidy(to_forward_values(collapsed, layer))
    jacobian = to_forward_values(jacobian, layer)
    delta, assumption = before, None
    if network.loss.targets_sum_to_one:
        y_sum = Sum(network.y[j], (j, 0, layer.n_out - 1))
        delta = _tidy(before.xreplace({y_sum: sp.Integer(1)}))
        if delta != before:
            assumption = r"\sum_j y_j = 1"
    dL_da = _tidy(dL_da)
    # Factors of dL/da's denominator that hold the output and are gone from delta cancelled.
    _, denominator = sp.fraction(sp.factor(dL_da))
    gone = [
        f
        for f in sp.Mul.make_args(denominator)
        if f.has(layer.a[p]) and not sp.fraction(sp.factor(delta))[1].has(f)
    ]
    return OutputDelta(
        dL_da=dL_da,
        jacobian=jacobian,
        chain=chain,
        before_assumptions=before,
        delta=delta,
        assumption=assumption,
        cancelled=_fewest_minus_signs(sp.Mul(*gone)) if gone else None,
    )


def code_output_delta(derivation: Derivation) -> sp.Expr:
    """The output delta as generated code evaluates it: the derived one, or, where that
    evaluates exp (which overflows for large outputs: exp(a)/(exp(a) + 1) is inf/inf from
    a = 709.8, (exp(a) - 1) exp(-a) is inf * 0) and no factor cancelled, the same product
    dL/da f'(z) through the loss's stable term (its derivative, by ``sympy.diff``) and the
    output activation's stable f', wherever the registry gives them."""
    network = derivation.network
    layer, loss, output = network.output, network.loss, derivation.output
    activation = layer.activation
    stable_term, stable_prime = loss.code_term is not None, activation.code_derivative is not None
    plain = activation.elementwise and output.assumption is None and output.cancelled is None
    if not (plain and (stable_term or stable_prime) and output.delta.has(sp.exp)):
        return output.delta
    dL_da = output.dL_da
    if stable_term:
        dL_da = code_loss_slope(loss).xreplace({a_sym: layer.a[p], y_sym: network.y[p]})
        dL_da = dL_da / layer.n_out if loss.mean else dL_da
    prime = activation_prime(activation)(layer.z[p])  # codegen prints the stable f' for it
    return dL_da * (prime if stable_prime else to_forward_values(prime, layer))


def _weight_gradients(
    layer: Layer, delta: sp.Expr, factor: sp.Expr | None, upstream: sp.Expr | None
) -> LayerGradient:
    """dL/dW^(l)_pq and dL/db^(l)_p from differentiating z^(l) = W^(l) a^(l-1) + b^(l)."""
    by_weight = Sum(layer.delta[j] * sp.diff(layer.z_expr, layer.W[p, q]), (j, 0, layer.n_out - 1))
    by_bias = Sum(layer.delta[j] * sp.diff(layer.z_expr, layer.b[p]), (j, 0, layer.n_out - 1))
    return LayerGradient(
        layer=layer,
        delta=delta,
        factor=factor,
        upstream=upstream,
        dW=collapse(by_weight),
        db=collapse(by_bias),
    )


