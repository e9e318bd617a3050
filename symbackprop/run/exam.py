"""``symbackprop exam``: exercise and solution sheets with randomised numbers, one per variant.

Each variant draws its own weights and sample from the seed (multiples of 0.1 in [-1, 1], none
zero), redrawn until every derivative is clearly nonzero, every answer is distinct from the
others at the printed precision, and no answer is a number the exercise sheet prints. The
numbers of a variant are the worked example's (``run.example``: the generated module's pass and
one gradient-descent step); ``render.exam`` lays them out. The same seed gives the same files.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import SymbackpropError
from ..pipeline import cached_module, derivation_of
from ..render.document import latex_engine, notation_named, pdf_bytes
from ..render.exam import ExamVariant, exercise_tex, numbers_in, questions, solution_tex
from ..render.example import DIGITS, MAX_SHOWN, check_digits
from ..spec.model import Spec
from ..spec.optimizers import OptimizerConfig
from ..util.fileio import check_folder, stamp_text, stamp_zip, write_output
from .example import worked_example

MAX_VARIANTS = 200
"""Variants one command writes at most."""
MAX_DRAWS = 2000
"""Draws per variant before giving up on nice numbers."""
MIN_DERIVATIVE = 1e-3
"""Every delta and gradient entry is at least this far from zero."""
MIN_ANSWER = 1e-2
"""Every answer is at least this far from zero (it prints without a power of ten)."""


@dataclass(frozen=True)
class Exam:
    """Every file of an exam kit, by name, as bytes (PDFs are compiled when written)."""

    files: dict[str, bytes]
    sheets: dict[str, str]
    """The .tex sheets by name (to compile)."""
    answers: dict


def check_exam(spec: Spec, variants: int, digits: int = DIGITS) -> Spec:
    """Refuse (one line) what an exam cannot be made of; the spec with plain SGD."""
    if isinstance(variants, bool) or not isinstance(variants, int):
        raise SymbackpropError(f"must be an integer, not {variants!r}", "--variants")
    if not 1 <= variants <= MAX_VARIANTS:
        raise SymbackpropError(f"must be from 1 to {MAX_VARIANTS}, not {variants}", "--variants")
    check_digits(digits)
    if spec.depth < 2:
        raise SymbackpropError("an exam asks for a hidden delta: the network needs a hidden layer",
                               spec.source)  # fmt: skip
    if max(spec.layers) > MAX_SHOWN:
        raise SymbackpropError(
            f"layers of at most {MAX_SHOWN} neurons fit an exam sheet (this network has "
            f"{max(spec.layers)})",
            spec.source,
        )
    training = replace(spec.training, optimizer=OptimizerConfig(), schedule=None)
    return replace(spec, training=training)


def make_exam(spec: Spec, variants: int, seed: int, notation: str = "default",
              digits: int = DIGITS, indices: int | None = None) -> Exam:  # fmt: skip
    """Draw and lay out every variant; the files an exam kit holds. ``indices``: the sheets
    count neurons from 0 or 1 (None: as the notation profile does)."""
    spec = check_exam(spec, variants, digits)
    profile = notation_named(notation, indices)
    derivation = derivation_of(spec)
    module = cached_module(spec, derivation)
    files: dict[str, bytes] = {}
    sheets: dict[str, str] = {}
    records = []
    drawn: set[bytes] = set()
    for number in range(1, variants + 1):
        variant, exercise = _variant(spec, derivation, module, seed, number, profile, digits,
                                     drawn)  # fmt: skip
        sheets[f"exercise-{number}.tex"] = exercise
        sheets[f"solution-{number}.tex"] = solution_tex(derivation, variant, profile)
        files[f"variant-{number}.npz"] = _npz(variant)
        records.append(_answers(derivation, variant))
    answers = {
        "spec": spec.name,
        "seed": seed,
        "digits": digits,
        "learning_rate": spec.training.learning_rate,
        "note": "weights are named as `symbackprop inspect` names them (rows and columns from 0); "
        "every value unrounded, the sheets print it to `digits` significant digits",
        "variants": records,
    }
    for name, text in sheets.items():
        files[name] = stamp_text(text, "latex")
    return Exam(files, sheets, answers)


def _variant(spec, derivation, module, seed, number, notation, digits, drawn):  # noqa: ANN001, ANN202
    """Variant ``number``: draws from its own generator until the numbers are nice."""
    rng = np.random.default_rng([seed, number])
    shapes = [np.shape(p) for p in module.init_params(0)]
    depth = spec.depth
    for _ in range(MAX_DRAWS):
        params = [_nice(rng, shape) for shape in shapes]
        x = _nice(rng, (1, spec.layers[0]))
        y = _target(rng, spec)
        named = tuple(
            (l, int(rng.integers(spec.layers[l])), int(rng.integers(spec.layers[l - 1])))
            for l in (depth, 1)
        )
        key = b"".join(p.tobytes() for p in params) + x.tobytes() + y.tobytes()
        values = module.intermediates(params, x, y)
        if key in drawn or not _derivatives_clear(values, depth):
            continue
        example = worked_example(derivation, x, y, params=params, sample=0)
        variant = ExamVariant(number, example, named, depth - 1, digits)
        if not _answers_distinct(derivation, variant):
            continue
        exercise = exercise_tex(derivation, variant, notation)
        printed = numbers_in(exercise)
        if any(float(f"{abs(v):.{digits - 1}e}") in printed for v in _scalars(derivation, variant)):
            continue
        drawn.add(key)
        return variant, exercise
    raise SymbackpropError(
        f"found no variant {number} with nice numbers in {MAX_DRAWS} draws (another seed?)",
        "--seed",
    )


def _nice(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Multiples of 0.1 in [-1, 1], none zero."""
    tenths = rng.integers(1, 11, size=shape) * rng.choice([-1, 1], size=shape)
    return np.round(tenths / 10, 1).astype(np.float64)


