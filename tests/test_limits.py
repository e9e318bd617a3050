"""Memory estimates before allocating; absurd sizes refused in one line; divergence exits 3."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_spec, module_for

from symbackprop.cli.commands import EXIT_DIVERGED, EXIT_USAGE, main
from symbackprop.errors import SymbackpropError
from symbackprop.run import limits
from symbackprop.spec.model import load_spec, parameter_count

WIDE = 'name = "wide"\n[network]\nlayers = [2, 4000, 4000, 1]\noutput = "sigmoid"\nloss = "mse"\n'
DEEP = (
    'name = "deep"\n[network]\nlayers = [4000, 4000, 4000, 4000, 10]\noutput = "sigmoid"\n'
    'loss = "mse"\n'
)
LINEAR = (
    'name = "linear"\n[network]\nlayers = [2, 4, 1]\noutput = "identity"\nloss = "mse"\n'
    '[training]\nlearning_rate = 1e6\nbatch_size = 2\nepochs = 50\n[data]\ndataset = "xor"\n'
)


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:  # noqa: ANN001
    out = io.StringIO()
    status = main(argv, out)
    return status, out.getvalue(), capsys.readouterr().err


def test_estimates_match_what_the_module_allocates() -> None:
    spec = make_spec([3, 5, 2], "identity", "mse", "tanh", name="checks")
    module = module_for(spec)
    params = module.init_params(0)
    parts = dict(limits.module_estimate(spec).parts)
    assert parts["weights"] == sum(p.nbytes for p in params) == parameter_count(spec.layers) * 8
    X = np.zeros((11, 3))
    buffers = module.intermediates(params, X, np.zeros((11, 2)))
    per_pass = [v.nbytes for k, v in buffers.items() if k.startswith(("A", "Z", "delta", "LSE"))]
    assert len(per_pass) == 7 and limits._buffers(spec, 11) >= sum(per_pass)


def test_order_memory_is_bounded_however_many_epochs() -> None:
    spec = load_spec("digits")
    parts = dict(limits.training_estimate(spec, 1347, 32, 10**8).parts)
    assert parts["sample order"] <= 100 << 20  # one chunk, not 10**8 x 1347 indices (1 TB)
    assert parts["epoch losses"] == 16 * 10**8


def test_memory_limit_from_the_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(limits.LIMIT_ENV, "16G")
    assert limits.memory_limit() == 16 << 30
    monkeypatch.setenv(limits.LIMIT_ENV, "1500")
    assert limits.memory_limit() == 1500
    monkeypatch.setenv(limits.LIMIT_ENV, "lots")
    with pytest.raises(SymbackpropError, match="SYMBACKPROP_MAX_MEMORY: must be a size"):
        limits.memory_limit()
    monkeypatch.delenv(limits.LIMIT_ENV)
    assert 0 < limits.memory_limit() <= limits.DEFAULT_LIMIT
    assert limits.format_bytes(512) == "512 B" and limits.format_bytes(3 << 40) == "3.0 TiB"


# (command, spec file text or None, memory cap, expected exit status, words in the one-line error)
CASES = [
    (["run", "{spec}", "--quiet-derivation"], WIDE, "100M", EXIT_USAGE, "network would need about"),
    (["generate", "{spec}", "-o", "{tmp}/w.py"], WIDE, "100M", EXIT_USAGE, "weights 122.2 MiB"),
    (["derive", "{spec}", "--example"], WIDE, "100M", EXIT_USAGE, "the network would need about"),
    (["check", "{spec}"], DEEP, "1G", EXIT_USAGE, "the gradient check would need about 1.1 GiB"),
    (["run", "digits", "--epochs", str(10**12)], None, None, EXIT_USAGE, "epoch losses 14.6 TiB"),
]


@pytest.mark.parametrize(("argv", "text", "cap", "status", "words"), CASES)
def test_cli_refuses_in_one_line(argv, text, cap, status, words, tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001, E501
    if cap:
        monkeypatch.setenv(limits.LIMIT_ENV, cap)
    spec = tmp_path / "spec.toml"
    if text:
        spec.write_text(text)
    argv = [a.format(spec=spec, tmp=tmp_path) for a in argv]
    got, _, err = _cli(argv, capsys)
    assert got == status
    assert err.count("\n") == 1 and err.startswith("symbackprop: error: ")
    assert words in err
    assert "would need" not in err or "SYMBACKPROP_MAX_MEMORY" in err
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == (["spec.toml"] if text else [])  # nothing written


def test_divergence_line_names_batch_and_last_finite_loss(tmp_path, capsys) -> None:  # noqa: ANN001
    spec = tmp_path / "linear.toml"
    spec.write_text(LINEAR)
    status, out, err = _cli(["run", str(spec), "--quiet-derivation"], capsys)
    assert status == EXIT_DIVERGED
    line = err.strip()
    # where it diverges, from the generated module's own train on the same data and seed
    loaded = load_spec(str(spec))
    module = module_for(loaded)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    with pytest.raises(module.Diverged) as stopped:
        module.train(module.init_params(0), X, Y, 50, 1e6, 2, seed=0)
    where = f"diverged at epoch {stopped.value.epoch}, batch {stopped.value.batch}"
    assert line.startswith(f"symbackprop: error: {where}: loss became inf;"), line
    last = f"last finite loss {stopped.value.last_loss:.6g};"
    assert line.endswith("; try a smaller learning rate") and last in line, line


def test_divergence_at_the_first_batch_of_a_later_chunk_still_names_the_last_finite_loss(
    tmp_path, capsys  # noqa: ANN001
) -> None:
    """run trains in kernel calls of growing length (1 epoch, then up to 100): a network that
    diverges at the first batch of the second call said 'last finite loss none' although epoch
    1's loss was finite. The line now names the same loss as the module's own train."""
    spec = tmp_path / "lin.toml"
    text = LINEAR.replace("[2, 4, 1]", "[2, 1]").replace("1e6", "1e200")
    spec.write_text(text.replace("batch_size = 2", "batch_size = 4"))  # one batch per epoch
    status, _, err = _cli(["run", str(spec), "--quiet-derivation"], capsys)
    assert status == EXIT_DIVERGED
    module = module_for(load_spec(str(spec)))
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    with pytest.raises(module.Diverged) as stopped:
        module.train(module.init_params(0), X, Y, 50, 1e200, 4, seed=0)
    assert (stopped.value.epoch, stopped.value.batch) == (2, 1)  # the second kernel call's first
    last = f"last finite loss {stopped.value.last_loss:.6g};"
    assert err.startswith("symbackprop: error: diverged at epoch 2, batch 1: ") and last in err, err


def test_the_cap_applies_to_ordinary_runs(monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv(limits.LIMIT_ENV, "1K")
    status, _, err = _cli(["run", "xor", "--quiet-derivation"], capsys)
    assert status == EXIT_USAGE
    assert "training for 2000 epochs would need about" in err and "limit of 1.0 KiB" in err


def test_builtin_specs_fit_the_default_cap() -> None:
    for name in ("xor", "digits"):
        spec = load_spec(name)
        estimate = limits.training_estimate(spec, 2000, 32, spec.training.epochs)
        assert estimate.total < 128 << 20, estimate.describe()
        limits.ensure_fits(estimate, "training", name)


def test_refusal_happens_before_any_data_or_derivation(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(limits.LIMIT_ENV, "100M")
    spec = tmp_path / "wide.toml"
    spec.write_text(WIDE + '[data]\ndataset = "missing.csv"\n')
    status, _, err = _cli(["run", str(spec)], capsys)
    assert status == EXIT_USAGE and "the network would need" in err
    assert Path(tmp_path / "missing.csv").exists() is False


def test_check_refuses_finite_difference_work_beyond_the_cap(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001, E501
    """4000-4000-4000-4000-10 fits in memory (1.1 GiB); its finite differences would take long."""
    monkeypatch.setenv(limits.LIMIT_ENV, "64G")
    spec = tmp_path / "deep.toml"
    spec.write_text(DEEP)
    status, _, err = _cli(["check", str(spec)], capsys)
    assert status == EXIT_USAGE and err.count("\n") == 1
    assert "finite differences would take about 2.2e+12 multiply-adds" in err
    assert "SYMBACKPROP_MAX_WORK" in err
    # The estimate counts what gradcheck does: 4 loss evaluations per checked entry.
    small = load_spec("xor")
    assert limits.check_work(small) == 4 * 17 * (2 * 4 + 4 * 1) * limits.CHECK_SAMPLES


def test_constants_follow_gradcheck_and_the_modules() -> None:
    import inspect

    from symbackprop.run.gradcheck import check_gradients

    defaults = inspect.signature(check_gradients).parameters
    assert defaults["samples"].default == limits.CHECK_SAMPLES
    assert defaults["max_per_param"].default == limits.CHECKED_PER_PARAM
    assert "ORDER_CHUNK = 1 << 22" in (ROOT / "generated" / "xor.py").read_text()
    assert limits.ORDER_CHUNK == 1 << 22
