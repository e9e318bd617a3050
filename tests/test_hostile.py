"""Hostile input: every case is one row of CASES (setup, command, exit status, message).

The CLI runs in-process (``symbackprop.cli.main``) in a fresh folder holding the files a case's
setup wrote; an error must be ONE line on stderr (``symbackprop: error: ...``) with exit 2 and
no traceback. Cases that need the derivation or a compiled module are few and small (xor).
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli.commands import main
from symbackprop.codegen.source import write_module
from symbackprop.errors import SymbackpropError
from symbackprop.pipeline import module_source
from symbackprop.run.data import load_data
from symbackprop.spec.model import load_spec, parse_spec
from symbackprop.util.escape import python_comment
from symbackprop.util.fileio import is_owned, stamp_text, unstamp_text, write_output

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0

SPEC = """name = "{name}"
[network]
layers = {layers}
activation = "tanh"
output = "{output}"
loss = "{loss}"
dtype = "{dtype}"
[training]
learning_rate = {lr}
epochs = {epochs}
[data]
dataset = "{dataset}"
"""


def spec_text(**fields: object) -> str:
    """A spec file's text: a 2-4-1 xor-like network unless fields say otherwise."""
    values = {
        "name": "net",
        "layers": "[2, 4, 1]",
        "output": "sigmoid",
        "loss": "mse",
        "dtype": "float64",
        "lr": "0.5",
        "epochs": "2",
        "dataset": "data.csv",
    }
    values.update({k: str(v) for k, v in fields.items()})
    return SPEC.format(**values)


XOR_CSV = "0,0,0\n0,1,1\n1,0,1\n1,1,0\n"


STANDARDIZED = spec_text().replace(
    'dataset = "data.csv"', 'dataset = "data.csv"\nstandardize = true'
)


def deflated_bomb(path: Path, member: str, size: int, arrays: dict[str, np.ndarray]) -> None:
    """An .npz holding ``arrays`` and ``member``: ``size`` zero bytes deflated (a few MB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, value)
            archive.writestr(key if key.endswith(".npy") else f"{key}.npy", buffer.getvalue())
        with archive.open(member, "w", force_zip64=True) as handle:
            block = bytes(1 << 20)
            for _ in range(size // len(block)):
                handle.write(block)
            handle.write(bytes(size % len(block)))


def latex_spec(latex: str) -> str:
    """A spec whose [functions.f] has the LaTeX name ``latex`` (a TOML basic string)."""
    return spec_text() + f'[functions.f]\nactivation = "x"\nlatex = {json.dumps(latex)}\n'


def files(**named: str | bytes) -> Callable[[Path], None]:
    """A setup writing files (text or bytes) into the case's folder."""

    def setup(folder: Path) -> None:
        for name, content in named.items():
            path = folder / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)

    return setup


