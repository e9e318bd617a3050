"""The layer-level derivation against independent routes: full expansion, textbook forms."""

from __future__ import annotations

import random

import pytest
import sympy as sp
from conftest import OUTPUT_LOSS, make_spec

from symbackprop.pipeline import derivation_of
from symbackprop.spec.functions import ACTIVATIONS, s, x
from symbackprop.symbolic.derivation import collapse
from symbackprop.symbolic.derivatives import derivative, output_form_derivative
from symbackprop.symbolic.expansion import Scalars, all_params, closed_forms, composed_loss
from symbackprop.symbolic.network import build_network, p


def _rational_point(scalars: Scalars, seed: int, one_hot: bool) -> dict:
    rng = random.Random(seed)
    point = {sym: sp.Rational(rng.randint(-12, 12), 7) for sym in scalars.x}
    for table in scalars.params.values():
        point.update({sym: sp.Rational(rng.randint(-12, 12), 11) for sym in table.values()})
    if one_hot:
        hot = rng.randrange(len(scalars.y))
        point.update({sym: int(i == hot) for i, sym in enumerate(scalars.y)})
    else:
        point.update({sym: sp.Rational(rng.randint(0, 9), 9) for sym in scalars.y})
    return point


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
@pytest.mark.parametrize(
    "hidden",
    ["tanh"] + [pytest.param(h, marks=pytest.mark.slow) for h in ("sigmoid", "relu", "identity")],
)  # tanh meets every output and loss in the default run; the other hiddens under -m slow
def test_layer_level_equals_full_expansion(output: str, loss: str, hidden: str) -> None:
    """On a 2-3-2 network, the delta-rule result equals sympy.diff of the composed loss.

    Both sides are evaluated exactly at rational points (to 60 digits): the only difference
    allowed is none.  Cross-entropy targets are one-hot, as the derivation assumes.
    """
    spec = make_spec([2, 3, 2], output, loss, hidden)
    derivation = derivation_of(spec)
    network = derivation.network
    scalars = Scalars(network)
    loss_expr = composed_loss(network, scalars)
    refs = all_params(spec)
    forms = closed_forms(derivation, refs)
    for seed in range(2):
        point = _rational_point(scalars, seed, one_hot=loss == "cross_entropy")
        for ref, form in zip(refs, forms):
            route_a = form.xreplace(point)
            route_b = sp.diff(loss_expr, scalars.symbol(ref)).xreplace(point)
            difference = sp.N(route_a - route_b, 60)
            assert abs(difference) < sp.Float("1e-50"), (ref, difference)


def test_symbolic_equality_small() -> None:
    """For a sigmoid 1-1-1 network the two routes are equal as expressions (simplify to 0)."""
    spec = make_spec([1, 1, 1], "sigmoid", "binary_cross_entropy", "tanh")
    derivation = derivation_of(spec)
    scalars = Scalars(derivation.network)
    loss_expr = composed_loss(derivation.network, scalars)
    refs = all_params(spec)
    for ref, form in zip(refs, closed_forms(derivation, refs)):
        assert sp.simplify(form - sp.diff(loss_expr, scalars.symbol(ref))) == 0


def test_textbook_output_deltas() -> None:
    """SymPy's output deltas match the textbook forms (typed here, independently)."""

    def delta(output: str, loss: str) -> sp.Expr:
        return derivation_of(make_spec([2, 3, 4], output, loss)).output.delta

    a, y = (sp.IndexedBase(n, real=True) for n in ("a2", "y"))
    n = sp.Integer(4)
    sizes = {sp.Symbol("n2", integer=True, positive=True): n}
    assert sp.simplify(delta("softmax", "cross_entropy") - (a[p] - y[p])) == 0
    bce = delta("sigmoid", "binary_cross_entropy").xreplace(sizes)
    assert sp.simplify(bce - (a[p] - y[p]) / n) == 0
    mse = delta("sigmoid", "mse").xreplace(sizes)
    assert sp.simplify(mse - 2 * (a[p] - y[p]) * a[p] * (1 - a[p]) / n) == 0
    identity = delta("identity", "mse").xreplace(sizes)
    assert sp.simplify(identity - 2 * (a[p] - y[p]) / n) == 0


