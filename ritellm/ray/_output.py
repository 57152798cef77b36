"""``write_completions``: a resumable job whose output is a directory of Parquet or JSONL
files. A rerun reads what is there, removes a file of its own that a crash cut short,
leaves out the rows already answered and writes the rest as new files beside them. Any
other file in the directory is refused, never read or removed.
Imports ray and pyarrow lazily, at call time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import ParameterError, ParameterTypeError
from .._fanout._engine import FanoutStats, _Progress
from ._job import check_completions, map_completions, shared_limits
from ._requests import worker_totals
from ._rows import finished_keys

if TYPE_CHECKING:
    import pyarrow.fs  # type: ignore[import-untyped]
    import ray.data

__all__ = ["JobSummary", "finished_ids", "write_completions"]

_log = logging.getLogger("ritellm.ray")

FORMATS = {"parquet": ".parquet", "json": ".json"}
# The names of the files a run writes (``ritellm-<write uuid>_<task>-<n>.<format>``), and
# Ray Data's default names, which earlier versions used (``<dataset>_<write uuid>_<task>``).
_OURS = re.compile(r"(?:ritellm-|[0-9A-Za-z]+_)[0-9a-f]{32}_\d{6}(?:-\d+)?\.(parquet|json)")
PARQUET_MAGIC = b"PAR1"


@attrs.frozen
class JobSummary:
    """What a :func:`write_completions` run did."""

    skipped: int
    """Ids already finished in the output when the run started (rows with those ids were
    left out): answered, and also failed unless ``retry_errors``."""
    done: int
    """Rows written with a response by this run."""
    failed: int
    """Rows written with an error by this run."""
    removed: tuple[str, ...]
    """The job's files removed because a crash cut them short (their rows are done again)."""
    workers: int
    """Worker actors that ran."""
    restarts: int
    """Times Ray restarted a worker whose process died (its batches ran again)."""
    seconds: float
    failed_before: int = 0
    """Of ``skipped``, the ids whose earlier row is an error (``retry_errors=True`` does
    them again)."""


def _filesystem(path: str) -> tuple[pyarrow.fs.FileSystem, str]:
    import pyarrow.fs

    if "://" in path:
        fs, root = pyarrow.fs.FileSystem.from_uri(path)
        return fs, str(root)
    return pyarrow.fs.LocalFileSystem(), os.path.abspath(path)


def _files(fs: pyarrow.fs.FileSystem, root: str, fmt: str) -> list[str]:
    """The job's output files in ``root``. Raises ParameterError naming any other file
    (a user's own, or the other format's): the directory must hold only the job's output,
    so nothing else is ever read as rows or removed. Hidden names (``.``, ``_``) are left
    alone."""
    import pyarrow.fs

    info = fs.get_file_info(root)
    if info.type == pyarrow.fs.FileType.NotFound:
        return []
    if info.type != pyarrow.fs.FileType.Directory:
        raise ParameterError(f"the output location {root!r} is not a directory")
    found = fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=False))
    ours: list[pyarrow.fs.FileInfo] = []
    foreign: list[pyarrow.fs.FileInfo] = []
    for f in sorted(found, key=lambda f: str(f.base_name)):
        if not f.is_file or f.base_name.startswith((".", "_")):
            continue
        match = _OURS.fullmatch(f.base_name)
        (ours if match is not None and match.group(1) == fmt else foreign).append(f)
    if foreign:
        names = ", ".join(repr(f.base_name) for f in foreign)
        raise ParameterError(
            f"the output directory {root!r} holds {names}: not {fmt} files written by "
            "write_completions, and never read or removed by it: give a directory of its own"
        )
    return [f.path for f in ours]


def _truncated(fs: pyarrow.fs.FileSystem, path: str, fmt: str) -> bool:
    """Whether a crash cut the file short: Parquet without its closing magic bytes, JSON
    lines without the final newline."""
    with fs.open_input_file(path) as f:
        size = f.size()
        if fmt == "parquet":
            if size < 2 * len(PARQUET_MAGIC) + 4:
                return True
            f.seek(size - len(PARQUET_MAGIC))
            return bytes(f.read(len(PARQUET_MAGIC))) != PARQUET_MAGIC
        if size == 0:
            return False
        f.seek(size - 1)
        return bytes(f.read(1)) != b"\n"


def _read(fs: pyarrow.fs.FileSystem, path: str, fmt: str) -> list[dict[str, Any]]:
    """The id and error of each row of one output file; raises if it cannot be read."""
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        with fs.open_input_file(path) as f:
            table = pq.read_table(f, columns=["id", "error"])
        found: list[dict[str, Any]] = table.to_pylist()
        return found
    with fs.open_input_stream(path) as f:
        data = f.read()
    rows = []
    for line in data.splitlines():
        row = json.loads(line)
        rows.append({"id": row.get("id"), "error": row.get("error")})
    return rows