def _target(rng: np.random.Generator, spec: Spec) -> np.ndarray:
    """A target the output can reach: one-hot for softmax, 0/1 for sigmoid, else tenths."""
    n = spec.layers[-1]
    if spec.output == "softmax":
        return np.eye(n)[[int(rng.integers(n))]]
    if spec.output == "sigmoid":
        return rng.integers(0, 2, size=(1, n)).astype(np.float64)
    return _nice(rng, (1, n))


def _derivatives_clear(values: dict[str, np.ndarray], depth: int) -> bool:
    """Finite, and every delta and gradient entry at least MIN_DERIVATIVE from zero."""
    names = [f"{kind}{l}" for l in range(1, depth + 1) for kind in ("delta", "dW", "db")]
    arrays = [values[name] for name in names] + [np.asarray(values["loss"])]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        return False
    return all(np.all(np.abs(values[name]) >= MIN_DERIVATIVE) for name in names)


def _scalars(derivation, variant: ExamVariant) -> list[float]:  # noqa: ANN001
    """Every answer of a variant, entry by entry."""
    return [float(v) for _, step in questions(derivation, variant) for v in step.rhs[0]]


def _answers_distinct(derivation, variant: ExamVariant) -> bool:  # noqa: ANN001
    """No answer near zero, and no two answers equal at the printed precision unless they are
    the same number (an identity such as delta = a - 0 for softmax with cross-entropy)."""
    scalars = _scalars(derivation, variant)
    if any(abs(v) < MIN_ANSWER for v in scalars):
        return False
    seen: dict[str, float] = {}
    for value in scalars:
        printed = f"{abs(value):.{variant.digits - 1}e}"
        if printed in seen and abs(seen[printed] - abs(value)) > 1e-12 * abs(value):
            return False
        seen[printed] = abs(value)
    return True


def _answers(derivation, variant: ExamVariant) -> dict:  # noqa: ANN001
    """A variant's answers for marking: unrounded values, by quantity."""
    number = variant.number
    record: dict = {
        "variant": number,
        "weights": f"variant-{number}.npz",
        "exercise": f"exercise-{number}.tex",
        "solution": f"solution-{number}.tex",
        "forward": {},
        "loss": None,
        "output_delta": {},
        "hidden_delta": {},
        "gradients": {},
        "updated": {},
    }
    output = derivation.network.output.index
    for key, step in questions(derivation, variant):
        values = [float(v) for v in step.rhs[0]]
        if key == "loss":
            record["loss"] = values[0]
        elif key == f"delta{output}":
            record["output_delta"] = {key: values}
        elif key.startswith("delta"):
            record["hidden_delta"] = {key: values}
        elif key.startswith("dW"):
            record["gradients"][key[1:]] = values[0]
        elif key.startswith("W"):
            record["updated"][key] = values[0]
        else:
            record["forward"][key] = values
    return record


def _npz(variant: ExamVariant) -> bytes:
    """The variant's weights W1, b1, ... and its sample x, y, as a stamped .npz whose bytes
    depend on nothing but the numbers (fixed dates in the archive)."""
    values = variant.example.values
    depth = sum(1 for name in values if name.startswith("W"))
    arrays = {}
    for l in range(1, depth + 1):
        arrays[f"W{l}"], arrays[f"b{l}"] = values[f"W{l}"], values[f"b{l}"]
    arrays["x"], arrays["y"] = values["A0"], values["Y"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, entry.getvalue())
    return stamp_zip(buffer.getvalue())


def exam_files(variants: int, pdf: bool) -> list[str]:
    """The names an exam kit writes in its folder (answers.json aside: it may go elsewhere)."""
    names = []
    for number in range(1, variants + 1):
        for stem in ("exercise", "solution"):
            names += [f"{stem}-{number}.tex"] + ([f"{stem}-{number}.pdf"] if pdf else [])
        names.append(f"variant-{number}.npz")
    return names


def write_exam(
    spec: Spec,
    folder: Path,
    variants: int,
    seed: int,
    notation: str = "default",
    answers: Path | None = None,
    pdf: bool | None = None,
    indices: int | None = None,
) -> list[Path]:
    """Make an exam kit and write it to ``folder`` (``answers``: the JSON elsewhere); refuses,
    before any work, a folder holding a file of these names that symbackprop did not write."""
    check_exam(spec, variants)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SymbackpropError(f"must be an integer >= 0, not {seed!r}", "--seed")
    pdf = latex_engine() is not None if pdf is None else pdf  # a LaTeX engine: PDFs too
    folder = Path(folder)
    answers_path = answers if answers is not None else folder / "answers.json"
    if answers_path.suffix.lower() != ".json":
        raise SymbackpropError("the answers file's name must end in .json", str(answers_path))
    remedy = "exam never replaces a file it did not write: move it, or write to another folder"
    # the answers file first: refusing it leaves no empty -o folder behind
    check_folder(answers_path.parent, [answers_path.name], remedy=remedy)
    check_folder(folder, exam_files(variants, pdf), remedy=remedy)
    exam = make_exam(spec, variants, seed, notation, indices=indices)
    files = dict(exam.files)
    if pdf:  # every PDF made before any file is written: Ctrl-C or a failure leaves the folder
        for name, tex in exam.sheets.items():  # as it was, not new .tex beside old PDFs
            files[str(Path(name).with_suffix(".pdf"))] = pdf_bytes(tex, where=str(folder / name))
    written = [write_output(folder / name, data) for name, data in files.items()]
    text = json.dumps(exam.answers, indent=1, sort_keys=False) + "\n"
    written.append(write_output(answers_path, text.encode(), sidecar=True))
    return written
