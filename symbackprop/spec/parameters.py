"""What a spec's parameters are called and shaped, and the signature weights must match.

``W1, b1, W2, b2, ...`` with the shapes of ``torch.nn.Linear``; the signature names the sizes,
the functions and the body of every function written in the spec, so weights saved for one
network are refused by another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Spec

if TYPE_CHECKING:
    from .functions import Activation, Loss


def param_names(spec: Spec) -> tuple[str, ...]:
    """W1, b1, W2, b2, ... for the spec's layers (the generated module's PARAM_NAMES)."""
    return tuple(name for l in range(1, spec.depth + 1) for name in (f"W{l}", f"b{l}"))


def param_shapes(spec: Spec) -> dict[str, tuple[int, ...]]:
    """Each parameter's shape, by name."""
    shapes: dict[str, tuple[int, ...]] = {}
    for l in range(1, spec.depth + 1):
        shapes[f"W{l}"] = (spec.layers[l], spec.layers[l - 1])
        shapes[f"b{l}"] = (spec.layers[l],)
    return shapes


def network_signature(spec: Spec) -> str:
    """The architecture weights must match: sizes, activations, output, loss, and the body of
    every function written in the spec (one name with another body is another network)."""
    hidden = ",".join(spec.activations) or "-"
    layers = "-".join(map(str, spec.layers))
    own = "".join(f"; {function_body(f)}" for f in spec.functions)
    return f"{layers} hidden={hidden} output={spec.output} loss={spec.loss}{own}"


def function_body(function: Activation | Loss) -> str:
    """``name(x) = body`` of a function written in a spec (``name(a, y) = term`` for a loss)."""
    import sympy as sp  # only specs with functions of their own hold SymPy expressions

    from .functions import Activation

    if isinstance(function, Activation):
        return f"{function.name}(x) = {sp.sstr(function.expr)}"
    return f"{function.name}(a, y) = {sp.sstr(function.term)}"
