"""Time to result: process start to final metric, symbackprop against scikit-learn (issue 17).

    python benchmarks/time_to_result.py [--repeats 3] [--epochs 300] [--output FILE.md]

The task: the built-in digits spec (64-32-10, tanh, softmax + cross-entropy, SGD at 0.1 without
momentum, batches of 32, seed 0, a quarter of the 1,797 images held out), trained for 300 epochs.
Each case is a fresh process, timed from its start to its exit (it prints its metric last):

- ``run`` cold: ``symbackprop run digits --epochs 300 --quiet-derivation --json`` with an empty
  SYMBACKPROP_CACHE and NUMBA_CACHE_DIR (new folders each time); ``run`` warm: the same with both
  filled by an untimed first run;
- ``predict`` and ``evaluate`` (warm) of the weights that first run saved, on all 1,797 images;
- the Python API, cold and warm: ``symbackprop.train("digits", epochs=300)``;
- scikit-learn's ``MLPClassifier`` on the same task: one hidden layer of 32 tanh units, SGD at a
  constant 0.1 without momentum, no L2 penalty, batches of 32, 300 epochs (no early stop), on a
  75/25 split of the same images scaled to [0, 1] (scikit-learn's own split: the same sizes);
- ``python -c "import numpy, numba"``: the floor of any process that runs a generated module;
- ``sweep`` cold: ``symbackprop sweep digits`` over 4 learning rates on 2 local workers with empty
  caches; its target, "2x the sequential training time plus one cold compile", reads two ways,
  and both are printed: 2 x T + C (the strict reading) and 2 x (T + C), where T is the
  sequential training time (4 trials of the warm run's training seconds) and C one cold
  compile (the cold run's compile seconds).

Every case runs ``--repeats`` times, interleaved, and the best time counts. The Markdown table,
with the CPU model and the issue's four target ratios, goes to stdout; ``--output FILE`` also
writes it there (a new file only: an existing file, committed or not, is never replaced).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's symbackprop, installed or not

from symbackprop.tools.cpu import machine  # noqa: E402
from symbackprop.util.fileio import stamp_text, write_output  # noqa: E402

SKLEARN = """
import warnings
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
model = MLPClassifier(
    hidden_layer_sizes=(32,), activation="tanh", solver="sgd", learning_rate="constant",
    learning_rate_init=0.1, momentum=0.0, nesterovs_momentum=False, alpha=0.0, batch_size=32,
    max_iter={epochs}, tol=0.0, n_iter_no_change={epochs}, shuffle=True, random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, y_train)
print(f"test accuracy {{model.score(X_test, y_test):.4f}} after {{model.n_iter_}} epochs")
"""

API = """
import symbackprop

