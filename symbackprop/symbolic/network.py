"""The symbolic network: a spec's layers as size-independent SymPy expressions in index form.

Layer l computes z^(l)_j = sum_k W^(l)_jk a^(l-1)_k + b^(l)_j and a^(l)_j = f_l(z^(l)_j)
(softmax: a_j = e^{z_j} / sum_i e^{z_i}); the per-sample loss is a sum (or mean) over the
output components of the loss term.  Sizes are symbols n_l, so the expressions (and their
derivatives) do not grow with the network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import sympy as sp

from ..spec.functions import Activation, Loss
from ..spec.functions import a as a_sym
from ..spec.functions import x as x_sym
from ..spec.functions import y as y_sym
from ..spec.model import Spec
from .derivatives import derivative

# Index symbols: integer=True (not nonnegative) so KroneckerDelta sums collapse.
j, k, i, p, q = sp.symbols("j k i p q", integer=True)


class ActivationFunction(sp.Function):
    """An activation as an unevaluated SymPy function; ``fdiff`` gives its named derivative."""

    activation: Activation

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return activation_prime(self.activation)(self.args[0])

    def _latex(self, printer: sp.printing.printer.Printer, exp: object = None) -> str:
        # SymPy's printers skip _print_<Base> for renamed Function subclasses; route here.
        return printer._print_ActivationFunction(self, exp)  # type: ignore[attr-defined]

    def expanded(self) -> sp.Expr:
        """The textbook expression with the argument substituted."""
        return self.activation.expr.subs(x_sym, self.args[0])


class ActivationPrime(sp.Function):
    """The derivative f'(z) of an activation, kept named until replaced by its SymPy form."""

    activation: Activation

    def expanded(self) -> sp.Expr:
        """f'(x) as ``sympy.diff`` found it, with the argument substituted."""
        return derivative(self.activation).subs(x_sym, self.args[0])

    def _latex(self, printer: sp.printing.printer.Printer, exp: object = None) -> str:
        return printer._print_ActivationPrime(self, exp)  # type: ignore[attr-defined]

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        return f"{self.activation.name}'({printer._print(self.args[0])})"


@cache
def activation_function(activation: Activation) -> type[ActivationFunction]:
    """The SymPy function class standing for ``activation`` (one class per definition, so two
    specs' functions of one name never meet)."""
    return type(activation.name, (ActivationFunction,), {"activation": activation})


@cache
def activation_prime(activation: Activation) -> type[ActivationPrime]:
    """The SymPy function class standing for the derivative of ``activation``."""
    return type(f"{activation.name}_prime", (ActivationPrime,), {"activation": activation})


_APPLIED_TO = sp.Symbol("u", real=True)


class Elementwise(sp.MatrixExpr):
    """An activation (or its derivative, ``prime=1``) applied elementwise to a vector (display)."""

    def __new__(cls, activation: Activation, vector: sp.MatrixExpr, prime: int = 0) -> Elementwise:
        applied = activation_function(activation)(_APPLIED_TO)
        return super().__new__(cls, applied, vector, sp.Integer(prime))

    @property
    def activation(self) -> Activation:
        """The activation applied."""
        return self.args[0].activation

    @property
    def prime(self) -> bool:
        """Whether this is the derivative f'."""
        return bool(self.args[2])

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.args[1].shape

    def _entry(self, i: int, j: int, **kwargs: object) -> sp.Expr:
        cls = activation_prime if self.prime else activation_function
        return cls(self.activation)(self.args[1][i, j])


@dataclass(frozen=True)
class Layer:
    """One weight layer, index l (1-based), in index form."""

    index: int
    n_in: sp.Symbol
    n_out: sp.Symbol
    W: sp.IndexedBase
    b: sp.IndexedBase
    z: sp.IndexedBase
    a_in: sp.IndexedBase
    a: sp.IndexedBase
    delta: sp.IndexedBase
    activation: Activation

    @property
    def z_expr(self) -> sp.Expr:
        """z^(l)_j as a sum over the inputs."""
        return sp.Sum(self.W[j, k] * self.a_in[k], (k, 0, self.n_in - 1)) + self.b[j]

    @property
    def a_expr(self) -> sp.Expr:
        """a^(l)_j as a function of z^(l)."""
        if self.activation.elementwise:
            return activation_function(self.activation)(self.z[j])
        return sp.exp(self.z[j]) / self.softmax_denominator

    def vector(self, kind: str) -> sp.MatrixSymbol:
        """The layer's quantities as matrices: ``W``, ``b``, ``z``, ``a``, ``a_in`` or ``delta``."""
        rows = {"W": self.n_out, "a_in": self.n_in}.get(kind, self.n_out)
        cols = self.n_in if kind == "W" else 1
        name = str(getattr(self, kind).label)
        return sp.MatrixSymbol(name, rows, cols)

    @property
    def softmax_denominator(self) -> sp.Expr:
        """sum_i e^{z_i} (softmax layers)."""
        return sp.Sum(sp.exp(self.z[i]), (i, 0, self.n_out - 1))


@dataclass(frozen=True)
class SymbolicNetwork:
    """A spec's network as SymPy objects: layers, targets and the per-sample loss."""

    spec: Spec
    layers: tuple[Layer, ...]
    sizes: tuple[sp.Symbol, ...]
    y: sp.IndexedBase
    loss: Loss

    @property
    def output(self) -> Layer:
        """The last layer."""
        return self.layers[-1]

    @property
    def loss_expr(self) -> sp.Expr:
        """The per-sample loss L in terms of the output activations a^(L) and targets y."""
        n = self.output.n_out
        term = self.loss.term.xreplace({a_sym: self.output.a[j], y_sym: self.y[j]})
        total = sp.Sum(term, (j, 0, n - 1))
        return total / n if self.loss.mean else total

    def concrete_sizes(self) -> dict[sp.Symbol, int]:
        """The map from size symbols n_l to the spec's layer sizes."""
        return dict(zip(self.sizes, self.spec.layers))


def build_network(spec: Spec) -> SymbolicNetwork:
    """The symbolic network of a spec."""
    sizes = tuple(sp.Symbol(f"n{l}", integer=True, positive=True) for l in range(len(spec.layers)))
    layers = []
    for l in range(1, spec.depth + 1):
        layers.append(
            Layer(
                index=l,
                n_in=sizes[l - 1],
                n_out=sizes[l],
                W=sp.IndexedBase(f"W{l}", real=True),
                b=sp.IndexedBase(f"b{l}", real=True),
                z=sp.IndexedBase(f"z{l}", real=True),
                a_in=sp.IndexedBase(f"a{l - 1}", real=True),
                a=sp.IndexedBase(f"a{l}", real=True),
                delta=sp.IndexedBase(f"delta{l}", real=True),
                activation=spec.activation(spec.layer_activation(l)),
            )
        )
    return SymbolicNetwork(
        spec=spec,
        layers=tuple(layers),
        sizes=sizes,
        y=sp.IndexedBase("y", real=True),
        loss=_reduced(spec.loss_function, spec.loss_reduction),
    )


def _reduced(loss: Loss, reduction: str | None) -> Loss:
    """The loss with the spec's reduction over outputs ("mean" or "sum"; None keeps its own)."""
    if reduction is None or loss.mean == (reduction == "mean"):
        return loss
    return replace(loss, mean=reduction == "mean")
