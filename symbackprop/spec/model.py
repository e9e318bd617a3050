"""The spec: a validated description of a network, its training and its data (from TOML)."""

from __future__ import annotations

import hashlib
import keyword
import math
import os
import stat
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..util.names import counted, did_you_mean
from .builtins import TARGETS, plain_names
from .optimizers import ALL_SETTINGS, OptimizerConfig, Schedule, parse_training_extras

if TYPE_CHECKING:  # SymPy's: imported only where a spec's functions are resolved
    from .functions import Activation, Loss

DTYPES = ("float64", "float32")

MAX_SPEC_BYTES = 1 << 20
"""A spec file is a few hundred bytes; larger files are refused before they are parsed."""

MAX_DEPTH = 32
"""At most this many weight layers (derivation and code generation grow with the depth)."""

MAX_WIDTH = 1_000_000
"""At most this many neurons in one layer."""

MAX_PARAMETERS = 50_000_000
"""At most this many weights and biases in all (400 MB in float64)."""

MAX_SAMPLES = 10_000_000
"""At most this many samples drawn for a generated dataset (``data.samples``; 10**7 rows of a
few columns are hundreds of MB before any training)."""

INT64_MAX = 2**63 - 1
"""Integer settings (epochs, batch size, seed) reach the kernels as int64."""

RESERVED_NAMES = frozenset(sys.stdlib_module_names) | {"numpy", "numba", "np", "llvmlite"}
"""Module names that would shadow the standard library or a generated module's own imports."""



def parameter_count(layers: Sequence[int]) -> int:
    """The weights and biases of a network of these layer sizes (W: n_out x n_in, b: n_out)."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(layers[:-1], layers[1:]))


CLASSIFIER_OUTPUTS = ("softmax", "sigmoid")
"""Output activations whose outputs are class scores: a classifier's class is the argmax of its
outputs, or output >= 0.5 for one output (``runner.predicted_classes``)."""


def is_classifier(spec: Spec) -> bool:
    """Whether the network's outputs are class scores (a softmax or sigmoid output)."""
    return spec.output in CLASSIFIER_OUTPUTS

@dataclass(frozen=True)
class Training:
    """Minibatch training settings: the optimizer (torch.optim's), schedule and initialisation."""

    learning_rate: float = 0.1
    batch_size: int = 32
    epochs: int = 100
    seed: int = 0
    drop_last: bool = False
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: Schedule | None = None
    init: str = "torch"
    train_biases: bool = True
    """False freezes the biases at their initial values (as some textbook examples do)."""
    patience: int | None = None  # early stopping: epochs without a better validation loss


@dataclass(frozen=True)
class Data:
    """Where the training data comes from; ``dataset`` is a built-in name or a file path."""

    dataset: str | None = None
    test_fraction: float = 0.0
    base_dir: Path | None = None
    validation_fraction: float = 0.0  # share of the training split held out for validation
    target: str | int | None = None  # CSV: the target column, by header name or index
    standardize: bool = False  # inputs scaled by the training split's mean and std
    samples: int | None = None  # generated built-in datasets: how many samples
    noise: float | None = None  # generated built-in datasets: noise level
    features: tuple[str, ...] | None = None  # CSV: the input columns by header name, in order
    drop: tuple[str, ...] = ()  # CSV: columns that are not inputs (an id), by header name
    missing: str = "error"  # CSV: a row with an empty cell is refused ("error") or dropped


