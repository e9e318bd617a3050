"""What ``evaluate --json`` reports: per-class precision, recall and F1 with the confusion matrix
for a classifier; MSE, MAE and R² for regression. Plain NumPy, defined as scikit-learn's
``classification_report``, ``confusion_matrix``, ``mean_squared_error``,
``mean_absolute_error`` and ``r2_score`` (their defaults) define them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .runner import predicted_classes


def classification_metrics(
    outputs: np.ndarray, Y: np.ndarray, classes: Sequence[str] | None = None
) -> dict[str, Any]:
    """Accuracy, the confusion matrix (rows: true class, columns: predicted class) and each
    class's precision, recall, F1 and support. A class never predicted has precision 0, one
    never present recall 0 (as scikit-learn's ``zero_division=0``). ``classes``: the class
    names (the CSV's labels), else ``"0"``, ``"1"``, ..."""
    n_classes = 2 if Y.shape[1] == 1 else Y.shape[1]
    names = list(classes) if classes is not None else [str(k) for k in range(n_classes)]
    truth, predicted = predicted_classes(Y), predicted_classes(outputs)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    per_class = {}
    for k, name in enumerate(names):
        hits, support, claimed = matrix[k, k], matrix[k].sum(), matrix[:, k].sum()
        precision = hits / claimed if claimed else 0.0
        recall = hits / support if support else 0.0
        both = precision + recall
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(2 * precision * recall / both) if both else 0.0,
            "support": int(support),
        }
    return {
        "accuracy": float(np.trace(matrix) / matrix.sum()),
        "classes": names,
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class,
    }


def regression_metrics(outputs: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
    """MSE, MAE and R² over all samples, each the mean over the output columns (scikit-learn's
    ``multioutput="uniform_average"``). A target column without variance has R² 1 when it is
    predicted exactly, else 0 (scikit-learn's ``force_finite``)."""
    outputs, Y = np.asarray(outputs, np.float64), np.asarray(Y, np.float64)
    error = outputs - Y
    residual = np.sum(error**2, axis=0)
    total = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    r2 = [
        1.0 - res / tot if tot > 0 else (1.0 if res == 0 else 0.0)
        for res, tot in zip(residual, total, strict=True)
    ]
    return {
        "mse": _number(np.mean(error**2)),
        "mae": _number(np.mean(np.abs(error))),
        "r2": _number(np.mean(r2)),
    }


def _number(value: float) -> float | None:
    """A float for JSON; None for NaN or infinity (JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else None
