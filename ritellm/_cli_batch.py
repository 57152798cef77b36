"""``ritellm batch``: its options, its progress line on stderr and what it says at the end.

Argument handling and printing only; the file work is ``_batchjob``'s, ``_batchinput``'s and
``_batchfile``'s.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from ._batchinput import simulated_lines
from ._batchjob import BatchProgress, Send, run_batch
from ._cli_sim import DEFAULT_MODEL, simulator_base, simulator_reason, start_simulator
from ._errors import RiteLLMError

__all__ = [
    "CommandError",
    "ProgressLine",
    "add_batch_parser",
    "check_batch_args",
    "failure_hint",
    "positive_float",
    "positive_int",
    "progress_text",
    "run_batch_command",
    "simulator_share",
]

# A terminal gets its progress line redrawn at most this often (seconds); anything else (a
# log file, CI) gets a plain line this rarely, so a long run stays readable there.
REDRAW_INTERVAL = 0.1
LOG_INTERVAL = 30.0


class CommandError(Exception):
    """A mistake in the command line found before anything runs; printed as ``error: ...``."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)  # argparse turns the ValueError into "invalid positive_int value"
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_batch_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand to ``commands`` (argparse's subparsers object); returns
    its parser."""
    batch: argparse.ArgumentParser = commands.add_parser(
        "batch",
        help="run a JSONL file of requests concurrently, resumably",
        description=(
            "Read one request per line of INPUT (a JSON object with 'messages', an optional "
            "'id' and any acompletion parameters, 'model' included), run them concurrently "
            "and append one result per line to OUTPUT, tagged with the input's id (or its "
            "line number). Lines without a model use --model; like chat, OpenAI lines with no "
            "key or base URL configured are answered by the bundled simulator, which is said "
            'on stderr and marked "simulated": true in OUTPUT; a run that is not on the '
            "simulator redoes those lines and replaces them. Each result is flushed as it "
            "finishes: after an interrupt (Ctrl-C, a crash, kill -9) rerun the same command "
            "and it skips finished lines, redoes a torn last line and loses nothing. A failed "
            "request is written as an error line and does not stop the batch; --retry-errors "
            "redoes those lines and replaces them. With --ray the requests are answered on a "
            "Ray cluster, with the same output and rules. Exit status: 0 when every line has "
            "a response, 1 when any failed."
        ),
    )
    batch.add_argument("input", metavar="INPUT", help="requests, one JSON object per line")
    batch.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        required=True,
        help="results, one per line (appended to)",
    )
    batch.add_argument(
        "--model", "-m", help=f"model for lines that name none (default {DEFAULT_MODEL})"
    )
    batch.add_argument(
        "--concurrency",
        "-c",
        type=positive_int,
        default=16,
        metavar="N",
        help="requests in flight at most (default 16)",
    )
    batch.add_argument("--base-url", help="API base URL, e.g. http://127.0.0.1:8080/v1")
    batch.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    batch.add_argument(
        "--rpm", type=positive_float, metavar="N", help="requests per minute at most"
    )
    batch.add_argument("--tpm", type=positive_float, metavar="N", help="tokens per minute at most")
    batch.add_argument(
        "--timeout", type=positive_float, metavar="SECONDS", help="seconds per request"
    )
    batch.add_argument(
        "--retries", type=non_negative_int, metavar="N", help="retries per request (default 2)"
    )
    batch.add_argument(
        "--retry-errors",
        action="store_true",
        help="redo the lines recorded as errors; each new result replaces its error line",
    )
    batch.add_argument("--fsync", action="store_true", help="fsync after every line")
    batch.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress on stderr (default: a line redrawn on a terminal, else one every 30 s)",
    )
    batch.add_argument(
        "--simulator", action="store_true", help="always answer from the bundled simulator"
    )
    batch.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="default asyncio"
    )
    return batch


def check_batch_args(args: argparse.Namespace) -> None:
    """Refuse what would fail or do harm before anything starts.

    Raises:
        CommandError: the input cannot be read, the output's directory is missing, or the
            output is the input.
    """
    try:
        with open(args.input, "rb"):
            pass
    except OSError as exc:
        raise CommandError(f"cannot read {args.input}: {exc.strerror}") from None
    if os.path.isdir(args.output):
        raise CommandError(f"{args.output} is a directory: -o takes a file")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write {args.output}: there is no directory {folder}")
    if os.path.exists(args.output) and os.path.samefile(args.input, args.output):
        raise CommandError(f"{args.output} is the input file: give -o another file")


def progress_text(p: BatchProgress) -> str:
    """The progress line, e.g. ``12/40 done, 1 failed, 0 retried after 429, 4 in flight
    (limit 16)``.

    Args:
        p: where the batch stands.
    """
    return (
        f"{p.finished}/{p.total} done, {p.failed} failed, {p.retried} retried after 429, "
        f"{p.in_flight} in flight (limit {p.limit})"
    )


class ProgressLine:
    """The batch's progress on stderr. A terminal gets one line redrawn in place: ``\\r``,
    the text cut to the width (a wrapped line cannot be redrawn), padded with spaces over
    whatever a longer previous text left, and a newline at the end. Anything else gets a
    plain line every ``LOG_INTERVAL`` seconds and nothing at the end (the summary follows).

    Args:
        stream: where the line goes.
        tty: whether ``stream`` is a terminal.
        columns: the terminal's width.
        clock: seconds, monotonic.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool,
        columns: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.columns = max(columns, 20)
        self.clock = clock
        self.interval = REDRAW_INTERVAL if tty else LOG_INTERVAL
        self.next_at = clock() if tty else clock() + LOG_INTERVAL
        self.text = ""
        self.shown = 0  # characters of the line now on the screen

    @classmethod
    def on(cls, stream: TextIO) -> ProgressLine:
        """A progress line for ``stream``, asking it whether it is a terminal and how wide."""
        tty, columns = False, 80
        try:
            tty = stream.isatty()
            if tty:
                columns = os.get_terminal_size(stream.fileno()).columns or 80  # unsized: 0
        except (AttributeError, OSError, ValueError):  # no fileno: a stand-in stream
            pass
        return cls(stream, tty=tty, columns=columns)

    def __call__(self, progress: BatchProgress) -> None:
        """Take the latest counts; draw them if it is time (see the class docstring).

        Args:
            progress: where the batch stands.
        """
        self.text = progress_text(progress)
        now = self.clock()
        if now >= self.next_at:
            self.next_at = now + self.interval
            self._draw()

    def _draw(self) -> None:
        if self.tty:
            text = self.text[: self.columns - 1]  # the last column would wrap on some terminals
            self.stream.write("\r" + text + " " * (self.shown - len(text)))
            self.shown = len(text)
        else:
            self.stream.write(self.text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """On a terminal: draw the final counts and end the line."""
        if self.tty and self.text:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def failure_hint(failed: int, failed_before: int) -> str | None:
    """What to say about failed lines at the end of a run, or None when none failed.

    Args:
        failed: lines that failed in this run.
        failed_before: error lines from earlier runs that this run left alone.
    """
    count = failed + failed_before
    if not count:
        return None
    lines = "1 line" if count == 1 else f"{count} lines"
    if not failed:
        what = f"{lines} failed earlier"
    elif failed_before:
        what = f"{lines} failed ({failed_before} of them earlier)"
    else:
        what = f"{lines} failed"
    return f"{what}; rerun with --retry-errors to retry {'it' if count == 1 else 'them'}"


def simulator_share(simulated: Mapping[str, int], total: int) -> str:
    """What a run says when the simulator answers only some lines, e.g. ``the simulator
    answers 3 of 5 lines (openai/gpt-4o-mini); the others go to their providers``.

    Args:
        simulated: how many lines it answers, by model.
        total: the input's requests.
    """
    count = sum(simulated.values())
    models = ", ".join(simulated)
    return (
        f"the simulator answers {count} of {total} lines ({models}); the others go to "
        "their providers"
    )


def _defaults(args: argparse.Namespace) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name, value in (
        ("base_url", args.base_url),
        ("api_key", args.api_key),
        ("timeout", args.timeout),
        ("num_retries", args.retries),
    ):
        if value is not None:
            defaults[name] = value
    return defaults


async def run_batch_command(
    args: argparse.Namespace, err: TextIO, *, send: Send | None = None
) -> int:
    """``ritellm batch``: returns the exit status (1 when any line failed).

    Args:
        args: the parsed command line.
        err: stderr.
        send: the step that sends the requests (``--ray``'s); default: this process's
            fan-out.
    """
    model = args.model or DEFAULT_MODEL
    environ = os.environ
    defaults = _defaults(args)

    def reason_for(request: Mapping[str, Any]) -> str | None:
        # chat's rule, per line: a line with its own key, base URL or another provider's
        # model goes where it says (unless --simulator).
        return simulator_reason(
            str(request["model"]),
            requested=args.simulator,
            api_key=request.get("api_key"),
            base_url=request.get("base_url") or request.get("api_base"),
            environ=environ,
        )

    def notice(message: str) -> None:
        err.write(f"ritellm batch: {message}\n")
        err.flush()

    # Every line is routed before the simulator starts: it starts, and says so, only when
    # some line goes to it, whatever the default model is.
    total, simulated = simulated_lines(
        args.input, model, defaults, lambda r: reason_for(r) is not None
    )
    first = next(iter(simulated), None)
    reason = None
    if first is not None:  # its reason does not depend on the line: it has no key or URL
        reason = reason_for({"model": first, "api_key": args.api_key})

    async with start_simulator(reason, first or model, err) as sim:
        route: Callable[[Mapping[str, Any]], str | None] | None = None
        if sim is not None:
            if simulated.total() < total:
                notice(simulator_share(simulated, total))

            def route(request: Mapping[str, Any]) -> str | None:
                if reason_for(request) is None:
                    return None
                try:
                    return simulator_base(sim, str(request["model"]))
                except RiteLLMError:  # pragma: no cover - a bad model string never qualifies
                    return None

        progress = None if args.no_progress else ProgressLine.on(err)
        try:
            summary = await run_batch(
                args.input,
                args.output,
                model=model,
                concurrency=args.concurrency,
                defaults=defaults,
                rpm=args.rpm,
                tpm=args.tpm,
                retry_errors=args.retry_errors,
                fsync=args.fsync,
                base_url_for=route,
                progress=progress,
                notice=notice,
                send=send,
            )
        finally:
            if progress is not None:
                progress.close()
    notice(summary.line())
    hint = failure_hint(summary.failed, summary.failed_before)
    if hint is not None:
        notice(hint)
        return 1
    return 0
