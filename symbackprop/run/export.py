"""``symbackprop export``: saved weights as a PyTorch state dict (and an ONNX model).

The network maps onto ``torch.nn.Sequential(Linear, activation, Linear, activation, ...)``: weight
layer ``l`` is the Sequential's item ``2 (l - 1)`` (``W_l`` is ``torch.nn.Linear``'s ``weight``,
same shape), its activation item ``2 l - 1`` (``nn.Identity()`` for ``identity``). Inputs the spec
standardises are folded into the first layer exactly: ``W' = W / x_std`` (column by column) and
``b' = b - W (x_mean / x_std)``, so the torch model takes raw inputs as ``predict`` does.

Torch (and onnx, onnxscript) are imported here only, when exporting: the rest of symbackprop
never needs them.
"""

from __future__ import annotations

import argparse
import io
import re
from typing import Any, TextIO

import numpy as np

from ..errors import DataError, SymbackpropError
from ..spec.builtins import ELEMENTWISE
from ..spec.model import Spec, load_spec
from ..util.fileio import check_target, stamp_zip, write_output
from ..util.parsing import parse_python

TORCH_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "identity": ("Identity", ()),
    "sigmoid": ("Sigmoid", ()),
    "tanh": ("Tanh", ()),
    "relu": ("ReLU", ()),
    "softmax": ("Softmax", ("dim=1",)),
    "leaky_relu": ("LeakyReLU", ("0.01",)),
    "elu": ("ELU", ("1.0",)),
    "selu": ("SELU", ()),
    "softplus": ("Softplus", ("threshold=40.0",)),
    "silu": ("SiLU", ()),
    "gelu": ("GELU", ()),
    "gelu_tanh": ("GELU", ("approximate='tanh'",)),
    "mish": ("Mish", ()),
    "hard_tanh": ("Hardtanh", ()),
    "hard_sigmoid": ("Hardsigmoid", ()),
}
"""Built-in activation -> the ``torch.nn`` class and its arguments as Python source.
``Softplus``'s threshold is 40 rather than torch's 20 (above it torch returns x itself, which
differs from log(1 + e^x) by e^-20 ~ 2e-9; by e^-40 ~ 4e-18 it does not)."""

_FAMILY = re.compile(r"^(leaky_relu|elu)\((.+)\)$")


def torch_activation(spec: Spec, name: str) -> tuple[str, tuple[str, ...]]:
    """The ``torch.nn`` class and arguments (source) of the activation ``name``; a one-line
    refusal for an activation the spec writes itself (no torch module computes it)."""
    if any(function.name == name for function in spec.functions):
        raise SymbackpropError(
            f"activation '{name}' is written in the spec (an expression); torch.nn has no module "
            f"for it, so it cannot be exported (built-ins export: {', '.join(TORCH_MODULES)})",
            spec.source,
        )
    family = _FAMILY.match(name)
    if family:
        return TORCH_MODULES[family.group(1)][0], (repr(float(family.group(2))),)
    if name not in TORCH_MODULES:  # a new built-in without a torch module here yet
        known = "built-in" if name in ELEMENTWISE else "unknown"
        raise SymbackpropError(f"{known} activation '{name}' has no torch module", spec.source)
    return TORCH_MODULES[name]


def torch_layers(spec: Spec) -> list[tuple[str, tuple[str, ...]]]:
    """The Sequential's items, in order: ``("Linear", ("2", "4"))``, ``("Tanh", ())``, ..."""
    items: list[tuple[str, tuple[str, ...]]] = []
    for layer in range(1, spec.depth + 1):
        items.append(("Linear", (str(spec.layers[layer - 1]), str(spec.layers[layer]))))
        items.append(torch_activation(spec, spec.layer_activation(layer)))
    return items


def sequential_code(spec: Spec) -> str:
    """Python source of the ``nn.Sequential`` the state dict loads into (``nn``: torch.nn)."""
    items = ", ".join(f"nn.{name}({', '.join(args)})" for name, args in torch_layers(spec))
    cast = ".double()" if spec.dtype == "float64" else ".float()"
    return f"nn.Sequential({items}){cast}"


def torch_sequential(spec: Spec) -> Any:  # noqa: ANN401
    """The ``torch.nn.Sequential`` of ``sequential_code``, built (torch must be installed)."""
    import ast

    nn = import_torch().nn
    modules = []
    for name, args in torch_layers(spec):
        positional, keywords = [], {}
        for arg in args:
            key, _, value = arg.rpartition("=")
            literal = ast.literal_eval(parse_python(value, mode="eval"))  # our own text
            if key:
                keywords[key] = literal
            else:
                positional.append(literal)
        modules.append(getattr(nn, name)(*positional, **keywords))
    model = nn.Sequential(*modules)
    return model.double() if spec.dtype == "float64" else model.float()


