"""Property test: generated gradients of random networks against finite differences and PyTorch.

Hypothesis draws a spec (depth 1-6, widths 1-16, every hidden activation, every output/loss
pairing the spec allows, float32 or float64), generates and compiles its module, and at a few
random points (weights scaled by 0.5, 1 or 3; inputs standard normal; targets of the loss's kind)
checks, in float64:

- every gradient entry against a central difference (eps 1e-6): |fd - g| <= 1e-5 + 1e-3 |fd|;
- random directions u: (L(p + eps u) - L(p - eps u)) / 2 eps against g . u, same tolerance;
- every gradient against PyTorch autograd of the same network (relative 1e-9);
- float32 specs: the float32 module's gradients within 2e-3 (relative to max(1, |g|)) of its
  float64 twin's, at the same (float32-rounded) point.

Points are kept away from ReLU's kink (every ReLU input at least 1e-3 from 0). Compiling each
module dominates the time, so the default run checks a few networks (derandomized, so Numba's
disk cache makes the next run quick); ``pytest -m slow`` checks 150 random networks (about 5 s
of compilation each on an idle core; $SYMBACKPROP_FUZZ_EXAMPLES changes the count). The worst
errors seen are printed (``-s``) and, when $SYMBACKPROP_FUZZ_REPORT names a file, kept there as
JSON (the running totals, rewritten after every network).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace

import numpy as np
import pytest
from conftest import HIDDEN, OUTPUT_LOSS, have_torch, module_for
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from symbackprop.run.gradcheck import sample_data
from symbackprop.spec.model import Spec, parse_spec

EPS, ATOL, RTOL = 1e-6, 1e-5, 1e-3
TORCH_RTOL = 1e-9
FLOAT32_TOLERANCE = 2e-3
KINK_MARGIN = 1e-3
SAMPLES = 5
POINTS = 2
DIRECTIONS = 2

STATS = {
    "networks": 0,
    "points": 0,
    "gradient_entries": 0,
    "worst_fd_abs_error": 0.0,
    "worst_fd_error_over_tolerance": 0.0,
    "worst_direction_error_over_tolerance": 0.0,
    "worst_torch_rel_error": 0.0,
    "worst_float32_error": 0.0,
}


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    """A random valid spec: the network and dtype (training and data fields stay default)."""
    depth = draw(st.integers(1, 6))
    output, loss = draw(st.sampled_from(OUTPUT_LOSS))
    sizes = draw(st.lists(st.integers(1, 16), min_size=depth + 1, max_size=depth + 1))
    if output == "softmax":
        sizes[-1] = max(2, sizes[-1])
    hidden = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 1, max_size=depth - 1))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    return _spec(sizes, hidden, output, loss, dtype)


def _spec(sizes: list[int], hidden: list[str], output: str, loss: str, dtype: str) -> Spec:
    network = {"layers": sizes, "output": output, "loss": loss, "dtype": dtype}
    if hidden:
        network["activation"] = hidden
    key = json.dumps(network, sort_keys=True).encode()
    return parse_spec({"name": f"fuzz_{hashlib.sha256(key).hexdigest()[:10]}", "network": network})


def _point(module, spec: Spec, seed: int, scale: float):  # noqa: ANN001, ANN202
    """Parameters, X and Y with every ReLU input at least KINK_MARGIN from 0 (resampled)."""
    relu = [l for l in range(1, spec.depth + 1) if spec.layer_activation(l) == "relu"]
    for attempt in range(20):
        params = [p * scale for p in module.init_params(seed + 7919 * attempt)]
        X, Y = sample_data(module, SAMPLES, seed + 7919 * attempt)
        values = module.intermediates(params, X, Y)
        if all(np.abs(values[f"Z{l}"]).min() >= KINK_MARGIN for l in relu):
            return params, X, Y
    pytest.fail(f"no point away from ReLU kinks for {spec.layers}")


def _torch_gradients(spec: Spec, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray):  # noqa: ANN202
    """The same network and loss in PyTorch (float64); autograd's gradients."""
    import torch
    import torch.nn.functional as F

    weights = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    a = torch.tensor(X, dtype=torch.float64)
    y = torch.tensor(Y, dtype=torch.float64)
    z = a
    for l in range(1, spec.depth + 1):
        z = a @ weights[2 * l - 2].T + weights[2 * l - 1]
        a = {
            "identity": lambda t: t,
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
            "relu": torch.relu,
            "softmax": lambda t: torch.softmax(t, dim=1),
        }[spec.layer_activation(l)](z)
    if spec.loss == "mse":
        loss = ((a - y) ** 2).mean()
    elif spec.loss == "cross_entropy":
        loss = -(y * torch.log_softmax(z, dim=1)).sum(dim=1).mean()
    else:
        loss = F.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    return [w.grad.numpy() for w in weights]