@dataclass(frozen=True)
class Spec:
    """A validated model description."""

    name: str
    layers: tuple[int, ...]
    activations: tuple[str, ...]
    output: str
    loss: str
    dtype: str = "float64"
    training: Training = Training()
    data: Data = Data()
    source: str = "<memory>"
    digest: str = ""
    loss_reduction: str | None = None
    """"mean" or "sum" over the output components; None: the loss's own (built-ins)."""
    origin: str = ""
    """What to pass as SPEC to make this spec again: a built-in's name or the file's path."""
    kernels: str = "fixed"
    """Kernel variants in the generated module: "fixed" (one per layer) or "tuned" (all, chosen
    by a per-machine tuner at run time; the first compile takes about 2-3x longer)."""
    functions: tuple[Activation | Loss, ...] = ()
    """The activations and loss written in the spec that the network uses (``[functions]``
    tables and inline expressions), sorted by name: the Spec carries their bodies, so specs
    with one name for two bodies are different specs everywhere (caches, workers, weights)."""

    @property
    def depth(self) -> int:
        """Number of weight layers."""
        return len(self.layers) - 1

    def layer_activation(self, layer: int) -> str:
        """The activation of weight layer ``layer`` (1-based)."""
        return self.output if layer == self.depth else self.activations[layer - 1]

    def activation(self, name: str) -> Activation:
        """The activation called ``name`` in this spec: its own or a built-in."""
        from .functions import find_activation

        return find_activation(name, self.functions)

    @property
    def loss_targets(self) -> str:
        """The targets the loss takes: "real", "binary" or "one_hot" (``Loss.targets``); known
        without SymPy for a built-in loss."""
        if self.loss in TARGETS and all(f.name != self.loss for f in self.functions):
            return TARGETS[self.loss]
        return self.loss_function.targets

    @property
    def loss_function(self) -> Loss:
        """The spec's loss: its own or a built-in."""
        from .functions import find_loss

        return find_loss(self.loss, self.functions)


_TOP_KEYS = {"name", "network", "training", "data", "functions"}
NETWORK_KEYS = {"layers", "activation", "output", "loss", "dtype", "loss_reduction", "kernels"}
KERNELS = ("fixed", "tuned")
"""Values of ``network.kernels``."""


def builtin_specs() -> dict[str, Path]:
    """The specs that ship with the package, by name."""
    folder = resources.files("symbackprop") / "specs"
    return {
        Path(str(entry)).stem: Path(str(entry))
        for entry in folder.iterdir()
        if str(entry).endswith(".toml")
    }


def resolve(source: str | Path) -> Path:
    """The file behind SPEC: a path to a spec file, or the name of a built-in spec."""
    path = Path(source)
    builtins = builtin_specs()
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and stat.S_ISREG(mode):
        return path
    if mode is not None and str(source) not in builtins:
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise SpecError(f"is {kind}, not a spec file", str(source))
    if str(source) in builtins:
        return builtins[str(source)]
    if path.suffix == ".toml" or path.parent != Path("."):
        raise SpecError("no such spec file", str(source))
    raise SpecError(
        f"no spec file or built-in spec named '{source}' (built-ins: {', '.join(sorted(builtins))})"
    )


def load_spec(source: str | Path, overrides: dict[str, dict[str, Any]] | None = None) -> Spec:
    """Read and validate a spec from a built-in name or a TOML file.

    ``overrides`` (e.g. ``{"training": {"epochs": 5}}``) replace fields of the parsed table
    before validation, so any field can be overridden and is checked like the file's own.
    """
    path = resolve(source)
    raw = read_spec_file(path)
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, bad UTF-8, 5000-digit ints
        raise SpecError(f"not valid TOML: {exc}", str(path)) from None
    for section, values in (overrides or {}).items():
        current = table.setdefault(section, {})
        if isinstance(current, dict):
            current.update(values)
    packaged = builtin_specs().get(path.stem)
    builtin = packaged is not None and same_file(path, packaged)
    label = f"{path.stem} (built-in)" if builtin else str(path)
    spec = parse_spec(
        table,
        source=label,
        digest=hashlib.sha256(raw).hexdigest()[:12],
        base_dir=path.parent,
    )
    return replace(spec, origin=path.stem if builtin else str(path))


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def read_spec_file(path: Path) -> bytes:
    """The spec file's bytes: a regular file of at most MAX_SPEC_BYTES, else one-line errors."""
    try:
        with open(path, "rb", opener=_nonblocking) as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                raise SpecError(f"is {kind}, not a spec file", str(path))
            if info.st_size > MAX_SPEC_BYTES:
                raise SpecError(
                    f"is {info.st_size} bytes; a spec file holds at most {MAX_SPEC_BYTES}",
                    str(path),
                )
            return handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read the spec file ({exc.strerror or exc})", str(path)) from None


