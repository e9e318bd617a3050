"""Sweeps: many trainings of a spec's variants on Dask distributed, from one laptop to a cluster.

The client derives and generates each variant's module once and sends its text with every trial;
a worker writes it to its local module cache and imports it by name (so Numba's on-disk cache is
hit: one compile per variant per worker), loads the data (cached per worker) and trains with the
trial's seed. Each trial's record is appended to the folder's journal as it ends; results.json
and results.csv are written whole (atomically) at the start and the end; a rerun skips finished
trials.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from ..errors import SymbackpropError, TrainingDiverged
from ..run.limits import forced_kernel
from ..spec.model import INT64_MAX, Spec
from ..util.escape import plain_line
from ..util.fileio import (
    append_line,
    atomic_write,
    check_folder,
    read_prefix,
    stamp_text,
    write_output,
)
from ..util.version import __version__
from .grid import Axis, Variant, parse_grid, read_table, shown, variants

RESULTS_CSV = "results.csv"
RESULTS_JSON = "results.json"
PLOT = "loss_curves.png"
DERIVATIONS = "derivations.md"
OUTPUTS = (RESULTS_JSON, RESULTS_CSV, PLOT, DERIVATIONS)
JOURNAL = ".trials.jsonl"
"""Each trial's record, one JSON line appended as it ends (results.json is written whole only
when a sweep starts and ends): a killed sweep's trials are read back from it on resume."""
JOURNAL_HEADER = b'{"symbackprop sweep journal": 1}\n'
CONNECT_TIMEOUT = "15s"  # to reach a --scheduler and hear it answer
MAX_LOCAL_WORKERS = max(8, 4 * (os.cpu_count() or 1))
"""Local worker processes at most (each one is a Python process with NumPy and Numba loaded)."""
CURVE_POINTS = 1000  # loss-curve points kept per trial in results.json (at most)
CURVE_BUDGET = 2_000_000  # loss-curve points kept over all trials: results stay under ~100 MB
RESULTS_LIMIT = 256 << 20  # the largest results.json or journal a sweep reads back
MAX_TRIALS = 100_000  # grid combinations x seeds in one sweep
METRICS = ("seed", "final_loss", "accuracy", "seconds", "status")


@dataclass(frozen=True)
class Trial:
    """One training: a variant and a seed."""

    variant: Variant
    seed: int

    @property
    def key(self) -> str:
        """Identity in the results files: the variant's values and the seed."""
        return trial_key(self.variant.labels, self.seed)

    @property
    def spec(self) -> Spec:
        """The variant's spec with this trial's seed (initial weights, batch order, test split)."""
        spec = self.variant.spec
        return replace(spec, training=replace(spec.training, seed=self.seed))


def trial_key(labels: tuple[str, ...] | list[str], seed: int) -> str:
    """A results record's identity."""
    return json.dumps([*labels, seed])


# ---------------------------------------------------------------- worker side

_DATA: dict[tuple, Any] = {}


def worker_data(spec: Spec) -> Any:
    """The spec's data, loaded once per worker process for each distinct data setting."""
    from ..run.data import load_data

    key = _data_key(spec)
    if key not in _DATA:
        if len(_DATA) >= 16:
            _DATA.clear()
        _DATA[key] = load_data(spec)
    return _DATA[key]


def _data_key(spec: Spec) -> tuple:
    """What the loaded data depends on (the seed draws the test split), with the file's state:
    a long-lived worker reloads a data file that changed between sweeps."""
    from ..run.data import data_version

    layers = (spec.layers[0], spec.layers[-1])
    return (spec.data, data_version(spec), *layers, spec.output, spec.loss, spec.training.seed)


LOCK = ".sweep.lock"


