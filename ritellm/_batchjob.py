"""``ritellm batch``: a resumable JSONL fan-out (an interrupt loses only unwritten answers).

Every finished request is written as one JSON line and flushed at once, so an interrupt
(Ctrl-C, a crash, ``kill -9``) loses at most the requests in flight (with ``--ray``, the
answers of the batches not yet delivered too: see ``_cli_ray``). A rerun reads the
output, drops a torn last line, skips what is finished and does the rest. Results of the
bundled simulator are marked ``"simulated": true``; they count as finished only for a line
that this run sends to the simulator too, so a run with a real key redoes them. A run that
redoes lines (those, or error lines with ``--retry-errors``) writes to a journal beside the
output and folds it in when it ends (``_batchfile``), so each id keeps exactly one line.
Uses the public fan-out API.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeAlias

import attrs

from ._batchfile import (
    JOURNAL_SUFFIX,
    OutputState,
    error_record,
    id_key,
    merge_journal,
    read_output,
    recover_journal,
)
from ._batchinput import Row, line_numbers, read_requests
from ._client import default_client
from ._errors import AuthenticationError, ParameterError, RiteLLMError
from ._fanout import FanoutStats, completions_as_completed
from ._types import ModelResponseStream

__all__ = [
    "BatchProgress",
    "BatchSummary",
    "Deliver",
    "Report",
    "Send",
    "redo_notice",
    "run_batch",
    "send_locally",
]

# Invalid input lines named on stderr before the run; the rest are only counted.
MAX_PROBLEMS_SHOWN = 5

Deliver: TypeAlias = Callable[[int, Any, Mapping[str, Any] | None], None]
"""Takes one result: (its index in the requests, the response, None) or (index, None, the
error record ``{"type", "message"[, "status_code", "code"]}``)."""
Report: TypeAlias = Callable[[FanoutStats], None]
"""Takes the sending step's counts (done, failed, retried, in_flight, concurrency)."""
Send: TypeAlias = Callable[[list[dict[str, Any]], Deliver, Report], Awaitable[int | None]]
"""The step that sends a batch's requests (acompletion keyword dicts), delivers each result
as it finishes and returns how many requests were re-sent after a 429 (None: as reported).
:func:`send_locally` is the default; ``ritellm batch --ray`` sends them to a Ray cluster."""


@attrs.frozen
class BatchProgress:
    """Where a running batch stands, for a progress display."""

    finished: int
    """Lines finished: by earlier runs and by this one."""
    failed: int
    """Lines this run failed (invalid lines included)."""
    total: int
    retried: int
    """Requests re-sent after a 429."""
    in_flight: int
    limit: int
    """The fan-out's concurrency limit now (it adapts to 429s)."""


@attrs.define
class BatchSummary:
    """What a batch run did."""

    total: int = 0
    skipped: int = 0
    """Lines already finished in the output by an earlier run (error lines included, unless
    they are being retried; simulated results only when this run simulates their line)."""
    failed_before: int = 0
    """Of ``skipped``, those whose earlier result is an error line."""
    done: int = 0
    failed: int = 0
    invalid: int = 0
    """Of ``failed``, the invalid lines (not sent)."""
    retried: int = 0
    """Requests re-sent after a 429."""
    recovered: int = 0
    """Results folded in from the journal of an interrupted run that redid lines."""
    repaired_torn_line: bool = False
    seconds: float = 0.0

    def line(self) -> str:
        """The one-line summary, e.g. ``25 lines: 21 done, 4 failed, 0 already finished, 0
        retried after 429, in 0.3s (70.0 req/s)``."""
        sent = self.done + self.failed - self.invalid  # invalid lines are never sent
        rate = f" ({sent / self.seconds:.1f} req/s)" if sent and self.seconds > 0 else ""
        torn = "; repaired a torn last line" if self.repaired_torn_line else ""
        lines = "1 line" if self.total == 1 else f"{self.total} lines"
        return (
            f"{lines}: {self.done} done, {self.failed} failed, {self.skipped} "
            f"already finished, {self.retried} retried after 429, in {self.seconds:.1f}s"
            f"{rate}{torn}"
        )


