"""``symbackprop bench``: generated training modules against PyTorch, JAX and NumPy.

Every implementation trains the same network on the same data from the same initial weights in
the same minibatch order (the generated module's ``init_params`` and ``minibatch_order``; the
module itself is timed through its public ``train``, which draws that order from the seed), so
their final losses must agree: the table shows that they do, so a fast but wrong kernel cannot
win.  Implementations alternate within one run; only the training call is timed, after a
warm-up (compile) call that is reported on its own.  Peers are optional and imported lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from ..errors import SymbackpropError
from ..spec.model import parameter_count
from ..util.fileio import OWNED_LIMIT, check_folder, read_prefix, stamp_text, write_output
from .cpu import AVX2_ENV
from .cpu import details as cpu_details

if TYPE_CHECKING:
    from ..spec.model import Spec

PEERS = ("torch", "jax", "numpy")
TOLERANCE = {"float64": 1e-9, "float32": 1e-3}
"""Largest relative difference of a peer's final loss from the generated module's."""
SEED = 0
SETTLE_S = 0.5
"""Pause before each timed run: PyTorch's OpenMP and XLA's worker threads spin-wait for a
while after their work, and on 2 cores that steals the next implementation's CPU. The pause
is a busy wait: after a sleep of this length the (virtual) core ran the next 0.2 s of training
at two thirds of its speed (xor: 4.6M samples/s after a sleep, 7.0M after a busy wait)."""
MIN_TIMED_S = 0.2
"""A timed attempt repeats the training back to back until it lasts at least this long (the
count is fixed per implementation after the warm-up, as ``timeit`` does): a run of a few
milliseconds right after the pause would otherwise be timed with the core still waking up."""
MAX_RUNS = 1000


@dataclass(frozen=True)
class Workload:
    """A network, its data and its SGD settings (the incomplete last batch is dropped)."""

    name: str
    layers: tuple[int, ...]
    activation: str
    output: str
    loss: str
    data: Callable[[], tuple[np.ndarray, np.ndarray]]
    batch_size: int
    epochs: int
    learning_rate: float


def _xor() -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([[0.0], [1.0], [1.0], [0.0]])


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[labels]


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data / 16.0, _one_hot(digits.target, 10)


def _deep_narrow() -> tuple[np.ndarray, np.ndarray]:
    """10000 x 16 Gaussian inputs; the target is a smooth function of two projections."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10000, 16))
    u, v = rng.standard_normal((2, 16)) / 4.0
    return X, (np.sin(X @ u) + 0.5 * np.tanh(X @ v)).reshape(-1, 1)


def _mnist_like() -> tuple[np.ndarray, np.ndarray]:
    """60000 x 784 uniform 'pixels', random labels: the shape and cost of MNIST, not its content."""
    rng = np.random.default_rng(2)
    return rng.random((60000, 784)), _one_hot(rng.integers(0, 10, 60000), 10)


