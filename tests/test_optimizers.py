"""Optimizers, schedules and initialisations against torch.optim / torch.nn.init.

Each generated training kernel trains the same network as PyTorch (float64, same initial
weights, same minibatch order) for several epochs; parameters and per-epoch losses must agree
to 1e-10 relative. The SymPy update rules (what the document prints) are checked step by step
against torch.optim too.
"""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pytest
from conftest import import_torch, module_for, sample

from symbackprop.errors import SpecError
from symbackprop.render.steps import derivation_steps
from symbackprop.spec.model import parse_spec
from symbackprop.spec.optimizers import OptimizerConfig, parse_training_extras
from symbackprop.symbolic.optimizers import reference_trace, rule, schedule_rates

torch = import_torch()

RTOL = 1e-10

CASES: list[tuple[str, dict[str, Any]]] = [
    ("sgd_momentum", {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.9}),
    (
        "sgd_dampening_wd",
        {"learning_rate": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05},
    ),
    ("sgd_nesterov", {"learning_rate": 0.1, "momentum": 0.7, "nesterov": True}),
    ("sgd_wd", {"learning_rate": 0.2, "weight_decay": 0.01}),
    ("adam", {"optimizer": "adam", "learning_rate": 0.01}),
    ("adam_amsgrad", {"optimizer": "adam", "learning_rate": 0.02, "amsgrad": True}),
    (
        "adam_wd_betas",
        {"optimizer": "adam", "learning_rate": 0.01, "weight_decay": 0.1, "betas": [0.8, 0.99]},
    ),
    ("adamw", {"optimizer": "adamw", "learning_rate": 0.01}),
    (
        "adamw_amsgrad",
        {"optimizer": "adamw", "learning_rate": 0.02, "amsgrad": True, "weight_decay": 0.1},
    ),
    ("rmsprop", {"optimizer": "rmsprop", "learning_rate": 0.01}),
    ("rmsprop_centered", {"optimizer": "rmsprop", "learning_rate": 0.01, "centered": True}),
    (
        "rmsprop_momentum_wd",
        {"optimizer": "rmsprop", "learning_rate": 0.005, "momentum": 0.5, "weight_decay": 0.01},
    ),
    (
        "rmsprop_all",
        {
            "optimizer": "rmsprop",
            "learning_rate": 0.005,
            "alpha": 0.9,
            "eps": 1e-6,
            "centered": True,
            "momentum": 0.3,
            "weight_decay": 0.02,
        },
    ),
    (
        "step_sgd",
        {"learning_rate": 0.3, "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5}},
    ),
    (
        "exponential_adam",
        {
            "optimizer": "adam",
            "learning_rate": 0.02,
            "schedule": {"kind": "exponential", "gamma": 0.7},
        },
    ),
    (
        "cosine_sgd_momentum",
        {
            "learning_rate": 0.1,
            "momentum": 0.9,
            "schedule": {"kind": "cosine", "T_max": 3, "eta_min": 0.001},
        },
    ),
    (
        "cosine_rmsprop",
        {"optimizer": "rmsprop", "learning_rate": 0.01, "schedule": {"kind": "cosine", "T_max": 4}},
    ),
]

EPOCHS = 6
N, BATCH = 23, 8  # the last batch of each epoch holds 7 samples


def _spec(name: str, training: dict[str, Any], dtype: str = "float64"):  # noqa: ANN202
    network = {
        "layers": [3, 5, 2],
        "activation": "tanh",
        "output": "softmax",
        "loss": "cross_entropy",
        "dtype": dtype,
    }
    training = {"batch_size": BATCH, **training}
    return parse_spec({"name": f"opt_{name}", "network": network, "training": training})


def _torch_optimizer(spec, params):  # noqa: ANN001, ANN202
    config = spec.training.optimizer
    lr = spec.training.learning_rate
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": config.weight_decay}
    if config.name == "sgd":
        kwargs |= {
            "momentum": config.momentum,
            "dampening": config.dampening,
            "nesterov": config.nesterov,
        }
        optimizer = torch.optim.SGD(params, **kwargs)
    elif config.name in ("adam", "adamw"):
        kwargs |= {"betas": config.betas, "eps": config.eps, "amsgrad": config.amsgrad}
        cls = torch.optim.Adam if config.name == "adam" else torch.optim.AdamW
        optimizer = cls(params, **kwargs)
    else:
        kwargs |= {
            "alpha": config.alpha,
            "eps": config.eps,
            "momentum": config.momentum,
            "centered": config.centered,
        }
        optimizer = torch.optim.RMSprop(params, **kwargs)
    schedule = spec.training.schedule
    scheduler = None
    if schedule is not None and schedule.kind == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, schedule.step_size, schedule.gamma)
    elif schedule is not None and schedule.kind == "exponential":
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, schedule.gamma)
    elif schedule is not None:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, schedule.T_max, schedule.eta_min
        )
    return optimizer, scheduler