def _status(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # An output row holds a response or an error, never both: reading only the small
    # error column tells which.
    return [{"id": r["id"], "error": r["error"], "response": r["error"] is None} for r in rows]


def _scan(path: str, fmt: str, repair: bool) -> tuple[set[str], set[str], tuple[str, ...]]:
    """(ids with a response, ids with a row at all, the files a crash cut short). A file of
    the job's that is whole but cannot be read raises ParameterError: it is not removed."""
    fs, root = _filesystem(path)
    answered: set[str] = set()
    written: set[str] = set()
    broken: list[str] = []
    for file in _files(fs, root, fmt):
        if _truncated(fs, file, fmt):
            broken.append(file)
            continue
        try:
            rows = _status(_read(fs, file, fmt))
        except (OSError, ValueError, KeyError) as exc:  # ArrowInvalid is a ValueError
            raise ParameterError(
                f"cannot read the output file {file!r} (it is not cut short, so it is left "
                f"as it is): {exc}"
            ) from None
        answered |= finished_keys(rows, retry_errors=True)
        written |= finished_keys(rows, retry_errors=False)
    if repair:
        for file in broken:
            fs.delete_file(file)
    return answered, written, tuple(broken)


def finished_ids(
    path: str, *, format: str = "parquet", retry_errors: bool = False, repair: bool = False
) -> tuple[set[str], tuple[str, ...]]:
    """Ids (as :func:`ritellm.ray._rows.id_key`) an earlier run finished in ``path``.

    Args:
        path: the output directory (local, or a URI pyarrow knows: ``s3://``, ``gs://``...).
        format: "parquet" or "json" (JSON lines).
        retry_errors: False: rows with a response or an error are finished (as in
            ``ritellm batch``); True: only rows with a response.
        repair: remove the job's files that a crash cut short (else they are only
            skipped).

    Returns:
        The finished ids, and the files cut short (removed if ``repair``).

    Raises:
        ParameterError: ``path`` holds a file write_completions did not write, or one of
            its files that is whole but cannot be read.
    """
    if format not in FORMATS:
        raise ParameterError(f"format must be 'parquet' or 'json', got {format!r}")
    answered, written, broken = _scan(path, format, repair)
    return (answered if retry_errors else written), broken


def _count(fs: pyarrow.fs.FileSystem, files: list[str], fmt: str) -> tuple[int, int]:
    done = failed = 0
    for file in files:
        for row in _read(fs, file, fmt):
            if row["error"] is None:
                done += 1
            else:
                failed += 1
    return done, failed


def write_completions(
    ds: ray.data.Dataset,
    path: str,
    *,
    format: str = "parquet",
    retry_errors: bool = False,
    progress: bool | Callable[[FanoutStats], Any] = False,
    **options: Any,
) -> JobSummary:
    """Run :func:`map_completions` and write its rows to the directory ``path``, resuming
    whatever an earlier run with the same ``path`` did.

    Rows need an ``id`` column: a row whose id already has a row in ``path`` (a response,
    or an error unless ``retry_errors``) is left out and not sent, as ``ritellm batch``
    skips finished lines. Each run adds its own files; a file a crash cut short is removed
    and its rows are done again. Every input row ends up in ``path`` exactly once (with
    ``retry_errors``, an id answered after an earlier error also keeps its error row); a
    request may have been sent more than once (at-least-once: see docs/scaling.md).

    Args:
        ds: the input Dataset (as for :func:`map_completions`).
        path: the output directory, local (shared by every node) or a URI such as
            ``s3://bucket/out``.
        format: "parquet" or "json" (JSON lines).
        retry_errors: False (the default, as in ``ritellm batch``): rows recorded as errors
            count as finished, and :attr:`JobSummary.failed_before` counts them; True: they
            are done again.
        progress: True for a progress bar (tqdm if installed, else a stderr line), or a
            callable receiving :class:`ritellm.FanoutStats` about twice a second.
        options: :func:`map_completions`'s keyword arguments (``model``, ``num_workers``,
            ``rpm``, ... and ``acompletion``'s).

    Returns:
        A :class:`JobSummary`.

    Raises:
        ParameterError / ParameterTypeError: bad arguments, an input without ``id`` (when
            its schema is known), a ``path`` that is a file, or a directory holding a file
            this function did not write (it is named; nothing is removed); before any
            request.
    """
    import ray

    started = time.monotonic()
    if format not in FORMATS:
        raise ParameterError(f"format must be 'parquet' or 'json', got {format!r}")
    if not isinstance(path, str):
        raise ParameterTypeError(f"path must be a str, not {type(path).__name__}")
    if not isinstance(ds, ray.data.Dataset):
        raise ParameterTypeError(f"ds must be a ray.data.Dataset, not {type(ds).__name__}")
    schema = ds.schema(fetch_if_missing=False)
    if schema is not None and "id" not in schema.names:
        raise ParameterError("write_completions needs an 'id' column to resume by")
    check_completions(ds, **options)  # every option, before a file is read or removed
    fs, root = _filesystem(path)
    before = set(_files(fs, root, format))
    answered, recorded, removed = _scan(path, format, repair=True)
    finished = answered if retry_errors else recorded
    before -= set(removed)
    limits = shared_limits(options.get("rpm"), options.get("tpm"))
    out = map_completions(
        ds, _finished=ray.put(frozenset(finished)) if finished else None, _limits=limits, **options
    )
    with _watching(limits, progress):
        if format == "parquet":
            out.write_parquet(path, filename_provider=_names("parquet"))
        else:
            out.write_json(path, filename_provider=_names("json"))
    written = [f for f in _files(fs, root, format) if f not in before]
    done, failed = _count(fs, written, format)
    workers = ray.get(limits.workers.remote())
    restarts = sum(w["starts"] - 1 for w in workers.values())
    seconds = time.monotonic() - started
    failed_before = 0 if retry_errors else len(recorded - answered)
    return JobSummary(
        len(finished), done, failed, removed, len(workers), restarts, seconds, failed_before
    )


def _names(fmt: str) -> Any:
    """Ray Data's namer for this run's files: ``ritellm-<write uuid>_<task>.<format>``
    (a class made here: ray is imported only when a job runs)."""
    from ray.data.datasource import FilenameProvider

    class Names(FilenameProvider):
        def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
            return f"ritellm-{write_uuid}_{task_index:06}.{fmt}"

    return Names()


@contextmanager
def _watching(limits: Any, progress: bool | Callable[[FanoutStats], Any]) -> Iterator[None]:
    """Progress (a :class:`_Watcher`) while the block runs, if asked for. When the block
    raises, the watcher's last look at the counters may fail too (Ray going down with the
    job): that is logged, and the job's own exception is the one raised."""
    if not progress:
        yield
        return
    watcher = _Watcher(limits, progress)
    try:
        yield
    except BaseException:
        watcher.stop(failing=True)
        raise
    watcher.stop()


class _Watcher:
    """Polls the shared limiter for the workers' counters and shows them (a thread)."""

    EVERY = 0.5

    def __init__(self, limits: Any, progress: bool | Callable[[FanoutStats], Any]) -> None:
        import importlib.util
        import threading

        self._limits = limits
        self._stats = FanoutStats()
        self._line: _RowsLine | None = None
        if progress is True and importlib.util.find_spec("tqdm") is None:
            # tqdm shows counts without a total; the fan-out's own line would say "N/0".
            progress = self._line = _RowsLine()
        self._progress = _Progress(progress, self._stats)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ritellm-ray-progress")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.EVERY):
            self._poll()

    def _poll(self) -> None:
        import ray

        workers: Mapping[str, Mapping[str, Any]] = ray.get(self._limits.workers.remote())
        before = self._stats.done + self._stats.failed
        self._stats.done = sum(w["done"] for w in workers.values())
        self._stats.failed = sum(w["failed"] for w in workers.values())
        worker_totals(workers, self._stats)
        self._progress.update(max(0, self._stats.done + self._stats.failed - before))

    def stop(self, *, failing: bool = False) -> None:
        """Show the last counts (the workers report after each batch) and end the display.

        Args:
            failing: the job is raising: an error in the last look is logged, not raised,
                so that it does not hide the job's own.
        """
        self._stop.set()
        self._thread.join(5)
        try:
            self._poll()
        except Exception:
            if not failing:
                raise
            _log.warning("ritellm.ray: the last progress update failed", exc_info=True)
        finally:
            self._progress.close()
            if self._line is not None:
                self._line.close()


class _RowsLine:
    """``progress=True`` without tqdm: one stderr line redrawn in place, counting rows
    without a total (counting a Dataset's rows could run it)."""

    def __init__(self) -> None:
        self.shown = 0  # characters of the line now on the screen

    def __call__(self, s: FanoutStats) -> None:
        text = (
            f"{s.done + s.failed} rows done, {s.failed} failed, {s.retried} retried after 429, "
            f"{s.in_flight} in flight (limit {s.concurrency})"
        )
        sys.stderr.write("\r" + text + " " * (self.shown - len(text)))  # blank a longer one
        sys.stderr.flush()
        self.shown = len(text)

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
