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

from ..spec.functions import (
    Activation,
    at_kinks,
    derivative,
    differentiate,
    one_winner,
    output_form_derivative,
    positive_factors,
)
from ..spec.functions import a as a_sym
from ..spec.functions import s as s_sym
from ..spec.functions import x as x_sym
from ..spec.functions import y as y_sym
from .network import (
    ActivationFunction,
    ActivationPrime,
    Elementwise,
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
from .optimizers import is_plain, update_steps

INDEX_SYMBOLS = {i, j, k, p, q}


u = sp.Symbol("u", real=True)
"""The dummy variable of displayed activation derivatives f'(u) (x is the network input)."""
theta = sp.Symbol("theta", real=True)
"""A generic parameter in the displayed update."""
L = sp.Symbol("L", real=True)
"""The per-sample loss, as it appears on the left of displayed steps."""
eta = sp.Symbol("eta", positive=True)
"""The learning rate."""
L_batch = sp.Symbol("Lbar", real=True)
"""The batch loss: the mean of the per-sample losses over a minibatch."""


@dataclass(frozen=True)
class Step:
    """One displayed step ``lhs = rhs[0] = rhs[1] = ...`` with a short justification (LaTeX).

    ``check`` names the array of the generated module's ``intermediates`` that ``lhs`` equals
    (for one sample), with the free indices of ``lhs``; tests evaluate every ``rhs`` against it.
    """

    section: str
    lhs: sp.Basic
    rhs: tuple[sp.Basic, ...]
    why: str
    check: tuple[str, tuple[sp.Symbol, ...]] | None = None
    relation: str = "="
    why_math: tuple[sp.Basic, ...] = ()
    """Expressions printed into ``why`` in place of {0}, {1}, ... (in the document's notation)."""
    label: str = ""
    """A name other steps' reasons cite as ``{eq:<label>}`` (printed as the equation number)."""
    reasons: tuple[str, ...] = ()
    """One reason per right-hand side (else ``why`` stands beside the last one)."""
    note: str = ""
    """A longer remark (an implementation note) printed under the step, not beside it."""


class Chain(sp.Expr):
    """A product kept in the order written (chain-rule factors, loss first); ``doit`` multiplies."""

    is_chain = True

    def doit(self, **hints: object) -> sp.Expr:
        return sp.Mul(*(arg.doit(**hints) for arg in self.args))

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        parts: list[str] = []
        for arg in self.args:
            tex = printer._print(arg)
            if isinstance(arg, sp.Add) or (parts and tex.startswith("-")):
                tex = rf"\left({tex}\right)"
            if parts and tex[0].isdigit():
                parts.append(r"\cdot")
            parts.append(tex)
        return " ".join(parts)

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        return " * ".join(printer.parenthesize(arg, 50) for arg in self.args)


def partial(numerator: sp.Basic, variable: sp.Basic) -> sp.Derivative:
    """The unevaluated partial derivative d numerator / d variable (for display)."""
    return sp.Derivative(numerator, variable, evaluate=False)


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
    """Gradient expressions and chain-rule steps of one network."""

    network: SymbolicNetwork
    activations: tuple[ActivationDerivative, ...]
    output: OutputDelta
    layers: tuple[LayerGradient, ...]
    steps: tuple[Step, ...]

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
        steps=frozen_biases(network, _steps(network, activations, output, layers)),
    )


def _from_z_note(info: ActivationDerivative) -> str:
    """Where f' is not rewritten through the forward value, the derivation says so."""
    if info.output_form is not None or not info.derivative.has(x_sym):
        return ""
    name = info.activation.latex
    return (
        rf"the code evaluates ${name}'(z)$ from $z$: no form through the forward value "
        rf"${name}(z)$ is proved to hold for every $z$"
    )


