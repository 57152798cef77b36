"""Running a prepared Call: fallbacks, the total deadline, the attempt/retry loop, and turning
each response into a result, a stream or a typed error. No provider-specific branch: every
format difference is behind the Provider interface.

I/O layer: anyio, the transport and the stream; never httpcore, trio or asyncio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from ._error_map import error_from_response, snippet
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    StreamError,
)
from ._metadata import ResponseMetadata
from ._retry import backoff, parse_retry_after, should_retry
from ._stream import AsyncCompletionStream
from ._types import HttpRequest, ModelResponse

if TYPE_CHECKING:
    from ._observe import Report
    from ._prepared import Call
    from ._transport import Response, Transport

__all__ = ["run", "run_candidates"]

logger = logging.getLogger("ritellm")

Result = ModelResponse | AsyncCompletionStream
# One attempt's outcome: the result, or (the error, whether it is worth retrying).
Outcome = Result | tuple[APIError, bool]

# Failures worth trying another model for: availability, not the request's own fault.
_FALLBACK_ON = (
    RateLimitError,
    InternalServerError,
    APIConnectionError,
    NotFoundError,
    ConflictError,
)


Observer = Callable[[int, Mapping[str, str]], None]
# Answers one candidate of a call (the call or one of its fallbacks): over the network, or
# from its mock_response.
Runner = Callable[["Call"], Awaitable[Result]]


async def run(
    call: Call,
    transport: Transport,
    rng: Callable[[], float],
    *,
    observer: Observer | None = None,
    report: Report | None = None,
) -> Result:
    """Send a prepared call, then its fallbacks while the failures are about availability
    (rate limits, 5xx, connection trouble, unknown model).

    ``observer`` (a fan-out's shared limiter) sees the status and headers of every response
    (rate-limit headers included), and a 429 is raised to it at once instead of being
    retried here, so that the limiter can pace every request.

    ``report`` (callbacks, spans) is told of every attempt and of the outcome: here for a
    response or a failure, by the stream when a stream ends.
    """

    async def one(candidate: Call) -> Result:
        return await _run_one(candidate, transport, rng, observer)

    return await run_candidates(call, one, report, fanout=observer is not None)


async def run_candidates(call: Call, one: Runner, report: Report | None, *, fanout: bool) -> Result:
    """The call, then its fallbacks, each answered by ``one`` (the network, or a mock:
    ritellm._mock_run), with the outcome reported. ``fanout``: a 429 goes back to the
    fan-out's limiter, which re-sends and reports it."""
    for candidate in (call, *call.fallbacks):
        candidate.report = report  # None too: a Call may be run again (a fan-out's re-send)
    if report is None:
        return await _fallbacks(call, one)
    try:
        result = await _fallbacks(call, one)
    except BaseException as exc:  # cancellation included: reported, then propagated
        if not (fanout and isinstance(exc, RateLimitError)):
            report.failed(exc)
        raise
    if isinstance(result, ModelResponse):
        report.succeeded(result)
    else:
        result._handed_over()
    return result


async def _fallbacks(call: Call, one: Runner) -> Result:
    if not call.fallbacks:
        return await one(call)
    candidates = (call, *call.fallbacks)
    errors: list[APIError] = []
    for candidate, following in zip(candidates, (*call.fallbacks, None), strict=True):
        try:
            return await one(candidate)
        except _FALLBACK_ON as exc:
            if errors:
                exc.__context__ = errors[-1]  # the chain shows every model tried
            errors.append(exc)
            if following is None:
                break
            logger.info(
                "ritellm: %s failed (%s); falling back to %s", candidate.model, exc, following.model
            )
            if candidate.report is not None:
                candidate.report.retry(candidate, exc, None)
    raise errors[-1]


async def _run_one(
    call: Call, transport: Transport, rng: Callable[[], float], observer: Observer | None
) -> Result:
    """One model: media, attempts, retries and the total deadline; its errors carry what
    the call reported (``response_metadata``)."""
    meta = call.meta = ResponseMetadata(
        provider=call.provider.spec.name,
        model=call.model,
        api_base=call.creds.base_url,
        started=time.perf_counter(),
    )
    if call.report is not None:
        call.report.current = call  # before anything can fail: credentials, media
    try:
        return await _deadlined(call, transport, rng, observer)
    except APIError as exc:
        if exc.response_metadata is None:
            exc.response_metadata = meta
        raise


async def _deadlined(
    call: Call, transport: Transport, rng: Callable[[], float], observer: Observer | None
) -> Result:
    total = call.timeout.total
    if total is None:
        return await _prepared(call, transport, rng, None, observer)
    deadline = anyio.current_time() + total
    with anyio.CancelScope(deadline=deadline) as scope:
        return await _prepared(call, transport, rng, deadline, observer)
    # Our deadline fired (a caller's own cancellation propagates instead: see below).
    await anyio.lowlevel.checkpoint_if_cancelled()
    assert scope.cancelled_caught
    raise call.annotate(
        APITimeoutError(f"Request did not complete within its total timeout of {total}s")
    )


async def _prepared(
    call: Call,
    transport: Transport,
    rng: Callable[[], float],
    deadline: float | None,
    observer: Observer | None,
) -> Result:
    if call.creds.resolve is not None:
        # Credentials that need blocking I/O (botocore's chain): off the event loop.
        import anyio.to_thread  # rare: only Bedrock without explicit credentials

        resolved = await anyio.to_thread.run_sync(call.creds.resolve, abandon_on_cancel=True)
        call.with_credentials(resolved)
        call.meta.api_base = resolved.base_url
    if call.media_urls:
        from ._media import fetch_media  # rare: only for images a provider needs inline

        try:
            call.with_media(
                await fetch_media(call.media_urls, transport, call.timeout, proxy=call.proxy)
            )
        except APIError as exc:
            raise call.annotate(exc) from exc.__cause__
    return await _attempts(call, transport, rng, deadline, observer)


async def _attempts(
    call: Call,
    transport: Transport,
    rng: Callable[[], float],
    deadline: float | None,
    observer: Observer | None,
) -> Result:
    # One deadline bounds sending and the wait for the response (rather than httpcore's
    # timer per socket read and write: measured ~25 µs per request on asyncio).
    budget = call.timeout.read
    attempt = 0
    while True:
        call.meta.attempts += 1
        request = call.signed(time.time())
        call.log(attempt, request)
        if call.report is not None:
            call.report.attempt(call, attempt, request)
        outcome: Outcome
        try:
            if budget is None:
                outcome = await _attempt(call, request, transport, deadline, observer)
            else:
                with anyio.CancelScope(deadline=anyio.current_time() + budget) as scope:
                    outcome = await _attempt(call, request, transport, deadline, observer)
                if scope.cancelled_caught:
                    # Only our own deadline lands here; a caller's scope propagates.
                    await anyio.lowlevel.checkpoint_if_cancelled()
                    raise APITimeoutError(f"No response within {budget:g}s (read timeout)")
            if isinstance(outcome, AsyncCompletionStream):
                # Outside the headers deadline: the first chunk has its own, per chunk.
                outcome = await _prime(call, outcome, observer)
        except APIConnectionError as exc:
            # Timeouts included: nothing was answered. This is also the only resend of a
            # request that failed on a reused keep-alive connection (it may have reached the
            # server): within num_retries, logged like any attempt, never silently.
            outcome = (call.annotate(exc), True)
        except APIError as exc:
            # Any other failure is final: the transport's other verdicts (a body over
            # max_response_bytes, an unknown content coding) get the call's details here.
            call.annotate(exc)
            raise
        if not isinstance(outcome, tuple):
            return outcome
        err, retryable = outcome
        if not retryable or attempt >= call.retry.max_retries:
            raise err
        delay = backoff(attempt, err.retry_after, rng, call.retry)
        if delay is None or (deadline is not None and anyio.current_time() + delay > deadline):
            raise err
        if call.report is not None:
            call.report.retry(call, err, delay)
        logger.info(
            "ritellm: %s; retrying %s in %.2fs (retry %d of %d)",
            type(err).__name__,
            call.model,
            delay,
            attempt + 1,
            call.retry.max_retries,
        )
        await anyio.sleep(delay)
        attempt += 1


async def _attempt(
    call: Call,
    request: HttpRequest,
    transport: Transport,
    deadline: float | None,
    observer: Observer | None,
) -> Outcome:
    """One request: the result, or (the error, whether it is worth retrying)."""
    response = await transport.send(request, call.timeout, call.proxy)
    call.meta.responded(response.status, response.lazy_headers)
    if observer is not None:
        observer(response.status, response.headers)
    if response.status < 300:
        if call.stream:
            return await _open_stream(call, response, deadline, observer)
        body = await response.aread()
        try:
            result = call.provider.parse_completion(
                response.status,
                response.lazy_headers,
                body,
                req=call.payload,
                now=int(time.time()),
            )
        except APIError as exc:
            return _in_a_2xx(call, exc, observer)
        call.meta.finished(result.get("model"), result.get("usage"))
        result._attach(call.meta)
        return result
    body = await response.aread()
    headers = response.headers
    err = call.annotate(
        error_from_response(
            response.status,
            headers,
            body,
            info=call.provider.parse_error(response.status, headers, body),
            provider=call.provider.spec.name,
            model=call.model,
            retry_after=parse_retry_after(headers, time.time()),
        )
    )
    return err, _retryable(response.status, headers, observer)


def _retryable(status: int, headers: Mapping[str, str], observer: Observer | None) -> bool:
    # In a fan-out, 429s go back to the fan-out's shared limiter instead.
    return should_retry(status, headers) and not (observer is not None and status == 429)


def _in_a_2xx(call: Call, err: APIError, observer: Observer | None) -> tuple[APIError, bool]:
    """An error the provider sent with a 2xx status (a JSON body, or an event in a stream
    before any chunk): retried like the HTTP status it stands for. Anthropic and Gemini name
    it (an overloaded_error is a 529); an OpenAI-compatible error body keeps its 2xx and is
    final."""
    status = err.status_code or 200
    return call.annotate(err), status >= 300 and _retryable(status, {}, observer)


async def _open_stream(
    call: Call, response: Response, deadline: float | None, observer: Observer | None
) -> Outcome:
    ctype = response.headers.get("content-type", "")
    if ctype and not ctype.startswith(call.provider.stream_media_types):
        # A 2xx that is not a stream: an error in a 200 (llama.cpp, proxies) or a server
        # that ignored stream=true. Either way a typed error, never a silent success.
        body = await response.aread()
        if ctype.startswith("application/json"):
            info = call.provider.parse_error(response.status, response.headers, body)
            # An error body: OpenAI-compatible ({"error": ...}), or one the provider named.
            named = b'"error"' in body[:64] or info.status is not None
            if body.lstrip()[:1] in (b"{", b"[") and named:
                err = error_from_response(
                    info.status or response.status,
                    response.headers,
                    body,
                    info=info,
                    provider=call.provider.spec.name,
                    model=call.model,
                )
                return _in_a_2xx(call, err, observer)
        raise call.annotate(
            APIResponseValidationError(
                f"Expected a {call.provider.stream_media_types[0]} response, got {ctype}: "
                f"{snippet(body)!r}",
                status_code=response.status,
                body=snippet(body),
                headers=response.headers,
            )
        )
    return AsyncCompletionStream(
        response,
        call.provider.stream_decoder(
            call.payload,
            now=int(time.time()),
            max_event_bytes=call.max_event_bytes,
            headers=response.headers,
        ),
        read_timeout=call.timeout.read,
        deadline=deadline,
        provider=call.provider.spec.name,
        model=call.model,
        secret=call.secret,
        metadata=call.meta,
        report=call.report,
    )


async def _prime(call: Call, stream: AsyncCompletionStream, observer: Observer | None) -> Outcome:
    # Read up to the first chunk before handing the stream over: an error the provider
    # sends in place of an answer (Anthropic's in-band "overloaded", a reset before any
    # event) is then raised here, typed and retried like its HTTP twin, while nothing has
    # reached the caller.
    try:
        await stream.prime()
    except StreamError as exc:
        inband = exc.inband
        if inband is None or inband.status is None:
            raise
        err = error_from_response(
            inband.status,
            stream.headers,
            b"",
            info=inband,
            provider=call.provider.spec.name,
            model=call.model,
        )
        err.__cause__ = exc
        return _in_a_2xx(call, err, observer)
    return stream
