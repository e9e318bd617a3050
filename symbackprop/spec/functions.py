"""Registry of activations and losses: each one is data (a SymPy expression plus its printing).

An activation is defined by its textbook expression in ``x``; its derivative comes from
``sympy.diff`` and, where SymPy can find one, is re-expressed through the forward value ``s``
(sigma' = s(1 - s)).  A loss is defined by its per-component term in ``a`` (prediction) and
``y`` (target).  Numerically stable forms used by generated code sit beside the textbook forms,
with a sentence saying what they avoid; tests check that both forms agree.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field, replace
from functools import cache

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

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
    code_derivative: sp.Expr | None = None
    """A stable form of f'(x) (in x) that generated code evaluates instead of the derived one."""
    derivative_note: str = ""
    """What the stable derivative form avoids (LaTeX), shown in the derivation."""

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
    stable_terms: dict[str, tuple[sp.Expr, str]] = field(default_factory=dict, hash=False)
    targets: str = "real"
    """"real", "binary" (each target in [0, 1]) or "one_hot" (rows non-negative, summing to 1)."""
    code_term: sp.Expr | None = None
    """A stable form of the term (in a and y) that generated code evaluates, for any output."""
    stable_note: str = ""
    """What ``code_term`` avoids (LaTeX), shown in the derivation."""

    @property
    def targets_sum_to_one(self) -> bool:
        """Whether the derivation may use sum_j y_j = 1."""
        return self.targets == "one_hot"


ACTIVATIONS: dict[str, Activation] = {}
"""The built-in activations by name (and parametrised ones, e.g. ``leaky_relu(0.2)``, once
used: the same name always means the same body).  Functions written in a spec live in that
Spec (``Spec.functions``), never here."""
LOSSES: dict[str, Loss] = {}
"""The built-in losses by name (see ACTIVATIONS)."""


def register_activation(activation: Activation) -> Activation:
    """Add a built-in activation to the registry."""
    ACTIVATIONS[activation.name] = activation
    return activation


def register_loss(loss: Loss) -> Loss:
    """Add a built-in loss to the registry."""
    LOSSES[loss.name] = loss
    return loss


def find_activation(name: str, functions: tuple[Activation | Loss, ...] = ()) -> Activation:
    """The activation called ``name``: one of ``functions`` (a spec's own) or a built-in."""
    for function in functions:
        if isinstance(function, Activation) and function.name == name:
            return function
    return ACTIVATIONS[name]


def find_loss(name: str, functions: tuple[Activation | Loss, ...] = ()) -> Loss:
    """The loss called ``name``: one of ``functions`` (a spec's own) or a built-in."""
    for function in functions:
        if isinstance(function, Loss) and function.name == name:
            return function
    return LOSSES[name]


def is_builtin(function: Activation | Loss) -> bool:
    """Whether ``function`` is the registry's entry of its name (not one written in a spec)."""
    registry = ACTIVATIONS if isinstance(function, Activation) else LOSSES
    return registry.get(function.name) == function


def _activation(activation: Activation | str) -> Activation:
    return ACTIVATIONS[activation] if isinstance(activation, str) else activation


@cache
def derivative(activation: Activation | str) -> sp.Expr:
    """f'(x) of an elementwise activation (or a built-in's name), as ``sympy.diff`` finds it
    (kinks: see ``at_kinks``)."""
    return differentiate(_activation(activation).expr, x)


def differentiate(expr: sp.Expr, variable: sp.Symbol) -> sp.Expr:
    """d expr / d variable by ``sympy.diff``, with the kink conventions of :func:`at_kinks`
    (a Max/Min of three or more arguments first written as :func:`one_winner`)."""
    return at_kinks(sp.diff(one_winner(expr), variable))


