"""Optimizer, schedule and initialisation settings of a spec's ``[training]`` table.

What a spec may say (names, settings, their ranges) and how it is parsed; the update rules
themselves (SymPy assignments, as torch.optim defines them) are ``symbolic.optimizers``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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


def is_plain(optimizer: OptimizerConfig, schedule: Schedule | None) -> bool:
    """Plain minibatch SGD at a constant rate: the module keeps its original, stateless kernel."""
    return (
        optimizer.name == "sgd"
        and optimizer.momentum == 0
        and optimizer.weight_decay == 0
        and schedule is None
    )


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


TITLES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
"""Each optimizer's name as torch.optim spells it."""