def fifo(name: str, also: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        if also:
            also(folder)
        os.mkfifo(folder / name.replace("__", "/"))

    return setup


def unreadable(name: str, content: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        files(**{name: content})(folder)
        (folder / name).chmod(0)

    return setup


def sparse(name: str, size: int, also: Callable[[Path], None] | None = None):  # noqa: ANN201
    """A file of ``size`` NUL bytes that takes no disk space."""

    def setup(folder: Path) -> None:
        if also:
            also(folder)
        with open(folder / name.replace("__", "/"), "wb") as handle:
            handle.truncate(size)

    return setup


def npy_claiming(shape: tuple[int, ...]) -> bytes:
    """An .npy member whose header claims ``shape`` (float64) but holds 16 bytes of data."""
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 16


def npz(name: str, members: dict[str, bytes | np.ndarray], also=None):  # noqa: ANN001, ANN201
    def setup(folder: Path) -> None:
        if also:
            also(folder)
        with zipfile.ZipFile(folder / name, "w") as archive:
            for key, value in members.items():
                if isinstance(value, np.ndarray):
                    buffer = io.BytesIO()
                    np.save(buffer, value)
                    value = buffer.getvalue()
                archive.writestr(f"{key}.npy", value)

    return setup


XOR_WEIGHTS = {
    "W1": np.full((4, 2), 0.3),
    "b1": np.zeros(4),
    "W2": np.full((1, 4), 0.2),
    "b2": np.zeros(1),
}
"""Weights that fit the built-in xor spec (2-4-1)."""


PNG = b"\x89PNG\r\n\x1a\nmy holiday photo"


def linked(name: str, target: str, target_exists: bool = True) -> Callable[[Path], None]:
    """A symbolic link ``name`` to ``target`` (a file of the user's, or nothing)."""

    def setup(folder: Path) -> None:
        if target_exists:
            (folder / target).write_text("mine")
        (folder / name).symlink_to(folder / target)

    return setup


def edited_weights(name: str) -> Callable[[Path], None]:
    """Weights symbackprop saved, then changed by the user (still with its ``network`` entry)."""

    def setup(folder: Path) -> None:
        from symbackprop.run.weights import save_weights

        spec = parse_spec(tomllib.loads(spec_text()), source=str(folder / "net.toml"))
        save_weights(folder / name, spec, list(XOR_WEIGHTS.values()))
        with np.load(folder / name) as archive:
            content = {key: archive[key] for key in archive.files}
        content["W1"] = content["W1"] * 2
        np.savez(folder / name, **content)

    return setup


def own_sweep_then(setup_after: Callable[[Path], None]) -> Callable[[Path], None]:
    """The sweep's own results.json (as symbackprop wrote it), then ``setup_after``."""

    def setup(folder: Path) -> None:
        from symbackprop.tools.grid import read_table
        from symbackprop.util.fileio import write_output

        base = read_table("xor")
        meta = {"spec": base.source, "spec_digest": base.digest, "grid_keys": ["epochs"],
                "data": ["built-in xor"]}  # fmt: skip
        text = json.dumps({"sweep": meta, "trials": []}).encode()
        write_output(folder / "out" / "results.json", text, sidecar=True)
        setup_after(folder)

    return setup


def tampered_sweep(content: object) -> Callable[[Path], None]:
    """out/results.json written as symbackprop writes it (stamped), holding ``content``: the
    xor sweep's own ``sweep`` entry and ``trials`` replaced, or raw bytes."""

    def setup(folder: Path) -> None:
        from symbackprop.tools.grid import read_table
        from symbackprop.util.fileio import write_output

        base = read_table("xor")
        meta = {"spec": base.source, "spec_digest": base.digest, "grid_keys": ["epochs"],
                "data": ["built-in xor"]}  # fmt: skip
        if isinstance(content, bytes):
            text = content
        else:
            text = json.dumps(content(meta) if callable(content) else content).encode()
        write_output(folder / "out" / "results.json", text, sidecar=True)

    return setup


RECORD = {"values": {"epochs": "1"}, "seed": 0, "status": "ok", "final_loss": 0.1,
          "accuracy": 1.0, "seconds": 0.1, "losses": [0.1], "loss_epochs": [1]}  # fmt: skip
"""A finished trial of the xor sweep, as results.json holds it."""


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        for one in setups:
            one(folder)

    return setup


@dataclass(frozen=True)
class Case:
    """One hostile input: what to set up, what to run, what must come out."""

    name: str
    setup: Callable[[Path], None]
    argv: tuple[str, ...]
    status: int
    message: str = ""
    env: dict[str, str] = field(default_factory=dict)
    not_as_root: bool = False
    unchanged: tuple[str, ...] = ()
    """Files that must be byte-for-byte the same after the command."""
    absent: tuple[str, ...] = ()
    """Paths that must not exist after the command (nor any temporary file beside them)."""


def run_spec(*extra: str) -> tuple[str, ...]:
    return ("run", "net.toml", "--quiet-derivation", *extra)


SPEC_AND_DATA = files(**{"net.toml": spec_text(), "data.csv": XOR_CSV})
WRITE_TARGETS = both(SPEC_AND_DATA, npz("w.npz", XOR_WEIGHTS), files(**{"x.csv": "0,1\n"}))
"""What run --save/--plot and predict -o need, for cases about where they write."""


def sweep_into(folder: str) -> tuple[str, ...]:
    return ("sweep", "xor", "--grid", "epochs=1", "--output", folder)


def unix_socket(name: str, also: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    """A Unix socket at ``name`` (bound from inside the folder: socket paths are short)."""

    def setup(folder: Path) -> None:
        import socket

        if also:
            also(folder)
        here = os.getcwd()
        os.chdir(folder)
        try:
            with socket.socket(socket.AF_UNIX) as server:
                server.bind(name)
        finally:
            os.chdir(here)

    return setup


def export_to(*targets: str, spec: str = "xor") -> tuple[str, ...]:
    return ("export", spec, "w.npz", *targets)


EXPORTED = ("m.pt", "m.onnx")
EXPORT_BOTH = export_to("--torch", "m.pt", "--onnx", "m.onnx")
STANDARDIZED_FILES = files(**{"net.toml": STANDARDIZED, "data.csv": XOR_CSV})
SCALING = {"x_mean": np.zeros(2), "x_std": np.ones(2)}


def export_weights(kind: str, setup: Callable[[Path], None], message: str, spec: str = "xor"):  # noqa: ANN201
    """export of tampered weights (to both formats): one line naming the file, nothing written."""
    return Case(
        f"export of weights with {kind}",
        both(STANDARDIZED_FILES, setup),
        export_to("--torch", "m.pt", "--onnx", "m.onnx", spec=spec),
        2,
        message,
        absent=EXPORTED,
    )


MINE = "print('my own work')\n"

CASES = [
    # --- the spec file -------------------------------------------------------------------------
    Case(
        "spec is a folder",
        files(**{"sp.toml__x": ""}),
        ("generate", "sp.toml"),
        2,
        "sp.toml: is a folder, not a spec file",
    ),
    Case(
        "spec folder without suffix",
        files(**{"specs__a": ""}),
        ("derive", "specs"),
        2,
        "is a folder",
    ),
    Case(
        "spec is a FIFO (no hang)", fifo("f.toml"), ("generate", "f.toml"), 2, "not a regular file"
    ),
    Case(
        "spec unreadable",
        unreadable("u.toml", spec_text()),
        ("generate", "u.toml"),
        2,
        "cannot read the spec file",
        not_as_root=True,
    ),
    Case(
        "spec of 2 MB",
        files(**{"big.toml": "#" * (2 << 20)}),
        ("generate", "big.toml"),
        2,
        "a spec file holds at most",
    ),
    Case(
        "8.7M layers (size cap first)",
        sparse("deep.toml", 17_400_000),
        ("derive", "deep.toml"),
        2,
        "a spec file holds at most",
    ),
    Case(
        "65 layers",
        files(**{"net.toml": spec_text(layers=[2] * 66)}),
        ("derive", "net.toml"),
        2,
        "65 weight layers; at most 32",
    ),
    Case(
        "layer of 10**12",
        files(**{"net.toml": spec_text(layers="[2, 1000000000000, 1]")}),
        ("check", "net.toml"),
        2,
        "above the limit",
    ),
    Case(
        "10**10 weights",
        files(**{"net.toml": spec_text(layers="[100000, 100000, 10]")}),
        ("check", "net.toml"),
        2,
        "weights and biases; at most",
    ),
    Case(
        "learning_rate inf",
        files(**{"net.toml": spec_text(lr="inf")}),
        run_spec(),
        2,
        "training.learning_rate: must be a finite number > 0, not inf",
    ),
    Case(
        "learning_rate nan",
        files(**{"net.toml": spec_text(lr="nan")}),
        run_spec(),
        2,
        "training.learning_rate: must be a finite number > 0",
    ),
    Case(
        "learning_rate 1e400",
        files(**{"net.toml": spec_text(lr="1e400")}),
        run_spec(),
        2,
        "must be a finite number > 0",
    ),
    Case(
        "epochs 2**70",
        files(**{"net.toml": spec_text(epochs=2**70)}),
        run_spec(),
        2,
        "training.epochs: must be an integer in 1..9223372036854775807",
    ),
    Case(
        "name numpy",
        files(**{"net.toml": spec_text(name="numpy")}),
        ("generate", "net.toml"),
        2,
        "would shadow",
    ),
    Case(
        "name math",
        files(**{"net.toml": spec_text(name="math")}),
        ("generate", "net.toml"),
        2,
        "name 'math' would shadow",
    ),
    Case(
        "name sys",
        files(**{"net.toml": spec_text(name="sys")}),
        ("generate", "net.toml"),
        2,
        "would shadow",
    ),
    Case(
        "spec not UTF-8",
        files(**{"net.toml": b'name = "\xff"\n'}),
        ("generate", "net.toml"),
        2,
        "not valid TOML",
    ),
    Case(
        "spec with NUL",
        files(**{"net.toml": b'name = "a\0b"\n'}),
        ("generate", "net.toml"),
        2,
        "not valid TOML",
    ),
    Case(
        "name with newline",
        files(**{"net.toml": 'name = "a\\nb"\n'}),
        ("generate", "net.toml"),
        2,
        "not a valid Python identifier",
    ),
    Case("missing spec path", files(), ("generate", "no/such.toml"), 2, "no such spec file"),
    Case(
        "5000-digit integer",
        files(**{"net.toml": spec_text(epochs="9" * 5000)}),
        ("generate", "net.toml"),
        2,
        "not valid TOML",
    ),
    Case(
        "arrays nested 100000 deep",
        files(**{"net.toml": "a = " + "[" * 100_000 + "]" * 100_000}),
        ("generate", "net.toml"),
        2,
        "not valid TOML",
    ),
    Case(
        "-o in a missing folder (created)",
        files(),
        ("derive", "xor", "--format", "text", "-o", "new/deeper/x.txt"),
        0,
    ),
    # --- the data file -------------------------------------------------------------------------
    Case(
        "dataset path with NUL",
        files(**{"net.toml": spec_text(dataset="a\\u0000b.csv")}),
        run_spec(),
        2,
        "data.dataset: must be a file path or a built-in name",
    ),
    Case(
        "dataset path of 5000 characters",
        files(**{"net.toml": spec_text(dataset="a" * 5000 + ".csv")}),
        run_spec(),
        2,
        "cannot read the data file (File name too long)",
    ),
    Case(
        "data is a folder",
        both(
            SPEC_AND_DATA,
            files(**{"dir.csv__x": ""}),
            files(**{"net.toml": spec_text(dataset="dir.csv")}),
        ),
        run_spec(),
        2,
        "dir.csv: is a folder, not a data file",
    ),
    Case(
        "data is a FIFO",
        fifo("pipe.csv", files(**{"net.toml": spec_text(dataset="pipe.csv")})),
        run_spec(),
        2,
        "is not a regular file",
    ),
    Case(
        "data unreadable",
        both(unreadable("data.csv", XOR_CSV), files(**{"net.toml": spec_text()})),
        run_spec(),
        2,
        "cannot read the data file",
        not_as_root=True,
    ),
    Case(
        "1 GB NUL-filled CSV",
        sparse("data.csv", 1 << 30, files(**{"net.toml": spec_text()})),
        run_spec(),
        2,
        "CSV files of at most",
    ),
    Case(
        "CSV with a NUL",
        files(**{"net.toml": spec_text(), "data.csv": "0,0,0\n0,\0,1\n"}),
        run_spec(),
        2,
        "line 2, column 2: '\\x00' is not a number",
    ),
    Case(
        "CSV not UTF-8",
        files(**{"net.toml": spec_text(), "data.csv": b"0,0,0\n\xff,1,1\n"}),
        run_spec(),
        2,
        "not UTF-8 text",
    ),
    Case(
        "CSV typo in first row is not a header",
        files(**{"net.toml": spec_text(), "data.csv": "0,0x,0\n0,1,1\n"}),
        run_spec(),
        2,
        "line 1, column 2: '0x' is not a number",
    ),
    Case(
        "CSV 1_0",
        files(**{"net.toml": spec_text(), "data.csv": "0,0,0\n0,1_0,1\n"}),
        run_spec(),
        2,
        "line 2, column 2: '1_0' is not a number",
    ),
    Case(
        "CSV Arabic-Indic digit",
        files(**{"net.toml": spec_text(), "data.csv": "0,0,0\n0,\u0661,1\n"}),
        run_spec(),
        2,
        "column 2: '\u0661' is not a number",
    ),
    Case(
        "CSV hex",
        files(**{"net.toml": spec_text(), "data.csv": "0,0,0\n0,0x1,1\n"}),
        run_spec(),
        2,
        "'0x1' is not a number",
    ),
    Case(
        "CSV nan cell names its line and column",
        files(**{"net.toml": spec_text(), "data.csv": "a,b,y\n0,0,0\nnan,1,1\n"}),
        run_spec(),
        2,
        "data.csv line 3, column 'a': 'nan' is NaN or infinity (sample 1)",
    ),
    Case(
        "CSV 1e400 overflows at its line and column",
        files(**{"net.toml": spec_text(), "data.csv": "0,0,0\n0,1e400,1\n"}),
        run_spec(),
        2,
        "data.csv line 2, column 2: '1e400' is NaN or infinity (sample 1)",
    ),
    Case(
        "CSV class label out of range names its line",
        files(**{"net.toml": spec_text(layers="[2, 4, 2]", output="softmax",
                                       loss="cross_entropy"),
                 "data.csv": "a,b,y\n0,0,0\n0,1,7\n"}),
        run_spec(),
        2,
        "data.csv line 3, column 'y': '7': class labels must be integers in 0..1 for 2 outputs",
    ),
    Case(
        "CSV class label inf",
        files(**{"net.toml": spec_text(layers="[2, 4, 2]", output="softmax",
                                       loss="cross_entropy"),
                 "data.csv": "a,b,y\n0,0,inf\n0,1,1\n"}),
        run_spec(),
        2,
        "data.csv line 2, column 'y': 'inf' is NaN or infinity (sample 0)",
    ),
    Case(
        "CSV only a header",
        files(**{"net.toml": spec_text(), "data.csv": "a,b,y\n"}),
        run_spec(),
        2,
        "no data rows",
    ),
    Case(
        "CSV 1e39 in float32",
        files(**{"net.toml": spec_text(dtype="float32"), "data.csv": "0,0,0\n0,1e39,1\n"}),
        run_spec(),
        2,
        "inputs overflow float32 (sample 1: 1e+39",
    ),
    Case(
        "CSV target 1e39 in float32",
        files(
            **{
                "net.toml": spec_text(dtype="float32", loss="mse", output="identity"),
                "data.csv": "0,0,1e39\n",
            }
        ),
        run_spec(),
        2,
        "targets overflow float32",
    ),
    Case(
        "npz claims 10**10 rows",
        npz(
            "d.npz",
            {"X": npy_claiming((10**10, 2)), "y": np.zeros(4)},
            files(**{"net.toml": spec_text(dataset="d.npz")}),
        ),
        run_spec(),
        2,
        "array 'X' claims shape (10000000000, 2)",
    ),
    Case(
        "npz claims more than it holds",
        npz(
            "d.npz",
            {"X": npy_claiming((4, 2)), "y": np.zeros(4)},
            files(**{"net.toml": spec_text(dataset="d.npz")}),
        ),
        run_spec(),
        2,
        "but the archive holds",
    ),
    Case(
        "npz with 0 rows",
        npz(
            "d.npz",
            {"X": np.zeros((0, 2)), "y": np.zeros(0)},
            files(**{"net.toml": spec_text(dataset="d.npz")}),
        ),
        run_spec(),
        2,
        "array 'X' has 0 rows",
    ),
    Case(
        "npz that is not a zip",
        files(**{"net.toml": spec_text(dataset="d.npz"), "d.npz": b"PK\3\4garbage"}),
        run_spec(),
        2,
        "not a readable .npz archive",
    ),
    Case(
        "npz with object arrays",
        files(**{"net.toml": spec_text(dataset="d.npz")}),
        run_spec(),
        2,
        "not a readable .npz archive",
    ),  # setup completed below
    # --- predict reads data as run does (one strict, capped reader) ----------------------------
    Case(
        "predict: 1_0 in the inputs",
        both(npz("w.npz", XOR_WEIGHTS), files(**{"x.csv": "0,1\n1_0,1\n"})),
        ("predict", "xor", "w.npz", "x.csv"),
        2,
        "x.csv line 2, column 1: '1_0' is not a number",
    ),
    Case(
        "predict: 1_0 after a header",
        both(npz("w.npz", XOR_WEIGHTS), files(**{"x.csv": "a,b\n2,1_0\n"})),
        ("predict", "xor", "w.npz", "x.csv"),
        2,
        "x.csv line 2, column 'b': '1_0' is not a number",
    ),
    Case(
        "predict: CSV of 300 MB (not read)",
        sparse("x.csv", 300 << 20, npz("w.npz", XOR_WEIGHTS)),
        ("predict", "xor", "w.npz", "x.csv"),
        2,
        "CSV files of at most 268435456 bytes are read",
    ),
    Case(
        "predict: 1e39 in a float32 spec",
        both(
            npz("w.npz", XOR_WEIGHTS),
            files(**{"net.toml": spec_text(dtype="float32"), "x.csv": "0,1\n1e39,1\n"}),
        ),
        ("predict", "net.toml", "w.npz", "x.csv"),
        2,
        "inputs overflow float32 (sample 1",
    ),
    Case(
        "predict: complex X in an .npz",
        both(npz("w.npz", XOR_WEIGHTS), npz("x.npz", {"X": np.ones((2, 2), dtype=complex)})),
        ("predict", "xor", "w.npz", "x.npz"),
        2,
        "array 'X' is not real-valued numbers (complex128)",
    ),
    Case(
        "predict: X claiming 10**10 rows (not allocated)",
        both(npz("w.npz", XOR_WEIGHTS), npz("x.npz", {"X": npy_claiming((10**10, 2))})),
        ("predict", "xor", "w.npz", "x.npz"),
        2,
        "array 'X' claims shape (10000000000, 2)",
    ),
    # --- LaTeX names ([functions.f] latex = ...): an allowlist grammar, ^^ refused ------------
    *(
        Case(
            f"latex name {text!r}",
            files(**{"net.toml": latex_spec(text)}),
            ("derive", "net.toml"),
            2,
            f"net.toml: functions.f.latex: LaTeX name {text!r}: {why}",
        )
        for text, why in (
            (r"\inp^^75t{^^2fetc^^2fhostname}", "'^^' is refused"),
            (r"\^^69nput{/etc/hostname}", "'^^' is refused"),
            (r"\imm^^65diate\w^^72ite18{touch PWNED}f", "'^^' is refused"),
            (r"\immediate\write18{touch PWNED}f", "the command \\immediate is not allowed"),
            (r"\latelua{os.remove'thesis.tex'}f", "the command \\latelua is not allowed"),
            (r"\directlua{os.exit(1)}f", "the command \\directlua is not allowed"),
            (r"\InputIfFileExists{/etc/hostname}{}{}", "the command \\InputIfFileExists"),
            (r"\input /etc/hostname", "the command \\input is not allowed"),
            (r"\pdffiledump offset0length9{/etc/hostname}", "the command \\pdffiledump"),
            (r"\pdfobj file{/etc/hostname}", "the command \\pdfobj is not allowed"),
            (r"\scantokens{\input x}", "the command \\scantokens is not allowed"),
            (r"\mathrm{\scantokens{x}}", "the command \\scantokens is not allowed"),
            (r"\DeclareRobustCommand{\f}{x}", "the command \\DeclareRobustCommand"),
            (r"\newenvironment{f}{}{}", "the command \\newenvironment is not allowed"),
            (r"\readline", "the command \\readline is not allowed"),
            (r"\csname input\endcsname x", "the command \\csname is not allowed"),
            (r"\cat^^63ode", "'^^' is refused"),
            (r"\catcode`\^=7 f", "the command \\catcode is not allowed"),
            (r"^^5cinput{x}", "'^^' is refused"),
            (r"^^5Cinput{x}", "'^^' is refused"),
            (r"^^7b", "'^^' is refused"),
            (r"f^^M", "'^^' is refused"),
            (r"\operatorname{\input{x}}", "the command \\input is not allowed"),
            (r"\alphainput", "the command \\alphainput is not allowed"),
            (r"f%", "the character '%' is not allowed"),
            (r"f_", "'_' must be followed by {...} or one letter or digit"),
            (r"f^\input", "'^' must be followed by {...} or one letter or digit"),
            (r"\mathrm x", "\\mathrm must be followed by {...}"),
            (r"f}{", "unbalanced braces"),
        )
    ),
    Case(
        "LATEX_TIMEOUT not a number (before any engine runs)",
        files(),
        ("derive", "xor", "--pdf", "-o", "x.pdf"),
        2,
        "SYMBACKPROP_LATEX_TIMEOUT: must be a number of seconds > 0",
        env={"SYMBACKPROP_LATEX_TIMEOUT": "soon"},
    ),
    Case(
        "LATEX_TIMEOUT inf",
        files(),
        ("derive", "xor", "--pdf", "-o", "x.pdf"),
        2,
        "SYMBACKPROP_LATEX_TIMEOUT: must be a number of seconds > 0",
        env={"SYMBACKPROP_LATEX_TIMEOUT": "inf"},
    ),
    # --- x_mean/x_std: required by standardize = true, checked when present, tampered ------
    *(
        Case(
            f"{command}: {what}",
            both(
                files(**{"net.toml": STANDARDIZED, "data.csv": XOR_CSV, "x.csv": "0,1\n"}),
                npz("w.npz", XOR_WEIGHTS | extra),
            ),
            (command, "net.toml", "w.npz", "x.csv" if command == "predict" else "data.csv"),
            2,
            f"w.npz: {message}",
        )
        for command in ("predict", "evaluate")
        for what, extra, message in (
            ("no x_mean/x_std under standardize = true", {}, "missing array 'x_mean' (the spec"),
            ("x_std only", {"x_std": np.ones(2)}, "missing array 'x_mean'"),
            (
                "x_std = -1",
                {"x_mean": np.zeros(2), "x_std": -np.ones(2)},
                "array 'x_std' holds -1; must be > 0",
            ),
            (
                "x_std = 0",
                {"x_mean": np.zeros(2), "x_std": np.zeros(2)},
                "array 'x_std' holds 0; must be > 0",
            ),
            (
                "x_mean of 3 values",
                {"x_mean": np.zeros(3), "x_std": np.ones(2)},
                "array 'x_mean' has shape (3,)",
            ),
            (
                "x_std NaN",
                {"x_mean": np.zeros(2), "x_std": np.full(2, np.nan)},
                "array 'x_std' holds non-finite",
            ),
            (
                "x_mean of strings",
                {"x_mean": np.array(["a", "b"]), "x_std": np.ones(2)},
                "array 'x_mean' has shape (2,) and dtype <U1; expected a numeric array",
            ),
            (
                "x_std of booleans",
                {"x_mean": np.zeros(2), "x_std": np.ones(2, dtype=bool)},
                "array 'x_std' has shape (2,) and dtype bool",
            ),
            (
                "x_mean of shape (2, 1)",
                {"x_mean": np.zeros((2, 1)), "x_std": np.ones(2)},
                "array 'x_mean' has shape (2, 1)",
            ),
            (
                "x_std = 1e-320 (the scaled inputs overflow)",
                {"x_mean": np.zeros(2), "x_std": np.full(2, 1e-320)},
                "inputs scaled by its x_mean/x_std: inputs contain NaN or infinity",
            ),
            (
                "x_mean = 1e308, x_std = 1e-300",
                {"x_mean": np.full(2, 1e308), "x_std": np.full(2, 1e-300)},
                "inputs scaled by its x_mean/x_std",
            ),
        )
    ),
    Case(
        "derive --example --weights without x_mean under standardize = true",
        both(files(**{"net.toml": STANDARDIZED, "data.csv": XOR_CSV}), npz("w.npz", XOR_WEIGHTS)),
        ("derive", "net.toml", "--example", "--weights", "w.npz"),
        2,
        "w.npz: missing array 'x_mean'",
    ),
    # --- .npz archives: members counted, their total capped, only .npy arrays ----------------
    Case(
        "weights: a deflated 1.1 GiB member (not inflated)",
        lambda folder: deflated_bomb(folder / "w.npz", "junk.npy", 1100 << 20, XOR_WEIGHTS),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: its arrays inflate to 11534",
    ),
    Case(
        "data: a deflated 1.1 GiB X (not inflated)",
        both(
            files(**{"net.toml": spec_text(dataset="d.npz")}),
            lambda folder: deflated_bomb(folder / "d.npz", "X.npy", 1100 << 20, {}),
        ),
        run_spec(),
        2,
        "d.npz: its arrays inflate to 1153433600 bytes",
    ),
    Case(
        "weights: a raw (non-.npy) member",
        lambda folder: deflated_bomb(folder / "w.npz", "notes.txt", 10, XOR_WEIGHTS),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: member 'notes.txt' is not an .npy array",
    ),
    Case(
        "predict data: a raw member beside X",
        both(
            npz("w.npz", XOR_WEIGHTS),
            lambda folder: deflated_bomb(folder / "x.npz", "X", 10, {"X.npy": np.ones((2, 2))}),
        ),
        ("predict", "xor", "w.npz", "x.npz"),
        2,
        "x.npz: member 'X' is not an .npy array",
    ),
    Case(
        "weights: 5000 members",
        npz("w.npz", XOR_WEIGHTS | {f"m{i}": np.zeros(1) for i in range(5000)}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: holds 5004 members; an .npz holds at most 1000 arrays",
    ),
    # --- outputs -------------------------------------------------------------------------------
    Case(
        "-o a FIFO, even with --force (no hang)",
        fifo("out.py"),
        ("generate", "xor", "-o", "out.py", "--force"),
        2,
        "not a regular file",
    ),
    Case(
        "-o /dev/null with --force",
        files(),
        ("generate", "xor", "-o", "/dev/null", "--force"),
        2,
        "needs a file name ending in .py",
    ),
    Case(
        "derive -o /dev/null with --force",
        files(),
        ("derive", "xor", "-o", "/dev/null", "--force"),
        2,
        "not a regular file",
    ),
    Case(
        "-o a folder",
        files(**{"out.py__x": ""}),
        ("generate", "xor", "-o", "out.py"),
        2,
        "out.py: is a folder",
    ),
    Case(
        "-o under a regular file",
        files(**{"plain": "x"}),
        ("generate", "xor", "-o", "plain/out.py"),
        2,
        "plain is not a folder",
    ),
    Case(
        "-o in an unwritable folder",
        both(files(**{"ro__keep": ""}), lambda f: (f / "ro").chmod(0o500)),
        ("generate", "xor", "-o", "ro/out.py"),
        2,
        "is not writable",
        not_as_root=True,
    ),
    Case(
        "-o a symbolic link",
        both(files(**{"real.py": MINE}), lambda f: (f / "link.py").symlink_to(f / "real.py")),
        ("generate", "xor", "-o", "link.py", "--force"),
        2,
        "is a symbolic link",
        unchanged=("real.py",),
    ),
    Case(
        "-o a foreign module",
        files(**{"mine.py": MINE}),
        ("generate", "xor", "-o", "mine.py"),
        2,
        "use --force to overwrite",
        unchanged=("mine.py",),
    ),
    Case(
        "-o a 1 GB foreign file (not read)",
        sparse("big.py", 1 << 30),
        ("generate", "xor", "-o", "big.py"),
        2,
        "use --force to overwrite",
    ),
    Case(
        "--pdf -o x.tex",
        files(),
        ("derive", "xor", "--pdf", "-o", "x.tex"),
        2,
        "needs a file name ending in .pdf",
    ),
    Case("text -o x.pdf", files(), ("derive", "xor", "-o", "x.pdf"), 2, "needs --pdf"),
    Case(
        "--pdf over a user's PDF",
        files(**{"thesis.pdf": b"%PDF-1.5 mine"}),
        ("derive", "xor", "--pdf", "-o", "thesis.pdf"),
        2,
        "use --force",
        unchanged=("thesis.pdf",),
    ),
    Case(
        "derive -o over a foreign .md",
        files(**{"notes.md": "# mine\n"}),
        ("derive", "xor", "--format", "markdown", "-o", "notes.md"),
        2,
        "use --force",
        unchanged=("notes.md",),
    ),
    Case(
        "bench --output a file (before running)",
        files(**{"res": "x"}),
        ("bench", "--workload", "xor", "--output", "res"),
        2,
        "res: is not a folder",
    ),
    Case(
        "bench --output over foreign results",
        files(**{"res__results.md": "mine"}),
        ("bench", "--workload", "xor", "--output", "res"),
        2,
        "use --force",
        unchanged=("res/results.md",),
    ),
    Case(
        "run --plot over a user's PNG",
        both(SPEC_AND_DATA, files(**{"photo.png": PNG})),
        run_spec("--plot", "photo.png"),
        2,
        "photo.png: exists and was not written by symbackprop",
        unchanged=("photo.png",),
    ),
    Case(
        "predict -o over a user's CSV starting class,p0",
        both(npz("w.npz", XOR_WEIGHTS), files(**{"p.csv": "class,p0\n1,0.9\n", "x.csv": "0,1\n"})),
        ("predict", "xor", "w.npz", "x.csv", "-o", "p.csv"),
        2,
        "p.csv: exists and was not written by symbackprop",
        unchanged=("p.csv",),
    ),
    Case(
        "run --save over weights the user edited",
        both(SPEC_AND_DATA, edited_weights("w.npz")),
        run_spec("--save", "w.npz"),
        2,
        "w.npz: exists and was not written by symbackprop, or was changed since",
        unchanged=("w.npz",),
    ),
    Case(
        "run --plot over a user's PNG beside a stale digest file",
        both(
            SPEC_AND_DATA,
            files(**{"photo.png": PNG, ".photo.png.symbackprop-sha256": "0" * 64 + "\n"}),
        ),
        run_spec("--plot", "photo.png"),
        2,
        "photo.png: exists and was not written by symbackprop",
        unchanged=("photo.png",),
    ),
    Case(
        "predict -o over a user's CSV with an empty digest file",
        both(
            npz("w.npz", XOR_WEIGHTS),
            files(**{"p.csv": "class,p0\n", ".p.csv.symbackprop-sha256": "", "x.csv": "0,1\n"}),
        ),
        ("predict", "xor", "w.npz", "x.csv", "-o", "p.csv"),
        2,
        "p.csv: exists and was not written by symbackprop",
        unchanged=("p.csv",),
    ),
    Case(
        "run --save over the user's own weights (never stamped)",
        both(SPEC_AND_DATA, npz("mine.npz", XOR_WEIGHTS)),
        run_spec("--save", "mine.npz"),
        2,
        "mine.npz: exists and was not written by symbackprop, or was changed since",
        unchanged=("mine.npz",),
    ),
    *(
        Case(
            f"{option} {kind}, even with --force",
            both(SPEC_AND_DATA, npz("w.npz", XOR_WEIGHTS), files(**{"x.csv": "0,1\n"}),
                 setup(end)),
            (*argv, target if target.startswith("/") else target + end, "--force"),
            2,
            message if not (end and target.startswith("/")) else "needs a file name ending in .png",
            unchanged=("real",),
        )
        for option, argv, end in (
            ("run --save", run_spec("--save"), ""),
            ("run --plot", run_spec("--plot"), ".png"),  # --plot takes only a .png
            ("predict -o", ("predict", "xor", "w.npz", "x.csv", "-o"), ""),
        )
        for kind, target, setup, message in (
            ("onto a symbolic link", "link", lambda end: linked("link" + end, "real"),
             "is a symbolic link"),
            ("onto a FIFO (no hang)", "pipe", lambda end: fifo("pipe" + end, files(real="mine")),
             "not a regular"),
            ("onto /dev/null", "/dev/null", lambda end: files(real="mine"),
             "/dev/null: is not a regular"),
            ("onto /dev/full", "/dev/full", lambda end: files(real="mine"),
             "/dev/full: is not a regular"),
        )
    ),
    # --- a read-only folder or a 2 GB file at the target: refused before any training ---------
    *(
        Case(
            f"{option} into a read-only folder (before training)",
            both(WRITE_TARGETS, files(**{"ro__keep": ""}), lambda f: (f / "ro").chmod(0o555)),
            argv,
            2,
            message,
            not_as_root=True,
        )
        for option, argv, message in (
            ("run --save", run_spec("--save", "ro/w.npz"), "ro/w.npz: the folder ro is not"),
            ("run --plot", run_spec("--plot", "ro/p.png"), "ro/p.png: the folder ro is not"),
            ("predict -o", ("predict", "xor", "w.npz", "x.csv", "-o", "ro/p.csv"), "not writable"),
            ("init", ("init", "ro/net"), "ro/net.toml: the folder ro is not writable"),
            ("init (a folder below)", ("init", "ro/sub/net"), "cannot create the folder ro/sub"),
            ("sweep --output", sweep_into("ro"), "ro: cannot write results (Permission denied)"),
            ("sweep --output (a folder below)", sweep_into("ro/sub"), "ro/sub: cannot write"),
        )
    ),
    *(
        Case(
            f"{option} onto a 2 GB file of the user's (refused unread)",
            sparse(target, 2 << 30, WRITE_TARGETS),
            argv,
            2,
            f"{target}: exists and was not written by symbackprop",
        )
        for option, target, argv in (
            ("run --save", "w2.npz", run_spec("--save", "w2.npz")),
            ("run --plot", "p.png", run_spec("--plot", "p.png")),
            ("predict -o", "p.csv", ("predict", "xor", "w.npz", "x.csv", "-o", "p.csv")),
        )
    ),
    Case(
        "sweep: a 2 GB results.json (refused unread)",
        sparse("out__results.json", 2 << 30, files(**{"out__keep": ""})),
        sweep_into("out"),
        2,
        "results.json: is not a regular file of at most",
    ),
    Case(
        "init onto a dangling symbolic link",
        linked("net.toml", "elsewhere.toml", target_exists=False),
        ("init", "net"),
        2,
        "net.toml: is a symbolic link",
    ),
    Case(
        "sweep: results.json is a FIFO (no hang)",
        fifo("out__results.json", files(**{"out__keep": ""})),
        ("sweep", "xor", "--grid", "epochs=1", "--output", "out"),
        2,
        "results.json: is not a regular file",
    ),
    Case(
        "sweep: a user's results.csv beside its results.json",
        own_sweep_then(files(**{"out__results.csv": "mine\n"})),
        ("sweep", "xor", "--grid", "epochs=1", "--output", "out"),
        2,
        "results.csv: exists and was not written by symbackprop, or was changed since "
        "(choose another --output)",
        unchanged=("out/results.csv",),
    ),
    Case(
        "-o numpy.py (would shadow numpy)",
        files(),
        ("generate", "xor", "-o", "numpy.py"),
        2,
        "would shadow",
    ),
    # --- arguments and environment --------------------------------------------------------------
    Case(
        "check --tolerance nan",
        files(),
        ("check", "xor", "--tolerance", "nan"),
        2,
        "--tolerance: must be a finite number > 0",
    ),
    Case(
        "check --tolerance -1",
        files(),
        ("check", "xor", "--tolerance", "-1"),
        2,
        "must be a finite number > 0",
    ),
    Case(
        "check --float32-tolerance inf",
        files(),
        ("check", "xor", "--float32-tolerance", "inf"),
        2,
        "must be a finite number > 0",
    ),
    Case(
        "unwritable SYMBACKPROP_CACHE",
        files(**{"plain": "x"}),
        ("run", "xor", "--quiet-derivation", "--epochs", "1"),
        2,
        "SYMBACKPROP_CACHE",
        env={"SYMBACKPROP_CACHE": "plain/cache"},
    ),
    Case(
        "unwritable HOME",
        files(**{"plain": "x"}),
        ("run", "xor", "--quiet-derivation", "--epochs", "1"),
        2,
        "module cache",
        env={"SYMBACKPROP_CACHE": "", "XDG_CACHE_HOME": "", "HOME": "plain/home"},
    ),
    # --- derive/diagram --example --weights: the weights file is hostile too -------------------
    Case(
        "weights overflow the forward pass (1e308)",
        npz("w.npz", XOR_WEIGHTS | {"W2": np.full((1, 4), 1e308), "b2": np.full(1, 1e308)}),
        ("derive", "xor", "--example", "--weights", "w.npz", "--sample", "1"),
        2,
        "--example: Z2 is not finite",
    ),
    Case(
        "diagram: weights overflow the forward pass",
        npz("w.npz", XOR_WEIGHTS | {"W2": np.full((1, 4), 1e308), "b2": np.full(1, 1e308)}),
        ("diagram", "xor", "--example", "--weights", "w.npz", "--sample", "1"),
        2,
        "is not finite",
    ),
    Case(
        "weights NaN",
        npz("w.npz", XOR_WEIGHTS | {"W1": np.full((4, 2), np.nan)}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: array 'W1' holds non-finite values",
    ),
    Case(
        "weights of the wrong shape",
        npz("w.npz", XOR_WEIGHTS | {"W1": np.ones((2, 2))}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "expected a numeric array of shape (4, 2)",
    ),
    Case(
        "weights with wrong keys",
        npz("w.npz", {"A": np.ones(2)}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "missing array 'W1'",
    ),
    Case(
        "weights object array (never unpickled)",
        npz("w.npz", XOR_WEIGHTS | {"W1": np.array([[1, 2]] * 4, dtype=object)}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "Object arrays cannot be loaded",
    ),
    Case(
        "weights file is a pickle, not a zip",
        files(**{"w.npz": b"\x80\x04K\x01."}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: not a readable .npz weights file (File is not a zip file)",
    ),
    Case(
        "weights array claims 8 TB (not allocated)",
        npz("w.npz", XOR_WEIGHTS | {"junk": npy_claiming((10**12,))}),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "array 'junk' claims shape (1000000000000,)",
    ),
    Case(
        "weights file is a FIFO (no hang)",
        fifo("w.npz"),
        ("derive", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: is not a regular file",
    ),
    Case(
        "weights file is a folder",
        lambda folder: (folder / "w.npz").mkdir(),
        ("diagram", "xor", "--example", "--weights", "w.npz"),
        2,
        "w.npz: is a folder",
    ),
    Case(
        "--sample 10**20",
        files(),
        ("derive", "xor", "--example", "--sample", str(10**20)),
        2,
        "--sample: sample 100000000000000000000 is out of range",
    ),
    Case(
        "--sample -1",
        files(),
        ("derive", "xor", "--example", "--sample", "-1"),
        2,
        "--sample: must be >= 0",
    ),
    Case(
        "--digits 1000",
        files(),
        ("derive", "xor", "--example", "--digits", "1000"),
        2,
        "--digits: must be an integer from 1 to 15",
    ),
    Case(
        "diagram --weight W9[0,0]",
        files(),
        ("diagram", "xor", "--weight", "W9[0,0]"),
        2,
        "layer 9 does not exist",
    ),
    Case("diagram --weight ''", files(), ("diagram", "xor", "--weight", ""), 2, "'' is not a"),
    Case("derive --weight ''", files(), ("derive", "xor", "--weight", ""), 2, "'' is not a"),
    # --- sweep: the spec is read as load_spec reads it; sizes are refused before any work -----
    Case(
        "sweep: spec of 2 MB",
        files(**{"big.toml": "#" * (2 << 20)}),
        ("sweep", "big.toml", "--grid", "epochs=1", "--output", "out"),
        2,
        "a spec file holds at most",
    ),
    Case(
        "sweep: 5000-digit integer",
        files(**{"net.toml": spec_text(epochs="9" * 5000)}),
        ("sweep", "net.toml", "--grid", "epochs=1", "--output", "out"),
        2,
        "not valid TOML",
    ),
    Case(
        "sweep: arrays nested 100000 deep",
        files(**{"net.toml": "a = " + "[" * 100_000 + "]" * 100_000}),
        ("sweep", "net.toml", "--grid", "epochs=1", "--output", "out"),
        2,
        "not valid TOML",
    ),
    Case(
        "sweep: a local xor.toml is not called built-in",
        files(**{"xor.toml": spec_text(lr="-1"), "data.csv": XOR_CSV}),
        ("sweep", "xor.toml", "--grid", "epochs=1", "--output", "out"),
        2,
        "xor.toml: training.learning_rate",
    ),
    Case(
        "sweep --seeds 10**9 (refused before any list is built)",
        files(),
        ("sweep", "xor", "--grid", "epochs=1", "--seeds", str(10**9), "--output", "out"),
        2,
        "--seeds: 1000000000 trials",
    ),
    Case(
        "sweep grid of 10**6 combinations",
        files(),
        ("sweep", "xor", "--output", "out")
        + tuple(
            arg
            for key in ("epochs", "batch_size", "learning_rate")
            for arg in ("--grid", f"{key}=" + ",".join(str(v) for v in range(1, 101)))
        ),
        2,
        "--grid: 1000000 trials",
    ),
    Case(
        "sweep seeds past the largest int64",
        files(
            **{"net.toml": spec_text(epochs="2\nseed = 9223372036854775807"), "data.csv": XOR_CSV}
        ),
        ("sweep", "net.toml", "--grid", "epochs=1", "--seeds", "2", "--output", "out"),
        2,
        "pass the largest seed",
    ),
    Case(
        "derive --weight with 32768 paths (counted, not listed)",
        files(**{"net.toml": spec_text(layers="[2, 8, 8, 8, 8, 8, 8, 1]")}),
        ("derive", "net.toml", "--weight", "W1[0,0]"),
        2,
        "32768 paths lead from W1[0, 0] to the loss",
    ),
    Case(
        "expression whose derivative is complex-valued (re/im), not a printer traceback",
        files(**{"net.toml": spec_text(output="x/(1 + Abs(x**0.1234567891))")}),
        ("generate", "net.toml"),
        2,
        "takes the real or imaginary part of a complex value",
    ),
    *(
        Case(
            f"check: {activation} is NaN at the check's inputs ({dtype}), not 'OK'",
            files(**{"net.toml": spec_text(dtype=dtype).replace('"tanh"', f'"{activation}"')}),
            ("check", "net.toml"),
            2,
            "net.toml: the loss (nan) is not finite at the check's random inputs",
        )
        for activation, dtype in (
            ("log(x)", "float64"),
            ("sqrt(x)", "float64"),
            ("log(x)", "float32"),
        )
    ),
    Case(
        "first batch diverges (weights of 1e300, relu): exit 3, one line, nothing saved",
        both(
            files(**{"net.toml": spec_text(output="identity").replace('"tanh"', '"relu"')}),
            files(**{"data.csv": XOR_CSV}),
            npz("w.npz", {k: np.full(v.shape, 1e300) for k, v in XOR_WEIGHTS.items()}),
        ),
        run_spec("--weights", "w.npz", "--save", "out.npz"),
        3,
        "diverged at epoch 1, batch 1: loss became inf",
    ),
    Case(
        "first batch diverges (weights of 1e200, identity hidden layer)",
        both(
            files(**{"net.toml": spec_text(output="identity").replace('"tanh"', '"identity"')}),
            files(**{"data.csv": XOR_CSV}),
            npz("w.npz", {k: np.full(v.shape, 1e200) for k, v in XOR_WEIGHTS.items()}),
        ),
        run_spec("--weights", "w.npz"),
        3,
        "diverged at epoch 1, batch 1",
    ),
    Case(
        "activation x**x (NaN for z < 0): refused before training, one line, no warning",
        files(**{"net.toml": spec_text().replace('"tanh"', '"x**x"'), "data.csv": XOR_CSV}),
        run_spec(),
        2,
        "net.toml: the loss or the gradient of W1 is not finite on the first batch",
    ),
    Case(
        "expression undefined on the data: run refuses before training, not 'OK' on NaN",
        files(**{"net.toml": spec_text(output="log(x - 100)"), "data.csv": XOR_CSV}),
        run_spec(),
        2,
        "is not finite on the first batch",
    ),
    # --- environment settings: a number each, bounded; one line before any work ---------------
    *(
        Case(
            f"{variable}={value if len(value) < 20 else f'<{len(value)} characters>'}",
            files(),
            ("run", "xor", "--epochs", "1") if "KERNEL" in variable else ("check", "xor"),
            2,
            f"${variable}: {message}",
            env={variable: value},
        )
        for variable, value, message in (
            ("SYMBACKPROP_MAX_WORK", "inf", "must be a number > 0 such as 1e13"),
            ("SYMBACKPROP_MAX_WORK", "1e400", "must be a number > 0 such as 1e13"),
            ("SYMBACKPROP_MAX_WORK", "-1", "must be a number > 0 such as 1e13"),
            ("SYMBACKPROP_MAX_MEMORY", "9" * 5000, "must be a size such as 16G or 500M, at most"),
            ("SYMBACKPROP_MAX_MEMORY", "9" * 5000 + "G", "must be a size such as 16G"),
            ("SYMBACKPROP_KERNEL", "fast", "must be one of blas, loops, micro, not 'fast'"),
            ("SYMBACKPROP_KERNEL", "BLAS", "must be one of blas, loops, micro, not 'BLAS'"),
        )
    ),
    Case(
        "sweep under SYMBACKPROP_KERNEL=fast (before any trial)",
        files(),
        ("sweep", "xor", "--grid", "epochs=1", "--output", "out"),
        2,
        "$SYMBACKPROP_KERNEL: must be one of blas, loops, micro",
        env={"SYMBACKPROP_KERNEL": "fast"},
    ),
    # --- sweep --grid values and variants: refused as run refuses them ------------------------
    *(
        Case(
            f"sweep --grid {what}",
            files(),
            ("sweep", "xor", "--grid", item, "--output", "out"),
            2,
            message,
        )
        for what, item, message in (
            ("5000 nested brackets", "layers=" + "[" * 5000 + "2" + "]" * 5000,
             "is nested too deeply"),
            ("5000 nested brackets beside a good value",
             "layers=[2,4,1]," + "[" * 5000 + "]" * 5000, "is nested too deeply"),
            ("a 5000-digit integer", "epochs=" + "9" * 5000,
             "holds an integer of too many digits"),
            ("a 5000-digit layer width", "layers=[2," + "9" * 5000 + ",1]",
             "holds an integer of too many digits"),
            ("epochs of 10**15 (run refuses it)", "epochs=2," + str(10**15),
             "--grid variant epochs=1000000000000000: training for 1000000000000000 epochs"),
            ("epochs of 10**13", "epochs=" + str(10**13), "more than the limit of"),
            ("data.samples of 10**12", "data.samples=" + str(10**12),
             "data.samples: must be an integer in 2..10000000"),
        )  # fmt: skip
    ),
    *(
        Case(
            f"samples = {value} in the spec",
            files(**{"net.toml": spec_text(dataset=f'moons"\nsamples = {value}#')}),
            run_spec(),
            2,
            f"net.toml: data.samples: must be an integer in 2..10000000, not {shown}",
        )
        for value, shown in ((10**12, "1000000000000"), (2**70, "an integer of over 64 bits"))
    ),
    # --- predict's reader: bytes, cells and files a CSV does not hold -------------------------
    *(
        Case(
            f"predict: {what}",
            both(npz("w.npz", XOR_WEIGHTS), files(**{"x.csv": content})),
            ("predict", "xor", "w.npz", "x.csv"),
            2,
            f"x.csv: {message}",
        )
        for what, content, message in (
            ("\\xff bytes", b"0,1\n\xff,1\n", "not UTF-8 text (byte 4)"),
            ("\\xff in a header", b"a\xff,b\n0,1\n", "not UTF-8 text"),
            ("a NUL file", b"\0" * 1000, "no data rows"),
            ("an empty file", b"", "no data rows"),
            ("a 200 kB cell", b"0," + b"1" * 200_000 + b"\n", "not a readable CSV file"),
            ("a 200 kB header cell", b"a," + b"b" * 200_000 + b"\n0,1\n", "not a readable CSV"),
        )
    ),
    # --- init: names a file system does not take ----------------------------------------------
    Case("init with a 300-character name", files(), ("init", "a" * 300), 2, "File name too long"),
    Case(
        "init with a 252-character name (.toml makes 256)",
        files(),
        ("init", "b" * 252),
        2,
        "File name too long",
    ),
    # --- sweep: a tampered results.json (stamped as symbackprop's own) ------------------------
    *(
        Case(
            f"sweep: results.json {what}",
            tampered_sweep(content),
            ("sweep", "xor", "--grid", "epochs=1", "--output", "out"),
            2,
            f"results.json: unreadable results ({message}",
        )
        for what, content, message in (
            ("is a list", [], "TypeError"),
            ("has a list for 'sweep'", {"sweep": [], "trials": []}, "'sweep' is not an object"),
            ("has an object for 'trials'", lambda m: {"sweep": m, "trials": {}},
             "'trials' is not a list"),
            ("has null for 'trials'", lambda m: {"sweep": m, "trials": None},
             "'trials' is not a list"),
            ("has a number for a trial", lambda m: {"sweep": m, "trials": [1]},
             "trial 0: not an object"),
            ("has a trial without values", lambda m: {"sweep": m, "trials": [{"seed": 0}]},
             "trial 0: 'values' does not give each of epochs as a string"),
            ("has a trial without the grid's key",
             lambda m: {"sweep": m, "trials": [RECORD | {"values": {}}]}, "trial 0: 'values' does"),
            ("has a list for a value",
             lambda m: {"sweep": m, "trials": [RECORD | {"values": {"epochs": [1]}}]},
             "trial 0: 'values' does not"),
            ("has a string seed", lambda m: {"sweep": m, "trials": [RECORD | {"seed": "x"}]},
             "trial 0: 'seed' is not an integer"),
            ("has a number for status", lambda m: {"sweep": m, "trials": [RECORD | {"status": 3}]},
             "trial 0: 'status' is not a string"),
            ("has a string loss",
             lambda m: {"sweep": m, "trials": [RECORD | {"final_loss": "low"}]},
             "trial 0: 'final_loss' is not a number"),
            ("has a ragged loss curve",
             lambda m: {"sweep": m, "trials": [RECORD | {"losses": [0.1, 0.2]}]},
             "trial 0: 'losses' and 'loss_epochs' are not lists of one length"),
            ("has NaN", b'{"sweep": {}, "trials": [{"final_loss": NaN}]}',
             "ValueError: NaN is not a number"),
            ("has Infinity", b'{"sweep": {}, "trials": [], "x": -Infinity}',
             "ValueError: -Infinity is not a number"),
            ("has a number for grid_keys", lambda m: {"sweep": m | {"grid_keys": 3}, "trials": []},
             "'sweep.grid_keys' is not a list of strings"),
            ("has a number for data", lambda m: {"sweep": m | {"data": 5}, "trials": []},
             "'sweep.data' is not a list of strings"),
            ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
            ("with objects nested 50000 deep", b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
             "nested too deeply"),
        )  # fmt: skip
    ),
    # --- allowed expressions at their edges: overflowing constants, Piecewise with 'and' ------
    *(
        Case(
            f"activation {expression} (overflows float64): one line before training",
            files(**{"net.toml": spec_text().replace('"tanh"', f'"{expression}"'),
                     "data.csv": XOR_CSV}),  # fmt: skip
            run_spec(),
            2,
            message,
        )
        for expression, message in (
            ("(9**99)**3*(9**99)**3*x", "is not finite on the first batch"),
            ("(9**99)**4*tanh(x)", "constant power beyond 1e300: '(9**99)**4'"),
        )
    ),
    *(
        Case(
            f"Piecewise activation with {how}: derive --document writes it",
            files(**{"net.toml": spec_text().replace('"tanh"', f'"{expression}"')}),
            ("derive", "net.toml", "--document", "-o", "net.tex"),
            0,
        )
        for how, expression in (
            ("'and'", "Piecewise((x, x > 0 and x < 1), (0, True))"),
            ("a chained comparison", "Piecewise((x, 0 < x < 1), (0, True))"),
        )
    ),
    Case("run --plot onto a .txt (a PNG under another name)", SPEC_AND_DATA,
         run_spec("--plot", "x.txt"), 2, "x.txt: this output needs a file name ending in .png",
         absent=("x.txt",)),
    # --- expressions whose exact values are astronomically large ---------------------------------
    *(
        Case(
            f"activation {expression} derives in seconds",
            files(**{"net.toml": spec_text().replace('"tanh"', json.dumps(expression))}),
            ("derive", "net.toml", "--format", "text"),
            0,
        )
        for expression in ("exp(exp(exp(exp(x))))", "sin(exp(exp(x)))", "x**(x**(x**x))")
    ),
    # --- exam: bad options refused before any work --------------------------------------------
    Case("exam --seed -1", files(), ("exam", "xor", "--seed", "-1", "--no-pdf", "-o", "kit"), 2,
         "--seed: must be an integer >= 0, not -1", absent=("kit",)),
    Case("exam --variants 0", files(), ("exam", "xor", "--variants", "0", "--no-pdf", "-o", "kit"),
         2, "--variants: must be from 1 to 200, not 0", absent=("kit",)),
    Case("exam --variants 201", files(),
         ("exam", "xor", "--variants", "201", "--no-pdf", "-o", "kit"), 2,
         "--variants: must be from 1 to 200, not 201", absent=("kit",)),
    Case("exam of a 64-input network", files(), ("exam", "digits", "--no-pdf", "-o", "kit"), 2,
         "layers of at most 8 neurons fit an exam sheet", absent=("kit",)),
    Case("exam -o a file", files(kit="mine"), ("exam", "xor", "--no-pdf", "-o", "kit"), 2,
         "kit: is not a folder", unchanged=("kit",)),
    Case("exam --answers not .json", files(), ("exam", "xor", "--no-pdf", "-o", "kit",
                                               "--answers", "a.txt"), 2,
         "a.txt: the answers file's name must end in .json", absent=("kit", "a.txt")),
    Case("exam onto a sheet of the user's (exam has no --force to suggest)",
         files(**{"kit__exercise-1.tex": "my sheet"}),
         ("exam", "xor", "--variants", "1", "--no-pdf", "-o", "kit"), 2,
         "exercise-1.tex: exists and was not written by symbackprop, or was changed since (exam "
         "never replaces a file it did not write", unchanged=("kit/exercise-1.tex",),
         absent=("kit/solution-1.tex", "kit/answers.json")),
    Case("exam --answers onto the user's JSON", files(**{"a.json": "{}"}),
         ("exam", "xor", "--variants", "1", "--no-pdf", "-o", "kit", "--answers", "a.json"), 2,
         "a.json: exists and was not written by symbackprop", unchanged=("a.json",),
         absent=("kit",)),
    # --- export: where it writes (issue 18 for issue 21's command) ------------------------------
    *(
        Case(
            f"export {option} {kind}, even with --force",
            both(WRITE_TARGETS, files(real="mine"), setup),
            (*export_to(option, target), "--force"),
            2,
            message,
            unchanged=("real",),
            absent=tuple(name for name in EXPORTED if name != target),
        )
        for option, end in (("--torch", "pt"), ("--onnx", "onnx"))
        for kind, target, setup, message in (
            ("onto a symbolic link", f"m.{end}", linked(f"m.{end}", "real"), "is a symbolic link"),
            ("onto a dangling symbolic link", f"m.{end}", linked(f"m.{end}", "gone", False),
             "is a symbolic link"),
            ("onto a FIFO (no hang)", f"m.{end}", fifo(f"m.{end}"), "is not a regular file"),
            ("onto a socket", f"m.{end}", unix_socket(f"m.{end}"), "is not a regular file"),
            ("onto a device", "/dev/null", files(), f"needs a file name ending in .{end}"),
            ("onto a folder", f"m.{end}", files(**{f"m.{end}__keep": ""}), "is a folder"),
            ("below a file", f"real/m.{end}", files(), "real is not a folder"),
        )
    ),
    *(
        Case(
            f"export {option} into a read-only folder (before loading anything)",
            both(WRITE_TARGETS, files(**{"ro__keep": ""}), lambda f: (f / "ro").chmod(0o555)),
            export_to(option, f"ro/m.{end}"),
            2,
            f"ro/m.{end}: the folder ro is not writable",
            not_as_root=True,
            absent=(f"ro/m.{end}",),
        )
        for option, end in (("--torch", "pt"), ("--onnx", "onnx"), ("--torch", "pth"))
    ),
    *(
        Case(
            f"export {option} over a user's file{how} (no --force)",
            both(WRITE_TARGETS, setup),
            export_to(option, f"m.{end}"),
            2,
            f"m.{end}: exists and was not written by symbackprop",
            unchanged=() if "2 GB" in how else (f"m.{end}",),
        )
        for option, end in (("--torch", "pt"), ("--onnx", "onnx"))
        for how, setup in (
            ("", files(**{f"m.{end}": "a colleague's model"})),
            (" with a stale digest file",
             files(**{f"m.{end}": "mine", f".m.{end}.symbackprop-sha256": "0" * 64 + "\n"})),
            (" of 2 GB (refused unread)", sparse(f"m.{end}", 2 << 30)),
        )
    ),
    Case(
        "export --torch fine but --onnx at a FIFO: neither written",
        both(WRITE_TARGETS, fifo("m.onnx")),
        (*EXPORT_BOTH, "--force"),
        2,
        "m.onnx: is not a regular file",
        absent=("m.pt",),
    ),
    # --- export: the weights it reads ------------------------------------------------------------
    export_weights("a wrong shape", npz("w.npz", XOR_WEIGHTS | {"W1": np.zeros((4, 3))}),
                   "w.npz: array 'W1' has shape (4, 3)"),
    export_weights("a transposed W2", npz("w.npz", XOR_WEIGHTS | {"W2": np.zeros((4, 1))}),
                   "array 'W2' has shape (4, 1)"),
    export_weights("NaN", npz("w.npz", XOR_WEIGHTS | {"b1": np.array([0, np.nan, 0, 0])}),
                   "w.npz: array 'b1' holds non-finite values"),
    export_weights("-inf", npz("w.npz", XOR_WEIGHTS | {"W2": np.full((1, 4), -np.inf)}),
                   "array 'W2' holds non-finite values"),
    export_weights("1e39 in a float32 spec",
                   both(files(**{"n32.toml": spec_text(dtype="float32")}),
                        npz("w.npz", XOR_WEIGHTS | {"b2": np.array([1e39])})),
                   "array 'b2' holds non-finite values (nan, inf, or too large for float32)",
                   spec="n32.toml"),
    export_weights("a missing member", npz("w.npz", {k: v for k, v in XOR_WEIGHTS.items()
                                                     if k != "W2"}),
                   "w.npz: missing array 'W2' (needs W1, b1, W2, b2)"),
    export_weights("no members", npz("w.npz", {}), "missing array 'W1'"),
    export_weights("strings for W1", npz("w.npz", XOR_WEIGHTS | {"W1": np.full((4, 2), "a")}),
                   "expected a numeric array of shape (4, 2)"),
    export_weights("complex b1", npz("w.npz", XOR_WEIGHTS | {"b1": np.zeros(4, complex)}),
                   "array 'b1' has shape (4,) and dtype complex128"),
    export_weights("another network's signature",
                   npz("w.npz", XOR_WEIGHTS | {"network": np.array("2-4-1 hidden=relu")}),
                   "weights were saved for network '2-4-1 hidden=relu'"),
    export_weights("a pickled member", npz("w.npz", XOR_WEIGHTS | {"W1": b"\x80\x04K\x01."}),
                   "w.npz"),
    export_weights("a member claiming 10**10 rows",
                   npz("w.npz", XOR_WEIGHTS | {"W1": npy_claiming((10**10, 2))}), "w.npz"),
    export_weights("text, not an archive", files(**{"w.npz": "my weights"}),
                   "w.npz: not a readable .npz weights file"),
    export_weights("a folder", files(**{"w.npz__x": ""}), "w.npz"),
    export_weights("a FIFO (no hang)", fifo("w.npz"), "w.npz"),
    export_weights("no x_mean/x_std under standardize = true", npz("w.npz", XOR_WEIGHTS),
                   "w.npz: missing array 'x_mean' (the spec says standardize = true",
                   spec="net.toml"),
    export_weights("x_mean only", npz("w.npz", XOR_WEIGHTS | {"x_mean": np.zeros(2)}),
                   "missing array 'x_std' (x_mean is there", spec="net.toml"),
    export_weights("x_std of zero", npz("w.npz", XOR_WEIGHTS | SCALING | {"x_std": np.zeros(2)}),
                   "array 'x_std' holds 0; must be > 0", spec="net.toml"),
    export_weights("x_std of -1 (spec without standardize)",
                   npz("w.npz", XOR_WEIGHTS | SCALING | {"x_std": -np.ones(2)}),
                   "array 'x_std' holds -1; must be > 0"),
    export_weights("NaN in x_mean",
                   npz("w.npz", XOR_WEIGHTS | SCALING | {"x_mean": np.array([np.nan, 0])}),
                   "array 'x_mean' holds non-finite values", spec="net.toml"),
    export_weights("x_mean of 3 values",
                   npz("w.npz", XOR_WEIGHTS | SCALING | {"x_mean": np.zeros(3)}),
                   "array 'x_mean' has shape (3,)", spec="net.toml"),
    export_weights("strings for x_std",
                   npz("w.npz", XOR_WEIGHTS | SCALING | {"x_std": np.array(["1", "1"])}),
                   "array 'x_std' has shape (2,) and dtype <U1", spec="net.toml"),
    export_weights("x_std of 1e-310 (the folded layer overflows)",
                   npz("w.npz", XOR_WEIGHTS | SCALING | {"x_std": np.full(2, 1e-310)}),
                   "w.npz: its x_mean/x_std folded into the first layer give values too large",
                   spec="net.toml"),
    export_weights("x_std of 1e-40 in a float32 spec (overflows float32)",
                   both(files(**{"n32.toml": spec_text(dtype="float32")}),
                        npz("w.npz", XOR_WEIGHTS | SCALING | {"x_std": np.full(2, 1e-40)})),
                   "give values too large for float32", spec="n32.toml"),
    export_weights("duplicate classes",
                   npz("w.npz", XOR_WEIGHTS | {"classes": np.array(["a", "a"])}),
                   "w.npz: array 'classes': 2 classes (a, a)"),
    export_weights("numbers for classes", npz("w.npz", XOR_WEIGHTS | {"classes": np.zeros(2)}),
                   "array 'classes' has shape (2,) and dtype float64"),
]


def _object_npz(folder: Path) -> None:
    np.savez(folder / "d.npz", X=np.array([[1, 2]], dtype=object), y=np.zeros(1))


CASES = [
    (
        Case(c.name, both(c.setup, _object_npz), c.argv, c.status, c.message)
        if c.name == "npz with object arrays"
        else c
    )
    for c in CASES
]


def run_case(case: Case, folder: Path, monkeypatch, capsys) -> tuple[int, str, str]:  # noqa: ANN001
    case.setup(folder)
    monkeypatch.chdir(folder)
    for key, value in case.env.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    out = io.StringIO()
    try:
        status = main(list(case.argv), out)
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    return status, out.getvalue(), capsys.readouterr().err


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=[pytest.mark.unprivileged] if c.not_as_root else []) for c in CASES],
    ids=[c.name for c in CASES],
)
def test_hostile_case(case: Case, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    if case.not_as_root and ROOT_USER:
        if os.environ.get("SYMBACKPROP_REQUIRE_UNPRIVILEGED"):
            pytest.fail("SYMBACKPROP_REQUIRE_UNPRIVILEGED is set but this runs as root")
        pytest.skip("root reads and writes regardless of permissions (.ci/run runs it as a user)")
    before = {}
    folder = tmp_path / "work"
    folder.mkdir()
    case.setup(folder)
    before = {name: (folder / name).read_bytes() for name in case.unchanged}
    for path in [folder, *folder.rglob("*")]:  # a user cannot empty a read-only folder
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o700)
    shutil.rmtree(folder)
    folder.mkdir()
    started = time.perf_counter()
    status, _, err = run_case(case, folder, monkeypatch, capsys)
    seconds = time.perf_counter() - started
    assert status == case.status, err
    if case.status in (2, 3):
        lines = err.strip().splitlines()
        assert "Traceback" not in err
        assert len(lines) == 1 or lines[0].startswith("usage:"), err
        assert case.message in lines[-1], lines[-1]
    for name, content in before.items():
        assert (folder / name).read_bytes() == content, f"{name} was changed"
    for name in case.absent:
        assert not os.path.lexists(folder / name), f"{name} was written"
    if case.absent:
        assert not [p for p in folder.rglob(".*.tmp")], "a temporary file was left"
    assert seconds < 30, f"took {seconds:.1f} s"


# --- cases beyond one command ----------------------------------------------------------------

PWNED_NAME = 'a\nopen("PWNED","w").write("owned")\n#.toml'
NASTY = "b\\input{etcpasswd}$%|#{}_^~&\"'x\u00e9\u4e2d\u2028\r\t\0.toml"


@pytest.mark.parametrize("filename", [PWNED_NAME, NASTY], ids=["pwned", "specials"])
def test_spec_path_cannot_inject_code(filename: str, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The issue's reproduction: a newline in the spec's path must not become code."""
    if "\0" in filename:
        filename = filename.replace("\0", "")  # no file system takes NUL in a name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    spec_file = tmp_path / "specs" / filename
    spec_file.write_text(spec_text(name="inj", dataset="xor"))
    target = tmp_path / "inj.py"
    assert main(["generate", str(spec_file), "-o", str(target)], io.StringIO()) == 0
    source = unstamp_text(target.read_bytes())
    tree = ast.parse(source)  # still compiles
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert not any(getattr(c.func, "id", None) == "open" for c in calls)
    header = source.splitlines()[:2]
    assert all(line.startswith("#") for line in header)
    assert python_comment(str(spec_file)) in header[0]  # shown escaped, inside the comment
    assert not (tmp_path / "PWNED").exists()
    # the "regenerate with" command names the file, quoted for a shell
    assert "symbackprop generate '" in header[1]


@pytest.mark.slow
def test_pwned_run_executes_nothing(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The reproduction end to end: `run` imports and trains the module; PWNED never appears."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    spec_file = tmp_path / "specs" / PWNED_NAME
    spec_file.write_text(spec_text(name="inj", dataset="xor"))
    status = main(["run", str(spec_file), "--quiet-derivation", "--epochs", "2"], io.StringIO())
    assert status == 0 and not (tmp_path / "PWNED").exists()


@pytest.mark.latex
@pytest.mark.skipif(
    shutil.which("pdflatex") is None and not os.environ.get("SYMBACKPROP_REQUIRE_LATEX"),
    reason="needs pdflatex (CI sets SYMBACKPROP_REQUIRE_LATEX=1 and installs it)",
)
def test_hostile_spec_path_in_latex_compiles(tmp_path: Path) -> None:
    """LaTeX and Markdown outputs keep a hostile path inside its comment, and still compile."""
    spec_file = tmp_path / NASTY.replace("\0", "")
    spec_file.write_text(spec_text(name="inj", dataset="xor", layers="[2, 1]", output="sigmoid"))
    tex = tmp_path / "doc.tex"
    assert main(["derive", str(spec_file), "--document", "-o", str(tex)], io.StringIO()) == 0
    text = tex.read_text()
    assert "\\input{" not in text and "\u2028" not in text and "\r" not in text
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    md = tmp_path / "doc.md"
    assert main(["derive", str(spec_file), "--format", "markdown", "-o", str(md)]) == 0
    first = unstamp_text(md.read_bytes()).splitlines()[0]
    assert first.startswith("<!--") and first.endswith("-->") and first.count("-->") == 1


ALLOWED_LATEX_NAMES = (
    r"\hat{\sigma}_{\theta}'",
    r"\operatorname{g}^2",
    r"\mathbf{W}_1\,\alpha",
    r"\mathrm{Huber}_{\delta}",
    r"f''",
)


@pytest.mark.latex
@pytest.mark.skipif(
    shutil.which("pdflatex") is None and not os.environ.get("SYMBACKPROP_REQUIRE_LATEX"),
    reason="needs pdflatex (CI sets SYMBACKPROP_REQUIRE_LATEX=1 and installs it)",
)
def test_allowed_and_default_latex_names_compile(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Names the grammar allows, and the default names of [functions] (``my_fn``, ``my__loss``,
    ``g``), compile in the document (a superscript and the derivative's prime do not clash)."""
    monkeypatch.chdir(tmp_path)
    extra = "".join(
        f'[functions.f{i}]\nactivation = "x*{i + 2}"\nlatex = {json.dumps(name)}\n'
        for i, name in enumerate(ALLOWED_LATEX_NAMES)
    )
    functions = (
        '[functions.my_fn]\nactivation = "tanh(x)*x"\n[functions.g]\nactivation = "x/2"\n'
        '[functions.my__loss]\nloss = "(a - y)**2"\n'
    )
    layers = "[2" + ", 2" * (len(ALLOWED_LATEX_NAMES) + 1) + ", 1]"
    text = spec_text(layers=layers, output="g", loss="my__loss", dataset="xor")
    names = ", ".join(f'"f{i}"' for i in range(len(ALLOWED_LATEX_NAMES)))
    text = text.replace('activation = "tanh"', f'activation = ["my_fn", {names}]')
    Path("net.toml").write_text(text + functions + extra)
    assert main(["derive", "net.toml", "--pdf", "-o", "net.pdf"], io.StringIO()) == 0
    source = io.StringIO()
    assert main(["derive", "net.toml", "--format", "latex"], source) == 0
    assert r"\operatorname{my\_fn}" in source.getvalue()


@pytest.mark.latex
@pytest.mark.skipif(
    shutil.which("pdflatex") is None and not os.environ.get("SYMBACKPROP_REQUIRE_LATEX"),
    reason="needs pdflatex (CI sets SYMBACKPROP_REQUIRE_LATEX=1 and installs it)",
)
def test_latex_runs_confined_and_time_limited(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A looping document ends in one line after SYMBACKPROP_LATEX_TIMEOUT, its process group
    killed; \\write18 runs nothing and files outside the folder are neither read nor written."""
    from symbackprop.render.document import compile_pdf

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMBACKPROP_LATEX_TIMEOUT", "1.5")
    document = r"\documentclass{article}\begin{document}%s\end{document}"
    started = time.perf_counter()
    with pytest.raises(SymbackpropError, match=r"did not finish within 1.5 s and was stopped"):
        compile_pdf(document % r"\def\x{\x}\x", tmp_path / "loop.pdf")
    assert time.perf_counter() - started < 15
    assert not (tmp_path / "loop.pdf").exists()
    outside = tmp_path / "outside.txt"
    for body, message in (
        (r"\input{/etc/hostname}", "not found"),
        (rf"\newwrite\f\immediate\openout\f={outside}\immediate\closeout\f x", "write"),
    ):
        with pytest.raises(SymbackpropError, match=message):
            compile_pdf(document % body, tmp_path / "read.pdf", force=True)
    pwned = tmp_path / "PWNED"
    compile_pdf(document % rf"\immediate\write18{{touch {pwned}}}x", tmp_path / "ok.pdf")
    assert not pwned.exists() and not outside.exists()


def test_regenerate_command_in_header_works(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The header's "regenerate with" command, run as written, regenerates the same module."""
    import shlex

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my specs").mkdir()
    spec_file = Path("my specs") / "it's.toml"
    spec_file.write_text(spec_text(name="regen", layers="[2, 1]", dataset="xor"))
    assert main(["generate", str(spec_file), "-o", "first.py"], io.StringIO()) == 0
    header = unstamp_text(Path("first.py").read_bytes()).splitlines()[1]
    command = header.split("regenerate with `")[1].rstrip("`.")
    argv = shlex.split(command)
    assert argv[:2] == ["symbackprop", "generate"]
    assert main([*argv[1:], "-o", "second.py"], io.StringIO()) == 0
    assert Path("first.py").read_bytes() == Path("second.py").read_bytes()


def test_own_outputs_replaced_edited_ones_kept(tmp_path: Path) -> None:
    """Unchanged own output: replaced without --force; after an edit: refused; --force: replaced."""
    source = module_source("xor")
    target = tmp_path / "xor.py"
    write_module(source, target)
    assert is_owned(target)
    write_module(source, target)  # our own, unchanged
    target.write_text(target.read_text() + "# my edit\n")
    assert not is_owned(target)
    with pytest.raises(SymbackpropError, match="changed since"):
        write_module(source, target)
    assert target.read_text().endswith("# my edit\n")
    write_module(source, target, force=True)
    assert is_owned(target) and unstamp_text(target.read_bytes()) == source.text
    for fmt, name in (("markdown", "x.md"), ("text", "x.txt"), ("latex", "x.tex")):
        out = tmp_path / name
        argv = ["derive", "xor", "--format", fmt, "-o", str(out)]
        assert main(argv, io.StringIO()) == 0
        assert main(argv, io.StringIO()) == 0, f"{fmt}: refused its own earlier output"
        assert is_owned(out)


def test_pdf_ownership_trailer(tmp_path: Path) -> None:
    from symbackprop.util.fileio import stamp_binary, write_output

    pdf = tmp_path / "x.pdf"
    write_output(pdf, stamp_binary(b"%PDF-1.5\n...%%EOF\n"), suffixes=(".pdf",))
    assert is_owned(pdf)
    write_output(pdf, stamp_binary(b"%PDF-1.5\nnew%%EOF\n"), suffixes=(".pdf",))
    pdf.write_bytes(pdf.read_bytes().replace(b"new", b"NEW"))
    assert not is_owned(pdf)


_SOURCE: list = []  # the module to write, set before forking


def _write_many(args: tuple[str, int]) -> int:
    path, times = args
    for _ in range(times):
        write_module(_SOURCE[0], Path(path))
    return times


def test_concurrent_writers_both_succeed(tmp_path: Path) -> None:
    """Two processes writing the same module path at once: no error, a complete file."""
    import multiprocessing

    target = tmp_path / "same.py"
    _SOURCE[:] = [module_source("xor")]  # derived once, before forking
    with multiprocessing.get_context("fork").Pool(2) as pool:
        done = pool.map(_write_many, [(str(target), 25), (str(target), 25)])
    assert done == [25, 25]
    assert is_owned(target)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_two_cli_processes_generate_one_path(tmp_path: Path) -> None:
    """The issue's race, as users meet it: two `generate -o same.py` at once both succeed."""
    command = [sys.executable, "-m", "symbackprop", "generate", "xor", "-o", "same.py"]
    for _ in range(3):
        runs = [
            subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in runs]
        for p in runs:
            p.stdout.close()
            p.stderr.close()
        assert [status for status, _ in results] == [0, 0], results
        assert is_owned(tmp_path / "same.py")


def test_builtin_label_only_for_packaged_specs(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    packaged = load_spec("xor")
    assert packaged.source == "xor (built-in)" and packaged.origin == "xor"
    Path("moons.toml").write_text(spec_text(name="moons"))
    local = load_spec("moons.toml")
    assert "built-in" not in local.source and local.origin == "moons.toml"
    Path("xor.toml").write_text(spec_text(name="xor2"))
    shadow = load_spec("xor.toml")  # same stem as a built-in, but not the packaged file
    assert "built-in" not in shadow.source and shadow.origin == "xor.toml"


def test_unreadable_files_even_as_root(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """What chmod 000 does for other users, simulated so that it runs as root too."""
    import symbackprop.run.data
    import symbackprop.spec.model

    spec_file = tmp_path / "net.toml"
    spec_file.write_text(spec_text())
    (tmp_path / "data.csv").write_text(XOR_CSV)

    def denied(path: str, flags: int) -> int:
        raise PermissionError(13, "Permission denied", path)

    with monkeypatch.context() as patch:
        patch.setattr(symbackprop.spec.model, "_nonblocking", denied)
        with pytest.raises(SymbackpropError, match="cannot read the spec file \\(Permission"):
            load_spec(spec_file)
    spec = load_spec(spec_file)
    monkeypatch.setattr(symbackprop.run.data.os, "access", lambda path, mode: False)
    with pytest.raises(SymbackpropError, match="cannot read the data file \\(permission denied"):
        load_data(spec)


def test_depth_refused_in_milliseconds() -> None:
    """8.7 million layers: refused before any entry is looked at."""
    table = {
        "name": "deep",
        "network": {"layers": [1] * 8_700_000, "output": "identity", "loss": "mse"},
    }
    started = time.perf_counter()
    with pytest.raises(SymbackpropError, match="at most 32"):
        parse_spec(table)
    assert time.perf_counter() - started < 0.05


def test_path_count_formula_matches_enumeration() -> None:
    from conftest import make_spec

    from symbackprop.pipeline import derivation_of
    from symbackprop.render.paths import enumerate_paths, path_count
    from symbackprop.symbolic.expansion import parse_param

    for output, loss, layers in (("sigmoid", "mse", [2, 3, 2, 2]), ("softmax", "mse", [2, 2, 3])):
        spec = make_spec(layers, output, loss)
        derivation = derivation_of(spec)
        for weight in ("W1[0,0]", "b2[0]"):
            ref = parse_param(weight, spec)
            count = path_count(spec.layers, ref.layer, output != "softmax")
            assert count == len(list(enumerate_paths(derivation, ref))), (output, weight)


def test_csv_parsing_rules(tmp_path: Path) -> None:
    from dataclasses import replace

    from conftest import make_spec

    from symbackprop.spec.model import Data

    spec = make_spec([2, 3, 1], "sigmoid", "mse")

    def load(content: bytes) -> np.ndarray:
        path = tmp_path / "d.csv"
        path.write_bytes(content)
        return load_data(replace(spec, data=Data(dataset=str(path)))).X_train

    # a BOM before numeric data: the first row is data, not a header
    np.testing.assert_array_equal(load(b"\xef\xbb\xbf1,2,0\n3,4,1\n"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load(b"\xef\xbb\xbfa,b,y\n1,2,0\n"), [[1, 2]])
    np.testing.assert_array_equal(load(b" 1e0 , -.5 ,1\n+2.,3E-1,0\n"), [[1, -0.5], [2, 0.3]])
    with pytest.raises(SymbackpropError, match="line 1, column 1: 'one' is not a number"):
        load(b"one,2,0\n1,2,0\n")


def test_escape_functions() -> None:
    from symbackprop.util import escape

    nasty = "a\nb\r\\input{x}$%|#{}_^~&\"'\u00e9\u2028\0"
    comment = escape.python_comment(nasty)
    assert "\n" not in comment and "\r" not in comment and "\0" not in comment
    assert ast.parse(f"# {comment}\nx = 1\n")
    assert eval(escape.python_string(nasty)) == nasty  # noqa: S307 (our own literal)
    latex = escape.latex_text(nasty)
    for bad in ("\\input", "{x}", "\n", "\u00e9"):
        assert bad not in latex
    assert "$" not in latex.replace("\\$", "") and "%" not in latex.replace("\\%", "")
    md = escape.markdown_text("-->|$`")
    assert "-->" not in md and "\\|" in md and "\\$" in md
    assert "\n" not in escape.plain_line(nasty) and "\\n" in escape.plain_line(nasty)
    assert str(SymbackpropError("bad\nthing", "a\nb")) == "a\\nb: bad\\nthing"


# --- full disks and big files at the target --------------------------------------------------

FULL_DISK_COMMANDS = {
    "run --save": run_spec("--save", "out/w.npz"),
    "run --plot": run_spec("--plot", "out/p.png"),
    "predict -o": ("predict", "xor", "w.npz", "x.csv", "-o", "out/p.csv"),
    "init": ("init", "out/net"),
    "sweep --output": sweep_into("out"),
    "export --torch": export_to("--torch", "out/m.pt"),
    "export --onnx": export_to("--onnx", "out/m.onnx"),
}


def _tripwire(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("trained or loaded a module before checking where the output goes")


@pytest.mark.parametrize("command", list(FULL_DISK_COMMANDS))
def test_full_disk_refused_before_any_training(command: str, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001, E501
    """A full disk at the target (statvfs: no block left): one line, exit 2, before any module
    is loaded or trial run, so no training is done only to be lost."""
    import symbackprop.pipeline as pipeline
    import symbackprop.run.export as export
    import symbackprop.run.runner as runner
    import symbackprop.run.weights as weights
    import symbackprop.tools.sweep as sweep

    real = os.statvfs
    full = (tmp_path / "work" / "out").resolve()
    (tmp_path / "work" / "out").mkdir(parents=True)

    def statvfs(path):  # noqa: ANN001, ANN202
        values = list(real(path))
        if Path(path).resolve() == full:
            values[3:5] = [0, 0]  # f_bfree, f_bavail
        return os.statvfs_result(values)

    monkeypatch.setattr(os, "statvfs", statvfs)
    loads = (weights, "read_saved"), (pipeline, "cached_module"), (weights, "load_weights")
    for owner, name in ((runner, "fit"), *loads, (sweep, "_execute"), (export, "import_torch")):
        monkeypatch.setattr(owner, name, _tripwire)
    case = Case(command, WRITE_TARGETS, FULL_DISK_COMMANDS[command], 2)
    status, _, err = run_case(case, tmp_path / "work", monkeypatch, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "out is full (no space left)" in err and "Traceback" not in err, err
    assert [p.name for p in full.iterdir() if p.name != ".sweep.lock"] == []


def test_no_space_left_while_saving_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """The disk fills during training (ENOSPC from the write itself): one line, exit 2, no
    temporary file left, and the user's earlier file at that name unchanged."""
    import errno

    import symbackprop.util.fileio as fileio

    real = fileio.atomic_write

    def atomic_write(path, data, exclusive=False):  # noqa: ANN001, ANN202
        if Path(path).name == "w2.npz":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data, exclusive)

    monkeypatch.setattr(fileio, "atomic_write", atomic_write)
    case = Case("ENOSPC", WRITE_TARGETS, run_spec("--save", "w2.npz"), 2)
    status, _, err = run_case(case, tmp_path, monkeypatch, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "w2.npz: cannot write (No space left on device)" in err, err
    assert not list(tmp_path.glob("*w2.npz*")) and not list(tmp_path.glob(".*.tmp"))


def test_ownership_of_a_2_gb_file_is_decided_unread(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A sparse 2 GB file at an output: is it symbackprop's? Decided from its two ends (no stamp,
    no sidecar: nothing hashed, well under a second); refused without --force, accepted with
    it; a file symbackprop wrote is still accepted."""
    import symbackprop.util.fileio as fileio

    big = tmp_path / "big.npz"
    with open(big, "wb") as handle:
        handle.truncate(2 << 30)
    hashed: list[object] = []
    real = fileio._digest
    monkeypatch.setattr(fileio, "_digest", lambda *a: hashed.append(a[1:3]) or real(*a))
    started = time.perf_counter()
    assert not is_owned(big)
    with pytest.raises(SymbackpropError, match="big.npz: exists and was not written"):
        fileio.check_target(big)
    fileio.check_target(big, force=True)  # --force: replaced (a regular file)
    assert time.perf_counter() - started < 0.5 and hashed == []
    mine = fileio.write_output(tmp_path / "mine.csv", b"class,p0\n", sidecar=True)
    assert is_owned(mine)
    fileio.check_target(mine)  # its own output: replaced without --force


@pytest.mark.parametrize("kind", ["text", "sidecar", "pdf", "npz"])
def test_a_large_output_symbackprop_wrote_stays_its_own(tmp_path: Path, kind: str) -> None:
    """Ownership has no 16 MiB ceiling: a 40 MB results.json (a sweep of 1,500 trials), a big
    .tex or weights archive that symbackprop wrote is replaced without --force (hashed in chunks);
    one changed byte in its middle makes it foreign."""
    import io
    import zipfile

    from symbackprop.util.fileio import stamp_binary, stamp_zip

    body = b"0123456789abcdef" * (40 << 16)  # 40 MiB
    path = tmp_path / f"big.{kind}"
    if kind == "text":
        path.write_bytes(stamp_text(body.decode(), "latex"))
    elif kind == "sidecar":
        write_output(path, body, sidecar=True)
    elif kind == "pdf":
        path.write_bytes(stamp_binary(body))
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("W1.npy", body)
        path.write_bytes(stamp_zip(buffer.getvalue()))
    assert is_owned(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    assert not is_owned(path)


# --- fuzzed files: exit 0 or one line with exit 2, never a traceback --------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ_EXAMPLES = 30
"""Per input kind in the default (deterministic) run; ``-m slow`` runs SLOW_FUZZ_EXAMPLES."""
SLOW_FUZZ_EXAMPLES = 3000
FUZZ_COUNTS: dict[str, dict[int, int]] = {}


def outcome(kind: str, action: Callable[[], object]) -> int:
    """What the CLI would do: 0 on success, 2 with one line on a SymbackpropError; else raise."""
    try:
        action()
        status = 0
    except SymbackpropError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc), repr(str(exc))
        status = 2
    FUZZ_COUNTS.setdefault(kind, {0: 0, 2: 0})[status] += 1
    return status


CSV_ALPHABET = "0123456789.,-+eE_ \n\r\t\"'\ufeffnaifxNAIF;\0\u00e9"
csv_bytes = st.one_of(
    st.text(alphabet=CSV_ALPHABET, max_size=120).map(lambda t: t.encode("utf-8")),
    st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=5),
        max_size=6,
    ).map(lambda rows: "\n".join(",".join(repr(v) for v in row) for row in rows).encode()),
    st.binary(max_size=120),
)

TOML_VALUES = [
    "1",
    "0",
    "-1",
    "inf",
    "nan",
    "1e400",
    "2.5",
    '"x"',
    "[]",
    "[2, 1]",
    "[2, 4, 1]",
    "true",
    "{}",
    '"softmax"',
    '"relu"',
    '"float32"',
    '"mse"',
    '"cross_entropy"',
    "[2, 0, 1]",
    "99999999999999999999999",
    '"a\\nb"',
    '"numpy"',
    '""',
    "[[1]]",
    "9" * 5000,
    '"a\\u0000b"',
    '"' + "d" * 5000 + '"',
    "[" * 3000 + "]" * 3000,
]
TOML_KEYS = [
    "name",
    "layers",
    "activation",
    "output",
    "loss",
    "dtype",
    "learning_rate",
    "batch_size",
    "epochs",
    "seed",
    "drop_last",
    "dataset",
    "test_fraction",
    "other",
]


@st.composite
def toml_bytes(draw) -> bytes:  # noqa: ANN001
    """A valid spec with some lines replaced, dropped or added; or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    lines = spec_text().splitlines()
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.integers(0, 2))
        where = draw(st.integers(0, len(lines) - 1))
        if action == 0:
            key, value = draw(st.sampled_from(TOML_KEYS)), draw(st.sampled_from(TOML_VALUES))
            lines[where] = f"{key} = {value}"
        elif action == 1 and len(lines) > 1:
            del lines[where]
        else:
            lines.insert(where, draw(st.text(alphabet="[]=\"'.#ab1 \n", max_size=12)))
    return "\n".join(lines).encode()


@st.composite
def valid_table(draw, layers: list[int]) -> np.ndarray:  # noqa: ANN001
    """Rows of inputs then targets that fit ``layers`` (labels for several outputs)."""
    n = draw(st.integers(1, 6))
    n_in, n_out = layers[0], layers[-1]
    X = draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n * n_in, max_size=n * n_in))
    if n_out > 1:
        y = draw(st.lists(st.integers(0, n_out - 1), min_size=n, max_size=n))
    else:
        y = draw(st.lists(st.floats(0, 1, width=32), min_size=n, max_size=n))
    return np.column_stack([np.array(X).reshape(n, n_in), np.array(y, dtype=np.float64)])


@st.composite
def csv_for(draw, layers: list[int]) -> bytes:  # noqa: ANN001
    """Fuzzed CSV bytes, or a valid table with an optional header, BOM and spacing."""
    if draw(st.booleans()):
        return draw(csv_bytes)
    table = draw(valid_table(layers))
    sep = draw(st.sampled_from([",", ", ", " ,"]))
    text = "\n".join(sep.join(repr(float(v)) for v in row) for row in table)
    if draw(st.booleans()):
        text = ",".join(f"c{i}" for i in range(table.shape[1])) + "\n" + text
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode()


@st.composite
def npz_for(draw, layers: list[int]) -> bytes:  # noqa: ANN001
    """Fuzzed .npz bytes, or a valid X/y archive, sometimes damaged."""
    if draw(st.booleans()):
        return draw(npz_bytes())
    table = draw(valid_table(layers))
    buffer = io.BytesIO()
    np.savez(buffer, X=table[:, : layers[0]], y=table[:, layers[0] :])
    data = bytearray(buffer.getvalue())
    if draw(st.integers(0, 3)) == 0:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@st.composite
def npz_bytes(draw) -> bytes:  # noqa: ANN001
    """An .npz of small random arrays, sometimes with bytes flipped or cut."""
    dtypes = ["<f8", "<f4", "<i8", "|u1", "|b1", "<c16", "<U2", ">f8"]
    members = {}
    for key in draw(
        st.lists(st.sampled_from(["X", "y", "Y", "z"]), min_size=0, max_size=3, unique=True)
    ):
        shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
        dtype = np.dtype(draw(st.sampled_from(dtypes)))
        values = draw(
            st.lists(
                st.one_of(st.floats(-1e40, 1e40), st.just(float("nan"))),
                min_size=int(np.prod(shape)),
                max_size=int(np.prod(shape)),
            )
        )
        with np.errstate(all="ignore"):
            members[key] = np.array(values, dtype=np.float64).reshape(shape).astype(dtype)
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 3)) if data else 0):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _fuzz_settings(examples: int):  # noqa: ANN202
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _check_spec_bytes(folder: Path, raw: bytes) -> None:
    path = folder / "fuzz.toml"
    path.write_bytes(raw)
    outcome("toml", lambda: load_data(load_spec(path)))  # the spec, then the data it names


def _check_data_bytes(folder: Path, raw: bytes, suffix: str, layers: list[int]) -> None:
    from dataclasses import replace

    from conftest import make_spec

    from symbackprop.spec.model import Data

    path = folder / f"fuzz{suffix}"
    path.write_bytes(raw)
    output, loss = ("softmax", "cross_entropy") if layers[-1] > 1 else ("sigmoid", "mse")
    spec = replace(make_spec(layers, output, loss), data=Data(dataset=str(path)))
    outcome(suffix, lambda: load_data(spec))


HOSTILE_DTYPES = ["<f8", "<f4", ">f8", "<i8", "|u1", "|b1", "<c16", "<U3", "|S2", "<m8[s]"]


@st.composite
def hostile_array(draw) -> np.ndarray:  # noqa: ANN001
    """A small array of any shape and kind, with NaN, infinities and huge values among them."""
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
    values = draw(
        st.lists(
            st.sampled_from([0.0, 1.0, -1.0, 1e-320, 1e300, -1e308, np.inf, np.nan, 0.3]),
            min_size=int(np.prod(shape)),
            max_size=int(np.prod(shape)),
        )
    )
    with np.errstate(all="ignore"):
        return np.array(values).reshape(shape).astype(draw(st.sampled_from(HOSTILE_DTYPES)))


WEIGHT_KEYS = [*XOR_WEIGHTS, "x_mean", "x_std", "network", "spec_digest", "W3", "z"]


@st.composite
def weights_bytes(draw) -> bytes:  # noqa: ANN001
    """A weights .npz as run --save or a module's save_params writes it (stamped or not, with
    or without x_mean/x_std), then members dropped, replaced or damaged; or random bytes."""
    from symbackprop.run.weights import save_weights
    from symbackprop.util.fileio import stamp_zip

    if draw(st.integers(0, 5)) == 0:
        return draw(npz_bytes())
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    arrays: dict[str, np.ndarray] = {k: v.astype(dtype) for k, v in XOR_WEIGHTS.items()}
    spec = parse_spec(tomllib.loads(STANDARDIZED), source="net.toml")
    buffer = io.BytesIO()
    np.savez(buffer, network=np.array(""))  # replaced below: save_weights' own members
    if draw(st.booleans()):
        path = Path(f"/dev/shm/weights-{os.getpid()}.npz")  # save_weights writes to a path
        extras = {"x_mean": np.zeros(2), "x_std": np.ones(2)} if draw(st.booleans()) else {}
        save_weights(path, spec, list(arrays.values()), extras, force=True)
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in archive.files}
        path.unlink()
    for _ in range(draw(st.integers(0, 3))):
        key, action = draw(st.sampled_from(WEIGHT_KEYS)), draw(st.integers(0, 2))
        if action == 0:
            arrays.pop(key, None)
        elif action == 1 or key not in arrays or arrays[key].dtype.kind != "f":
            arrays[key] = draw(hostile_array())
        elif arrays[key].size:
            value = arrays[key].copy()
            with np.errstate(all="ignore"):
                value.flat[draw(st.integers(0, value.size - 1))] = draw(
                    st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e300])
                )
            arrays[key] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = bytearray(stamp_zip(buffer.getvalue()) if draw(st.booleans()) else buffer.getvalue())
    for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


HOSTILE_JSON = ["null", "[]", "{}", '"x"', "0", "-1", "1.5", "true", "9" * 400, "NaN",
                "-Infinity", "1e999", "[1, [2]]", "[" * 5000 + "]" * 5000, '{"a": {}}',
                '["epochs"]', '"ok"', '"lost: x"', "[0.1]", "[1]"]  # fmt: skip
RESULT_FIELDS = ["sweep", "trials", "values", "seed", "status", "final_loss", "accuracy",
                 "losses", "loss_epochs", "grid_keys", "data", "spec", "spec_digest",
                 "epochs", "seconds", "worker_pid"]  # fmt: skip


@st.composite
def results_bytes(draw, meta: dict) -> bytes:  # noqa: ANN001
    """A sweep's results.json as it writes one (0-3 trials), then one to three fields given a
    hostile JSON value (at the top, in ``sweep``, in a trial, in its values); or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    trials = [RECORD | {"seed": seed} for seed in range(draw(st.integers(0, 3)))]
    document = json.loads(json.dumps({"sweep": meta, "trials": trials}))  # a deep copy
    trials = document["trials"]
    marks: dict[str, str] = {}
    for n in range(draw(st.integers(0, 3))):
        owners = [document, document["sweep"], *trials, *(t["values"] for t in trials)]
        owner = draw(st.sampled_from(owners))
        if isinstance(owner, dict):
            marks[f"@{n}@"] = draw(st.sampled_from(HOSTILE_JSON))
            owner[draw(st.sampled_from(RESULT_FIELDS))] = f"@{n}@"
    text = json.dumps(document)
    for mark, value in marks.items():
        text = text.replace(f'"{mark}"', value)
    data = bytearray(text.encode())
    if draw(st.integers(0, 4)) == 0:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


JOURNAL_VALUES = [*HOSTILE_JSON, "[" * 100_000 + "]" * 100_000, "[" * 900 + "]" * 900,
                  '{"a": ' * 900 + "1" + "}" * 900, "9" * 5000, "1e-999", "-0.0", '"\\ud800"',
                  '"lost: \\u0000"', '{"epochs": 1}', '{"epochs": "1", "extra": []}']  # fmt: skip
"""Hostile JSON values a journal line may carry: results.json's, plus deeper nesting (one
line of 200 KB), nesting just shallow enough to parse, integers past Python's digit limit."""


JOURNAL_NUMBERS = ["1e999", "-1e999", "9" * 400, "-" + "9" * 309, "NaN", "Infinity", "1e-999",
                   "-0.0", "true", '"0.1"', "null", "[]", "1.7976931348623157e308"]  # fmt: skip
JOURNAL_NUMBER_FIELDS = ["final_loss", "accuracy", "seconds", "seed", "worker_pid", "train_loss",
                         "losses", "loss_epochs"]  # fmt: skip


@st.composite
def journal_line(draw) -> bytes:  # noqa: ANN001
    """One line of a sweep's journal: a trial's record as ``Results.add`` appends it, with up
    to three fields given a hostile value; or a bare hostile value, garbage, or nothing."""
    kind = draw(st.integers(0, 19))  # low (what Hypothesis tries first): a record
    if kind == 19:
        return draw(st.binary(max_size=60)).replace(b"\n", b"")
    if kind == 18:
        return draw(st.sampled_from(JOURNAL_VALUES)).encode()
    if kind == 17:
        return draw(st.sampled_from([b"", b" ", b"\r", b"{", b'{"values"', b"\xff\xfe"]))
    record = json.loads(json.dumps(RECORD))
    record["values"]["epochs"] = draw(st.sampled_from(["1", "2", "3"]))
    record["seed"] = draw(st.integers(0, 3))
    marks: dict[str, str] = {}
    for n in range(draw(st.sampled_from([1, 1, 1, 2, 3])) if kind > 5 else 0):
        if draw(st.booleans()):  # a number field given a number no sweep writes, or a non-number
            owner, field = record, draw(st.sampled_from(JOURNAL_NUMBER_FIELDS))
            marks[f"@{n}@"] = draw(st.sampled_from(JOURNAL_NUMBERS))
        else:
            owners = [o for o in (record, record["values"]) if isinstance(o, dict)]
            owner = draw(st.sampled_from(owners))
            field = draw(st.sampled_from([*RESULT_FIELDS, "train_loss", "z"]))
            marks[f"@{n}@"] = draw(st.sampled_from(JOURNAL_VALUES))
        owner[field] = f"@{n}@"
    text = json.dumps(record)
    for mark, value in marks.items():
        text = text.replace(f'"{mark}"', value)
    return text.encode()


@st.composite
def journal_bytes(draw) -> bytes:  # noqa: ANN001
    """A sweep's ``.trials.jsonl``: its header (sometimes damaged or missing), then 0-3 lines,
    the last sometimes cut short (a killed append); bytes flipped now and then; or raw bytes."""
    from symbackprop.tools.sweep import JOURNAL_HEADER

    if draw(st.integers(0, 14)) == 0:
        return draw(st.binary(max_size=200))
    header = JOURNAL_HEADER
    damage = draw(st.integers(0, 9))
    if damage == 0:
        header = b""
    elif damage == 1:
        header = header[: draw(st.integers(0, len(header) - 1))]
    lines = draw(st.lists(journal_line(), max_size=3))
    data = bytearray(header + b"".join(line + b"\n" for line in lines))
    if draw(st.integers(0, 5)) == 0 and len(data) > len(header):
        data = data[: draw(st.integers(len(header), len(data)))]  # the last line cut short
    if draw(st.integers(0, 9)) == 0 and data:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def cli_outcome(kind: str, argv: list[str]) -> int:
    """``outcome`` of a whole command: exit 0, or 2 with one line on stderr; else fail."""
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv, io.StringIO())
    assert status in (0, 2) and "Traceback" not in err.getvalue(), err.getvalue()
    if status == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    FUZZ_COUNTS.setdefault(kind, {0: 0, 2: 0})[status] += 1
    return status


def _check_weights_bytes(folder: Path, raw: bytes, command: str, spec: str) -> None:
    """predict or evaluate (the spec with or without standardize = true) on fuzzed weights;
    nothing but the weights file may be touched (predict writes to stdout here)."""
    (folder / "fuzz.npz").write_bytes(raw)
    before = sorted(p.name for p in folder.iterdir())
    data = "x.csv" if command == "predict" else "data.csv"
    cli_outcome("weights", [command, *(str(folder / name) for name in (spec, "fuzz.npz", data))])
    assert sorted(p.name for p in folder.iterdir()) == before


def _sweep_setup() -> tuple[dict, list]:
    from symbackprop.tools.grid import parse_grid, read_table
    from symbackprop.tools.sweep import _meta

    base = read_table("xor")
    axes = parse_grid(["epochs=1,2"], base.table)
    return _meta(base, axes, [0, 1, 2], ["built-in xor"]), axes


def _check_results_bytes(folder: Path, raw: bytes, owned: bool, meta: dict, axes: list) -> None:
    """A resumed sweep's first steps on a fuzzed results.json (stamped as its own or not): read
    it, check the folder, write it again; a foreign file is never replaced."""
    from symbackprop.tools.sweep import OUTPUTS, Results
    from symbackprop.util.fileio import check_folder, write_output

    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    if owned:
        write_output(out / "results.json", raw, sidecar=True)
    else:
        (out / "results.json").write_bytes(raw)

    def resume() -> None:
        with Results(out, meta, axes) as results:
            check_folder(out, OUTPUTS, remedy="choose another --output")
            results.save()

    if outcome("results.json", resume) == 0:
        json.loads((out / "results.json").read_text())  # what it wrote reads back
    elif not owned:
        assert (out / "results.json").read_bytes() == raw, "a foreign results.json was replaced"


def _check_journal_bytes(folder: Path, raw: bytes, trials: int, meta: dict, axes: list) -> None:
    """A resumed sweep's first steps on a fuzzed journal beside its own results.json: read both,
    check the folder, write results.json again and begin the journal afresh, report the trials
    and pick the best variant. Refused: results.json and the journal are left as they were."""
    from symbackprop.tools import sweep
    from symbackprop.tools.grid import read_table, variants
    from symbackprop.util.fileio import check_folder, write_output

    JOURNAL, JOURNAL_HEADER, Results = sweep.JOURNAL, sweep.JOURNAL_HEADER, sweep.Results

    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    stored = [RECORD | {"seed": seed} for seed in range(trials)]
    results_json = json.dumps({"sweep": meta, "trials": stored}).encode()
    write_output(out / "results.json", results_json, sidecar=True)
    (out / JOURNAL).write_bytes(raw)

    def resume() -> None:
        with Results(out, meta, axes) as results:
            check_folder(out, sweep.OUTPUTS, remedy="choose another --output")
            results.save()
            sweep._report(list(results.records.values()), axes, io.StringIO())  # the table
            grid = [sweep.Trial(v, s) for v in variants(read_table("xor"), axes) for s in (0, 1)]
            sweep.best_variant(grid, results)

    if outcome("journal", resume) == 0:
        saved = json.loads((out / "results.json").read_text())["trials"]  # it reads back
        assert len(saved) >= min(trials, 1), "a trial of results.json was lost"
        assert (out / JOURNAL).read_bytes() == JOURNAL_HEADER, "the journal was not begun afresh"
    else:
        assert (out / "results.json").read_bytes() == results_json, "results.json was replaced"
        assert (out / JOURNAL).read_bytes() == raw, "a refused journal was replaced"


@pytest.mark.parametrize("stored_in", ["results.json", ".trials.jsonl"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("final_loss", "1e999"), ("accuracy", "-1e999"), ("seconds", "9" * 400),
     ("train_loss", "1e999"), ("worker_pid", "-" + "9" * 309), ("losses", "[1e999]"),
     ("loss_epochs", "[" + "9" * 400 + "]")],
)  # fmt: skip
def test_numbers_no_sweep_writes_are_refused(
    stored_in: str, field: str, value: str, tmp_path: Path
) -> None:
    """A number that reads as inf (1e999) or beyond a float (400 digits) in a trial: one line
    naming the file and the field, nothing replaced (results.json could not hold inf again:
    a ValueError traceback; the report could not format the integer: an OverflowError)."""
    from symbackprop.tools.sweep import JOURNAL, JOURNAL_HEADER, Results

    meta, axes = _sweep_setup()
    record = json.dumps(RECORD | {field: "@"}).replace('"@"', value)
    trials = f"[{record}]" if stored_in == "results.json" else "[]"
    results_json = f'{{"sweep": {json.dumps(meta)}, "trials": {trials}}}'.encode()
    write_output(tmp_path / "results.json", results_json, sidecar=True)
    journal = JOURNAL_HEADER + (record.encode() + b"\n" if stored_in == JOURNAL else b"")
    (tmp_path / JOURNAL).write_bytes(journal)
    with pytest.raises(SymbackpropError, match=f"'{field}'.*(is not a|holds other than)") as e:
        Results(tmp_path, meta, axes)
    assert stored_in in str(e.value) and "\n" not in str(e.value)
    assert (tmp_path / "results.json").read_bytes() == results_json
    assert (tmp_path / JOURNAL).read_bytes() == journal


@pytest.mark.parametrize("stored_in", ["results.json", ".trials.jsonl"])
def test_a_field_no_sweep_writes_that_json_cannot_hold_is_refused(
    stored_in: str, tmp_path: Path
) -> None:
    """A field the sweep does not know (``"sweep": 1e999``, found by the -m slow file fuzz) that
    results.json could not hold again: one line, nothing replaced, not a ValueError at the
    next save."""
    from symbackprop.tools.sweep import JOURNAL, JOURNAL_HEADER, Results

    meta, axes = _sweep_setup()
    record = json.dumps(RECORD | {"sweep": "@"}).replace('"@"', "1e999")
    trials = f"[{record}]" if stored_in == "results.json" else "[]"
    results_json = f'{{"sweep": {json.dumps(meta)}, "trials": {trials}}}'.encode()
    write_output(tmp_path / "results.json", results_json, sidecar=True)
    journal = JOURNAL_HEADER + (record.encode() + b"\n" if stored_in == JOURNAL else b"")
    (tmp_path / JOURNAL).write_bytes(journal)
    with pytest.raises(SymbackpropError, match="results.json cannot hold") as e:
        Results(tmp_path, meta, axes)
    assert stored_in in str(e.value) and "\n" not in str(e.value)
    assert (tmp_path / "results.json").read_bytes() == results_json


def _fuzz_all(folder: Path, examples: int) -> None:
    @_fuzz_settings(examples)
    @given(raw=toml_bytes())
    def specs(raw: bytes) -> None:
        _check_spec_bytes(folder, raw)

    shapes = st.sampled_from([[2, 3, 1], [1, 2], [2, 3, 3]])

    @_fuzz_settings(examples)
    @given(data=st.data(), layers=shapes)
    def csvs(data: st.DataObject, layers: list[int]) -> None:
        _check_data_bytes(folder, data.draw(csv_for(layers)), ".csv", layers)

    @_fuzz_settings(examples)
    @given(data=st.data(), layers=shapes)
    def npzs(data: st.DataObject, layers: list[int]) -> None:
        _check_data_bytes(folder, data.draw(npz_for(layers)), ".npz", layers)

    @_fuzz_settings(examples)
    @given(
        raw=weights_bytes(),
        command=st.sampled_from(["predict", "evaluate"]),
        spec=st.sampled_from(["net.toml", "std.toml"]),
    )
    def weights(raw: bytes, command: str, spec: str) -> None:
        _check_weights_bytes(folder, raw, command, spec)

    meta, axes = _sweep_setup()

    @_fuzz_settings(examples)
    @given(raw=results_bytes(meta), owned=st.booleans())
    def sweep_results(raw: bytes, owned: bool) -> None:
        _check_results_bytes(folder, raw, owned, meta, axes)

    @_fuzz_settings(examples)
    @given(raw=journal_bytes(), trials=st.integers(0, 2))
    def sweep_journal(raw: bytes, trials: int) -> None:
        _check_journal_bytes(folder, raw, trials, meta, axes)

    FUZZ_COUNTS.clear()
    (folder / "data.csv").write_text(XOR_CSV)  # what the fuzzed specs' dataset names
    specs()
    csvs()
    npzs()
    WRITE_TARGETS(folder)
    (folder / "std.toml").write_text(STANDARDIZED)
    weights()
    sweep_results()
    sweep_journal()
    print("fuzzed inputs (kind: {exit status: count}):", FUZZ_COUNTS)
    for kind in ("toml", ".csv", ".npz", "weights", "results.json", "journal"):
        assert FUZZ_COUNTS[kind][2] > 0, f"no {kind} input was refused: the fuzzer is too tame"
        assert FUZZ_COUNTS[kind][0] > 0, f"no {kind} input was accepted: the fuzzer is too wild"


def test_fuzzed_files_never_traceback(tmp_path: Path) -> None:
    """Fuzzed TOML/CSV/NPZ bytes: accepted, or refused in one line (bounded, deterministic)."""
    _fuzz_all(tmp_path, FUZZ_EXAMPLES)


@pytest.mark.slow
def test_fuzzed_files_never_traceback_long(tmp_path: Path) -> None:
    _fuzz_all(tmp_path, SLOW_FUZZ_EXAMPLES)


def test_tuner_wisdom_is_written_as_every_output_is(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A planted link at the tuner's old temporary name (wisdom.json.<pid>.tmp) writes nothing
    through it; a FIFO, a folder or deep JSON at wisdom.json is no cache (no hang)."""
    import dataclasses
    import threading

    from symbackprop.pipeline import load_module

    spec = dataclasses.replace(load_spec("xor"), kernels="tuned")
    module = load_module(module_source(spec), tmp_path / "modules")  # kernels compile lazily
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    wisdom = tmp_path / "cache" / "wisdom.json"
    Path(f"{wisdom}.{os.getpid()}.tmp").symlink_to(victim)
    module._write_wisdom("key", {"plan": [[0, 0, 0], [0, 0, 0]]})
    assert victim.read_text() == "mine"
    Path(f"{wisdom}.{os.getpid()}.tmp").unlink()
    wisdom.unlink()
    wisdom.symlink_to(victim)  # a link at wisdom.json itself: replaced, not written through
    module._write_wisdom("key", {"plan": [[0, 0, 0], [0, 0, 0]]})
    assert victim.read_text() == "mine" and not wisdom.is_symlink()
    assert not [p.name for p in wisdom.parent.iterdir() if p.name.endswith(".tmp")]
    assert module._read_wisdom() == {"key": {"plan": [[0, 0, 0], [0, 0, 0]]}}
    wisdom.write_text("[" * 100_000 + "]" * 100_000)
    assert module._read_wisdom() == {}
    wisdom.unlink()
    os.mkfifo(wisdom)
    found: list = []
    reader = threading.Thread(target=lambda: found.append(module._read_wisdom()), daemon=True)
    reader.start()
    reader.join(5)
    assert found == [{}], "reading a FIFO at wisdom.json hung"
    for entry in ([[1e300] * 3] * 2, [[0], [0, 0]], None):
        assert module._valid_plan(entry) is None


TUNED_SPEC = spec_text(name="wisdom_net", dataset="xor", epochs=1).replace(
    'dtype = "float64"', 'dtype = "float64"\nkernels = "tuned"'
)
DEEP = "[" * 10_000 + "]" * 10_000


def plan_text(key: str, plan: str) -> str:
    """wisdom.json whose entry for ``key`` has the JSON text ``plan`` as its plan."""
    return json.dumps({key: {"plan": "PLAN"}}).replace('"PLAN"', plan)


WISDOM_TAMPERED = {
    "nested 10000 deep": lambda key: DEEP,
    "null": lambda key: "null",
    "a list": lambda key: "[1, 2]",
    "a folder": None,
    "over 16 MiB": lambda key: " " * ((16 << 20) + 1) + "{}",
    "an overflowing plan": lambda key: json.dumps({key: {"plan": [[10**400] * 3] * 2}}),
    "an infinite plan": lambda key: json.dumps({key: {"plan": [[1e999] * 3] * 2}}),
    "a NaN plan": lambda key: json.dumps({key: {"plan": [[float("nan")] * 3] * 2}}),
    "a ragged plan": lambda key: json.dumps({key: {"plan": [[0], [0, 0]]}}),
    "a null plan": lambda key: json.dumps({key: {"plan": None}}),
    "a null entry": lambda key: json.dumps({key: None}),
    "a plan of the wrong shape": lambda key: json.dumps({key: {"plan": [[1] * 3] * 3}}),
    "a plan nested 10000 deep": lambda key: plan_text(key, DEEP),
    "a plan nested 500 deep": lambda key: plan_text(key, "[" * 500 + "]" * 500),
    "a plan of out-of-range variants": lambda key: json.dumps({key: {"plan": [[99] * 3] * 2}}),
}
"""What wisdom.json may hold after tampering; ``key`` is the tuner's key of this network."""


@pytest.mark.slow  # a tuned module to compile and one tuning run per shape (~14 s)
def test_every_tampered_wisdom_is_measured_again_at_the_cli(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001, E501
    """wisdom.json (the tuner's cache) tampered: overflowing numbers, ragged lists, null, 10,000
    deep nesting, a folder, ... By the tuner's design the cache only saves measuring, so ``run``
    ignores what it cannot use, measures again and writes a good entry: exit 0, no traceback."""
    _tampered_wisdom(tmp_path, monkeypatch, capsys, tuple(WISDOM_TAMPERED))


def _tampered_wisdom(tmp_path: Path, monkeypatch, capsys, shapes: tuple[str, ...]) -> None:  # noqa: ANN001
    import symbackprop.pipeline as pipeline

    shared = pipeline.cache_dir()  # the tests' module cache: the tuned module compiles once
    monkeypatch.setattr(pipeline, "cache_dir", lambda: shared)
    cache = tmp_path / "tuning"
    cache.mkdir()
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(cache))  # where wisdom.json is kept
    monkeypatch.setenv("SYMBACKPROP_TUNE", "1")
    monkeypatch.delenv("SYMBACKPROP_KERNEL", raising=False)
    wisdom = cache / "wisdom.json"

    def run_tuned() -> dict:
        for name, module in list(sys.modules.items()):
            if name.startswith("wisdom_net_"):
                module._PLANS.clear()  # what this process measured: read wisdom.json again
        case = Case("tuned", files(**{"net.toml": TUNED_SPEC}), run_spec(), 0)
        status, _, err = run_case(case, tmp_path / "work", monkeypatch, capsys)
        assert status == 0 and "Traceback" not in err, err
        return json.loads(wisdom.read_text()) if wisdom.is_file() else {}

    (tmp_path / "work").mkdir()
    (key,) = run_tuned()  # a clean cache: measured once, one entry
    for what in shapes:
        content = WISDOM_TAMPERED[what]
        if content is None:
            wisdom.unlink()
            wisdom.mkdir()
        else:
            wisdom.write_text(content(key))
        found = run_tuned()
        if content is None:
            assert wisdom.is_dir(), what  # not replaced: the plan was measured, not kept
            wisdom.rmdir()
            continue
        plan = np.array(found[key]["plan"])
        assert plan.shape == (2, 3) and ((plan >= 0) & (plan < 4)).all(), (what, found)


def test_piecewise_with_and_keeps_the_documents_first_line(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A Piecewise activation whose condition is an 'and' (issue 18): the document's first line
    is still its comment, and the spec's text in the body has its '&' escaped."""
    monkeypatch.chdir(tmp_path)
    expression = "Piecewise((x, x > 0 and x < 1), (0, True))"
    Path("net.toml").write_text(spec_text().replace('"tanh"', f'"{expression}"'))
    assert main(["derive", "net.toml", "--document", "-o", "net.tex"], io.StringIO()) == 0
    text = unstamp_text(Path("net.tex").read_bytes())
    assert text.splitlines()[0].startswith("% Generated by symbackprop")
    assert "(x > 0) & (x" not in text and "\\wedge" in text
    assert "{eq:" not in text  # every reference resolved, the expression's label too