trained = symbackprop.train("digits", epochs={epochs})
print(f"test accuracy {{trained.result.test_accuracy:.4f}} after {{trained.result.epochs}} epochs")
"""

SWEEP = "sweep cold (4 trials, 2 workers)"

TARGETS = (  # (label, case, baseline, at most)
    ("warm `run` / scikit-learn", "run warm", "scikit-learn MLPClassifier", 0.5),
    ("cold `run` / scikit-learn", "run cold", "scikit-learn MLPClassifier", 1.0),
    ("warm `predict` / import numpy, numba", "predict (warm)", "import numpy, numba", 2.0),
    ("warm `evaluate` / import numpy, numba", "evaluate (warm)", "import numpy, numba", 2.0),
)


def _symbackprop() -> list[str]:
    """The console script beside this Python, as a user types it (else ``python -m``)."""
    script = Path(sys.executable).with_name("symbackprop")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "symbackprop"]


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds from process start to exit, and its stdout's last line; fails on an error."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    return seconds, lines[-1] if lines else ""


def _metric(line: str) -> str:
    """The final metric a case printed, shortened for the table."""
    if line.startswith("{"):
        summary = json.loads(line)
        return f"test accuracy {summary['test_accuracy']:.4f}"
    return line if len(line) < 60 else line[:57] + "..."


def _cases(work: Path, epochs: int) -> dict:
    """Each case: a function of the repeat number that returns (command, environment)."""
    sbp = _symbackprop()
    run = [*sbp, "run", "digits", "--epochs", str(epochs), "--quiet-derivation", "--json"]
    weights = work / "digits.npz"
    base = dict(os.environ)
    for name in ("SYMBACKPROP_CACHE", "NUMBA_CACHE_DIR"):
        base.pop(name, None)
    warm = dict(base, SYMBACKPROP_CACHE=str(work / "warm"), NUMBA_CACHE_DIR=str(work / "numba"))

    def cold(repeat: int, label: str) -> dict[str, str]:
        folder = work / f"cold-{label}-{repeat}"
        folder.mkdir()
        return dict(base, SYMBACKPROP_CACHE=str(folder / "cache"),
                    NUMBA_CACHE_DIR=str(folder / "numba"))  # fmt: skip

    def python(code: str) -> list[str]:
        return [sys.executable, "-c", code.format(epochs=epochs)]

    return {
        "run cold": lambda r: (run, cold(r, "run")),
        "run warm": lambda r: (run, warm),
        "predict (warm)": lambda r: ([*sbp, "predict", "digits", str(weights), "digits"], warm),
        "evaluate (warm)": lambda r: ([*sbp, "evaluate", "digits", str(weights), "digits"], warm),
        "Python API cold": lambda r: (python(API), cold(r, "api")),
        "Python API warm": lambda r: (python(API), warm),
        "scikit-learn MLPClassifier": lambda r: (python(SKLEARN), base),
        "import numpy, numba": lambda r: ([sys.executable, "-c", "import numpy, numba"], base),
        SWEEP: lambda r: (
            [*sbp, "sweep", "digits", "--grid", "learning_rate=0.05,0.1,0.2,0.4", "--grid",
             f"training.epochs={epochs}", "--workers", "2", "--output", str(work / f"sweep-{r}")],
            cold(r, "sweep"),
        ),  # fmt: skip
    }, (run + ["--save", str(weights)], warm)


def measure(repeats: int, epochs: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Every case ``repeats`` times, interleaved, after an untimed run that fills the warm cache
    and saves the weights ``predict`` and ``evaluate`` read."""
    work = Path(tempfile.mkdtemp(prefix="time-to-result-"))
    try:
        cases, (first, env) = _cases(work, epochs)
        print("untimed first run (fills the warm caches, saves the weights)", file=sys.stderr)
        _timed(first, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        metrics: dict[str, str] = {}
        summaries: dict[str, dict] = {}
        for repeat in range(repeats):
            for name, case in cases.items():
                command, case_env = case(repeat)
                seconds, line = _timed(command, case_env)
                times[name].append(seconds)
                metrics[name] = "1,797 rows" if name == "predict (warm)" else _metric(line) or "-"
                if line.startswith("{"):
                    summaries.setdefault(name, json.loads(line))
                print(f"{name}: {seconds:.2f} s", file=sys.stderr, flush=True)
        metrics["sequential"] = sequential_baseline(summaries)
        return times, metrics
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sequential_baseline(summaries: dict[str, dict]) -> str:
    """The sweep's baseline parts in seconds (as text, "T C"): 4 trials of the warm run's
    training time, and the cold run's compile time."""
    training = summaries["run warm"]["seconds"]
    return f"{4 * training:.3f} {summaries['run cold']['compile_seconds']:.3f}"


def table(times: dict[str, list[float]], metrics: dict[str, str], epochs: int) -> str:
    """The Markdown report: machine, one row per case, the target ratios."""
    best = {name: min(values) for name, values in times.items()}
    repeats = len(next(iter(times.values())))
    lines = [
        f"Time to result on digits (64-32-10 tanh, SGD 0.1, batch 32, {epochs} epochs), "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        f"on {machine()}, load average {os.getloadavg()[0]:.2f}; best of {repeats}, "
        "process start to exit.",
        "",
        "| case | best (s) | all (s) | final metric |",
        "|---|---|---|---|",
    ]
    for name, values in times.items():
        spread = ", ".join(f"{v:.2f}" for v in values)
        lines.append(f"| {name} | {best[name]:.2f} | {spread} | {metrics.get(name, '')} |")
    lines += ["", "| target (issue 17) | ratio | at most | met |", "|---|---|---|---|"]
    for label, case, baseline, limit in TARGETS:
        ratio = best[case] / best[baseline]
        lines.append(f"| {label} | {ratio:.2f} | {limit} | {'yes' if ratio <= limit else 'no'} |")
    training, compiling = (float(part) for part in metrics["sequential"].split())
    readings = (
        ("2 T + C", 2 * training + compiling),  # strict: (2x the training) plus one compile
        ("2 (T + C)", 2 * (training + compiling)),  # 2x (the training plus one compile)
    )
    for label, baseline in readings:
        ratio = best[SWEEP] / baseline
        lines.append(
            f"| sweep / {label} (T = 4 trials' training {training:.2f} s, C = one cold compile "
            f"{compiling:.2f} s: {baseline:.2f} s) | {ratio:.2f} | 1.0 | "
            f"{'yes' if ratio <= 1.0 else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="times each case runs (best counts)")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--output", type=Path, help="also write the table here (a new file)")
    args = parser.parse_args()
    if args.repeats < 1 or args.epochs < 1:
        parser.error("--repeats and --epochs must be at least 1")
    if args.output is not None and (args.output.exists() or args.output.is_symlink()):
        parser.error(f"--output {args.output} exists; this script never replaces a file")
    times, metrics = measure(args.repeats, args.epochs)
    report = table(times, metrics, args.epochs)
    print(report, end="")
    if args.output is not None:
        write_output(args.output, stamp_text(report, "markdown"), exclusive=True)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
