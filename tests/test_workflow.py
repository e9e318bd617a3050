"""The practitioner's workflow: save, reuse, predict, evaluate, steer, datasets, init, list."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

import symbackprop
from symbackprop.cli.commands import main
from symbackprop.errors import DataError, SpecError
from symbackprop.pipeline import cached_module, load_module, module_source
from symbackprop.run.data import load_data
from symbackprop.run.runner import Progress, prepare, train
from symbackprop.run.weights import load_weights, save_weights
from symbackprop.spec.model import load_spec, parse_spec

MOONS = str(Path(__file__).resolve().parent / "workflow" / "moons.toml")


def cli(*argv: str) -> tuple[int, str]:
    """Run the CLI in-process: exit status and stdout."""
    out = io.StringIO()
    status = main(list(argv), out)
    return status, out.getvalue()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symbackprop: error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def xor_module():  # noqa: ANN201
    return load_module(module_source("xor"))


@pytest.fixture(scope="module")
def moons():  # noqa: ANN201
    spec = load_spec(MOONS)
    return spec, cached_module(spec)


# --- save, reuse, predict, evaluate -------------------------------------------------------


def test_save_matches_one_call_training(tmp_path: Path, xor_module) -> None:  # noqa: ANN001
    """The runner's chunked, interruptible loop gives exactly what one module.train call gives."""
    target = tmp_path / "w.npz"
    status, text = cli("run", "xor", "--quiet-derivation", "--epochs", "700", "--save", str(target))
    assert status == 0 and "saved weights to" in text
    saved, extras = load_weights(target, load_spec("xor"))
    assert extras == {}
    data = load_data(load_spec("xor"))
    expected = xor_module.init_params(0)
    xor_module.train(expected, data.X_train, data.Y_train, 700, 0.5, 4, seed=0)
    for got, want in zip(saved, expected):
        np.testing.assert_array_equal(got, want)


def test_weights_start_from_file(tmp_path: Path, xor_module) -> None:  # noqa: ANN001
    start = [p * 0.5 for p in xor_module.init_params(7)]
    save_weights(tmp_path / "start.npz", load_spec("xor"), start)
    status, _ = cli(
        "run", "xor", "--quiet-derivation", "--epochs", "30", "--seed", "2",
        "--weights", str(tmp_path / "start.npz"), "--save", str(tmp_path / "end.npz"),
    )  # fmt: skip
    assert status == 0
    end, _ = load_weights(tmp_path / "end.npz", load_spec("xor"))
    data = load_data(load_spec("xor"))
    expected = [p.copy() for p in start]
    xor_module.train(expected, data.X_train, data.Y_train, 30, 0.5, 4, seed=2)
    for got, want in zip(end, expected):
        np.testing.assert_array_equal(got, want)


def test_predict_and_evaluate(tmp_path: Path, xor_module) -> None:  # noqa: ANN001
    params = xor_module.init_params(0)
    xor_module.train(params, [[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0], 2000, 0.5, 4)
    save_weights(tmp_path / "w.npz", load_spec("xor"), params)
    (tmp_path / "in.csv").write_text("a,b\n0,0\n0,1\n1,0\n1,1\n0.2,0.9\n")
    status, text = cli("predict", "xor", str(tmp_path / "w.npz"), str(tmp_path / "in.csv"))
    assert status == 0
    rows = text.strip().splitlines()
    assert rows[0] == "class,p0" and len(rows) == 6
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [0.2, 0.9]])
    outputs = xor_module.forward(params, X)[:, 0]
    for row, p in zip(rows[1:], outputs):
        label, value = row.split(",")
        assert float(value) == p and int(label) == int(p >= 0.5)
    assert [int(r.split(",")[0]) for r in rows[1:5]] == [0, 1, 1, 0]
    status, text = cli("evaluate", "xor", str(tmp_path / "w.npz"), "xor")
    assert status == 0
    loss = float(text.split()[1])
    assert loss == pytest.approx(float(np.mean((outputs[:4] - [0, 1, 1, 0]) ** 2)), rel=1e-5)
    assert "accuracy 100.00%" in text
    out = tmp_path / "pred.csv"
    assert cli("predict", "xor", str(tmp_path / "w.npz"), "xor", "-o", str(out))[0] == 0
    assert out.read_text().splitlines()[0] == "class,p0"