def _torch_train(spec, initial, X, Y, order):  # noqa: ANN001, ANN202
    """The same network and training in PyTorch autograd + torch.optim."""
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in initial]
    trained = params if spec.training.train_biases else params[0::2]
    optimizer, scheduler = _torch_optimizer(spec, trained)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    losses = []
    for epoch in range(order.shape[0]):
        total = 0.0
        for start in range(0, order.shape[1], BATCH):
            rows = torch.tensor(order[epoch, start : start + BATCH])
            W1, b1, W2, b2 = params
            logits = torch.tanh(Xt[rows] @ W1.T + b1) @ W2.T + b2
            loss = -(Yt[rows] * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        losses.append(total / order.shape[1])
        if scheduler is not None:
            scheduler.step()
    torch_state = [optimizer.state.get(p, {}) for p in params]
    return [p.detach().numpy() for p in params], np.array(losses), torch_state


FAST = {"adam_amsgrad"}
"""The case in the default run (the optimizer with the most state); the rest run under -m slow,
as CI does, only because each compiles its own module (the default run must fit 5 minutes)."""


@pytest.mark.parametrize(
    "name, training",
    [
        pytest.param(*case, marks=() if case[0] in FAST else pytest.mark.slow, id=case[0])
        for case in CASES
    ],
)
def test_generated_optimizer_matches_torch(name: str, training: dict[str, Any]) -> None:
    spec = _spec(name, training)
    module = module_for(spec)
    X, Y = sample(module, N, seed=5)
    initial = module.init_params(2)
    order = module.minibatch_order(N, EPOCHS, seed=7)
    expected_params, expected_losses, torch_state = _torch_train(spec, initial, X, Y, order)
    params = [p.copy() for p in initial]
    # two calls sharing one state: the optimizer's moments, step and epoch carry over
    state = module.init_state(params)
    losses = np.concatenate(
        [
            module.train_with_order(
                params, X, Y, order[:2], spec.training.learning_rate, BATCH, state=state
            ),
            module.train_with_order(
                params, X, Y, order[2:], spec.training.learning_rate, BATCH, state=state
            ),
        ]
    )
    np.testing.assert_allclose(losses, expected_losses, rtol=RTOL, atol=0)
    for ours, theirs, start in zip(params, expected_params, initial, strict=True):
        assert not np.allclose(ours, start)  # it trained
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=1e-14)
    assert module.OPTIMIZER == spec.training.optimizer.name
    schedule, lr = spec.training.schedule, spec.training.learning_rate
    if schedule is not None:  # the module's closed form is the one tested against torch below
        expected = schedule_rates(schedule, lr, 2, 9)
        np.testing.assert_allclose(module.learning_rates(lr, 2, 9), expected, 1e-15)
    # the state arrays are torch.optim's, under torch's names
    for name, theirs in zip(module.PARAM_NAMES, torch_state, strict=True):
        for kind in module.STATE:
            np.testing.assert_allclose(
                state[f"{kind}_{name}"], theirs[kind].numpy(), rtol=RTOL, atol=1e-14
            )
    assert int(state["step"][0]) == EPOCHS * 3 and int(state["epoch"][0]) == EPOCHS


@pytest.mark.slow  # default-run budget (CI's cold run was 298 s of 300); runs in CI's slow set
def test_train_equals_train_with_order_and_keyword_overrides() -> None:
    """train() draws the same order as minibatch_order; keyword hyperparameters reach the kernel."""
    spec = _spec("adam", dict(CASES)["adam"])
    module = module_for(spec)
    X, Y = sample(module, N, seed=5)
    a, b = module.init_params(2), module.init_params(2)
    losses_a = module.train(a, X, Y, 3, 0.01, BATCH, seed=4, betas=(0.5, 0.9))
    losses_b = module.train_with_order(
        b, X, Y, module.minibatch_order(N, 3, seed=4), 0.01, BATCH, betas=(0.5, 0.9)
    )
    np.testing.assert_array_equal(losses_a, losses_b)
    other = _spec("adam_b", {"optimizer": "adam", "learning_rate": 0.01, "betas": [0.5, 0.9]})
    expected, _, _ = _torch_train(
        other, module.init_params(2), X, Y, module.minibatch_order(N, 3, 4)
    )
    for ours, theirs in zip(a, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=1e-14)