def _loss_along(module, params, X, Y, direction, h):  # noqa: ANN001, ANN202
    return module.loss([p + h * d for p, d in zip(params, direction)], X, Y)


def check_network(spec: Spec, seed: int) -> None:
    """Every check of the module docstring, at POINTS points, for one spec."""
    double = module_for(replace(spec, dtype="float64"))
    for point in range(POINTS):
        scale = (0.5, 1.0, 3.0)[(seed + point) % 3]
        params, X, Y = _point(double, spec, seed + 101 * point, scale)
        grads = double.gradients(params, X, Y)
        # Every entry against a central difference.
        for p, g in zip(params, grads):
            flat = p.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + EPS
                up = double.loss(params, X, Y)
                flat[i] = old - EPS
                down = double.loss(params, X, Y)
                flat[i] = old
                fd, exact = (up - down) / (2 * EPS), g.reshape(-1)[i]
                error = abs(fd - exact)
                allowed = ATOL + RTOL * abs(fd)
                STATS["worst_fd_abs_error"] = max(STATS["worst_fd_abs_error"], error)
                ratio = error / allowed
                STATS["worst_fd_error_over_tolerance"] = max(
                    STATS["worst_fd_error_over_tolerance"], ratio
                )
                assert error <= allowed, (spec.layers, spec.activations, spec.output, spec.loss)
            STATS["gradient_entries"] += flat.size
        # Random directions: v^T J u with v = 1 (the loss is scalar) against g . u.
        rng = np.random.default_rng(seed + point)
        for _ in range(DIRECTIONS):
            direction = [rng.standard_normal(p.shape) for p in params]
            norm = np.sqrt(sum(float((d**2).sum()) for d in direction))
            direction = [d / norm for d in direction]
            fd = (
                _loss_along(double, params, X, Y, direction, EPS)
                - _loss_along(double, params, X, Y, direction, -EPS)
            ) / (2 * EPS)
            exact = sum(float((g * d).sum()) for g, d in zip(grads, direction))
            ratio = abs(fd - exact) / (ATOL + RTOL * abs(fd))
            STATS["worst_direction_error_over_tolerance"] = max(
                STATS["worst_direction_error_over_tolerance"], ratio
            )
            assert ratio <= 1, (spec.layers, fd, exact)
        # A second route: PyTorch autograd, where it is installed.
        for g, t in zip(grads, _torch_gradients(spec, params, X, Y) if have_torch() else ()):
            scale_t = max(float(np.abs(t).max(initial=0.0)), 1e-12)
            rel = float(np.abs(g - t).max(initial=0.0)) / scale_t
            STATS["worst_torch_rel_error"] = max(STATS["worst_torch_rel_error"], rel)
            assert rel <= TORCH_RTOL, (spec.layers, rel)
        # float32: the module against its float64 twin at the same rounded point.
        if spec.dtype == "float32":
            single = module_for(spec)
            params32 = [p.astype(np.float32) for p in params]
            X32 = X.astype(np.float32)
            g32 = single.gradients(params32, X32, Y)
            g64 = double.gradients([p.astype(np.float64) for p in params32], X32, Y)
            for a, b in zip(g32, g64):
                error = float(np.abs(a - b).max()) / max(1.0, float(np.abs(b).max()))
                STATS["worst_float32_error"] = max(STATS["worst_float32_error"], error)
                assert error <= FLOAT32_TOLERANCE, (spec.layers, error)
        STATS["points"] += 1
    STATS["networks"] += 1
    target = os.environ.get("SYMBACKPROP_FUZZ_REPORT")
    if target:  # the running totals, rewritten after every network
        with open(target, "w") as report:
            report.write(_summary() + "\n")


def _summary() -> str:
    return json.dumps({k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in STATS.items()})


@pytest.fixture(scope="module", autouse=True)
def _report():  # noqa: ANN202
    yield
    print(f"\nfuzzed gradients: {_summary()}")



NETWORK = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)


@settings(max_examples=2, derandomize=True, **NETWORK)
@given(spec=specs(), seed=st.integers(0, 2**16))
@example(spec=_spec([3, 4, 2], ["relu"], "softmax", "cross_entropy", "float32"), seed=0)
def test_fuzzed_gradients(spec: Spec, seed: int) -> None:
    check_network(spec, seed)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 150 networks of about 5 s each on an idle core
@settings(max_examples=int(os.environ.get("SYMBACKPROP_FUZZ_EXAMPLES", "150")), **NETWORK)
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_fuzzed_gradients_long(spec: Spec, seed: int) -> None:
    check_network(spec, seed)
