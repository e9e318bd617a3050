"""The numbers of a worked example: one sample's pass through the generated module and one step.

The lecturer picks the initial weights (an ``.npz`` in the format of ``symbackprop.run.weights``),
the sample (an index into the training data) or gets the first informative one; the module's
``intermediates`` give every forward and backward value and its training kernel takes one step
of the spec's optimizer, checked here against the update rule (``reference_trace``).  How the
numbers are laid out is ``render.example``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import SymbackpropError
from ..pipeline import cached_module
from ..render.example import WorkedExample, shown_entries
from ..spec.model import Spec, Training
from ..spec.optimizers import TITLES, OptimizerConfig
from ..symbolic.derivation import Derivation
from ..symbolic.optimizers import epoch, eta_0, reference_trace, rule, schedule_rate
from .gradcheck import central_differences, difference_step, relative_difference, sample_data

MAX_SEARCHED = 1000
"""How many samples the default choice looks through for one with no all-zero gradient."""


def worked_example(
    derivation: Derivation,
    X: np.ndarray | None = None,
    Y: np.ndarray | None = None,
    seed: int = 0,
    params: list[np.ndarray] | None = None,
    sample: int | None = None,
    weights: Path | None = None,
    fd: bool = False,
) -> WorkedExample:
    """Run the pass and the step; ``sample`` indexes X (default: first with nonzero gradients);
    ``fd``: a central difference of the module's loss at every gradient entry printed."""

    spec = derivation.network.spec
    module = cached_module(derivation.network.spec, derivation)
    if params is None:
        params = module.init_params(seed)
    params = [np.array(param, dtype=module.DTYPE) for param in params]
    chosen = False
    if X is None or Y is None:
        if sample is not None:
            raise SymbackpropError(
                "the spec has no training data to pick a sample from (set data.dataset)",
                "--sample",
            )
        X, Y = sample_data(module, 1, seed)
        index = None
    elif sample is not None:
        if not 0 <= sample < len(X):
            raise SymbackpropError(
                f"sample {sample} is out of range: the training data has {len(X)} samples "
                f"(0 to {len(X) - 1})",
                "--sample",
            )
        index = sample
    else:
        index = _first_informative(module, params, X, Y)
        chosen = True
    row = slice(index or 0, (index or 0) + 1)
    values = module.intermediates(params, X[row], Y[row])
    values.update(dict(zip(module.PARAM_NAMES, params)))
    values["Y"] = np.asarray(Y[row], dtype=np.float64).reshape(1, -1)
    stepped = [param.copy() for param in params]
    base_rate = spec.training.learning_rate
    state = module.init_state(stepped) if hasattr(module, "init_state") else None
    keywords = {} if state is None else {"state": state}
    one = np.zeros((1, 1), dtype=np.int64)
    module.train_with_order(stepped, X[row], Y[row], one, base_rate, 1, **keywords)
    new_params = dict(zip(module.PARAM_NAMES, stepped))
    _check_finite(values, new_params, weights)
    training = spec.training
    rate = first_rate(training)
    traces = {
        name: reference_trace(training.optimizer, values[name], values["d" + name], {}, 1, rate)
        for name in module.PARAM_NAMES
        if training.train_biases or name.startswith("W")
    }
    kinds = getattr(module, "STATE", ())
    _check_step(training.optimizer, traces, values, new_params, state, kinds, module.DTYPE)
    example = WorkedExample(
        values, new_params, index, chosen, weights, training.optimizer, rate,
        training.train_biases, traces,
    )  # fmt: skip
    return with_differences(example, module, params, X[row], Y[row]) if fd else example


def with_differences(
    example: WorkedExample, module, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray  # noqa: ANN001
) -> WorkedExample:
    """The example with ``gradcheck.central_difference`` of the module's loss on its sample at
    each printed gradient entry (the loss alone: no gradient of the module is read)."""
    h = difference_step(params[0].dtype)
    moved = [param.copy() for param in params]
    differences = {
        name: central_differences(
            lambda ps: module.loss(ps, X, Y), moved, n, shown_entries(example.values["d" + name]), h
        )
        for n, name in enumerate(module.PARAM_NAMES)
    }
    relative = {
        name: relative_difference(fd, example.values["d" + name])
        for name, fd in differences.items()
    }
    return replace(
        example, differences=differences, difference_step=h, relative_differences=relative
    )


