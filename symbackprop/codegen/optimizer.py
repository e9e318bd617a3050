"""An optimizer's update and a schedule's rate, printed for the generated module.

The update kernel is ``optimizers.rule`` printed by the gradients' Numba printer: one statement
per assignment, in the rule's order, named as the rule names it (``m``, ``vhat``, ``theta``).
Before printing, the mean gradient ``g`` is written ``grad / B`` (the minibatch's summed
gradient of the entry over its size) and every subexpression that stays the same within a step
(of the rate, the step counter, ``B`` and the hyperparameters) is moved out of the loop over the
entries: computed once per call in float64 and cast to the module's dtype (``c0, c1, ...``, so a
float32 module stays float32). ``sympy.cse`` then names what the statements share (``x0, ...``).
The learning rate of an epoch is ``optimizers.schedule_rate`` printed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import GenerationError
from ..spec.optimizers import TITLES, OptimizerConfig, Schedule, is_plain
from ..symbolic.optimizers import epoch, eta, eta_0, g, rule, schedule_rate, t, theta
from ..symbolic.text import text
from .printer import NumbaPrinter

KERNEL_NAMES = {
    "eta": "rate",
    "t": "step",
    "lambda": "weight_decay",
    "mu": "momentum",
    "tau": "dampening",
    "beta_1": "beta1",
    "beta_2": "beta2",
    "epsilon": "eps",
    "alpha": "alpha",
}
"""The kernel's names of the rule's step constants (torch.optim's names of the settings)."""

B = sp.Symbol("B", positive=True, integer=True)
"""The minibatch's size."""
grad = sp.Symbol("grad", real=True)
"""The minibatch's summed gradient of one entry: g = grad / B."""


@dataclass(frozen=True)
class UpdateCode:
    """The update kernel of one parameter as printed lines, for the template to lay out."""

    inline: bool
    """Inlined into the training kernel (plain SGD); stateful updates are called (shorter
    compiles)."""
    arrays: tuple[str, ...]
    """The arrays updated in place, each kept in ``old_*``: ``param`` and the state arrays."""
    scalars: tuple[str, ...]
    """The kernel's scalar arguments: ``B``, ``rate``, ``step`` if the rule uses it, then the
    hyperparameters."""
    constants: tuple[tuple[str, str], ...]
    """Per call, before the loop: name and float64 expression (the template casts to DTYPE)."""
    loads: tuple[tuple[str, str], ...]
    """Per entry: local name and the array it is read from (``theta`` from ``param``)."""
    statements: tuple[tuple[str, str], ...]
    """Per entry, in order: local name and printed expression."""
    stores: tuple[tuple[str, str], ...]
    """Per entry: the array and the local written back to it (also checked finite)."""
    equations: tuple[str, ...]
    """The rule as plain text, for the kernel's docstring."""

    def call(self, name: str, rate: str) -> str:
        """The kernel's arguments for parameter ``name`` (``W1``) in the training kernel, where
        the scalars have their own names and the rate is ``rate``."""
        arrays = [name] + [f"{array}_{name}" for array in self.arrays[1:]]
        scalars = [rate if scalar == "rate" else scalar for scalar in self.scalars]
        olds = [f"old_{array}" for array in arrays]
        return ", ".join([name, f"d{name}", *arrays[1:], *scalars, *olds])

    @property
    def signature(self) -> str:
        """The kernel's parameters, in the order of ``call``."""
        olds = [f"old_{array}" for array in self.arrays]
        return ", ".join([self.arrays[0], "dparam", *self.arrays[1:], *self.scalars, *olds])


def update_code(optimizer: OptimizerCode, float32: bool) -> UpdateCode:
    """The rule of ``optimizer.config`` as the kernel's lines (see the module docstring)."""
    update = rule(optimizer.config)
    hyper = [KERNEL_NAMES[symbol.name] for symbol in update.hyper]
    if sorted(hyper) != sorted(name for name, _ in optimizer.hyper):
        raise GenerationError(f"the kernel's hyperparameters {optimizer.hyper} are not {hyper}")
    arrays = dict(zip(update.state, optimizer.state, strict=True))
    constant_symbols = {eta, t, B, *update.hyper}
    constants: dict[sp.Expr, sp.Symbol] = {}
    current: dict[sp.Symbol, sp.Expr] = {theta: theta, g: grad / B, **{s: s for s in update.state}}
    inputs = {theta: "theta", grad: "grad", **{s: s.name for s in update.state}}
    versions: dict[sp.Symbol, str] = {}
    right_sides = []
    for number, assignment in enumerate(update.assignments):
        hoisted = _hoist(assignment.rhs.xreplace(current), constant_symbols, constants)
        right_sides.append(hoisted)
        version = sp.Symbol(f"{assignment.lhs.name}@{number}", real=True)
        versions[version] = assignment.lhs.name
        current[assignment.lhs] = version
    temporaries, reduced = sp.cse(right_sides, symbols=sp.numbered_symbols("x"))
    names = {symbol.name: name for symbol, name in versions.items()} | {
        symbol.name: KERNEL_NAMES[symbol.name] for symbol in constant_symbols if symbol != B
    }
    element = NumbaPrinter(symbols=names, float32=float32)
    wide = NumbaPrinter(symbols=names)
    statements = _ordered(temporaries, list(zip(versions, reduced, strict=True)), inputs, versions)
    stores = [("param", theta)] + [(arrays[s], s) for s in update.state]
    return UpdateCode(
        inline=optimizer.plain,
        arrays=tuple(array for array, _ in stores),
        scalars=("B", "rate")
        + (("step",) if any(e.has(t) for e in [*right_sides, *constants]) else ())
        + tuple(name for name, _ in optimizer.hyper),
        constants=tuple((str(symbol), wide.doprint(expr)) for expr, symbol in constants.items()),
        loads=tuple((inputs[s], array) for s, array in [(theta, "param"), (grad, "dparam")])
        + tuple((inputs[s], arrays[s]) for s in update.state),
        statements=tuple((str(lhs), element.doprint(rhs)) for lhs, rhs in statements),
        stores=tuple(
            (array, names.get(current[symbol].name, symbol.name)) for array, symbol in stores
        ),
        equations=tuple(f"{a.lhs} <- {text(a.rhs)}" for a in update.assignments),
    )


def _hoist(expr: sp.Basic, fixed: set[sp.Symbol], constants: dict[sp.Expr, sp.Symbol]) -> sp.Basic:
    """``expr`` with its step-constant subexpressions replaced by named constants.

    A sum's or product's constant terms or factors are grouped into one constant; a lone symbol
    stays as it is, except the rate, which arrives in float64 and is cast once like the rest.
    """

    def constant(e: sp.Basic) -> bool:
        return isinstance(e, sp.Expr) and not e.is_Number and e.free_symbols <= fixed

    def name(e: sp.Expr) -> sp.Basic:
        if e.is_Atom and e != eta:
            return e
        return constants.setdefault(e, sp.Symbol(f"c{len(constants)}", real=True))

    if constant(expr):
        return name(expr)
    if isinstance(expr, (sp.Add, sp.Mul)) and any(constant(a) for a in expr.args):
        group = expr.func(*[a for a in expr.args if constant(a)])
        rest = [_hoist(a, fixed, constants) for a in expr.args if not constant(a)]
        return expr.func(name(group), *rest)
    if expr.is_Atom:
        return expr
    return expr.func(*[_hoist(a, fixed, constants) for a in expr.args])


def _ordered(
    temporaries: list[tuple[sp.Symbol, sp.Expr]],
    statements: list[tuple[sp.Symbol, sp.Expr]],
    inputs: dict[sp.Symbol, str],
    versions: dict[sp.Symbol, str],
) -> list[tuple[str, sp.Expr]]:
    """The statements with each common subexpression placed before its first use.

    A name the rule assigns twice (``g``, ``theta``) is one Python local; every line must read
    the latest value of each name it uses (else the rule could not run in order).
    """
    pending = dict(temporaries)
    named = inputs | versions
    latest = {name: symbol for symbol, name in inputs.items()}
    lines: list[tuple[str, sp.Expr]] = []

    def emit(lhs: sp.Symbol, rhs: sp.Expr) -> None:
        for symbol in sorted(rhs.free_symbols & set(pending), key=str):
            emit(symbol, pending.pop(symbol))
        for symbol in rhs.free_symbols & set(named):
            if latest[named[symbol]] != symbol:
                raise GenerationError(f"{rhs} reads {symbol} after it was reassigned")
        name = named.get(lhs, str(lhs))
        latest[name] = lhs
        lines.append((name, rhs))

    for lhs, rhs in statements:
        emit(lhs, rhs)
    return lines


@dataclass(frozen=True)
class ScheduleCode:
    """The learning rate of an epoch as printed code, and as the rule reads."""

    rate: str
    """In ``learning_rate`` (the base rate) and ``epoch`` (from 0)."""
    equation: str


def schedule_code(optimizer: OptimizerCode) -> ScheduleCode:
    """``optimizers.schedule_rate`` printed (a constant rate: the base rate)."""
    schedule = optimizer.schedule
    rate = eta_0 if schedule is None else schedule_rate(schedule)[1]
    printer = NumbaPrinter(symbols={eta_0.name: "learning_rate", epoch.name: "epoch"})
    return ScheduleCode(printer.doprint(rate), f"eta = {text(rate)}")


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
        """The extra arguments of ``_train``: rates, step and epoch counters, state arrays,
        hyperparameters."""
        if self.plain:
            return ""
        names = ["rates", "steps", "epoch_count"] + self.arrays(param_names)
        names += [k for k, _ in self.hyper]
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
