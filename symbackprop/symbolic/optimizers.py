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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..spec.optimizers import TITLES, OptimizerConfig, Schedule

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


def schedule_rates(schedule: Schedule, learning_rate: float, first: int, count: int) -> np.ndarray:
    """The learning rate of epochs ``first .. first + count - 1``: ``schedule_rate``
    evaluated with NumPy."""
    _, rate, _ = schedule_rate(schedule)
    function = sp.lambdify([eta_0, epoch], rate, "numpy")
    epochs = np.arange(first, first + count, dtype=np.float64)
    return np.asarray(function(learning_rate, epochs), dtype=np.float64) + 0 * epochs