def redo_notice(models: Mapping[str, int]) -> str:
    """What a run says before it redoes simulated results, e.g. ``3 simulated results will be
    redone with openai/gpt-4o-mini``.

    Args:
        models: how many are redone with each model, in the order to name them.
    """
    count = sum(models.values())
    what = f"{count} simulated result{'' if count == 1 else 's'} will be redone"
    if len(models) == 1:
        return f"{what} with {next(iter(models))}"
    return f"{what}: " + ", ".join(f"{n} with {model}" for model, n in models.items())


def _report_problems(problems: list[str], notice: Callable[[str], None] | None) -> None:
    if notice is None:
        return
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        notice(problem)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        notice(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more invalid lines")


def _check_rows(
    rows: list[Row],
    state: OutputState,
    redo: set[str],
    summary: BatchSummary,
    input_path: str,
) -> tuple[list[tuple[Row, str | None]], list[str]]:
    """The lines to do, each with its problem (None: send it), and the problems to name;
    counts the lines an earlier run finished in ``summary``.

    Raises:
        AuthenticationError: no API key for a provider that lines need. That is the job's
            configuration, not those lines' fault: nothing is written, so a rerun with the
            key does them.
    """
    client = default_client()
    todo: list[tuple[Row, str | None]] = []
    problems: list[str] = []
    no_key: dict[str, list[int]] = {}  # each missing key's message: the lines that need it
    for row in rows:
        key = id_key(row.ident)
        if key not in redo and (key in state.answered or key in state.failed):
            summary.skipped += 1
            summary.failed_before += key in state.failed
            continue
        problem = row.problem
        if row.request is not None and problem is None:
            try:  # validate now: a bad line is an error line, not a fatal error
                kwargs = dict(row.request)
                client._prepare_kwargs(kwargs.pop("model"), kwargs.pop("messages", None), kwargs)
            except RiteLLMError as exc:
                if isinstance(exc, AuthenticationError) and exc.status_code is None:
                    no_key.setdefault(str(exc), []).append(row.number)
                    continue
                problem = f"line {row.number}: {exc}"
        if problem is not None:
            problems.append(problem)
        todo.append((row, problem))
    if no_key:
        raise AuthenticationError(
            "; ".join(
                f"{message} ({line_numbers(numbers)} of {input_path} "
                f"{'needs' if len(numbers) == 1 else 'need'} it)"
                for message, numbers in no_key.items()
            )
            + "; nothing was sent"
        )
    return todo, problems


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
    fsync: bool = False,
    base_url_for: Callable[[Mapping[str, Any]], str | None] | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    notice: Callable[[str], None] | None = None,
    send: Send | None = None,
) -> BatchSummary:
    """Run (or resume) a batch; see the module docstring.

    Args:
        input_path: one request per line (a JSON object: ``messages``, an optional ``id``
            and any acompletion parameters).
        output_path: the results, one per line; appended to (rewritten by a retry run).
        model: the model of lines that name none.
        concurrency: requests in flight at most (of the default ``send``).
        defaults: acompletion parameters for every line (a line's own values win).
        rpm, tpm: shared request and token rate limits (of the default ``send``).
        retry_errors: do error lines of earlier runs again; their new result replaces them.
        fsync: fsync after every result line (survives a machine crash, not just ours).
        base_url_for: the bundled simulator's base URL for a request it must answer, or None
            to leave the request as it is. Those requests' results are marked
            ``"simulated": true``; the others redo the simulated results of earlier runs.
        progress: called with where the batch stands each time a request finishes.
        notice: called with each message for the user (invalid input lines, recovery).
        send: the step that sends the requests that are not finished yet (see
            :data:`Send`); default :func:`send_locally` with ``concurrency``, ``rpm`` and
            ``tpm``. Only called when there is something to send.

    Raises:
        ParameterError: duplicate ids in the input (nothing is sent).
        OSError: the input cannot be read or the output written.
    """
    started = time.monotonic()
    rows, fatal = read_requests(input_path, model, defaults, base_url_for)
    if fatal:
        raise ParameterError("; ".join(fatal[:MAX_PROBLEMS_SHOWN]))
    summary = BatchSummary(total=len(rows))
    journal = output_path + JOURNAL_SUFFIX
    summary.recovered = recover_journal(output_path, journal)
    if summary.recovered and notice is not None:
        notice(f"recovered {summary.recovered} redone results of an interrupted run")
    state = read_output(output_path)
    summary.repaired_torn_line = state.repaired_torn_line
    resimulated: Counter[str] = Counter()  # the models that redo simulated results
    redo: set[str] = set()
    for row in rows:
        key = id_key(row.ident)
        if key in state.simulated and not row.simulated:
            redo.add(key)
            if row.request is not None:  # else its problem is reported below
                resimulated[str(row.request["model"])] += 1
        elif retry_errors and key in state.failed:
            redo.add(key)
    if resimulated and notice is not None:
        notice(redo_notice(resimulated))
    todo, problems = _check_rows(rows, state, redo, summary, input_path)
    rewrite = bool(redo)
    # Blocking writes on purpose: a ~200-byte append to a local file costs microseconds,
    # less than a hop to a worker thread, and keeps lines whole and in order.
    target = journal if rewrite else output_path
    out = open(target, "ab", buffering=0)  # noqa: SIM115, ASYNC230 - closed in finally

    def write(record: dict[str, Any]) -> None:
        # One write per line, then flush to the OS: a result that was written survives any
        # crash of this process (fsync additionally survives a machine crash).
        out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        if fsync:
            os.fsync(out.fileno())

    try:
        pending: list[tuple[Row, dict[str, Any]]] = []
        for row, problem in todo:
            if problem is not None or row.request is None:
                write(
                    {
                        "id": row.ident,
                        "line": row.number,
                        "error": {"type": "InvalidLine", "message": problem},
                    }
                )
                summary.failed += 1
                summary.invalid += 1
                continue
            pending.append((row, row.request))
        _report_problems([f"{input_path}: {p}" for p in problems], notice)
        if pending:
            if send is None:
                send = partial(send_locally, concurrency=concurrency, rpm=rpm, tpm=tpm)
            await _send_all(pending, summary, write, send, progress)
    finally:
        out.close()
        if rewrite:  # also after Ctrl-C: what was redone so far replaces its old lines
            merge_journal(output_path, journal)
        summary.seconds = time.monotonic() - started
    return summary


