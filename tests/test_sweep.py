"""Sweeps: grid parsing, variants, results files, resuming, and runs on Dask clusters.

The default tests use an in-process Dask cluster (threads); the ``slow`` ones start worker
processes: a LocalCluster of 2, a worker killed mid-sweep, and ``dask scheduler`` /
``dask worker`` as separate processes on 127.0.0.1.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli.commands import main
from symbackprop.errors import SymbackpropError
from symbackprop.pipeline import load_module, module_source
from symbackprop.spec.model import load_spec
from symbackprop.tools.grid import (
    label,
    parse_grid,
    parse_value,
    read_table,
    split_values,
    variants,
)
from symbackprop.tools.sweep import (
    JOURNAL,
    NO_DASHBOARD,
    RESULTS_CSV,
    RESULTS_JSON,
    WORKER_IMPORTS,
    Results,
    curve_epochs,
    sweep,
    worker_data,
)

ROOT = Path(__file__).resolve().parent.parent
distributed = pytest.importorskip("distributed")


# ---------------------------------------------------------------- grid parsing


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("0.05,0.1,0.5", ["0.05", "0.1", "0.5"]),
        ("[64,32,10],[64, 64, 10]", ["[64,32,10]", "[64, 64, 10]"]),
        ("tanh, relu", ["tanh", "relu"]),
        ('"a,b",c', ['"a,b"', "c"]),
        ("[[1,2],[3]],4", ["[[1,2],[3]]", "4"]),
        ("x", ["x"]),
    ],
)
def test_split_values_keeps_bracketed_commas(text: str, parts: list[str]) -> None:
    assert split_values(text, "w") == parts


@pytest.mark.parametrize("text", ["[1,2", "1,,2", "1,2]", '"open', ""])
def test_split_values_rejects_malformed(text: str) -> None:
    with pytest.raises(SymbackpropError, match="^w: "):
        split_values(text, "w")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", 0.1),
        ("32", 32),
        ("tanh", "tanh"),
        ('"tanh"', "tanh"),
        ("[64, 32, 10]", [64, 32, 10]),
        ('["tanh", "relu"]', ["tanh", "relu"]),
        ("true", True),
        ("data/my.csv", "data/my.csv"),
        ("1e-3", 0.001),
    ],
)
def test_parse_value_toml_or_bare_word(text: str, value: object) -> None:
    assert parse_value(text, "w") == value
    assert type(parse_value(text, "w")) is type(value)


@pytest.mark.parametrize("text", ["a b", "[1, x]", "0.1.2.3 4"])
def test_parse_value_rejects_other_text(text: str) -> None:
    with pytest.raises(SymbackpropError, match="neither a TOML value nor a bare word"):
        parse_value(text, "w")


def test_label_writes_values_back_as_typed() -> None:
    for text in ("0.1", "32", "tanh", "[64, 32, 10]", "true", '["tanh", "relu"]', "{a = 1}"):
        assert label(parse_value(text, "w")) == text


def test_short_and_dotted_keys_map_to_their_sections() -> None:
    table = read_table("digits").table
    axes = parse_grid(
        [
            "learning_rate=0.1",
            "layers=[64,16,10]",
            "test_fraction=0.5",
            "training.epochs=3",
            "drop_last=true",
        ],
        table,
    )
    assert [(a.section, a.field) for a in axes] == [
        ("training", "learning_rate"),
        ("network", "layers"),
        ("data", "test_fraction"),
        ("training", "epochs"),
        ("training", "drop_last"),
    ]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("seed=1,2", "use --seeds"),
        ("training.seed=1", "use --seeds"),
        ("learning_rate", "expected KEY=VALUE"),
        ("learning_rate=0.1,0.1", "repeated"),
        ("a.b.c=1", "SECTION.FIELD"),
    ],
)
def test_bad_grid_keys(item: str, message: str) -> None:
    with pytest.raises(SymbackpropError, match=message) as info:
        parse_grid([item], read_table("xor").table)
    assert str(info.value).startswith(f"--grid {item}")


def test_unknown_short_names_are_training_settings_checked_by_the_spec() -> None:
    base = read_table("xor")
    axes = parse_grid(["learning_rat=0.1"], base.table)
    assert [(a.section, a.field) for a in axes] == [("training", "learning_rat")]
    with pytest.raises(SymbackpropError) as info:
        variants(base, axes)
    assert str(info.value).startswith("--grid learning_rat=0.1: ")
    assert "unknown field 'training.learning_rat'" in str(info.value)


def test_variants_apply_values_before_validation() -> None:
    base = read_table("xor")
    axes = parse_grid(["layers=[2,3,1],[2,5,5,1]", "activation=relu,tanh"], base.table)
    found = variants(base, axes)
    assert [(v.spec.layers, v.spec.activations) for v in found] == [
        ((2, 3, 1), ("relu",)),
        ((2, 3, 1), ("tanh",)),
        ((2, 5, 5, 1), ("relu", "relu")),
        ((2, 5, 5, 1), ("tanh", "tanh")),
    ]
    assert all(v.spec.training == load_spec("xor").training for v in found)


def test_variant_errors_name_the_value_or_the_combination() -> None:
    base = read_table("xor")
    with pytest.raises(SymbackpropError) as info:
        variants(base, parse_grid(["learning_rate=0.1,-1"], base.table))
    assert str(info.value).startswith("--grid learning_rate=-1: ")
    assert "training.learning_rate" in str(info.value) and "> 0" in str(info.value)
    # each value is valid alone, one combination is not
    axes = parse_grid(["output=sigmoid,identity", "loss=mse,binary_cross_entropy"], base.table)
    with pytest.raises(SymbackpropError) as info:
        variants(base, axes)
    assert str(info.value).startswith("--grid variant output=identity, loss=binary_cross_entropy")


def test_curve_epochs_keeps_first_and_last() -> None:
    assert curve_epochs(5) == [0, 1, 2, 3, 4]
    kept = curve_epochs(100_000, points=50)
    assert len(kept) == 50 and kept[0] == 0 and kept[-1] == 99_999


# ---------------------------------------------------------------- the command's errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "learning_rate=0.1,-2"], "--grid learning_rate=-2: "),
        (["--grid", "activation=tanh,sine"], "unknown activation 'sine'"),
        (["--grid", "widths=[2,3]"], "unknown field 'training.widths'"),
        (["--grid", "learning_rate=0.1", "--seeds", "0"], "--seeds: must be >= 1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers: "),
        (["--workers", "1000000"], "--workers: 1000000 worker processes; this machine runs at"),
        (["--grid", "dataset=nowhere.csv"], "data file does not exist"),
        (["--output", "/dev/null"], "--output: is a file, not a folder"),
    ],
)
def test_bad_input_is_one_line_before_any_cluster(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # noqa: ANN001
    def no_cluster(*_a: object, **_k: object) -> None:
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    monkeypatch.setattr(distributed, "Client", no_cluster)
    output = tmp_path / "out"
    status = main(["sweep", "xor", "--output", str(output), *args], out=io.StringIO())
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("symbackprop: error: ") and err.count("\n") == 1
    assert message in err
    assert not output.exists()


def test_unreachable_scheduler_is_one_line(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr("symbackprop.tools.sweep.CONNECT_TIMEOUT", "1s")
    port = _free_port()
    status = main(
        ["sweep", "xor", "--scheduler", f"tcp://127.0.0.1:{port}", "--output", str(tmp_path / "o")],
        out=io.StringIO(),
    )
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("symbackprop: error: --scheduler: cannot connect")
    assert err.count("\n") == 1


def test_a_port_that_accepts_and_never_answers_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """Not a Dask scheduler: the TCP connection opens, the handshake never comes (Dask's Client
    waited forever); the sweep gives up after CONNECT_TIMEOUT, before its folder exists."""
    monkeypatch.setattr("symbackprop.tools.sweep.CONNECT_TIMEOUT", "1s")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        started = time.perf_counter()
        status = main(
            ["sweep", "xor", "--scheduler", address, "--output", str(tmp_path / "o")],
            out=io.StringIO(),
        )
        seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    assert "--scheduler: cannot connect" in err and "no Dask scheduler answered" in err
    assert seconds < 10 and not (tmp_path / "o").exists()


# ---------------------------------------------------------------- sweeps on an in-process cluster


@pytest.fixture(scope="module")
def threads_client():  # noqa: ANN201
    """A Dask cluster in this process: one worker, one thread (starts in a fraction of a second)."""
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False,
            dashboard_address=None,
            scheduler_kwargs=NO_DASHBOARD,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


XOR_GRID = ["learning_rate=0.5,2.0", "epochs=300"]


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / RESULTS_CSV).open(newline="") as handle:
        return list(csv.DictReader(handle))


_MODULES: dict = {}


def _direct(spec_name: str, overrides: dict, seed: int):  # noqa: ANN202
    """The trial trained here, through the generated module's own ``train`` (not the runner)."""
    from symbackprop.run.data import load_data

    spec = load_spec(spec_name)
    spec = replace(spec, training=replace(spec.training, seed=seed, **overrides))
    network = replace(spec, training=replace(spec.training, seed=0))
    if network not in _MODULES:
        _MODULES[network] = load_module(module_source(spec))
    module = _MODULES[network]
    data = load_data(spec)
    params = module.init_params(seed)
    t = spec.training
    losses = module.train(
        params, data.X_train, data.Y_train, t.epochs, t.learning_rate, t.batch_size, seed
    )
    return module, params, data, losses


