"""Samples/s of two generated modules of one spec, trained in one process, interleaved.

Issue 16 printed the optimizer and schedule kernels from their SymPy rules instead of writing the
update arithmetic in the template. This compares a module generated before that change with one
generated after it (``python benchmarks/optimizer_printing.py OLD.py NEW.py``): both train on the
same random data, from the same weights, through the module's public ``train``; the median of
REPEATS timings each, alternating, and the ratio new/old of samples per second.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPEATS = 9


def load(path: str, name: str):  # noqa: ANN201 - a generated module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def problem(module, samples: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    rng = np.random.default_rng(0)
    n_in, n_out = module.LAYERS[0], module.LAYERS[-1]
    X = rng.random((samples, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, samples)] if n_out > 1 else rng.random((samples, 1))
    return X, Y


def main() -> None:
    old, new = load(sys.argv[1], "old_module"), load(sys.argv[2], "new_module")
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    samples, batch, lr = 1024, 32, 1e-3
    X, Y = problem(new, samples)
    times: dict[str, list[float]] = {"old": [], "new": []}
    losses = {}
    for repeat in range(REPEATS + 1):
        for label, module in (("old", old), ("new", new)):
            params = module.init_params(0)
            start = time.perf_counter()
            losses[label] = module.train(params, X, Y, epochs, lr, batch)[-1]
            if repeat:  # the first is a warm-up (compilation)
                times[label].append(time.perf_counter() - start)
    rate = {k: samples * epochs / statistics.median(v) for k, v in times.items()}
    print(
        f"{Path(sys.argv[2]).stem}: old {rate['old']:,.0f} samples/s, new {rate['new']:,.0f} "
        f"samples/s, new/old {rate['new'] / rate['old']:.2f}x; final losses {losses['old']:.12g} "
        f"/ {losses['new']:.12g}"
    )


if __name__ == "__main__":
    main()
