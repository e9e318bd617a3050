"""Writing files safely: the one rule for every file symbackprop writes, and how it is written.

Every output (modules, documents, weights, plots, predictions, starter specs, benchmark and sweep
results) is checked by ``check_target`` and written by ``write_output`` through ``atomic_write``:
a uniquely named temporary file in the target's folder (created with ``O_EXCL|O_NOFOLLOW``), then
an atomic rename, so two processes writing the same path never see a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from ..errors import SymbackpropError


def atomic_write(path, data, exclusive=False):  # noqa: ANN001, ANN201
    """Write ``data`` to ``path``: a new temporary file beside it (a random name, opened with
    O_EXCL|O_NOFOLLOW, so no file or link put there beforehand is written through), then a
    rename over ``path`` (``exclusive``: a hard link instead, never replacing an existing one).

    Standard library only: generated modules carry this function's source (``codegen``).
    """
    import os
    import secrets

    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    temporary = os.path.join(folder, f".{os.path.basename(target)}.{secrets.token_hex(8)}.tmp")
    handle = os.open(temporary, flags, 0o666)  # the umask applies, as for any new file
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        if exclusive:
            os.link(temporary, target)  # FileExistsError if anything appeared at target
            os.unlink(temporary)
        else:
            os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path


def append_line(path: Path, line: bytes) -> None:
    """Append one line (a journal's record) to ``path``, a regular file that already exists
    (never created, never through a link, no hang on a FIFO): one write with O_APPEND, so the
    cost is the line's, however long the file. OSError when it cannot."""
    if not line.endswith(b"\n") or b"\n" in line[:-1]:
        raise ValueError("append_line writes exactly one line")
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    handle = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(f"{path} is not a regular file")
        written = os.write(handle, line)
        if written != len(line):
            raise OSError(f"wrote {written} of {len(line)} bytes")
    finally:
        os.close(handle)


def standalone_source() -> str:
    """``atomic_write`` and ``read_prefix`` as ``_atomic_write`` and ``_read_prefix``: the source
    a generated module carries (it imports nothing of symbackprop) for its weights and wisdom;
    their imports go to the module's top."""
    import inspect

    parts = [inspect.getsource(atomic_write), inspect.getsource(read_prefix)]
    text = "\n\n".join(parts)
    text = re.sub(r"\n(    import \w+\n)+\n", "\n", text)  # the module imports os, secrets, stat
    return text.replace("def atomic_write(", "def _atomic_write(").replace(
        "def read_prefix(", "def _read_prefix("
    )


# --- Which files symbackprop may replace --------------------------------------------------------
#
# One rule for every output (modules, .tex, .md, .txt, .pdf, weights, plots, predictions, benchmark
# and sweep results): an existing path is replaced without --force only when it is a regular file
# that symbackprop wrote and that is unchanged since. Text outputs carry a first line with the
# SHA-256 of the lines below it; PDFs a last line (a PDF comment after %%EOF) with the SHA-256 of
# the bytes above it; weights (.npz) the archive's comment with the SHA-256 of the archive without
# it; formats without comments (PNG, JSON, CSV) a sidecar file holding the SHA-256 of the file.
# Anything but a regular file (folder, FIFO, device, symbolic link) is never replaced, even with
# --force; a FIFO is never opened, and a file without a stamp is not read beyond its two ends.

OWNED_LIMIT = 16 << 20
"""The most bytes of a small output (a benchmark's results) read whole."""

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


def read_prefix(path, limit=16 << 20):  # noqa: ANN001, ANN201
    """At most ``limit`` + 1 bytes of ``path`` if it is a regular file (not a link, FIFO or
    device: those are never opened, so nothing hangs); None when it is not, or is unreadable.

    Standard library only: generated modules carry this function's source (``codegen``).
    """
    import os
    import stat

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        handle = os.open(path, flags)  # swapped for a FIFO or a link since lstat: no hang
        with os.fdopen(handle, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            return file.read(limit + 1)
    except OSError:
        return None


_ZIP_STAMP = b"symbackprop wrote this file; sha256 of the archive without this comment: "
_ZIP_RE = re.compile(
    rb"PK\x05\x06[\s\S]{16}([\s\S]{2})" + re.escape(_ZIP_STAMP) + rb"([0-9a-f]{64})\Z"
)


def stamp_zip(data: bytes) -> bytes:
    """A zip archive (``np.savez``'s .npz) whose end-of-archive comment holds its digest."""
    if data[-22:-18] != b"PK\x05\x06" or data[-2:] != b"\0\0":
        raise ValueError("not a zip archive without a comment")
    comment = _ZIP_STAMP + hashlib.sha256(data).hexdigest().encode()
    return data[:-2] + len(comment).to_bytes(2, "little") + comment


def is_owned(path: Path) -> bool:
    """Whether ``path`` is a regular file symbackprop wrote and nobody changed since.

    Decided from the file's two ends (a text stamp in its first line, a PDF or zip stamp in its
    last bytes) and its sidecar before anything is hashed: a file with none of them is not read
    beyond 200 bytes at each end, whatever its size; a stamped one is hashed in chunks (constant
    memory), and one over HASH_LIMIT is not owned (its size says so)."""
    try:
        file = _open_regular(path)
    except OSError:
        return False
    if file is None:
        return False
    with file:
        size = os.fstat(file.fileno()).st_size
        if size > HASH_LIMIT:
            return False
        head = file.read(_END)
        file.seek(max(0, size - _END))
        tail = file.read(_END)
        recorded = read_prefix(sidecar_path(path), 200)
        if recorded is not None and _digest(file, 0, size) == recorded.strip().decode("latin-1"):
            return True
        expected, start, stop, extra = _stamp_of(head, tail, size)
        return expected is not None and _digest(file, start, stop, extra) == expected


_END = 200
HASH_LIMIT = 4 << 30
"""Files larger than this are never hashed to decide ownership (4 GiB: weights of a network with
half a billion float64 parameters)."""


def _open_regular(path: Path) -> BinaryIO | None:
    """``path`` opened for reading if it is a regular file (never a link, FIFO or device)."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    file = os.fdopen(os.open(path, flags), "rb")  # swapped for a FIFO since lstat: no hang
    if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        file.close()
        return None
    return file


def _stamp_of(head: bytes, tail: bytes, size: int) -> tuple[str | None, int, int, bytes]:
    """The digest a file's stamp records, and the byte range (plus trailing bytes) it covers."""
    text = _TEXT_RE.match(head)
    if text:
        return text.group(1).decode(), text.end(), size, b""
    binary = _BINARY_RE.search(tail)
    if binary:
        return binary.group(1).decode(), 0, size - len(tail) + binary.start(), b""
    archive = _ZIP_RE.search(tail[-(22 + len(_ZIP_STAMP) + 64) :])
    if archive and int.from_bytes(archive.group(1), "little") == len(_ZIP_STAMP) + 64:
        # the archive as np.savez wrote it: the comment replaced by an empty one
        return archive.group(2).decode(), 0, size - len(archive.group(0)) + 20, b"\0\0"
    return None, 0, 0, b""


def _digest(file: BinaryIO, start: int, stop: int, extra: bytes = b"") -> str:
    """SHA-256 of bytes ``start:stop`` of ``file`` followed by ``extra``, read in chunks."""
    digest = hashlib.sha256()
    file.seek(start)
    left = stop - start
    while left > 0:
        chunk = file.read(min(left, 1 << 20))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    digest.update(extra)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    """Where the digest of an output that cannot hold a comment (JSON, PNG) is kept."""
    path = Path(path)
    return path.with_name(f".{path.name}.symbackprop-sha256")


def check_target(
    path: Path,
    force: bool = False,
    suffixes: tuple[str, ...] = (),
    exclusive: bool = False,
    remedy: str = "use --force to overwrite",
) -> None:
    """Refuse (one line) to write ``path`` unless the rule above allows it; create its folder.

    ``exclusive``: an output that never replaces anything (``init``'s starter spec). ``remedy``:
    what the refusal suggests (for a command without ``--force``).
    """
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
        if exclusive:
            raise SymbackpropError(
                "exists; this command never overwrites (pick another name)", where
            )
        if not force and not is_owned(path):
            raise SymbackpropError(
                f"exists and was not written by symbackprop, or was changed since ({remedy})",
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
    if not os.access(folder, os.W_OK | os.X_OK):  # a read-only mount too (EROFS), even as root
        raise SymbackpropError(f"the folder {folder} is not writable", where)
    if _disk_full(folder):
        raise SymbackpropError(f"the disk holding {folder} is full (no space left)", where)


def _disk_full(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has no block or no file entry left for this
    user (root may use the reserved blocks); False where it does not say (statvfs of 0 blocks)."""
    try:
        space = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows): the write itself will tell
        return False
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    blocks = space.f_bfree if root else space.f_bavail
    entries = space.f_ffree if root else space.f_favail
    return bool(space.f_blocks and not blocks) or bool(space.f_files and not entries)


def write_output(
    path: Path,
    data: bytes,
    force: bool = False,
    suffixes: tuple[str, ...] = (),
    sidecar: bool = False,
    exclusive: bool = False,
) -> Path:
    """Check ``path`` by the rule above, then write ``data`` atomically; errors in one line.

    ``sidecar``: for formats without comments (JSON, PNG, CSV, NPZ), the digest goes to
    ``sidecar_path``. ``exclusive``: never replace an existing file (see ``check_target``).
    """
    path = Path(path)
    check_target(path, force, suffixes, exclusive)
    try:
        if sidecar:
            digest = hashlib.sha256(data).hexdigest().encode() + b"\n"
            atomic_write(sidecar_path(path), digest)
        atomic_write(path, data, exclusive)
        return path
    except FileExistsError:
        raise SymbackpropError(
            "exists; this command never overwrites (pick another name)", str(path)
        ) from None
    except OSError as exc:
        raise SymbackpropError(f"cannot write ({exc.strerror or exc})", str(path)) from None


def check_folder(
    folder: Path,
    names: Iterable[str],
    force: bool = False,
    remedy: str = "use --force to overwrite",
) -> None:
    """Refuse (one line, before any work) a results folder that is not a folder, or holding one
    of ``names`` that the rule above does not let symbackprop replace."""
    folder = Path(folder)
    try:
        info = os.stat(folder)  # a link to a folder is a folder; each file is checked below
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as exc:
        raise SymbackpropError(f"cannot examine the folder ({exc.strerror})", str(folder)) from None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise SymbackpropError("is not a folder", str(folder))
    for name in names:
        check_target(folder / name, force, remedy=remedy)
