"""What ``predict`` and ``evaluate`` do before their first kernel call: skip Numba's probe for
SciPy's BLAS (issue 17).

Numba sets up its target on the first call of a compiled function, even one loaded from its
on-disk cache, and that imports ``numba.np.arraymath``, which imports ``scipy.linalg`` where
SciPy is installed to learn whether np.dot has a BLAS: about 0.2 s of CPU, a third of a warm
``predict``. A generated module's ``forward``, ``loss`` and ``predict`` never call BLAS (they
run its ``_infer`` kernel), so these commands import arraymath with ``scipy.linalg`` refused:
Numba notes that it has no BLAS, which changes only how it would compile np.correlate and
np.convolve (loops instead of np.dot; no module calls them) and nothing already compiled. Once
arraymath is imported, nothing is refused.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

REFUSED = "scipy.linalg"
"""The package (with its submodules) that predicting does not need and Numba's probe imports."""


class _Refuse(importlib.abc.MetaPathFinder):
    """Fails the import of REFUSED and its submodules; finds nothing else."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == REFUSED or name.startswith(REFUSED + "."):
            raise ImportError(f"{name} is not imported to predict", name=name)
        return None


def skip_blas_probe() -> None:
    """Import Numba's array maths with scipy.linalg refused; nothing to do once either of them
    is imported (a process that trained, or that imported SciPy's linear algebra itself)."""
    if "numba.np.arraymath" in sys.modules or REFUSED in sys.modules:
        return
    finder = _Refuse()
    sys.meta_path.insert(0, finder)
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        sys.meta_path.remove(finder)
