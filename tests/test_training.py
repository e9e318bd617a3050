"""Training: the built-in specs reach their targets; runs are deterministic."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import make_spec, module_for, sample

from symbackprop.pipeline import derivation_of, load_module, render_module
from symbackprop.run.data import load_data
from symbackprop.run.runner import train
from symbackprop.spec.model import load_spec


def _builtin(name: str):  # noqa: ANN202
    spec = load_spec(name)
    return spec, load_module(render_module(derivation_of(spec)))


def test_xor_trains_below_0_01() -> None:
    spec, module = _builtin("xor")
    _, result = train(spec, module, load_data(spec), io.StringIO())
    assert result.train_loss < 0.01
    assert result.train_accuracy == 1.0


@pytest.mark.slow
def test_digits_reaches_95_percent_on_held_out_data() -> None:
    spec, module = _builtin("digits")
    data = load_data(spec)
    assert data.X_test.shape[0] >= 400  # a real held-out split
    _, result = train(spec, module, data, io.StringIO())
    assert result.test_accuracy is not None and result.test_accuracy >= 0.95


def test_train_is_deterministic_and_matches_explicit_order() -> None:
    module = module_for(make_spec([3, 5, 2], "softmax", "cross_entropy", "relu", name="det"))
    X, Y = sample(module, 37, seed=2)
    a, b, c = (module.init_params(1) for _ in range(3))
    losses_a = module.train(a, X, Y, epochs=6, learning_rate=0.2, batch_size=8, seed=4)
    losses_b = module.train(b, X, Y, epochs=6, learning_rate=0.2, batch_size=8, seed=4)
    order = module.minibatch_order(37, 6, seed=4)
    losses_c = module.train_with_order(c, X, Y, order, 0.2, 8)
    np.testing.assert_array_equal(losses_a, losses_b)
    np.testing.assert_array_equal(losses_a, losses_c)
    for pa, pc in zip(a, c):
        np.testing.assert_array_equal(pa, pc)
    assert sorted(order[0]) == list(range(37)) and not np.array_equal(order[0], order[1])


def test_one_sgd_step_matches_gradients() -> None:
    """A full-batch epoch moves every parameter by exactly -lr * gradient."""
    module = module_for(make_spec([4, 6, 3], "sigmoid", "mse", "tanh", name="step"))
    X, Y = sample(module, 10, seed=9)
    params = module.init_params(3)
    before = [p.copy() for p in params]
    grads = module.gradients(before, X, Y)
    losses = module.train(params, X, Y, epochs=1, learning_rate=0.3, batch_size=10)
    assert losses[0] == pytest.approx(module.loss(before, X, Y), rel=1e-12)
    for p, q, g in zip(params, before, grads):
        np.testing.assert_allclose(p, q - 0.3 * g, rtol=1e-12, atol=1e-15)


def test_drop_last_and_partial_batches() -> None:
    module = module_for(make_spec([2, 3, 1], "identity", "mse", "tanh", name="partial"))
    X, Y = sample(module, 10, seed=1)
    keep, drop = module.init_params(0), module.init_params(0)
    order = module.minibatch_order(10, 1, seed=0)
    module.train_with_order(keep, X, Y, order, 0.1, 4, drop_last=False)
    module.train_with_order(drop, X, Y, order, 0.1, 4, drop_last=True)
    assert not np.array_equal(keep[0], drop[0])
    # With drop_last, the last 2 samples never count: same as training on the first 8 in order.
    ref = module.init_params(0)
    module.train_with_order(ref, X[order[0][:8]], Y[order[0][:8]], np.arange(8)[None], 0.1, 4)
    np.testing.assert_allclose(drop[0], ref[0], rtol=1e-14)
