"""Registry of activations and losses: each one is data (a SymPy expression plus its printing).

An activation is defined by its textbook expression in ``x``; its derivative comes from
``sympy.diff`` and, where SymPy can find one, is re-expressed through the forward value ``s``
(sigma' = s(1 - s)).  A loss is defined by its per-component term in ``a`` (prediction) and
``y`` (target).  Numerically stable forms used by generated code sit beside the textbook forms,
with a sentence saying what they avoid; tests check that both forms agree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

import sympy as sp
from sympy.codegen.cfunctions import log1p

x = sp.Symbol("x", real=True)
"""The argument of every activation expression."""
s = sp.Symbol("s", real=True)
"""The forward value f(x) of an activation, used to re-express its derivative."""
a = sp.Symbol("a", real=True)
"""A network output component (the prediction) in a loss term."""
y = sp.Symbol("y", real=True)
"""A target component in a loss term."""
z = sp.Symbol("z", real=True)
"""The pre-activation output component (logit) in a stable loss term."""
lse = sp.Symbol("lse", real=True)
"""log-sum-exp of the output logits, available to stable softmax loss terms."""


@dataclass(frozen=True)
class Activation:
    """An activation function: textbook expression, LaTeX name and stable code form."""

    name: str
    expr: sp.Expr
    latex: str
    description: str
    code_expr: sp.Expr | None = None
    stable_note: str = ""
    elementwise: bool = True

    @property
    def code(self) -> sp.Expr:
        """The expression the generated code evaluates (the stable form where one is given)."""
        return self.code_expr if self.code_expr is not None else self.expr


@dataclass(frozen=True)
class Loss:
    """A per-sample loss: sum (or mean) over output components of ``term(a, y)``."""

    name: str
    term: sp.Expr
    mean: bool
    latex: str
    description: str
    requires_output: tuple[str, ...] = ()
    stable_terms: dict[str, tuple[sp.Expr, str]] = field(default_factory=dict)
    targets: str = "real"
    """"real", "binary" (each target in [0, 1]) or "one_hot" (rows non-negative, summing to 1)."""

    @property
    def targets_sum_to_one(self) -> bool:
        """Whether the derivation may use sum_j y_j = 1."""
        return self.targets == "one_hot"


ACTIVATIONS: dict[str, Activation] = {}
LOSSES: dict[str, Loss] = {}


def register_activation(activation: Activation) -> Activation:
    """Add an activation to the registry (later entries with the same name replace earlier ones)."""
    ACTIVATIONS[activation.name] = activation
    derivative.cache_clear()
    output_form_derivative.cache_clear()
    return activation


def register_loss(loss: Loss) -> Loss:
    """Add a loss to the registry."""
    LOSSES[loss.name] = loss
    return loss


@cache
def derivative(name: str) -> sp.Expr:
    """f'(x) of an elementwise activation, as ``sympy.diff`` finds it."""
    return sp.diff(ACTIVATIONS[name].expr, x)


@cache
def output_form_derivative(name: str) -> sp.Expr | None:
    """f'(x) written through the forward value s = f(x), or None where SymPy finds no such form.

    Candidates come from substituting f(x) -> s in f'(x), from solving s = f(x) for x, and from
    renaming x -> s (ReLU, identity); each candidate g is accepted only if g(f(x)) == f'(x) at
    sample points on both sides of zero.
    """
    act = ACTIVATIONS[name]
    f, df = act.expr, derivative(name)
    candidates: list[sp.Expr] = []
    if not df.has(x):
        candidates.append(df)
    substituted = df.subs(f, s)
    if not substituted.has(x):
        candidates.append(substituted)
    if not f.has(sp.Piecewise, sp.Max, sp.Min, sp.Abs):
        try:
            for root in sp.solve(sp.Eq(s, f), x):
                candidate = positive_factors(sp.factor(sp.simplify(df.subs(x, root))))
                if not candidate.has(x):
                    candidates.append(candidate)
        except NotImplementedError:
            pass
    candidates.append(df.subs(x, s))
    for candidate in candidates:
        if _agrees(candidate.subs(s, f), df):
            return candidate
    return None


