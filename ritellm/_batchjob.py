"""``ritellm batch``: a resumable JSONL fan-out that never loses a paid-for result.

Every finished request is appended to the output as one JSON line and flushed at once, so
an interrupt (Ctrl-C, a crash, ``kill -9``) loses at most the requests in flight. A rerun
reads the output, drops a torn last line, skips what is finished and does the rest.
Uses the public fan-out API; file handling only.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

import attrs

from ._client import default_client
from ._errors import APIError, RiteLLMError
from ._fanout import FanoutStats, completions_as_completed
from ._types import ModelResponseStream

__all__ = ["BatchSummary", "load_finished", "run_batch"]


@attrs.define
class BatchSummary:
    """What a batch run did."""

    total: int = 0
    skipped: int = 0
    """Lines already finished in the output by an earlier run."""
    done: int = 0
    failed: int = 0
    retried: int = 0
    repaired_torn_line: bool = False
    seconds: float = 0.0

    def line(self) -> str:
        rate = (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0
        torn = "; repaired a torn last line" if self.repaired_torn_line else ""
        return (
            f"{self.total} lines: {self.done} done, {self.failed} failed, {self.skipped} "
            f"already finished, {self.retried} retried after 429, in {self.seconds:.1f}s "
            f"({rate:.1f} req/s){torn}"
        )


def load_finished(path: str, *, retry_errors: bool) -> tuple[set[Any], bool]:
    """Ids already finished in an output file, repairing a torn last line in place.

    A line is finished when it holds a ``response`` (or an ``error``, unless
    ``retry_errors``). A last line without its newline was being written when the previous
    run died: it is cut off and its request is done again.
    """
    if not os.path.exists(path):
        return set(), False
    with open(path, "rb") as f:
        data = f.read()
    repaired = False
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(keep)
        data = data[:keep]
        repaired = True
    finished: set[Any] = set()
    for raw in data.splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # not ours, or damaged: its request is simply done again
        if not isinstance(record, dict) or "id" not in record:
            continue
        if "response" in record or ("error" in record and not retry_errors):
            finished.add(_key(record["id"]))
    return finished, repaired


def _key(value: Any) -> Any:
    # Ids compare by their JSON form, so 3 and "3" stay distinct and lists are hashable.
    return json.dumps(value, sort_keys=True)


def _error_record(exc: BaseException) -> dict[str, Any]:
    record: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIError):
        record["status_code"] = exc.status_code
        record["code"] = exc.code
    return record


def _read_requests(
    path: str, model: str | None, defaults: Mapping[str, Any]
) -> tuple[list[tuple[Any, int, dict[str, Any] | None, str | None]], list[str]]:
    """(id, line number, request or None, problem) per non-blank input line."""
    rows: list[tuple[Any, int, dict[str, Any] | None, str | None]] = []
    problems: list[str] = []
    seen: set[Any] = set()
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                rows.append((number, number, None, f"line {number} is not JSON: {exc}"))
                continue
            if not isinstance(obj, dict):
                rows.append((number, number, None, f"line {number} is not a JSON object"))
                continue
            ident = obj.pop("id", number)
            if _key(ident) in seen:
                problems.append(f"duplicate id {ident!r} on line {number}")
            seen.add(_key(ident))
            request = {**defaults, **obj}
            if model and "model" not in obj:
                request["model"] = model
            if "model" not in request:
                rows.append((ident, number, None, f"line {number} has no model (use --model)"))
                continue
            rows.append((ident, number, request, None))
    return rows, problems


async def run_batch(
    input_path: str,
    output_path: str,
    *,
    model: str | None,
    concurrency: int,
    defaults: Mapping[str, Any],
    rpm: float | None = None,
    tpm: float | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    fsync: bool = False,
    err: IO[str] = sys.stderr,
) -> BatchSummary:
    """Run (or resume) a batch; see the module docstring.

    Raises:
        ParameterError: duplicate ids in the input (nothing is sent).
    """
    from ._errors import ParameterError

    started = time.monotonic()
    rows, problems = _read_requests(input_path, model, defaults)
    if problems:
        raise ParameterError("; ".join(problems[:5]))
    finished, repaired = load_finished(output_path, retry_errors=retry_errors)
    summary = BatchSummary(total=len(rows), repaired_torn_line=repaired)
    client = default_client()
    # Blocking writes on purpose: a ~200-byte append to a local file costs microseconds,
    # less than a hop to a worker thread, and keeps lines whole and in order.
    out = open(output_path, "ab", buffering=0)  # noqa: SIM115, ASYNC230 - closed in finally

    def write(record: dict[str, Any]) -> None:
        # One write per line, then flush to the OS: a result that was written survives any
        # crash of this process (fsync additionally survives a machine crash).
        out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        if fsync:
            os.fsync(out.fileno())

    try:
        pending: list[tuple[Any, int, dict[str, Any]]] = []
        for ident, number, request, problem in rows:
            if _key(ident) in finished:
                summary.skipped += 1
                continue
            if request is not None and problem is None:
                try:  # validate now: a bad line is an error line, not a fatal error
                    kwargs = dict(request)
                    client._prepare_kwargs(
                        kwargs.pop("model"), kwargs.pop("messages", None), kwargs
                    )
                except RiteLLMError as exc:
                    problem = f"line {number}: {exc}"
            if problem is not None or request is None:
                write(
                    {
                        "id": ident,
                        "line": number,
                        "error": {"type": "InvalidLine", "message": problem},
                    }
                )
                summary.failed += 1
                continue
            pending.append((ident, number, request))
        if pending:
            stats_box: list[FanoutStats] = []
            async with completions_as_completed(
                [request for _, _, request in pending],
                max_concurrency=concurrency,
                return_exceptions=True,
                rpm=rpm,
                tpm=tpm,
                progress=progress,
            ) as results:
                if results.stats is not None:
                    stats_box.append(results.stats)
                async for index, item in results:
                    if isinstance(item, ModelResponseStream):
                        continue  # streamed lines: only the assembled response is kept
                    ident, number, _ = pending[index]
                    if isinstance(item, BaseException):
                        write({"id": ident, "line": number, "error": _error_record(item)})
                        summary.failed += 1
                    else:
                        write({"id": ident, "line": number, "response": item})
                        summary.done += 1
            summary.retried = stats_box[0].retried if stats_box else 0
    finally:
        out.close()
        summary.seconds = time.monotonic() - started
    return summary