def first_rate(training: Training) -> float:
    """The learning rate of epoch 0: the schedule's rule at e = 0, or the spec's rate."""
    if training.schedule is None:
        return training.learning_rate
    _, rate, _ = schedule_rate(training.schedule)
    return float(rate.subs({eta_0: training.learning_rate, epoch: 0}))


def _first_informative(module, params, X, Y) -> int:  # noqa: ANN001
    """The first sample whose gradients have no all-zero array (0 if none in MAX_SEARCHED)."""
    for index in range(min(len(X), MAX_SEARCHED)):
        values = module.intermediates(params, X[index : index + 1], Y[index : index + 1])
        if all(np.any(values["d" + name] != 0) for name in module.PARAM_NAMES):
            return index
    return 0


def _check_finite(
    values: dict[str, np.ndarray], new_params: dict[str, np.ndarray], weights: Path | None
) -> None:
    """An example whose pass or step overflows (inf or nan) is refused, naming the first array."""
    for name, array in [*values.items(), *((f"new {k}", v) for k, v in new_params.items())]:
        if not np.all(np.isfinite(array)):
            cause = f"the weights in {weights} are" if weights is not None else "the weights are"
            raise SymbackpropError(
                f"{name} is not finite (inf or nan): {cause} too large for a worked example",
                "--example",
            )


def _check_step(
    optimizer: OptimizerConfig,
    traces: dict[str, list[dict[str, np.ndarray]]],
    values: dict[str, np.ndarray],
    new_params: dict[str, np.ndarray],
    state: dict[str, np.ndarray] | None,
    kinds: tuple[str, ...],
    dtype: type,
) -> None:
    """The module's step (parameters and its state arrays ``kinds``) against the rule evaluated
    on numbers; parameters the module does not train must not move."""
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    symbols = dict(zip(kinds, (s.name for s in rule(optimizer).state), strict=True))
    for name, new in new_params.items():
        expected = {name: traces[name][-1]["theta"] if name in traces else values[name]}
        if name in traces and state is not None:  # the module's state arrays are the rule's
            expected |= {f"{k}_{name}": traces[name][-1][symbols[k]] for k in kinds}
        for key, value in expected.items():
            ours = new if key == name else state[key]
            if not np.allclose(ours, value, rtol=rtol, atol=rtol):
                raise SymbackpropError(
                    f"the module's {TITLES[optimizer.name]} step on {key} disagrees with the "
                    "update rule",
                    "--example",
                )


def example_for_spec(
    spec: Spec,
    derivation: Derivation,
    weights: Path | str | None = None,
    sample: int | None = None,
    fd: bool = False,
) -> WorkedExample:
    """The worked example of a spec: its training data, the given weights or init_params;
    ``fd``: with central differences beside the printed gradients."""
    from ..run.data import BUILTIN_DATASETS, load_data
    from ..run.weights import input_scaling, load_weights
    from .runner import standardize

    X = Y = None
    if spec.data.dataset is not None or spec.name in BUILTIN_DATASETS:
        data = load_data(spec)
        X, Y = data.X_train, data.Y_train
    params = None
    if weights is not None:
        dtype = np.float32 if spec.dtype == "float32" else np.float64
        params, extras = load_weights(Path(weights), spec, dtype)
        scaling = input_scaling(spec, extras, str(weights))
        if X is not None:
            X = standardize(X, scaling)  # the network's input, as in training
    if sample is not None and sample < 0:
        raise SymbackpropError(f"must be >= 0, not {sample}", "--sample")
    return worked_example(
        derivation,
        X,
        Y,
        seed=spec.training.seed,
        params=params,
        sample=sample,
        weights=Path(weights) if weights is not None else None,
        fd=fd,
    )


def example_values(
    derivation: Derivation, X: np.ndarray | None = None, Y: np.ndarray | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """One sample's pass through the generated module: every array by name, params and Y too."""

    module = cached_module(derivation.network.spec, derivation)
    if X is None or Y is None:
        X, Y = sample_data(module, 1, seed)
    params = module.init_params(seed)
    values = module.intermediates(params, X[:1], Y[:1])
    values.update(dict(zip(module.PARAM_NAMES, params)))
    values["Y"] = np.asarray(Y[:1], dtype=np.float64).reshape(1, -1)
    return values