def test_sweep_results_match_direct_training_and_resume(
    threads_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    out = io.StringIO()
    folder = sweep("xor", XOR_GRID, seeds=2, output=tmp_path / "a", out=out, client=threads_client)
    rows = _rows(folder)
    assert list(rows[0]) == [
        "learning_rate", "epochs", "seed", "final_loss", "accuracy", "seconds", "status"
    ]  # fmt: skip
    assert [(r["learning_rate"], r["seed"]) for r in rows] == [
        ("0.5", "0"), ("0.5", "1"), ("2.0", "0"), ("2.0", "1")
    ]  # fmt: skip
    stored = json.loads((folder / RESULTS_JSON).read_text())["trials"]
    for row, record in zip(rows, stored):
        assert row["status"] == "ok"
        lr, seed = float(row["learning_rate"]), int(row["seed"])
        module, params, data, losses = _direct("xor", {"learning_rate": lr, "epochs": 300}, seed)
        assert float(row["final_loss"]) == module.loss(params, data.X_train, data.Y_train)
        predicted = module.forward(params, data.X_train)[:, 0] >= 0.5
        assert float(row["accuracy"]) == float(np.mean(predicted == (data.Y_train[:, 0] >= 0.5)))
        assert record["losses"] == [float(v) for v in losses]
        assert record["loss_epochs"] == list(range(1, 301))
    text = out.getvalue()
    assert "4 trials; 0 already done" in text and "[4/4]" in text and "ETA" in text
    table = text[text.index("#  learning_rate") :].splitlines()[1:5]
    final = [float(line.split()[4]) for line in table]
    assert final == sorted(final)  # best first (all at 100% accuracy)
    assert (folder / "loss_curves.png").stat().st_size > 1000

    # rerun with the same folder: nothing is submitted again, nothing changes
    before = (folder / RESULTS_JSON).read_text()
    monkeypatch.setattr(threads_client, "submit", _fail)
    out = io.StringIO()
    sweep("xor", XOR_GRID, seeds=2, output=folder, out=out, client=threads_client)
    assert "4 trials; 4 already done" in out.getvalue()
    assert (folder / RESULTS_JSON).read_text() == before
    monkeypatch.undo()
    # more seeds: only the new ones run
    out = io.StringIO()
    sweep("xor", XOR_GRID, seeds=3, output=folder, out=out, client=threads_client)
    assert "6 trials; 4 already done" in out.getvalue()
    assert out.getvalue().count("] learning_rate") == 2
    # the same sweep into another folder: the same table, seconds aside
    other = sweep(
        "xor", XOR_GRID, seeds=3, output=tmp_path / "b", out=io.StringIO(), client=threads_client
    )
    assert _without_seconds(_rows(folder)) == _without_seconds(_rows(other))


def _without_seconds(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _fail(*_a: object, **_k: object) -> None:
    raise AssertionError("a finished trial was submitted again")


def test_results_of_another_sweep_are_never_overwritten(tmp_path: Path) -> None:
    table = read_table("xor").table
    axes = parse_grid(["learning_rate=0.5"], table)
    meta = {"spec": "xor (built-in)", "spec_digest": "abc", "grid_keys": ["learning_rate"]}
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / RESULTS_JSON).write_text(json.dumps({"sweep": meta, "trials": []}))
    with Results(folder, meta, axes):  # the same sweep: accepted
        with pytest.raises(SymbackpropError, match="in use by another sweep running now"):
            Results(folder, meta, axes)  # not while the first holds the folder
    for change in ({"spec_digest": "abd"}, {"grid_keys": ["batch_size"]}, {"spec": "x.toml"}):
        with pytest.raises(SymbackpropError, match="holds results of another sweep"):
            Results(folder, {**meta, **change}, axes)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / RESULTS_CSV).write_text("mine\n")
    with pytest.raises(SymbackpropError, match="choose another --output"):
        sweep("xor", ["epochs=5"], output=foreign, out=io.StringIO())
    assert (foreign / RESULTS_CSV).read_text() == "mine\n"
    (foreign / RESULTS_CSV).unlink()
    (foreign / "loss_curves.png").write_text("my plot")
    with pytest.raises(SymbackpropError, match="holds a loss_curves.png without results.json"):
        sweep("xor", ["epochs=5"], output=foreign, out=io.StringIO())
    assert (foreign / "loss_curves.png").read_text() == "my plot"