def positive_factors(expr: sp.Expr) -> sp.Expr:
    """Write -c (a - 1) as c (1 - a): absorb a leading minus sign into a sum factor."""
    if not isinstance(expr, sp.Mul) or not expr.could_extract_minus_sign():
        return expr
    factors = list(sp.Mul.make_args(-expr))
    for position, factor in enumerate(factors):
        if isinstance(factor, sp.Add):
            factors[position] = sp.expand(-factor)
            return sp.Mul(*factors)
    return expr


def _agrees(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """True when two expressions in x agree (to 1e-9) at fixed sample points, zero included."""
    rng = random.Random(0)
    points = [0.0, 1.0, -1.0, 0.5, -2.5] + [rng.uniform(-6, 6) for _ in range(8)]
    for point in points:
        try:
            left = complex(lhs.subs(x, point).evalf())
            right = complex(rhs.subs(x, point).evalf())
        except (TypeError, ValueError):
            return False
        if abs(left - right) > 1e-9 * max(1.0, abs(right)):
            return False
    return True


register_activation(
    Activation(
        name="identity",
        expr=x,
        latex=r"\operatorname{id}",
        description="f(x) = x",
    )
)
register_activation(
    Activation(
        name="sigmoid",
        expr=1 / (1 + sp.exp(-x)),
        latex=r"\sigma",
        description="logistic sigmoid 1 / (1 + e^-x)",
        code_expr=sp.Piecewise(
            (1 / (1 + sp.exp(-sp.Abs(x))), x >= 0),
            (sp.exp(-sp.Abs(x)) / (1 + sp.exp(-sp.Abs(x))), True),
        ),
        stable_note=(
            r"the code evaluates only $e^{-|z|}$: $\sigma(z) = 1/(1+e^{-|z|})$ for $z \ge 0$, "
            r"$e^{-|z|}/(1+e^{-|z|})$ otherwise, so no exponential overflows"
        ),
    )
)
register_activation(
    Activation(
        name="tanh",
        expr=sp.tanh(x),
        latex=r"\tanh",
        description="hyperbolic tangent",
    )
)
register_activation(
    Activation(
        name="relu",
        expr=sp.Piecewise((0, x <= 0), (x, True)),
        latex=r"\operatorname{ReLU}",
        description="max(0, x), with ReLU'(0) = 0",
    )
)
register_activation(
    Activation(
        name="softmax",
        expr=sp.exp(x),
        latex=r"\operatorname{softmax}",
        description="softmax over the output layer (output only)",
        stable_note=(
            r"the code subtracts $m = \max_i z_i$ before exponentiating: "
            r"$a_j = e^{z_j - m} / \sum_i e^{z_i - m}$"
        ),
        elementwise=False,
    )
)

register_loss(
    Loss(
        name="mse",
        term=(a - y) ** 2,
        mean=True,
        latex=r"\mathrm{MSE}",
        description="mean squared error over output components",
    )
)
register_loss(
    Loss(
        name="binary_cross_entropy",
        term=-(y * sp.log(a) + (1 - y) * sp.log(1 - a)),
        mean=True,
        latex=r"\mathrm{BCE}",
        description="binary cross-entropy, mean over output components (sigmoid output)",
        requires_output=("sigmoid",),
        targets="binary",
        stable_terms={
            "sigmoid": (
                sp.Max(z, 0) - y * z + log1p(sp.exp(-sp.Abs(z))),
                r"the code evaluates the loss from the logit: "
                r"$\max(z,0) - y z + \log(1 + e^{-|z|})$, finite for every $z$",
            )
        },
    )
)
register_loss(
    Loss(
        name="cross_entropy",
        term=-y * sp.log(a),
        mean=False,
        latex=r"\mathrm{CE}",
        description="categorical cross-entropy (softmax output; targets sum to 1)",
        requires_output=("softmax",),
        stable_terms={
            "softmax": (
                y * (lse - z),
                r"the code evaluates $\log a_j = z_j - \operatorname{logsumexp}(z)$ "
                r"with the maximum subtracted, so no $\log 0$ occurs",
            )
        },
        targets="one_hot",
    )
)