def lock_folder(folder: Path) -> int:
    """Make the results folder and take its lock (kept in ``LOCK``, never followed as a link),
    or refuse in one line while another sweep holds it. The lock ends with its process."""
    import fcntl

    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, flags, 0o600)
    except OSError as exc:
        raise SymbackpropError(f"cannot write results ({exc.strerror})", str(folder)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise SymbackpropError(
            "is in use by another sweep running now; let it finish or choose another --output",
            str(folder),
        ) from None
    return fd


def one_line(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"[:300]


def run_trial(
    module_name: str, module_text: str, spec: Spec, points: int = CURVE_POINTS
) -> dict[str, Any]:
    """Train one trial on this process (a Dask worker) and return its record's metrics, with
    at most ``points`` points of its loss curve."""
    from ..codegen.source import ModuleSource
    from ..pipeline import load_cached_source
    from ..run.runner import train

    record: dict[str, Any] = {"worker_pid": os.getpid()}
    try:
        start = time.perf_counter()
        module = load_cached_source(ModuleSource(module_name, module_text))
        data = worker_data(spec)
        # Compile (or load from Numba's cache) on a few samples, so `seconds` is training alone.
        few = replace(
            data,
            X_train=data.X_train[:2],
            Y_train=data.Y_train[:2],
            X_test=data.X_test[:1],
            Y_test=data.Y_test[:1],
        )
        train(replace(spec, training=replace(spec.training, epochs=1)), module, few, io.StringIO())
        record["load_seconds"] = time.perf_counter() - start
        _, result = train(spec, module, data, io.StringIO())
    except TrainingDiverged as exc:  # the module stopped at a non-finite loss or update
        epoch = "an epoch" if exc.epoch is None else f"epoch {exc.epoch}"
        reason = plain_line(exc.message)
        record["status"] = f"diverged: the loss is not finite at {epoch} ({reason})"
        return record
    except Exception as exc:  # a failed trial is recorded; the sweep goes on
        record["status"] = f"error: {one_line(exc)}"
        return record
    held_out = result.test_loss is not None
    final = result.test_loss if held_out else result.train_loss
    accuracy = result.test_accuracy if held_out else result.train_accuracy
    losses = [float(v) for v in result.losses]
    epochs = curve_epochs(len(losses), points)
    record.update(
        final_loss=_finite(final),
        accuracy=accuracy,
        seconds=result.seconds,
        train_loss=_finite(result.train_loss),
        test_loss=_finite(result.test_loss),
        train_accuracy=result.train_accuracy,
        test_accuracy=result.test_accuracy,
        loss_epochs=[e + 1 for e in epochs],
        losses=[_finite(losses[e]) for e in epochs],
        status="ok",
    )
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None or record["final_loss"] is None:
        epoch = f"epoch {bad + 1}" if bad is not None else "the end"
        record["status"] = f"diverged: the loss is not finite at {epoch}"
    return record


def curve_points(trials: int) -> int:
    """Loss-curve points kept per trial in a sweep of ``trials``: CURVE_POINTS, fewer (down to
    10) when that many trials would pass CURVE_BUDGET in all."""
    return max(10, min(CURVE_POINTS, CURVE_BUDGET // max(trials, 1)))


def curve_epochs(n: int, points: int = CURVE_POINTS) -> list[int]:
    """Which epochs' losses a record keeps (0-based): all of them, or ``points`` spread evenly."""
    if n <= points:
        return list(range(n))
    return sorted({round(i * (n - 1) / (points - 1)) for i in range(points)})


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


# ---------------------------------------------------------------- results


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number symbackprop writes")


_NUMBERS = ("final_loss", "accuracy", "seconds", "train_loss", "test_loss", "train_accuracy",
            "test_accuracy", "load_seconds", "worker_pid")  # fmt: skip
"""A record's fields that are a number or null."""


def _is_number(value: Any) -> bool:  # noqa: ANN401
    """A finite int or float (not a bool) within a float's range: what this module writes
    (``1e999`` reads as inf, which results.json cannot hold again; ``9`` x 400 as an integer
    that no report can format as a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond a float's range
        return False


def stored_problem(sweep: Any, records: Any, keys: list[str]) -> str | None:  # noqa: ANN401
    """What is wrong with a results.json's parts (its ``sweep`` and ``trials``), or None: the
    shapes this module writes, checked before any is used (a tampered file is one line)."""
    if not isinstance(sweep, dict):
        return "'sweep' is not an object"
    for name in ("grid_keys", "data"):
        value = sweep.get(name)
        strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not (value is None or strings):
            return f"'sweep.{name}' is not a list of strings"
    if not isinstance(records, list):
        return "'trials' is not a list"
    for number, record in enumerate(records):
        problem = _record_problem(record, keys)
        if problem:
            return f"trial {number}: {problem}"
    return None


def _record_problem(record: Any, keys: list[str]) -> str | None:  # noqa: ANN401
    problem = _field_problem(record, keys)
    if problem is None:
        try:  # the record is written again, whole, with every field it holds (known or not)
            json.dumps(record, allow_nan=False)
        except (ValueError, RecursionError):
            problem = "holds a value results.json cannot hold (inf, nan, or nested too deeply)"
    return problem


def _field_problem(record: Any, keys: list[str]) -> str | None:  # noqa: ANN401
    if not isinstance(record, dict):
        return "not an object"
    values = record.get("values")
    if not isinstance(values, dict) or not all(isinstance(values.get(k), str) for k in keys):
        return f"'values' does not give each of {', '.join(keys) or '(no keys)'} as a string"
    if not isinstance(record.get("seed"), int) or isinstance(record.get("seed"), bool):
        return "'seed' is not an integer"
    if not isinstance(record.get("status"), str):
        return "'status' is not a string"
    for name in _NUMBERS:
        if record.get(name) is not None and not _is_number(record[name]):
            return f"'{name}' is not a number"
    if record["status"] != "ok":
        return None
    curve, epochs = record.get("losses"), record.get("loss_epochs")
    if not _is_number(record.get("final_loss")):
        return "'final_loss' of a finished trial is not a number"
    if not (isinstance(curve, list) and isinstance(epochs, list) and len(curve) == len(epochs)):
        return "'losses' and 'loss_epochs' are not lists of one length"
    if not all(v is None or _is_number(v) for v in curve) or not all(map(_is_number, epochs)):
        return "'losses' or 'loss_epochs' holds other than numbers"
    return None


def rank_key(record: dict[str, Any]) -> tuple:
    """Best first: finished trials, then higher accuracy, then lower final loss."""
    ok = record.get("status") == "ok"
    accuracy = record.get("accuracy")
    loss = record.get("final_loss")
    return (
        not ok,
        -accuracy if ok and accuracy is not None else 0.0,
        loss if ok and loss is not None else math.inf,
    )


class Results:
    """A sweep's output folder: results.json (everything) and results.csv, written atomically
    by ``save`` (at the start and the end of a sweep, and at Ctrl-C); each finished trial is
    appended to ``JOURNAL`` (O(1) per trial, not the whole file again). Held by one sweep at a
    time (a lock on ``.sweep.lock`` until ``close``): two sweeps into one folder would each
    write its own trials over the other's."""

    def __init__(self, folder: Path, meta: dict[str, Any], axes: list[Axis]) -> None:
        self.folder = folder
        self.meta = meta
        self.axes = axes
        self.records: dict[str, dict[str, Any]] = {}
        self.unsaved = 0  # trials in the journal only, not yet in results.json
        self._lock = lock_folder(folder)
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let another sweep use the folder."""
        if self._lock is not None:
            os.close(self._lock)  # releases the lock
            self._lock = None

    def __enter__(self) -> Results:
        return self

    def __exit__(self, kind: type | None, *_exc: object) -> None:
        try:
            if self.unsaved and kind in (None, KeyboardInterrupt):
                self.save()  # results.csv current after Ctrl-C too (the journal has them anyway)
        finally:
            self.close()

    def _load(self) -> None:
        path = self.folder / RESULTS_JSON
        if not os.path.lexists(path):
            for name in (RESULTS_CSV, PLOT, DERIVATIONS, JOURNAL):
                if os.path.lexists(self.folder / name):
                    raise SymbackpropError(
                        f"holds a {name} without {RESULTS_JSON}: not this sweep's results; "
                        "choose another --output",
                        str(self.folder),
                    )
            return
        data = read_prefix(path, RESULTS_LIMIT)  # never opens a FIFO, a device or a link
        if data is None or len(data) > RESULTS_LIMIT:
            raise SymbackpropError(
                f"is not a regular file of at most {RESULTS_LIMIT} bytes; choose another --output",
                str(path),
            )
        try:
            stored = json.loads(data, parse_constant=_no_constant)
            sweep, records = stored["sweep"], stored["trials"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SymbackpropError(f"unreadable results ({one_line(exc)})", str(path)) from None
        except RecursionError:
            raise SymbackpropError("unreadable results (nested too deeply)", str(path)) from None
        problem = stored_problem(sweep, records, [a.key for a in self.axes])
        if problem:
            raise SymbackpropError(
                f"unreadable results ({problem}); choose another --output", str(path)
            )
        identity = ("spec", "spec_digest", "grid_keys")
        same = all(sweep.get(k) == self.meta[k] for k in identity)
        then, now = sweep.get("data"), self.meta.get("data")
        if same and then is None and now:
            raise SymbackpropError(
                "holds results that do not name their data (an earlier symbackprop wrote "
                "them); choose another --output",
                str(self.folder),
            )
        if same and then != now:
            raise SymbackpropError(
                "holds results trained on other data (the data file changed since: digest "
                f"{', '.join(then or ['-'])} then, {', '.join(now or ['-'])} now); "
                "choose another --output",
                str(self.folder),
            )
        if not same:
            raise SymbackpropError(
                f"holds results of another sweep ({sweep.get('spec')}, grid keys "
                f"{', '.join(sweep.get('grid_keys') or []) or '-'}); choose another --output",
                str(self.folder),
            )
        for record in [*records, *self._journal()]:  # later lines replace earlier records
            labels = [record["values"][a.key] for a in self.axes]
            self.records[trial_key(labels, record["seed"])] = record

    def _journal(self) -> list[dict[str, Any]]:
        """The records appended since results.json was last written whole (none when there is
        no journal); a last line cut short (a killed write) is dropped, anything else wrong is
        one line."""
        path = self.folder / JOURNAL
        if not os.path.lexists(path):
            return []
        data = read_prefix(path, RESULTS_LIMIT)  # never opens a FIFO, a device or a link
        if data is None or len(data) > RESULTS_LIMIT or not data.startswith(JOURNAL_HEADER):
            raise SymbackpropError(
                f"is not a sweep's journal (a regular file of at most {RESULTS_LIMIT} bytes "
                "that symbackprop began); choose another --output",
                str(path),
            )
        lines = data[len(JOURNAL_HEADER) :].split(b"\n")[:-1]  # the last: empty, or cut short
        keys = [a.key for a in self.axes]
        records = []
        for number, line in enumerate(lines, start=2):
            try:
                record = json.loads(line, parse_constant=_no_constant)
            except (ValueError, RecursionError) as exc:
                problem = one_line(exc) if isinstance(exc, ValueError) else "nested too deeply"
                raise SymbackpropError(f"unreadable line {number} ({problem})", str(path)) from None
            problem = _record_problem(record, keys)
            if problem:
                raise SymbackpropError(
                    f"unreadable line {number} ({problem}); choose another --output", str(path)
                )
            records.append(record)
        return records

    def finished(self, trial: Trial) -> bool:
        """Recorded as ok or as a failure of the training itself (not a lost worker)."""
        record = self.records.get(trial.key)
        return record is not None and not record["status"].startswith("lost:")

    def add(self, trial: Trial, metrics: dict[str, Any]) -> dict[str, Any]:
        """Record a trial's metrics: one line appended to the journal (not the whole file)."""
        values = {a.key: t for a, t in zip(self.axes, trial.variant.labels)}
        record = {"values": values, "seed": trial.seed, **metrics}
        line = json.dumps(record, allow_nan=False).encode() + b"\n"
        path = self.folder / JOURNAL
        try:
            append_line(path, line)
        except OSError as exc:
            raise SymbackpropError(f"cannot write ({exc.strerror or exc})", str(path)) from None
        self.records[trial.key] = record
        self.unsaved += 1
        return record

    def save(self) -> None:
        """Write results.json, then results.csv (one row per trial, in grid order), then begin
        the journal afresh (what it held is in results.json now)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self.records.values(), key=self._order)
        trials = ",\n  ".join(json.dumps(r, allow_nan=False) for r in ordered)
        text = f'{{"sweep": {json.dumps(self.meta)},\n "trials": [\n  {trials}\n ]\n}}\n'
        write_output(self.folder / RESULTS_JSON, text.encode(), sidecar=True)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([a.key for a in self.axes] + list(METRICS))
        for record in ordered:
            writer.writerow(
                [record["values"][a.key] for a in self.axes]
                + [_cell(record.get(m)) for m in METRICS]
            )
        write_output(self.folder / RESULTS_CSV, buffer.getvalue().encode(), sidecar=True)
        try:  # the journal was read (and so checked as this sweep's) before: replaced whole
            atomic_write(self.folder / JOURNAL, JOURNAL_HEADER)
        except OSError as exc:
            where = str(self.folder / JOURNAL)
            raise SymbackpropError(f"cannot write ({exc.strerror or exc})", where) from None
        self.unsaved = 0

    def _order(self, record: dict[str, Any]) -> tuple:
        position = []
        for axis in self.axes:
            labels = axis.labels
            value = record["values"][axis.key]
            position.append((labels.index(value), "") if value in labels else (len(labels), value))
        return (*position, record["seed"])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------- the sweep


def default_output(spec: Spec) -> Path:
    """A new folder named after the spec and the time."""
    stem = f"sweep-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = Path(stem), 1
    while folder.exists():
        n += 1
        folder = Path(f"{stem}-{n}")
    return folder


# No dashboard, and the scheduler's HTTP routes on a free local port: their default, 8787, may be
# taken (another cluster, another user), and Dask then warns on stderr.
NO_DASHBOARD = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


@contextlib.contextmanager
def dask_client(
    scheduler: str | None, workers: int | None, at_most: int | None = None
) -> Iterator[Any]:
    """A Client of the scheduler at ``scheduler``, or of a LocalCluster shut down at the end
    (``workers`` processes, default one per core, no more than ``at_most``: the trials to run)."""
    dask = _distributed()
    if scheduler:
        try:
            client = dask.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address
            raise SymbackpropError(f"cannot connect ({one_line(exc)})", "--scheduler") from None
        try:
            yield client
        finally:
            client.close()
        return
    from ..run.runner import interruptible

    # Ctrl-C while the cluster starts is held until it has started: raised inside LocalCluster,
    # it left a half-started cluster that nothing closed (Dask's exit handler then failed on it
    # with a traceback). A second Ctrl-C still stops at once.
    with interruptible() as interrupted:
        cluster = dask.LocalCluster(
            n_workers=min(workers or os.cpu_count() or 1, at_most or math.inf),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs=NO_DASHBOARD,
            silence_logs=logging.CRITICAL,  # no worker noise at Ctrl-C; trial errors are results
            preload=list(WORKER_IMPORTS),
        )
    try:
        if interrupted():
            raise KeyboardInterrupt
        with dask.Client(cluster) as client:
            yield client
    finally:
        # the workers take most of a second to stop: the sweep reports and plots meanwhile,
        # and waits for them before it returns (closed_clusters)
        closing = threading.Thread(target=cluster.close, name="closing the local Dask cluster")
        closing.start()
        _CLOSING.append(closing)


def _distributed() -> Any:
    """Dask distributed, imported (a one-line error where it is not installed)."""
    try:
        import distributed
    except ImportError:
        raise SymbackpropError(
            "needs Dask distributed: pip install 'symbackprop[sweep]'", "sweep"
        ) from None
    return distributed


WORKER_IMPORTS = ("symbackprop.tools.worker",)
"""What each local worker imports as it starts (``tools.worker``: Numba and the runner while the
client derives the first module; its compiler's set-up there too measured no faster, since it
competes with the derivation)."""

_CLOSING: list[threading.Thread] = []
"""Local clusters still closing (dask_client's), each on a thread of its own."""


def closed_clusters() -> None:
    """Wait until every local cluster ``dask_client`` started has closed. Ctrl-C meanwhile
    still waits for them (about a second: a cluster left closing at exit ends in Dask's own
    exit handler, with a traceback), then stops the sweep."""
    interrupted = False
    while _CLOSING:
        try:
            _CLOSING[-1].join()
        except KeyboardInterrupt:
            interrupted = True
            continue
        _CLOSING.pop()
    if interrupted:
        raise KeyboardInterrupt


def _import_plotting() -> None:
    """Import matplotlib ahead of the loss-curve plot (on a thread, while the trials run)."""
    with contextlib.suppress(ImportError):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401


def hear_scheduler(address: str) -> None:
    """Connect to ``address`` and complete Dask's handshake within CONNECT_TIMEOUT, before the
    sweep writes anything. Client's own timeout does not bound the handshake: a port that
    accepts and never answers (not a Dask scheduler) would hang it forever."""
    import asyncio

    _distributed()
    from dask.utils import parse_timedelta
    from distributed.comm import connect

    seconds = parse_timedelta(CONNECT_TIMEOUT)

    async def hello() -> None:
        try:
            comm = await asyncio.wait_for(connect(address, timeout=seconds), seconds)
        except TimeoutError:
            raise TimeoutError(f"no Dask scheduler answered within {seconds:g} s") from None
        await comm.close()

    try:
        asyncio.run(hello())
    except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address
        raise SymbackpropError(f"cannot connect ({one_line(exc)})", "--scheduler") from None


def _check_arguments(seeds: int, workers: int | None, scheduler: str | None) -> None:
    """--seeds, --workers and $SYMBACKPROP_KERNEL, refused before anything is read."""
    if seeds < 1:
        raise SymbackpropError("must be >= 1", "--seeds")
    if workers is not None and workers < 1:
        raise SymbackpropError("must be >= 1", "--workers")
    if workers is not None and workers > MAX_LOCAL_WORKERS:
        raise SymbackpropError(
            f"{workers} worker processes; this machine runs at most {MAX_LOCAL_WORKERS} "
            f"(4 per core)",
            "--workers",
        )
    if workers is not None and scheduler:
        raise SymbackpropError("is for the local cluster, not with --scheduler", "--workers")
    forced_kernel()  # a malformed $SYMBACKPROP_KERNEL: refused here, not in every trial


def sweep(
    spec_source: str | Path,
    grid: list[str],
    seeds: int = 1,
    scheduler: str | None = None,
    output: Path | None = None,
    derivations: bool = False,
    workers: int | None = None,
    out: TextIO = sys.stdout,
    client: Any = None,
) -> Path:
    """Run a sweep (see the module docstring); returns the output folder.

    Everything the user typed is checked before a cluster starts. ``client`` (an existing Dask
    Client) replaces ``scheduler``/``workers``; the caller keeps it.
    """
    _check_arguments(seeds, workers, scheduler)
    base = read_table(spec_source)
    axes = parse_grid(grid, base.table)
    if client is None:
        # not installed: refused before a results folder is written. Imported here, before
        # _execute derives the first module on a thread: imported beside a derivation (one
        # interpreter lock for both), it started a local cluster's workers 0.1-0.2 s later.
        _distributed()
        if scheduler:
            hear_scheduler(scheduler)
    planned = math.prod(len(axis.values) for axis in axes) * seeds
    if planned > MAX_TRIALS:  # refused before any list of that size is built
        raise SymbackpropError(
            f"{planned} trials (grid combinations x seeds); a sweep runs at most {MAX_TRIALS}",
            "--seeds" if planned // seeds <= MAX_TRIALS else "--grid",
        )
    grid_variants = variants(base, axes)
    base_spec = base.spec()
    if base_spec.training.seed + seeds - 1 > INT64_MAX:
        raise SymbackpropError(
            f"seeds {base_spec.training.seed}..{base_spec.training.seed + seeds - 1} "
            f"pass the largest seed, {INT64_MAX}",
            "--seeds",
        )
    seed_list = [base_spec.training.seed + i for i in range(seeds)]
    trials = [Trial(v, s) for v in grid_variants for s in seed_list]
    data = _check_data_once(trials, axes)
    folder = Path(output) if output is not None else default_output(base_spec)
    meta = _meta(base, axes, seed_list, data)
    if folder.exists() and not folder.is_dir():
        raise SymbackpropError("is a file, not a folder", "--output")
    with Results(folder, meta, axes) as results, contextlib.ExitStack() as later:
        later.callback(closed_clusters)  # a local cluster closes while the results are written
        check_folder(folder, OUTPUTS, remedy="choose another --output")  # before any trial runs
        try:
            results.save()
        except OSError as exc:
            raise SymbackpropError(f"cannot write results ({exc.strerror})", str(folder)) from None
        todo = [t for t in trials if not results.finished(t)]
        print(
            f"sweep of {base_spec.name}: {len(grid_variants)} variant(s) x {seeds} seed(s) = "
            f"{len(trials)} trials; {len(trials) - len(todo)} already done in {folder}",
            file=out,
            flush=True,
        )
        if todo:
            done_before = len(trials) - len(todo)
            _execute(todo, results, scheduler, workers, client, done_before, len(trials), out)
            results.save()  # results.json and results.csv whole, once, with every trial
        current = [results.records[t.key] for t in trials if t.key in results.records]
        _report(current, axes, out)
        extra = len(results.records) - len(current)
        if extra:
            print(f"({extra} earlier trial(s) outside this grid kept in {RESULTS_CSV})", file=out)
        _plot(trials, results, folder / PLOT, out)
        if derivations:
            _derivations(base_spec, trials, results, folder / DERIVATIONS, out)
    print(f"results: {folder / RESULTS_CSV}, {folder / RESULTS_JSON}", file=out)
    return folder


def _meta(base: Any, axes: list[Axis], seeds: list[int], data: list[str]) -> dict[str, Any]:
    """What a results folder records of its sweep (a resume checks spec, digest, data, keys)."""
    return {
        "spec": base.source,
        "spec_digest": base.digest,
        "data": data,
        "grid_keys": [a.key for a in axes],
        "grid": {a.key: list(a.labels) for a in axes},
        "seeds": seeds,
        "symbackprop": __version__,
    }


def _check_data_once(trials: list[Trial], axes: list[Axis]) -> list[str]:
    """Load each distinct data setting on the client: bad data fails before any cluster starts,
    and so does a variant ``run`` would refuse (its network or its training over the memory
    cap, say 10**15 epochs). Returns the digests of the data the trials train on (a resumed
    sweep's data must match)."""
    from ..run.data import data_digest
    from ..run.limits import ensure_fits, module_estimate, training_estimate

    checked = set()
    for trial in trials:
        data = worker_data(trial.spec)
        if trial.variant.index in checked:
            continue
        checked.add(trial.variant.index)
        spec, where = trial.spec, f"--grid variant {shown(_describe(axes, trial.variant.labels))}"
        epochs, rows = spec.training.epochs, data.X_train.shape[0]
        ensure_fits(module_estimate(spec), "the network", where)
        estimate = training_estimate(spec, rows, spec.training.batch_size, epochs)
        ensure_fits(estimate, f"training for {epochs} epochs", where)
    by_data = {trial.spec.data: trial.spec for trial in trials}  # each data file read once
    return sorted({data_digest(spec) for spec in by_data.values()})


def _execute(
    todo: list[Trial],
    results: Results,
    scheduler: str | None,
    workers: int | None,
    client: Any,
    done_before: int,
    total: int,
    out: TextIO,
) -> None:
    """Generate each variant's module and submit its trials at once, so that the workers train
    while the client derives the next variant; record results as they come."""
    context = (
        contextlib.nullcontext(client)
        if client is not None
        else dask_client(scheduler, workers, at_most=len(todo))
    )
    token = uuid.uuid4().hex[:8]
    by_variant: dict[int, list[Trial]] = {}
    for trial in todo:
        by_variant.setdefault(trial.variant.index, []).append(trial)
    early = ThreadPoolExecutor(max_workers=1)
    # the first variant's module is derived while the cluster starts: SymPy on this process, the
    # workers' start on the other cores (a derivation cannot be interrupted: Ctrl-C waits for it;
    # sweep has imported Dask already)
    first = early.submit(_module_source, todo[0].variant.spec)
    with early, context as dask:
        from distributed import as_completed

        futures: dict[Any, Trial] = {}
        pending = as_completed()
        start = time.perf_counter()
        done = 0

        def collect(future: Any) -> None:
            nonlocal done
            trial = futures.pop(future)
            try:
                metrics = future.result()
            except Exception as exc:  # the worker was lost for good (KilledWorker), or the cluster
                metrics = {"status": f"lost: {one_line(exc)}"}
            record = results.add(trial, metrics)
            done += 1
            _progress(record, results, done, len(todo), done_before, total, start, out)

        for trials in by_variant.values():
            variant = trials[0].variant
            print(f"module for {_describe(results.axes, variant.labels)}", file=out)
            if variant is todo[0].variant:
                source = first.result()
                early.submit(_import_plotting)  # the client waits for trials from here on
            else:
                source = _module_source(variant.spec)
            for trial in trials:
                future = dask.submit(
                    run_trial,
                    source.name,
                    source.text,
                    trial.spec,
                    curve_points(total),
                    key=f"trial-{token}-{len(futures) + done}",
                )
                futures[future] = trial
                pending.add(future)
            if pending.has_ready():
                for future in pending.next_batch(block=False):
                    collect(future)
        for future in pending:
            collect(future)


@functools.lru_cache(maxsize=32)
def _module_source(spec: Spec) -> Any:
    """A variant's generated module, through the module cache: variants that differ only in
    run-time settings (learning rate, epochs, seed, ...) share one module and one derivation,
    and a module cached by an earlier run or sweep is not derived again."""
    from ..pipeline import cached_source

    return cached_source(spec)


def _describe(axes: list[Axis], labels: tuple[str, ...] | list[str]) -> str:
    return " ".join(f"{a.key}={t}" for a, t in zip(axes, labels)) or "(base spec)"


def _progress(
    record: dict[str, Any],
    results: Results,
    done: int,
    todo: int,
    done_before: int,
    total: int,
    start: float,
    out: TextIO,
) -> None:
    elapsed = time.perf_counter() - start
    eta = elapsed / done * (todo - done)
    what = _describe(results.axes, [record["values"][a.key] for a in results.axes])
    outcome = _outcome(record)
    best = min(results.records.values(), key=rank_key)
    best_what = _describe(results.axes, [best["values"][a.key] for a in results.axes])
    best_text = (
        f"best {_outcome(best)} ({best_what} seed={best['seed']})"
        if best.get("status") == "ok"
        else "best: none yet"
    )
    width = len(str(total))
    print(
        f"[{done_before + done:>{width}}/{total}] {what} seed={record['seed']}: {outcome} | "
        f"ETA {_clock(eta)} | {best_text}",
        file=out,
        flush=True,
    )


def _outcome(record: dict[str, Any]) -> str:
    if record.get("status") != "ok":
        return record.get("status", "?")
    text = f"loss {record['final_loss']:.4g}"
    if record.get("accuracy") is not None:
        text += f" acc {100 * record['accuracy']:.1f}%"
    return text


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _report(records: list[dict[str, Any]], axes: list[Axis], out: TextIO) -> None:
    """The trials' table, best first."""
    header = ["#", *(a.key for a in axes), *METRICS]
    rows = []
    for rank, record in enumerate(sorted(records, key=rank_key), start=1):
        accuracy = record.get("accuracy")
        seconds = record.get("seconds")
        loss = record.get("final_loss")
        rows.append(
            [
                str(rank),
                *(record["values"][a.key] for a in axes),
                str(record["seed"]),
                f"{loss:.6g}" if loss is not None else "",
                f"{100 * accuracy:.2f}%" if accuracy is not None else "",
                f"{seconds:.3g}" if seconds is not None else "",
                record.get("status", ""),
            ]
        )
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    for line in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip(), file=out)


def best_variant(trials: list[Trial], results: Results) -> Variant | None:
    """The variant whose finished seeds rank best on average (accuracy, then final loss)."""
    scores = {}
    for variant in {t.variant.index: t.variant for t in trials}.values():
        ok = [
            results.records[t.key]
            for t in trials
            if t.variant.index == variant.index
            and results.records.get(t.key, {}).get("status") == "ok"
        ]
        if ok:
            keys = [rank_key(r) for r in ok]
            scores[variant.index] = (
                (sum(k[1] for k in keys) / len(keys), sum(k[2] for k in keys) / len(keys)),
                variant,
            )
    if not scores:
        return None
    return min(scores.values(), key=lambda item: (item[0], item[1].index))[1]


def _plot_text(text: str) -> str:
    """Outside text (a spec path, grid values) as literal plot text: one line, and ``$`` escaped
    so that matplotlib's mathtext never parses it (``a$\\foo$`` would raise)."""
    return plain_line(text).replace("$", r"\$")


def _plot(trials: list[Trial], results: Results, path: Path, out: TextIO) -> None:
    """Loss per epoch, one line per variant (the mean over its seeds, the range shaded)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed, no loss-curve plot", file=out)
        return
    import numpy as np

    curves: dict[int, list[list[float]]] = {}
    for trial in trials:
        record = results.records.get(trial.key, {})
        if record.get("status") == "ok":
            curve = record["losses"]
            if any(v is None for v in curve):
                continue
            curves.setdefault(trial.variant.index, []).append((record["loss_epochs"], curve))
    if not curves:
        return
    labels = {
        t.variant.index: _plot_text(_describe(results.axes, t.variant.labels)) for t in trials
    }
    figure, axis = plt.subplots(figsize=(8, 5))
    colours = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    for n, (index, runs) in enumerate(sorted(curves.items())):
        length = min(len(curve) for _, curve in runs)
        data = np.array([curve[:length] for _, curve in runs], dtype=float)
        epochs = np.array(runs[0][0][:length])
        colour = colours(n % colours.N)
        axis.plot(epochs, data.mean(axis=0), color=colour, label=labels[index], linewidth=1.2)
        if len(runs) > 1:
            axis.fill_between(epochs, data.min(axis=0), data.max(axis=0), color=colour, alpha=0.15)
    axis.set_xlabel("epoch")
    axis.set_ylabel("training loss (mean per sample, over the epoch's batches)")
    if all(min(curve) > 0 for runs in curves.values() for _, curve in runs):
        axis.set_yscale("log")
    title = f"{results.meta['spec']}: loss per variant (mean over seeds, range shaded)"
    axis.set_title(_plot_text(title))
    axis.legend(fontsize="small", loc="best")
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # a spec path in CJK: a box in the title, not a warning
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    write_output(path, buffer.getvalue(), sidecar=True)
    print(f"loss curves: {path}", file=out)


def network_of(spec: Spec) -> tuple:
    """The fields a derivation depends on (not training or data)."""
    return (spec.layers, spec.activations, spec.output, spec.loss, spec.dtype)


def _derivations(
    base: Spec, trials: list[Trial], results: Results, path: Path, out: TextIO
) -> None:
    """The derivation of the best variant against the base spec's, where they differ."""
    from ..pipeline import derivation_of
    from ..render.compare import compare
    from ..render.document import notation_named

    best = best_variant(trials, results)
    if best is None:
        print("note: no trial finished, no derivation diff", file=out)
        return
    notation = notation_named("default")
    text = compare([derivation_of(base), derivation_of(best.spec)], "markdown", notation)
    write_output(path, stamp_text(text, "markdown"))
    what = _describe(results.axes, best.labels)
    if network_of(best.spec) != network_of(base):
        print(f"derivation of the best variant ({what}) vs the spec: {path}", file=out)
    else:
        print(
            f"the best variant ({what}) has the spec's derivation (it differs in training "
            f"settings only): {path}",
            file=out,
        )