@pytest.mark.slow  # compiles a float32 module of each optimizer
@pytest.mark.parametrize("case", ["adam_amsgrad", "sgd_nesterov", "rmsprop_all"])
def test_float32_tracks_float64(case: str) -> None:
    training = dict(CASES)[case]
    m64, m32 = module_for(_spec(case, training)), module_for(
        _spec(case + "32", training, "float32")
    )
    X, Y = sample(m64, N, seed=5)
    p64 = m64.init_params(2)
    p32 = [p.astype(np.float32) for p in p64]
    order = m64.minibatch_order(N, 3, seed=1)
    lr = training["learning_rate"]
    m64.train_with_order(p64, X, Y, order, lr, BATCH)
    m32.train_with_order(p32, X, Y, order, lr, BATCH)
    assert all(p.dtype == np.float32 for p in p32)
    for a, b in zip(p32, p64, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_plain_sgd_generates_the_stateless_kernel() -> None:
    """No momentum, no weight decay, no schedule: no optimizer state, the update inlined, with
    the rate over the batch size folded into one constant (as the hand-written kernel had it)."""
    module = module_for(_spec("plain", {"learning_rate": 0.1}))
    assert not hasattr(module, "init_state")
    text = open(module.__file__).read()
    for kind in "Wb":
        kernel = f"def _update_{kind}(param, dparam, B, rate, old_param):"
        assert f'@njit(inline="always", **KERNEL)\n{kernel}' in text
        assert f"_update_{kind}({kind}1, d{kind}1, B, learning_rate, old_{kind}1)" in text
    assert "c0 = DTYPE(rate / B)" in text and "theta = theta - c0 * grad" in text
    assert ".reshape(-1)\n" not in text  # each entry indexed in place, no flat view


@pytest.mark.parametrize(
    "config",
    [
        OptimizerConfig("sgd", momentum=0.9, dampening=0.2, weight_decay=0.1),
        OptimizerConfig("sgd", momentum=0.9, nesterov=True),
        OptimizerConfig("adam", amsgrad=True, weight_decay=0.1),
        OptimizerConfig("adamw", weight_decay=0.01, betas=(0.8, 0.95), eps=1e-5),
        OptimizerConfig("rmsprop", centered=True, momentum=0.4, weight_decay=0.1, alpha=0.9),
    ],
    ids=["sgd", "nesterov", "adam", "adamw", "rmsprop"],
)
def test_symbolic_rule_matches_torch(config: OptimizerConfig) -> None:
    """The printed SymPy equations, evaluated, step as torch.optim does."""
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(7)
    tensor = torch.tensor(theta.copy(), requires_grad=True)
    settings = config.settings()
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    optimizer = cls.get(config.name, torch.optim.RMSprop)([tensor], lr=0.05, **settings)
    state: dict[str, np.ndarray] = {}
    for step in range(1, 6):
        grad = rng.standard_normal(7)
        tensor.grad = torch.tensor(grad)
        optimizer.step()
        values = reference_trace(config, theta, grad, state, step, 0.05)[-1]
        theta = values["theta"]
        state = {symbol.name: values[symbol.name] for symbol in rule(config).state}
        np.testing.assert_allclose(theta, tensor.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "table, message",
    [
        ({"optimizer": "adamx"}, "training.optimizer: unknown optimizer 'adamx'"),
        ({"momentum": float("nan")}, "training.momentum: must be a finite number"),
        ({"momentum": float("inf")}, "training.momentum: must be a finite number"),
        ({"momentum": 10**400}, "training.momentum: must be a finite number"),
        (
            {"schedule": {"kind": "cosine", "T_max": 2**63}},
            "training.schedule.T_max: must be an integer in 1..",
        ),
        ({"optimizer": "adam", "momentum": 0.9}, "training.momentum: not a setting of optimizer"),
        ({"betas": [0.9, 0.99]}, "training.betas: not a setting of optimizer 'sgd'"),
        ({"optimizer": "adam", "betas": [0.9, 1.0]}, "training.betas: must be in [0.0, 1.0)"),
        ({"optimizer": "adam", "betas": [0.9]}, "training.betas: must be a list of two"),
        ({"optimizer": "adam", "eps": -1e-8}, "training.eps: must be >= 0.0"),
        ({"weight_decay": -0.1}, "training.weight_decay: must be >= 0.0"),
        ({"nesterov": True}, "training.nesterov: nesterov needs momentum > 0"),
        ({"optimizer": "rmsprop", "centered": 1}, "training.centered: must be true or false"),
        ({"init": "glorot"}, "training.init: unknown init 'glorot'"),
        ({"schedule": "step"}, "training.schedule: must be a table"),
        ({"schedule": {"kind": "linear"}}, "training.schedule.kind: kind must be one of"),
        ({"schedule": {"kind": "step"}}, "missing field 'training.schedule.step_size'"),
        (
            {"schedule": {"kind": "step", "step_size": 0}},
            "training.schedule.step_size: must be an integer in 1..",
        ),
        (
            {"schedule": {"kind": "exponential", "gamma": float("inf")}},
            "training.schedule.gamma: must be a finite number",
        ),
        (
            {"schedule": {"kind": "cosine", "T_max": 3, "gamma": 0.5}},
            "training.schedule.gamma: not a setting of schedule 'cosine'",
        ),
    ],
)
def test_bad_optimizer_fields_give_one_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as info:
        _spec("bad", table)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_defaults_are_torch_defaults() -> None:
    import inspect

    assert parse_training_extras({"optimizer": "adamw"}, "x")["optimizer"].weight_decay == 0.01
    for name, cls in (
        ("sgd", torch.optim.SGD),
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("rmsprop", torch.optim.RMSprop),
    ):
        ours = parse_training_extras({"optimizer": name}, "x")["optimizer"].settings()
        defaults = inspect.signature(cls.__init__).parameters
        for key, value in ours.items():
            expected = defaults[key].default
            assert value == (tuple(expected) if isinstance(expected, tuple) else expected), key


@pytest.mark.parametrize("init", ["xavier_uniform", "xavier_normal", "he_uniform", "he_normal"])
def test_init_matches_torch_nn_init(init: str) -> None:
    """Bounds and spreads as torch.nn.init's functions give them (fan_in = n_in, relu gain)."""
    spec = parse_spec(
        {
            "name": f"init_{init}",
            "network": {"layers": [300, 200, 3], "output": "identity", "loss": "mse"},
            "training": {"init": init},
        }
    )
    from symbackprop.pipeline import load_module, module_source

    module = load_module(module_source(spec))
    params = module.init_params(0)
    np.testing.assert_array_equal(params[0], module.init_params(0)[0])  # seeded
    assert not np.array_equal(params[0], module.init_params(1)[0])
    torch.manual_seed(0)
    for weight, bias in (params[0:2], params[2:4]):
        assert weight.dtype == np.float64 and not bias.any()  # biases zero
        reference = torch.empty(weight.shape, dtype=torch.float64)
        function = {
            "xavier_uniform": torch.nn.init.xavier_uniform_,
            "xavier_normal": torch.nn.init.xavier_normal_,
            "he_uniform": lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu"),
            "he_normal": lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu"),
        }[init]
        theirs = function(reference).numpy()
        # same spread (std of a sample of >= 600 values: within 10%)
        assert abs(weight.std() / theirs.std() - 1) < 0.1
        if init.endswith("uniform"):
            fan_in, fan_out = weight.shape[1], weight.shape[0]
            bound = (
                np.sqrt(6 / (fan_in + fan_out))
                if init.startswith("xavier")
                else np.sqrt(6 / fan_in)
            )
            assert np.abs(weight).max() <= bound and np.abs(theirs).max() <= bound
            assert np.abs(weight).max() > 0.95 * bound


@pytest.mark.slow  # default-run budget (CI's cold run was 298 s of 300); runs in CI's slow set
def test_runner_carries_the_state_across_its_chunks() -> None:
    """The runner trains in report-sized chunks; the result equals one module.train call."""
    import io

    from symbackprop.run.data import Dataset
    from symbackprop.run.runner import train

    spec = _spec("rmsprop_all", dict(CASES)["rmsprop_all"])
    module = module_for(spec)
    X, Y = sample(module, N, seed=5)
    data = Dataset("sample", X, Y, X[:0], Y[:0], classification=True)
    params, result = train(spec, module, data, io.StringIO(), reports=3, epochs=7)
    expected = module.init_params(spec.training.seed)
    losses = module.train(expected, X, Y, 7, spec.training.learning_rate, BATCH, seed=0)
    np.testing.assert_array_equal(result.losses, losses)
    for ours, theirs in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)


