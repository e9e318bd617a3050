"""The function registry: every built-in activation and loss against PyTorch (values and
autograd) and at extreme inputs in float32 and float64, through the code the modules print.

The printed forms (forward value, f'(z) as the kernels evaluate it, loss term and dL/da) are
compiled together into one small Numba module per dtype, with the same vectorisable _exp/_tanh
helpers the generated modules use, so the whole registry compiles twice.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from conftest import import_torch, pointwise_module

from symbackprop.codegen.printer import NumbaPrinter
from symbackprop.spec.calculus import at_kinks, mp_value
from symbackprop.spec.functions import ACTIVATIONS, LOSSES
from symbackprop.spec.functions import a as a_sym
from symbackprop.spec.functions import x as x_sym
from symbackprop.spec.functions import y as y_sym
from symbackprop.symbolic.derivatives import code_loss_slope, derivative, kernel_derivative

torch = import_torch()
pytestmark = pytest.mark.slow  # compiles the whole registry twice (float32, float64)
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "identity": lambda t: t,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "mish": F.mish,
    "hard_tanh": F.hardtanh,
    "hard_sigmoid": F.hardsigmoid,
}
TORCH_LOSSES = {
    "mse": lambda a, y: (a - y) ** 2,
    "huber": lambda a, y: F.huber_loss(a, y, reduction="none"),
    "mae": lambda a, y: F.l1_loss(a, y, reduction="none"),
    "bce_with_logits": lambda a, y: F.binary_cross_entropy_with_logits(a, y, reduction="none"),
}
LOSS_TARGETS = {"mse": 0.3, "huber": 0.3, "mae": 0.3, "bce_with_logits": 1.0}

EXTREMES = [0.0, 1e-3, 501.0, 1001.2, 13437.7, 4988429.2, 1e20]
POINTS = np.array(sorted({v for e in EXTREMES for v in (e, -e)} | {0.5, -0.7, 2.2, -3.1, 30.0}))
ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if act.elementwise]


def test_every_builtin_is_covered() -> None:
    """Every elementwise activation and every loss in a, y has a PyTorch counterpart here."""
    assert set(TORCH_ACTIVATIONS) == {n for n in ELEMENTWISE if "(" not in n}
    in_a = {n for n, loss in LOSSES.items() if not loss.requires_output and "(" not in n}
    assert set(TORCH_LOSSES) == in_a


def code_derivative(name: str) -> sp.Expr:
    """f' as the generated kernels evaluate it (stable form, else through s = f(x), else f')."""
    return kernel_derivative(ACTIVATIONS[name])


def loss_code(name: str) -> tuple[sp.Expr, sp.Expr]:
    """The loss term and dL/da as the code evaluates them (dL/da derived by SymPy, from the
    stable term where the registry gives one: see test_code_forms_equal_textbook_forms)."""
    loss = LOSSES[name]
    term = loss.code_term if loss.code_term is not None else loss.term
    return term, code_loss_slope(loss)


def _kernel_lines(dtype: str) -> list[str]:
    float32 = dtype == "float32"
    used: set[str] = set()
    lines = []
    for k, name in enumerate(ELEMENTWISE):
        printer = NumbaPrinter(symbols={"x": "z", "s": "a"}, float32=float32, used=used)
        lines.append(f"a = {printer.doprint(ACTIVATIONS[name].code)}")
        lines.append(f"values[i, {k}] = a")
        lines.append(f"slopes[i, {k}] = {printer.doprint(code_derivative(name))}")
    for m, name in enumerate(TORCH_LOSSES):
        printer = NumbaPrinter(
            symbols={"a": "z", "y": "Y[" + str(m) + "]"}, float32=float32, used=used
        )
        term, slope = loss_code(name)
        lines.append(f"losses[i, {m}] = {printer.doprint(term)}")
        lines.append(f"loss_slopes[i, {m}] = {printer.doprint(slope)}")
    return lines


_KERNELS: dict[str, object] = {}


def registry_kernels(dtype: str):  # noqa: ANN201
    """Forward values, kernel derivatives, loss terms and dL/da at POINTS, in ``dtype``."""
    if dtype not in _KERNELS:
        outputs = ("values", "slopes", "losses", "loss_slopes")
        module = pointwise_module(f"registry_{dtype}", _kernel_lines(dtype), dtype, outputs)
        kind = np.dtype(dtype)
        points = POINTS.astype(kind)
        targets = np.array([LOSS_TARGETS[n] for n in TORCH_LOSSES], dtype=kind)
        out = [
            np.zeros((len(POINTS), width), dtype=kind)
            for width in (len(ELEMENTWISE), len(ELEMENTWISE), len(TORCH_LOSSES), len(TORCH_LOSSES))
        ]
        module.evaluate(points, targets, *out)
        _KERNELS[dtype] = (points.astype(np.float64), *out)
    return _KERNELS[dtype]


def _torch_reference(fn, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    t = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    value = fn(t)
    (grad,) = torch.autograd.grad(value.sum(), t)
    return value.detach().numpy(), grad.numpy()


def _exact(expr: sp.Expr, values: dict[sp.Symbol, float]) -> float:
    """An expression's value at a point, by mpmath with 50 digits (independent of code).

    Not ``xreplace(...).evalf``: substituting 1e20 makes log1p(exp(-1e20)) turn its tiny Float
    argument into a Rational with a 10^19-digit denominator (memory runs out)."""
    with mpmath.workdps(50):
        result = mpmath.mpmathify(mp_value(expr, {k: mpmath.mpf(v) for k, v in values.items()}))
        return float(result) if mpmath.im(result) == 0 else math.nan


def _close(ours: np.ndarray, ref: np.ndarray, dtype: str, what: str, floor: float = 0.0) -> None:
    """Finite wherever the reference fits the dtype, and close to it (relative, with a floor)."""
    info = np.finfo(dtype)
    rtol, atol = (1e-12, max(1e-250, floor)) if dtype == "float64" else (2e-6, 1e-6)
    fits = np.isfinite(ref) & (np.abs(ref) < info.max)
    assert np.all(np.isfinite(ours[fits])), (what, POINTS[fits][~np.isfinite(ours[fits])])
    bad = ~np.isclose(ours[fits], ref[fits], rtol=rtol, atol=atol)
    assert not bad.any(), (what, POINTS[fits][bad], ours[fits][bad], ref[fits][bad])


def _near_torch(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    """Agreement with PyTorch where it is finite (loosely: PyTorch itself loses relative
    precision where functions saturate, e.g. sigmoid' as s(1 - s))."""
    fits = np.isfinite(ref)
    bad = ~np.isclose(ours[fits], ref[fits], rtol=1e-6, atol=1e-12)
    assert not bad.any(), (what, POINTS[fits][bad], ours[fits][bad], ref[fits][bad])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(TORCH_ACTIVATIONS))
