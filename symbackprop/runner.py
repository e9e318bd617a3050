"""The runner: train a spec's generated module on its data and report, with progress."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TextIO

import numpy as np

from .data import Dataset, load_data
from .spec import Spec


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced."""

    losses: np.ndarray
    train_loss: float
    test_loss: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    samples_per_second: float


def accuracy(module: ModuleType, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """Share of samples classified right: argmax for several outputs, threshold 0.5 for one."""
    output = module.forward(params, X)
    if output.shape[1] == 1:
        return float(np.mean((output[:, 0] >= 0.5) == (Y[:, 0] >= 0.5)))
    return float(np.mean(np.argmax(output, axis=1) == np.argmax(Y, axis=1)))


def train(
    spec: Spec,
    module: ModuleType,
    data: Dataset,
    out: TextIO = sys.stdout,
    reports: int = 10,
    epochs: int | None = None,
) -> tuple[list[np.ndarray], TrainingResult]:
    """Train from ``init_params(seed)`` with the spec's settings, printing the loss as it goes.

    Epochs run in ``reports`` chunks; the sample order is drawn from one generator for the
    whole run, so the result equals ``module.train`` with the same seed.
    """
    settings = spec.training
    epochs = epochs or settings.epochs
    params = module.init_params(settings.seed)
    X, Y = (np.ascontiguousarray(a, dtype=module.DTYPE) for a in (data.X_train, data.Y_train))
    rng = np.random.default_rng(settings.seed)
    chunk = max(1, epochs // reports)
    losses: list[np.ndarray] = []
    # an optimizer with state (moments, step and epoch counters) carries it across the chunks
    state = {"state": module.init_state(params)} if hasattr(module, "init_state") else {}
    start = time.perf_counter()
    done = 0
    while done < epochs:
        count = min(chunk, epochs - done)
        order = np.argsort(rng.random((count, X.shape[0])), axis=1, kind="stable")
        losses.append(
            module.train_with_order(
                params,
                X,
                Y,
                order,
                settings.learning_rate,
                settings.batch_size,
                settings.drop_last,
                **state,
            )
        )
        done += count
        print(f"  epoch {done:>{len(str(epochs))}}/{epochs}  loss {losses[-1][-1]:.6g}", file=out)
    seconds = time.perf_counter() - start
    all_losses = np.concatenate(losses)
    has_test = data.X_test.shape[0] > 0
    result = TrainingResult(
        losses=all_losses,
        train_loss=module.loss(params, X, Y),
        test_loss=module.loss(params, data.X_test, data.Y_test) if has_test else None,
        train_accuracy=accuracy(module, params, X, Y) if data.classification else None,
        test_accuracy=(
            accuracy(module, params, data.X_test, data.Y_test)
            if data.classification and has_test
            else None
        ),
        seconds=seconds,
        samples_per_second=epochs * X.shape[0] / max(seconds, 1e-12),
    )
    return params, result


def report(result: TrainingResult, data: Dataset, out: TextIO = sys.stdout) -> None:
    """Print the final losses and accuracies."""
    n_train, n_test = data.X_train.shape[0], data.X_test.shape[0]
    print(
        f"final training loss {result.train_loss:.6g} ({n_train} samples, "
        f"{result.seconds:.2f} s, {result.samples_per_second:,.0f} samples/s)",
        file=out,
    )
    if result.train_accuracy is not None:
        print(f"training accuracy {100 * result.train_accuracy:.2f}%", file=out)
    if result.test_loss is not None:
        print(f"test loss {result.test_loss:.6g} ({n_test} held-out samples)", file=out)
    if result.test_accuracy is not None:
        print(f"test accuracy {100 * result.test_accuracy:.2f}%", file=out)


def run_training(
    spec: Spec, module: ModuleType, out: TextIO = sys.stdout, epochs: int | None = None
) -> TrainingResult:
    """Load the spec's data, train and report."""
    data = load_data(spec)
    print(
        f"training {spec.name} on {data.name}: {data.X_train.shape[0]} samples, "
        f"{epochs or spec.training.epochs} epochs, batch {spec.training.batch_size}, "
        f"learning rate {spec.training.learning_rate}",
        file=out,
    )
    _, result = train(spec, module, data, out, epochs=epochs)
    report(result, data, out)
    return result
