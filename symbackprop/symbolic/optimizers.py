"""Optimizers, learning-rate schedules and weight initialisations, as torch.optim defines them.

Each optimizer is data: the SymPy assignments of its state and update (``rule``), used for the
document's update section and, evaluated numerically (``reference_trace``), to check the
generated kernels. The spec's ``[training]`` fields are parsed here (``parse_training_extras``)
and the module template receives an ``OptimizerCode`` (what to allocate and pass) and the rule
printed by ``update_code``.

Conventions, as in ``torch.optim``: ``g`` is the gradient of the minibatch's mean loss; the
step counter ``t`` starts at 1; a schedule sets the learning rate of epoch ``e`` (from 0) and
changes it between epochs, as ``scheduler.step()`` called once after each epoch does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..errors import SpecError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("step", "exponential", "cosine")
INITS = ("torch", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal")

SETTINGS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "dampening", "nesterov", "weight_decay"),
    "adam": ("betas", "eps", "weight_decay", "amsgrad"),
    "adamw": ("betas", "eps", "weight_decay", "amsgrad"),
    "rmsprop": ("alpha", "eps", "momentum", "centered", "weight_decay"),
}
"""The [training] fields each optimizer takes, named as torch.optim names them."""

ALL_SETTINGS = ("momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "alpha")
ALL_SETTINGS += ("centered", "amsgrad")


@dataclass(frozen=True)
class OptimizerConfig:
    """An optimizer and its hyperparameters, with torch.optim's defaults."""

    name: str = "sgd"
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    alpha: float = 0.99
    centered: bool = False
    amsgrad: bool = False

    def settings(self) -> dict[str, Any]:
        """The hyperparameters this optimizer uses, by torch name."""
        return {key: getattr(self, key) for key in SETTINGS[self.name]}


@dataclass(frozen=True)
class Schedule:
    """A per-epoch learning-rate schedule (torch.optim.lr_scheduler)."""

    kind: str
    step_size: int = 0
    gamma: float = 0.1
    T_max: int = 0
    eta_min: float = 0.0

    def settings(self) -> dict[str, Any]:
        """The schedule's fields, by torch name."""
        keys = {"step": ("step_size", "gamma"), "exponential": ("gamma",)}
        return {"kind": self.kind} | {
            key: getattr(self, key) for key in keys.get(self.kind, ("T_max", "eta_min"))
        }

    def rates(self, learning_rate: float, first: int, count: int) -> np.ndarray:
        """The learning rate of epochs ``first .. first + count - 1``: ``schedule_rate``
        evaluated with NumPy."""
        _, rate, _ = schedule_rate(self)
        function = sp.lambdify([eta_0, epoch], rate, "numpy")
        epochs = np.arange(first, first + count, dtype=np.float64)
        return np.asarray(function(learning_rate, epochs), dtype=np.float64) + 0 * epochs


def is_plain(optimizer: OptimizerConfig, schedule: Schedule | None) -> bool:
    """Plain minibatch SGD at a constant rate: the module keeps its original, stateless kernel."""
    return (
        optimizer.name == "sgd"
        and optimizer.momentum == 0
        and optimizer.weight_decay == 0
        and schedule is None
    )


# ---------------------------------------------------------------------------------------------
# Parsing the spec's [training] fields


def parse_training_extras(table: dict[str, Any], where: str) -> dict[str, Any]:
    """``optimizer``, its settings, ``schedule`` and ``init`` from a [training] table."""
    name = table.get("optimizer", "sgd")
    if name not in OPTIMIZERS:
        raise SpecError(
            f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZERS)})",
            f"{where}: training.optimizer",
        )
    allowed = SETTINGS[name]
    values: dict[str, Any] = {"name": name}
    for key in ALL_SETTINGS:
        if key not in table:
            continue
        field_where = f"{where}: training.{key}"
        if key not in allowed:
            raise SpecError(
                f"not a setting of optimizer '{name}' (its settings: {', '.join(allowed)})",
                field_where,
            )
        value = table[key]
        if key in ("nesterov", "centered", "amsgrad"):
            if not isinstance(value, bool):
                raise SpecError("must be true or false", field_where)
        elif key == "betas":
            if not isinstance(value, list) or len(value) != 2:
                raise SpecError("must be a list of two numbers in [0, 1)", field_where)
            value = tuple(_number(v, field_where, 0.0, 1.0, high_open=True) for v in value)
        elif key == "eps":
            value = _number(value, field_where, 0.0)
        elif key in ("alpha", "dampening"):
            value = _number(value, field_where, 0.0, 1.0)
        else:
            value = _number(value, field_where, 0.0)
        values[key] = value
    if name == "adamw" and "weight_decay" not in table:
        values["weight_decay"] = 0.01  # torch.optim.AdamW's default
    config = OptimizerConfig(**values)
    if config.nesterov and (config.momentum <= 0 or config.dampening != 0):
        raise SpecError(
            "nesterov needs momentum > 0 and dampening = 0 (as in torch.optim.SGD)",
            f"{where}: training.nesterov",
        )
    init = table.get("init", "torch")
    if init not in INITS:
        raise SpecError(
            f"unknown init {init!r} (known: {', '.join(INITS)})", f"{where}: training.init"
        )
    schedule = _parse_schedule(table["schedule"], where) if "schedule" in table else None
    return {"optimizer": config, "schedule": schedule, "init": init}


