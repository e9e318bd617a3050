"""Kernel variants (BLAS, plain loops, register-tiled microkernels) and the run-time tuner.

Every variant must train to the same final loss as the BLAS path, so the tuner can never pick a
fast but wrong kernel; the tuner's choice is measured once per CPU and batch size, then reused.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import make_spec, module_for, sample

from symbackprop.codegen.module import BLAS_MIN_MACS
from symbackprop.spec.model import load_spec, parse_spec

NETWORKS = {
    "xor": lambda: load_spec("xor"),
    "digits": lambda: load_spec("digits"),
    "deep-narrow": lambda: make_spec([16, 64, 64, 64, 1], "identity", "mse", "relu", "deep_narrow"),
}


def _tuned_module(spec):  # noqa: ANN001, ANN202
    """The spec's module with every kernel variant and the tuner (``network.kernels = "tuned"``)."""
    return module_for(dataclasses.replace(spec, kernels="tuned"))


def _module(name: str):  # noqa: ANN202
    return _tuned_module(NETWORKS[name]())


def _final_loss(module, variant: str, monkeypatch, X, Y, batch: int) -> tuple[float, list]:  # noqa: ANN001
    monkeypatch.setenv("SYMBACKPROP_KERNEL", variant)
    params = module.init_params(3)
    losses = module.train(params, X, Y, epochs=6, learning_rate=0.05, batch_size=batch)
    assert module.CHOSEN[batch].tolist() == [[module.VARIANTS.index(variant)] * 3] * (
        len(module.LAYERS) - 1
    )
    return float(losses[-1]), module.gradients(module.init_params(3), X[:37], Y[:37])


@pytest.mark.parametrize("name", ["xor", "digits", "deep-narrow"])
@pytest.mark.parametrize("variant", ["loops", "micro"])
def test_every_variant_trains_like_blas(name: str, variant: str, monkeypatch) -> None:  # noqa: ANN001
    module = _module(name)
    # 103 rows in batches of 18 (and 103 % 18 = 13): full tiles, leftover rows and outputs
    X, Y = sample(module, 103, seed=5)
    blas, blas_grads = _final_loss(module, "blas", monkeypatch, X, Y, 18)
    other, other_grads = _final_loss(module, variant, monkeypatch, X, Y, 18)
    assert np.isfinite(blas)
    assert abs(other - blas) <= 1e-12 * abs(blas)
    for mine, reference in zip(other_grads, blas_grads, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-13)