async def _send_all(
    pending: list[tuple[Row, dict[str, Any]]],
    summary: BatchSummary,
    write: Callable[[dict[str, Any]], None],
    send: Send,
    progress: Callable[[BatchProgress], None] | None,
) -> None:
    before, invalid = summary.skipped + summary.failed, summary.failed

    def report(stats: FanoutStats) -> None:
        summary.retried = stats.retried
        if progress is not None:
            progress(
                BatchProgress(
                    finished=before + stats.done + stats.failed,
                    failed=invalid + stats.failed,
                    total=summary.total,
                    retried=stats.retried,
                    in_flight=stats.in_flight,
                    limit=stats.concurrency,
                )
            )

    def deliver(index: int, response: Any, error: Mapping[str, Any] | None) -> None:
        row = pending[index][0]
        if error is not None:
            write({**row.tag(), "error": error})
            summary.failed += 1
        else:
            write({**row.tag(), "response": response})
            summary.done += 1

    retried = await send([request for _, request in pending], deliver, report)
    if retried is not None:
        summary.retried = retried


async def send_locally(
    requests: list[dict[str, Any]],
    deliver: Deliver,
    report: Report,
    *,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
) -> int | None:
    """The default :data:`Send`: ritellm's fan-out in this process.

    Args:
        requests: acompletion keyword dicts.
        deliver: takes each result as it finishes.
        report: takes the fan-out's counts each time they change.
        concurrency: requests in flight at most.
        rpm, tpm: request and token rate limits.
    """
    async with completions_as_completed(
        requests,
        max_concurrency=concurrency,
        return_exceptions=True,
        rpm=rpm,
        tpm=tpm,
        progress=report,
    ) as results:
        async for index, item in results:
            if isinstance(item, ModelResponseStream):
                continue  # streamed lines: only the assembled response is kept
            if isinstance(item, BaseException):
                deliver(index, None, error_record(item))
            else:
                deliver(index, item, None)
        return results.stats.retried if results.stats is not None else None