def _parse_schedule(table: Any, where: str) -> Schedule:
    prefix = f"{where}: training.schedule"
    if not isinstance(table, dict):
        raise SpecError("must be a table", prefix)
    kind = table.get("kind")
    if kind not in SCHEDULES:
        raise SpecError(
            f"kind must be one of {', '.join(SCHEDULES)}, not {kind!r}", f"{prefix}.kind"
        )
    fields = {"step": ("step_size", "gamma"), "exponential": ("gamma",)}
    fields_cosine = ("T_max", "eta_min")
    known = fields.get(kind, fields_cosine)
    required = {"step": ("step_size",), "exponential": ("gamma",), "cosine": ("T_max",)}[kind]
    unknown = sorted(set(table) - set(known) - {"kind"})
    if unknown:
        raise SpecError(
            f"not a setting of schedule '{kind}' (its settings: {', '.join(known)})",
            f"{prefix}.{unknown[0]}",
        )
    for key in required:
        if key not in table:
            raise SpecError(f"missing field 'training.schedule.{key}' for kind '{kind}'", where)
    values: dict[str, Any] = {"kind": kind}
    for key in known:
        if key not in table:
            continue
        value = table[key]
        if key in ("step_size", "T_max"):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63:
                raise SpecError(
                    f"must be an integer in 1..{2**63 - 1}, not {value!r}", f"{prefix}.{key}"
                )
        elif key == "gamma":
            value = _number(value, f"{prefix}.{key}", 0.0, positive=True)
        else:
            value = _number(value, f"{prefix}.{key}", 0.0)
        values[key] = value
    return Schedule(**values)