def _nonblocking(path: str, flags: int) -> int:
    """Open without blocking (a FIFO must not hang us; it is refused once open)."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def parse_spec(
    table: dict[str, Any],
    source: str = "<memory>",
    digest: str = "",
    base_dir: Path | None = None,
) -> Spec:
    """Validate a parsed TOML table into a Spec; errors name the field."""
    where = source
    _no_unknown(table, _TOP_KEYS, "", where)
    name = _parse_name(table, where)
    network = _get(table, "network", dict, where)
    _no_unknown(network, NETWORK_KEYS, "network.", where)
    layers = _parse_layers(network, where)
    hidden, output, loss, functions = _parse_functions(table, network, layers, where)
    dtype = _choice(network, "dtype", "float64", DTYPES, where)
    kernels = _choice(network, "kernels", "fixed", KERNELS, where)
    return Spec(
        name=name,
        layers=layers,
        activations=hidden,
        output=output,
        loss=loss,
        dtype=dtype,
        training=_parse_training(table.get("training", {}), where),
        data=_parse_data(table.get("data", {}), where, base_dir, layers[0]),
        source=source,
        digest=digest,
        loss_reduction=network.get("loss_reduction"),
        kernels=kernels,
        functions=functions,
    )


def _parse_functions(
    table: dict[str, Any], network: dict[str, Any], layers: tuple[int, ...], where: str
) -> tuple[tuple[str, ...], str, str, tuple[Activation | Loss, ...]]:
    """The hidden activations', output's and loss's names, and the spec's own functions.

    A network of built-in functions named by their registry names (no ``[functions]``) resolves
    without SymPy; anything else (aliases, ``leaky_relu(0.2)``, expressions, ``[functions]``,
    and every error) goes through ``userfunctions``, which parses and differentiates with SymPy.
    """
    hidden_names = _parse_hidden(network, len(layers) - 2, where)
    output, loss = network.get("output"), network.get("loss")
    if "functions" not in table and plain_names(hidden_names, output, loss, layers[-1]):
        reduction = network.get("loss_reduction")
        if reduction in (None, "mean", "sum"):
            return hidden_names, output, loss, ()  # type: ignore[return-value]
    from .userfunctions import name_inline, parse_functions, resolve_activation

    functions = parse_functions(table.get("functions", {}), where)
    hidden_functions = [
        resolve_activation(act, functions, f"{where}: network.activation")
        for act in hidden_names
    ]
    for act in hidden_functions:
        if not act.elementwise:
            raise SpecError(
                f"'{act.name}' is only allowed as the output activation",
                f"{where}: network.activation",
            )
    output = _get(network, "output", str, where, "network.")
    output_function = resolve_activation(output, functions, f"{where}: network.output")
    *hidden_functions, output_function = name_inline(
        [*hidden_functions, output_function], functions
    )
    if not output_function.elementwise and layers[-1] < 2:
        raise SpecError(
            f"'{output_function.name}' needs at least 2 outputs", f"{where}: network.output"
        )
    loss_function = _parse_loss(network, functions, output_function, where)
    used = [*hidden_functions, output_function, loss_function]
    return (
        tuple(act.name for act in hidden_functions),
        output_function.name,
        loss_function.name,
        own_functions(used),
    )


def _parse_name(table: dict[str, Any], where: str) -> str:
    name = _get(table, "name", str, where)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise SpecError(f"name '{name}' is not a valid Python identifier", f"{where}: name")
    if name in RESERVED_NAMES:
        raise SpecError(
            f"name '{name}' would shadow a module of the standard library or numpy/numba "
            "(the generated module could not run); pick another name",
            f"{where}: name",
        )
    return name


def _parse_layers(network: dict[str, Any], where: str) -> tuple[int, ...]:
    layers = _get(network, "layers", list, where, "network.")
    if len(layers) < 2:
        raise SpecError("needs at least two sizes (input and output)", f"{where}: network.layers")
    if len(layers) - 1 > MAX_DEPTH:  # checked before looking at any entry
        raise SpecError(
            f"{len(layers) - 1} weight layers; at most {MAX_DEPTH} are supported",
            f"{where}: network.layers",
        )
    for i, size in enumerate(layers):
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SpecError(
                f"layer size {size!r} at position {i} must be an integer >= 1",
                f"{where}: network.layers",
            )
        if size > MAX_WIDTH:
            raise SpecError(
                f"layer size {size} at position {i} is above the limit of {MAX_WIDTH}",
                f"{where}: network.layers",
            )
    parameters = parameter_count(layers)
    if parameters > MAX_PARAMETERS:
        raise SpecError(
            f"{parameters} weights and biases; at most {MAX_PARAMETERS} are supported",
            f"{where}: network.layers",
        )
    return tuple(layers)


def _parse_hidden(network: dict[str, Any], hidden: int, where: str) -> tuple[str, ...]:
    """The activation of each hidden layer: one name for all, or a list of one per layer."""
    raw = network.get("activation", "tanh" if hidden else None)
    if hidden == 0:
        return ()
    if isinstance(raw, str):
        return (raw,) * hidden
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        if len(raw) != hidden:
            raise SpecError(
                f"lists {len(raw)} activations for {hidden} hidden layers",
                f"{where}: network.activation",
            )
        return tuple(raw)
    raise SpecError(
        "must be an activation name or a list of names", f"{where}: network.activation"
    )


def _parse_loss(
    network: dict[str, Any], functions: Any, output: Activation, where: str
) -> Loss:
    from .userfunctions import resolve_loss

    loss = _get(network, "loss", str, where, "network.")
    loss_function = resolve_loss(loss, functions, f"{where}: network.loss")
    reduction = network.get("loss_reduction")
    if reduction not in (None, "mean", "sum"):
        raise SpecError(
            f'must be "mean" or "sum", not {reduction!r}', f"{where}: network.loss_reduction"
        )
    needs = loss_function.requires_output
    if needs and output.name not in needs:
        raise SpecError(
            f"loss '{loss_function.name}' needs output {' or '.join(needs)}, "
            f"not '{output.name}'",
            f"{where}: network.loss",
        )
    return loss_function


def _choice(network: dict[str, Any], key: str, default: str, known: Any, where: str) -> str:
    value = network.get(key, default)
    if value not in known:
        raise SpecError(
            f"unknown {key} {value!r} (known: {', '.join(known)})", f"{where}: network.{key}"
        )
    return value


def own_functions(used: list[Activation | Loss]) -> tuple[Activation | Loss, ...]:
    """The functions among ``used`` written in the spec (not built-ins), one each, by name."""
    from .functions import is_builtin

    own = {f.name: f for f in used if not is_builtin(f)}
    return tuple(own[name] for name in sorted(own))


def with_training(spec: Spec, overrides: dict[str, Any]) -> Spec:
    """``spec`` with ``[training]`` fields replaced, each checked as in a spec file (a
    SpecError naming the field).  Optimizer settings come with ``optimizer=`` (they are read
    together, as in a file); the schedule with ``schedule=``."""
    where = f"{spec.source} (training overrides)"
    parsed = _parse_training(dict(overrides), where)
    settings = sorted(set(overrides) & set(ALL_SETTINGS))
    if settings and "optimizer" not in overrides:
        raise SpecError(
            f"'{settings[0]}' needs optimizer= beside it (the optimizer is read as a whole)",
            f"{where}: training.{settings[0]}",
        )
    fields = {name: getattr(parsed, name) for name in overrides if name not in ALL_SETTINGS}
    return replace(spec, training=replace(spec.training, **fields))


def _parse_training(table: Any, where: str) -> Training:
    if not isinstance(table, dict):
        raise SpecError("must be a table", f"{where}: training")
    defaults = Training()
    _no_unknown(table, set(Training.__dataclass_fields__) | set(ALL_SETTINGS), "training.", where)
    lr = table.get("learning_rate", defaults.learning_rate)
    if (
        not isinstance(lr, (int, float))
        or isinstance(lr, bool)
        or not _finite(lr)
        or not lr > 0
    ):
        raise SpecError(
            f"must be a finite number > 0, not {lr!r}", f"{where}: training.learning_rate"
        )
    values: dict[str, Any] = {"learning_rate": float(lr)}
    for key, low in (("batch_size", 1), ("epochs", 1), ("seed", 0)):
        value = table.get(key, getattr(defaults, key))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= INT64_MAX:
            raise SpecError(
                f"must be an integer in {low}..{INT64_MAX}, not {value!r}",
                f"{where}: training.{key}",
            )
        values[key] = value
    drop_last = table.get("drop_last", defaults.drop_last)
    if not isinstance(drop_last, bool):
        raise SpecError("must be true or false", f"{where}: training.drop_last")
    train_biases = table.get("train_biases", defaults.train_biases)
    if not isinstance(train_biases, bool):
        raise SpecError("must be true or false", f"{where}: training.train_biases")
    values["patience"] = _parse_patience(table, where)
    return Training(
        drop_last=drop_last,
        train_biases=train_biases,
        **values,
        **parse_training_extras(table, where),
    )


def _parse_patience(table: dict[str, Any], where: str) -> int | None:
    patience = table.get("patience")
    if patience is not None and (
        not isinstance(patience, int) or isinstance(patience, bool) or patience < 1
    ):
        raise SpecError(f"must be an integer >= 1, not {patience!r}", f"{where}: training.patience")
    return patience


def _parse_data(table: Any, where: str, base_dir: Path | None, n_in: int) -> Data:
    if not isinstance(table, dict):
        raise SpecError("must be a table", f"{where}: data")
    _no_unknown(table, _DATA_KEYS, "data.", where)
    dataset = table.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise SpecError("must be a string", f"{where}: data.dataset")
    if dataset is not None and ("\0" in dataset or not dataset.strip()):
        raise SpecError("must be a file path or a built-in name", f"{where}: data.dataset")
    fraction = table.get("test_fraction", 0.0)
    if (
        not isinstance(fraction, (int, float))
        or isinstance(fraction, bool)
        or not 0 <= fraction < 1
    ):
        raise SpecError(
            f"must be a number in [0, 1), not {fraction!r}",
            f"{where}: data.test_fraction",
        )
    return Data(
        dataset=dataset,
        test_fraction=float(fraction),
        base_dir=base_dir,
        **_parse_data_options(table, where),
        **_parse_columns(table, where, n_in),
    )


_DATA_KEYS = {
    "dataset",
    "test_fraction",
    "validation_fraction",
    "target",
    "standardize",
    "samples",
    "noise",
    "features",
    "drop",
    "missing",
}

MISSING_CHOICES = ("error", "drop")
"""Values of ``data.missing``: refuse a CSV row with an empty cell, or drop it."""


def _parse_data_options(table: dict[str, Any], where: str) -> dict[str, Any]:
    """The [data] fields of the practitioner's workflow: validation, CSV target, scaling, size."""
    values: dict[str, Any] = {}
    fraction = table.get("validation_fraction", 0.0)
    if (
        not isinstance(fraction, (int, float))
        or isinstance(fraction, bool)
        or not 0 <= fraction < 1
    ):
        raise SpecError(
            f"must be a number in [0, 1), not {fraction!r}", f"{where}: data.validation_fraction"
        )
    values["validation_fraction"] = float(fraction)
    target = table.get("target")
    if target is not None and (
        isinstance(target, bool)
        or not isinstance(target, (str, int))
        or (isinstance(target, int) and target < 0)
    ):
        raise SpecError("must be a column name or an index >= 0", f"{where}: data.target")
    values["target"] = target
    standardize = table.get("standardize", False)
    if not isinstance(standardize, bool):
        raise SpecError("must be true or false", f"{where}: data.standardize")
    values["standardize"] = standardize
    samples = table.get("samples")
    if samples is not None and (
        not isinstance(samples, int) or isinstance(samples, bool) or not 2 <= samples <= MAX_SAMPLES
    ):
        big = isinstance(samples, int) and samples.bit_length() > 64
        shown = "an integer of over 64 bits" if big else repr(samples)
        raise SpecError(
            f"must be an integer in 2..{MAX_SAMPLES}, not {shown}", f"{where}: data.samples"
        )
    values["samples"] = samples
    noise = table.get("noise")
    if noise is not None and (
        not isinstance(noise, (int, float)) or isinstance(noise, bool) or not noise >= 0
    ):
        raise SpecError(f"must be a number >= 0, not {noise!r}", f"{where}: data.noise")
    values["noise"] = None if noise is None else float(noise)
    return values