DOCUMENT_CASES = {
    "sgd_nesterov_step": {
        "learning_rate": 0.1,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.001,
        "schedule": {"kind": "step", "step_size": 10, "gamma": 0.5},
    },
    "adamw_cosine": {
        "optimizer": "adamw",
        "amsgrad": True,
        "schedule": {"kind": "cosine", "T_max": 50, "eta_min": 0.001},
    },
    "rmsprop_exponential": dict(CASES)["rmsprop_all"]
    | {"schedule": {"kind": "exponential", "gamma": 0.9}},
}


@pytest.mark.parametrize("case", sorted(DOCUMENT_CASES))
def test_update_section_prints_the_rule(case: str, tmp_path) -> None:  # noqa: ANN001
    """The update section shows the schedule and exactly the rule's assignments; LaTeX compiles."""
    from symbackprop.run.documents import document_for
    from symbackprop.symbolic.optimizers import Descent

    spec = _spec(case, DOCUMENT_CASES[case])
    document = document_for(spec)
    steps = [s for s in derivation_steps(document.derivation) if s.section == "update"]
    update = rule(spec.training.optimizer)
    assert [(s.lhs, s.rhs[0]) for s in steps[2:]] == [(a.lhs, a.rhs) for a in update.assignments]
    assert str(steps[0].lhs) == "eta" and "e" in {str(x) for x in steps[0].rhs[0].free_symbols}
    assert isinstance(steps[-1].rhs[0], Descent) and str(steps[-1].lhs) == "theta"
    text = document.render("text")
    assert "θ ← θ - " in text and "W1 ←" not in text
    latex = document.render("latex")
    assert r"\theta &\leftarrow \theta - " in latex
    if shutil.which("pdflatex"):
        from test_latex import pdflatex

        pdflatex(document.document(), tmp_path)