def _number(
    value: Any,
    where: str,
    low: float,
    high: float | None = None,
    high_open: bool = False,
    positive: bool = False,
) -> float:
    """A finite number in [low, high] (or (low, ...) when ``positive``, [low, high) when open)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not _finite(value):
        raise SpecError(f"must be a finite number, not {value!r}", where)
    bad = value <= low if positive else value < low
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        right = "" if high is None else f", {high}{')' if high_open else ']'}"
        left = f"({low}" if positive else f"[{low}"
        span = (
            f"in {left}{right}" if high is not None else (f"> {low}" if positive else f">= {low}")
        )
        raise SpecError(f"must be {span}, not {value!r}", where)
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


# ---------------------------------------------------------------------------------------------
# The update rules as SymPy assignments

theta = sp.Symbol("theta", real=True)
"""Any one parameter (an entry of some W or b)."""
g = sp.Symbol("g", real=True)
eta = sp.Symbol("eta", positive=True)
t = sp.Symbol("t", positive=True, integer=True)
lam = sp.Symbol("lambda", nonnegative=True)
mu = sp.Symbol("mu", nonnegative=True)
tau = sp.Symbol("tau", nonnegative=True)
beta1, beta2 = sp.symbols("beta_1 beta_2", positive=True)
epsilon = sp.Symbol("epsilon", positive=True)
alpha = sp.Symbol("alpha", positive=True)
u = sp.Symbol("u", real=True)
"""The momentum buffer (torch's b; u here, as b is a bias)."""
m = sp.Symbol("m", real=True)
v = sp.Symbol("v", nonnegative=True)
v_max = sp.Symbol("v_max", nonnegative=True)
g_avg = sp.Symbol("gbar", real=True)
m_hat = sp.Symbol("mhat", real=True)
v_hat = sp.Symbol("vhat", nonnegative=True)
denominator = sp.Symbol("d", positive=True)


class Descent(sp.Expr):
    """``theta - step``, printed in that order (SymPy would put theta last); ``doit`` subtracts."""

    def doit(self, **hints: object) -> sp.Expr:
        return self.args[0].doit(**hints) - self.args[1].doit(**hints)

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        first, second = self.args
        return f"{printer._print(first)} - {printer.parenthesize(second, PRECEDENCE['Add'])}"

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        first, second = self.args
        return f"{printer._print(first)} - {printer.parenthesize(second, PRECEDENCE['Add'])}"

    def _pythoncode(self, printer: sp.printing.printer.Printer) -> str:
        first, second = self.args
        return f"{printer._print(first)} - {printer.parenthesize(second, PRECEDENCE['Add'])}"


@dataclass(frozen=True)
class Assignment:
    """``lhs <- rhs``, executed in order once per step; ``why`` is a short LaTeX-ready note."""

    lhs: sp.Symbol
    rhs: sp.Expr
    why: str


TITLES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
"""Each optimizer's name as torch.optim spells it."""


@dataclass(frozen=True)
class Rule:
    """An optimizer's update: state (zero at the start) and the assignments of one step."""

    name: str
    state: tuple[sp.Symbol, ...]
    assignments: tuple[Assignment, ...]
    hyper: dict[sp.Symbol, float] = field(default_factory=dict)


def rule(config: OptimizerConfig) -> Rule:
    """The update of one parameter ``theta`` with gradient ``g`` at step ``t``."""
    steps: list[Assignment] = []
    hyper: dict[sp.Symbol, float] = {}
    state: list[sp.Symbol] = []
    wd = config.weight_decay != 0
    decoupled = config.name == "adamw"
    if wd:
        hyper[lam] = config.weight_decay
        if decoupled:
            steps.append(Assignment(theta, theta * (1 - eta * lam), "decoupled weight decay"))
        else:
            steps.append(Assignment(g, g + lam * theta, "weight decay (L2 penalty)"))
    if config.name == "sgd":
        if config.momentum != 0:
            hyper |= {mu: config.momentum, tau: config.dampening}
            state.append(u)
            steps.append(
                Assignment(
                    u,
                    sp.Piecewise((g, sp.Eq(t, 1)), (mu * u + (1 - tau) * g, True)),
                    "momentum buffer",
                )
            )
            if config.nesterov:
                steps.append(Assignment(g, g + mu * u, "Nesterov momentum"))
            else:
                steps.append(Assignment(g, u, "momentum"))
        steps.append(Assignment(theta, Descent(theta, eta * g), "gradient descent"))
    elif config.name in ("adam", "adamw"):
        hyper |= {beta1: config.betas[0], beta2: config.betas[1], epsilon: config.eps}
        state += [m, v]
        steps.append(Assignment(m, beta1 * m + (1 - beta1) * g, "first moment"))
        steps.append(Assignment(v, beta2 * v + (1 - beta2) * g**2, "second moment"))
        second = v
        if config.amsgrad:
            state.append(v_max)
            steps.append(Assignment(v_max, sp.Max(v_max, v), "AMSGrad: the largest v so far"))
            second = v_max
        steps.append(Assignment(m_hat, m / (1 - beta1**t), "bias correction"))
        steps.append(Assignment(v_hat, second / (1 - beta2**t), "bias correction"))
        steps.append(
            Assignment(
                theta,
                Descent(theta, eta * m_hat / (sp.sqrt(v_hat) + epsilon)),
                TITLES[config.name] + " step",
            )
        )
    else:
        hyper |= {alpha: config.alpha, epsilon: config.eps}
        state.append(v)
        steps.append(Assignment(v, alpha * v + (1 - alpha) * g**2, "mean square"))
        second = v
        if config.centered:
            state.append(g_avg)
            steps.append(Assignment(g_avg, alpha * g_avg + (1 - alpha) * g, "mean gradient"))
            second = v - g_avg**2
        steps.append(Assignment(denominator, sp.sqrt(second) + epsilon, "RMS of the gradient"))
        if config.momentum != 0:
            hyper[mu] = config.momentum
            state.append(u)
            steps.append(Assignment(u, mu * u + g / denominator, "momentum buffer"))
            steps.append(Assignment(theta, Descent(theta, eta * u), "RMSprop step with momentum"))
        else:
            steps.append(Assignment(theta, Descent(theta, eta * g / denominator), "RMSprop step"))
    return Rule(config.name, tuple(state), tuple(steps), hyper)


def reference_trace(
    config: OptimizerConfig,
    param: np.ndarray,
    grad: np.ndarray,
    state: dict[str, np.ndarray],
    step: int,
    learning_rate: float,
) -> list[dict[str, np.ndarray]]:
    """The values of the rule's symbols before each assignment of ``rule(config)`` and after
    the last, evaluated with NumPy from the SymPy expressions (float64).

    ``state`` maps state symbols' names to arrays (missing ones start at zero).
    """
    current = _rule_and_functions(config)
    values: dict[str, Any] = {"theta": param.astype(np.float64), "g": grad.astype(np.float64)}
    for symbol in current[0].state:
        values[symbol.name] = state.get(symbol.name, np.zeros_like(values["theta"]))
    constants = {"t": step, "eta": learning_rate}
    trace = [dict(values)]
    for assignment, function, arguments in current[1]:
        inputs = [values[s] if s in values else constants.get(s, 0) for s in arguments]
        value = np.asarray(function(*inputs), dtype=np.float64) + 0 * values["theta"]
        values[assignment.lhs.name] = value
        trace.append(dict(values))
    return trace


_FUNCTIONS: dict[OptimizerConfig, tuple[Rule, list[tuple[Assignment, Callable, list[str]]]]] = {}


def _rule_and_functions(
    config: OptimizerConfig,
) -> tuple[Rule, list[tuple[Assignment, Callable, list[str]]]]:
    if config not in _FUNCTIONS:
        update = rule(config)
        compiled = []
        for assignment in update.assignments:
            expr = assignment.rhs.doit().subs(update.hyper)
            symbols = sorted(expr.free_symbols, key=lambda s: s.name)
            compiled.append(
                (assignment, sp.lambdify(symbols, expr, "numpy"), [s.name for s in symbols])
            )
        _FUNCTIONS[config] = (update, compiled)
    return _FUNCTIONS[config]


epoch = sp.Symbol("e", nonnegative=True, integer=True)
"""The epoch, counted from 0."""
eta_0 = sp.Symbol("eta_0", positive=True)
"""The base learning rate (the spec's)."""


def schedule_rate(schedule: Schedule) -> tuple[sp.Symbol, sp.Expr, str]:
    """The learning rate of epoch ``e`` as a SymPy expression in the base rate eta_0."""
    e, eta0 = epoch, eta_0
    if schedule.kind == "step":
        rate = eta0 * sp.Float(schedule.gamma) ** sp.floor(e / schedule.step_size)
        why = "step schedule (StepLR)"
    elif schedule.kind == "exponential":
        rate = eta0 * sp.Float(schedule.gamma) ** e
        why = "exponential schedule (ExponentialLR)"
    else:
        eta_min = sp.Float(schedule.eta_min) if schedule.eta_min else sp.Integer(0)
        rate = eta_min + (eta0 - eta_min) * (1 + sp.cos(sp.pi * e / schedule.T_max)) / 2
        why = "cosine schedule (CosineAnnealingLR)"
    return eta, rate, why + r"; $e$ counts epochs from 0; $\eta_0$ is the base learning rate"


# ---------------------------------------------------------------------------------------------
# What the module template needs


@dataclass(frozen=True)
class OptimizerCode:
    """The optimizer part of a generated module, decided here and laid out by the template."""

    plain: bool
    config: OptimizerConfig
    schedule: Schedule | None
    init: str
    state: tuple[str, ...]
    """Per-parameter state arrays, named as torch.optim's state (exp_avg_W1, exp_avg_b1, ...)."""
    hyper: tuple[tuple[str, str], ...]
    """Kernel scalar arguments and the Python expression (of the keyword arguments) passing each."""
    keywords: tuple[tuple[str, str], ...]
    """Keyword arguments of train/train_with_order and their defaults (Python literals)."""

    @property
    def title(self) -> str:
        """The optimizer's name as torch.optim spells it: SGD, Adam, AdamW, RMSprop."""
        return TITLES[self.config.name]

    def arrays(self, param_names: list[str]) -> list[str]:
        """The state arrays, per parameter then per kind: ``exp_avg_W1, exp_avg_sq_W1, ...``."""
        return [f"{kind}_{name}" for name in param_names for kind in self.state]

    def kernel_args(self, param_names: list[str]) -> str:
        """The extra arguments of ``_train``: rates, step counter, state arrays, hyperparameters."""
        if self.plain:
            return ""
        names = ["rates", "steps"] + self.arrays(param_names) + [k for k, _ in self.hyper]
        return ", " + ", ".join(names)

    @property
    def signature(self) -> str:
        """``state=None, betas=(0.9, 0.999), ...`` for the wrappers' signatures."""
        return ", ".join(["state=None"] + [f"{k}={d}" for k, d in self.keywords])

    @property
    def forwarding(self) -> str:
        """``state=state, betas=betas, ...`` to pass the keywords on."""
        return ", ".join(["state=state"] + [f"{k}={k}" for k, _ in self.keywords])


def optimizer_code(config: OptimizerConfig, schedule: Schedule | None, init: str) -> OptimizerCode:
    """What the module template needs to emit this optimizer."""
    name = config.name
    state: list[str] = []
    hyper: list[tuple[str, str]] = []
    keywords: list[tuple[str, str]] = []
    if name == "sgd":
        if config.momentum != 0:
            state.append("momentum_buffer")
            keywords += [("momentum", repr(config.momentum)), ("dampening", repr(config.dampening))]
            hyper += [("momentum", "momentum"), ("dampening", "dampening")]
    elif name in ("adam", "adamw"):
        state += ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if config.amsgrad else [])
        keywords += [("betas", repr(tuple(config.betas))), ("eps", repr(config.eps))]
        hyper += [("beta1", "betas[0]"), ("beta2", "betas[1]"), ("eps", "eps")]
    else:
        state += ["square_avg"] + (["grad_avg"] if config.centered else [])
        keywords += [("alpha", repr(config.alpha)), ("eps", repr(config.eps))]
        hyper += [("alpha", "alpha"), ("eps", "eps")]
        if config.momentum != 0:
            state.append("momentum_buffer")
            keywords.append(("momentum", repr(config.momentum)))
            hyper.append(("momentum", "momentum"))
    if config.weight_decay != 0:
        keywords.append(("weight_decay", repr(config.weight_decay)))
        hyper.append(("weight_decay", "weight_decay"))
    return OptimizerCode(
        plain=is_plain(config, schedule),
        config=config,
        schedule=schedule,
        init=init,
        state=tuple(state),
        hyper=tuple(hyper),
        keywords=tuple(keywords),
    )