def test_predict_refuses_foreign_output(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    weights = tmp_path / "w.npz"
    save_weights(weights, load_spec("xor"), load_module(module_source("xor")).init_params(0))
    mine = tmp_path / "notes.csv"
    mine.write_text("my notes\n")
    assert cli("predict", "xor", str(weights), "xor", "-o", str(mine))[0] == 2
    assert "--force" in one_error_line(capsys) and mine.read_text() == "my notes\n"


def test_weights_of_another_network_or_shape(
    tmp_path: Path, capsys, xor_module
) -> None:  # noqa: ANN001
    digits = load_spec("digits")
    other = [np.zeros(s) for s in ((32, 64), (32,), (10, 32), (10,))]
    save_weights(tmp_path / "digits.npz", digits, other)
    assert cli("predict", "xor", str(tmp_path / "digits.npz"), "xor")[0] == 2
    assert "saved for network '64-32-10" in one_error_line(capsys)
    bad = {"W1": np.zeros((4, 3)), "b1": np.zeros(4), "W2": np.zeros((1, 4)), "b2": np.zeros(1)}
    np.savez(tmp_path / "bad.npz", **bad)
    assert cli("evaluate", "xor", str(tmp_path / "bad.npz"), "xor")[0] == 2
    assert "'W1' has shape (4, 3)" in one_error_line(capsys)
    assert cli("run", "xor", "--quiet-derivation", "--weights", str(tmp_path / "bad.npz"))[0] == 2
    assert "'W1' has shape (4, 3)" in one_error_line(capsys)
    save_weights(tmp_path / "ok.npz", load_spec("xor"), xor_module.init_params(0))
    (tmp_path / "wide.csv").write_text("1,2,3,4,5\n")
    assert cli("predict", "xor", str(tmp_path / "ok.npz"), str(tmp_path / "wide.csv"))[0] == 2
    assert "wide.csv" in one_error_line(capsys)


def test_generated_module_save_load_predict(tmp_path: Path, xor_module) -> None:  # noqa: ANN001
    params = xor_module.init_params(4)
    xor_module.save_params(tmp_path / "m.npz", params)
    loaded, _ = load_weights(tmp_path / "m.npz", load_spec("xor"))  # the runner reads it
    for a, b in zip(loaded, params):
        np.testing.assert_array_equal(a, b)
    save_weights(tmp_path / "r.npz", load_spec("xor"), params)  # and the module reads the runner's
    for a, b in zip(xor_module.load_params(tmp_path / "r.npz"), params):
        np.testing.assert_array_equal(a, b)
    X = np.array([[0.0, 1.0], [5.0, -5.0], [-3.0, 0.5]])
    expected = (xor_module.forward(params, X)[:, 0] >= 0.5).astype(int)
    np.testing.assert_array_equal(xor_module.predict(params, X), expected)
    digits = load_spec("digits")
    save_weights(
        tmp_path / "d.npz", digits, [np.zeros(s) for s in ((32, 64), (32,), (10, 32), (10,))]
    )
    with pytest.raises(ValueError, match="64-32-10"):
        xor_module.load_params(tmp_path / "d.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "d.npz",
        "m.npz",
        "r.npz",
    ]  # no temporaries


# --- steering -------------------------------------------------------------------------------


def test_overrides_reach_the_spec_and_are_validated(capsys) -> None:  # noqa: ANN001
    spec = load_spec("xor", {"training": {"learning_rate": 0.25, "batch_size": 2, "seed": 9}})
    assert (spec.training.learning_rate, spec.training.batch_size, spec.training.seed) == (
        0.25, 2, 9,
    )  # fmt: skip
    assert spec.training.epochs == load_spec("xor").training.epochs
    assert cli("run", "xor", "--quiet-derivation", "--batch-size", "0")[0] == 2
    line = one_error_line(capsys)
    assert "--batch-size" in line and "must be an integer" in line and "not 0" in line
    assert cli("run", "xor", "--quiet-derivation", "--learning-rate", "-1")[0] == 2
    assert "--learning-rate" in one_error_line(capsys)
    assert cli("run", "xor", "--quiet-derivation", "--optimizer", "adma")[0] == 2
    assert "unknown optimizer 'adma'" in one_error_line(capsys)


def test_every_optimizer_is_an_override_and_listed(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """``--optimizer adam`` was refused (known: sgd) while a spec file took adam: the CLI looked
    for the optimizers in a module that does not exist; ``list`` and ``init`` showed sgd alone."""
    import argparse

    from symbackprop.run.workflow import load_with_overrides, overrides_of
    from symbackprop.spec.optimizers import INITS, OPTIMIZERS, SCHEDULES

    for name in OPTIMIZERS:
        args = argparse.Namespace(optimizer=name)
        assert load_with_overrides("xor", overrides_of(args)).training.optimizer.name == name
    status, text = cli("list")
    assert status == 0
    for line, names in [("optimizers:", OPTIMIZERS), ("schedules:", SCHEDULES),
                        ("inits:", INITS)]:  # fmt: skip
        listed = next(row for row in text.splitlines() if row.startswith(line))
        assert all(name in listed for name in names), listed
    monkeypatch.chdir(tmp_path)
    assert cli("init", "starter")[0] == 0
    assert all(name in (tmp_path / "starter.toml").read_text() for name in OPTIMIZERS)


def test_json_summary(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    weights = tmp_path / "w.npz"
    status, text = cli("run", "xor", "--json", "--epochs", "300", "--save", str(weights))
    assert status == 0
    summary = json.loads(text)  # stdout holds the JSON alone
    assert summary["epochs"] == 300 and summary["weights"] == str(weights)
    assert summary["compile_seconds"] >= 0 and summary["samples_per_second"] > 0
    assert summary["samples_per_second"] == pytest.approx(300 * 4 / summary["seconds"])
    module = load_module(module_source("xor"))
    params, _ = load_weights(weights, load_spec("xor"))
    data = load_data(load_spec("xor"))
    assert summary["final_loss"] == module.loss(params, data.X_train, data.Y_train)
    assert "epoch 300/300" in capsys.readouterr().err  # progress went to stderr


def test_plot(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    pytest.importorskip("matplotlib")
    target = tmp_path / "curves.png"
    assert cli("run", "xor", "--quiet-derivation", "--epochs", "50", "--plot", str(target))[0] == 0
    assert target.read_bytes().startswith(b"\x89PNG")
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    other = tmp_path / "none.png"
    assert cli("run", "xor", "--quiet-derivation", "--plot", str(other))[0] == 2
    assert "pip install 'symbackprop[plot]'" in one_error_line(capsys) and not other.exists()


def test_progress_redraws_on_a_terminal_and_prints_tenths_otherwise() -> None:
    tty = io.StringIO()
    progress = Progress(tty, 100, 10, tty=True)
    for epoch in range(1, 101):
        progress.last_draw = -1e9  # every update due
        progress.update(epoch, 1.0 / epoch, epoch * 0.01, accuracy=0.5, final=epoch == 100)
    progress.close()
    text = tty.getvalue()
    assert text.count("\r") == 100 and text.count("\n") == 1
    assert "ETA 0.5 s" in text.split("\r")[50] and "1k samples/s" in text
    plain = io.StringIO()
    progress = Progress(plain, 1000, 10, tty=False)
    for epoch in range(1, 1001):
        progress.update(epoch, 0.5, epoch * 0.001, final=epoch == 1000)
    lines = plain.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("  epoch 1000/1000") and "\r" not in lines[0]


def test_interrupt_keeps_weights(moons) -> None:  # noqa: ANN001
    """Ctrl-C (SIGINT) stops between kernel calls; the weights so far come back."""
    spec, module = moons
    calls = []

    class Interrupting:
        DTYPE = module.DTYPE
        forward, loss = module.forward, module.loss
        epoch_orders = staticmethod(module.epoch_orders)
        compile_backward = staticmethod(module.compile_backward)

        @staticmethod
        def init_params(seed: int):  # noqa: ANN205
            return module.init_params(seed)

        @staticmethod
        def train_with_order(params, *args):  # noqa: ANN001, ANN205
            losses = module.train_with_order(params, *args)
            calls.append(len(losses))
            if len(calls) == 4:
                os.kill(os.getpid(), signal.SIGINT)
            return losses

    params, result = train(spec, Interrupting, load_data(spec), None, epochs=1000)
    assert result.interrupted and result.epochs == 3  # 1 compile call, then 1 epoch per call
    assert len(result.history.loss) == 3


@pytest.mark.slow
def test_ctrl_c_in_a_real_run(tmp_path: Path) -> None:
    """SIGINT during training: within a second, one line, exit 130, the weights so far saved."""
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "symbackprop", "run", "digits", "--quiet-derivation"]
    subprocess.run([*command, "--epochs", "1"], capture_output=True, check=True, timeout=600)
    target = tmp_path / "w.npz"
    process = subprocess.Popen(
        [*command, "--epochs", "100000", "--save", str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        while "training digits" not in (line := process.stdout.readline()):
            assert line, f"the run ended before training: {process.stderr.read()[-2000:]}"
        time.sleep(4)
        sent = time.perf_counter()
        process.send_signal(signal.SIGINT)
        line = process.stderr.readline()  # written after the final evaluation and the save
        assert time.perf_counter() - sent < 1.5, line
        assert line.startswith("interrupted at epoch ") and f"weights kept in {target}" in line
        epoch = int(line.split()[3].rstrip(";"))
        assert process.wait(timeout=60) == 130 and epoch > 0
        assert f"all {1347} samples, after {epoch} epochs)" in process.stdout.read()
    finally:
        process.kill()  # a failed or timed-out test leaves no 100000-epoch run behind
    load_weights(target, load_spec("digits"))


def test_validation_early_stopping_and_standardize(moons) -> None:  # noqa: ANN001
    spec, module = moons
    data = load_data(spec)
    prepared = prepare(spec, data)
    n = data.X_train.shape[0]
    assert (
        prepared.X_val.shape[0] == int(np.ceil(n * 0.25))
        and prepared.X_train.shape[0] + prepared.X_val.shape[0] == n
    )
    # statistics from the training samples only
    raw_train = prepared.X_train * prepared.extras["x_std"] + prepared.extras["x_mean"]
    np.testing.assert_allclose(prepared.extras["x_mean"], raw_train.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(prepared.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(prepared.X_train.std(axis=0), 1, atol=1e-12)
    assert np.abs(prepared.X_val.mean(axis=0)).max() > 1e-6
    params, result = train(spec, module, data, None, epochs=400)
    assert result.stopped_early and result.epochs < 400
    assert result.best_epoch == int(np.argmin(result.history.val_loss)) + 1
    assert result.epochs == result.best_epoch + 5  # patience 5
    kept = module.loss(params, prepared.X_val, prepared.Y_val)
    assert kept == min(result.history.val_loss) == result.val_loss


def test_standardization_travels_with_the_weights(tmp_path: Path, moons) -> None:  # noqa: ANN001
    spec, module = moons
    weights = tmp_path / "m.npz"
    assert cli("run", MOONS, "--quiet-derivation", "--epochs", "20", "--save", str(weights))[0] == 0
    params, extras = load_weights(weights, spec)
    assert set(extras) == {"x_mean", "x_std"}
    X = np.array([[0.5, 0.25], [-1.0, 0.75]])
    np.savez(tmp_path / "x.npz", X=X)
    status, text = cli("predict", MOONS, str(weights), str(tmp_path / "x.npz"))
    assert status == 0
    expected = module.forward(params, (X - extras["x_mean"]) / extras["x_std"])
    got = np.array([[float(v) for v in row.split(",")[1:]] for row in text.splitlines()[1:]])
    np.testing.assert_array_equal(got, expected)


def test_module_save_params_writes_what_run_save_writes(
    tmp_path: Path, moons, capsys
) -> None:  # noqa: ANN001
    """A standardising spec: the module's save_params with the statistics writes the members and
    values run --save writes, predict gives the same predictions from either file, and each
    module reads the statistics back (load_scaling) from either."""
    spec, module = moons
    saved = tmp_path / "run.npz"
    assert cli("run", MOONS, "--quiet-derivation", "--epochs", "20", "--save", str(saved))[0] == 0
    params, extras = load_weights(saved, spec)
    written = tmp_path / "module.npz"
    module.save_params(written, params, extras["x_mean"], extras["x_std"])
    with np.load(saved) as a, np.load(written) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
            np.testing.assert_array_equal(a[key], b[key])
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "x.npz", X=rng.normal(0.5, 1.0, (7, 2)))
    outputs = [cli("predict", MOONS, str(w), str(tmp_path / "x.npz")) for w in (saved, written)]
    assert outputs[0][0] == outputs[1][0] == 0 and outputs[0][1] == outputs[1][1]
    for path in (saved, written):
        x_mean, x_std = module.load_scaling(path)
        assert x_mean.dtype == x_std.dtype == np.float64
        np.testing.assert_array_equal(x_mean, extras["x_mean"])
        np.testing.assert_array_equal(x_std, extras["x_std"])
    bare = tmp_path / "bare.npz"  # the module's file without them: predict names the remedy
    module.save_params(bare, params)
    assert cli("predict", MOONS, str(bare), str(tmp_path / "x.npz"))[0] == 2
    line = one_error_line(capsys)
    assert "missing array 'x_mean'" in line and "save_params(path, params, x_mean, x_std)" in line


def test_module_scaling_round_trip_old_files_and_refusals(
    tmp_path: Path, xor_module
) -> None:  # noqa: ANN001
    params = xor_module.init_params(2)
    x_mean, x_std = np.array([0.1, -3.0e-7]), np.array([2.5, 1e-3])
    xor_module.save_params(tmp_path / "s.npz", params, x_mean=x_mean, x_std=x_std)
    for a, b in zip(xor_module.load_params(tmp_path / "s.npz"), params):
        np.testing.assert_array_equal(a, b)
    got = xor_module.load_scaling(tmp_path / "s.npz")
    np.testing.assert_array_equal(got[0], x_mean)
    np.testing.assert_array_equal(got[1], x_std)
    _, extras = load_weights(tmp_path / "s.npz", load_spec("xor"))  # the runner reads them
    np.testing.assert_array_equal(extras["x_std"], x_std)
    xor_module.save_params(tmp_path / "i.npz", params, [1, 2], [3, 4])  # integers: as float64
    assert [v.tolist() for v in xor_module.load_scaling(tmp_path / "i.npz")] == [[1, 2], [3, 4]]
    # files without statistics: the module's own, and an older file of bare arrays
    xor_module.save_params(tmp_path / "n.npz", params)
    np.savez(tmp_path / "old.npz", **dict(zip(xor_module.PARAM_NAMES, params)))
    for name in ("n.npz", "old.npz"):
        assert xor_module.load_scaling(tmp_path / name) == (None, None)
        for a, b in zip(xor_module.load_params(tmp_path / name), params):
            np.testing.assert_array_equal(a, b)
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = [
        ({"x_mean": x_mean}, ValueError, "x_mean without x_std"),
        ({"x_std": x_std}, ValueError, "x_std without x_mean"),
        ({"x_mean": np.zeros(3), "x_std": x_std}, ValueError, r"x_mean must have shape \(2,\)"),
        ({"x_mean": x_mean, "x_std": np.ones((1, 2))}, ValueError, "x_std must have shape"),
        ({"x_mean": [0.0, np.nan], "x_std": x_std}, ValueError, "x_mean has non-finite"),
        ({"x_mean": x_mean, "x_std": [1.0, 0.0]}, ValueError, "x_std holds 0"),
        ({"x_mean": x_mean, "x_std": [1.0, -1.0]}, ValueError, "x_std holds -1"),
        ({"x_mean": ["a", "b"], "x_std": x_std}, TypeError, "x_mean must hold real numbers"),
        ({"x_mean": x_mean, "x_std": [True, True]}, TypeError, "x_std must hold real numbers"),
    ]
    for kwargs, error, match in refused:
        with pytest.raises(error, match=match):
            xor_module.save_params(tmp_path / "bad.npz", params, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary
    arrays = dict(zip(xor_module.PARAM_NAMES, params))
    tampered = [
        ({"x_mean": x_mean}, "x_mean without x_std"),
        ({"x_mean": x_mean, "x_std": np.array([1.0, np.inf])}, "x_std has non-finite"),
        ({"x_mean": np.zeros(5), "x_std": x_std}, "x_mean must have shape"),
        ({"x_mean": x_mean, "x_std": -x_std}, "x_std holds -2.5"),
    ]
    for extra, match in tampered:
        np.savez(tmp_path / "t.npz", **arrays, **extra)
        with pytest.raises(ValueError, match=f"t.npz: {match}"):
            xor_module.load_scaling(tmp_path / "t.npz")


def test_one_classifier_rule_for_module_cli_and_accuracy() -> None:
    """A sigmoid output with several outputs is a classifier everywhere: the module's predict,
    predict's class column and the accuracy all take the argmax (the module returned outputs)."""
    from conftest import make_spec, module_for

    from symbackprop.run.runner import accuracy
    from symbackprop.run.workflow import predictions_csv

    spec = make_spec([2, 3], "sigmoid", "binary_cross_entropy", name="multi_sigmoid")
    module = module_for(spec)
    params = module.init_params(3)
    X = np.random.default_rng(0).standard_normal((6, 2))
    outputs = module.forward(params, X)
    rows = predictions_csv(spec, outputs).splitlines()
    assert rows[0] == "class,p0,p1,p2"
    classes = np.array([int(row.split(",")[0]) for row in rows[1:]])
    np.testing.assert_array_equal(module.predict(params, X), classes)
    np.testing.assert_array_equal(classes, np.argmax(outputs, axis=1))
    assert accuracy(module, params, X, np.eye(3)[classes]) == 1.0


def test_predictions_csv_reads_back_as_written() -> None:
    """predict's CSV read back by csv.reader: every class name (commas, quotes, line breaks,
    blanks) and every number as it was (17 significant digits, 9 for float32)."""
    import csv
    import io

    from conftest import make_spec

    from symbackprop.run.workflow import predictions_csv

    spec = make_spec([2, 4], "softmax", "cross_entropy", name="csv_classes")
    names = ('a "b", c', "line\nbreak", "", " lead")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        outputs = (rng.standard_normal((40, 4)) * 10.0 ** rng.integers(-30, 30, 4)).astype(dtype)
        outputs[0, :] = [np.inf, -np.inf, -0.0, 5e-324 if dtype == np.float64 else 1e-45]
        rows = list(csv.reader(io.StringIO(predictions_csv(spec, outputs, names))))
        assert rows[0] == ["class", "p0", "p1", "p2", "p3"]
        assert [row[0] for row in rows[1:]] == [names[k] for k in np.argmax(outputs, axis=1)]
        back = np.array([[float(cell) for cell in row[1:]] for row in rows[1:]], dtype=dtype)
        np.testing.assert_array_equal(back, outputs)
        assert np.signbit(back[0, 2])


def test_python_api(moons) -> None:  # noqa: ANN001
    spec, module = moons
    trained = symbackprop.train(MOONS, epochs=7, patience=100)
    assert len(trained.history.loss) == 7 and len(trained.history.val_loss) == 7
    again = symbackprop.train(spec, epochs=7, patience=100)
    for a, b in zip(trained.params, again.params):
        np.testing.assert_array_equal(a, b)
    assert symbackprop.generate(spec).__file__ == module.__file__
    X = np.array([[0.1, 0.2]])
    expected = module.forward(
        trained.params, (X - trained.extras["x_mean"]) / trained.extras["x_std"]
    )
    np.testing.assert_array_equal(trained.forward(X), expected)
    # predict is the module's predict (and the class column of `symbackprop predict`)
    np.testing.assert_array_equal(trained.predict(X), np.argmax(expected, axis=1))
    with pytest.raises(SpecError, match="did you mean 'epochs'"):
        symbackprop.train(spec, epoch=3)


# --- data -----------------------------------------------------------------------------------


def _spec(layers: list[int], output: str, loss: str, data: dict) -> object:  # noqa: ANN401
    return parse_spec(
        {
            "name": "d",
            "network": {"layers": layers, "output": output, "loss": loss, "activation": "tanh"},
            "data": data,
        }
    )


@pytest.mark.parametrize(
    ("name", "inputs", "classes"),
    [("moons", 2, 2), ("circles", 2, 2), ("spirals", 2, 3), ("iris", 4, 3), ("wine", 13, 3),
     ("breast_cancer", 30, 2), ("digits", 64, 10)],
)  # fmt: skip
def test_builtin_datasets(name: str, inputs: int, classes: int) -> None:
    data = load_data(_spec([inputs, 4, classes], "softmax", "cross_entropy", {"dataset": name}))
    assert data.classification and data.X_train.shape[1] == inputs
    assert set(np.argmax(data.Y_train, axis=1)) == set(range(classes))


def test_generated_datasets_are_seeded_and_sized() -> None:
    spec = _spec(
        [2, 4, 2], "softmax", "cross_entropy", {"dataset": "spirals", "samples": 90, "noise": 0.0}
    )
    a, b = load_data(spec), load_data(spec)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.X_train.shape == (90, 2)
    radius = np.hypot(a.X_train[:, 0], a.X_train[:, 1])
    angle = np.arctan2(a.X_train[:, 0], a.X_train[:, 1])
    arm = np.argmax(a.Y_train, axis=1)
    # without noise each point lies on its arm: angle = arm * pi + 4 r (mod 2 pi)
    np.testing.assert_allclose(np.cos(angle - arm * np.pi - 4 * radius), 1, atol=1e-9)
    moons = _spec([2, 4, 1], "sigmoid", "binary_cross_entropy", {"dataset": "moons", "samples": 50})
    assert load_data(moons).Y_train.shape == (50, 1)
    with pytest.raises(DataError, match="data.noise applies to generated datasets only"):
        load_data(_spec([4, 4, 3], "softmax", "cross_entropy", {"dataset": "iris", "noise": 0.1}))


def test_csv_target_by_name_and_index(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\ufeffx1,label,x2\n0.5,1,2\n1.5,0,3\n2.5,2,4\n")
    for target in ("label", 1):
        data = load_data(
            _spec([2, 4, 3], "softmax", "cross_entropy", {"dataset": str(path), "target": target})
        )
        np.testing.assert_array_equal(data.X_train, [[0.5, 2], [1.5, 3], [2.5, 4]])
        np.testing.assert_array_equal(np.argmax(data.Y_train, axis=1), [1, 0, 2])
    with pytest.raises(DataError, match="no column named 'y' \\(columns: x1, label, x2\\)"):
        load_data(
            _spec([2, 4, 3], "softmax", "cross_entropy", {"dataset": str(path), "target": "y"})
        )


# --- init, list, suggestions ---------------------------------------------------------------


def test_init_writes_a_valid_starter_and_never_overwrites(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    status, text = cli("init", "my_net")
    assert status == 0 and "my_net.toml" in text
    spec = load_spec(tmp_path / "my_net.toml")
    assert spec.name == "my_net" and spec.data.dataset == "moons"
    assert "#" in (tmp_path / "my_net.toml").read_text()  # commented
    before = (tmp_path / "my_net.toml").read_bytes()
    assert cli("init", "my_net")[0] == 2
    assert "never overwrites" in one_error_line(capsys)
    assert (tmp_path / "my_net.toml").read_bytes() == before
    assert cli("init", "my-net")[0] == 2 and "identifier" in one_error_line(capsys)


def test_list_reads_the_registries() -> None:
    from symbackprop.run.datasets import DATASETS
    from symbackprop.spec.functions import ACTIVATIONS, LOSSES

    status, text = cli("list")
    assert status == 0
    for name in [*ACTIVATIONS, *LOSSES, *DATASETS, "xor", "digits", "sgd"]:
        assert name in text


@pytest.mark.parametrize(
    ("section", "field", "value", "hint"),
    [
        ("network", "activation", "tanhh", "did you mean 'tanh'?"),
        ("network", "activation", "ReLU", "did you mean 'relu'?"),
        ("network", "loss", "cross_entropie", "did you mean 'cross_entropy'?"),
        ("training", "learning_rte", 0.1, "did you mean 'learning_rate'?"),
        ("data", "validation_fractoin", 0.1, "did you mean 'validation_fraction'?"),
    ],
)
def test_unknown_names_suggest_the_closest(
    section: str, field: str, value: object, hint: str
) -> None:
    table = {
        "name": "s",
        "network": {"layers": [2, 3, 3], "output": "softmax", "loss": "cross_entropy"},
    }
    table.setdefault(section, {})[field] = value
    with pytest.raises(SpecError, match=hint):
        parse_spec(table)


@pytest.mark.parametrize(
    ("section", "field", "value", "words"),
    [
        ("data", "validation_fraction", 1.0, "data.validation_fraction"),
        ("data", "target", True, "data.target"),
        ("data", "target", -1, "data.target"),
        ("data", "standardize", "yes", "data.standardize"),
        ("data", "samples", 1, "data.samples"),
        ("data", "noise", -0.5, "data.noise"),
        ("training", "patience", 0, "training.patience"),
    ],
)
def test_bad_workflow_fields(section: str, field: str, value: object, words: str) -> None:
    table = {"name": "s", "network": {"layers": [2, 3, 1], "output": "sigmoid", "loss": "mse"}}
    table[section] = {field: value}
    with pytest.raises(SpecError, match=words):
        parse_spec(table)


def test_epochs_override_is_checked(capsys) -> None:  # noqa: ANN001
    assert cli("run", "xor", "--quiet-derivation", "--epochs", "0")[0] == 2
    line = one_error_line(capsys)
    assert "--epochs" in line and "must be an integer" in line and "not 0" in line


def test_per_epoch_calls_carry_optimizer_state_and_schedule() -> None:
    """With a validation split the runner calls the kernel once per epoch: Adam's moments and
    the step schedule must carry over exactly as in one module.train call."""
    spec = parse_spec(
        {
            "name": "wf_adam",
            "network": {"layers": [2, 4, 1], "activation": "tanh", "output": "sigmoid",
                        "loss": "mse"},
            "training": {"optimizer": "adam", "learning_rate": 0.05, "batch_size": 8,
                         "epochs": 9, "schedule": {"kind": "step", "step_size": 3, "gamma": 0.5}},
            "data": {"dataset": "xor", "samples": 40, "noise": 0.1, "validation_fraction": 0.25},
        }
    )  # fmt: skip
    module = load_module(module_source(spec))
    data = load_data(spec)
    params, result = train(spec, module, data, None)
    prepared = prepare(spec, data)
    expected = module.init_params(0)
    losses = module.train(expected, prepared.X_train, prepared.Y_train, 9, 0.05, 8, seed=0)
    np.testing.assert_array_equal(result.losses, losses)
    for ours, theirs in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_ctrl_c_before_the_first_epoch_ends_replaces_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # noqa: ANN001
    """Ctrl-C while the first kernel call compiles: the untrained weights replaced the last
    --save file while the line said "weights kept"."""
    from symbackprop.run import runner

    target, plot = tmp_path / "w.npz", tmp_path / "p.png"
    assert main(["run", "xor", "--quiet-derivation", "--save", str(target)]) == 0
    before = target.read_bytes()
    real_fit = runner.fit

    class FirstCallInterrupted:
        def __init__(self, module) -> None:  # noqa: ANN001
            self.module = module

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.module, name)

        def train_with_order(self, *args):  # noqa: ANN001, ANN202
            os.kill(os.getpid(), signal.SIGINT)  # as if pressed during the compile
            return self.module.train_with_order(*args)

    def fit(spec, module, *args, **kwargs):  # noqa: ANN001, ANN202
        return real_fit(spec, FirstCallInterrupted(module), *args, **kwargs)

    monkeypatch.setattr(runner, "fit", fit)
    # the command would end this process at once (exit_on_ctrl_c; the slow test below runs it
    # in its own): here the signal reaches the training loop's handler, as it does when the
    # compile was cached and the first epoch is still running
    monkeypatch.setattr(runner, "exit_on_ctrl_c", lambda line: contextlib.nullcontext())
    capsys.readouterr()
    status = main(["run", "xor", "--quiet-derivation", "--save", str(target), "--plot", str(plot)])
    err = capsys.readouterr().err
    assert status == 130
    assert err.strip().splitlines()[-1] == (  # the plot never existed: nothing to say of it
        f"interrupted before the first epoch ended; nothing saved ({target} left as it was)"
    )
    assert target.read_bytes() == before and not plot.exists()


@pytest.mark.slow
def test_ctrl_c_while_compiling_ends_at_once_and_keeps_the_weights(tmp_path: Path) -> None:
    """SIGINT while Numba compiles (seconds inside LLVM, where a KeyboardInterrupt waits for the
    call to return: 2-8 s): ends within a second, one line, exit 130, the --save file as it was."""
    import subprocess
    import sys
    import time

    target = tmp_path / "w.npz"
    command = [sys.executable, "-m", "symbackprop", "run", "xor", "--quiet-derivation"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SYMBACKPROP_CACHE": str(tmp_path / "a")}
    subprocess.run([*command, "--epochs", "1", "--save", str(target)], env=env,
                   capture_output=True, check=True, timeout=600)  # fmt: skip
    before = target.read_bytes()
    env["SYMBACKPROP_CACHE"] = str(tmp_path / "b")  # empty: this run compiles
    process = subprocess.Popen(
        [*command, "--save", str(target)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        while not process.stdout.readline().startswith("training xor"):  # then it compiles
            assert process.poll() is None
        time.sleep(0.3)  # into the compile (2-5 s for xor), past the data's preparation
        sent = time.perf_counter()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
        assert time.perf_counter() - sent < 1.0
        assert process.stderr.read().strip().splitlines()[-1] == (
            f"interrupted before the first epoch ended; nothing saved ({target} left as it was)"
        )
    finally:
        process.kill()
    assert target.read_bytes() == before


def test_the_starter_spec_evaluates_and_predicts_on_files(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The README's ``evaluate mynet.toml mynet.npz test.csv`` failed on ``init``'s spec: its
    ``samples`` and ``noise`` (for moons) were refused beside the CSV. Settings that do not
    apply to the data evaluated on are left out; a CSV's ``drop`` beside a built-in too."""
    monkeypatch.chdir(tmp_path)
    assert cli("init", "mynet")[0] == 0
    spec = load_spec("mynet.toml")
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((16, 2)), np.zeros(16), rng.standard_normal((2, 16)), np.zeros(2)]
    save_weights(tmp_path / "mynet.npz", spec, params)
    (tmp_path / "test.csv").write_text("1,2,0\n3,4,1\n-1,0.5,0\n")
    np.savez(tmp_path / "t.npz", X=np.array([[1.0, 2.0], [3.0, 4.0]]), y=np.array([0, 1]))
    status, text = cli("evaluate", "mynet.toml", "mynet.npz", "test.csv", "--json")
    assert status == 0 and json.loads(text)["samples"] == 3
    status, text = cli("predict", "mynet.toml", "mynet.npz", "t.npz")
    assert status == 0 and text.startswith("class,p0,p1") and len(text.splitlines()) == 3
    status, text = cli("evaluate", "mynet.toml", "mynet.npz", "moons", "--json")
    assert status == 0 and json.loads(text)["samples"] == 500  # the spec's samples still hold
    (tmp_path / "csv.toml").write_text(
        (tmp_path / "mynet.toml").read_text().split("[data]")[0]
        + '[data]\ndataset = "d.csv"\ndrop = ["id"]\nmissing = "drop"\n'
    )
    save_weights(tmp_path / "csv.npz", load_spec("csv.toml"), params)
    status, text = cli("evaluate", "csv.toml", "csv.npz", "moons", "--json")
    assert status == 0 and json.loads(text)["samples"] == 500
