"""Generated modules refuse bad arguments in Python (before any kernel) and stop diverging training.

Every case of issue 8's "crashes and out-of-bounds reads" list is here: wrong parameter counts,
shapes, dtypes and layouts, bad X/Y, empty X, float/out-of-range/negative orders, batch sizes of
0 or -5, non-finite learning rates; then divergence (lr 1e6) and the bounded order stream.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec, module_for, sample

from symbackprop.run import limits
from symbackprop.spec.model import parse_spec

N = 37


@pytest.fixture(scope="module")
def m():  # noqa: ANN201
    """A 3-5-2 identity-output MSE network: it diverges readily with a large learning rate."""
    return module_for(make_spec([3, 5, 2], "identity", "mse", "tanh", name="checks"))


@pytest.fixture(scope="module")
def m32():  # noqa: ANN201
    network = {"layers": [3, 4, 1], "output": "sigmoid", "loss": "mse", "dtype": "float32"}
    return module_for(parse_spec({"name": "checks32", "network": network}))


@pytest.fixture(scope="module")
def data(m):  # noqa: ANN001, ANN201
    return sample(m, N, seed=3)


def _all_calls(m, params, X, Y, order=None):  # noqa: ANN001, ANN202
    """Every public function that takes params, X (and Y)."""
    order = m.minibatch_order(X.shape[0] or 1, 1) if order is None else order
    return {
        "forward": lambda: m.forward(params, X),
        "loss": lambda: m.loss(params, X, Y),
        "gradients": lambda: m.gradients(params, X, Y),
        "intermediates": lambda: m.intermediates(params, X, Y),
        "train": lambda: m.train(params, X, Y, 1, 0.1, 8),
        "train_with_order": lambda: m.train_with_order(params, X, Y, order, 0.1, 8),
    }


# (what is wrong, how to break the params, expected error, words the message must hold)
BAD_PARAMS = [
    ("too few", lambda p: p[:-1], ValueError, "must hold 4 arrays"),
    ("an array, not a list", lambda p: p[0], TypeError, "must be a list"),
    ("wrong shape", lambda p: [p[0].T.copy()] + p[1:], ValueError, "W1 must have shape (5, 3)"),
    ("wrong bias shape", lambda p: p[:3] + [p[3][:1]], ValueError, "b2 must have shape (2,)"),
    ("int64", lambda p: [p[0].astype(np.int64)] + p[1:], TypeError, "W1 must be a floating"),
    ("a list of lists", lambda p: [p[0].tolist()] + p[1:], TypeError, "W1 must be a floating"),
    ("nan", lambda p: [p[0]] + [np.full_like(p[1], np.nan)] + p[2:], ValueError, "b1 has non-"),
]


@pytest.mark.parametrize(("case", "breaks", "error", "words"), BAD_PARAMS)
def test_bad_params_are_refused_by_every_function(m, data, case, breaks, error, words) -> None:  # noqa: ANN001
    X, Y = data
    for name, call in _all_calls(m, breaks(m.init_params(0)), X, Y).items():
        with pytest.raises(error, match="params") as info:
            call()
        assert words in str(info.value), (case, name, str(info.value))


def test_read_only_and_fortran_params_are_copied_for_reading_refused_for_training(
    m, data  # noqa: ANN001
) -> None:
    X, Y = data
    params = m.init_params(0)
    expected = m.gradients(params, X, Y)
    odd = [np.asfortranarray(params[0]), *params[1:]]
    odd[1] = params[1].copy()
    odd[1].flags.writeable = False
    np.testing.assert_array_equal(m.forward(odd, X), m.forward(params, X))
    for got, want in zip(m.gradients(odd, X, Y), expected):
        np.testing.assert_array_equal(got, want)
    before = [p.copy() for p in odd]
    for call in ("train", "train_with_order"):
        with pytest.raises(ValueError, match="W1 must be a writable C-contiguous"):
            _all_calls(m, odd, X, Y)[call]()
        fixed = [odd[0].copy(order="C"), *odd[1:]]
        with pytest.raises(ValueError, match="b1 must be a writable C-contiguous"):
            _all_calls(m, fixed, X, Y)[call]()
    for got, want in zip(odd, before):
        np.testing.assert_array_equal(got, want)


def test_training_refuses_aliased_params() -> None:
    m = module_for(make_spec([2, 2, 2], "identity", "mse", "tanh", name="alias"))
    X, Y = sample(m, 6, seed=0)
    W1, b1, _, b2 = m.init_params(0)
    with pytest.raises(ValueError, match="params: W2 shares memory with W1"):
        m.train([W1, b1, W1, b2], X, Y, 1, 0.1, 2)
    assert np.isfinite(m.loss([W1, b1, W1, b2], X, Y))  # reading is fine


def test_training_refuses_other_float_dtypes_but_reading_casts(m, m32, data) -> None:  # noqa: ANN001
    X, Y = data
    params32 = [p.astype(np.float32) for p in m.init_params(0)]
    with pytest.raises(TypeError, match="W1 must have dtype float64 to be trained in place"):
        m.train(params32, X, Y, 1, 0.1, 8)
    reference = m.loss([p.astype(np.float64) for p in params32], X, Y)
    assert m.loss(params32, X, Y) == reference


BAD_INPUTS = [
    ("X too narrow", lambda X, Y: (X[:, :2], Y), ValueError, r"X must have shape \(n, 3\)"),
    ("X one-dimensional", lambda X, Y: (X[0], Y), ValueError, r"X must have shape"),
    ("X of strings", lambda X, Y: (X.astype(str), Y), TypeError, "X must hold real numbers"),
    ("X with nan", lambda X, Y: (np.where(X > 1, np.nan, X), Y), ValueError, "X has entries"),
    ("X with inf", lambda X, Y: (np.where(X > 1, np.inf, X), Y), ValueError, "X has entries"),
    ("Y rows", lambda X, Y: (X, Y[:-1]), ValueError, r"Y must have shape \(37, 2\)"),
    ("Y with nan", lambda X, Y: (X, np.where(Y > 1, np.nan, Y)), ValueError, "Y has entries"),
    ("Y of objects", lambda X, Y: (X, Y.astype(object)), TypeError, "Y must hold real"),
]


@pytest.mark.parametrize(("case", "breaks", "error", "pattern"), BAD_INPUTS)
def test_bad_inputs_are_refused(m, data, case, breaks, error, pattern) -> None:  # noqa: ANN001
    X, Y = breaks(*data)
    params = m.init_params(0)
    calls = _all_calls(m, params, X, Y, order=m.minibatch_order(N, 1))
    if case.startswith("Y"):
        del calls["forward"]
    for name, call in calls.items():
        with pytest.raises(error, match=pattern):
            call()
        assert name


def test_float32_data_is_checked_after_the_cast(m32) -> None:
    X = np.array([[1.0, 2.0, 1e39]])  # finite in float64, inf in float32
    with pytest.raises(ValueError, match="not finite in float32"):
        m32.forward(m32.init_params(0), X)


def test_empty_X(m, data) -> None:  # noqa: ANN001
    params = m.init_params(0)
    empty_X, empty_Y = np.zeros((0, 3)), np.zeros((0, 2))
    assert m.forward(params, empty_X).shape == (0, 2)  # the output of no rows is no rows
    for name in ("loss", "gradients", "intermediates", "train"):
        with pytest.raises(ValueError, match="X has no rows"):
            _all_calls(m, params, empty_X, empty_Y)[name]()
    with pytest.raises(ValueError, match="X has no rows"):
        m.train_with_order(params, empty_X, empty_Y, np.zeros((1, 1), dtype=np.int64), 0.1, 1)


BAD_ORDERS = [
    ("float", lambda o: o.astype(np.float64), TypeError, "order must be an integer array"),
    ("one-dimensional", lambda o: o[0], ValueError, "order must have shape"),
    ("empty rows", lambda o: o[:, :0], ValueError, "order must have shape"),
    ("index n", lambda o: np.where(o == 0, N, o), ValueError, "index 37, outside"),
    ("index n + 1", lambda o: np.where(o == 0, N + 1, o), ValueError, "index 38, outside"),
    ("index 10**9", lambda o: np.where(o == 0, 10**9, o), ValueError, "index 1000000000"),
    ("index -3", lambda o: np.where(o == 0, -3, o), ValueError, "index -3, outside"),
    ("uint64 too big", lambda o: o.astype(np.uint64) + np.uint64(2**63), ValueError, "outside"),
]


@pytest.mark.parametrize(("case", "breaks", "error", "words"), BAD_ORDERS)
def test_bad_orders_are_refused_before_the_kernel(m, data, case, breaks, error, words) -> None:  # noqa: ANN001
    X, Y = data
    params = m.init_params(0)
    before = [p.copy() for p in params]
    with pytest.raises(error, match="order") as info:
        m.train_with_order(params, X, Y, breaks(m.minibatch_order(N, 2)), 0.1, 8)
    assert words in str(info.value)
    for got, want in zip(params, before):
        np.testing.assert_array_equal(got, want)


def test_out_of_range_order_does_not_crash_the_interpreter(m) -> None:
    """The issue's reproduction (index 10**9 segfaulted, exit 139) in a fresh process."""
    script = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import importlib;"
        f"m = importlib.import_module('{m.__name__}'); p = m.init_params(0);"
        "X = np.zeros((8, 3)); Y = np.zeros((8, 2)); order = np.arange(8)[None].copy();"
        "order[0, 3] = 10**9\n"
        "try:\n m.train_with_order(p, X, Y, order, 0.1, 4)\n"
        "except ValueError as e:\n print(e)"
    )
    folder = str(Path(m.__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", script, folder], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "order holds index 1000000000, outside [0, 8)" in done.stdout


BAD_SETTINGS = [
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, not 0"),
    ({"batch_size": -5}, ValueError, "batch_size must be >= 1, not -5"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an integer, not float"),
    ({"batch_size": True}, TypeError, "batch_size must be an integer, not a bool"),
    ({"epochs": -1}, ValueError, "epochs must be >= 0, not -1"),
    ({"epochs": 1.5}, TypeError, "epochs must be an integer"),
    ({"learning_rate": float("inf")}, ValueError, "learning_rate must be finite, not inf"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate must be finite, not nan"),
    ({"learning_rate": "0.1"}, TypeError, "learning_rate must be a real number, not str"),
]


@pytest.mark.parametrize(("change", "error", "words"), BAD_SETTINGS)
def test_bad_settings_are_refused(m, data, change, error, words) -> None:  # noqa: ANN001
    X, Y = data
    settings = {"epochs": 2, "learning_rate": 0.1, "batch_size": 8} | change
    with pytest.raises(error) as info:
        m.train(m.init_params(0), X, Y, **settings)
    assert words in str(info.value)
    if "epochs" not in change:
        settings.pop("epochs")
        with pytest.raises(error) as info:
            m.train_with_order(m.init_params(0), X, Y, m.minibatch_order(N, 2), **settings)
        assert words in str(info.value)


def test_numpy_integers_and_zero_epochs_are_fine(m, data) -> None:  # noqa: ANN001
    X, Y = data
    params = m.init_params(0)
    assert m.train(params, X, Y, np.int32(0), np.float32(0.1), np.int64(8)).shape == (0,)
    losses = m.train(params, X, Y, np.int32(2), np.float32(0.1), np.int64(100))  # batch > n
    assert losses.shape == (2,) and np.all(np.isfinite(losses))
    assert m.train_with_order(params, X, Y, np.zeros((0, N), dtype=np.int32), 0.1, 8).size == 0


def test_divergence_stops_at_the_first_non_finite_loss_keeping_the_last_finite_weights(
    m, data  # noqa: ANN001
) -> None:
    X, Y = data
    params = m.init_params(0)
    with pytest.raises(FloatingPointError) as info:
        m.train(params, X, Y, epochs=50, learning_rate=1e6, batch_size=8, seed=1)
    exc = info.value
    assert isinstance(exc, m.Diverged)
    assert str(exc).startswith(f"diverged at epoch {exc.epoch}, batch {exc.batch}: loss became ")
    assert str(exc).endswith("; try a smaller learning rate")
    assert exc.quantity == "loss" and not np.isfinite(exc.value) and np.isfinite(exc.last_loss)
    assert exc.losses.shape == (exc.epoch - 1,) and np.all(np.isfinite(exc.losses))
    assert all(np.all(np.isfinite(p)) for p in params)
    # An independent route to the same weights: train the epochs and batches before it.
    order = m.minibatch_order(N, exc.epoch, seed=1)
    ref = m.init_params(0)
    m.train_with_order(ref, X, Y, order[: exc.epoch - 1], 1e6, 8)
    m.train_with_order(ref, X, Y, order[exc.epoch - 1 :, : 8 * (exc.batch - 1)], 1e6, 8)
    for got, want in zip(params, ref):
        np.testing.assert_array_equal(got, want)
    # ... and the batch it stopped at has a non-finite loss at those weights.
    rows = order[exc.epoch - 1, 8 * (exc.batch - 1) : 8 * exc.batch]
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(m.loss(params, X[rows], Y[rows]))


def test_an_update_that_would_overflow_is_not_applied(m, data) -> None:  # noqa: ANN001
    X, Y = data
    params = m.init_params(0)
    before = [p.copy() for p in params]
    with pytest.raises(m.Diverged) as info:
        m.train(params, X, Y, epochs=3, learning_rate=1.7e308, batch_size=1)
    exc = info.value
    assert (exc.epoch, exc.batch) == (1, 1) and exc.quantity in m.PARAM_NAMES
    assert f"{exc.quantity} would become non-finite; last finite loss none" in str(exc)
    for got, want in zip(params, before):
        np.testing.assert_array_equal(got, want)


def test_train_streams_the_same_order_as_minibatch_order(m, data, monkeypatch) -> None:  # noqa: ANN001
    """With a tiny ORDER_CHUNK (2 epochs per draw), 5 epochs equal one materialised order."""
    assert m.ORDER_CHUNK == limits.ORDER_CHUNK
    X, Y = data
    monkeypatch.setattr(m, "ORDER_CHUNK", 2 * N)
    a, b = m.init_params(0), m.init_params(0)
    streamed = m.train(a, X, Y, 5, 0.05, 8, seed=7)
    whole = m.train_with_order(b, X, Y, m.minibatch_order(N, 5, seed=7), 0.05, 8)
    np.testing.assert_array_equal(streamed, whole)
    for got, want in zip(a, b):
        np.testing.assert_array_equal(got, want)


def test_epoch_orders_are_shuffles_and_one_stream_however_chunked(m) -> None:  # noqa: ANN001
    """Each row is a permutation of range(n); drawn in chunks of any sizes from one Generator,
    the rows are minibatch_order's; C-contiguous int64, as the kernels take it (no recompile)."""
    whole = m.minibatch_order(N, 9, seed=3)
    assert whole.dtype == np.int64 and whole.flags["C_CONTIGUOUS"] and whole.shape == (9, N)
    assert (np.sort(whole, axis=1) == np.arange(N)).all()
    assert len({tuple(row) for row in whole}) > 1  # reshuffled every epoch
    rng = np.random.default_rng(3)
    chunks = [m.epoch_orders(rng, k, N) for k in (2, 1, 4, 2)]
    np.testing.assert_array_equal(np.vstack(chunks), whole)


def test_the_runner_trains_in_the_modules_own_order(tmp_path) -> None:  # noqa: ANN001
    """``run`` (chunks of epochs, one Generator) and the module's ``train`` give the same
    weights from the same seed: one rule for the order, the module's."""
    import symbackprop

    trained = symbackprop.train("xor", epochs=7, learning_rate=0.3)
    module = trained.module
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    params = module.init_params(trained.spec.training.seed)
    module.train(params, X, Y, 7, 0.3, trained.spec.training.batch_size, trained.spec.training.seed)
    for got, want in zip(trained.params, params):
        np.testing.assert_array_equal(got, want)
