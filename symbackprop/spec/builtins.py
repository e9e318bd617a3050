"""The built-in function names a spec may use, as plain data (no SymPy).

Loading a spec that uses only these names needs nothing of SymPy, so the warm path of ``run``,
``predict`` and ``evaluate`` (a module found in the cache) never imports it.  The registry in
``functions`` is the authority; ``tests/test_warm_path.py`` checks that these tables match it.
"""

from __future__ import annotations

ELEMENTWISE: dict[str, bool] = {
    "identity": True,
    "sigmoid": True,
    "tanh": True,
    "relu": True,
    "softmax": False,
    "leaky_relu": True,
    "elu": True,
    "selu": True,
    "softplus": True,
    "silu": True,
    "gelu": True,
    "gelu_tanh": True,
    "mish": True,
    "hard_tanh": True,
    "hard_sigmoid": True,
}
"""Built-in activation name -> whether it acts elementwise (softmax does not)."""

REQUIRES_OUTPUT: dict[str, tuple[str, ...]] = {
    "mse": (),
    "binary_cross_entropy": ("sigmoid",),
    "cross_entropy": ("softmax",),
    "huber": (),
    "mae": (),
    "bce_with_logits": (),
}
"""Built-in loss name -> the output activations it needs (none: any)."""

TARGETS: dict[str, str] = {
    "mse": "real",
    "binary_cross_entropy": "binary",
    "cross_entropy": "one_hot",
    "huber": "real",
    "mae": "real",
    "bce_with_logits": "binary",
}
"""Built-in loss name -> the targets it takes (``functions.Loss.targets``)."""


def plain_names(hidden: tuple[str, ...], output: object, loss: object, n_out: int) -> bool:
    """Whether the network uses only built-in functions by their registry names, validly
    combined: then the spec's functions resolve without SymPy, to no functions of its own."""
    if not all(isinstance(n, str) and ELEMENTWISE.get(n) for n in hidden):
        return False
    if not isinstance(output, str) or output not in ELEMENTWISE:
        return False
    if not ELEMENTWISE[output] and n_out < 2:
        return False
    if not isinstance(loss, str) or loss not in REQUIRES_OUTPUT:
        return False
    needs = REQUIRES_OUTPUT[loss]
    return not needs or output in needs