def one_winner(expr: sp.Expr) -> sp.Expr:
    """Each Max/Min of three or more arguments as a Piecewise that picks the first extreme one.

    SymPy's derivative of Max(a, b, c) weighs each a_i' by H(a_i - Max(others)); where two
    arguments tie on a whole interval every weight is 0 there.  The Piecewise takes exactly one
    branch, so its derivative is that argument's (pairs of two are handled by ``at_kinks``).
    """

    def pick(e: sp.Basic) -> sp.Expr:
        better = sp.Ge if isinstance(e, sp.Max) else sp.Le
        args = e.args
        pieces = [(arg, sp.And(*[better(arg, rest) for rest in args[k + 1 :]])) for k, arg in
                  enumerate(args[:-1])]  # fmt: skip
        return sp.Piecewise(*pieces, (args[-1], True))

    return expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min)) and len(e.args) >= 3, pick)


def at_kinks(df: sp.Expr) -> sp.Expr:
    """PyTorch's convention at non-differentiable points: the subgradient of least norm.

    ``sympy.diff`` gives Abs' = sign (sign(0) = 0), Max/Min' = Heaviside steps and
    sign'/Heaviside' = DiracDelta.  Steps inside derivatives are taken as 0 at 0
    (ReLU'(0) = 0) and DiracDelta (zero away from the kink) as 0, so no code evaluates a delta.
    Where Max(g, h)' = g' H(g - h) + h' H(h - g) has both steps, one of the pair is taken as 1
    at 0: where g = h on a whole interval (Max(x, |x|) for x > 0), the derivative is g' = h',
    not 0.
    """
    df = df.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)

    def open_step(e: sp.Basic) -> bool:
        return isinstance(e, sp.Heaviside) and (len(e.args) == 1 or e.args[1] != 0)

    df = df.replace(open_step, lambda e: sp.Heaviside(e.args[0], 0))
    steps = df.atoms(sp.Heaviside)
    arguments = {e.args[0] for e in steps}
    paired = [e for e in steps if -e.args[0] in arguments]
    first = {e: sp.Heaviside(e.args[0], 1) for e in paired if e.args[0] in _firsts(paired)}
    return df.xreplace(first)


def _firsts(steps: list[sp.Heaviside]) -> set[sp.Expr]:
    """Of each pair of step arguments u and -u, the one that sorts first."""
    arguments = {e.args[0] for e in steps}
    return {u for u in arguments if sp.default_sort_key(u) < sp.default_sort_key(-u)}


@cache
def output_form_derivative(activation: Activation | str) -> sp.Expr | None:
    """f'(x) written through the forward value s = f(x), or None where no such form is proved.

    Candidates come from substituting f(x) -> s in f'(x), from the unique inverse of f where f
    is built from one-to-one steps, and from renaming x -> s (ReLU, identity); a candidate g is
    accepted only if g(f(x)) = f'(x) holds (see :func:`rewrite_holds`).  Where f is not
    one-to-one, no inverse is unique, and f'(x) is evaluated from x.
    """
    act = _activation(activation)
    return proved_output_form(act.expr, derivative(act))


def kernel_derivative(activation: Activation) -> sp.Expr:
    """f' as the generated kernels evaluate it, in x and s = f(x): the registry's stable form,
    else the form through the forward value where one is proved, else f'(x) from x."""
    if activation.code_derivative is not None:
        return activation.code_derivative
    df = differentiate(activation.expr, x)
    form = proved_output_form(activation.expr, df)
    return form if form is not None else df


def output_form_candidates(f: sp.Expr, df: sp.Expr) -> list[sp.Expr]:
    """Expressions in s that may equal f'(x) at s = f(x), cheapest first (not yet checked)."""
    candidates: list[sp.Expr] = []
    if not df.has(x):
        candidates.append(df)
    substituted = df.subs(f, s)
    if not substituted.has(x):
        candidates.append(substituted)
    inverse = unique_inverse(f)
    if inverse is not None and sp.count_ops(df) <= MAX_REWRITE_OPS:
        candidate = positive_factors(sp.factor(sp.simplify(df.subs(x, inverse))))
        if not candidate.has(x):
            candidates.append(candidate)
    candidates.append(df.subs(x, s))
    return candidates