def test_cancellation_is_reported() -> None:
    ce = derivation_of(make_spec([2, 3, 4], "softmax", "cross_entropy")).output
    assert ce.assumption == r"\sum_j y_j = 1"
    assert ce.before_assumptions != ce.delta
    bce = derivation_of(make_spec([2, 3, 4], "sigmoid", "binary_cross_entropy")).output
    assert bce.cancelled is not None and bce.cancelled.has(sp.Indexed)
    mse = derivation_of(make_spec([2, 3, 4], "sigmoid", "mse")).output
    assert mse.cancelled is None and mse.assumption is None


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "identity"])
def test_activation_derivatives(name: str) -> None:
    """f' from sympy.diff agrees with central differences; the forward-value form with f'."""
    f = sp.lambdify(x, ACTIVATIONS[name].expr, "math")
    df = sp.lambdify(x, derivative(name), "math")
    form = output_form_derivative(name)
    assert form is not None
    g = sp.lambdify(s, form, "math")
    for point in [-3.1, -0.7, 0.4, 1.3, 2.9]:
        numeric = (f(point + 1e-6) - f(point - 1e-6)) / 2e-6
        assert df(point) == pytest.approx(numeric, rel=1e-7, abs=1e-9)
        assert g(f(point)) == pytest.approx(df(point), rel=1e-12, abs=1e-15)
    assert sp.simplify(output_form_derivative("sigmoid") - s * (1 - s)) == 0
    assert sp.simplify(output_form_derivative("tanh") - (1 - s**2)) == 0


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_forms_of_tanh_and_sigmoid_need_no_simplify(name: str, monkeypatch) -> None:
    """Candidates are built one at a time, cheapest first: tanh' = 1 - s**2 as the substitution
    f -> s gives it, sigmoid' = s(1 - s) by cancelling after substituting f's inverse; neither
    reaches sympy.simplify (0.1-0.2 s of a cold run)."""
    from symbackprop.symbolic import derivatives

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("sympy.simplify called")

    monkeypatch.setattr(derivatives.sp, "simplify", refused)
    act = ACTIVATIONS[name]
    form = derivatives.proved_output_form(act.expr, derivative(name))
    assert form is not None and not form.has(x)


def test_a_sharp_softplus_form_is_not_factored_into_dozens_of_factors() -> None:
    """log(1 + exp(k x))/k: f' through s is (exp(k s) - 1) exp(-k s), degree k in exp(s);
    factoring it gave a product of dozens of cyclotomic factors (213 operations at k = 2000,
    0.7 s; minutes from k = 10,000 on). Forms of low degree are still factored."""
    from symbackprop.spec.functions import Activation
    from symbackprop.symbolic.derivatives import kernel_derivative

    sharp = Activation(
        name="sharp", expr=sp.log(1 + sp.exp(2000 * x)) / 2000, latex="f", description=""
    )
    form = kernel_derivative(sharp)
    assert sp.count_ops(form) <= 8, form
    assert sp.simplify(form - (1 - sp.exp(-2000 * s))) == 0
    mild = Activation(name="mild", expr=sp.log(1 + sp.exp(2 * x)) / 2, latex="f", description="")
    assert sp.Mul.make_args(kernel_derivative(mild)).count(sp.exp(s) + 1) == 1  # factored