INIT_FORMULAS: dict[str, tuple[str, str, str, str]] = {
    "xavier_uniform": (
        "uniform",
        "math.sqrt(6.0 / (n_in + n_out))",
        "torch.nn.init.xavier_uniform_ (gain 1)",
        "uniform in [-bound, bound], bound = sqrt(6 / (n_in + n_out))",
    ),
    "xavier_normal": (
        "normal",
        "math.sqrt(2.0 / (n_in + n_out))",
        "torch.nn.init.xavier_normal_ (gain 1)",
        "normal with mean 0, std = sqrt(2 / (n_in + n_out))",
    ),
    "he_uniform": (
        "uniform",
        "math.sqrt(6.0 / n_in)",
        "torch.nn.init.kaiming_uniform_ (a=0, mode='fan_in', nonlinearity='relu')",
        "uniform in [-bound, bound], bound = sqrt(2) * sqrt(3 / n_in) = sqrt(6 / n_in)",
    ),
    "he_normal": (
        "normal",
        "math.sqrt(2.0 / n_in)",
        "torch.nn.init.kaiming_normal_ (a=0, mode='fan_in', nonlinearity='relu')",
        "normal with mean 0, std = sqrt(2) / sqrt(n_in)",
    ),
}
"""Per init: the draw, its bound or std in n_in/n_out, torch's function, and the formula."""


