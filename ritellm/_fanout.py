"""Fan-out: many completions at once with bounded concurrency, shared rate limits, adaptive
back-off under 429s, results in order or as they finish, and first-success races.

Built on anyio task groups, a CapacityLimiter and memory object streams; imports the client
layer, never httpcore, trio or asyncio.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import attrs

from ._assemble import stream_chunk_builder
from ._call import Call
from ._client import AsyncClient, default_client
from ._errors import ParameterError, ParameterTypeError, RateLimitError, RiteLLMError
from ._stream import AsyncCompletionStream
from ._types import ModelResponse, ModelResponseStream

__all__ = [
    "CompletionResults",
    "FanoutStats",
    "completions_as_completed",
    "gather_completions",
    "race_completions",
]

# A request that keeps getting 429s is retried this many times by the fan-out (on top of
# its own num_retries for other errors): enough to ride out any sane rate limit, bounded so
# that a permanently-throttled key still ends.
MAX_RATE_LIMIT_RETRIES = 50


@attrs.define
class FanoutStats:
    """Live counters of a fan-out, passed to a ``progress`` callback."""

    total: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    """Requests re-sent by the fan-out after a 429."""
    in_flight: int = 0
    concurrency: int = 0
    """The current adaptive concurrency limit."""
    started_at: float = attrs.field(factory=time.monotonic)


class _Bucket:
    """A token bucket refilled continuously at ``per_second``."""

    def __init__(self, per_second: float, burst: float | None = None) -> None:
        self.rate = per_second
        # Default burst: one second's worth (at least 1), i.e. smooth pacing rather than a
        # minute's quota at once, which providers often reject as a burst.
        self.capacity = max(1.0, per_second if burst is None else burst)
        self.tokens = self.capacity
        self.stamp = anyio.current_time()

    def _refill(self) -> None:
        now = anyio.current_time()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float) -> None:
        # A request larger than the bucket waits until the bucket is full, then goes (and
        # drives the balance negative), so a huge prompt can never wait forever.
        amount = min(amount, self.capacity)
        while True:
            self._refill()
            if self.tokens >= amount:
                self.tokens -= amount
                return
            await anyio.sleep((amount - self.tokens) / self.rate)

    def adjust(self, delta: float) -> None:
        """Correct an estimate after the fact (positive: more tokens were used)."""
        self._refill()
        self.tokens -= delta


class _Controller:
    """Admission for a fan-out, adapting to 429s.

    - Optional ``rpm``/``tpm`` token buckets set by the caller.
    - A pause for everyone after a 429, as long as its Retry-After asks.
    - An adaptive concurrency limit (AIMD): halved on a 429, +1 after a full window of
      successes.
    - A learned request rate: a 429 means "slower than this", so new requests are paced at
      the success rate just observed; every quiet second raises the pace by 5% to probe
      for more. Concurrency alone can't do this: against a fast server, even two requests
      in flight exceed a low per-second limit.
    """

    WINDOW = 1.0  # seconds of successes used to measure the rate the server allowed
    PROBE = 1.05  # pace increase per quiet window

    def __init__(self, max_concurrency: int, rpm: float | None, tpm: float | None) -> None:
        self.max = max_concurrency
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self.resume_at = 0.0
        self.last_cut = -math.inf
        self.successes = 0
        self.recent: deque[float] = deque()
        self.pace: _Bucket | None = None
        self.last_429 = -math.inf
        self.rpm = _Bucket(rpm / 60.0) if rpm else None
        self.tpm = _Bucket(tpm / 60.0) if tpm else None

    @property
    def limit(self) -> int:
        return int(self.limiter.total_tokens)

    async def admit(self, estimate: float) -> None:
        """Wait for any 429 pause to pass, then for the rate buckets (the concurrency slot
        is taken separately, before the task starts)."""
        while True:
            wait = self.resume_at - anyio.current_time()
            if wait <= 0:
                break
            await anyio.sleep(wait)
        if self.pace is not None:
            await self.pace.take(1)
        if self.rpm is not None:
            await self.rpm.take(1)
        if self.tpm is not None:
            await self.tpm.take(estimate)

    def _trim(self, now: float) -> None:
        recent = self.recent
        while recent and recent[0] < now - self.WINDOW:
            recent.popleft()

    def rate_limited(self, retry_after: float | None) -> None:
        now = anyio.current_time()
        pause = retry_after if retry_after and retry_after > 0 else 1.0
        self.resume_at = max(self.resume_at, now + min(pause, 120.0))
        # Multiplicative decrease, at most once per pause: the 429s of requests that were
        # already in flight describe the same overload.
        if now >= self.last_cut + pause:
            self.last_cut = now
            self.limiter.total_tokens = max(1, self.limit // 2)
            self.successes = 0
        self._trim(now)
        allowed = len(self.recent) / self.WINDOW
        if allowed >= 1.0 and (self.pace is None or allowed < self.pace.rate):
            self.pace = _Bucket(allowed, burst=1.0)
        self.last_429 = now

    def succeeded(self) -> None:
        now = anyio.current_time()
        self.recent.append(now)
        self._trim(now)
        # Additive increase: +1 after a full window of successes at the current limit.
        self.successes += 1
        if self.successes >= self.limit and self.limit < self.max:
            self.successes = 0
            self.limiter.total_tokens = self.limit + 1
        pace = self.pace
        if pace is not None and now - self.last_429 >= self.WINDOW:
            self.last_429 = now  # one probe step per quiet window
            pace.rate *= self.PROBE


def _headers_ignored(status: int, headers: Mapping[str, str]) -> None:
    """The fan-out's view of each response (its 429s come back to the limiter)."""