def test_a_form_whose_steps_overflow_float64_is_refused() -> None:
    """sinh(sinh(x))' = sqrt(s**2 + 1) sqrt(asinh(s)**2 + 1) holds exactly, but s**2 overflows
    float64 from x = 6.57, where f'(x) = cosh(sinh(x)) cosh(x) is finite up to 7.25: the form
    is refused (f' is taken from x), and the kernel's f'(z) at z = -7 is finite and right. A
    sharp softplus gets 1 - exp(-1000 s), not (exp(1000 s) - 1) exp(-1000 s) (inf * 0 = nan
    in float64 for s above 0.71)."""
    import math

    import numpy as np
    from conftest import module_for

    from symbackprop.spec.functions import Activation
    from symbackprop.spec.model import parse_spec
    from symbackprop.symbolic.derivatives import kernel_derivative, proved_output_form

    f = sp.sinh(sp.sinh(x))
    held = sp.sqrt(s**2 + 1) * sp.sqrt(sp.asinh(s) ** 2 + 1)
    for point in ("-5", "-0.5", "0.3", "2", "6.9"):  # the refused form is right...
        difference = (held.subs(s, f) - sp.diff(f, x)) / sp.diff(f, x)
        assert abs(difference.evalf(30, subs={x: sp.Rational(point)})) < 1e-20
    with np.errstate(over="ignore"):
        at = np.sinh(np.sinh(-7.0))
        assert np.isinf(np.sqrt(at**2 + 1))  # ...but not in float64
    assert proved_output_form(f, sp.diff(f, x)) is None
    network = {"layers": [1, 1, 1], "activation": "sinh(sinh(x))", "output": "identity"}
    module = module_for(parse_spec({"name": "sinh_sinh", "network": {**network, "loss": "mse"}}))
    params = [np.ones((1, 1)), np.zeros(1), np.ones((1, 1)), np.zeros(1)]
    with np.errstate(over="ignore", invalid="ignore"):
        kept = module.intermediates(params, np.array([[-7.0]]), np.zeros((1, 1)))["Fp1"]
    exact = math.cosh(math.sinh(-7.0)) * math.cosh(-7.0)  # 2.8e240
    assert kept[0, 0] == pytest.approx(exact, rel=1e-12)
    sharp = Activation(
        name="sharp", expr=sp.log(1 + sp.exp(1000 * x)) / 1000, latex="f", description=""
    )
    form = kernel_derivative(sharp)
    assert sp.simplify(form - (1 - sp.exp(-1000 * s))) == 0, form
    assert float(form.subs(s, 0.8)) == pytest.approx(1.0)


def test_a_form_is_checked_on_the_forward_value_rounded_to_float64() -> None:
    """The Gompertz activation exp(-exp(-x)): f' = -s log(s) holds exactly, but s is 0 in
    float64 from x = -6.6 and 0 log 0 is nan where f' is 0 (to float64): the form is refused,
    and the kernel's f'(z) at z = -7 is 0, not nan."""
    import numpy as np
    from conftest import module_for

    from symbackprop.spec.model import parse_spec
    from symbackprop.symbolic.derivatives import proved_output_form

    f = sp.exp(-sp.exp(-x))
    assert sp.simplify((-s * sp.log(s)).subs(s, f) - sp.diff(f, x)) == 0
    assert proved_output_form(f, sp.diff(f, x)) is None
    network = {"layers": [1, 1, 1], "activation": "exp(-exp(-x))", "output": "identity"}
    module = module_for(parse_spec({"name": "gompertz", "network": {**network, "loss": "mse"}}))
    params = [np.ones((1, 1)), np.zeros(1), np.ones((1, 1)), np.zeros(1)]
    kept = module.intermediates(params, np.array([[-7.0], [0.5]]), np.zeros((2, 1)))["Fp1"]
    assert kept[0, 0] == 0.0 and kept[1, 0] == pytest.approx(np.exp(-0.5 - np.exp(-0.5)))
    # ... and on the exact value too: exp(tanh(exp(x)))' through atanh(log s) holds for the
    # rounded s = float(e) (log = 1 - 5e-17 at 30 digits), but in float64 log(s) is 1.0 and
    # atanh(1.0) = inf from x = 3 (the form was accepted with the rounded value alone)
    f = sp.exp(sp.tanh(sp.exp(x)))
    assert proved_output_form(f, sp.diff(f, x)) is None
    network = {"layers": [1, 1, 1], "activation": "exp(tanh(exp(x)))", "output": "identity"}
    module = module_for(parse_spec({"name": "tanh_exp", "network": {**network, "loss": "mse"}}))
    kept = module.intermediates(params, np.array([[3.0], [4.0]]), np.zeros((2, 1)))["Fp1"]
    exact = [np.exp(np.tanh(np.exp(z))) * np.exp(z) / np.cosh(np.exp(z)) ** 2 for z in (3, 4)]
    assert np.isfinite(kept).all()  # nan with the form
    np.testing.assert_allclose(kept[:, 0], exact, rtol=1e-9, atol=1e-15)  # 7.8e-16, 2.2e-45