def frozen_biases(network: SymbolicNetwork, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """With ``[training] train_biases = false``: no bias update; b <- b said once per layer."""
    if network.spec.training.train_biases:
        return steps
    biases = [sp.Symbol(str(layer.b.label), real=True) for layer in network.layers]
    kept = [s for s in steps if not (s.section == "update" and s.lhs in biases)]
    last = max((n for n, s in enumerate(kept) if s.section == "update"), default=len(kept) - 1)
    frozen = [
        Step("update", b, (b,), r"frozen: \texttt{train\_biases = false}", relation=r"\leftarrow")
        for b in biases
    ]
    return (*kept[: last + 1], *frozen, *kept[last + 1 :])


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


INDICATOR = r"$\mathbf 1[j = p]$ is 1 when $j = p$ and 0 otherwise"
"""The one sentence that explains the indicator (printed where it first appears)."""


def _rows(
    pairs: list[tuple[sp.Basic, str]],
) -> tuple[tuple[sp.Basic, ...], tuple[str, ...]]:
    """Right-hand sides with their reasons, consecutive repeats merged (reasons joined)."""
    rhs: list[sp.Basic] = []
    reasons: list[str] = []
    for expr, reason in pairs:
        if rhs and expr == rhs[-1]:
            reasons[-1] = "; ".join(r for r in (reasons[-1], reason) if r)
        else:
            rhs.append(expr)
            reasons.append(reason)
    return tuple(rhs), tuple(reasons)


def _steps(
    network: SymbolicNetwork,
    activations: tuple[ActivationDerivative, ...],
    output: OutputDelta,
    layers: tuple[LayerGradient, ...],
) -> tuple[Step, ...]:
    """The derivation as displayed steps, in reading order, each line with its reason."""
    steps: list[Step] = []
    for layer in network.layers:
        l, act = layer.index, layer.activation
        a_in = layer.vector("a_in")
        steps.append(
            Step(
                "forward",
                layer.z[j],
                (layer.z_expr,),
                r"weighted sum of the inputs ${0}$ plus the bias",
                (f"Z{l}", (j,)),
                why_math=(a_in,),
                label=f"z{l}",
            )
        )
        why = rf"activation ${act.latex}$" if act.elementwise else "softmax over the layer"
        steps.append(
            Step(
                "forward",
                layer.a[j],
                (layer.a_expr,),
                why,
                (f"A{l}", (j,)),
                label=f"a{l}",
                note=act.stable_note,
            )
        )
    for layer in network.layers:
        l, act = layer.index, layer.activation
        W, a_in, b, z = (layer.vector(kind) for kind in ("W", "a_in", "b", "z"))
        steps.append(
            Step(
                "forward-matrix",
                z,
                (W * a_in + b,),
                rf"{{eq:z{l}}} for every $j$ at once",
                label=f"z{l}-matrix",
            )
        )
        why = (
            rf"{{eq:a{l}}}: ${act.latex}$ elementwise"
            if act.elementwise
            else rf"{{eq:a{l}}}: softmax of the whole vector"
        )
        steps.append(
            Step(
                "forward-matrix",
                layer.vector("a"),
                (Elementwise(act, z),),
                why,
                label=f"a{l}-matrix",
            )
        )

    loss = network.loss
    out = network.output
    L_index = out.index
    stable = loss.stable_terms.get(out.activation.name, (None, loss.stable_note))[1]
    steps.append(
        Step(
            "loss",
            L,
            (network.loss_expr,),
            f"per-sample {loss.description}",
            ("loss", ()),
            label="loss",
            note=stable,
        )
    )
    steps.append(
        Step(
            "loss",
            partial(L, out.a[p]),
            (output.dL_da,),
            r"\texttt{sympy.diff} of {eq:loss}; only the term $j = p$ depends on ${0}$",
            why_math=(out.a[p],),
            label="dL-da",
        )
    )

    for info in activations:
        name = info.activation.name
        f = activation_function(info.activation)(u)
        pairs = [(info.derivative.subs(x_sym, u), r"\texttt{sympy.diff} of ${0}$")]
        if (
            info.output_form is not None
            and info.output_form.subs(s_sym, info.activation.expr) != info.derivative
            and info.output_form != info.derivative.subs(x_sym, s_sym)
        ):
            pairs.append(
                (
                    info.output_form.subs(s_sym, f),
                    r"written through the forward value ${0}$",
                )
            )
        rhs, reasons = _rows(pairs)
        prime = activation_prime(info.activation)(u)
        steps.append(
            Step(
                "activations",
                prime,
                rhs,
                reasons[-1],
                why_math=(f,),
                label=f"act-{name}",
                reasons=reasons,
                note=info.activation.derivative_note or _from_z_note(info),
            )
        )

    if not out.activation.elementwise:
        steps.append(
            Step(
                "output",
                partial(out.a[j], out.z[p]),
                (output.jacobian,),
                rf"\texttt{{sympy.diff}} of {{eq:a{L_index}}}, with $e^{{z_j}} = a_j \sum_i "
                rf"e^{{z_i}}$; {INDICATOR}",
                label="jacobian",
            )
        )
    chain = Sum(partial(L, out.a[j]) * partial(out.a[j], out.z[p]), (j, 0, out.n_out - 1))
    if out.activation.elementwise:
        third = (
            rf"by {{eq:dL-da}}, and by {{eq:a{L_index}}} "
            rf"$\partial a_j / \partial z_p = {out.activation.latex}'(z_j)\,\mathbf 1[j = p]$"
        )
        fourth = rf"the indicator keeps only $j = p$; ${out.activation.latex}'$ by " + (
            f"{{eq:act-{out.activation.name}}}"
        )
        third += f"; {INDICATOR}"
    else:
        third = "by {eq:dL-da} and {eq:jacobian}"
        fourth = "the indicator keeps only $j = p$ in one of the two terms"
    if output.cancelled is not None:
        cancelled = (
            output.cancelled if out.activation.elementwise else output.cancelled.xreplace({p: j})
        )
        where = (
            "of {eq:dL-da}" if out.activation.elementwise else "in the denominator of {eq:dL-da}"
        )
        fourth += rf"; the factor ${{0}}$ {where} cancels"
        if not out.activation.elementwise:
            fourth += " against the Jacobian's"
        why_math: tuple[sp.Basic, ...] = (cancelled,)
    else:
        why_math = ()
    pairs = [
        (partial(L, out.z[p]), r"definition of the error signal ${1}$"),
        (chain, r"chain rule: $z_p$ reaches the loss through every output $a_j$"),
        (output.chain, third),
        (output.before_assumptions, fourth),
    ]
    if output.assumption:
        pairs.append((output.delta, rf"${output.assumption}$ (the targets are one-hot)"))
    rhs, reasons = _rows(pairs)
    steps.append(
        Step(
            "output",
            out.delta[p],
            rhs,
            reasons[-1],
            (f"delta{out.index}", (p,)),
            why_math=(why_math[0] if why_math else sp.Integer(0), out.delta[p]),
            label=f"delta{out.index}",
            reasons=reasons,
        )
    )

    for gradient, upper in zip(reversed(layers[:-1]), reversed(network.layers[1:])):
        layer = gradient.layer
        l = layer.index
        act = layer.activation
        chain = Sum(
            partial(L, upper.z[j]) * partial(upper.z[j], layer.z[p]),
            (j, 0, upper.n_out - 1),
        )
        fourth = rf"${act.latex}'$ does not depend on $j$"
        if output_form_derivative(act) is not None:
            fourth += f"; written through the forward value by {{eq:act-{act.name}}}"
        pairs = [
            (partial(L, layer.z[p]), r"definition of ${0}$"),
            (chain, r"chain rule: ${1}$ reaches the loss only through every ${2}$"),
            (
                Sum(upper.delta[j] * gradient.upstream, (j, 0, upper.n_out - 1)),
                rf"definition of ${{3}}$ and {{eq:z{l + 1}}} with ${{4}}$: only $k = p$ "
                r"depends on ${1}$",
            ),
            (gradient.delta, fourth),
        ]
        rhs, reasons = _rows(pairs)
        steps.append(
            Step(
                "backprop",
                layer.delta[p],
                rhs,
                reasons[-1],
                (f"delta{l}", (p,)),
                why_math=(
                    layer.delta[p],
                    layer.z[p],
                    upper.z[j],
                    upper.delta[j],
                    sp.Eq(layer.a[k], activation_function(act)(layer.z[k])),
                ),
                label=f"delta{l}",
                reasons=reasons,
            )
        )
    for gradient, upper in zip(reversed(layers[:-1]), reversed(network.layers[1:])):
        layer = gradient.layer
        l = layer.index
        product = upper.vector("W").T * upper.vector("delta")
        steps.append(
            Step(
                "backprop-matrix",
                layer.vector("delta"),
                (
                    sp.HadamardProduct(
                        product,
                        Elementwise(layer.activation, layer.vector("z"), 1),
                    ),
                ),
                rf"{{eq:delta{l}}} for every $p$ at once",
                label=f"delta{l}-matrix",
            )
        )

    for gradient in layers:
        layer = gradient.layer
        l = layer.index
        chain = Sum(
            partial(L, layer.z[j]) * partial(layer.z[j], layer.W[p, q]),
            (j, 0, layer.n_out - 1),
        )
        steps.append(
            Step(
                "gradients",
                partial(L, layer.W[p, q]),
                (chain, gradient.dW),
                "",
                (f"dW{l}", (p, q)),
                why_math=(
                    layer.W[p, q],
                    layer.z[j],
                    sp.Eq(
                        partial(layer.z[j], layer.W[p, q]),
                        layer.a_in[q] * sp.KroneckerDelta(j, p),
                    ),
                    layer.delta[p],
                    partial(L, layer.z[p]),
                ),
                label=f"dW{l}",
                reasons=(
                    r"chain rule: ${0}$ reaches the loss only through the ${1}$",
                    rf"by {{eq:z{l}}}, ${{2}}$, so only $j = p$ is left; "
                    r"${4}$ is ${3}$",
                ),
            )
        )
        chain = Sum(
            partial(L, layer.z[j]) * partial(layer.z[j], layer.b[p]),
            (j, 0, layer.n_out - 1),
        )
        steps.append(
            Step(
                "gradients",
                partial(L, layer.b[p]),
                (chain, gradient.db),
                "",
                (f"db{l}", (p,)),
                why_math=(
                    layer.b[p],
                    layer.z[j],
                    sp.Eq(partial(layer.z[j], layer.b[p]), sp.KroneckerDelta(j, p)),
                ),
                label=f"db{l}",
                reasons=(
                    r"chain rule: ${0}$ reaches the loss only through the ${1}$",
                    rf"by {{eq:z{l}}}, ${{2}}$",
                ),
            )
        )
    for gradient in layers:
        layer = gradient.layer
        l = layer.index
        steps.append(
            Step(
                "gradients-matrix",
                partial(L, layer.vector("W")),
                (layer.vector("delta") * layer.vector("a_in").T,),
                rf"{{eq:dW{l}}} for every $p, q$ at once",
                label=f"dW{l}-matrix",
            )
        )
        steps.append(
            Step(
                "gradients-matrix",
                partial(L, layer.vector("b")),
                (layer.vector("delta"),),
                rf"{{eq:db{l}}} for every $p$ at once",
                label=f"db{l}-matrix",
            )
        )
    training = network.spec.training
    if is_plain(training.optimizer, training.schedule):
        steps += gradient_descent_steps(network)
    else:
        steps.extend(update_steps(training, L_batch))  # the optimizer's own update equations
    steps += summary_steps(network, output)
    return tuple(steps)


def parameters(network: SymbolicNetwork) -> list[sp.MatrixSymbol]:
    """Every parameter array, layer by layer: W^(1), b^(1), W^(2), ..."""
    return [layer.vector(kind) for layer in network.layers for kind in ("W", "b")]


def gradient_descent_steps(network: SymbolicNetwork) -> tuple[Step, ...]:
    """Plain gradient descent, written once for a generic parameter theta (other optimizers
    write their own update: ``optimizers.update_steps``)."""
    params = parameters(network)
    names = ", ".join(f"${{{n}}}$" for n in range(len(params)))
    return (
        Step(
            "update",
            theta,
            (theta - eta * partial(L_batch, theta),),
            rf"gradient descent, for every parameter $\theta$: {names}",
            relation=r"\leftarrow",
            why_math=tuple(params),
            label="update",
            note=(
                r"$\bar{L}$ is the mean of $L$ over the minibatch, so its gradient is the mean "
                r"of the per-sample gradients above; $\eta$ is the learning rate."
            ),
        ),
    )


class Nabla(sp.MatrixExpr):
    """The gradient vector of the loss with respect to a layer's outputs (display only)."""

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.args[0].shape

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        return rf"\nabla_{{{printer._print(self.args[0])}}} {printer._print(L)}"

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        return f"∇_{printer._print(self.args[0])} L"


def summary_steps(network: SymbolicNetwork, output: OutputDelta) -> tuple[Step, ...]:
    """The four equations of backpropagation (Nielsen's BP1-BP4) in vector form, and the
    minibatch mean."""
    out = network.output
    a_vec, z_vec, y_vec = (
        out.vector("a"),
        out.vector("z"),
        sp.MatrixSymbol("y", out.n_out, 1),
    )
    steps: list[Step] = []
    if network.loss.targets_sum_to_one and output.assumption:
        bp1: sp.Basic = a_vec - y_vec
    elif out.activation.elementwise:
        bp1 = sp.HadamardProduct(Nabla(a_vec), Elementwise(out.activation, z_vec, 1))
    else:
        bp1 = Nabla(z_vec)
    steps.append(
        Step(
            "summary",
            out.vector("delta"),
            (bp1,),
            rf"BP1, {{eq:delta{out.index}}} in vector form",
            label="bp1",
        )
    )
    for layer in reversed(network.layers[:-1]):
        l = layer.index
        upper = network.layers[l]
        steps.append(
            Step(
                "summary",
                layer.vector("delta"),
                (
                    sp.HadamardProduct(
                        upper.vector("W").T * upper.vector("delta"),
                        Elementwise(layer.activation, layer.vector("z"), 1),
                    ),
                ),
                rf"BP2, {{eq:delta{l}-matrix}}",
                label=f"bp2-{l}",
            )
        )
    for layer in network.layers:
        l = layer.index
        steps.append(
            Step(
                "summary",
                partial(L, layer.vector("b")),
                (layer.vector("delta"),),
                rf"BP3, {{eq:db{l}-matrix}}",
                label=f"bp3-{l}",
            )
        )
    for layer in network.layers:
        l = layer.index
        steps.append(
            Step(
                "summary",
                partial(L, layer.vector("W")),
                (layer.vector("delta") * layer.vector("a_in").T,),
                rf"BP4, {{eq:dW{l}-matrix}}",
                label=f"bp4-{l}",
            )
        )
    m = sp.Symbol("m", integer=True, positive=True)
    per_sample = sp.IndexedBase(sp.Symbol("L", real=True))
    steps.append(
        Step(
            "summary",
            partial(L_batch, theta),
            (sp.Sum(partial(per_sample[i], theta), (i, 0, m - 1)) / m,),
            r"the minibatch mean: $L_i$ is the loss of sample $i$ of the $m$ in the batch",
            label="batch-mean",
        )
    )
    return tuple(steps)


def _distinct(exprs: tuple[sp.Basic, ...]) -> tuple[sp.Basic, ...]:
    """Drop repeated consecutive forms of a chain of equalities."""
    out: list[sp.Basic] = []
    for expr in exprs:
        if not out or expr != out[-1]:
            out.append(expr)
    return tuple(out)
