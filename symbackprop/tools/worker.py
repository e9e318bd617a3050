"""What each process of a sweep's local Dask cluster imports as it starts (its ``preload``).

Numba and the runner are imported while the client derives the first module. At exit the worker
freezes the garbage collector's objects (``gc.freeze``), as the command line does on its way
out: the interpreter's last collections then skip the objects Numba's compiler set up, which
made each worker take 0.2-0.3 s longer to stop than the sweep took to plot its results. A
worker process is the sweep's own and ends with it; it holds no open file at that point.
"""

from __future__ import annotations

import atexit
import gc

import numba  # noqa: F401

from ..run import runner  # noqa: F401

atexit.register(gc.freeze)
