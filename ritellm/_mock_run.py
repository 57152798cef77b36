"""Running a mocked call (``mock_response=``): no pool, no connection, no request. The answer
ritellm._mock builds is handed over as a response, a real AsyncCompletionStream or an error,
and reported to callbacks and spans as a real call's outcome is.

I/O layer in name only (anyio checkpoints); never httpcore, trio or asyncio.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import anyio.lowlevel

from ._attempts import run_candidates
from ._errors import APIError
from ._metadata import ResponseMetadata
from ._mock import mock_chunks, mock_error, mock_response
from ._stream import AsyncCompletionStream
from ._types import ModelResponse, ModelResponseStream

if TYPE_CHECKING:
    from ._observe import Report
    from ._prepared import Call
    from ._transport import Response

__all__ = ["run_mock"]


class _Body:
    """Stands in for a transport response under a mocked stream: one read per chunk (each a
    checkpoint, as a socket read is), then the end of the body."""

    __slots__ = ("_left", "headers", "status", "where")

    def __init__(self, reads: int) -> None:
        self._left = reads
        self.status = 200
        self.headers: Mapping[str, str] = {}
        self.where = "mock_response"

    async def receive(self) -> bytes:
        await anyio.lowlevel.checkpoint()
        if self._left:
            self._left -= 1
            return b"."
        return b""

    async def aclose(self) -> None:
        self._left = 0


class _Chunks:
    """A stream decoder that hands out prepared chunks, one per read."""

    __slots__ = ("_chunks",)

    def __init__(self, chunks: list[ModelResponseStream]) -> None:
        self._chunks = deque(chunks)

    def feed(self, data: bytes) -> list[ModelResponseStream]:
        return [self._chunks.popleft()] if self._chunks else []

    def close(self) -> list[ModelResponseStream]:
        rest = list(self._chunks)
        self._chunks.clear()
        return rest

    @property
    def done(self) -> bool:
        return not self._chunks


async def run_mock(
    call: Call, report: Report | None, *, fanout: bool = False
) -> ModelResponse | AsyncCompletionStream:
    """Answer a mocked call, then its (mocked) fallbacks while the mock's error is about
    availability: the loop that runs real calls (ritellm._attempts), with each candidate
    answered from its mock. A mock is never retried: the same answer would come back after a
    backoff. ``fanout``: a fan-out's 429 is reported by the fan-out, as for a real call."""
    return await run_candidates(call, _answer, report, fanout=fanout)


async def _answer(call: Call) -> ModelResponse | AsyncCompletionStream:
    mock = call.mock
    assert mock is not None
    meta = call.meta = ResponseMetadata(
        provider=call.provider.spec.name,
        model=call.model,
        api_base=call.creds.base_url,
        started=time.perf_counter(),
    )
    report = call.report
    if report is not None:
        report.current = call
    await anyio.lowlevel.checkpoint()  # a cancel point, as every call is
    # Observed as LiteLLM observes its mocks: the request that would have been sent.
    call.log(0, call.request)
    if report is not None:
        report.attempt(call, 0, call.request)
    if mock.error is not None:
        err = mock_error(mock, provider=call.provider.spec.name, model=call.model)
        if isinstance(err, APIError):
            err = call.annotate(err)
            err.response_metadata = err.response_metadata or meta
        raise err
    params = call.payload.params
    response = mock_response(
        mock,
        model=call.payload.model,
        messages=call.payload.messages,
        n=params.get("n"),
        id=f"chatcmpl-mock-{uuid.uuid4().hex[:24]}",
        created=int(time.time()),
    )
    if not call.stream:
        meta.finished(response.get("model"), response.get("usage"))
        response._attach(meta)
        return response
    options = params.get("stream_options")
    include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    chunks = mock_chunks(response, include_usage=include_usage)
    stream = AsyncCompletionStream(
        cast("Response", _Body(len(chunks))),
        _Chunks(chunks),
        read_timeout=None,
        deadline=None,
        provider=call.provider.spec.name,
        model=call.model,
        metadata=meta,
        report=report,
    )
    await stream.prime()
    return stream
