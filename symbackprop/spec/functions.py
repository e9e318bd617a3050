"""Registry of activations and losses: each one is data (a SymPy expression plus its printing).

An activation is defined by its textbook expression in ``x``; its derivative comes from
``sympy.diff`` (``symbolic.derivatives``), re-expressed through the forward value ``s`` where
such a form is proved (sigma' = s(1 - s)).  A loss is defined by its per-component term in
``a`` (prediction) and ``y`` (target).  Numerically stable forms used by generated code sit
beside the textbook forms, with a sentence saying what they avoid; tests check that both forms
agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

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
    symbol: str = ""
    """Its name in plain text (the text format), as ``latex`` writes it; empty: ``name``."""
    inline: bool = False
    """Written as an expression in ``[network]``: its ``name`` is that expression's SymPy text
    (the key the spec and the code use), its ``latex`` and ``symbol`` a letter of its own."""

    @property
    def shown(self) -> str:
        """Its name in plain text (``symbol`` where it has one)."""
        return self.symbol or self.name

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
    symbol: str = ""
    """Its name in plain text, as ``latex`` writes it; empty: ``name`` (see Activation)."""
    inline: bool = False
    """Written as an expression in ``[network]`` (see Activation)."""

    @property
    def shown(self) -> str:
        """Its name in plain text (``symbol`` where it has one)."""
        return self.symbol or self.name

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
            r"the code subtracts $m = \max_i u_i$ from the weighted inputs $u$ before "
            r"exponentiating: $\operatorname{softmax}(u)_j = e^{u_j - m} / \sum_i e^{u_i - m}$"
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
                r"the code evaluates the loss from the logit $u$ (the weighted input): "
                r"$\max(u,0) - y u + \log(1 + e^{-|u|})$, finite for every $u$",
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
                r"the code evaluates $\log \operatorname{softmax}(u)_j = u_j - "
                r"\operatorname{logsumexp}(u)$ of the weighted inputs $u$, with the maximum "
                r"subtracted, so no $\log 0$ occurs",
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
    r"the code evaluates $\sigma'(x) = e^{-|x|}/(1+e^{-|x|})^2$ from the weighted input, "
    r"keeping its relative precision where $\sigma$ saturates"
)
_TANH_NOTE = (
    r"the code evaluates $\tanh'(x) = 4e^{-2|x|}/(1+e^{-2|x|})^2$ from the weighted input, "
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
            r"(the first two terms as $a(1-y)$ or $-a y$), finite for every logit $a$, and "
            r"its derivative as $1 - y - e^{-a}/(1 + e^{-a})$ for $a \ge 0$, "
            r"$e^{a}/(1 + e^{a}) - y$ otherwise"
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