def proved_output_form(f: sp.Expr, df: sp.Expr) -> sp.Expr | None:
    """The first candidate form of f'(x) through s = f(x) that :func:`rewrite_holds`."""
    for candidate in output_form_candidates(f, df):
        if rewrite_holds(candidate, f, df):
            return candidate
    return None


MAX_REWRITE_OPS = 40
"""Largest f'(x) (SymPy operations) that is simplified after substituting the inverse."""

_INVERSE_FUNCTIONS = {sp.exp: sp.log, sp.log: sp.exp, sp.tanh: sp.atanh, sp.sinh: sp.asinh}
_POWER_INVERSES = {sp.S.NegativeOne: -1, sp.S.Half: 2, -sp.S.Half: -2}


def unique_inverse(f: sp.Expr) -> sp.Expr | None:
    """x written through s = f(x), where f is x passed through one-to-one steps only, or None.

    The steps: adding or multiplying by a constant, 1/u, sqrt(u), 1/sqrt(u), exp, log, tanh and
    sinh, each applied once along the one path from f down to x.  Each is one-to-one on its
    domain, so the inverse is unique there (no branch of solve(s = f(x)) to pick), and it is
    built step by step in time linear in the path.
    """
    inverse, node = s, f
    while node != x:
        if isinstance(node, (sp.Add, sp.Mul)):
            dependent = [arg for arg in node.args if arg.has(x)]
            if len(dependent) != 1:
                return None
            constant = node.func(*[arg for arg in node.args if not arg.has(x)])
            inverse = inverse - constant if isinstance(node, sp.Add) else inverse / constant
            node = dependent[0]
        elif isinstance(node, sp.Pow) and node.exp in _POWER_INVERSES:
            inverse, node = inverse ** _POWER_INVERSES[node.exp], node.base
        elif node.func in _INVERSE_FUNCTIONS and len(node.args) == 1:
            inverse, node = _INVERSE_FUNCTIONS[node.func](inverse), node.args[0]
        else:
            return None
    return inverse


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


REWRITE_POINTS: tuple[float, ...] = tuple(
    sorted(
        {0.0}
        | {
            sign * v
            for sign in (1.0, -1.0)
            for v in (1e-3, 0.1, 0.3, 0.5, 0.7, 1.0, 1.3, 1.7, 2.0, 2.5, 3.0, 4.0, 5.0, 6.5)
            + (8.0, 10.0, 13.0, 20.0, 35.0, 60.0, 100.0, 250.0, 700.0)
        }
    )
)
"""Where a rewrite through the forward value is checked: zero, both signs, small to large |x|
(a branch of a non-one-to-one f is right on one side of its turning point only)."""


def rewrite_holds(candidate: sp.Expr, f: sp.Expr, df: sp.Expr) -> bool:
    """Whether g(f(x)) = f'(x) at every point of :data:`REWRITE_POINTS` where f is defined.

    Values are computed with 30 significant digits.  At a point where f(x) and f'(x) are finite
    and real, g(f(x)) must be too and agree to 1e-9 relative; a NaN, an infinity or a complex
    value there refuses the rewrite.  Fewer than half the points in f's domain refuses it too.
    """
    defined = 0
    for point in REWRITE_POINTS:
        exact = _real(df, {x: point})
        forward = _real(f, {x: point})
        if exact is None or forward is None:
            continue
        defined += 1
        with mpmath.workdps(30):
            rewritten = _real(candidate, {s: mp_value(f, {x: mpmath.mpf(point)})})
        if rewritten is None or abs(rewritten - exact) > 1e-9 * max(1.0, abs(exact)):
            return False
    return defined >= len(REWRITE_POINTS) // 2


