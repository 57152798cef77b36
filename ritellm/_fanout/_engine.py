"""The fan-out engine: validates every request up front, runs them under admission control,
re-sends the ones answered 429, reports progress and hands each outcome on.

Imports anyio and the client layer, never httpcore, trio or asyncio.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .._assemble import stream_chunk_builder
from .._client import AsyncClient
from .._errors import ParameterError, ParameterTypeError, RateLimitError, RiteLLMError
from .._prepared import Call
from .._stream import AsyncCompletionStream
from .._types import ModelResponseStream
from ._admission import Admission, Ticket

if TYPE_CHECKING:
    from .._observe import Report

__all__ = ["Engine", "FanoutStats", "check_limits", "prepare_all", "unwrap"]

# A request that keeps getting 429s is re-sent this many times by the fan-out (on top of
# its own num_retries for other errors): enough to ride out any sane rate limit, bounded so
# that a permanently-throttled key still ends.
MAX_RATE_LIMIT_RETRIES = 50


@attrs.define
class FanoutStats:
    """Live counters of a fan-out, passed to a ``progress`` callback.

    Attributes:
        total: requests in the fan-out.
        done: requests that succeeded.
        failed: requests that ended in an error.
        retried: requests re-sent by the fan-out after a 429.
        in_flight: requests being sent or answered right now.
        concurrency: the current adaptive concurrency limit.
        started_at: ``time.monotonic()`` when the fan-out started.
        pace: requests per second admitted at most right now (rpm, the provider's stated
            limit or the rate learned from its 429s); None while nothing paces.
    """

    total: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    in_flight: int = 0
    concurrency: int = 0
    started_at: float = attrs.field(factory=time.monotonic)
    pace: float | None = None


def estimate_tokens(call: Call) -> float:
    """A cheap upper-ish estimate of a request's tokens for token limits: ~4 characters per
    prompt token plus the completion budget; corrected from ``usage`` afterwards."""
    params = call.payload.params
    budget = params.get("max_tokens") or params.get("max_completion_tokens") or 256
    try:
        prompt = len(json.dumps(call.payload.messages)) / 4
    except (TypeError, ValueError):
        prompt = 256
    return prompt + float(budget)


class _Progress:
    """Reports counts: to a user callback, to tqdm when asked for and installed, else to a
    single self-updating stderr line."""

    def __init__(self, progress: bool | Callable[[FanoutStats], Any], stats: FanoutStats) -> None:
        self.stats = stats
        self.callback: Callable[[FanoutStats], Any] | None = None
        self.bar: Any = None
        self.last = 0.0
        self.shown = 0  # characters of the stderr line now on the screen
        if callable(progress):
            self.callback = progress
        elif progress:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped]
            except ImportError:
                self.bar = None
                self.callback = self._line
            else:
                self.bar = tqdm(total=stats.total, unit="req", dynamic_ncols=True)

    def _line(self, s: FanoutStats) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and s.done + s.failed < s.total:
            return
        self.last = now
        text = (
            f"{s.done + s.failed}/{s.total} done, {s.failed} failed, {s.retried} retried, "
            f"{s.in_flight} in flight (limit {s.concurrency})"
        )
        # Blank what a longer previous text left behind (else "(limit 16))").
        sys.stderr.write("\r" + text + " " * (self.shown - len(text)))
        self.shown = len(text)
        sys.stderr.flush()

    def update(self, finished: int = 0) -> None:
        if self.bar is not None:
            if finished:
                self.bar.update(finished)
            s = self.stats
            self.bar.set_postfix(failed=s.failed, retried=s.retried, limit=s.concurrency)
        elif self.callback is not None:
            self.callback(self.stats)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.callback == self._line:
            self._line(self.stats)
            sys.stderr.write("\n")


def prepare_all(client: AsyncClient, requests: Iterable[Mapping[str, Any]]) -> list[Call]:
    """Validate every request before any I/O (a bad one raises, naming its index)."""
    if isinstance(requests, Mapping | str | bytes):
        raise ParameterTypeError("requests must be an iterable of acompletion keyword dicts")
    calls: list[Call] = []
    for index, request in enumerate(requests):
        if not isinstance(request, Mapping):
            raise ParameterTypeError(
                f"requests[{index}] must be a dict of acompletion arguments, "
                f"not {type(request).__name__}"
            )
        kwargs = dict(request)
        try:
            model = kwargs.pop("model")
            messages = kwargs.pop("messages")
        except KeyError as exc:
            raise ParameterError(f"requests[{index}] has no {exc.args[0]!r}") from None
        try:
            calls.append(client._prepare_kwargs(model, messages, kwargs))
        except RiteLLMError as exc:
            raise type(exc)(f"requests[{index}]: {exc}") from exc
    return calls


def check_limits(max_concurrency: object, rpm: object, tpm: object) -> None:
    """Validate the fan-out's own arguments (ParameterError / ParameterTypeError)."""
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise ParameterTypeError("max_concurrency must be an integer")
    if max_concurrency < 1:
        raise ParameterError(f"max_concurrency must be >= 1, got {max_concurrency}")
    for name, value in (("rpm", rpm), ("tpm", tpm)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterTypeError(f"{name} must be a number per minute or None")
        if not value > 0:
            raise ParameterError(f"{name} must be > 0, got {value!r}")


def unwrap(exc: BaseException) -> BaseException:
    """A task group wraps a single failure in an ExceptionGroup; callers want the error."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class Engine:
    """Runs prepared calls with admission control and hands each outcome to ``deliver``.

    Only ritellm's errors become outcomes (with ``return_exceptions``) or end the fan-out
    as its result; anything else is a bug and propagates as itself.
    """

    def __init__(
        self,
        client: AsyncClient,
        calls: list[Call],
        *,
        max_concurrency: int,
        return_exceptions: bool,
        rpm: float | None,
        tpm: float | None,
        progress: bool | Callable[[FanoutStats], Any],
        deliver: Callable[[int, Any], Any],
        chunks: bool = False,
        admission: Admission | None = None,
    ) -> None:
        check_limits(max_concurrency, rpm, tpm)
        self.client = client
        self.calls = calls
        # A caller may share one admission between fan-outs (ritellm.ray: every batch a
        # worker runs, paced by the cluster's limiter); then rpm/tpm are its business.
        self.admission = admission or Admission(max_concurrency, rpm, tpm)
        self.return_exceptions = return_exceptions
        self.deliver = deliver
        self.chunks = chunks
        self.stats = FanoutStats(total=len(calls), concurrency=max_concurrency)
        self.progress = _Progress(progress, self.stats)
        self.first_error: RiteLLMError | None = None
        self.holding: set[int] = set()  # requests holding a concurrency slot

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self.group = tg
                limiter = self.admission.limiter
                for index, call in enumerate(self.calls):
                    # The slot is taken before the task exists: at most `limit` tasks live,
                    # so a slow consumer (as_completed) throttles the whole fan-out.
                    await limiter.acquire_on_behalf_of(call)
                    self.holding.add(index)
                    tg.start_soon(self._one, index, call)
        except BaseExceptionGroup as group:
            raise unwrap(group) from None
        finally:
            self.progress.close()
        if self.first_error is not None:
            raise self.first_error

    async def _one(self, index: int, call: Call) -> None:
        try:
            try:
                outcome = await self._complete(index, call)
            except RiteLLMError as exc:
                self.stats.failed += 1
                self.progress.update(1)
                if not self.return_exceptions:
                    if self.first_error is None:
                        self.first_error = exc
                    self.group.cancel_scope.cancel()
                    return
                await self.deliver(index, exc)
                return
            self.stats.done += 1
            self.progress.update(1)
            await self.deliver(index, outcome)
        finally:
            if index in self.holding:
                self.holding.discard(index)
                self.admission.limiter.release_on_behalf_of(call)

    async def _complete(self, index: int, call: Call) -> Any:
        """Admission, the call itself, and re-sending it while it is answered 429: one
        report (callbacks, span) for the request, whatever it took."""
        report = self.client._observe(call)
        try:
            return await self._sent(index, call, report)
        except BaseException as exc:  # the last 429, or stopped while waiting for a slot
            if report is not None:
                report.failed(exc)  # once: a failure the call reported itself stays as is
            raise

    async def _sent(self, index: int, call: Call, report: Report | None) -> Any:
        admission, stats = self.admission, self.stats
        estimate = 0.0
        rate_limited = 0
        while True:
            if estimate == 0.0 and admission.wants_estimates:
                estimate = estimate_tokens(call)
            ticket = await admission.admit(estimate)
            stats.in_flight += 1
            try:
                outcome = await self._attempt(index, call, ticket, report)
            except RateLimitError as exc:
                # A mocked 429 (mock_response=) is not a provider's refusal: nothing to re-send.
                if rate_limited >= MAX_RATE_LIMIT_RETRIES or call.mock is not None:
                    raise
                if report is not None:
                    report.retry(call, exc, exc.retry_after)
                rate_limited += 1
                stats.retried += 1
                admission.rate_limited(ticket, exc.retry_after)
                self._report()
                self.progress.update()
                # Give the slot back and queue again, so a lowered limit takes effect.
                self.holding.discard(index)
                admission.limiter.release_on_behalf_of(call)
                await admission.limiter.acquire_on_behalf_of(call)
                self.holding.add(index)
                continue
            finally:
                stats.in_flight -= 1
            admission.succeeded(ticket)
            self._report()
            if estimate and admission.counts_tokens:
                usage = outcome.get("usage") if isinstance(outcome, Mapping) else None
                if usage and isinstance(usage.get("total_tokens"), int):
                    admission.used_tokens(estimate, usage["total_tokens"])
            return outcome

    def _report(self) -> None:
        self.stats.concurrency = self.admission.limit
        self.stats.pace = self.admission.pace

    async def _attempt(self, index: int, call: Call, ticket: Ticket, report: Report | None) -> Any:
        observer = self.admission.observer(ticket)
        result = await self.client._run(call, observer=observer, report=report)
        if not isinstance(result, AsyncCompletionStream):
            return result
        chunks: list[ModelResponseStream] = []
        async with result:
            async for chunk in result:
                chunks.append(chunk)
                if self.chunks:
                    await self.deliver(index, chunk)
        return stream_chunk_builder(chunks)
