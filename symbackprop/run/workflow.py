"""The practitioner's commands: run with overrides, save and reuse weights, predict, evaluate,
init, list. ``cli.py`` parses the arguments; the work is here."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import numpy as np

from ..errors import DataError, SpecError
from ..spec.model import Spec, is_classifier, load_spec
from ..util.fileio import check_target, write_output
from ..util.names import unknown
from .runner import History, TrainingResult

OVERRIDES = {
    "learning_rate": "--learning-rate",
    "batch_size": "--batch-size",
    "epochs": "--epochs",
    "seed": "--seed",
    "optimizer": "--optimizer",
}
"""``run`` options that replace a ``[training]`` field (validated as the spec's own)."""


def add_run_options(run: argparse.ArgumentParser) -> None:
    """The options ``run`` gains for steering and keeping a training."""
    run.add_argument("--learning-rate", type=float, help="override training.learning_rate")
    run.add_argument("--batch-size", type=int, help="override training.batch_size")
    run.add_argument("--seed", type=int, help="override training.seed")
    run.add_argument("--optimizer", help="override training.optimizer")
    run.add_argument("--weights", type=Path, metavar="FILE.npz", help="start from these weights")
    run.add_argument("--save", type=Path, metavar="FILE.npz", help="save the trained weights")
    run.add_argument(
        "--json", action="store_true", help="print only a JSON summary on stdout (progress: stderr)"
    )
    run.add_argument("--plot", type=Path, metavar="FILE.png", help="plot the loss curves")
    run.add_argument(
        "--force", action="store_true", help="let --save/--plot overwrite a foreign file"
    )


def overrides_of(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The ``[training]`` fields the options replace."""
    training = {
        key: getattr(args, key) for key in OVERRIDES if getattr(args, key, None) is not None
    }
    if "optimizer" in training:
        known = optimizer_names()
        if training["optimizer"] not in known:
            raise SpecError(unknown("optimizer", training["optimizer"], known), "--optimizer")
    return {"training": training} if training else {}


def load_with_overrides(source: str, overrides: dict[str, dict[str, Any]]) -> Spec:
    """The spec with overrides applied; an invalid override's error names its option."""
    try:
        return load_spec(source, overrides)
    except SpecError as exc:
        for key, option in OVERRIDES.items():
            if key in overrides.get("training", {}) and (exc.where or "").endswith(
                f"training.{key}"
            ):
                raise SpecError(exc.message, option) from None
        raise


def optimizer_names() -> list[str]:
    """The optimizers a spec and ``--optimizer`` accept."""
    from ..spec.optimizers import OPTIMIZERS

    return sorted(OPTIMIZERS)


def schedule_names() -> list[str]:
    """The learning-rate schedules the spec accepts."""
    from ..spec.optimizers import SCHEDULES

    return sorted(SCHEDULES)


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """``symbackprop run``: derive, print, generate, train (from --weights), save, summarise."""
    from ..pipeline import cached_module, module_cached
    from .compiling import helping
    from .plot import check_plotting, write_plot
    from .runner import exit_on_ctrl_c, fit
    from .weights import load_weights, save_weights

    spec = load_with_overrides(args.spec, overrides_of(args))
    from .data import load_data
    from .limits import ensure_fits, forced_kernel, module_estimate, training_estimate

    forced_kernel()
    ensure_fits(module_estimate(spec), "the network", spec.source)
    data = load_data(spec)  # fail on bad data before any work
    epochs = spec.training.epochs
    estimate = training_estimate(spec, data.X_train.shape[0], spec.training.batch_size, epochs)
    ensure_fits(estimate, f"training for {epochs} epochs", spec.source)
    if args.save:
        check_target(args.save, args.force)
    if args.plot:
        check_target(args.plot, args.force, suffixes=(".png",))
        check_plotting()
    initial = None
    if args.weights:
        dtype = np.float32 if spec.dtype == "float32" else np.float64
        initial, _ = load_weights(args.weights, spec, dtype)
    log = sys.stderr if args.json else out
    with helping(not module_cached(spec)) as helper:  # compiles beside this process
        derivation = None
        if not (args.quiet_derivation or args.json):  # only the printed derivation needs SymPy
            from .documents import document_for

            document = document_for(spec, args.notation, expand=args.expand, indices=args.indices)
            print(document.latex(), file=out)
            derivation = document.derivation
        not_yet = _interrupted(0, args.save, args.plot)  # Ctrl-C before training: ends at once
        with exit_on_ctrl_c(not_yet):
            # derived on a cache miss only; the helper has the file before this process loads it
            module = cached_module(spec, derivation, on_file=helper and helper.give)
        print(f"generated module: {module.__file__}", file=log)
        params, result, prepared = fit(
            spec, module, log, params=initial, compile_interrupt=not_yet, helper=helper
        )
    trained = result.epochs > 0  # Ctrl-C before the first epoch ended: nothing worth a file
    if args.save and trained:
        save_weights(args.save, spec, params, prepared.extras, force=args.force)
        print(f"saved weights to {args.save}", file=log)
    if args.plot and trained:
        write_plot(result, args.plot, spec.name, force=args.force)
        print(f"wrote {args.plot}", file=log)
    if args.json:
        print(json.dumps(summary(spec, result, args.save if trained else None), sort_keys=True),
              file=out)  # fmt: skip
    if result.interrupted:
        print(_interrupted(result.epochs, args.save, args.plot), file=sys.stderr)
        return 130
    return 0


def _interrupted(epochs: int, save: Path | None, plot: Path | None) -> str:
    """The one line a Ctrl-C ends a run with: what was written, what was left as it was."""
    if epochs:
        kept = f"; weights kept in {save}" if save else "; weights kept"
        return f"interrupted at epoch {epochs}{kept}"
    left = [str(path) for path in (save, plot) if path and Path(path).exists()]
    were = "it was" if len(left) == 1 else "they were"
    unchanged = f" ({', '.join(left)} left as {were})" if left else ""
    return f"interrupted before the first epoch ended; nothing saved{unchanged}"


def summary(spec: Spec, result: Any, weights: Path | None) -> dict[str, Any]:  # noqa: ANN401
    """The machine-readable summary of a run."""

    def number(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else float(value)

    return {
        "spec": spec.name,
        "final_loss": number(result.train_loss),
        "accuracy": number(result.train_accuracy),
        "validation_loss": number(result.val_loss),
        "validation_accuracy": number(result.val_accuracy),
        "test_loss": number(result.test_loss),
        "test_accuracy": number(result.test_accuracy),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "interrupted": result.interrupted,
        "seconds": result.seconds,
        "samples_per_second": result.samples_per_second,
        "compile_seconds": result.compile_seconds,
        "weights": str(weights) if weights else None,
    }


def _data_spec(spec: Spec, source: str) -> Spec:
    """The spec reading ``source`` (a file relative to the working folder, or a built-in name)
    whole: no test or validation split. Settings that do not apply to ``source`` are left out,
    not refused: the starter spec's ``samples`` and ``noise`` (for its moons) beside a CSV to
    evaluate on, or a CSV's ``drop`` beside a built-in dataset."""
    from .data import data_file

    data = replace(
        spec.data, dataset=source, test_fraction=0.0, validation_fraction=0.0, base_dir=Path(".")
    )
    path = data_file(replace(spec, data=data))
    if path is not None:
        data = replace(data, samples=None, noise=None)
    if path is None or path.suffix != ".csv":
        data = replace(data, features=None, drop=(), missing="error")
    return replace(spec, data=data)


def read_inputs(spec: Spec, source: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Inputs to predict on, and the CSV lines ``missing = "drop"`` left out: a CSV's input
    columns as the spec chooses them (features, drop, target by name; the target column may be
    absent), or of exactly the network's input columns; an .npz holding ``X`` alone, any data
    the spec could train on (targets ignored), or a built-in dataset. Files are read by
    ``data``'s one strict, capped reader."""
    from .data import check_inputs, csv_inputs, load_data, read_npz, real_array

    path = Path(source)
    if path.suffix == ".csv" and path.is_file():
        X, dropped = csv_inputs(path, spec)
        check_inputs(X, spec, str(path))
        return X, dropped
    if path.suffix == ".npz" and path.is_file():
        arrays = read_npz(path)
        if "X" in arrays and "y" not in arrays and "Y" not in arrays:
            X = np.asarray(real_array(arrays, "X", path), dtype=np.float64)
            check_inputs(X, spec, str(path))
            return X, ()
    return load_data(_data_spec(spec, source)).X_train, ()


def _scaled(X: np.ndarray, spec: Spec, extras: dict[str, np.ndarray], weights: Path) -> np.ndarray:
    """Inputs standardised with the weights file's x_mean/x_std, checked as inputs are (a tiny
    x_std such as 1e-320 overflows them): one line naming the file, not the module's error."""
    from .data import check_inputs
    from .runner import standardize

    if not extras:
        return X
    with np.errstate(all="ignore"):
        scaled = standardize(X, extras)
    check_inputs(scaled, spec, f"{weights}: inputs scaled by its x_mean/x_std")
    return scaled


def predictions_csv(
    spec: Spec, outputs: np.ndarray, classes: tuple[str, ...] | None = None
) -> str:
    """One row per sample: the predicted class first for a classifier (its name from
    ``classes`` where the labels were strings, quoted as CSV needs), then the outputs (17
    significant digits, 9 for float32: each reads back as the number it was)."""
    from .runner import predicted_classes

    classifier = is_classifier(spec)
    names = [f"{'p' if classifier else 'y'}{j}" for j in range(outputs.shape[1])]
    numbers = ",".join([f"%.{9 if outputs.dtype == np.float32 else 17}g"] * outputs.shape[1])
    rows = [numbers % tuple(row) for row in outputs.tolist()]  # numbers need no quotes
    if classifier:
        labels = classes or [str(k) for k in range(max(2, outputs.shape[1]))]
        cells = [_csv_cell(label) for label in labels]
        rows = [f"{cells[k]},{row}" for k, row in zip(predicted_classes(outputs).tolist(), rows)]
    header = ",".join(_csv_cell(name) for name in (["class"] if classifier else []) + names)
    return "".join(f"{row}\n" for row in [header, *rows])


def _csv_cell(text: str) -> str:
    """``text`` as a cell of a CSV row of several cells: quoted where ``csv.writer`` quotes it."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([text, ""])
    return buffer.getvalue()[: -len(",\n")]


def dropped_note(lines: tuple[int, ...], kept: int) -> str:
    """What ``predict`` says of the rows ``missing = "drop"`` left out: which lines they were,
    so that the predictions can be matched to the rows they are of."""
    shown = ", ".join(str(line) for line in lines[:10])
    more = f" and {len(lines) - 10} more" if len(lines) > 10 else ""
    rows = "row" if len(lines) == 1 else "rows"
    where = "line" if len(lines) == 1 else "lines"
    return (
        f'left out {len(lines)} {rows} with an empty cell ({where} {shown}{more}; missing = '
        f'"drop"): {kept} predictions, one per other row, in file order'
    )


def predict_command(args: argparse.Namespace, out: TextIO) -> int:
    """``symbackprop predict SPEC WEIGHTS DATA [-o FILE]``."""
    from ..pipeline import cached_module
    from .inference import skip_blas_probe
    from .weights import read_saved

    if args.output:
        check_target(args.output, args.force)
    spec = load_spec(args.spec)
    inputs, dropped = read_inputs(spec, args.data)  # bad data fails before any derivation
    saved = read_saved(spec, args.weights)  # checked before any derivation
    X = _scaled(inputs, spec, saved.scaling, args.weights)
    skip_blas_probe()
    outputs = cached_module(spec).forward(saved.params, X)
    text = predictions_csv(spec, outputs, saved.classes)
    if dropped:
        print(dropped_note(dropped, X.shape[0]), file=sys.stderr)
    if args.output:
        write_output(args.output, text.encode(), force=args.force, sidecar=True)
        print(f"wrote {X.shape[0]} predictions to {args.output}", file=sys.stderr)
    else:
        out.write(text)
    return 0


def evaluate_command(args: argparse.Namespace, out: TextIO) -> int:
    """``symbackprop evaluate SPEC WEIGHTS DATA [--json]``: loss, and accuracy for
    classification; with ``--json`` one object with the metrics of ``metrics``."""
    from ..pipeline import cached_module
    from .data import load_data
    from .inference import skip_blas_probe
    from .metrics import classification_metrics, regression_metrics
    from .weights import read_saved

    spec = load_spec(args.spec)
    saved = read_saved(spec, args.weights)  # checked before any derivation
    data = load_data(_data_spec(spec, args.data), saved.classes)  # before any derivation
    if data.classes is not None and saved.classes is None:
        raise DataError(
            "the data has string labels, but the weights file names no classes "
            "(train on such labels with run --save to keep their names)",
            str(args.weights),
        )
    skip_blas_probe()
    module = cached_module(spec)
    X, Y = _scaled(data.X_train, spec, saved.scaling, args.weights), data.Y_train
    outputs = module.forward(saved.params, X)
    loss = float(module.loss(saved.params, X, Y))
    if data.classification:
        report = classification_metrics(outputs, Y, saved.classes)
    else:
        report = regression_metrics(outputs, Y)
    if args.json:
        head = {"spec": spec.name, "samples": int(X.shape[0]), "loss_name": spec.loss}
        head["loss"] = loss if math.isfinite(loss) else None
        head["task"] = "classification" if data.classification else "regression"
        print(json.dumps({**head, **report}, sort_keys=True), file=out)
        return 0
    print(f"loss {loss:.6g} ({X.shape[0]} samples, {spec.loss})", file=out)
    if data.classification:
        print(f"accuracy {100 * report['accuracy']:.2f}%", file=out)
    return 0


def init_command(args: argparse.Namespace, out: TextIO) -> int:
    """``symbackprop init NAME``: a commented starter spec NAME.toml (never overwritten)."""
    from ..util.resources import environment

    target = Path(args.name if args.name.endswith(".toml") else f"{args.name}.toml")
    name = target.stem
    if not name.isidentifier():
        raise SpecError(f"'{name}' is not a valid Python identifier (it names the module)", "NAME")
    check_target(target, exclusive=True)
    text = environment().get_template("starter.toml.jinja").render(name=name, **catalog())
    load_spec_text(text, str(target))  # the starter must be a valid spec
    write_output(target, text.encode(), exclusive=True)
    print(f"wrote {target}; try: symbackprop run {target} --save {name}.npz", file=out)
    return 0


def load_spec_text(text: str, where: str) -> Spec:
    """Parse a spec from TOML text."""
    import tomllib

    from ..spec.model import parse_spec

    return parse_spec(tomllib.loads(text), source=where)


def catalog() -> dict[str, list[str]]:
    """What the registries hold: specs, activations, losses, optimizers, schedules, datasets."""
    from ..spec.functions import ACTIVATIONS, LOSSES
    from ..spec.model import builtin_specs
    from .datasets import DATASETS

    return {
        "specs": sorted(builtin_specs()),
        "activations": sorted(ACTIVATIONS),
        "losses": sorted(LOSSES),
        "optimizers": optimizer_names(),
        "schedules": schedule_names(),
        "datasets": list(DATASETS),
    }


def list_command(args: argparse.Namespace, out: TextIO) -> int:
    """``symbackprop list``: the names a spec may use."""
    from .datasets import DATASETS

    names = catalog()
    print("built-in specs: " + ", ".join(names["specs"]), file=out)
    print("activations:    " + ", ".join(names["activations"]), file=out)
    print("losses:         " + ", ".join(names["losses"]), file=out)
    print("optimizers:     " + ", ".join(names["optimizers"]), file=out)
    print("schedules:      " + (", ".join(names["schedules"]) or "none (constant rate)"), file=out)
    from ..spec.optimizers import INITS

    print("inits:          " + ", ".join(INITS), file=out)
    print("datasets:", file=out)
    for dataset in DATASETS.values():
        print(f"  {dataset.name:<14} {dataset.description}", file=out)
    return 0


@dataclass
class Trained:
    """A trained network: its weights, how training went, and the module that runs it."""

    spec: Spec
    module: ModuleType
    params: list[np.ndarray]
    result: TrainingResult
    extras: dict[str, np.ndarray]
    """``x_mean``, ``x_std`` when the spec standardises its inputs; ``classes`` (the names of
    string labels, in class order) when the training data had them."""

    @property
    def history(self) -> History:
        """Per-epoch curves: ``loss``, ``val_loss``, ``val_accuracy``; ``accuracy`` at updates."""
        return self.result.history

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs for raw inputs X (standardised as in training)."""
        from .runner import standardize

        return self.module.forward(self.params, standardize(np.asarray(X, float), self.extras))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What the module's ``predict`` gives for raw inputs X (standardised as in training): the
        class of each row for a classifier (``spec.is_classifier``), the outputs otherwise. Where
        the training data's labels were strings (``classes`` in ``extras``), the classes are
        those labels, as ``symbackprop predict`` prints them; else class indices."""
        from .runner import predicted_classes

        outputs = self.forward(X)
        if not is_classifier(self.spec):
            return outputs
        found = predicted_classes(outputs)
        names = self.extras.get("classes")
        return found if names is None else np.asarray(names)[found]

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Save the weights (and standardisation) as ``run --save`` does (``force`` as its
        ``--force``: replace a file symbackprop did not write, or one changed since)."""
        from .weights import save_weights

        return save_weights(Path(path), self.spec, self.params, self.extras, force=force)


def train_api(
    spec: Any,  # noqa: ANN401
    weights: Any,  # noqa: ANN401
    progress: bool,
    training: dict[str, Any],
    arrays: tuple[Any, Any] | None = None,
) -> Trained:
    """``symbackprop.train``: see its docstring (``arrays``: its X and y)."""
    from ..pipeline import cached_module, module_cached
    from ..spec.model import with_training
    from .compiling import helping
    from .data import dataset_from_arrays
    from .runner import fit
    from .weights import load_weights

    if isinstance(spec, Spec):
        spec = with_training(spec, training) if training else spec
    else:
        spec = load_spec(str(spec), {"training": training} if training else None)
    with helping(not module_cached(spec)) as helper:  # compiles beside this process
        module = cached_module(spec, on_file=helper and helper.give)
        initial = None
        if isinstance(weights, (str, Path)):
            initial, _ = load_weights(Path(weights), spec, module.DTYPE)
        elif weights is not None:
            initial = [np.ascontiguousarray(p, dtype=module.DTYPE) for p in weights]
        data = None if arrays is None else dataset_from_arrays(*arrays, spec)
        out = sys.stdout if progress else None
        params, result, prepared = fit(spec, module, out, params=initial, data=data, helper=helper)
    return Trained(spec, module, params, result, prepared.extras)