def _real(expr: sp.Expr, values: dict[sp.Symbol, object]) -> float | None:
    """``expr`` at ``values`` as a finite float, or None (complex, infinite, undefined)."""
    with mpmath.workdps(30):
        try:
            number = complex(mp_value(expr, values))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
            return None
    if number.imag != 0 or number.real != number.real or abs(number.real) == float("inf"):
        return None
    return number.real


_MPMATH = {
    sp.exp: mpmath.exp,
    sp.log: mpmath.log,
    sp.tanh: mpmath.tanh,
    sp.sinh: mpmath.sinh,
    sp.cosh: mpmath.cosh,
    sp.sin: mpmath.sin,
    sp.cos: mpmath.cos,
    sp.erf: mpmath.erf,
    sp.erfc: mpmath.erfc,
    sp.Abs: abs,
    expm1: mpmath.expm1,
    log1p: mpmath.log1p,
}


def mp_value(expr: sp.Basic, values: dict[sp.Symbol, object]) -> object:
    """An expression's value in mpmath at its working precision (fixed, unlike ``evalf``, which
    raises the precision until a tiny result such as 1 + erf(-500) has its digits, for minutes).
    Functions outside the table fall back to ``evalf``.  Real arithmetic, as generated code's:
    a complex intermediate (sqrt or log of a negative value) raises ValueError, even where a
    later Abs would make it real again."""
    value = _mp_node(expr, values)
    if isinstance(value, mpmath.mpc) and value.imag != 0:
        raise ValueError(f"{expr} is complex here")
    return value


def _mp_node(expr: sp.Basic, values: dict[sp.Symbol, object]) -> object:
    if expr in values:
        return mpmath.mpmathify(values[expr])
    if expr.is_Number or expr in (sp.pi, sp.E):
        return mpmath.mpmathify(sp.Float(expr, mpmath.mp.dps + 5))
    if isinstance(expr, sp.Piecewise):
        for value, condition in expr.args:
            if _holds(condition, values):
                return mp_value(value, values)
        raise ValueError("no Piecewise branch holds")
    args = [mp_value(arg, values) for arg in expr.args]
    if isinstance(expr, sp.Add):
        return mpmath.fsum(args)
    if isinstance(expr, sp.Mul):
        return mpmath.fprod(args)
    if isinstance(expr, sp.Pow):
        return mpmath.power(*args)
    if expr.func in _MPMATH:
        return _MPMATH[expr.func](*args)
    if isinstance(expr, (sp.Max, sp.Min)):
        return (max if isinstance(expr, sp.Max) else min)(args)
    if isinstance(expr, sp.sign):
        return mpmath.sign(args[0])
    if isinstance(expr, sp.Heaviside):
        at_zero = args[1] if len(args) > 1 else mpmath.mpf(0.5)
        return at_zero if args[0] == 0 else mpmath.mpf(args[0] > 0)
    return mpmath.mpmathify(complex(expr.evalf(mpmath.mp.dps, subs=values)))


_COMPARISONS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _holds(condition: sp.Basic, values: dict[sp.Symbol, object]) -> bool:
    """A Piecewise condition's truth at ``values``."""
    if condition in (sp.true, sp.false):
        return bool(condition)
    if isinstance(condition, sp.And):
        return all(_holds(c, values) for c in condition.args)
    if isinstance(condition, sp.Or):
        return any(_holds(c, values) for c in condition.args)
    if isinstance(condition, sp.Not):
        return not _holds(condition.args[0], values)
    if isinstance(condition, sp.core.relational.Relational):
        left, right = (mp_value(side, values) for side in condition.args)
        return bool(_COMPARISONS[condition.rel_op](left, right))
    return bool(condition.subs(values))


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


def stable_sigmoid(u: sp.Expr) -> sp.Expr:
    """1/(1 + e^-u) evaluating only e^{-|u|} (no overflow for any u)."""
    e = sp.exp(-sp.Abs(u))
    return sp.Piecewise((1 / (1 + e), u >= 0), (e / (1 + e), True))