def _journal_sweep(folder: Path, trials: int) -> tuple[dict, list, list]:
    """A results folder's Results inputs and ``trials`` Trials of one variant (seeds 0..)."""
    from symbackprop.tools.sweep import Trial

    table = read_table("xor").table
    axes = parse_grid(["learning_rate=0.5"], table)
    meta = {"spec": "xor (built-in)", "spec_digest": "abc", "grid_keys": ["learning_rate"]}
    (variant,) = variants(read_table("xor"), axes)
    return meta, axes, [Trial(variant, seed) for seed in range(trials)]


def _metrics(seed: int) -> dict:
    curve = [1.0 / (seed + e + 1) for e in range(1000)]  # a full loss curve: ~24 kB a record
    return {"status": "ok", "final_loss": curve[-1], "accuracy": 1.0, "seconds": 0.1,
            "losses": curve, "loss_epochs": list(range(1, 1001))}  # fmt: skip


def test_saving_trial_k_writes_one_record_not_k(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Issue 18: results.json was rewritten whole after every trial (24 MB per save at 1,000
    trials). Each trial now appends its one record to the journal; results.json is written at
    the start and the end. A resumed sweep reads the journal back (a last line cut short by a
    kill is dropped), and the final results.json holds every trial."""
    import symbackprop.tools.sweep as sweep_module

    folder = tmp_path / "r"
    meta, axes, trials = _journal_sweep(folder, 60)
    written: list[int] = []
    real_append, real_write = sweep_module.append_line, sweep_module.write_output

    def count_append(path, line):  # noqa: ANN001, ANN202
        written.append(len(line))
        return real_append(path, line)

    def no_whole_file(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a trial's record rewrote a whole results file")

    monkeypatch.setattr(sweep_module, "append_line", count_append)
    with Results(folder, meta, axes) as results:
        results.save()  # as a sweep begins
        monkeypatch.setattr(sweep_module, "write_output", no_whole_file)
        for trial in trials[:50]:
            results.add(trial, _metrics(trial.seed))
        monkeypatch.setattr(sweep_module, "write_output", real_write)
    assert len(written) == 50 and max(written) < 1.2 * min(written), written  # O(1), not O(k)
    saved = json.loads((folder / RESULTS_JSON).read_text())["trials"]  # saved as it ended
    assert len(saved) == 50 and (folder / JOURNAL).read_bytes().count(b"\n") == 1

    # killed after three more trials (no save), the last line cut short: resumed from the journal
    results = Results(folder, meta, axes)
    for trial in trials[50:53]:
        results.add(trial, _metrics(trial.seed))
    results.close()  # as a kill leaves it: nothing saved
    with open(folder / JOURNAL, "ab") as journal:
        journal.write(b'{"values": {"learning_rate": "0.5"}, "seed": 5')
    with Results(folder, meta, axes) as resumed:
        assert len(resumed.records) == 53 and resumed.finished(trials[52])
    assert len(json.loads((folder / RESULTS_JSON).read_text())["trials"]) == 50  # not yet saved
    with Results(folder, meta, axes) as resumed:
        resumed.save()
    assert len(json.loads((folder / RESULTS_JSON).read_text())["trials"]) == 53


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"mine\n", "is not a sweep's journal"),
        (b'{"symbackprop sweep journal": 1}\n{"seed": 0}\n', "line 2 ('values' does not give"),
        (b'{"symbackprop sweep journal": 1}\n[' + b"[" * 100_000 + b"\n", "line 2 (nested too"),
        (b'{"symbackprop sweep journal": 1}\nNaN\n', "line 2 (ValueError: NaN is not a number"),
        (b'{"symbackprop sweep journal": 1}\n\xff\n', "unreadable line 2"),
        (None, "is not a sweep's journal"),  # a FIFO: never opened, no hang
    ],
    ids=["foreign", "no values", "deep", "NaN", "bytes", "FIFO"],
)
def test_a_tampered_journal_is_one_line(content: bytes | None, message: str, tmp_path: Path) -> None:  # noqa: E501
    folder = tmp_path / "r"
    meta, axes, trials = _journal_sweep(folder, 1)
    with Results(folder, meta, axes) as results:
        results.save()
    journal = folder / JOURNAL
    journal.unlink()
    if content is None:
        os.mkfifo(journal)
    else:
        journal.write_bytes(content)
    with pytest.raises(SymbackpropError, match=message.replace("(", "\\(")) as error:
        Results(folder, meta, axes)
    assert "\n" not in str(error.value) and str(journal) in str(error.value)
    if content is not None:
        assert journal.read_bytes() == content  # never replaced
    journal.unlink()
    (folder / RESULTS_JSON).unlink()
    (folder / RESULTS_CSV).unlink()
    journal.write_bytes(b'{"symbackprop sweep journal": 1}\n')
    with pytest.raises(SymbackpropError, match="holds a .trials.jsonl without results.json"):
        Results(folder, meta, axes)


def _csv_spec(folder: Path, rows: str) -> Path:
    (folder / "d.csv").write_text("x1,x2,y\n" + rows)
    spec = folder / "net.toml"
    spec.write_text(
        'name = "net"\n[network]\nlayers = [2, 3, 1]\nactivation = "tanh"\n'
        'output = "sigmoid"\nloss = "mse"\n[data]\ndataset = "d.csv"\n'
    )
    return spec


@pytest.mark.slow
def test_a_changed_data_file_is_loaded_again_and_never_resumed_as_the_old(
    threads_client, tmp_path: Path
) -> None:  # noqa: ANN001
    """A long-lived worker keyed its loaded data by the file's path (it trained on the old
    rows after the file changed); a resumed sweep reported results of the old data."""
    spec_file = _csv_spec(tmp_path, "0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    folder = sweep(spec_file, ["epochs=20"], output=tmp_path / "r", out=io.StringIO(),
                   client=threads_client)  # fmt: skip
    spec = read_table(spec_file).spec()
    first = worker_data(spec)
    before = (folder / RESULTS_JSON).read_bytes()
    (tmp_path / "d.csv").write_text("x1,x2,y\n0,0,1\n0,1,0\n1,0,0\n1,1,1\n")  # same size
    os.utime(tmp_path / "d.csv", ns=(1, 1))  # and a time that is not later either
    again = worker_data(spec)
    assert not np.array_equal(first.Y_train, again.Y_train)
    with pytest.raises(SymbackpropError, match="holds results trained on other data"):
        sweep(spec_file, ["epochs=20"], output=folder, out=io.StringIO(), client=threads_client)
    assert (folder / RESULTS_JSON).read_bytes() == before


def test_a_second_sweep_into_a_busy_folder_is_one_line_and_loses_nothing(
    tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    """Two sweeps into one --output each rewrote results.json with only its own trials."""
    folder = tmp_path / "out"
    folder.mkdir()
    holder = subprocess.Popen(  # another process holding the folder, as a running sweep does
        [sys.executable, "-c", "import fcntl, os, sys, time; "
         f"fd = os.open({str(folder / '.sweep.lock')!r}, os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        status = main(["sweep", "xor", "--output", str(folder)], out=io.StringIO())
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "in use by another sweep running now" in err
    assert sorted(p.name for p in folder.iterdir()) == [".sweep.lock"]  # nothing written
    (folder / ".sweep.lock").unlink()
    (folder / ".sweep.lock").symlink_to(tmp_path / "elsewhere")
    status = main(["sweep", "xor", "--output", str(folder)], out=io.StringIO())
    assert status == 2 and "cannot write results" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()  # a planted link is never followed


def test_variants_of_one_network_share_one_derivation(
    threads_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """A learning-rate grid derived every variant; a second sweep derived them all again."""
    import symbackprop.pipeline as pipeline
    from symbackprop.tools import sweep as sweep_module

    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path / "cache"))
    sweep_module._module_source.cache_clear()
    derived = []
    real = pipeline.derivation_of
    monkeypatch.setattr(pipeline, "derivation_of", lambda spec: derived.append(spec) or real(spec))
    grid = ["learning_rate=0.1,0.5,2.0", "epochs=20"]
    first = sweep("xor", grid, output=tmp_path / "a", out=io.StringIO(), client=threads_client)
    assert len(derived) == 1 and len(_rows(first)) == 3
    sweep_module._module_source.cache_clear()  # as in a new process
    sweep("xor", grid, output=tmp_path / "b", out=io.StringIO(), client=threads_client)
    assert len(derived) == 1  # the module came from the cache
    assert _without_seconds(_rows(first)) == _without_seconds(_rows(tmp_path / "b"))


def test_failed_trials_are_recorded_and_the_sweep_goes_on(
    threads_client, tmp_path: Path
) -> None:  # noqa: ANN001
    # identity output + MSE with a huge step diverges to inf/nan; the sane step trains
    grid = ["output=identity", "learning_rate=0.1,1e6", "epochs=200"]
    folder = sweep("xor", grid, output=tmp_path / "f", out=io.StringIO(), client=threads_client)
    rows = {r["learning_rate"]: r for r in _rows(folder)}
    assert rows["0.1"]["status"] == "ok" and math.isfinite(float(rows["0.1"]["final_loss"]))
    assert rows["1000000.0"]["status"].startswith("diverged: the loss is not finite at epoch ")
    assert rows["1000000.0"]["final_loss"] == ""


def test_derivations_diff_of_the_best_variant(
    threads_client, tmp_path: Path
) -> None:  # noqa: ANN001
    grid = ["loss=mse,binary_cross_entropy", "learning_rate=2.0", "epochs=400"]
    out = io.StringIO()
    folder = sweep(
        "xor", grid, output=tmp_path / "d", derivations=True, out=out, client=threads_client
    )
    text = (folder / "derivations.md").read_text()
    records = json.loads((folder / RESULTS_JSON).read_text())["trials"]
    best = min(records, key=lambda r: (-r["accuracy"], r["final_loss"]))
    what = f"best variant (loss={best['values']['loss']} learning_rate=2.0 epochs=400)"
    if best["values"]["loss"] == "binary_cross_entropy":
        assert f"derivation of the {what} vs the spec" in out.getvalue()
        assert "binary_cross_entropy" in text.splitlines()[1] and "\n| $" in text
    else:  # the spec's own loss: no difference at all
        assert f"the {what} has the spec's derivation" in out.getvalue()
        assert "\n| $" not in text


# ---------------------------------------------------------------- worker processes (slow)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_local_cluster_of_two_workers_via_the_command(tmp_path: Path) -> None:
    args = ["sweep", "xor", "--grid", "learning_rate=0.5,2.0", "--grid", "epochs=300"]
    args += ["--seeds", "2", "--workers", "2"]
    tables = []
    for name in ("one", "two"):
        run = subprocess.run(
            [sys.executable, "-m", "symbackprop", *args, "--output", str(tmp_path / name)],
            env=_env(), capture_output=True, text=True, timeout=240, cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        rows = _rows(tmp_path / name)
        assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
        pids = {
            r["worker_pid"]
            for r in json.loads((tmp_path / name / RESULTS_JSON).read_text())["trials"]
        }
        assert os.getpid() not in pids
        tables.append(_without_seconds(rows))
    assert tables[0] == tables[1]
    module, params, data, _ = _direct("xor", {"learning_rate": 2.0, "epochs": 300}, 1)
    assert float(tables[0][3]["final_loss"]) == module.loss(params, data.X_train, data.Y_train)


@pytest.mark.slow
def test_a_local_cluster_shares_each_compile_and_is_closed_when_sweep_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers compile the module's parts under its locks (each part once), the cluster
    closes while the results are written, and is closed when ``sweep`` returns."""
    import multiprocessing
    import threading

    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path / "cache"))  # a module not compiled yet
    grid = ["learning_rate=0.5,2.0", "epochs=50"]
    folder = sweep("xor", grid, workers=2, output=tmp_path / "out", out=io.StringIO())
    assert [r["status"] for r in _rows(folder)] == ["ok", "ok"]
    assert not multiprocessing.active_children()
    assert not [t for t in threading.enumerate() if t.name == "closing the local Dask cluster"]
    locks = tmp_path / "cache" / "modules" / "locks"
    parts = {p.name.split(".")[-2] for p in locks.iterdir()}
    # the backward pass alone only where a worker found training taken
    assert {"infer", "train"} <= parts <= {"backward", "infer", "train"}