def test_relu_derivative_at_zero_is_zero() -> None:
    assert derivative("relu").subs(x, 0) == 0
    assert output_form_derivative("relu").subs(s, 0) == 0


def test_stable_forms_equal_textbook() -> None:
    """The code's stable sigmoid and loss terms equal the textbook definitions."""
    from symbackprop.spec.functions import LOSSES, a, lse, y, z

    sigmoid = ACTIVATIONS["sigmoid"]
    code = sp.lambdify(x, sigmoid.code, "math")
    textbook = sp.lambdify(x, sigmoid.expr, "math")
    for point in [-30.0, -2.0, 0.0, 3.0, 30.0]:
        assert code(point) == pytest.approx(textbook(point), rel=1e-14)
    assert code(-800.0) == 0.0 and code(800.0) == 1.0  # no overflow

    bce = LOSSES["binary_cross_entropy"]
    stable, _ = bce.stable_terms["sigmoid"]
    stable_f = sp.lambdify((z, y), stable, "math")
    textbook_f = sp.lambdify((z, y), bce.term.subs(a, sigmoid.expr.subs(x, z)), "math")
    for zv in [-5.0, -0.3, 0.0, 2.0, 6.0]:
        for yv in [0.0, 0.3, 1.0]:
            assert stable_f(zv, yv) == pytest.approx(textbook_f(zv, yv), rel=1e-12)
    assert stable_f(800.0, 0.0) == pytest.approx(800.0)  # textbook form: log(0)

    ce = LOSSES["cross_entropy"]
    stable, _ = ce.stable_terms["softmax"]
    # y (lse - z) = -y log(softmax): with lse = log(sum exp z)
    zs = [sp.Rational(3, 10), sp.Rational(-6, 5), sp.Integer(2)]
    log_sum = sp.log(sum(sp.exp(v) for v in zs))
    for zv in zs:
        softmax = sp.exp(zv) / sum(sp.exp(v) for v in zs)
        value = stable.subs({lse: log_sum, z: zv, y: 1})
        assert abs(sp.N(value - ce.term.subs({a: softmax, y: 1}), 40)) < 1e-35


def test_collapse_kronecker_sums() -> None:
    j, q = sp.symbols("j q", integer=True)
    n = sp.Symbol("n", integer=True, positive=True)
    W = sp.IndexedBase("W")
    expr = sp.Sum(sp.KroneckerDelta(j, p) * W[j, q], (j, 0, n - 1))
    assert collapse(expr) == W[p, q]


def test_derivation_does_not_grow_with_the_network() -> None:
    """Layer-level results are size-independent: the same expressions for 2-3-2 and 784-256-10."""
    small = derivation_of(make_spec([2, 3, 2], "softmax", "cross_entropy", "sigmoid"))
    big = derivation_of(make_spec([784, 256, 10], "softmax", "cross_entropy", "sigmoid"))
    for a, b in zip(small.layers, big.layers):
        assert sp.count_ops(a.delta) == sp.count_ops(b.delta)
        assert a.dW == b.dW and a.delta == b.delta


def test_deep_network_derives() -> None:
    spec = make_spec([784, 256, 128, 10], "softmax", "cross_entropy", ["relu", "tanh"])
    derivation = derivation_of(spec)
    assert len(derivation.layers) == 3
    network = build_network(spec)
    assert network.concrete_sizes()[network.sizes[1]] == 256