def test_float32_microkernels_stay_float32_and_agree(monkeypatch) -> None:  # noqa: ANN001
    network = {"layers": [20, 12, 5], "activation": "tanh", "output": "softmax"}
    network |= {"loss": "cross_entropy", "dtype": "float32"}
    module = _tuned_module(parse_spec({"name": "micro_f32", "network": network}))
    X, Y = sample(module, 41, seed=1)
    monkeypatch.setenv("SYMBACKPROP_KERNEL", "blas")
    blas = module.gradients(module.init_params(0), X, Y)
    monkeypatch.setenv("SYMBACKPROP_KERNEL", "micro")
    micro = module.gradients(module.init_params(0), X, Y)
    for mine, reference in zip(micro, blas, strict=True):
        assert mine.dtype == np.float32
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_matmul_calls_gemm_with_every_transpose_and_leading_rows(dtype: str) -> None:
    """_matmul in a kernel (the intrinsic that calls SciPy's gemm the way Numba's np.dot does)
    against NumPy: C[:M] = op(A) op(W) for both transposes of each operand, reading only the
    leading rows of larger buffers (as the training kernels pass them) and leaving C's other
    rows alone; sizes that do not fit the matrices are a ValueError (gemm trusts them), a
    non-contiguous or mixed-dtype operand is refused when typing."""
    pytest.importorskip("scipy.linalg.cython_blas")
    from numba import njit
    from numba.core.errors import TypingError

    network = {"layers": [40, 24, 3], "activation": "tanh", "output": "softmax", "dtype": dtype}
    network["loss"] = "cross_entropy"
    module = module_for(parse_spec({"name": f"matmul_{dtype}", "network": network}))
    assert module.SCIPY_BLAS

    @njit
    def product(A, ta, W, tw, C, M, N, K):  # noqa: ANN001, ANN202, N803
        module._matmul(A, ta, W, tw, C, M, N, K)

    rng = np.random.default_rng(0)
    M, N, K = 5, 7, 3
    tolerance = 1e-13 if dtype == "float64" else 1e-5
    for ta in (False, True):
        for tw in (False, True):
            A = rng.normal(size=(K + 2, M) if ta else (M + 2, K)).astype(dtype)
            W = rng.normal(size=(N + 1, K) if tw else (K + 1, N)).astype(dtype)
            C = np.full((M + 3, N), 7.0, dtype=dtype)
            product(A, ta, W, tw, C, M, N, K)
            a = A[:K].T if ta else A[:M]
            w = W[:N].T if tw else W[:K]
            np.testing.assert_allclose(C[:M], a @ w, rtol=tolerance, atol=tolerance)
            assert (C[M:] == 7.0).all(), (ta, tw)
    A, W, C = (np.ones(shape, dtype=dtype) for shape in [(M, K), (K, N), (M, N)])
    product(A, False, W, False, C, M, N, K)
    assert (C == K).all()
    too_few_rows = [(A[: M - 1], W, C), (A, W[: K - 1], C), (A, W, C[: M - 1])]
    for a, w, c in too_few_rows:  # gemm would read or write past the end: refused, as np.dot
        with pytest.raises(ValueError, match="shapes do not match"):
            product(a, False, w, False, c, M, N, K)
    for sizes in [(M, N + 1, K), (M, N, K + 1), (M, N - 1, K)]:  # rows of the wrong length
        with pytest.raises(ValueError, match="shapes do not match"):
            product(A, False, W, False, C, *sizes)
    with pytest.raises(TypingError):
        product(A[:, ::2], False, W, False, C, M, N, K)
    with pytest.raises(TypingError):
        product(A.astype(np.float16), False, W, False, C, M, N, K)


