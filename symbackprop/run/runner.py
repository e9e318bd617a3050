"""The runner: train a spec's generated module on its data and report, with progress.

The kernel is called in chunks of epochs sized to take about ``CHUNK_SECONDS`` each, so the
progress display updates and Ctrl-C is honoured within a second while small networks still run
thousands of epochs per call. Compilation is timed apart from training, so the samples/s
reported is kernel throughput, comparable to ``symbackprop bench``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from ..errors import SymbackpropError, TrainingDiverged
from ..spec.model import Spec
from .data import Dataset, load_data

if TYPE_CHECKING:
    from .compiling import Helper

CHUNK_SECONDS = 0.25
"""Target wall time of one kernel call."""

ACCURACY_SAMPLES = 4096
"""The progress line's training accuracy is measured on at most this many training samples."""


@dataclass
class History:
    """Per-epoch curves of a run (``epoch`` counts from 1)."""

    loss: list[float] = field(default_factory=list)
    """Mean per-sample loss of each epoch's minibatches, each measured before its update."""
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    accuracy_epoch: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    """Training accuracy at the epochs in ``accuracy_epoch`` (the progress updates)."""

    def as_dict(self) -> dict[str, list[float] | list[int]]:
        """Plain lists by name (for JSON)."""
        return {
            "loss": list(self.loss),
            "val_loss": list(self.val_loss),
            "val_accuracy": list(self.val_accuracy),
            "accuracy_epoch": list(self.accuracy_epoch),
            "accuracy": list(self.accuracy),
        }


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced."""

    losses: np.ndarray
    train_loss: float
    test_loss: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    """Time spent in the training kernel (compilation excluded)."""
    samples_per_second: float
    """Samples through the training kernel per second of ``seconds``."""
    epochs: int = 0
    """Epochs actually run."""
    compile_seconds: float = 0.0
    val_loss: float | None = None
    val_accuracy: float | None = None
    best_epoch: int | None = None
    """With early stopping: the epoch whose weights were kept."""
    stopped_early: bool = False
    interrupted: bool = False
    history: History = field(default_factory=History)


@dataclass(frozen=True)
class Prepared:
    """The arrays a run trains and measures on: the splits, inputs standardised if asked."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    classification: bool
    extras: dict[str, np.ndarray]
    """Arrays saved beside the weights (``x_mean``, ``x_std`` when standardising; ``classes``,
    the class names, when the labels were strings)."""


def prepare(spec: Spec, data: Dataset, dtype: type = np.float64) -> Prepared:
    """Split off the validation share of the training split and standardise with its statistics.

    The validation split is drawn from ``seed`` on its own stream, so it does not change the
    test split; mean and std come from the (remaining) training samples only.
    """
    X, Y = data.X_train, data.Y_train
    X_val, Y_val = X[:0], Y[:0]
    fraction = spec.data.validation_fraction
    if fraction > 0:
        n = X.shape[0]
        n_val = math.ceil(n * fraction)
        if n_val >= n:
            from ..errors import DataError

            raise DataError(
                f"validation_fraction {fraction} leaves no training samples", spec.source
            )
        order = np.random.default_rng([spec.training.seed, 1]).permutation(n)
        X_val, Y_val = X[order[:n_val]], Y[order[:n_val]]
        X, Y = X[order[n_val:]], Y[order[n_val:]]
    X_test, Y_test = data.X_test, data.Y_test
    extras: dict[str, np.ndarray] = {}
    if spec.data.standardize:
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        extras = {"x_mean": mean, "x_std": std}
        X, X_val, X_test = (standardize(a, extras) for a in (X, X_val, X_test))
    if data.classes is not None:
        extras["classes"] = np.array(data.classes)  # string labels: saved, used by predict

    def c(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=dtype)

    return Prepared(
        c(X), c(Y), c(X_val), c(Y_val), c(X_test), c(Y_test), data.classification, extras
    )


