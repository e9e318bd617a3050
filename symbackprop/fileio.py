"""Writing files safely: unique temporary names in the target's folder, then an atomic rename.

Every file symbackprop writes (modules, documents, weights, results) goes through ``atomic_write``
so that two processes writing the same path never see a half-written file or a missing temporary.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a uniquely named temporary file and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
