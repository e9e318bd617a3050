"""Smoke tests of ``symbackprop bench`` on xor (peers that are not installed are skipped)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys

import pytest

from symbackprop.cli.commands import main
from symbackprop.tools import bench


def _rows(run: dict) -> dict[str, dict]:
    return {r["implementation"]: r for r in run["rows"]}


@pytest.mark.slow
def test_xor_all_peers_agree_with_generated(tmp_path) -> None:
    run = bench.run_benchmark(["xor"], "float64", list(bench.PEERS), repeats=1, epochs=300)
    rows = _rows(run)
    generated, numpy_peer = rows["generated"], rows["numpy"]
    assert generated["status"] == "ok", generated["note"]
    assert generated["samples_per_s"] > 0 and generated["warmup_s"] >= 0
    # A real check of both: the hand-written NumPy backprop and the generated kernels.
    assert numpy_peer["status"] == "ok", numpy_peer["note"]
    assert numpy_peer["rel_diff"] <= 1e-9
    assert generated["final_loss"] < 0.26  # trained: xor's MSE starts near 0.25 and falls
    for name, row in rows.items():
        assert row["status"] in ("ok", "absent"), (name, row["note"])
        if row["status"] == "ok":
            assert row["rel_diff"] <= 1e-9 and row["ratio"] > 0, name
    for peer, module in (("torch", "torch"), ("jax", "jax")):
        if importlib.util.find_spec(module) is None:
            assert rows[peer]["status"] == "absent"
    cold = run["cold_start"]["xor"]
    assert "error" not in cold, cold
    assert cold["seconds"] > 0 and cold["cache_hit"]

    text = bench.format_run(run)
    assert "| xor | float64 | generated |" in text and "GEMM" in text
    bench.write_results(run, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["runs"]["float64"]["rows"] == run["rows"]
    assert "| xor | float64 | numpy |" in (tmp_path / "results.md").read_text()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "speedup.png").stat().st_size > 0


def test_missing_peer_is_reported_not_fatal(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    run = bench.run_benchmark(["xor"], "float64", ["torch", "numpy"], 1, epochs=20, cold=False)
    rows = _rows(run)
    assert rows["torch"]["status"] == "absent" and "not installed" in rows["torch"]["note"]
    assert rows["numpy"]["status"] == "ok" and rows["numpy"]["rel_diff"] <= 1e-9
    assert "torch (not installed" in bench.format_run(run)


def test_cli_bench_xor_numpy(tmp_path) -> None:
    out = io.StringIO()
    argv = ["bench", "--workload", "xor", "--peers", "numpy", "--repeats", "1"]
    assert main([*argv, "--output", str(tmp_path)], out) == 0
    assert "| xor | float64 | numpy |" in out.getvalue()
    assert (tmp_path / "results.md").exists() and (tmp_path / "results.json").exists()


@pytest.mark.parametrize(
    "argv", [["--peers", "tensorflow"], ["--workload", "nope"], ["--repeats", "0"]]
)
def test_cli_bench_rejects_bad_arguments(argv, tmp_path) -> None:
    assert main(["bench", *argv, "--output", str(tmp_path)], io.StringIO()) == 2


def _flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split() for line in info if line.startswith("flags")), [])
    except OSError:
        return []


def test_bench_records_the_machine_and_each_layers_kernels(monkeypatch) -> None:
    monkeypatch.setenv("SYMBACKPROP_TUNE", "0")
    run = bench.run_benchmark(["xor"], "float64", ["numpy"], 1, epochs=5, cold=False)
    machine = run["machine"]
    flags = _flags()
    if flags:
        assert machine["isa"] == ("avx512" if "avx512f" in flags else "avx2" if "avx2" in flags
                                  else machine["isa"])  # fmt: skip
    assert machine["isa_setting"] == "native" and machine["threads"] >= 1
    if importlib.util.find_spec("threadpoolctl") is not None:
        assert machine["blas"]["coretype"] and machine["blas"]["threads"] >= 1
    # xor's layers are below BLAS_MIN_MACS: the default plan uses loops everywhere
    assert run["kernels"]["xor"] == [
        "layer 1 (2->4): forward loops, backward -, weights loops",
        "layer 2 (4->1): forward loops, backward loops, weights loops",
    ]
    text = bench.format_run(run)
    assert "Kernels xor (fixed; variant per layer and product): layer 1 (2->4)" in text
    assert f"ISA {machine['isa']}" in text
    assert run["kernel_variants"] == "fixed"
    # the tuned module (tuning off) reports the plan it trained with: the same rule here
    tuned = bench.run_benchmark(["xor"], "float64", [], 1, epochs=5, cold=False, kernels="tuned")
    assert tuned["kernels"]["xor"] == run["kernels"]["xor"]
    assert "Kernels xor (tuned; " in bench.format_run(tuned)
    # digits is at or above BLAS_MIN_MACS in both layers: the fixed module uses BLAS
    assert bench.fixed_plan((64, 32, 10)) == [
        "layer 1 (64->32): forward blas, backward -, weights blas",
        "layer 2 (32->10): forward blas, backward blas, weights blas",
    ]


@pytest.mark.slow
def test_cli_bench_isa_avx2_reruns_under_avx2_settings(tmp_path) -> None:
    out = io.StringIO()
    argv = ["bench", "--isa", "avx2", "--workload", "xor", "--peers", "numpy", "--repeats", "1"]
    assert main([*argv, "--output", str(tmp_path)], out) == 0
    assert "re-running under OPENBLAS_CORETYPE=Haswell" in out.getvalue()
    machine = json.loads((tmp_path / "results.json").read_text())["runs"]["float64"]["machine"]
    assert machine["isa_setting"] == "avx2" and machine["numba_cpu"] == "haswell"
    assert machine["xla_flags"] == "--xla_cpu_max_isa=AVX2"
    if importlib.util.find_spec("threadpoolctl") is not None:
        assert machine["blas"]["coretype"] == "Haswell"


@pytest.mark.skipif(
    not hasattr(bench.os, "sched_setaffinity") or len(bench.os.sched_getaffinity(0)) < 2,
    reason="needs Linux affinity and two CPUs",
)
def test_one_core_peer_pins_every_thread_and_unpins_new_ones() -> None:
    """jax-run-1c's wrapper: all threads on one CPU inside; afterwards every thread, also one
    started inside (pinned by inheritance), has the process's mask again."""
    import os
    import threading
    import time

    mask = os.sched_getaffinity(0)

    def masks() -> list[set[int]]:
        return [os.sched_getaffinity(int(t)) for t in os.listdir("/proc/self/task")]

    def train() -> list[set[int]]:
        started = threading.Thread(target=time.sleep, args=(1.0,), daemon=True)
        started.start()
        return masks()

    inside = bench._on_one_core(train)()
    assert len(inside) >= 2 and all(m == {min(mask)} for m in inside)
    assert all(m == mask for m in masks())