def standardize(X: np.ndarray, extras: dict[str, np.ndarray]) -> np.ndarray:
    """``(X - x_mean) / x_std`` when the extras hold them, else X."""
    if "x_mean" in extras and "x_std" in extras:
        return (X - extras["x_mean"]) / extras["x_std"]
    return X


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """A classifier's class per row (``spec.is_classifier``): the argmax of several outputs, or
    1 where a single output is >= 0.5. The generated module's ``predict`` prints the same rule."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(outputs, axis=1)


def accuracy(module: ModuleType, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """Share of samples classified right (``predicted_classes`` of the outputs and targets)."""
    return float(np.mean(predicted_classes(module.forward(params, X)) == predicted_classes(Y)))


def _duration(seconds: float) -> str:
    if seconds < 0.1:
        return "<0.1 s"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _rate(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


class Progress:
    """Epoch, loss, accuracy, samples/s and ETA: redrawn in place on a terminal (``\\r``),
    otherwise one plain line at each tenth of the run and at its end."""

    def __init__(
        self, out: TextIO | None, epochs: int, samples: int, tty: bool | None = None
    ) -> None:
        self.out = out
        self.epochs = epochs
        self.samples = samples
        self.tty = bool(tty if tty is not None else out is not None and _isatty(out))
        self.width = len(str(epochs))
        self.next_line = 1
        self.last_draw = -math.inf
        self.drawn = 0

    def due(self, epoch: int, final: bool = False) -> bool:
        """Whether an update at ``epoch`` would be shown (so its accuracy is worth measuring)."""
        if self.out is None:
            return False
        if final:
            return True
        if self.tty:
            return time.perf_counter() - self.last_draw >= 0.1
        return epoch >= self.next_line * self.epochs / 10

    def update(
        self,
        epoch: int,
        loss: float,
        seconds: float,
        accuracy: float | None = None,
        val_loss: float | None = None,
        val_accuracy: float | None = None,
        final: bool = False,
    ) -> None:
        """Show the state after ``epoch`` epochs and ``seconds`` of kernel time, if due."""
        if not self.due(epoch, final):
            return
        assert self.out is not None
        rate = epoch * self.samples / seconds if seconds > 0 else math.inf
        # the mean of the epoch's batch losses, each before its step (what the kernel returns);
        # the report's "final training loss" is the trained weights' loss on every sample
        parts = [f"  epoch {epoch:>{self.width}}/{self.epochs}", f"batch-mean loss {loss:.6g}"]
        if accuracy is not None:
            parts.append(f"acc {100 * accuracy:.1f}%")
        if val_loss is not None:
            parts.append(f"val_loss {val_loss:.6g}")
        if val_accuracy is not None:
            parts.append(f"val_acc {100 * val_accuracy:.1f}%")
        parts.append(f"{_rate(rate)} samples/s")
        if epoch < self.epochs and epoch > 0:
            parts.append(f"ETA {_duration(seconds / epoch * (self.epochs - epoch))}")
        line = "  ".join(parts)
        if self.tty:
            pad = max(0, self.drawn - len(line))
            self.out.write("\r" + line + " " * pad)
            self.drawn = len(line)
        else:
            self.out.write(line + "\n")
            while self.next_line * self.epochs / 10 <= epoch:
                self.next_line += 1
        self.out.flush()
        self.last_draw = time.perf_counter()

    def close(self) -> None:
        """End the redrawn line."""
        if self.out is not None and self.tty and self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = 0


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def interruptible() -> Iterator[Callable[[], bool]]:
    """While inside (in the main thread), Ctrl-C sets a flag (training checks it between kernel
    calls) instead of raising; a second Ctrl-C raises KeyboardInterrupt at once. Yields the
    flag's reader."""
    state = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: state["stop"]
        return

    def handler(signum: int, frame: Any) -> None:  # noqa: ANN401
        if state["stop"]:
            raise KeyboardInterrupt
        state["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: state["stop"]
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def exit_on_ctrl_c(line: str | None) -> Iterator[None]:
    """While inside (the main thread of a command, before any result exists), Ctrl-C prints
    ``line`` and ends the process at once with status 130, even inside a long C call (an LLVM
    compile holds the interpreter for seconds: a KeyboardInterrupt would come after it). The
    signal's byte reaches a watching thread through the wakeup fd. ``line`` None: no effect."""
    if line is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            received = os.read(read_end, 64)
            if signal.SIGINT in received and not done.is_set():
                sys.stdout.flush()
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
                os._exit(130)

    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, name="symbackprop-ctrl-c", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        signal.set_wakeup_fd(previous)
        os.write(write_end, b"\0")  # wake the watcher so that it ends
        watcher.join()
        os.close(read_end)
        os.close(write_end)


CHECK_ROWS = 32
"""Rows of the first batch on which the gradients of a spec with its own functions are checked."""


def check_functions(
    spec: Spec, module: ModuleType, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray
) -> None:
    """The spec's own functions checked on one batch, in float64: a float32 module is checked
    through its float64 twin (finite differences cannot resolve float32 losses, and a step
    large enough for them crosses ReLU-like kinks), as ``symbackprop check`` does."""
    if module.DTYPE == np.float32:
        from ..pipeline import float64_module

        module = float64_module(spec)
        params = [p.astype(np.float64) for p in params]
        X, Y = X.astype(np.float64), Y.astype(np.float64)
    ensure_gradients_agree(module, params, X, Y, spec.source)


def ensure_gradients_agree(
    module: ModuleType, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray, where: str
) -> None:
    """Refuse to train when the generated gradients disagree with finite differences of the
    generated loss along random directions (a written function SymPy or the printer got wrong)."""
    from .gradcheck import worst_direction  # training only: predict and evaluate import neither

    with np.errstate(all="ignore"):  # a NaN is reported below in one line, not as a warning
        bad = worst_direction(module, params, X, Y)
    if bad is not None and not np.isfinite([bad.analytic, bad.numeric]).all():
        raise SymbackpropError(
            f"the loss or the gradient of {bad.name} is not finite on the first batch "
            f"({bad.analytic:.6g} vs {bad.numeric:.6g}): a function of the spec is undefined "
            "or overflows there (log or sqrt of a negative value, exp of a large one?); not "
            "training",
            where,
        )
    if bad is not None:
        raise SymbackpropError(
            f"the generated gradient of {bad.name} disagrees with finite differences of the loss "
            f"on the first batch (along a random direction: {bad.analytic:.6g} vs "
            f"{bad.numeric:.6g}); not training. Run `symbackprop check` on this spec",
            where,
        )


def train(
    spec: Spec,
    module: ModuleType,
    data: Dataset,
    out: TextIO | None = sys.stdout,
    reports: int = 10,
    epochs: int | None = None,
    params: list[np.ndarray] | None = None,
    prepared: Prepared | None = None,
    tty: bool | None = None,
    compile_interrupt: str | None = None,
    helper: Helper | None = None,
) -> tuple[list[np.ndarray], TrainingResult]:
    """Train from ``params`` (default ``init_params(seed)``) with the spec's settings.

    The sample order is drawn from one generator for the whole run, so however the epochs are
    split into kernel calls the result equals ``module.train`` with the same seed. With a
    validation split the validation loss is measured after every epoch; with ``patience`` the
    run stops after that many epochs without a lower one and keeps the best epoch's weights.
    Ctrl-C stops after the current kernel call (``interrupted`` in the result), weights kept.
    ``reports`` is kept for compatibility; progress lines come at tenths of the run.
    ``compile_interrupt``: a command's line for Ctrl-C while the kernels compile, which then
    ends the process at once (``exit_on_ctrl_c``); None (the API): Ctrl-C waits for the compile.
    ``helper``: a process (``compiling.helping``), given the module's file, that compiles
    training while this one compiles the backward pass (which the helper's training kernel
    then loads from Numba's cache) and inference.
    """
    from .compiling import BACKWARD, INFER, TRAIN, compile_parts
    from .limits import forced_kernel  # training only: predict and evaluate import neither

    settings = spec.training
    epochs = epochs or settings.epochs
    forced_kernel(module)  # a malformed $SYMBACKPROP_KERNEL: one line, before any kernel call
    prepared = prepared or prepare(spec, data, module.DTYPE)
    params = [p.copy() for p in params] if params is not None else module.init_params(settings.seed)
    X, Y = prepared.X_train, prepared.Y_train
    n = X.shape[0]
    if spec.functions:  # written in the spec: checked before training (a compile too)
        with exit_on_ctrl_c(compile_interrupt):
            check_functions(spec, module, params, X[:CHECK_ROWS], Y[:CHECK_ROWS])

    # an optimizer with state (moments, step and epoch counters) carries it across the chunks
    stateful = hasattr(module, "init_state")
    run_state = module.init_state(params) if stateful else None

    def kernel(
        ps: list[np.ndarray],
        order: np.ndarray,
        X: np.ndarray = X,
        Y: np.ndarray = Y,
        state: object = run_state,
    ) -> np.ndarray:
        extra = {"state": state} if stateful else {}
        return module.train_with_order(
            ps, X, Y, order, settings.learning_rate, settings.batch_size, settings.drop_last,
            **extra,
        )  # fmt: skip

    with interruptible() as stop_requested:
        start = time.perf_counter()
        # compile: one batch on copies (same argument types as the run, negligible work)
        m = min(n, settings.batch_size)
        copies = [p.copy() for p in params]
        warm_state = module.init_state(copies) if stateful else None
        first = functools.partial(kernel, X=X[:m], Y=Y[:m], state=warm_state)
        parts = {
            TRAIN: lambda: _chunk_losses(first, copies, np.arange(m)[None, :], 0),  # exit 3
            BACKWARD: module.compile_backward,  # done with TRAIN, unless taken
            INFER: lambda: module.loss(params, X[:1], Y[:1]),
        }
        if helper is not None:  # the helper compiles training, loading this backward pass
            parts = {part: parts[part] for part in (BACKWARD, INFER, TRAIN)}
        with exit_on_ctrl_c(compile_interrupt):
            compile_parts(module, parts)
        compile_seconds = time.perf_counter() - start
        return _loop(
            spec, module, prepared, params, epochs, out, tty, kernel, stop_requested,
            compile_seconds,
        )  # fmt: skip


def _loop(
    spec: Spec,
    module: ModuleType,
    prepared: Prepared,
    params: list[np.ndarray],
    epochs: int,
    out: TextIO | None,
    tty: bool | None,
    kernel: Callable[[list[np.ndarray], np.ndarray], np.ndarray],
    stop_requested: Callable[[], bool],
    compile_seconds: float,
) -> tuple[list[np.ndarray], TrainingResult]:
    """The epochs of ``train``, in time-bounded kernel calls."""
    from .limits import ORDER_CHUNK

    settings = spec.training
    X, Y = prepared.X_train, prepared.Y_train
    validating = prepared.X_val.shape[0] > 0
    patience = settings.patience if validating else None
    classification = prepared.classification
    n = X.shape[0]
    check_X, check_Y = X[:ACCURACY_SAMPLES], Y[:ACCURACY_SAMPLES]
    history = History()
    progress = Progress(out, epochs, n, tty)
    rng = np.random.default_rng(settings.seed)
    done, count, seconds = 0, 1, 0.0
    best = (math.inf, 0, params)
    since_best = 0
    stopped_early = interrupted = False
    chunks: list[np.ndarray] = []
    while done < epochs:
        if stop_requested():
            interrupted = True
            break
        count = 1 if validating else max(1, min(count, epochs - done, ORDER_CHUNK // n))
        order = module.epoch_orders(rng, count, n)  # the module's own order, as its train's
        tick = time.perf_counter()
        before = float(chunks[-1][-1]) if chunks else math.nan  # the last epoch's mean loss
        losses = _chunk_losses(kernel, params, order, done, before)
        elapsed = time.perf_counter() - tick
        seconds += elapsed
        done += count
        chunks.append(losses)
        val_loss = val_acc = None
        if validating:
            val_loss, val_acc = _validation(module, params, prepared, history)
            if val_loss < best[0]:
                best = (val_loss, done, [p.copy() for p in params])
                since_best = 0
            else:
                since_best += 1
                stopped_early = patience is not None and since_best >= patience
        else:
            count = min(count * 100, max(1, int(count * CHUNK_SECONDS / max(elapsed, 1e-9))))
        final = done >= epochs or stopped_early or stop_requested()
        train_acc = None
        if classification and progress.due(done, final):
            train_acc = accuracy(module, params, check_X, check_Y)
            history.accuracy_epoch.append(done)
            history.accuracy.append(train_acc)
        progress.update(done, float(losses[-1]), seconds, train_acc, val_loss, val_acc, final)
        if stopped_early:
            break
    progress.close()
    history.loss = np.concatenate(chunks).tolist() if chunks else []
    best_epoch = None
    if patience is not None and best[1] > 0:
        params, best_epoch = best[2], best[1]
    result = _measure(
        module, params, prepared, history, seconds, done, n, compile_seconds, best_epoch
    )
    return params, replace(result, stopped_early=stopped_early, interrupted=interrupted)


def _chunk_losses(
    kernel: Callable[[list[np.ndarray], np.ndarray], np.ndarray],
    params: list[np.ndarray],
    order: np.ndarray,
    done: int,
    before: float = math.nan,
) -> np.ndarray:
    """One kernel call over the epochs in ``order``; its divergence names the epoch of the run
    and, where the call had no finite batch loss yet, gives ``before`` (the mean loss of the
    epoch before the call) as the last finite loss."""
    try:
        return kernel(params, order)
    except FloatingPointError as exc:
        if not hasattr(exc, "epoch"):
            raise
        run_epoch = done + exc.epoch  # the module's own message, naming the run's epoch
        last = before if math.isnan(exc.last_loss) else exc.last_loss
        again = type(exc)(run_epoch, exc.batch, exc.quantity, exc.value, last, exc.losses)
        raise TrainingDiverged(str(again), epoch=run_epoch) from None


def _validation(
    module: ModuleType, params: list[np.ndarray], prepared: Prepared, history: History
) -> tuple[float, float | None]:
    """The validation loss (and accuracy of a classifier) after a chunk, kept in ``history``."""
    val_loss = float(module.loss(params, prepared.X_val, prepared.Y_val))
    history.val_loss.append(val_loss)
    val_acc = None
    if prepared.classification:
        val_acc = accuracy(module, params, prepared.X_val, prepared.Y_val)
        history.val_accuracy.append(val_acc)
    return val_loss, val_acc


def _measure(
    module: ModuleType,
    params: list[np.ndarray],
    prepared: Prepared,
    history: History,
    seconds: float,
    epochs: int,
    n: int,
    compile_seconds: float,
    best_epoch: int | None,
) -> TrainingResult:
    """Final losses and accuracies over each split."""
    p = prepared
    cls = p.classification

    def over(X: np.ndarray, Y: np.ndarray) -> tuple[float | None, float | None]:
        if X.shape[0] == 0:
            return None, None
        return float(module.loss(params, X, Y)), accuracy(module, params, X, Y) if cls else None

    train_loss, train_acc = over(p.X_train, p.Y_train)
    val_loss, val_acc = over(p.X_val, p.Y_val)
    test_loss, test_acc = over(p.X_test, p.Y_test)
    return TrainingResult(
        losses=np.asarray(history.loss),
        train_loss=float(train_loss) if train_loss is not None else math.nan,
        test_loss=test_loss,
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        seconds=seconds,
        samples_per_second=epochs * n / seconds if seconds > 0 else 0.0,
        epochs=epochs,
        compile_seconds=compile_seconds,
        val_loss=val_loss,
        val_accuracy=val_acc,
        best_epoch=best_epoch,
        history=history,
    )


def report(result: TrainingResult, data: Dataset | Prepared, out: TextIO = sys.stdout) -> None:
    """Print the final losses and accuracies, compile time apart from training throughput."""
    n_train, n_test = data.X_train.shape[0], data.X_test.shape[0]
    print(
        f"final training loss {result.train_loss:.6g} (the trained weights on all {n_train} "
        f"samples, after {result.epochs} epochs)",
        file=out,
    )
    print(
        f"compile {result.compile_seconds:.2f} s; training {result.seconds:.3g} s, "
        f"{result.samples_per_second:,.0f} samples/s",
        file=out,
    )
    if result.train_accuracy is not None:
        print(f"training accuracy {100 * result.train_accuracy:.2f}%", file=out)
    if result.val_loss is not None:
        n_val = data.X_val.shape[0] if isinstance(data, Prepared) else 0
        print(f"validation loss {result.val_loss:.6g} ({n_val} samples)", file=out)
    if result.val_accuracy is not None:
        print(f"validation accuracy {100 * result.val_accuracy:.2f}%", file=out)
    if result.best_epoch is not None:
        how = "stopped early; " if result.stopped_early else ""
        print(
            f"{how}kept the weights of epoch {result.best_epoch} (lowest validation loss)", file=out
        )
    if result.test_loss is not None:
        print(f"test loss {result.test_loss:.6g} ({n_test} held-out samples)", file=out)
    if result.test_accuracy is not None:
        print(f"test accuracy {100 * result.test_accuracy:.2f}%", file=out)


def run_training(
    spec: Spec,
    module: ModuleType,
    out: TextIO = sys.stdout,
    epochs: int | None = None,
    params: list[np.ndarray] | None = None,
) -> TrainingResult:
    """Load the spec's data, train and report."""
    return fit(spec, module, out, epochs=epochs, params=params)[1]


def fit(
    spec: Spec,
    module: ModuleType,
    out: TextIO | None = sys.stdout,
    epochs: int | None = None,
    params: list[np.ndarray] | None = None,
    tty: bool | None = None,
    compile_interrupt: str | None = None,
    data: Dataset | None = None,
    helper: Helper | None = None,
) -> tuple[list[np.ndarray], TrainingResult, Prepared]:
    """Load the spec's data (or take ``data``), announce, train, report: the weights, the
    result, the data used. ``compile_interrupt``, ``helper``: see ``train``."""
    data = load_data(spec) if data is None else data
    prepared = prepare(spec, data, module.DTYPE)
    if out is not None:
        val = prepared.X_val.shape[0]
        print(
            f"training {spec.name} on {data.name}: {prepared.X_train.shape[0]} samples"
            f"{f' (+{val} validation)' if val else ''}, "
            f"{epochs or spec.training.epochs} epochs, batch {spec.training.batch_size}, "
            f"learning rate {spec.training.learning_rate}",
            file=out,
        )
    params, result = train(
        spec, module, data, out, epochs=epochs, params=params, prepared=prepared, tty=tty,
        compile_interrupt=compile_interrupt, helper=helper,
    )  # fmt: skip
    if out is not None:
        report(result, prepared, out)
    return params, result, prepared