def stable_softplus(u: sp.Expr) -> sp.Expr:
    """log(1 + e^u) as max(u, 0) + log1p(e^{-|u|}) (no overflow, no log of 0)."""
    return sp.Max(u, 0) + log1p(sp.exp(-sp.Abs(u)))


def stable_sech2(u: sp.Expr) -> sp.Expr:
    """sech(u)^2 = 1 - tanh(u)^2 as 4 e^{-2|u|} / (1 + e^{-2|u|})^2 (keeps relative precision)."""
    e = sp.exp(-2 * sp.Abs(u))
    return 4 * e / (1 + e) ** 2


_SIGMOID_NOTE = (
    r"the code evaluates $\sigma'(x) = e^{-|x|}/(1+e^{-|x|})^2$ from $z$, "
    r"keeping its relative precision where $\sigma$ saturates"
)
_TANH_NOTE = (
    r"the code evaluates $\tanh'(x) = 4e^{-2|x|}/(1+e^{-2|x|})^2$ from $z$, "
    r"keeping its relative precision where $\tanh$ saturates"
)
ACTIVATIONS["sigmoid"] = replace(
    ACTIVATIONS["sigmoid"],
    code_derivative=sp.exp(-sp.Abs(x)) / (1 + sp.exp(-sp.Abs(x))) ** 2,
    derivative_note=_SIGMOID_NOTE,
)
ACTIVATIONS["tanh"] = replace(
    ACTIVATIONS["tanh"], code_derivative=stable_sech2(x), derivative_note=_TANH_NOTE
)

SELU_ALPHA = sp.Float("1.6732632423543772848170429916717", 30)
SELU_SCALE = sp.Float("1.0507009873554804934193349852946", 30)
_SQRT_2_PI = sp.sqrt(2 / sp.pi)
_GELU_TANH_U = _SQRT_2_PI * (x + sp.Float("0.044715") * x**3)


def _number(value: float) -> sp.Expr:
    """A parameter as SymPy: an Integer when whole (1, not 1.0), else a Float."""
    value = float(value)
    return sp.Integer(int(value)) if value.is_integer() else sp.Float(repr(value))


def leaky_relu(negative_slope: float = 0.01) -> Activation:
    """LeakyReLU with the given negative slope (torch default 0.01); f'(0) = the slope."""
    slope = _number(negative_slope)
    default = float(negative_slope) == 0.01
    return Activation(
        name="leaky_relu" if default else f"leaky_relu({float(negative_slope)!r})",
        expr=sp.Piecewise((slope * x, x <= 0), (x, True)),
        latex=r"\operatorname{LeakyReLU}" + ("" if default else rf"_{{{float(negative_slope)!r}}}"),
        description=f"x for x > 0, {float(negative_slope)!r} x otherwise",
    )


def elu(alpha: float = 1.0) -> Activation:
    """ELU with the given alpha (torch default 1.0)."""
    alpha_ = _number(alpha)
    default = float(alpha) == 1.0
    return Activation(
        name="elu" if default else f"elu({float(alpha)!r})",
        expr=sp.Piecewise((alpha_ * (sp.exp(x) - 1), x <= 0), (x, True)),
        latex=r"\operatorname{ELU}" + ("" if default else rf"_{{{float(alpha)!r}}}"),
        description=f"x for x > 0, {float(alpha)!r} (e^x - 1) otherwise",
        code_expr=sp.Piecewise((alpha_ * expm1(x), x <= 0), (x, True)),
        stable_note=r"the code evaluates $e^x - 1$ as $\operatorname{expm1}(x)$",
    )


FAMILIES = {"leaky_relu": leaky_relu, "elu": elu}
"""Activations with a parameter: ``leaky_relu(0.2)``, ``elu(0.5)`` in a spec."""

