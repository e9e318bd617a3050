"""The derivation as displayed steps: one builder per document section, in reading order.

A :class:`Step` is one line ``lhs = rhs[0] = rhs[1] = ...`` with a reason beside each equality;
the builders read the results of :mod:`symbackprop.symbolic.derivation` (what SymPy derived)
and lay them out for a reader: chain rule written out, indicator sums, matrix forms, the
update of the spec's optimizer and the four equations of backpropagation.  Nothing here
differentiates; every right-hand side that is not a definition comes from the derivation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp
from sympy.concrete.summations import Sum

from ..spec.functions import is_builtin
from ..spec.functions import s as s_sym
from ..spec.functions import x as x_sym
from ..spec.optimizers import TITLES, OptimizerConfig, is_plain
from ..symbolic.derivation import (
    ActivationDerivative,
    Derivation,
    L,
    LayerGradient,
    OutputDelta,
)
from ..symbolic.derivatives import output_form_derivative
from ..symbolic.network import (
    Elementwise,
    SymbolicNetwork,
    activation_function,
    activation_prime,
    i,
    j,
    k,
    p,
    q,
)
from ..symbolic.optimizers import eta, g, rule, schedule_rate, theta
from ..util.escape import latex_text
from .rules import rules_used

u = sp.Symbol("u", real=True)
"""The dummy variable of displayed activation derivatives f'(u) (x is the network input)."""

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
    lecture_reasons: tuple[str, ...] = ()
    """``--lecture``'s reasons where they differ, aligned with ``reasons`` (or the last with
    ``why``; "" keeps that one): the calculus rules in place of the tool that applied them."""


class Chain(sp.Expr):
    """A product kept in the order written (chain-rule factors, loss first); ``doit`` multiplies.
    The printers write it (``printing``: a number set apart by dots on both sides, ``· 1 ·``)."""

    is_chain = True

    def doit(self, **hints: object) -> sp.Expr:
        return sp.Mul(*(arg.doit(**hints) for arg in self.args))


def partial(numerator: sp.Basic, variable: sp.Basic) -> sp.Derivative:
    """The unevaluated partial derivative d numerator / d variable (for display)."""
    return sp.Derivative(numerator, variable, evaluate=False)