def test_plain_sgd_update_section_is_unchanged() -> None:
    from symbackprop.run.documents import document_for

    text = document_for(_spec("plain_doc", {"learning_rate": 0.1})).render("text")
    # Plain SGD: the update written once, for a generic parameter theta (issue 9).
    assert "θ ← θ - η·∂L̄/∂θ" in text and "W1 ←" not in text


@pytest.mark.parametrize(
    "schedule",
    [
        {"kind": "step", "step_size": 3, "gamma": 0.5},
        {"kind": "step", "step_size": 1},
        {"kind": "exponential", "gamma": 0.9},
        {"kind": "cosine", "T_max": 4},
        {"kind": "cosine", "T_max": 5, "eta_min": 0.01},
    ],
    ids=["step", "step_default_gamma", "exponential", "cosine", "cosine_eta_min"],
)
def test_schedule_rates_match_torch_lr_scheduler(schedule: dict[str, Any]) -> None:
    """The closed forms the module uses equal torch's recursive rates, past T_max too."""
    parsed = parse_training_extras({"schedule": schedule}, "x")["schedule"]
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=0.3)
    kind = schedule["kind"]
    settings = {k: v for k, v in schedule.items() if k != "kind"}
    cls = {
        "step": torch.optim.lr_scheduler.StepLR,
        "exponential": torch.optim.lr_scheduler.ExponentialLR,
        "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
    }[kind]
    scheduler = cls(optimizer, **settings)
    expected = []
    for _ in range(13):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    tolerances = {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(schedule_rates(parsed, 0.3, 0, 13), expected, **tolerances)
    np.testing.assert_allclose(schedule_rates(parsed, 0.3, 5, 8), expected[5:], **tolerances)


@pytest.mark.slow  # default-run budget (CI's cold run was 298 s of 300); runs in CI's slow set
def test_frozen_biases_with_adam_match_torch() -> None:
    """train_biases = false: the biases stay put, the weights train as torch.optim trains them."""
    spec = _spec("adam_frozen", {"optimizer": "adam", "learning_rate": 0.02, "train_biases": False})
    module = module_for(spec)
    X, Y = sample(module, N, seed=5)
    initial = module.init_params(2)
    order = module.minibatch_order(N, 3, seed=7)
    expected, expected_losses, _ = _torch_train(spec, initial, X, Y, order)
    params = [p.copy() for p in initial]
    losses = module.train_with_order(params, X, Y, order, 0.02, BATCH)
    np.testing.assert_allclose(losses, expected_losses, rtol=RTOL, atol=0)
    for ours, theirs, start, name in zip(params, expected, initial, module.PARAM_NAMES):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=1e-14)
        assert np.array_equal(ours, start) == name.startswith("b")