@pytest.mark.slow
def test_a_killed_workers_trial_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    grid = ["learning_rate=0.05,0.1", "epochs=150"]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True,
            dashboard_address=None,
            scheduler_kwargs=NO_DASHBOARD,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(lambda: __import__("symbackprop.tools.sweep"))
        errors: list[BaseException] = []

        def work() -> None:
            try:
                sweep(
                    "digits", grid, seeds=2, output=tmp_path / "k", out=io.StringIO(), client=client
                )
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        thread = threading.Thread(target=work)
        thread.start()
        deadline = time.monotonic() + 120
        busy: dict[str, list] = {}
        while time.monotonic() < deadline and not busy:
            busy = {w: list(keys) for w, keys in client.processing().items() if keys}
            time.sleep(0.05)
        assert busy, "no trial was ever running"
        victim, keys = next(iter(busy.items()))
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=240)
        assert not thread.is_alive() and not errors, errors
    records = json.loads((tmp_path / "k" / RESULTS_JSON).read_text())["trials"]
    assert len(records) == 4 and len(_rows(tmp_path / "k")) == 4
    assert all(r["status"] == "ok" for r in records), [r["status"] for r in records]
    assert keys  # these trials were running on the killed worker, and finished elsewhere
    for record in records:
        lr, seed = float(record["values"]["learning_rate"]), record["seed"]
        module, params, data, _ = _direct("digits", {"learning_rate": lr, "epochs": 150}, seed)
        assert record["test_loss"] == module.loss(params, data.X_test, data.Y_test)