def test_activation_at_extremes(name: str, dtype: str) -> None:
    """f and f' as the kernels print them, at 0, +-1e-3, +-501, ..., +-1e20: finite wherever the
    true value fits the dtype, and equal to 1e-12 relative in float64 (2e-6 in float32) to the
    same formulas evaluated by SymPy with 50 digits (the formulas themselves are checked against
    the textbook f and SymPy's f' in test_code_forms_equal_textbook_forms; 50 digits of the
    textbook form would lose log(1 + e^-501) itself), and to torch's value and autograd."""
    points, values, slopes, _, _ = registry_kernels(dtype)
    k = ELEMENTWISE.index(name)
    act = ACTIVATIONS[name]
    slope = code_derivative(name).xreplace({sp.Symbol("s", real=True): act.code})
    exact_value = np.array([_exact(act.code, {x_sym: v}) for v in points])
    exact_slope = np.array([_exact(slope, {x_sym: v}) for v in points])
    _close(values[:, k], exact_value, dtype, f"{name} value")
    _close(slopes[:, k], exact_slope, dtype, f"{name}'")
    if dtype == "float64":
        ref_value, ref_slope = _torch_reference(TORCH_ACTIVATIONS[name], points)
        _near_torch(values[:, k], ref_value, f"{name} value vs torch")
        _near_torch(slopes[:, k], ref_slope, f"{name}' vs torch autograd")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(TORCH_LOSSES))
def test_loss_at_extremes(name: str, dtype: str) -> None:
    """Loss term and dL/da as printed, at the same extremes: exact (SymPy) and torch."""
    points, _, _, losses, loss_slopes = registry_kernels(dtype)
    m = list(TORCH_LOSSES).index(name)
    target = LOSS_TARGETS[name]
    term, slope = loss_code(name)
    exact_value = np.array([_exact(term, {a_sym: v, y_sym: target}) for v in points])
    exact_slope = np.array([_exact(slope, {a_sym: v, y_sym: target}) for v in points])
    _close(losses[:, m], exact_value, dtype, f"{name} loss")
    # dL/da = sigma(a) - y (BCE on logits) cancels where sigma(a) ~ y: its rounding error is
    # one ulp of the terms (~1e-16), not of the difference (sigma(30) - 1 = -9.4e-14).
    _close(loss_slopes[:, m], exact_slope, dtype, f"d{name}/da", floor=4e-16)
    if dtype == "float64":
        target_t = torch.full((len(points),), target, dtype=torch.float64)
        ref_value, ref_slope = _torch_reference(lambda t: TORCH_LOSSES[name](t, target_t), points)
        _near_torch(losses[:, m], ref_value, f"{name} vs torch")
        _near_torch(loss_slopes[:, m], ref_slope, f"d{name}/da vs torch autograd")