WORKLOADS = {
    w.name: w
    for w in (
        Workload("xor", (2, 4, 1), "sigmoid", "sigmoid", "mse", _xor, 4, 10000, 0.5),
        Workload("digits", (64, 32, 10), "tanh", "softmax", "cross_entropy", _digits, 32, 20, 0.1),
        Workload("deep-narrow", (16, 64, 64, 64, 1), "relu", "identity", "mse", _deep_narrow,
                 16, 5, 0.01),
        Workload("mnist-like", (784, 128, 10), "sigmoid", "softmax", "cross_entropy", _mnist_like,
                 128, 2, 0.1),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """A workload made concrete: data, initial weights and sample order, all in one dtype."""

    workload: Workload
    dtype: str
    X: np.ndarray
    Y: np.ndarray
    init: tuple[np.ndarray, ...]
    order: np.ndarray

    @property
    def epochs(self) -> int:
        return self.order.shape[0]

    @property
    def batches(self) -> int:
        """Full batches per epoch."""
        return self.X.shape[0] // self.workload.batch_size

    @property
    def samples(self) -> int:
        """Samples processed by one training run."""
        return self.epochs * self.batches * self.workload.batch_size

    def batch_indices(self) -> np.ndarray:
        """The order as (epochs, batches, batch_size) sample indices."""
        bs = self.workload.batch_size
        return self.order[:, : self.batches * bs].reshape(self.epochs, self.batches, bs)


@dataclass
class Trainer:
    """One implementation: ``train`` runs the whole training from the initial weights."""

    name: str
    train: Callable[[], Any]
    loss: Callable[[Any], float]


class PeerMissing(Exception):
    """A peer's package is not installed."""


@dataclass
class Row:
    """One line of the results table."""

    workload: str
    dtype: str
    implementation: str
    status: str  # ok | absent | failed | disagrees
    note: str = ""
    samples_per_s: float | None = None
    rates: list[float] = field(default_factory=list)
    warmup_s: float | None = None
    runs: int = 1  # trainings back to back per timed attempt
    final_loss: float | None = None
    rel_diff: float | None = None
    ratio: float | None = None


def _spec(workload: Workload, dtype: str) -> Spec:
    """The workload's network as a spec, in ``dtype``."""
    from ..spec.model import parse_spec

    network = {
        "layers": list(workload.layers),
        "activation": workload.activation,
        "output": workload.output,
        "loss": workload.loss,
        "dtype": dtype,
    }
    return parse_spec({"name": "bench_" + workload.name.replace("-", "_"), "network": network})


def generated_module(workload: Workload, dtype: str, kernels: str = "fixed") -> ModuleType:
    """Derive, generate and import the workload's training module (``kernels`` fixed or tuned)."""
    from ..pipeline import derivation_of, load_module, render_module

    return load_module(render_module(derivation_of(_spec(workload, dtype)), kernels))


def fixed_plan(layers: tuple[int, ...]) -> list[str]:
    """A fixed module's kernels in the words of ``describe_plan``: BLAS from
    ``codegen.BLAS_MIN_MACS`` multiply-adds per sample, loops below, for all three products."""
    from ..codegen.module import BLAS_MIN_MACS

    lines = []
    for layer, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:], strict=True)):
        variant = "blas" if n_in * n_out >= BLAS_MIN_MACS else "loops"
        backward = variant if layer else "-"
        lines.append(
            f"layer {layer + 1} ({n_in}->{n_out}): "
            f"forward {variant}, backward {backward}, weights {variant}"
        )
    return lines


def _generated(problem: Problem, module: ModuleType) -> Trainer:
    """The generated module's public ``train``, as a user calls it: its argument checks, its
    own minibatch order (from SEED: the order every peer is given) and its divergence stop."""
    w = problem.workload

    def train() -> list[np.ndarray]:
        params = [p.copy() for p in problem.init]
        module.train(
            params, problem.X, problem.Y, problem.epochs, w.learning_rate, w.batch_size,
            seed=SEED, drop_last=True,
        )  # fmt: skip
        return params

    return Trainer("generated", train, lambda params: module.loss(params, problem.X, problem.Y))