# ---------------------------------------------------------------------------------------------
# The document's update section


def update_steps(training: Any, batch_loss: sp.Symbol) -> list[Any]:
    """The update section's steps: the schedule's rate, then the optimizer's assignments.

    ``training`` is the spec's Training; ``batch_loss`` the symbol of the minibatch's mean loss.
    """
    from .derivation import Step, partial

    config: OptimizerConfig = training.optimizer
    update = rule(config)
    steps = []
    if training.schedule is not None:
        lhs, rate, why = schedule_rate(training.schedule)
        steps.append(Step("update", lhs, (rate,), why))
    values = ", ".join(
        f"${sp.latex(symbol)} = {value:g}$" for symbol, value in update.hyper.items()
    )
    what = "weight and bias" if getattr(training, "train_biases", True) else "weight"
    name = TITLES[config.name] + (" (AMSGrad)" if config.amsgrad else "")
    name += " (centered)" if config.centered else ""
    steps.append(
        Step(
            "update",
            g,
            (partial(batch_loss, theta),),
            rf"{name} as in torch.optim, for every {what} $\theta$, at step "
            r"$t = 1, 2, ...$ (one per minibatch; state starts at 0); $\bar{L}$ is the mean "
            r"of $L$ over the minibatch" + (f"; {values}" if values else ""),
            relation=r"\leftarrow",
        )
    )
    for assignment in update.assignments:
        steps.append(
            Step(
                "update", assignment.lhs, (assignment.rhs,), assignment.why, relation=r"\leftarrow"
            )
        )
    return steps