@pytest.mark.slow
def test_dask_scheduler_and_workers_as_separate_processes(tmp_path: Path) -> None:
    dask = shutil.which("dask") or str(Path(sys.executable).parent / "dask")
    if not Path(dask).exists():
        pytest.skip("the dask command is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = _env()
    env["SYMBACKPROP_CACHE"] = str(tmp_path / "cache")  # the workers' module cache
    started = []
    try:
        started.append(subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
        ))  # fmt: skip
        started.append(subprocess.Popen(
            [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
             "--local-directory", str(tmp_path / "workers")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
        ))  # fmt: skip
        time.sleep(2)  # let the scheduler listen; the sweep waits for workers itself
        run = subprocess.run(
            [sys.executable, "-m", "symbackprop", "sweep", "xor", "--grid", "learning_rate=0.5,2.0",
             "--grid", "epochs=300", "--seeds", "2", "--scheduler", address,
             "--output", str(tmp_path / "c")],
            env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    rows = _rows(tmp_path / "c")
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    # one module for both variants (the learning rate is an argument), imported by name from the
    # workers' cache folder, its kernels in Numba's on-disk cache
    modules = sorted((tmp_path / "cache" / "modules").glob("xor_*.py"))
    assert len(modules) == 1
    cached = list((tmp_path / "cache" / "modules" / "__pycache__").glob(f"{modules[0].stem}.*.nbi"))
    assert cached, "no Numba cache index for the module"
    records = json.loads((tmp_path / "c" / RESULTS_JSON).read_text())["trials"]
    assert os.getpid() not in {r["worker_pid"] for r in records}
    for record in records:
        lr, seed = float(record["values"]["learning_rate"]), record["seed"]
        module, params, data, losses = _direct("xor", {"learning_rate": lr, "epochs": 300}, seed)
        assert record["final_loss"] == module.loss(params, data.X_train, data.Y_train)
        assert record["losses"] == [float(v) for v in losses]


@pytest.mark.parametrize("text", ["m$\\foo{$x/a.toml", "a$b", "$\\frac{$", "line\nbreak $x$"])
def test_outside_text_in_the_plot_is_literal(text: str) -> None:
    """A spec path or grid value with ``$`` is drawn as typed: mathtext never parses it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symbackprop.tools.sweep import _plot_text

    shown = _plot_text(text)
    assert "\n" not in shown
    figure, axis = plt.subplots()
    axis.set_title(shown)
    axis.plot([0, 1], [0, 1], label=shown)
    axis.legend()
    figure.savefig(io.BytesIO(), format="png")  # raised ValueError (mathtext) before the fix
    plt.close(figure)
    assert axis.title.get_text().replace("\\$", "$") == text.replace("\n", "\\n")


@pytest.mark.slow
def test_ctrl_c_stops_promptly_in_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """SIGINT mid-sweep: exit 130 within seconds, one stderr line, no worker left, results valid."""
    output = tmp_path / "out"
    argv = [sys.executable, "-m", "symbackprop", "sweep", "xor", "--workers", "2"]
    argv += ["--grid", "epochs=3000000,5000000", "--seeds", "4", "--output", str(output)]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, to find its workers afterwards
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 120
        while not (output / "results.json").exists() and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(8)  # the cluster is up and training
        started = time.time()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:  # a failed or timed-out test leaves no sweep or worker behind
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert time.time() - started < 30
    assert process.returncode == 130
    assert err.decode().strip().splitlines() == ["symbackprop: interrupted"]
    time.sleep(3)
    listing = subprocess.run(
        ["ps", "-eo", "pgid="], capture_output=True, text=True, timeout=60
    ).stdout
    assert str(process.pid) not in listing.split(), "worker processes were left behind"
    records = json.loads((output / "results.json").read_text())["trials"]
    with open(output / "results.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(records)


def test_curve_points_shrink_so_a_large_sweep_keeps_readable_results() -> None:
    """1,000 loss-curve points per trial up to 2,000 trials, then fewer (at least 10): a
    results.json of the largest sweep stays under what a resumed sweep reads back."""
    from symbackprop.tools.sweep import (
        CURVE_POINTS,
        MAX_TRIALS,
        RESULTS_LIMIT,
        curve_epochs,
        curve_points,
    )

    assert curve_points(1) == curve_points(2000) == CURVE_POINTS
    assert curve_points(4000) == 500 and curve_points(MAX_TRIALS) == 20
    assert curve_points(10**9) == 10
    worst_point = len(", 1.2345678901234567e-300") + len(", 100000")  # a loss and its epoch
    assert MAX_TRIALS * (curve_points(MAX_TRIALS) * worst_point + 1000) < RESULTS_LIMIT
    assert len(curve_epochs(5000, curve_points(MAX_TRIALS))) == 20


def test_ctrl_c_while_a_cluster_closes_waits_for_it_then_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the sweep waits for its local cluster to close: the close still finishes
    (a cluster left closing ends in Dask's exit handler with a traceback), then the sweep stops."""
    import threading

    import symbackprop.tools.sweep as sweeping

    class Interrupted(threading.Thread):
        joins = 0

        def join(self, timeout: float | None = None) -> None:
            Interrupted.joins += 1
            if Interrupted.joins == 1:
                raise KeyboardInterrupt  # as Ctrl-C arrives during the first join
            super().join(timeout)

    closing = Interrupted(target=time.sleep, args=(0.3,))
    closing.start()
    monkeypatch.setattr(sweeping, "_CLOSING", [closing])
    with pytest.raises(KeyboardInterrupt):
        sweeping.closed_clusters()
    assert not closing.is_alive() and Interrupted.joins == 2 and not sweeping._CLOSING


def test_a_local_worker_freezes_the_collector_at_exit() -> None:
    """The local cluster's preload (tools.worker) freezes the collector's objects at exit, so a
    worker with Numba's compiler set up stops in time for the sweep's end. The handler here is
    registered first, so it runs after the worker's (exit handlers run last in, first out)."""
    assert WORKER_IMPORTS == ("symbackprop.tools.worker",)
    code = (
        "import atexit, gc; atexit.register(lambda: print(gc.get_freeze_count() > 0)); "
        "import symbackprop.tools.worker"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_ctrl_c_while_the_local_cluster_starts_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C inside LocalCluster's start is held until the cluster exists, then raised, and the
    cluster is closed (raised inside the start, it left a cluster that nothing closed)."""
    import symbackprop.tools.sweep as sweeping

    closed = []

    class Starting:
        def __init__(self, **kwargs: object) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the workers start
            time.sleep(0.2)

        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(distributed, "LocalCluster", Starting)
    with pytest.raises(KeyboardInterrupt):
        with sweeping.dask_client(None, 1):
            pytest.fail("the sweep went on after Ctrl-C")
    sweeping.closed_clusters()
    assert closed == [True]


def test_without_dask_a_sweep_is_refused_before_it_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    with pytest.raises(SymbackpropError, match="needs Dask distributed"):
        sweep("xor", ["learning_rate=0.1,0.2"], output=tmp_path / "out", out=io.StringIO())
    assert not (tmp_path / "out").exists()