def test_saturated_derivatives_keep_relative_precision() -> None:
    """tanh'(30) ~ 3.5e-26 and sigmoid'(30) ~ 9.4e-14 to 1e-12 relative, not 0 (float64)."""
    points, _, slopes, _, _ = registry_kernels("float64")
    i = int(np.flatnonzero(points == 30.0)[0])
    tanh_prime = 4 * math.exp(-60) / (1 + math.exp(-60)) ** 2
    sigmoid_prime = math.exp(-30) / (1 + math.exp(-30)) ** 2
    assert slopes[i, ELEMENTWISE.index("tanh")] == pytest.approx(tanh_prime, rel=1e-12)
    assert slopes[i, ELEMENTWISE.index("sigmoid")] == pytest.approx(sigmoid_prime, rel=1e-12)
    assert slopes[i, ELEMENTWISE.index("softplus")] == pytest.approx(1 / (1 + math.exp(-30)))


def test_derivatives_at_kinks_follow_pytorch() -> None:
    """The least-norm subgradient where PyTorch uses it: relu'(0) = 0, |.|'(0) = 0,
    hard_tanh'(+-1) = 0, hard_sigmoid'(+-3) = 0; leaky_relu'(0) = the slope, as in PyTorch."""
    cases = {
        "relu": [0.0],
        "leaky_relu": [0.0],
        "elu": [0.0],
        "selu": [0.0],
        "hard_tanh": [-1.0, 1.0],
        "hard_sigmoid": [-3.0, 3.0],
    }
    for name, kinks in cases.items():
        _, ref = _torch_reference(TORCH_ACTIVATIONS[name], np.array(kinks))
        ours = [
            float(
                code_derivative(name)
                .subs({x_sym: v})
                .subs(sp.Symbol("s", real=True), ACTIVATIONS[name].expr.subs(x_sym, v))
            )
            for v in kinks
        ]
        assert ours == pytest.approx(list(ref), rel=1e-15, abs=0), name
    mae_slope = loss_code("mae")[1]
    assert mae_slope.subs({a_sym: 0.5, y_sym: 0.5}) == 0
    _, ref = _torch_reference(
        lambda t: F.l1_loss(t, torch.zeros(1, dtype=torch.float64)), np.array([0.0])
    )
    assert ref[0] == 0


def test_code_forms_equal_textbook_forms() -> None:
    """Each stable code form (value and derivative) equals the textbook expression and the
    derivative SymPy finds, at points on both sides of 0 (SymPy, 30 digits)."""
    for name in ELEMENTWISE:
        act = ACTIVATIONS[name]
        for point in (-4.3, -0.6, 0.2, 1.7, 6.1):
            expected = float(act.expr.subs(x_sym, point).evalf(30))
            assert float(act.code.subs(x_sym, point).evalf(30)) == pytest.approx(expected, 1e-14)
            slope = float(derivative(name).subs(x_sym, point).evalf(30))
            form = code_derivative(name).subs(
                sp.Symbol("s", real=True), act.expr.subs(x_sym, point)
            )
            assert float(form.subs(x_sym, point).evalf(30)) == pytest.approx(slope, 1e-14), name
    for name in TORCH_LOSSES:
        term, slope = loss_code(name)
        textbook_slope = at_kinks(sp.diff(LOSSES[name].term, a_sym))
        for point in (-4.3, 0.2, 6.1) + ((0.0,) if name == "bce_with_logits" else ()):
            values = {a_sym: point, y_sym: LOSS_TARGETS[name]}
            assert float(term.subs(values)) == pytest.approx(float(LOSSES[name].term.subs(values)))
            expected = float(textbook_slope.subs(values))
            assert float(slope.subs(values)) == pytest.approx(expected, rel=1e-14), (name, point)


def test_parametrised_builtins_and_aliases() -> None:
    from symbackprop.spec.functions import builtin_activation, builtin_loss

    key = builtin_activation("leaky_relu(0.2)")
    assert key == "leaky_relu(0.2)" and builtin_activation(" leaky_relu( 0.2 ) ") == key
    leaky = ACTIVATIONS[key]
    value, slope = _torch_reference(lambda t: F.leaky_relu(t, 0.2), np.array([-2.0, 0.0, 3.0]))
    assert [float(leaky.expr.subs(x_sym, v)) for v in (-2.0, 0.0, 3.0)] == pytest.approx(value)
    assert [float(derivative(key).subs(x_sym, v)) for v in (-2.0, 0.0, 3.0)] == pytest.approx(slope)
    assert builtin_activation("swish") == "silu" and builtin_loss("l1") == "mae"
    huber = LOSSES[builtin_loss("huber(0.5)")]
    ref, _ = _torch_reference(
        lambda t: F.huber_loss(t, torch.zeros(3, dtype=torch.float64), reduction="none", delta=0.5),
        np.array([-2.0, 0.3, 0.5]),
    )
    assert [float(huber.term.subs({a_sym: v, y_sym: 0})) for v in (-2.0, 0.3, 0.5)] == (
        pytest.approx(ref)
    )
    assert builtin_activation("leaky_relu(x)") is None and builtin_activation("nope") is None