ALIASES = {"swish": "silu", "l1": "mae"}
"""Other names PyTorch uses for the same built-in."""

register_activation(leaky_relu())
register_activation(elu())
register_activation(
    Activation(
        name="selu",
        expr=SELU_SCALE * sp.Piecewise((SELU_ALPHA * (sp.exp(x) - 1), x <= 0), (x, True)),
        latex=r"\operatorname{SELU}",
        description="scale (x for x > 0, alpha (e^x - 1) otherwise), torch's constants",
        code_expr=SELU_SCALE * sp.Piecewise((SELU_ALPHA * expm1(x), x <= 0), (x, True)),
        stable_note=r"the code evaluates $e^x - 1$ as $\operatorname{expm1}(x)$",
    )
)
register_activation(
    Activation(
        name="softplus",
        expr=sp.log(1 + sp.exp(x)),
        latex=r"\operatorname{softplus}",
        description="log(1 + e^x)",
        code_expr=stable_softplus(x),
        stable_note=r"the code evaluates $\max(x, 0) + \log(1 + e^{-|x|})$, finite for every $x$",
        code_derivative=stable_sigmoid(x),
        derivative_note=r"the code evaluates $\sigma(x)$ from $e^{-|x|}$ only",
    )
)
register_activation(
    Activation(
        name="silu",
        expr=x / (1 + sp.exp(-x)),
        latex=r"\operatorname{SiLU}",
        description="x sigmoid(x) (swish)",
        code_expr=x * stable_sigmoid(x),
        stable_note=r"the code evaluates $x\,\sigma(x)$ with $\sigma$ from $e^{-|x|}$ only",
        code_derivative=stable_sigmoid(x) * (1 + x * stable_sigmoid(-x)),
        derivative_note=(
            r"the code evaluates $\sigma(x)(1 + x\,\sigma(-x))$, $\sigma$ from $e^{-|x|}$"
        ),
    )
)
register_activation(
    Activation(
        name="gelu",
        expr=x * (1 + sp.erf(x / sp.sqrt(2))) / 2,
        latex=r"\operatorname{GELU}",
        description="x Phi(x) = x (1 + erf(x / sqrt 2)) / 2",
        code_expr=x * sp.erfc(-x / sp.sqrt(2)) / 2,
        stable_note=r"the code evaluates $x \operatorname{erfc}(-x/\sqrt{2})/2$ (no cancellation)",
        code_derivative=sp.Piecewise(
            (0, x <= -40),
            (1, x >= 40),
            (sp.erfc(-x / sp.sqrt(2)) / 2 + x * sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi), True),
        ),
        derivative_note=r"the code takes $\operatorname{GELU}'$ as 0 or 1 for $|x| \ge 40$",
    )
)
register_activation(
    Activation(
        name="gelu_tanh",
        expr=x * (1 + sp.tanh(_GELU_TANH_U)) / 2,
        latex=r"\operatorname{GELU}_{\tanh}",
        description="x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2",
        code_expr=x * stable_sigmoid(2 * _GELU_TANH_U),
        stable_note=(
            r"the code evaluates $(1 + \tanh u)/2$ as $\sigma(2u)$ from $e^{-2|u|}$ only "
            r"(no cancellation for negative $x$)"
        ),
        code_derivative=sp.Piecewise(
            (0, x <= -20),
            (1, x >= 20),
            (
                (1 + sp.tanh(_GELU_TANH_U)) / 2
                + x * stable_sech2(_GELU_TANH_U) * sp.diff(_GELU_TANH_U, x) / 2,
                True,
            ),
        ),
        derivative_note=(
            r"the code evaluates $\tanh'$ as $4e^{-2|u|}/(1+e^{-2|u|})^2$ and takes the "
            r"derivative as 0 or 1 for $|x| \ge 20$"
        ),
    )
)
register_activation(
    Activation(
        name="mish",
        expr=x * sp.tanh(sp.log(1 + sp.exp(x))),
        latex=r"\operatorname{mish}",
        description="x tanh(softplus(x))",
        code_expr=x * sp.tanh(stable_softplus(x)),
        stable_note=r"the code evaluates softplus as $\max(x, 0) + \log(1 + e^{-|x|})$",
        code_derivative=sp.tanh(stable_softplus(x))
        + x * stable_sech2(stable_softplus(x)) * stable_sigmoid(x),
        derivative_note=(
            r"the code evaluates $\tanh(s) + x \operatorname{sech}^2(s) \sigma(x)$, "
            r"$s = \operatorname{softplus}(x)$, each in its stable form"
        ),
    )
)
register_activation(
    Activation(
        name="hard_tanh",
        expr=sp.Piecewise((-1, x <= -1), (1, x >= 1), (x, True)),
        latex=r"\operatorname{HardTanh}",
        description="x clipped to [-1, 1]; derivative 0 at the corners",
    )
)
register_activation(
    Activation(
        name="hard_sigmoid",
        expr=sp.Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + sp.Rational(1, 2), True)),
        latex=r"\operatorname{HardSigmoid}",
        description="x / 6 + 1/2 clipped to [0, 1]; derivative 0 at the corners",
    )
)