def _numpy(problem: Problem) -> Trainer:
    """Plain vectorised NumPy backprop, written by hand."""
    w = problem.workload
    dtype = np.dtype(problem.dtype)
    depth = len(w.layers) - 1
    step = dtype.type(w.learning_rate / w.batch_size)

    def act(name: str, z: np.ndarray) -> np.ndarray:
        if name == "sigmoid":
            return 1 / (1 + np.exp(-z))
        if name == "tanh":
            return np.tanh(z)
        if name == "relu":
            return np.maximum(z, 0)
        if name == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return z

    def dact(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        if name == "sigmoid":
            return a * (1 - a)
        if name == "tanh":
            return 1 - a * a
        if name == "relu":
            return (z > 0).astype(dtype)
        return np.ones_like(z)

    def forward(params: list[np.ndarray], A: np.ndarray) -> tuple[list, list]:
        Zs, As = [], [A]
        for l in range(depth):
            Z = As[-1] @ params[2 * l].T + params[2 * l + 1]
            Zs.append(Z)
            As.append(act(w.activation if l < depth - 1 else w.output, Z))
        return Zs, As

    def train() -> list[np.ndarray]:
        params = [p.copy() for p in problem.init]
        for epoch in problem.batch_indices():
            for rows in epoch:
                Zs, As = forward(params, problem.X[rows])
                if w.loss == "cross_entropy":
                    delta = As[-1] - problem.Y[rows]
                else:
                    delta = (2 / w.layers[-1]) * (As[-1] - problem.Y[rows])
                    delta *= dact(w.output, Zs[-1], As[-1])
                for l in reversed(range(depth)):
                    dW, db = delta.T @ As[l], delta.sum(axis=0)
                    if l:
                        delta = (delta @ params[2 * l]) * dact(w.activation, Zs[l - 1], As[l])
                    params[2 * l] -= step * dW
                    params[2 * l + 1] -= step * db
        return params

    def loss(params: list[np.ndarray]) -> float:
        Zs, As = forward(params, problem.X)
        if w.loss == "cross_entropy":
            z = Zs[-1]
            m = z.max(axis=1, keepdims=True)
            lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
            return float(np.mean(lse - (problem.Y * z).sum(axis=1)))
        return float(np.mean((As[-1] - problem.Y) ** 2))

    return Trainer("numpy", train, loss)


def _torch(problem: Problem, threads: int) -> Trainer:
    """PyTorch eager on ``threads`` threads: nn.Sequential of nn.Linear and activations, SGD."""
    try:
        import torch
    except ImportError as exc:
        raise PeerMissing("not installed: pip install torch==2.13.0") from exc
    w = problem.workload
    activations = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    modules: list[Any] = []
    for l, (n_in, n_out) in enumerate(zip(w.layers[:-1], w.layers[1:])):
        modules.append(torch.nn.Linear(n_in, n_out))
        name = w.activation if l < len(w.layers) - 2 else w.output
        if name in activations:  # identity adds nothing; softmax is inside CrossEntropyLoss
            modules.append(activations[name]())
    model = torch.nn.Sequential(*modules).to(getattr(torch, problem.dtype))
    linears = [m for m in modules if isinstance(m, torch.nn.Linear)]
    X = torch.from_numpy(problem.X)
    if w.loss == "cross_entropy":
        Y, loss_fn = torch.from_numpy(problem.Y.argmax(axis=1)), torch.nn.CrossEntropyLoss()
    else:
        Y, loss_fn = torch.from_numpy(problem.Y), torch.nn.MSELoss()

    def train() -> Any:
        torch.set_num_threads(threads)
        with torch.no_grad():
            for i, linear in enumerate(linears):
                linear.weight.copy_(torch.from_numpy(problem.init[2 * i]))
                linear.bias.copy_(torch.from_numpy(problem.init[2 * i + 1]))
        optimizer = torch.optim.SGD(model.parameters(), lr=w.learning_rate)
        for epoch in torch.from_numpy(problem.batch_indices()):
            for rows in epoch:
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(X[rows]), Y[rows]).backward()
                optimizer.step()
        return model

    def loss(trained: Any) -> float:
        with torch.no_grad():
            return float(loss_fn(trained(X), Y))

    return Trainer(f"torch-{threads}t", train, loss)


