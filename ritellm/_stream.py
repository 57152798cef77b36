"""Stream objects: the one streaming loop for every provider, close-on-exit, per-chunk timeouts.

I/O layer: imports anyio and ritellm's transport types; no httpcore, no providers' internals.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from ._errors import APIConnectionError, APIError, APITimeoutError, CallCancelled, StreamError
from ._redact import scrub_secret
from ._types import ModelResponseStream

if TYPE_CHECKING:
    from ._metadata import ResponseMetadata
    from ._observe import Report
    from ._providers import StreamDecoder
    from ._transport import Response

__all__ = ["AsyncCompletionStream"]

# How long the final chunks may wait for the end of the body after [DONE]: long enough for a
# terminator that trails [DONE] by a packet, short enough not to be felt.
_DRAIN_SECONDS = 0.05


class AsyncCompletionStream:
    """An open streaming response: ``async for chunk in stream`` yields each chunk as soon
    as its event arrives.

    Use it as ``async with await acompletion(..., stream=True) as stream:`` (or call
    :meth:`aclose`) so that leaving early — ``break``, an exception, cancellation — closes
    the response and frees its connection. Reading to the end also frees it.

    Attributes:
        status_code: the HTTP status (2xx).
        headers: response headers with lower-case names.
        provider, model: what was called.
    """

    __slots__ = (
        "__weakref__",
        "_chunks",
        "_deadline",
        "_decoder",
        "_done",
        "_last",
        "_pending",
        "_priming",
        "_read_timeout",
        "_report",
        "_response",
        "_secret",
        "_whole",
        "model",
        "provider",
        "response_metadata",
    )

    def __init__(
        self,
        response: Response,
        decoder: StreamDecoder,
        *,
        read_timeout: float | None,
        deadline: float | None,
        provider: str,
        model: str,
        secret: str | None = None,
        metadata: ResponseMetadata | None = None,
        report: Report | None = None,
    ) -> None:
        """Made by ritellm (``completion(..., stream=True)``); not constructed directly.

        Args:
            response: the open HTTP response, its status and headers already read.
            decoder: the provider's decoder from body bytes to chunks.
            read_timeout: seconds to wait for each chunk (None: no limit).
            deadline: when the whole call times out, on anyio's clock (None: never).
            provider: the provider called.
            model: the model string called.
            secret: the call's credential, scrubbed from errors raised here.
            metadata: the call's metadata, completed as the stream ends.
            report: the observed call that gets the chunks and the outcome (None: not
                observed).
        """
        self._response = response
        self._decoder = decoder
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._pending: deque[ModelResponseStream] = deque()
        self._done = False
        self._last: ModelResponseStream | None = None  # the last chunk decoded so far
        self._priming = False
        self._secret = secret
        self.provider = provider
        self.model = model
        # Complete once the stream has ended: latency.total and the usage chunk's usage.
        self.response_metadata = metadata
        # Observed calls only: the chunks, for the response reported when the stream ends.
        self._report = report
        self._chunks: list[ModelResponseStream] = []
        self._whole = False  # ended whole while primed: reported once handed over

    @property
    def status_code(self) -> int:
        """The HTTP status of the response."""
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (lower-case names)."""
        return self._response.headers

    def __repr__(self) -> str:
        state = "closed" if self._done else "open"
        # A model string carries its provider prefix, except a bare name.
        shown = self.model if "/" in self.model else f"{self.provider}/{self.model}"
        return f"<AsyncCompletionStream {shown} {state}>"

    # -- iteration ---------------------------------------------------------------------

    def __aiter__(self) -> AsyncCompletionStream:
        return self

    async def __anext__(self) -> ModelResponseStream:
        if self._pending:
            return self._pending.popleft()
        if self._done:
            raise StopAsyncIteration
        return await self._fill()

    def __iter__(self) -> NoReturn:
        raise TypeError(
            "This is an async stream: iterate it with `async for chunk in stream`. For a "
            "blocking iterator call ritellm.completion(..., stream=True) instead."
        )

    async def prime(self) -> None:
        """Read until the first chunk is decoded (or the body ends), keeping it for the
        caller. Failures are raised as they are: a reset or timeout stays an
        APIConnectionError (nothing was delivered yet, so it may be retried) and an in-band
        error a StreamError with ``inband`` set."""
        if self._pending or self._done:
            return
        self._priming = True
        try:
            first = await self._fill()
        except StopAsyncIteration:
            return
        finally:
            self._priming = False
        self._pending.appendleft(first)
        if self.response_metadata is not None:
            self.response_metadata.first_chunk(first.get("model"))

    async def _fill(self) -> ModelResponseStream:
        """Read until at least one chunk is decoded (or the body ends)."""
        pending = self._pending
        # One deadline for the next chunk, however many reads it takes: a server that
        # drips bytes (or keep-alive comments) without completing a chunk still times out.
        limit = self._chunk_deadline()
        try:
            while not pending:
                data = await self._receive(limit)
                if data:
                    chunks = self._decoder.feed(data)
                    if chunks:
                        pending.extend(chunks)
                        self._last = chunks[-1]  # once per read, not per chunk
                        if self._report is not None:
                            self._observed(chunks)
                    if self._decoder.done:
                        self._ended()
                        if not pending:
                            await self._drain()
                            raise StopAsyncIteration
                else:
                    chunks = self._decoder.close()
                    if chunks:
                        pending.extend(chunks)
                        self._last = chunks[-1]
                        if self._report is not None:
                            self._observed(chunks)
                    self._done = True
                    self._ended()
                    self._report_success()  # the body ended: nothing left to drain
                    if not pending:
                        raise StopAsyncIteration
        except StopAsyncIteration:
            raise
        except APIError as exc:
            await self._fail()
            annotated = self._annotate(exc)
            self._report_failure(annotated)
            if annotated is exc:
                raise
            raise annotated from exc
        except BaseException as exc:
            await self._fail()
            self._report_failure(exc)
            raise
        if self._decoder.done:
            # [DONE] arrived with these chunks: release the connection now rather than on
            # the caller's next call (which may never come if it stops at the last chunk).
            await self._drain()
        return pending.popleft()

    def _ended(self) -> None:
        """The answer is complete: the usage chunk, if any, was the last one decoded."""
        meta = self.response_metadata
        if meta is not None and meta.latency.total is None:
            usage = self._last.get("usage") if self._last is not None else None
            meta.finished(usage=usage)

    def _observed(self, chunks: list[ModelResponseStream]) -> None:
        report = self._report
        assert report is not None
        self._chunks.extend(chunks)
        if report.wants_chunks:
            report.decoded(chunks)

    def _report_success(self) -> None:
        """The answer is whole and the connection released: report it (while priming, once
        the attempt loop has handed the stream over: see _handed_over)."""
        if self._report is not None:
            if self._priming:
                self._whole = True
            else:
                self._report.stream_ended(self._chunks)

    def _report_failure(self, exc: BaseException) -> None:
        # While priming, the attempt loop decides: it may retry, or it reports the failure.
        if self._report is not None and not self._priming:
            self._report.failed(exc)

    def _handed_over(self) -> None:
        """Called once the stream is returned to the caller: a stream that already ended
        whole while it was primed is reported now."""
        if self._whole and self._report is not None:
            self._report.stream_ended(self._chunks)

    def _chunk_deadline(self) -> float | None:
        timeout, deadline = self._read_timeout, self._deadline
        if timeout is None:
            return deadline
        limit = anyio.current_time() + timeout
        return limit if deadline is None or limit < deadline else deadline

    async def _receive(self, limit: float | None) -> bytes:
        if limit is None:
            return await self._response.receive()
        with anyio.CancelScope(deadline=limit) as scope:
            return await self._response.receive()
        # Only our own deadline lands here; a caller's cancel scope propagates untouched.
        await anyio.lowlevel.checkpoint_if_cancelled()
        assert scope.cancelled_caught
        if limit == self._deadline:
            raise APITimeoutError(f"Stream exceeded its total timeout from {self._response.where}")
        raise APITimeoutError(
            f"No stream chunk from {self._response.where} for {self._read_timeout}s (read timeout)"
        )

    async def _drain(self) -> None:
        """The answer is complete ([DONE] seen): read what is left of the body so the
        connection can be reused. Best effort and briefly bounded — the terminating chunk
        normally arrives with [DONE] — and failures are ignored: they cannot change an
        answer that is already whole (the connection is then closed instead of reused)."""
        self._done = True
        response = self._response
        try:
            with anyio.move_on_after(_DRAIN_SECONDS):
                while await response.receive():
                    pass
        except APIError:
            pass
        except BaseException as exc:  # cancelled while draining: the caller stopped it
            self._report_failure(exc)
            raise
        finally:
            await response.aclose()
        self._report_success()

    async def _fail(self) -> None:
        self._done = True
        self._pending.clear()
        await self._response.aclose()

    def _annotate(self, exc: APIError) -> APIError:
        if exc.provider is None:
            exc.provider = self.provider
        if exc.model is None:
            exc.model = self.model
        if type(exc) is APIConnectionError and not self._priming:
            # The stream already began: a reset or truncation is a stream failure.
            exc = StreamError(exc.message, provider=self.provider, model=self.model)
        if exc.response_metadata is None:
            exc.response_metadata = self.response_metadata
        return scrub_secret(exc, self._secret)

    async def _next_batch(self) -> list[ModelResponseStream]:
        """Wait for one chunk, then take everything already decoded (for the sync facade:
        one portal round trip per network read, not per chunk)."""
        try:
            first = await self.__anext__()
        except StopAsyncIteration:
            return []
        batch = [first]
        if self._pending:
            batch.extend(self._pending)
            self._pending.clear()
        return batch

    # -- closing -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the response (idempotent); the connection is reused if the body ended."""
        self._done = True
        self._pending.clear()
        try:
            await self._response.aclose()
        finally:
            if self._report is not None and not self._report.done:
                self._report.failed(CallCancelled("The stream was closed before it ended"))

    async def __aenter__(self) -> AsyncCompletionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- conveniences --------------------------------------------------------------------

    async def collect(self) -> list[ModelResponseStream]:
        """Read the rest of the stream into a list (and close it)."""
        async with self:
            return [chunk async for chunk in self]

    def __getstate__(self) -> Any:
        raise TypeError("An open stream cannot be pickled")
