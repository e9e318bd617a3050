"""Where the public ``train`` of a generated module spends its time (issue 22).

    python benchmarks/train_profile.py [--repeats 7] [--dtype float64]

For each of ``symbackprop bench``'s workloads, the generated module (fixed kernels) is timed
four ways, best of ``--repeats`` after a warm-up, all in one process:

- ``train``: the module's public ``train(params, X, Y, epochs, learning_rate, batch_size, seed,
  drop_last=True)``, as a user calls it (what an independent harness measures);
- ``train_with_order``: the same epochs in an order made beforehand (what the bench measured);
- ``order``: ``minibatch_order`` alone (the sample order ``train`` draws);
- ``checks``: the argument checks alone (``_params`` and ``_inputs``: dtype, shape, finiteness).

The Markdown table (CPU model, milliseconds, and each part's share of ``train``) goes to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's symbackprop, installed or not

from symbackprop.tools.bench import SEED, WORKLOADS, generated_module  # noqa: E402
from symbackprop.tools.cpu import machine  # noqa: E402


def best(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls, after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def profile(name: str, dtype: str, repeats: int) -> dict[str, float]:
    """The four timings of one workload, in seconds."""
    workload = WORKLOADS[name]
    module = generated_module(workload, dtype)
    X, Y = workload.data()
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    init = module.init_params(SEED)
    epochs, rate, batch = workload.epochs, workload.learning_rate, workload.batch_size
    order = module.minibatch_order(X.shape[0], epochs, SEED)

    def public() -> None:
        module.train([p.copy() for p in init], X, Y, epochs, rate, batch, SEED, True)

    def ordered() -> None:
        module.train_with_order([p.copy() for p in init], X, Y, order, rate, batch, True)

    def checks() -> None:
        module._params([p.copy() for p in init], in_place=True)
        module._inputs(X, Y)

    return {
        "train": best(public, repeats),
        "train_with_order": best(ordered, repeats),
        "order": best(lambda: module.minibatch_order(X.shape[0], epochs, SEED), repeats),
        "checks": best(checks, repeats),
    }


def table(results: dict[str, dict[str, float]], dtype: str, repeats: int) -> str:
    lines = [
        f"Public `train` of the generated module ({dtype}, fixed kernels) on {machine()}, "
        f"load average {os.getloadavg()[0]:.2f}; best of {repeats}, milliseconds.",
        "",
        "| workload | train | train_with_order | order | checks | order + checks share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in results.items():
        share = (t["order"] + t["checks"]) / t["train"]
        lines.append(
            f"| {name} | {1e3 * t['train']:.2f} | {1e3 * t['train_with_order']:.2f} | "
            f"{1e3 * t['order']:.3f} | {1e3 * t['checks']:.3f} | {100 * share:.1f}% |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    args = parser.parse_args()
    if args.repeats < 1 or not set(args.workloads) <= set(WORKLOADS):
        parser.error(f"--repeats >= 1; workloads among {', '.join(WORKLOADS)}")
    results = {name: profile(name, args.dtype, args.repeats) for name in args.workloads}
    print(table(results, args.dtype, args.repeats), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