def _estimate_tokens(call: Call) -> float:
    """A cheap upper-ish estimate of a request's tokens for ``tpm``: ~4 characters per
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
        sys.stderr.write(
            f"\r{s.done + s.failed}/{s.total} done, {s.failed} failed, {s.retried} retried, "
            f"{s.in_flight} in flight (limit {s.concurrency})"
        )
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


def _prepare_all(client: AsyncClient, requests: Iterable[Mapping[str, Any]]) -> list[Call]:
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


class _Engine:
    """Runs prepared calls with admission control and hands each outcome to ``deliver``."""

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
    ) -> None:
        _check_limits(max_concurrency, rpm, tpm)
        self.client = client
        self.calls = calls
        self.controller = _Controller(max_concurrency, rpm, tpm)
        self.return_exceptions = return_exceptions
        self.deliver = deliver
        self.chunks = chunks
        self.stats = FanoutStats(total=len(calls), concurrency=max_concurrency)
        self.progress = _Progress(progress, self.stats)
        self.first_error: BaseException | None = None

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self.group = tg
                for index, call in enumerate(self.calls):
                    # The slot is taken before the task exists: at most `limit` tasks live,
                    # so a slow consumer (as_completed) throttles the whole fan-out.
                    await self.controller.limiter.acquire_on_behalf_of(call)
                    tg.start_soon(self._one, index, call)
        finally:
            self.progress.close()
        if self.first_error is not None:
            raise self.first_error

    async def _one(self, index: int, call: Call) -> None:
        controller, stats = self.controller, self.stats
        estimate = _estimate_tokens(call) if controller.tpm is not None else 0.0
        rate_limited = 0
        held = True  # the spawner took this task's slot before starting it
        try:
            while True:
                await controller.admit(estimate)
                stats.in_flight += 1
                try:
                    outcome = await self._attempt(index, call)
                except RateLimitError as exc:
                    if rate_limited >= MAX_RATE_LIMIT_RETRIES:
                        raise
                    rate_limited += 1
                    stats.retried += 1
                    controller.rate_limited(exc.retry_after)
                    stats.concurrency = controller.limit
                    self.progress.update()
                    # Give the slot back and queue again, so a lowered limit takes effect.
                    held = False
                    controller.limiter.release_on_behalf_of(call)
                    await controller.limiter.acquire_on_behalf_of(call)
                    held = True
                    continue
                finally:
                    stats.in_flight -= 1
                break
            controller.succeeded()
            stats.concurrency = controller.limit
            if controller.tpm is not None:
                usage = outcome.get("usage") if isinstance(outcome, Mapping) else None
                if usage and isinstance(usage.get("total_tokens"), int):
                    controller.tpm.adjust(usage["total_tokens"] - estimate)
            stats.done += 1
            self.progress.update(1)
            await self.deliver(index, outcome)
        except Exception as exc:  # only errors; cancellation is never caught here
            stats.failed += 1
            self.progress.update(1)
            if not self.return_exceptions:
                if self.first_error is None:
                    self.first_error = exc
                self.group.cancel_scope.cancel()
                return
            await self.deliver(index, exc)
        finally:
            if held:
                controller.limiter.release_on_behalf_of(call)

    async def _attempt(self, index: int, call: Call) -> Any:
        result = await self.client._run(call, observer=_headers_ignored)
        if not isinstance(result, AsyncCompletionStream):
            return result
        chunks: list[ModelResponseStream] = []
        async with result:
            async for chunk in result:
                chunks.append(chunk)
                if self.chunks:
                    await self.deliver(index, chunk)
        return stream_chunk_builder(chunks)


def _check_limits(max_concurrency: object, rpm: object, tpm: object) -> None:
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


async def gather_completions(
    requests: Iterable[Mapping[str, Any]],
    *,
    max_concurrency: int = 16,
    return_exceptions: bool = False,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
) -> list[Any]:
    """Run many completions concurrently; results come back in input order.

    Args:
        requests: ``acompletion`` keyword dicts (``model``, ``messages``, any parameters).
            All are validated before the first request is sent.
        max_concurrency: requests in flight at once (the limit adapts downwards while the
            provider answers 429, and recovers).
        return_exceptions: False: the first failure cancels the rest and is raised itself
            (``except ritellm.RateLimitError`` works). True: its slot holds the error.
        rpm, tpm: requests / tokens per minute shared by the whole fan-out.
        progress: True for a progress bar (tqdm if installed, else a stderr line), or a
            callable receiving :class:`FanoutStats` after each change.
        client: the :class:`AsyncClient` to use (default: the module-level one).

    Returns:
        One :class:`ModelResponse` per request (streaming requests are read to the end and
        assembled), or an exception in its slot with ``return_exceptions=True``.
    """
    client = client or default_client()
    calls = _prepare_all(client, requests)
    results: list[Any] = [None] * len(calls)

    async def deliver(index: int, outcome: Any) -> None:
        results[index] = outcome

    engine = _Engine(
        client,
        calls,
        max_concurrency=max_concurrency,
        return_exceptions=return_exceptions,
        rpm=rpm,
        tpm=tpm,
        progress=progress,
        deliver=deliver,
    )
    await engine.run()
    return results


class CompletionResults:
    """``async with completions_as_completed(...) as results: async for index, item in
    results``. Items come in completion order; for a streaming request, each chunk as it
    arrives (a :class:`ModelResponseStream`), then its assembled :class:`ModelResponse`.

    Backed by a memory object stream with a small buffer: when the consumer is slow, the
    producers wait (holding their concurrency slots), so nothing is buffered without bound.
    Leaving the block early cancels whatever is still running.
    """

    def __init__(self, engine_args: dict[str, Any], buffer: int) -> None:
        self._engine_args = engine_args
        self._send, self._receive = anyio.create_memory_object_stream[tuple[int, Any]](buffer)
        self._group: anyio.abc.TaskGroup | None = None
        self.stats: FanoutStats | None = None

    async def __aenter__(self) -> CompletionResults:
        send = self._send

        async def deliver(index: int, item: Any) -> None:
            await send.send((index, item))

        engine = _Engine(deliver=deliver, **self._engine_args)
        self.stats = engine.stats
        self._group = group = anyio.create_task_group()
        await group.__aenter__()

        async def produce() -> None:
            async with self._send:
                await engine.run()

        group.start_soon(produce)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        # Whatever ended the block (done, break, error, cancellation), stop the producers.
        self._group.cancel_scope.cancel()
        self._receive.close()
        try:
            return await self._group.__aexit__(exc_type, exc, tb)
        except BaseException as group_exc:
            raise _unwrap(group_exc) from None

    def __aiter__(self) -> AsyncIterator[tuple[int, Any]]:
        return self._receive.__aiter__()


def _unwrap(exc: BaseException) -> BaseException:
    """A task group wraps a single failure in an ExceptionGroup; callers want the error."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def completions_as_completed(
    requests: Iterable[Mapping[str, Any]],
    *,
    max_concurrency: int = 16,
    return_exceptions: bool = False,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
) -> CompletionResults:
    """Like :func:`gather_completions`, but yields ``(index, item)`` as results finish.

    Use as ``async with completions_as_completed(requests) as results:`` then
    ``async for index, item in results``. Streaming requests are fanned out too: their
    chunks arrive tagged with the request's index, followed by the assembled response.
    """
    client = client or default_client()
    calls = _prepare_all(client, requests)
    _check_limits(max_concurrency, rpm, tpm)
    args: dict[str, Any] = {
        "client": client,
        "calls": calls,
        "max_concurrency": max_concurrency,
        "return_exceptions": return_exceptions,
        "rpm": rpm,
        "tpm": tpm,
        "progress": progress,
        "chunks": True,
    }
    return CompletionResults(args, buffer=max_concurrency)


async def race_completions(
    requests: Iterable[Mapping[str, Any]], *, client: AsyncClient | None = None
) -> ModelResponse:
    """Send every request at once; the first success wins and the others are cancelled.

    For racing providers or models against each other ("first success wins", as trio's
    Happy Eyeballs does for connections). Streaming requests are not supported.

    Raises:
        the first request's error when every request fails, chained from an
        ExceptionGroup holding all of them.
    """
    client = client or default_client()
    calls = _prepare_all(client, requests)
    if not calls:
        raise ParameterError("race_completions needs at least one request")
    if any(call.stream for call in calls):
        raise ParameterError("race_completions does not take streaming requests")
    winner: list[ModelResponse] = []
    errors: list[Exception | None] = [None] * len(calls)

    async def one(index: int, call: Call, group: anyio.abc.TaskGroup) -> None:
        try:
            result = await client._run(call)
        except Exception as exc:
            errors[index] = exc
            return
        assert isinstance(result, ModelResponse)
        if not winner:
            winner.append(result)
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        for index, call in enumerate(calls):
            tg.start_soon(one, index, call, tg)
    if winner:
        return winner[0]
    failures = [e for e in errors if e is not None]
    raise failures[0] from ExceptionGroup("every raced request failed", failures)