def _parse_columns(table: dict[str, Any], where: str, n_in: int) -> dict[str, Any]:
    """``data.features``, ``data.drop`` and ``data.missing``: which CSV columns are inputs and
    what an empty cell does. The names are checked against the file when it is read."""
    features = _column_names(table, "features", where)
    drop = _column_names(table, "drop", where) or ()
    target = table.get("target")
    if features is not None and drop:
        raise SpecError(
            "give data.features or data.drop, not both (features already leaves the rest out)",
            f"{where}: data.drop",
        )
    if features is not None and target is None:
        raise SpecError("needs data.target beside it (the label column)", f"{where}: data.features")
    if features is not None and len(features) != n_in:
        raise SpecError(
            f"lists {counted(len(features), 'column')}, but the network takes "
            f"{counted(n_in, 'input')}",
            f"{where}: data.features",
        )
    for key, names in (("features", features or ()), ("drop", drop)):
        if isinstance(target, str) and target in names:
            raise SpecError(f"the target '{target}' is listed here too", f"{where}: data.{key}")
    missing = table.get("missing", "error")
    if missing not in MISSING_CHOICES:
        raise SpecError(
            f'must be "error" or "drop", not {missing!r}', f"{where}: data.missing"
        )
    return {"features": features, "drop": drop, "missing": missing}


def _column_names(table: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    """A list of distinct, non-empty column names, or None when the key is absent."""
    names = table.get(key)
    if names is None:
        return None
    if not isinstance(names, list) or not names:
        raise SpecError("must be a non-empty list of column names", f"{where}: data.{key}")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise SpecError(
                f"must list column names (non-empty strings), not {name!r}", f"{where}: data.{key}"
            )
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:
        raise SpecError(f"lists '{twice}' twice", f"{where}: data.{key}")
    return tuple(names)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _get(table: dict[str, Any], key: str, kind: type, where: str, prefix: str = "") -> Any:
    if key not in table:
        raise SpecError(f"missing field '{prefix}{key}'", where)
    value = table[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {str: "a string", list: "a list", dict: "a table"}
        raise SpecError(f"must be {names.get(kind, kind.__name__)}", f"{where}: {prefix}{key}")
    return value


def _no_unknown(table: dict[str, Any], known: set[str], prefix: str, where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        hint = did_you_mean(extra[0], known)
        raise SpecError(
            f"unknown field '{prefix}{extra[0]}'{hint} (known: {', '.join(sorted(known))})",
            where,
        )
