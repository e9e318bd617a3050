"""Saved weights: one ``.npz`` per network, arrays named by PARAM_NAMES in the module's shapes.

The file holds ``W1, b1, W2, b2, ...`` (shape ``(n_l, n_{l-1})`` and ``(n_l,)``, as
``torch.nn.Linear``), ``network`` (a one-line signature of the architecture the weights fit) and
``spec_digest`` (the sha256 prefix of the spec file they were trained from). Optional extra arrays
ride along: input standardisation ``x_mean``, ``x_std``, and ``classes``, the class names of
string labels in class order (files without them load as before). ``run --save`` writes this format,
``run --weights``, ``predict``, ``evaluate`` and ``derive --example --weights`` read it; a file
written by hand needs only the parameter arrays.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..spec.model import Spec
from ..spec.parameters import network_signature, param_names, param_shapes
from ..util.fileio import stamp_zip, write_output
from .data import check_classes, read_npz

META_KEYS = ("network", "spec_digest")


def save_weights(
    path: Path,
    spec: Spec,
    params: list[np.ndarray],
    extra: dict[str, np.ndarray] | None = None,
    force: bool = False,
) -> Path:
    """Write ``params`` (PARAM_NAMES order) and the spec's signature to ``path`` atomically, by
    the overwrite rule of ``fileio`` (the archive's comment holds its digest)."""
    names = param_names(spec)
    if len(params) != len(names):
        raise ValueError(f"expected {len(names)} parameter arrays, got {len(params)}")
    arrays = {name: np.asarray(value) for name, value in zip(names, params, strict=True)}
    arrays["network"] = np.array(network_signature(spec))
    arrays["spec_digest"] = np.array(spec.digest)
    for key, value in (extra or {}).items():
        if key in arrays:
            raise ValueError(f"extra array '{key}' clashes with a parameter or metadata name")
        arrays[key] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_output(Path(path), stamp_zip(buffer.getvalue()), force=force)


def load_weights(
    path: Path, spec: Spec, dtype: type = np.float64
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The parameters in PARAM_NAMES order (as ``dtype``, C-contiguous) and any extra arrays.

    Raises DataError naming the file and the array when a parameter is missing, has the wrong
    shape, is not finite, or the file was saved for another network.
    """
    where = str(path)
    content = read_npz(Path(path), "weights file")
    saved_for = content.get("network")
    if saved_for is not None and str(saved_for) != network_signature(spec):
        raise DataError(
            f"weights were saved for network '{saved_for}', "
            f"not this spec's '{network_signature(spec)}'",
            where,
        )
    params = []
    for name, shape in param_shapes(spec).items():
        if name not in content:
            raise DataError(f"missing array '{name}' (needs {', '.join(param_names(spec))})", where)
        value = content.pop(name)
        if value.shape != shape or value.dtype.kind not in "fiu":
            raise DataError(
                f"array '{name}' has shape {value.shape} and dtype {value.dtype}; "
                f"expected a numeric array of shape {shape}",
                where,
            )
        with np.errstate(over="ignore"):  # 1e39 into float32: inf, refused just below
            value = np.ascontiguousarray(value, dtype=dtype)
        if not np.all(np.isfinite(value)):
            raise DataError(
                f"array '{name}' holds non-finite values (nan, inf, or too large for "
                f"{np.dtype(dtype).name})",
                where,
            )
        params.append(value)
    for key in META_KEYS:
        content.pop(key, None)
    return params, content


def input_scaling(spec: Spec, extras: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """The ``x_mean`` and ``x_std`` of a weights file, checked: required when the spec says
    ``standardize = true`` (raw inputs would give silently wrong outputs), real, finite, one
    value per input, ``x_std`` > 0. Empty when the file has neither and the spec does not ask."""
    present = [key for key in ("x_mean", "x_std") if key in extras]
    if not present and not spec.data.standardize:
        return {}
    if len(present) < 2:
        missing = next(key for key in ("x_mean", "x_std") if key not in extras)
        why = f"{present[0]} is there" if present else "the spec says standardize = true"
        raise DataError(
            f"missing array '{missing}' ({why}; save the weights with run --save, or with the "
            "module's save_params(path, params, x_mean, x_std))",
            where,
        )
    n_in = spec.layers[0]
    scaling = {}
    for key in ("x_mean", "x_std"):
        value = extras[key]
        if value.shape != (n_in,) or value.dtype.kind not in "fiu":
            raise DataError(
                f"array '{key}' has shape {value.shape} and dtype {value.dtype}; "
                f"expected a numeric array of shape ({n_in},)",
                where,
            )
        value = value.astype(np.float64)
        if not np.all(np.isfinite(value)):
            raise DataError(f"array '{key}' holds non-finite values", where)
        scaling[key] = value
    if not np.all(scaling["x_std"] > 0):
        raise DataError(f"array 'x_std' holds {scaling['x_std'].min():g}; must be > 0", where)
    return scaling


def saved_classes(spec: Spec, extras: dict[str, np.ndarray], where: str) -> tuple[str, ...] | None:
    """The ``classes`` of a weights file (the class names of string labels), checked: a 1-D
    array of strings, one per output (two for a single output), distinct and printable. None
    when the file has none (numeric labels, or a file from before class names were saved)."""
    if "classes" not in extras:
        return None
    value = extras["classes"]
    if value.ndim != 1 or value.dtype.kind != "U":
        raise DataError(
            f"array 'classes' has shape {value.shape} and dtype {value.dtype}; "
            "expected a 1-D array of class names",
            where,
        )
    classes = tuple(str(name) for name in value)
    check_classes(classes, spec, f"{where}: array 'classes'")
    return classes


@dataclass(frozen=True)
class Saved:
    """Saved weights as ``predict``, ``evaluate`` and ``export`` use them: the parameters, the
    input scaling and the class names of string labels (None for numeric labels)."""

    params: list[np.ndarray]
    scaling: dict[str, np.ndarray]
    classes: tuple[str, ...] | None


def read_saved(spec: Spec, path: Path) -> Saved:
    """A weights file for ``spec``, every part checked (``load_weights``, ``input_scaling``,
    ``saved_classes``), in the spec's dtype."""
    dtype = np.float32 if spec.dtype == "float32" else np.float64
    params, extras = load_weights(path, spec, dtype)
    where = str(path)
    return Saved(params, input_scaling(spec, extras, where), saved_classes(spec, extras, where))
