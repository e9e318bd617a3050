"""``run --plot FILE.png``: loss, accuracy and validation curves with matplotlib (extra [plot])."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..errors import SymbackpropError
from ..util.fileio import write_output


def check_plotting() -> None:
    """Fail with one line before training when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SymbackpropError(
            "needs matplotlib, which is not installed (pip install 'symbackprop[plot]')",
            "--plot",
        ) from None


def write_plot(result: Any, path: Path, title: str, force: bool = False) -> Path:  # noqa: ANN401
    """Loss per epoch (training, validation) and, for classification, accuracy, as a PNG (by the
    overwrite rule of ``fileio``: its digest goes to a sidecar file)."""
    check_plotting()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = result.history
    epochs = range(1, len(history.loss) + 1)
    has_accuracy = bool(history.accuracy or history.val_accuracy)
    figure, axes = plt.subplots(
        1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5.5, 3.6), squeeze=False
    )
    loss_axis = axes[0][0]
    loss_axis.plot(epochs, history.loss, label="training (mean over the epoch's batches)")
    if history.val_loss:
        loss_axis.plot(epochs, history.val_loss, label="validation")
    if result.best_epoch:
        loss_axis.axvline(result.best_epoch, color="grey", linestyle=":", label="kept weights")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss")
    if min(history.loss, default=1.0) > 0:
        loss_axis.set_yscale("log")
    loss_axis.legend(fontsize=8)
    loss_axis.set_title(f"{title}: loss")
    if has_accuracy:
        acc_axis = axes[0][1]
        if history.accuracy:
            acc_axis.plot(
                history.accuracy_epoch,
                [100 * a for a in history.accuracy],
                marker=".",
                label="training",
            )
        if history.val_accuracy:
            acc_axis.plot(epochs, [100 * a for a in history.val_accuracy], label="validation")
        acc_axis.set_xlabel("epoch")
        acc_axis.set_ylabel("accuracy (%)")
        acc_axis.legend(fontsize=8)
        acc_axis.set_title(f"{title}: accuracy")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    data = buffer.getvalue()
    return write_output(Path(path), data, force=force, suffixes=(".png",), sidecar=True)