def test_default_plan_is_blas_from_the_threshold_and_loops_below(monkeypatch) -> None:  # noqa: ANN001
    for name in ("xor", "digits", "deep-narrow"):
        module = _module(name)
        sizes = module.LAYERS
        expected = [
            [0 if n_in * n_out >= BLAS_MIN_MACS else 1] * 3
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        assert np.array(module.DEFAULT_PLAN).tolist() == expected
    module = _module("xor")
    monkeypatch.setenv("SYMBACKPROP_TUNE", "0")
    monkeypatch.delenv("SYMBACKPROP_KERNEL", raising=False)
    X, Y = sample(module, 8)
    module.train(module.init_params(0), X, Y, epochs=1, learning_rate=0.1, batch_size=4)
    assert module.CHOSEN[4].tolist() == np.array(module.DEFAULT_PLAN).tolist()


def test_unknown_forced_variant_is_refused(monkeypatch) -> None:  # noqa: ANN001
    module = _module("xor")
    monkeypatch.setenv("SYMBACKPROP_KERNEL", "fastest")
    X, Y = sample(module, 8)
    with pytest.raises(ValueError, match="SYMBACKPROP_KERNEL must be one of blas, loops, micro"):
        module.train(module.init_params(0), X, Y, epochs=1, learning_rate=0.1, batch_size=4)


def test_tuner_choice_is_cached_and_reused(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    module = _module("xor")
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    monkeypatch.delenv("SYMBACKPROP_TUNE", raising=False)
    monkeypatch.delenv("SYMBACKPROP_KERNEL", raising=False)
    monkeypatch.setattr(module, "_PLANS", {})
    X, Y = sample(module, 12)
    module.train(module.init_params(0), X, Y, epochs=2, learning_rate=0.1, batch_size=4)
    wisdom = json.loads((tmp_path / "wisdom.json").read_text())
    (key,) = wisdom
    assert module.KEY in key and "B=4" in key and module.cpu_model() in key
    assert wisdom[key]["plan"] == module.CHOSEN[4].tolist()
    # A new process reads the file instead of measuring: put another plan there and forbid _tune.
    forced = [[2, 2, 2]] * (len(module.LAYERS) - 1)
    wisdom[key]["plan"] = forced
    (tmp_path / "wisdom.json").write_text(json.dumps(wisdom))
    monkeypatch.setattr(module, "_PLANS", {})
    monkeypatch.setattr(module, "_tune", lambda *args: pytest.fail("measured again"))
    module.train(module.init_params(0), X, Y, epochs=2, learning_rate=0.1, batch_size=4)
    assert module.CHOSEN[4].tolist() == forced
    # An empty order trains nothing and measures nothing.
    empty = np.zeros((0, 12), dtype=np.int64)
    assert module.train_with_order(module.init_params(0), X, Y, empty, 0.1, 4).size == 0
    # A corrupt entry is measured again, not trusted.
    (tmp_path / "wisdom.json").write_text(json.dumps({key: {"plan": [[7, 0, 0]]}}))
    monkeypatch.setattr(module, "_PLANS", {})
    monkeypatch.setattr(module, "_tune", lambda *args: (np.array(module.DEFAULT_PLAN), {}))
    module.train(module.init_params(0), X, Y, epochs=2, learning_rate=0.1, batch_size=4)
    assert module.CHOSEN[4].tolist() == np.array(module.DEFAULT_PLAN).tolist()


class _Clock:
    """A virtual perf_counter that fake kernel runs advance by a cost per plan."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_tuner_switches_only_on_clear_wins(monkeypatch) -> None:  # noqa: ANN001
    module = _module("digits")  # default plan: BLAS everywhere
    clock = _Clock()
    # cost of each (layer, product, variant) per step, in seconds
    cost = np.full((2, 3, 3), 1e-3)
    cost[0, 0, 2] = 0.5e-3  # layer 1 forward: micro clearly faster
    cost[1, 2, 1] = 0.98e-3  # layer 2 weights: loops 2% faster, inside the noise margin
    cost[1, 1, 2] = 2e-3  # layer 2 backward: micro slower

    def steps(plan, *args) -> float:  # noqa: ANN001
        repeats = args[-2]  # then the buffers
        clock.now += repeats * sum(
            cost[layer, product, plan[layer, product]] for layer in range(2) for product in range(3)
        )
        return 0.0

    monkeypatch.setattr(module, "_steps", steps)
    monkeypatch.setattr(module, "time", clock)
    X, Y = sample(module, 20)
    params = module.init_params(0)
    plan, report = module._tune(params, X, Y, np.arange(20))
    assert plan.tolist() == [[2, 0, 0], [0, 0, 0]]
    assert report["seconds_per_step"]["chosen"] < report["seconds_per_step"]["default"]

    cost[0, 0, 2] = 0.97e-3  # now nothing is clearly faster: the default stays
    plan, _ = module._tune(params, X, Y, np.arange(20))
    assert plan.tolist() == np.array(module.DEFAULT_PLAN).tolist()


@pytest.mark.slow
def test_digits_microkernels_compile_to_vector_fmas(tmp_path) -> None:  # noqa: ANN001
    """The tiles' inner loops vectorise (packed FMAs), with Numba's default SLP setting."""
    import os
    import platform
    import subprocess
    import sys
    from pathlib import Path

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("counts x86 FMA instructions")
    script = Path(__file__).resolve().parent.parent / "scripts" / "kernel_variants.py"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("NUMBA_SLP_VECTORIZE", None)
    done = subprocess.run(
        [sys.executable, str(script), "--asm", "--workload", "digits"],
        env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if "_tiles" in line]
    assert len(lines) == 5, done.stdout  # forward and weights of both layers, backward of layer 2
    for line in lines:
        assert "packed FMAs {" in line and ("zmm" in line or "ymm" in line), line


def test_variants_and_tuning_with_adam(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    network = {"layers": [6, 20, 20, 3], "activation": "tanh", "output": "softmax"}
    network["loss"] = "cross_entropy"
    training = {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 8}
    spec = parse_spec({"name": "kern_adam", "network": network, "training": training})
    module = _tuned_module(spec)
    X, Y = sample(module, 45, seed=4)
    final = {}
    for variant in ("blas", "loops", "micro"):
        monkeypatch.setenv("SYMBACKPROP_KERNEL", variant)
        final[variant] = module.train(module.init_params(1), X, Y, 5, 0.01, 8)[-1]
    for variant in ("loops", "micro"):
        assert abs(final[variant] - final["blas"]) <= 1e-12 * abs(final["blas"])
    monkeypatch.delenv("SYMBACKPROP_KERNEL")
    monkeypatch.delenv("SYMBACKPROP_TUNE", raising=False)
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    monkeypatch.setattr(module, "_PLANS", {})
    tuned = module.train(module.init_params(1), X, Y, 5, 0.01, 8)[-1]
    assert abs(tuned - final["blas"]) <= 1e-12 * abs(final["blas"])
    (entry,) = json.loads((tmp_path / "wisdom.json").read_text()).values()
    assert entry["plan"] == module.CHOSEN[8].tolist()


def test_fixed_is_the_default_and_carries_one_kernel_per_layer() -> None:
    from symbackprop.pipeline import derivation_of, render_module

    spec = load_spec("digits")
    assert spec.kernels == "fixed"
    fixed = render_module(derivation_of(spec)).text
    tuned = render_module(derivation_of(spec), "tuned").text
    assert render_module(derivation_of(spec), "fixed").text == fixed
    for absent in ("import json", "import platform", "import time", "DEFAULT_PLAN", "plan",
                   "MICRO"):  # fmt: skip
        assert absent not in fixed, absent
        assert absent in tuned, absent
    # digits' layers (64 x 32, 32 x 10) reach BLAS_MIN_MACS: 5 products (no backward of layer 1),
    # each SciPy's gemm (_matmul) in training where SciPy's BLAS is and the module's own tiles
    # where it is not; np.dot only in _matmul's Python body (NUMBA_DISABLE_JIT=1)
    assert fixed.count("    _matmul(") == 5 and tuned.count("    _matmul(") == 5
    assert fixed.count("np.dot(") == 1 and tuned.count("np.dot(") == 1
    assert fixed.count("    if SCIPY_BLAS:\n") == 5 and fixed.count("_tiles1(") + fixed.count(
        "_tiles2("
    ) == 2 * 5  # fmt: skip
    # _infer (forward, loss, predict) has both forward tiles written in, never BLAS, and calls
    # no kernel of its own (whose rounding would depend on how Numba linked it)
    infer = fixed.split("\ndef _infer(", 1)[1].split("\n\n\n", 1)[0]
    assert infer.count("                s00 += x0 * y0\n") == 2
    assert "_matmul(" not in infer and "SCIPY_BLAS" not in infer and "_tiles" not in infer.replace(
        "the tiles of _forward_tiles", ""
    )  # fmt: skip
    assert "if plan[" not in fixed and "if plan[" in tuned
    xor = render_module(derivation_of(load_spec("xor"))).text  # below the threshold: loops only
    for absent in ("_matmul", "np.dot", "SCIPY_BLAS", "_tiles"):
        assert absent not in xor, absent


def test_spec_kernels_field_picks_tuned_and_refuses_unknown_values(tmp_path) -> None:  # noqa: ANN001
    from symbackprop.errors import SpecError
    from symbackprop.pipeline import module_source

    network = {"layers": [2, 3, 1], "output": "sigmoid", "loss": "binary_cross_entropy"}
    spec = parse_spec({"name": "k_tuned", "network": network | {"kernels": "tuned"}})
    assert spec.kernels == "tuned" and "def kernel_plan(" in module_source(spec).text
    with pytest.raises(SpecError) as error:
        parse_spec({"name": "k_bad", "network": network | {"kernels": "fast"}})
    assert str(error.value).count("\n") == 0
    assert "network.kernels" in str(error.value) and "fixed, tuned" in str(error.value)


def test_cli_generate_kernels_option_overrides_the_spec(tmp_path) -> None:  # noqa: ANN001
    import io

    from symbackprop.cli.commands import main

    for kernels, expected in (("tuned", True), ("fixed", False)):
        target = tmp_path / f"xor_{kernels}.py"
        out = io.StringIO()
        assert main(["generate", "xor", "--kernels", kernels, "-o", str(target)], out) == 0
        assert ("def kernel_plan(" in target.read_text()) is expected
    err = io.StringIO()
    with pytest.raises(SystemExit):
        main(["generate", "xor", "--kernels", "fast", "-o", str(tmp_path / "x.py")], err)