def _jax(problem: Problem) -> list[Trainer]:
    """JAX: one epoch jitted as a ``lax.scan`` over batches, and the whole run as nested scans."""
    try:
        import jax
    except ImportError as exc:
        raise PeerMissing("not installed: pip install jax") from exc
    jax.config.update("jax_enable_x64", True)  # float32 arrays stay float32
    import jax.numpy as jnp

    w = problem.workload
    depth = len(w.layers) - 1
    act = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}

    def logits(params: list, A: Any) -> Any:
        for l in range(depth):
            A = A @ params[2 * l].T + params[2 * l + 1]
            if l < depth - 1:
                A = act[w.activation](A)
        return A

    def batch_loss(params: list, xb: Any, yb: Any) -> Any:
        z = logits(params, xb)
        if w.loss == "cross_entropy":
            return -jnp.mean(jnp.sum(yb * jax.nn.log_softmax(z), axis=1))
        return jnp.mean((act.get(w.output, lambda v: v)(z) - yb) ** 2)

    def epoch(params: list, X: Any, Y: Any, batches: Any) -> tuple[list, Any]:
        def step(params: list, rows: Any) -> tuple[list, Any]:
            value, grads = jax.value_and_grad(batch_loss)(params, X[rows], Y[rows])
            return [p - w.learning_rate * g for p, g in zip(params, grads)], value

        params, values = jax.lax.scan(step, params, batches)
        return params, jnp.sum(values)

    def whole(params: list, X: Any, Y: Any, order: Any) -> tuple[list, Any]:
        return jax.lax.scan(lambda p, batches: epoch(p, X, Y, batches), params, order)

    epoch_jit, whole_jit = jax.jit(epoch), jax.jit(whole)
    X, Y = jnp.asarray(problem.X), jnp.asarray(problem.Y)
    order = problem.batch_indices()

    def train_epochs() -> list:
        params = [jnp.asarray(p) for p in problem.init]
        for batches in order:
            params, _ = epoch_jit(params, X, Y, batches)
        return jax.block_until_ready(params)

    def train_whole() -> list:
        params, _ = whole_jit([jnp.asarray(p) for p in problem.init], X, Y, order)
        return jax.block_until_ready(params)

    def loss(params: list) -> float:
        return float(batch_loss(params, X, Y))

    trainers = [Trainer("jax-epoch", train_epochs, loss), Trainer("jax-run", train_whole, loss)]
    if (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity"):
        trainers.append(Trainer("jax-run-1c", _on_one_core(train_whole), loss))
    return trainers


def _on_one_core(train: Callable[[], Any]) -> Callable[[], Any]:
    """``train`` with every thread of this process (XLA's pool included) pinned to one CPU.

    Afterwards each thread gets its mask back; threads started meanwhile (pinned by
    inheritance) get this thread's, so that later runs of the other peers are not pinned.
    """

    def threads() -> list[int]:
        return [int(tid) for tid in os.listdir("/proc/self/task")]

    def pinned() -> Any:
        before = os.sched_getaffinity(0)
        saved = {}
        for tid in threads():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                saved[tid] = os.sched_getaffinity(tid)
        try:
            for tid in saved:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(tid, {min(before)})
            return train()
        finally:
            for tid in threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(tid, saved.get(tid, before))

    return pinned


PEER_BUILDERS: dict[str, Callable[[Problem], list[Trainer]]] = {
    # On a small shared machine, PyTorch's intra-op threads can hurt more than help: time both.
    "torch": lambda p: [_torch(p, t) for t in dict.fromkeys((os.cpu_count() or 1, 1))],
    "jax": _jax,
    "numpy": lambda p: [_numpy(p)],
}


def _problem(workload: Workload, dtype: str, module: Any, epochs: int | None) -> Problem:
    X, Y = workload.data()
    order = module.minibatch_order(X.shape[0], epochs or workload.epochs, SEED)
    return Problem(
        workload,
        dtype,
        np.ascontiguousarray(X, dtype=dtype),
        np.ascontiguousarray(Y, dtype=dtype),
        tuple(module.init_params(SEED)),
        np.ascontiguousarray(order, dtype=np.int64),
    )


def _settle(seconds: float) -> None:
    """Wait ``seconds`` keeping this core busy (see SETTLE_S)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def bench_workload(
    workload: Workload,
    dtype: str,
    peers: list[str],
    repeats: int,
    epochs: int | None = None,
    log: TextIO | None = None,
    kernels: str = "fixed",
) -> tuple[list[Row], Any]:
    """Rows for one workload (the generated module's first) and the generated module, if any."""

    def say(text: str) -> None:
        if log is not None:
            print(f"[bench] {workload.name} {dtype}: {text}", file=log, flush=True)

    row = Row(workload.name, dtype, "generated", "ok")
    try:
        say("deriving and generating")
        module = generated_module(workload, dtype, kernels)
        problem = _problem(workload, dtype, module, epochs)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        row.status, row.note = "failed", _short(exc)
        note = "skipped: no generated module"
        return [row, *(Row(workload.name, dtype, p, "failed", note) for p in peers)], None
    rows = {"generated": row}
    trainers = [_generated(problem, module), *_peer_trainers(problem, peers, rows, row)]

    results: dict[str, Any] = {}
    times: dict[str, list[float]] = {t.name: [] for t in trainers}

    def attempt(trainer: Trainer) -> float | None:
        """Seconds per training, over ``runs`` trainings back to back."""
        runs = rows[trainer.name].runs
        _settle(SETTLE_S)  # let the previous implementation's worker threads stop spinning
        try:
            start = time.perf_counter()
            for _ in range(runs):
                results[trainer.name] = trainer.train()
            return (time.perf_counter() - start) / runs
        except Exception as exc:  # noqa: BLE001
            rows[trainer.name].status, rows[trainer.name].note = "failed", _short(exc)
            return None

    for trainer in trainers:
        say(f"warm-up {trainer.name}")
        timing = rows[trainer.name]
        timing.warmup_s = attempt(trainer)
        if timing.warmup_s is not None and (once := attempt(trainer)) is not None:
            timing.runs = min(MAX_RUNS, max(1, math.ceil(MIN_TIMED_S / max(once, 1e-9))))
    for repeat in range(repeats):
        say(f"repetition {repeat + 1}/{repeats}")
        for trainer in trainers:
            if rows[trainer.name].status == "ok" and (seconds := attempt(trainer)) is not None:
                times[trainer.name].append(seconds)

    _summarize(problem, trainers, rows, times, results)
    return list(rows.values()), module


def _peer_trainers(
    problem: Problem, peers: list[str], rows: dict[str, Row], base: Row
) -> list[Trainer]:
    """The peers' trainers for ``problem``; a row in ``rows`` for each (absent, failed or ok)."""
    trainers = []
    for peer in peers:
        try:
            built = PEER_BUILDERS[peer](problem)
        except PeerMissing as exc:
            rows[peer] = Row(base.workload, base.dtype, peer, "absent", str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - reported in the table
            rows[peer] = Row(base.workload, base.dtype, peer, "failed", _short(exc))
            continue
        for trainer in built:
            trainers.append(trainer)
            rows[trainer.name] = Row(base.workload, base.dtype, trainer.name, "ok")
    return trainers


def _summarize(
    problem: Problem,
    trainers: list[Trainer],
    rows: dict[str, Row],
    times: dict[str, list[float]],
    results: dict[str, Any],
) -> None:
    """Fill each row's rates, final loss and ratio to the generated module (its first row)."""
    for trainer in trainers:
        r = rows[trainer.name]
        if r.status != "ok" or not times[trainer.name]:
            continue
        r.rates = [problem.samples / t for t in times[trainer.name]]
        r.samples_per_s = statistics.median(r.rates)
        try:
            r.final_loss = float(trainer.loss(results[trainer.name]))
        except Exception as exc:  # noqa: BLE001
            r.status, r.note = "failed", "loss: " + _short(exc)
    base = rows["generated"]
    if base.status != "ok":
        return
    tolerance = TOLERANCE[base.dtype]
    for r in rows.values():
        if r.status != "ok":
            continue
        r.ratio = base.samples_per_s / r.samples_per_s
        r.rel_diff = abs(r.final_loss - base.final_loss) / max(abs(base.final_loss), 1e-300)
        if not r.rel_diff <= tolerance:
            r.status = "disagrees"
            r.note = f"final loss differs by more than {tolerance:g}"


_COLD_START = """\
import time
start = time.perf_counter()
import importlib, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
m = importlib.import_module(sys.argv[2])
batch = int(sys.argv[3])
rng = np.random.default_rng(0)
X = rng.random((8 * batch, m.LAYERS[0]))
Y = np.eye(m.LAYERS[-1])[rng.integers(0, m.LAYERS[-1], 8 * batch)]
params = m.init_params(0)
m.train_with_order(params, X, Y, m.minibatch_order(8 * batch, 1), 0.01, batch, True)
hits = getattr(getattr(m, "_train", None), "stats", None)
print(time.perf_counter() - start, bool(hits and sum(hits.cache_hits.values())), flush=True)
"""


def cold_start(module: Any, batch_size: int) -> dict[str, Any]:
    """A fresh process imports ``module`` by name and trains one epoch (8 batches); run twice.

    Returns the second run's seconds from process start (as the parent saw it) to the epoch's end.
    """
    folder, name = str(Path(module.__file__).parent), module.__name__
    command = [sys.executable, "-c", _COLD_START, folder, name, str(batch_size)]
    record: dict[str, Any] = {}
    for attempt in ("first", "second"):
        start = time.perf_counter()
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as p:
            line = p.stdout.readline() if p.stdout else ""
            seconds = time.perf_counter() - start
            _, err = p.communicate(timeout=600)
        if p.returncode or not line:
            return {"error": (err.strip().splitlines() or ["no output"])[-1]}
        inside, hit = line.split()
        record[attempt] = seconds
        record.update(seconds=seconds, in_process_s=float(inside), cache_hit=hit == "True")
    return record


def gemm_gflops(dtype: str, size: int = 1024, repeats: int = 5) -> float:
    """The machine's matrix product rate: best of ``repeats`` numpy size^3 products."""
    rng = np.random.default_rng(0)
    a, b = rng.random((2, size, size)).astype(dtype)
    a @ b
    best = min(_timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def machine() -> dict[str, Any]:
    """CPU, cores and library versions, for the results file."""
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    flags = next((line.split() for line in lines if line.startswith("flags")), [])
    simd = next((f.upper() for f in ("avx512f", "avx2", "avx") if f in flags), "")
    cpu = (names[0] if names else cpu) + (f" ({simd.replace('512F', '-512')})" if simd else "")
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}
    for package in ("numpy", "numba", "torch", "jax", "scipy"):
        try:
            from importlib.metadata import version

            info[package] = version(package)
        except Exception:  # noqa: BLE001
            info[package] = "not installed"
    info.update(cpu_details())
    return info


def run_benchmark(
    names: list[str],
    dtype: str,
    peers: list[str],
    repeats: int,
    epochs: int | None = None,
    cold: bool = True,
    log: TextIO | None = None,
    kernels: str = "fixed",
) -> dict[str, Any]:
    """Benchmark the named workloads; the result is the JSON record of the run.

    ``epochs`` overrides every workload's epochs (for tests); ``cold=False`` skips cold starts.
    """
    load_before = os.getloadavg()[0]  # others' work: the benchmark itself keeps 2 cores busy
    gemm = gemm_gflops(dtype)
    rows: list[Row] = []
    cold_starts: dict[str, Any] = {}
    flops: dict[str, Any] = {}
    plans: dict[str, list[str]] = {}
    for name in names:
        workload = WORKLOADS[name]
        new, module = bench_workload(workload, dtype, peers, repeats, epochs, log, kernels)
        rows += new
        generated = new[0]
        chosen = getattr(module, "CHOSEN", {}).get(workload.batch_size)
        if chosen is not None:
            plans[name] = module.describe_plan(chosen)
        elif module is not None and not hasattr(module, "CHOSEN"):
            plans[name] = fixed_plan(workload.layers)
        if generated.samples_per_s is not None:
            rate = 6 * parameter_count(workload.layers) * generated.samples_per_s / 1e9
            flops[name] = {"gflops": rate, "share_of_gemm": rate / gemm}
        if cold and module is not None:
            if log is not None:
                print(f"[bench] {name} {dtype}: cold start", file=log, flush=True)
            cold_starts[name] = cold_start(module, workload.batch_size)
    return {
        "dtype": dtype,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "repeats": repeats,
        "load_average": load_before,
        "gemm_gflops": gemm,
        "flops": flops,
        "cold_start": cold_starts,
        "kernels": plans,
        "kernel_variants": kernels,
        "rows": [asdict(r) for r in rows],
    }


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def format_run(run: dict[str, Any]) -> str:
    """The run as Markdown: the table, then the GEMM share and the cold starts."""
    lines = [
        "| workload | dtype | implementation | samples/s (median) | warm-up s | final loss "
        "| rel. diff vs generated | generated/peer |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in run["rows"]:
        diff = _num(r["rel_diff"], ".1e")
        if r["status"] == "disagrees":
            diff = f"**{diff} DISAGREES**"
        name = r["implementation"] + (" **FAILED**" if r["status"] == "failed" else "")
        if r["note"]:
            name += " (" + r["note"].replace("|", "/") + ")"
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['workload']} | {r['dtype']} | {name} | {_num(r['samples_per_s'], ',.0f')} "
            f"| {_num(r['warmup_s'], '.2f')} | {_num(r['final_loss'], '.12g')} | {diff} | {ratio} |"
        )
    lines.append("")
    lines.append(f"Machine {run['dtype']} GEMM (numpy 1024^3): {run['gemm_gflops']:.1f} GFLOP/s.")
    for name, f in run["flops"].items():
        lines.append(
            f"Generated {name} ({run['dtype']}): {f['gflops']:.1f} GFLOP/s "
            f"(6 x params x samples/s) = {100 * f['share_of_gemm']:.0f}% of GEMM."
        )
    for name, c in run["cold_start"].items():
        if "error" in c:
            lines.append(f"Cold start {name}: **FAILED** ({c['error']}).")
        else:
            lines.append(
                f"Cold start {name} (second process: start to first epoch done): "
                f"{c['seconds']:.2f} s (first process {c['first']:.2f} s; "
                f"Numba cache hit: {'yes' if c['cache_hit'] else 'no'})."
            )
    m = run["machine"]
    if "isa" in m:
        blas = m["blas"]
        lines.append(
            f"CPU {m['cpu_model']}: ISA {m['isa'] or 'unknown'}, code paths {m['isa_setting']} "
            f"(Numba target {m['numba_cpu']}); BLAS {blas.get('library', '?')} "
            f"{blas.get('version', '')} core type {blas.get('coretype') or '?'}, "
            f"{blas.get('threads', '?')} threads; {m['threads']} CPUs."
        )
    for name, plan in run.get("kernels", {}).items():
        how = run.get("kernel_variants", "tuned")
        lines.append(
            f"Kernels {name} ({how}; variant per layer and product): " + "; ".join(plan) + "."
        )
    return "\n".join(lines)


def speedups(run: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per workload: the generated module's speedup over torch, the best JAX and numpy."""
    result: dict[str, dict[str, float]] = {}
    for r in run["rows"]:
        if r["ratio"] is None or r["implementation"] == "generated":
            continue
        peer = r["implementation"].split("-")[0]  # jax-epoch, jax-run(-1c) count as jax
        per = result.setdefault(r["workload"], {})
        per[peer] = min(per.get(peer, float("inf")), r["ratio"])
    return result


def write_chart(runs: dict[str, dict[str, Any]], path: Path, force: bool = False) -> str | None:
    """A bar chart of the speedups; returns why it was skipped, or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart"
    groups = [(f"{w}\n{d}", s) for d, run in runs.items() for w, s in speedups(run).items()]
    if not groups:
        return "no speedups to chart"
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4.5))
    width = 0.8 / len(PEERS)
    for i, peer in enumerate(PEERS):
        xs = [g + (i - 1) * width for g, (_, s) in enumerate(groups) if peer in s]
        ys = [s[peer] for _, s in groups if peer in s]
        label = f"vs {peer}" + (" (best of its scans)" if peer == "jax" else "")
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, labels=[f"{y:.3g}x" for y in ys], fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), [label for label, _ in groups])
    ax.set_ylabel("speedup of the generated module (samples/s ratio)")
    ax.set_title("symbackprop generated training modules vs peers (same-run medians)")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_output(path, buffer.getvalue(), force=force, sidecar=True)
    return None


RESULT_FILES = ("results.json", "results.md", "speedup.png")


def fresh_results_folder() -> Path:
    """A new folder ``bench-<UTC time>`` in the current folder (never committed results)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder = Path(f"bench-{stamp}")
    number = 1
    while folder.exists():
        number += 1
        folder = Path(f"bench-{stamp}-{number}")
    return folder


def write_results(run: dict[str, Any], folder: Path, force: bool = False) -> list[str]:
    """Merge the run into results.json (one record per dtype); rewrite results.md and the chart.

    Each file follows the overwrite rule of ``fileio`` (``force`` to replace foreign files).
    """
    check_folder(folder, RESULT_FILES, force)
    json_path = folder / "results.json"
    runs: dict[str, Any] = {}
    earlier = read_prefix(json_path, OWNED_LIMIT)  # never a FIFO or link, never more than 16 MiB
    if earlier is not None and len(earlier) <= OWNED_LIMIT:
        try:
            runs = json.loads(earlier).get("runs", {})
        except (ValueError, AttributeError, RecursionError):
            runs = {}
    runs[run["dtype"]] = run
    runs = {d: runs[d] for d in ("float64", "float32") if d in runs}
    text = json.dumps({"runs": runs}, indent=1) + "\n"
    write_output(json_path, text.encode(), force=force, sidecar=True)
    notes = [n for n in [write_chart(runs, folder / "speedup.png", force)] if n]
    parts = [
        "# Benchmark results",
        "",
        "`symbackprop bench` (see `symbackprop/tools/bench.py`). Only ratios from one run mean "
        "anything: the machine is shared.",
        "",
        "| workload | network | loss | batch | epochs | learning rate |",
        "|---|---|---|---:|---:|---:|",
    ]
    for w in WORKLOADS.values():
        network = f"{'-'.join(map(str, w.layers))} {w.activation}, {w.output} output"
        parts.append(
            f"| {w.name} | {network} | {w.loss} | {w.batch_size} | {w.epochs} | {w.learning_rate} |"
        )
    parts += [
        "",
        "All: SGD on the same data, initial weights and minibatch order; the incomplete "
        "last batch is dropped. torch-Nt: PyTorch eager on N threads; jax-epoch: one jitted "
        "`lax.scan` per epoch; jax-run: the whole run in one scan; jax-run-1c: the same with every "
        "thread pinned to one core. Each timed attempt repeats a training back to back until it "
        f"lasts at least {MIN_TIMED_S:g} s (results.json: `runs`). generated/peer > 1: the "
        "generated module is faster.",
        "",
    ]
    for dtype, r in runs.items():
        m = r["machine"]
        versions = ", ".join(f"{k} {m[k]}" for k in ("python", "numpy", "numba", "torch", "jax"))
        parts += [
            f"## {dtype} (run {r['date']}, {r['repeats']} repetitions)",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores; {versions}; 1-minute load average "
            f"{r['load_average']:.2f} when the run started.",
            "",
            format_run(r),
            "",
        ]
    parts += ["![speedups](speedup.png)" if not notes else f"_{notes[0]}_", ""]
    write_output(folder / "results.md", stamp_text("\n".join(parts), "markdown"), force=force)
    return notes


def _under_avx2() -> bool:
    return all(os.environ.get(name) == value for name, value in AVX2_ENV.items())


def _rerun_avx2(
    args: argparse.Namespace, names: list[str], peers: list[str], folder: Path, out: TextIO
) -> int:
    """``bench`` again in a child process limited to AVX2 code (``cpu.AVX2_ENV``).

    The child gets its own Numba cache folder: code compiled for the host's ISA is not reused.
    """
    from ..pipeline import cache_dir

    env = dict(os.environ, **AVX2_ENV)
    env["NUMBA_CACHE_DIR"] = str(cache_dir().parent / "numba-avx2")
    command = [sys.executable, "-m", "symbackprop", "bench", "--isa", "avx2"]
    command += ["--workload", *names, "--dtype", args.dtype, "--peers", ",".join(peers)]
    command += ["--repeats", str(args.repeats), "--output", str(folder)]
    command += ["--kernels", getattr(args, "kernels", "fixed")]
    command += ["--force"] if getattr(args, "force", False) else []
    print("re-running under " + " ".join(f"{k}={v}" for k, v in AVX2_ENV.items()), file=out)
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    out.write(done.stdout)
    return done.returncode


def _choose(names: list[str] | None, peers: str, repeats: int) -> tuple[list[str], list[str]]:
    chosen = list(names) if names else list(WORKLOADS)
    for name in chosen:
        if name not in WORKLOADS:
            raise SymbackpropError(
                f"unknown workload '{name}' (known: {', '.join(WORKLOADS)})", "--workload"
            )
    wanted = [p.strip() for p in peers.split(",") if p.strip()]
    for peer in wanted:
        if peer not in PEERS:
            raise SymbackpropError(f"unknown peer '{peer}' (known: {', '.join(PEERS)})", "--peers")
    if repeats < 1:
        raise SymbackpropError("must be >= 1", "--repeats")
    return list(dict.fromkeys(chosen)), list(dict.fromkeys(wanted))


def main(args: argparse.Namespace, out: TextIO) -> int:
    """The ``bench`` command: 0 when every implementation that ran agrees with the generated one."""
    names, peers = _choose(args.workload, args.peers, args.repeats)
    force = getattr(args, "force", False)
    folder = args.output if args.output is not None else fresh_results_folder()
    check_folder(folder, RESULT_FILES, force)  # before the benchmark, not after it
    if getattr(args, "isa", "native") == "avx2" and not _under_avx2():
        return _rerun_avx2(args, names, peers, folder, out)
    kernels = getattr(args, "kernels", "fixed")
    run = run_benchmark(names, args.dtype, peers, args.repeats, log=sys.stderr, kernels=kernels)
    print(format_run(run), file=out)
    for note in write_results(run, folder, force):
        print(note, file=out)
    print(f"wrote {folder / 'results.md'} and {folder / 'results.json'}", file=out)
    bad = [r for r in run["rows"] if r["status"] in ("failed", "disagrees")]
    bad += [c for c in run["cold_start"].values() if "error" in c]
    return 1 if bad else 0