def huber(delta: float = 1.0) -> Loss:
    """Huber loss with threshold delta (torch default 1.0), mean over output components."""
    d = _number(delta)
    default = float(delta) == 1.0
    return Loss(
        name="huber" if default else f"huber({float(delta)!r})",
        term=sp.Piecewise(
            ((a - y) ** 2 / 2, sp.Abs(a - y) <= d), (d * (sp.Abs(a - y) - d / 2), True)
        ),
        mean=True,
        latex=r"\mathrm{Huber}" + ("" if default else rf"_{{{float(delta)!r}}}"),
        description=f"Huber loss (delta {float(delta)!r}), mean over output components",
    )


LOSS_FAMILIES = {"huber": huber}
register_loss(huber())
register_loss(
    Loss(
        name="mae",
        term=sp.Abs(a - y),
        mean=True,
        latex=r"\mathrm{MAE}",
        description="mean absolute error (L1) over output components; |0|' = 0",
    )
)
register_loss(
    Loss(
        name="bce_with_logits",
        term=sp.log(1 + sp.exp(a)) - a * y,
        mean=True,
        latex=r"\mathrm{BCE}_{\mathrm{logits}}",
        description="binary cross-entropy on logits (identity output), mean over components",
        targets="binary",
        code_term=sp.Piecewise((a * (1 - y), a >= 0), (-a * y, True)) + log1p(sp.exp(-sp.Abs(a))),
        stable_note=(
            r"the code evaluates the loss as $\max(a,0) - a y + \log(1 + e^{-|a|})$ "
            r"(the first two terms as $a(1-y)$ or $-a y$), finite for every logit $a$"
        ),
    )
)

_CALL = re.compile(r"^\s*([a-z_]+)\s*\(\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\)\s*$")


def builtin_activation(text: str) -> str | None:
    """The registry key of a built-in activation name (or alias, or ``leaky_relu(0.2)``)."""
    text = ALIASES.get(text, text)
    if text in ACTIVATIONS:
        return text
    match = _CALL.match(text)
    if match and match.group(1) in FAMILIES:
        return register_activation(FAMILIES[match.group(1)](float(match.group(2)))).name
    return None


def builtin_loss(text: str) -> str | None:
    """The registry key of a built-in loss name (or alias, or ``huber(0.5)``)."""
    text = ALIASES.get(text, text)
    if text in LOSSES:
        return text
    match = _CALL.match(text)
    if match and match.group(1) in LOSS_FAMILIES:
        return register_loss(LOSS_FAMILIES[match.group(1)](float(match.group(2)))).name
    return None
