"""The divergence stop for every optimizer: the batch before keeps its parameters and state."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from conftest import module_for

from symbackprop.cli.commands import EXIT_DIVERGED, main
from symbackprop.spec.model import parse_spec

N, BATCH, LR = 32, 4, 1e6

# In float64 Adam and RMSprop move each weight by about the learning rate per step, which stays
# finite for long; float32 overflows within a few batches, in the loss, a weight or the state.
CONFIGS: dict[str, dict[str, Any]] = {
    "sgd": {},
    "sgd_momentum": {"momentum": 0.9},
    "adam": {"optimizer": "adam"},
    "rmsprop": {"optimizer": "rmsprop"},
}


def _module(name: str, dtype: str):  # noqa: ANN202
    network = {
        "layers": [2, 4, 4, 1],
        "activation": "identity",
        "output": "identity",
        "loss": "mse",
        "dtype": dtype,
    }
    training = {"learning_rate": LR, "batch_size": BATCH, **CONFIGS[name]}
    spec = parse_spec({"name": f"div_{name}_{dtype}", "network": network, "training": training})
    return module_for(spec)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, 2)), rng.standard_normal((N, 1))


def _train(m, params, X, Y, order, state):  # noqa: ANN001, ANN202
    """train_with_order, with the optimizer state where the module has one."""
    if state is None:
        return m.train_with_order(params, X, Y, order, LR, BATCH)
    return m.train_with_order(params, X, Y, order, LR, BATCH, state=state)


@pytest.mark.parametrize(
    ("name", "dtype"),
    [(name, "float32") for name in CONFIGS] + [("sgd", "float64"), ("sgd_momentum", "float64")],
)
def test_diverged_keeps_the_parameters_and_state_of_the_batch_before(name: str, dtype: str) -> None:
    m = _module(name, dtype)
    stateful = hasattr(m, "init_state")
    assert stateful == (name != "sgd")
    X, Y = _data()
    params = m.init_params(0)
    state = m.init_state(params) if stateful else None
    keywords = {"state": state} if stateful else {}
    with pytest.raises(m.Diverged) as info:
        m.train(params, X, Y, 50, LR, BATCH, seed=1, **keywords)
    exc = info.value
    assert (exc.epoch, exc.batch) > (1, 1)  # something was trained before it stopped
    assert exc.quantity == "loss" or exc.quantity in m.PARAM_NAMES
    assert all(np.all(np.isfinite(p)) for p in params)
    # The same training, run by hand to the batch before: bitwise the same params and state.
    order = m.minibatch_order(N, exc.epoch, seed=1)
    ref = m.init_params(0)
    ref_state = m.init_state(ref) if stateful else None
    _train(m, ref, X, Y, order[: exc.epoch - 1], ref_state)
    if exc.batch > 1:
        _train(m, ref, X, Y, order[exc.epoch - 1 :, : BATCH * (exc.batch - 1)], ref_state)
    for got, want in zip(params, ref, strict=True):
        np.testing.assert_array_equal(got, want)
    if stateful:
        assert state.keys() == ref_state.keys()
        for key in state:
            if key != "epoch":  # the reference counted its partial epoch as one
                np.testing.assert_array_equal(state[key], ref_state[key], err_msg=key)
            assert np.all(np.isfinite(state[key])), key
        assert state["epoch"][0] == exc.epoch - 1  # epochs completed
        assert state["step"][0] == 8 * (exc.epoch - 1) + exc.batch - 1  # 8 batches an epoch
    # ... and the batch it stopped at fails alone from there, for the same reason.
    rows = order[exc.epoch - 1 :, BATCH * (exc.batch - 1) : BATCH * exc.batch]
    with pytest.raises(m.Diverged) as again:
        _train(m, ref, X, Y, rows, ref_state)
    assert (again.value.epoch, again.value.batch, again.value.quantity) == (1, 1, exc.quantity)
    if exc.quantity == "loss":
        with np.errstate(over="ignore", invalid="ignore"):
            assert not np.isfinite(m.loss(params, X[rows[0]], Y[rows[0]]))


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum"])
def test_ctrl_c_as_a_diverging_kernel_returns_keeps_the_last_finite_weights(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python raises a Ctrl-C that came during a kernel call as the call returns: the
    diverging batch's update (and its momentum) is undone all the same (in a ``finally``), so
    nothing is left half-restored, and the state's counters are the kernel's."""
    m = _module(name, "float64")
    X, Y = _data()
    X = X * 1e150  # gradients near 1e300: an update at rate 1e10 overflows
    stateful = hasattr(m, "init_state")

    def train(params: list[np.ndarray], state: dict | None) -> None:
        keywords = {"state": state} if stateful else {}
        m.train(params, X, Y, 50, 1e10, BATCH, seed=1, **keywords)

    expected = m.init_params(0)
    expected_state = m.init_state(expected) if stateful else None
    with pytest.raises(m.Diverged) as info:
        train(expected, expected_state)
    assert info.value.quantity in m.PARAM_NAMES  # an update diverged: there is one to undo
    kernel = m._train

    def interrupted(*args: object) -> int:
        kernel(*args)
        raise KeyboardInterrupt  # where Python raises a Ctrl-C pressed during the call

    monkeypatch.setattr(m, "_train", interrupted)
    params = m.init_params(0)
    state = m.init_state(params) if stateful else None
    with pytest.raises(KeyboardInterrupt):
        train(params, state)
    for got, want in zip(params, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    for key in expected_state or {}:
        np.testing.assert_array_equal(state[key], expected_state[key], err_msg=key)


def test_ctrl_c_as_a_kernel_returns_keeps_the_epoch_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """The state's epoch counter (which sets a schedule's rate on the next call) counts the
    epochs a kernel trained even where a Ctrl-C is raised as it returns: it was added in Python
    after the call, and stayed 0."""
    m = _module("adam", "float64")
    X, Y = _data()
    params = m.init_params(0)
    state = m.init_state(params)
    kernel = m._train

    def interrupted(*args: object) -> int:
        kernel(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(m, "_train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        m.train(params, X, Y, 5, 1e-3, BATCH, seed=1, state=state)
    assert (state["epoch"][0], state["step"][0]) == (5, 5 * N // BATCH)


def test_a_state_overflow_is_caught_before_anything_is_written() -> None:
    """Adam's second moment g * g overflows first in float32: nothing of that batch is kept."""
    m = _module("adam", "float32")
    X, Y = _data()
    params = m.init_params(0)
    state = m.init_state(params)
    before = [p.copy() for p in params], {k: v.copy() for k, v in state.items()}
    with pytest.raises(m.Diverged) as info:
        m.train_with_order(params, X * 1e12, Y, m.minibatch_order(N, 1), LR, BATCH, state=state)
    assert (info.value.epoch, info.value.batch) == (1, 1)
    assert "would become non-finite" in str(info.value)
    for got, want in zip(params, before[0], strict=True):
        np.testing.assert_array_equal(got, want)
    for key, value in state.items():
        np.testing.assert_array_equal(value, before[1][key], err_msg=key)


@pytest.mark.slow  # about 10 s: the run compiles its module
def test_run_exits_3_with_one_line_for_an_adam_spec(tmp_path, capsys) -> None:  # noqa: ANN001
    spec = tmp_path / "adam.toml"
    spec.write_text(
        'name = "adam_diverges"\n[network]\nlayers = [2, 4, 4, 1]\nactivation = "identity"\n'
        'output = "identity"\nloss = "mse"\ndtype = "float32"\n[training]\noptimizer = "adam"\n'
        'learning_rate = 1e6\nbatch_size = 2\nepochs = 50\n[data]\ndataset = "xor"\n'
    )
    status = main(["run", str(spec), "--quiet-derivation"], io.StringIO())
    err = capsys.readouterr().err
    assert status == EXIT_DIVERGED
    assert err.count("\n") == 1 and err.startswith("symbackprop: error: diverged at epoch ")
    assert err.rstrip().endswith("; try a smaller learning rate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adam.toml"]  # nothing written


def test_an_output_overflowing_at_the_starting_weights_is_not_blamed_on_the_learning_rate() -> None:
    """A spec's own expression that overflows float64 (a sharp softplus: exp(1000 z) for z above
    0.7098) gives inf, not a wrong finite number; training stops at its first batch saying the
    output or loss overflows at the starting weights, not to lower the learning rate. The
    runner refuses it before training, naming the first batch."""
    import symbackprop
    from symbackprop.errors import SymbackpropError

    network = {"layers": [1, 1], "output": "log(1 + exp(1000*x))/1000", "loss": "mse"}
    spec = parse_spec({"name": "sharp_softplus", "network": network})
    m = module_for(spec)
    weights = [np.ones((1, 1)), np.zeros(1)]
    X = np.array([[0.0005], [0.5], [0.709], [0.7099], [2.0]])
    with np.errstate(over="ignore"):
        out = m.forward(weights, X)[:, 0]
    finite = np.logaddexp(0.0, 1000 * X[:3, 0]) / 1000  # NumPy's stable softplus
    np.testing.assert_allclose(out[:3], finite, rtol=1e-13)
    assert np.isposinf(out[3:]).all(), out  # _exp clamped at 709 before: 0.709 for both
    advice = "at the starting weights, before any update: the output or the loss overflows"
    with pytest.raises(m.Diverged) as info:
        m.train(weights, X, X, epochs=2, learning_rate=0.1, batch_size=5)
    assert (info.value.epoch, info.value.batch, info.value.quantity) == (1, 1, "loss")
    assert str(info.value).endswith(f"last finite loss none; {advice}")
    xs = np.linspace(0.0, 2.0, 40)[:, None]
    with pytest.raises(SymbackpropError, match="not finite on the first batch"):
        symbackprop.train(spec, weights, X=xs, y=xs, epochs=3, batch_size=64)