def _from_z_note(info: ActivationDerivative) -> str:
    """Where f' is not rewritten through the forward value, the derivation says so."""
    if info.output_form is not None or not info.derivative.has(x_sym):
        return ""
    name = info.activation.latex
    return (
        rf"the code evaluates ${name}'$ from the weighted input: no form through the forward "
        rf"value ${name}(u)$ is proved to hold for every $u$"
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
            why_math=(*params, L_batch, L),
            label="update",
            note=(
                f"${{{len(params)}}}$ is the mean of ${{{len(params) + 1}}}$ over the minibatch, "
                r"so its gradient is the mean of the per-sample gradients above; $\eta$ is the "
                "learning rate."
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
        return f"∇_{printer._print(self.args[0])} {printer._print(L)}"


class Jacobian(sp.MatrixExpr):
    """The Jacobian of a layer's outputs by its weighted inputs, da/dz (display only)."""

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return (self.args[0].shape[0], self.args[1].shape[0])

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        top, bottom = (printer._print(arg) for arg in self.args)
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        top, bottom = (printer._print(arg) for arg in self.args)
        return f"(∂{top}/∂{bottom})"


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
    else:  # the chain rule through the layer's Jacobian (Nielsen's BP1 is for elementwise f)
        bp1 = sp.Transpose(Jacobian(a_vec, z_vec)) * Nabla(a_vec)
    why = rf"BP1, {{eq:delta{out.index}}} in vector form"
    if not out.activation.elementwise and not isinstance(bp1, sp.MatAdd):
        why = (
            rf"BP1 for an output that is not elementwise (the Jacobian of {{eq:a{out.index}}} "
            rf"in place of the elementwise derivative), {{eq:delta{out.index}}} in vector form"
        )
    steps.append(Step("summary", out.vector("delta"), (bp1,), why, label="bp1"))
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
            r"the minibatch mean: ${0}$ is the loss of sample $i$ of the $m$ in the batch",
            why_math=(per_sample[i],),
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


def forward_steps(network: SymbolicNetwork) -> tuple[Step, ...]:
    """The forward pass, one index-form z and a per layer."""
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
    return tuple(steps)


def forward_matrix_steps(network: SymbolicNetwork) -> tuple[Step, ...]:
    """The forward pass in vector form."""
    steps: list[Step] = []
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
    return tuple(steps)


def loss_steps(network: SymbolicNetwork, output: OutputDelta) -> tuple[Step, ...]:
    """The per-sample loss and its derivative by the outputs."""
    steps: list[Step] = []
    loss = network.loss
    out = network.output
    stable = loss.stable_terms.get(out.activation.name, (None, loss.stable_note))[1]
    steps.append(
        Step(
            "loss",
            L,
            (network.loss_expr,),
            _loss_reason(loss),
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
            lecture_reasons=(
                f"differentiating {{eq:loss}}: {_rules(network.loss_expr, out.a[j])}; only the "
                "term $j = p$ depends on ${0}$",
            ),
        )
    )
    return tuple(steps)


def activation_steps(activations: tuple[ActivationDerivative, ...]) -> tuple[Step, ...]:
    """Each distinct elementwise activation's derivative, as SymPy found it."""
    steps: list[Step] = []
    for info in activations:
        name = info.activation.name
        f = activation_function(info.activation)(u)
        derivative = info.derivative.subs(x_sym, u)
        pairs = [(derivative, r"\texttt{sympy.diff} of ${0}$")]
        lecture = [(derivative, f"differentiating ${{0}}$: {_rules(info.activation.expr, x_sym)}")]
        if (
            info.output_form is not None
            and info.output_form.subs(s_sym, info.activation.expr) != info.derivative
            and info.output_form != info.derivative.subs(x_sym, s_sym)
        ):
            written = (info.output_form.subs(s_sym, f), r"written through the forward value ${0}$")
            pairs.append(written)
            lecture.append(written)
        rhs, reasons = _rows(pairs)
        prime = activation_prime(info.activation)(u)
        if not is_builtin(info.activation):  # the user's function, defined once
            steps.append(
                Step(
                    "activations",
                    f,
                    (info.activation.expr.subs(x_sym, u),),
                    _defined(info.activation),
                    label=f"def-{_label_name(name)}",
                )
            )
        steps.append(
            Step(
                "activations",
                prime,
                rhs,
                reasons[-1],
                why_math=(f,),
                label=f"act-{_label_name(name)}",
                reasons=reasons,
                note=info.activation.derivative_note or _from_z_note(info),
                lecture_reasons=_rows(lecture)[1],
            )
        )
    return tuple(steps)


def _label_name(name: str) -> str:
    """An activation's name as part of a step label (``{eq:act-NAME}``): an expression written
    in the spec in place of a name (spaces, ``&``, parentheses) becomes a digest of itself."""
    if re.fullmatch(r"[\w.-]+", name):
        return name
    return "expr-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _rules(expr: sp.Basic, var: sp.Basic) -> str:
    """The calculus rules that differentiate ``expr`` by ``var``, for a lecture's reason."""
    return rules_used(expr, var) or "a constant"


_Z = sp.symbols("z0 z1", real=True)
_SOFTMAX_OF_TWO = (sp.exp(_Z[0]) / (sp.exp(_Z[0]) + sp.exp(_Z[1])), _Z[0])
"""A softmax component of two inputs and one of them: the rules its Jacobian takes."""


def _defined(function: Any) -> str:
    """Where the spec defines one of its own functions, as LaTeX text: its ``[functions]``
    table, or (an expression written inline) the spec alone: its text is never quoted."""
    if function.inline:
        return "defined in the spec"
    return rf"defined in the spec (\texttt{{[functions.{latex_text(function.name)}]}})"


def _loss_reason(loss: Any) -> str:
    """The loss's description; a loss of the spec's own says where it is written (its
    formula is the equation itself, not the spec's text)."""
    if is_builtin(loss):
        return f"per-sample {loss.description}"
    if loss.inline:
        return f"per-sample loss term ${loss.latex}$, defined in the spec"
    return f"per-sample loss term, {_defined(loss)}"


def output_steps(network: SymbolicNetwork, output: OutputDelta) -> tuple[Step, ...]:
    """The output delta by the chain rule, each equality with its reason."""
    steps: list[Step] = []
    out = network.output
    L_index = out.index
    if not out.activation.elementwise:
        steps.append(
            Step(
                "output",
                partial(out.a[j], out.z[p]),
                (output.jacobian,),
                rf"\texttt{{sympy.diff}} of {{eq:a{L_index}}}, with ${{0}} = {{1}}$; {INDICATOR}",
                why_math=(
                    sp.exp(out.z[j]),
                    out.a[j] * Sum(sp.exp(out.z[i]), (i, 0, out.n_out - 1)),
                ),
                label="jacobian",
                lecture_reasons=(
                    rf"differentiating {{eq:a{L_index}}}: {_rules(*_SOFTMAX_OF_TWO)}, with "
                    rf"${{0}} = {{1}}$; {INDICATOR}",
                ),
            )
        )
    chain = Sum(partial(L, out.a[j]) * partial(out.a[j], out.z[p]), (j, 0, out.n_out - 1))
    if out.activation.elementwise:
        third = (
            rf"by {{eq:dL-da}}, and by {{eq:a{L_index}}} ${{4}} = {{5}}\,\mathbf 1[j = p]$"
        )
        fourth = rf"the indicator keeps only $j = p$; ${out.activation.latex}'$ by " + (
            f"{{eq:act-{_label_name(out.activation.name)}}}"
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
            fourth += " against the same factor of {eq:jacobian}"
        why_math: tuple[sp.Basic, ...] = (cancelled,)
    else:
        why_math = ()
    pairs = [
        (partial(L, out.z[p]), r"definition of the error signal ${1}$"),
        (chain, r"chain rule: ${2}$ reaches the loss through every output ${3}$"),
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
            why_math=(
                why_math[0] if why_math else sp.Integer(0),
                out.delta[p],
                out.z[p],
                out.a[j],
                partial(out.a[j], out.z[p]),
                activation_prime(out.activation)(out.z[j]),
            ),
            label=f"delta{out.index}",
            reasons=reasons,
        )
    )
    return tuple(steps)


def backprop_steps(network: SymbolicNetwork, layers: tuple[LayerGradient, ...]) -> tuple[Step, ...]:
    """The hidden deltas in index form, from the layer above."""
    steps: list[Step] = []
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
            fourth += f"; written through the forward value by {{eq:act-{_label_name(act.name)}}}"
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
    return tuple(steps)


def backprop_matrix_steps(
    network: SymbolicNetwork, layers: tuple[LayerGradient, ...]
) -> tuple[Step, ...]:
    """The hidden deltas in vector form."""
    steps: list[Step] = []
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
    return tuple(steps)


def gradient_steps(layers: tuple[LayerGradient, ...]) -> tuple[Step, ...]:
    """dL/dW and dL/db of each layer in index form."""
    steps: list[Step] = []
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
    return tuple(steps)


def gradient_matrix_steps(layers: tuple[LayerGradient, ...]) -> tuple[Step, ...]:
    """dL/dW and dL/db of each layer in vector form."""
    steps: list[Step] = []
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
    return tuple(steps)


def update_steps(training: Any, batch_loss: sp.Symbol) -> tuple[Step, ...]:
    """The update section's steps: the schedule's rate, then the optimizer's assignments.

    ``training`` is the spec's Training; ``batch_loss`` the symbol of the minibatch's mean loss.
    """
    config: OptimizerConfig = training.optimizer
    update = rule(config)
    steps = []
    if training.schedule is not None:
        lhs, rate, why = schedule_rate(training.schedule)
        steps.append(Step("update", lhs, (rate,), why))
    settings = [sp.Eq(symbol, sp.Float(value, 6)) for symbol, value in update.hyper.items()]
    values = ", ".join(f"${{{n + 2}}}$" for n in range(len(settings)))
    what = "weight and bias" if getattr(training, "train_biases", True) else "weight"
    name = TITLES[config.name] + (" (AMSGrad)" if config.amsgrad else "")
    name += " (centered)" if config.centered else ""
    steps.append(
        Step(
            "update",
            g,
            (partial(batch_loss, theta),),
            rf"{name} as in torch.optim, for every {what} $\theta$, at step "
            r"$t = 1, 2, ...$ (one per minibatch; state starts at 0); ${0}$ is the mean "
            r"of ${1}$ over the minibatch" + (f"; {values}" if values else ""),
            relation=r"\leftarrow",
            why_math=(batch_loss, L, *settings),
        )
    )
    for assignment in update.assignments:
        steps.append(
            Step(
                "update", assignment.lhs, (assignment.rhs,), assignment.why, relation=r"\leftarrow"
            )
        )
    return tuple(steps)


def training_steps(network: SymbolicNetwork) -> tuple[Step, ...]:
    """The update section: plain gradient descent, or the optimizer's own update equations."""
    training = network.spec.training
    if is_plain(training.optimizer, training.schedule):
        return gradient_descent_steps(network)
    return update_steps(training, L_batch)


@cache
def derivation_steps(derivation: Derivation) -> tuple[Step, ...]:
    """Every step of the derivation, section by section, in reading order."""
    network, layers, output = derivation.network, derivation.layers, derivation.output
    steps = (
        *forward_steps(network),
        *forward_matrix_steps(network),
        *loss_steps(network, output),
        *activation_steps(derivation.activations),
        *output_steps(network, output),
        *backprop_steps(network, layers),
        *backprop_matrix_steps(network, layers),
        *gradient_steps(layers),
        *gradient_matrix_steps(layers),
        *training_steps(network),
        *summary_steps(network, output),
    )
    return frozen_biases(network, steps)


@dataclass(frozen=True)
class Section:
    """A titled group of steps, with an optional sentence before them."""

    title: str
    steps: tuple[Step, ...]
    intro: str = ""
    intro_math: tuple[sp.Basic, ...] = ()
    """Expressions printed into the intro's {0}, {1}, ... (in the document's notation)."""
    lecture_intro: str = ""
    """``--lecture``'s intro where it differs (no tool named)."""
    algorithm: tuple[AlgorithmLine, ...] = ()
    """Laid out as an algorithm (numbered lines, a loop indented) where given: its lines in
    order, each one of ``steps`` (unnumbered as an equation) or words of the algorithm's own."""


@dataclass(frozen=True)
class AlgorithmLine:
    """One line of an algorithm: ``steps[step]`` of its section, or ``words`` (LaTeX: "for
    $k = 2, 1$ do") with ``words_math`` printed into their {0}, {1}, ...; ``depth`` indents it."""

    depth: int
    step: int | None = None
    words: str = ""
    words_math: tuple[sp.Basic, ...] = ()