def folded(params: list[np.ndarray], scaling: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The parameters with the input standardisation folded into the first layer:
    ``W1 (x - m) / s + b1 = (W1 / s) x + (b1 - W1 (m / s))``; unchanged without scaling."""
    if not scaling:
        return list(params)
    W, b = params[0], params[1]
    mean = scaling["x_mean"].astype(np.float64)
    std = scaling["x_std"].astype(np.float64)
    W64 = W.astype(np.float64)
    with np.errstate(all="ignore"):  # an overflow is refused by export_command, in one line
        bias = b.astype(np.float64) - W64 @ (mean / std)
        return [(W64 / std).astype(W.dtype), bias.astype(b.dtype), *params[2:]]


def state_dict_arrays(
    params: list[np.ndarray], scaling: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """``{"0.weight": W1', "0.bias": b1', "2.weight": W2, ...}``: the Sequential's state dict."""
    arrays = {}
    for index, value in enumerate(folded(params, scaling)):
        layer = index // 2
        arrays[f"{2 * layer}.{'weight' if index % 2 == 0 else 'bias'}"] = value
    return arrays


def import_torch() -> Any:  # noqa: ANN401
    """``torch``, or one line saying how to install it."""
    try:
        import torch
    except ImportError:
        raise SymbackpropError("needs PyTorch: pip install torch", "export") from None
    return torch


def import_onnx() -> None:
    """Check that the ONNX exporter's packages are there (one line naming them if not)."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise SymbackpropError(
            "needs the onnx packages: pip install onnx onnxscript", "--onnx"
        ) from None


def torch_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``torch.save`` of the state dict, as bytes whose zip comment holds their digest."""
    torch = import_torch()
    state = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return stamp_zip(buffer.getvalue())


def onnx_bytes(spec: Spec, arrays: dict[str, np.ndarray]) -> bytes:
    """The model as ONNX (``torch.onnx.export``, dynamo exporter), batch size dynamic: input
    ``input`` of shape (n, n_in), output ``output`` of shape (n, n_out)."""
    import contextlib
    import logging
    import warnings

    torch = import_torch()
    model = torch_sequential(spec)
    model.load_state_dict({key: torch.from_numpy(value.copy()) for key, value in arrays.items()})
    model.train(False)  # inference mode (what nn.Module.eval() does)
    dtype = torch.float64 if spec.dtype == "float64" else torch.float32
    example = (torch.zeros(2, spec.layers[0], dtype=dtype),)
    batch = torch.export.Dim("batch")
    quiet = warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO())
    with quiet[0], quiet[1]:  # the exporter's progress lines and notes are not the user's
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            program = torch.onnx.export(
                model, example, dynamo=True, verbose=False, input_names=["input"],
                output_names=["output"], dynamic_shapes=({0: batch},),
            )  # fmt: skip
        finally:
            logging.disable(logging.NOTSET)
    return program.model_proto.SerializeToString()


def export_command(args: argparse.Namespace, out: TextIO) -> int:
    """``symbackprop export SPEC WEIGHTS --torch FILE.pt [--onnx FILE.onnx] [--force]``."""
    from .weights import read_saved

    if not (args.torch or args.onnx):
        raise SymbackpropError("give --torch FILE.pt and/or --onnx FILE.onnx", "export")
    spec = load_spec(args.spec)
    code = sequential_code(spec)  # an expression activation: refused before any work
    for path, suffixes in ((args.torch, (".pt", ".pth")), (args.onnx, (".onnx",))):
        if path:
            check_target(path, args.force, suffixes)
    saved = read_saved(spec, args.weights)  # refused before torch is imported
    scaling, classes = saved.scaling, saved.classes
    arrays = state_dict_arrays(saved.params, scaling)
    if not all(np.isfinite(value).all() for value in arrays.values()):
        raise DataError(
            f"its x_mean/x_std folded into the first layer give values too large for "
            f"{spec.dtype} (x_std as small as {scaling['x_std'].min():g})",
            str(args.weights),
        )
    import_torch()
    if args.onnx:
        import_onnx()
    # every file made before any is written: a failure leaves nothing half exported
    torch_data = torch_bytes(arrays) if args.torch else b""
    onnx_data = onnx_bytes(spec, arrays) if args.onnx else b""
    if args.torch:
        write_output(args.torch, torch_data, force=args.force, suffixes=(".pt", ".pth"))
        print(f"wrote {args.torch}: model = {code}", file=out)
        print(f"model.load_state_dict(torch.load({str(args.torch)!r}))", file=out)
    if args.onnx:
        write_output(args.onnx, onnx_data, force=args.force, suffixes=(".onnx",), sidecar=True)
        print(f"wrote {args.onnx}: input 'input' (n, {spec.layers[0]}), output 'output'", file=out)
    if scaling:
        print("the input standardisation (x_mean, x_std) is folded into the first Linear "
              "layer: give the model raw inputs", file=out)  # fmt: skip
    if classes and spec.layers[-1] == 1:
        print(f"the output is the probability of {classes[1]!r} (not {classes[0]!r})", file=out)
    elif classes:
        print(f"the outputs are the classes {', '.join(classes)}, in this order", file=out)
    return 0
