"""Time each kernel variant of the generated modules on the bench workloads (for issue 12).

For every workload: the default plan (SYMBACKPROP_TUNE=0), each variant forced everywhere
(SYMBACKPROP_KERNEL=blas|loops|micro) and the tuned plan, interleaved, same data, weights and
order as ``symbackprop bench``.  Prints samples/s (median), the final loss's relative
difference from the BLAS path (a fast wrong kernel shows here), GFLOP/s (6 x params x samples/s)
and its share of one core's GEMM rate (numpy 1024^3 on one BLAS thread, a stand-in for peak).

    python scripts/kernel_variants.py [--dtype float32] [--workload digits ...] [--repeats 5]
    python scripts/kernel_variants.py --asm     # packed vs scalar FMAs in each microkernel

Run under the AVX2 settings too (separate Numba cache):
    OPENBLAS_CORETYPE=Haswell NUMBA_CPU_NAME=haswell NUMBA_CACHE_DIR=/tmp/numba-avx2 \\
        python scripts/kernel_variants.py
The tuned plan is measured into a fresh temporary cache each run (not ~/.cache).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

if "--asm" in sys.argv and "NUMBA_CACHE_DIR" not in os.environ:
    # Numba cannot show the assembly of code loaded from its cache: compile afresh.
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="symbackprop-asm-")

import numpy as np

from symbackprop.spec.model import parameter_count
from symbackprop.tools import bench
from symbackprop.tools.cpu import details

SETTINGS = {
    "default": {"SYMBACKPROP_TUNE": "0"},
    "blas": {"SYMBACKPROP_KERNEL": "blas"},
    "loops": {"SYMBACKPROP_KERNEL": "loops"},
    "micro": {"SYMBACKPROP_KERNEL": "micro"},
    "tuned": {"SYMBACKPROP_TUNE": "1"},
}


def _with_env(values: dict[str, str]) -> None:
    for name in ("SYMBACKPROP_TUNE", "SYMBACKPROP_KERNEL"):
        os.environ.pop(name, None)
    os.environ.update(values)


def one_core_gemm(dtype: str) -> float:
    """numpy's 1024^3 GEMM rate on one BLAS thread (GFLOP/s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return bench.gemm_gflops(dtype)
    with threadpool_limits(1, user_api="blas"):
        return bench.gemm_gflops(dtype)


def run(names: list[str], dtype: str, repeats: int) -> None:
    """Print the variant table of each workload."""
    os.environ["SYMBACKPROP_CACHE"] = tempfile.mkdtemp(prefix="symbackprop-wisdom-")
    gemm = one_core_gemm(dtype)
    info = details()
    print(f"CPU {info['cpu_model']} ({info['isa']}), Numba target {info['numba_cpu']}, "
          f"BLAS core type {info['blas'].get('coretype')}; one-core GEMM {gemm:.1f} GFLOP/s")
    for name in names:
        workload = bench.WORKLOADS[name]
        module = bench.generated_module(workload, dtype, "tuned")
        problem = bench._problem(workload, dtype, module, None)
        n_params = parameter_count(workload.layers)

        def train(problem=problem, module=module, w=workload) -> list[np.ndarray]:
            params = [p.copy() for p in problem.init]
            module.train_with_order(
                params, problem.X, problem.Y, problem.order, w.learning_rate, w.batch_size, True
            )
            return params

        times: dict[str, list[float]] = {k: [] for k in SETTINGS}
        losses: dict[str, float] = {}
        plans: dict[str, list[str]] = {}
        for label, values in SETTINGS.items():  # warm-up: compile, tune
            _with_env(values)
            start = time.perf_counter()
            params = train()
            print(f"[{name}] warm-up {label}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
            losses[label] = module.loss(params, problem.X, problem.Y)
            plans[label] = module.describe_plan(module.CHOSEN[workload.batch_size])
        for _ in range(repeats):
            for label, values in SETTINGS.items():
                _with_env(values)
                time.sleep(0.2)
                start = time.perf_counter()
                train()
                times[label].append(time.perf_counter() - start)
        print(f"\n{name} {dtype} ({'-'.join(map(str, workload.layers))}, batch "
              f"{workload.batch_size})")
        print("| plan | samples/s | vs default | GFLOP/s | share of one-core GEMM | "
              "final loss rel. diff vs blas |")
        print("|---|---:|---:|---:|---:|---:|")
        default = problem.samples / statistics.median(times["default"])
        for label in SETTINGS:
            rate = problem.samples / statistics.median(times[label])
            gflops = 6 * n_params * rate / 1e9
            diff = abs(losses[label] / losses["blas"] - 1)
            print(f"| {label} | {rate:,.0f} | {rate / default:.2f}x | {gflops:.2f} | "
                  f"{100 * gflops / gemm:.0f}% | {diff:.1e} |")
        print("tuned plan: " + "; ".join(plans["tuned"]))


def asm(names: list[str], dtype: str) -> None:
    """Count packed and scalar FMA instructions in each microkernel (x86)."""
    for name in names:
        workload = bench.WORKLOADS[name]
        module = bench.generated_module(workload, dtype, "tuned")
        B, sizes, dt = workload.batch_size, module.LAYERS, module.DTYPE
        for layer in range(1, len(sizes)):
            n_in, n_out = sizes[layer - 1], sizes[layer]
            A, W, b = np.ones((B, n_in), dt), np.ones((n_out, n_in), dt), np.ones(n_out, dt)
            Z, A_out, delta, factor = (np.ones((B, n_out), dt) for _ in range(4))
            below, factor_below = np.ones((B, n_in), dt), np.ones((B, n_in), dt)
            hidden = (factor,) if layer < len(sizes) - 1 else ()  # it keeps f'(z) in Fp{layer}
            calls = {
                f"_forward_tiles{layer}": (A, W, b, Z, A_out, *hidden, B),
                f"_weight_tiles{layer}": (delta, A, W.copy(), B),
                f"_backward_tiles{layer}": (delta, W, factor_below, below, B),
            }
            for function, args in calls.items():
                kernel = getattr(module, function, None)
                if kernel is None:
                    continue
                kernel(*args)
                text = kernel.inspect_asm(kernel.signatures[0])
                packed = re.findall(r"vfn?m(?:add|sub)\w*p[sd]\s[^\n]*", text)
                scalar = re.findall(r"vfn?m(?:add|sub)\w*s[sd]\s", text)
                width = [next((w for w in ("zmm", "ymm", "xmm") if w in x), "?") for x in packed]
                widths = {w: width.count(w) for w in ("zmm", "ymm", "xmm") if w in width}
                print(f"{name} {dtype} {function}: packed FMAs {widths or 0}, scalar {len(scalar)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", nargs="*", default=list(bench.WORKLOADS))
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--asm", action="store_true", help="count vector FMAs instead of timing")
    args = parser.parse_args()
    if args.asm:
        asm(args.workload, args.dtype)
    else:
        run(args.workload, args.dtype, args.repeats)


if __name__ == "__main__":
    main()
