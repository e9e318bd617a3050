"""The time-to-result benchmark's report (benchmarks/time_to_result.py, issue 17): every case and
every target ratio computed from the measured times, including the sweep's baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "time_to_result.py"


def _bench():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("time_to_result", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_report_computes_each_target_from_the_best_times() -> None:
    bench = _bench()
    names = [case for _, case, base, _ in bench.TARGETS] + [b for _, _, b, _ in bench.TARGETS]
    times = {name: [2.0, 1.0] for name in dict.fromkeys([*names, bench.SWEEP])}
    times["run warm"] = [0.4, 0.5]
    times[bench.SWEEP] = [9.0, 8.0]
    summaries = {"run warm": {"seconds": 0.25}, "run cold": {"compile_seconds": 4.0}}
    metrics = {"sequential": bench.sequential_baseline(summaries)}
    assert metrics["sequential"] == "1.000 4.000"  # T = 4 x 0.25, C = 4.0
    report = bench.table(times, metrics, 300)
    assert "| warm `run` / scikit-learn | 0.40 | 0.5 | yes |" in report
    assert "| cold `run` / scikit-learn | 1.00 | 1.0 | yes |" in report
    assert "| sweep / 2 T + C (" in report and ": 6.00 s) | 1.33 | 1.0 | no |" in report
    assert "| sweep / 2 (T + C) (" in report and ": 10.00 s) | 0.80 | 1.0 | yes |" in report
