"""Writing files safely: unique temporary names in the target's folder, then an atomic rename.

Every file symbackprop writes (modules, documents, weights, results) goes through ``atomic_write``
so that two processes writing the same path never see a half-written file or a missing temporary.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

from .errors import SymbackpropError


def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a uniquely named temporary file and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- Which files symbackprop may replace --------------------------------------------------------
#
# One rule for every output (modules, .tex, .md, .txt, .pdf, benchmark results): an existing path
# is replaced without --force only when it is a regular file that symbackprop wrote and that is
# unchanged since. Text outputs carry a first line with the SHA-256 of the lines below it; binary
# outputs (PDF) a last line (a PDF comment after %%EOF) with the SHA-256 of the bytes above it.
# Anything but a regular file (folder, FIFO, device, symbolic link) is never replaced, even with
# --force; a FIFO is never opened and at most OWNED_LIMIT bytes of a file are ever read.

OWNED_LIMIT = 16 << 20
"""Files larger than this are never read to decide ownership (symbackprop writes none)."""

_TEXT_STAMP = "symbackprop wrote this file; sha256 of the lines below: "
_COMMENTS = {
    "python": ("# ", ""),
    "latex": ("% ", ""),
    "markdown": ("<!-- ", " -->"),
    "text": ("", ""),
}
_TEXT_RE = re.compile(
    rb"^(?:# |% |<!-- |)" + re.escape(_TEXT_STAMP.encode()) + rb"([0-9a-f]{64})(?: -->)?\n"
)
_BINARY_STAMP = b"%symbackprop wrote this file; sha256 of the bytes above: "
_BINARY_RE = re.compile(rb"\n" + re.escape(_BINARY_STAMP) + rb"([0-9a-f]{64})\n\Z")


def stamp_text(body: str, kind: str) -> bytes:
    """``body`` (UTF-8) under a first line holding its digest, as a ``kind`` comment."""
    data = body.encode("utf-8")
    opening, closing = _COMMENTS[kind]
    digest = hashlib.sha256(data).hexdigest()
    return f"{opening}{_TEXT_STAMP}{digest}{closing}\n".encode() + data


def unstamp_text(data: bytes | str) -> str:
    """The body of a stamped text output (the text itself when it carries no stamp)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    match = _TEXT_RE.match(raw)
    return raw[match.end() if match else 0 :].decode("utf-8")


def stamp_binary(data: bytes) -> bytes:
    """Binary output (a PDF) followed by a comment line holding the digest of what precedes."""
    return data + b"\n" + _BINARY_STAMP + hashlib.sha256(data).hexdigest().encode() + b"\n"


def is_owned(path: Path) -> bool:
    """Whether ``path`` is a regular file symbackprop wrote and nobody changed since."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > OWNED_LIMIT:
            return False
        with open(path, "rb", opener=_nonblocking) as handle:  # swapped for a FIFO: no hang
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return False
            data = handle.read(OWNED_LIMIT + 1)
    except OSError:
        return False
    if _sidecar_matches(path, data):
        return True
    text = _TEXT_RE.match(data)
    if text:
        return hashlib.sha256(data[text.end() :]).hexdigest() == text.group(1).decode()
    tail = data[-200:]
    binary = _BINARY_RE.search(tail)
    if binary:
        body = data[: len(data) - len(tail) + binary.start()]
        return hashlib.sha256(body).hexdigest() == binary.group(1).decode()
    return False


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def sidecar_path(path: Path) -> Path:
    """Where the digest of an output that cannot hold a comment (JSON, PNG) is kept."""
    path = Path(path)
    return path.with_name(f".{path.name}.symbackprop-sha256")


def _sidecar_matches(path: Path, data: bytes) -> bool:
    side = sidecar_path(path)
    try:
        if not stat.S_ISREG(os.lstat(side).st_mode):
            return False
        with open(side, "rb") as handle:
            recorded = handle.read(200).strip()
    except OSError:
        return False
    return recorded == hashlib.sha256(data).hexdigest().encode()


def check_target(path: Path, force: bool = False, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse (one line) to write ``path`` unless the rule above allows it; create its folder."""
    path = Path(path)
    where = str(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise SymbackpropError(
            f"this output needs a file name ending in {' or '.join(suffixes)}", where
        )
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        info = None  # the folder checks below say what is wrong with the parent
    except OSError as exc:
        raise SymbackpropError(f"cannot examine the output path ({exc.strerror})", where) from None
    if info is not None:
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise SymbackpropError("is a folder; give a file path", where)
        if stat.S_ISLNK(mode):
            raise SymbackpropError(
                "is a symbolic link; symbackprop replaces only regular files", where
            )
        if not stat.S_ISREG(mode):
            raise SymbackpropError(
                "is not a regular file (a FIFO, socket or device); not replaced, even with --force",
                where,
            )
        if not force and not is_owned(path):
            raise SymbackpropError(
                "exists and was not written by symbackprop, or was changed since "
                "(use --force to overwrite)",
                where,
            )
    _ensure_folder(path.parent, where)


def _ensure_folder(folder: Path, where: str) -> None:
    folder = folder if str(folder) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SymbackpropError(f"{folder} is not a folder", where) from None
    except OSError as exc:
        raise SymbackpropError(
            f"cannot create the folder {folder} ({exc.strerror})", where
        ) from None
    if not folder.is_dir():
        raise SymbackpropError(f"{folder} is not a folder", where)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SymbackpropError(f"the folder {folder} is not writable", where)


def write_output(
    path: Path,
    data: bytes,
    force: bool = False,
    suffixes: tuple[str, ...] = (),
    sidecar: bool = False,
) -> Path:
    """Check ``path`` by the rule above, then write ``data`` atomically; errors in one line.

    ``sidecar``: for formats without comments (JSON, PNG), the digest goes to ``sidecar_path``.
    """
    path = Path(path)
    check_target(path, force, suffixes)
    try:
        if sidecar:
            atomic_write(sidecar_path(path), hashlib.sha256(data).hexdigest().encode() + b"\n")
        return atomic_write(path, data)
    except OSError as exc:
        raise SymbackpropError(f"cannot write ({exc.strerror or exc})", str(path)) from None
