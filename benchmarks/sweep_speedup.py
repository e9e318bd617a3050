"""Speedup of ``symbackprop sweep`` over running the same trials one after another.

    python benchmarks/sweep_speedup.py [--epochs 1000] [--workers N] [--repeats 1] [--output FILE]

The sweep: 24 trials of digits (learning_rate 0.05, 0.1, 0.2, 0.5 x activation tanh, relu x 3
seeds) on a LocalCluster of N worker processes (default: one per core). The baseline: the same 24
trials, derived and trained by the same per-trial function
(``symbackprop.tools.sweep.run_trial``) one
after another in one process, with one BLAS thread like a Dask worker. Both run as fresh
processes timed from start to exit (imports, derivation, cluster start and shutdown included),
after an untimed warm-up that fills Numba's on-disk cache, alternating. The final losses of the
two must agree exactly, or the script fails.
The figures are printed; ``--output FILE`` also writes them as JSON (the committed result is
``benchmarks/sweep_speedup.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRID = ["learning_rate=0.05,0.1,0.2,0.5", "activation=tanh,relu"]
SEEDS = 3
sys.path.insert(0, str(ROOT))  # this checkout's symbackprop, installed or not

from symbackprop.tools.cpu import machine  # noqa: E402
from symbackprop.tools.sweep import trial_key  # noqa: E402


def sequential(epochs: int) -> list[dict]:
    """The sweep's trials, one after another in this process (each variant derived once)."""
    from symbackprop.pipeline import module_source
    from symbackprop.tools.grid import parse_grid, read_table, variants
    from symbackprop.tools.sweep import Trial, run_trial

    base = read_table("digits")
    grid = [*GRID, f"epochs={epochs}"]
    axes = parse_grid(grid, base.table)
    seed0 = base.spec().training.seed
    records = []
    for variant in variants(base, axes):
        source = module_source(variant.spec)
        for seed in range(seed0, seed0 + SEEDS):
            trial = Trial(variant, seed)
            metrics = run_trial(source.name, source.text, trial.spec)
            records.append({"key": trial.key, **metrics})
    return records


# Dask's nanny starts each worker with one BLAS/OpenMP thread; the baseline gets the same.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _timed(command: list[str], extra_env: dict[str, str] | None = None) -> tuple[float, str]:
    env = {**os.environ, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{run.stderr[-2000:]}")
    return seconds, run.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--output", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--sequential-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sequential_json:  # the baseline's own process
        args.sequential_json.write_text(json.dumps(sequential(args.epochs)))
        return 0

    load_at_start = os.getloadavg()
    grid = [arg for item in [*GRID, f"epochs={args.epochs}"] for arg in ("--grid", item)]
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)

        def run_sweep(name: str) -> tuple[float, Path]:
            folder = here / name
            command = [sys.executable, "-m", "symbackprop", "sweep", "digits", *grid]
            command += ["--seeds", str(SEEDS), "--workers", str(args.workers)]
            seconds, _ = _timed([*command, "--output", str(folder)])
            return seconds, folder

        def run_sequential(name: str) -> tuple[float, Path]:
            target = here / f"{name}.json"
            script = [sys.executable, str(Path(__file__).resolve()), "--epochs", str(args.epochs)]
            seconds, _ = _timed([*script, "--sequential-json", str(target)], ONE_THREAD)
            return seconds, target

        print("warm-up (fills Numba's on-disk cache; not timed)", flush=True)
        run_sweep("warm")
        sweeps, baselines = [], []
        for r in range(args.repeats):
            seconds, seq_file = run_sequential(f"seq{r}")
            baselines.append(seconds)
            print(f"one after another: {seconds:.1f} s", flush=True)
            seconds, folder = run_sweep(f"sweep{r}")
            sweeps.append(seconds)
            print(f"sweep on {args.workers} workers: {seconds:.1f} s", flush=True)

        swept = json.loads((folder / "results.json").read_text())["trials"]
        swept_losses = {
            trial_key([*t["values"].values()], t["seed"]): t["final_loss"] for t in swept
        }
        seq = json.loads(seq_file.read_text())
        seq_losses = {t["key"]: t["final_loss"] for t in seq}
        if len(swept) != 24 or swept_losses != seq_losses:
            raise SystemExit("the sweep's final losses differ from the sequential run's")
        train_seconds = sum(t["seconds"] for t in seq)
    best = min(baselines) / min(sweeps)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "trials": 24,
        "epochs": args.epochs,
        "workers": args.workers,
        "sequential_seconds": baselines,
        "sweep_seconds": sweeps,
        "training_seconds_sequential": train_seconds,
        "speedup": best,
        "final_losses_equal": True,
    }
    print(
        f"24 trials of digits, {args.epochs} epochs: one after another {min(baselines):.1f} s, "
        f"sweep on {args.workers} workers {min(sweeps):.1f} s: speedup {best:.2f}x "
        f"(training alone, sequential: {train_seconds:.1f} s); final losses identical"
    )
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
