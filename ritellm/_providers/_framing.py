"""What every SSE-framed stream decoder shares: the framing, the rule that an error found after
good chunks is raised only after those chunks were returned, and the errors a decoder raises
(malformed data, an in-band provider error, a response that is not the format's).

Pure: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import APIError, APIResponseValidationError, ErrorInfo, StreamError, snippet
from .._types import ModelResponseStream, decode_json
from ..sse import ServerSentEvent, SSEDecodeError, SSEDecoder

__all__ = ["SSEChunkDecoder", "inband_error", "invalid_response", "json_body"]


def inband_error(info: ErrorInfo, provider: str, status: int) -> StreamError:
    """The StreamError for a provider error sent inside a 200 stream; ``status`` is its HTTP
    twin (kept on ``inband``), which decides its class and retry rule if nothing was
    delivered yet."""
    info.status = status
    err = StreamError(
        info.message or "An error occurred during streaming",
        type=info.type,
        code=info.code,
        param=info.param,
        provider=provider,
        body=info.body,
        retry_after=info.retry_after,
    )
    err.inband = info
    return err


def invalid_response(
    provider: str, status: int, headers: Mapping[str, str], body: bytes, what: str
) -> APIResponseValidationError:
    """A 2xx body that is not what the format promises, with a short excerpt of it."""
    text = snippet(body)
    return APIResponseValidationError(
        f"{what}: {text!r}" if text else what,
        status_code=status,
        provider=provider,
        body=text,
        headers=headers,
        request_id=headers.get("x-request-id") or headers.get("request-id"),
    )


def json_body(provider: str, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """A 2xx body decoded as JSON (objects as AttrDict), or APIResponseValidationError."""
    try:
        return decode_json(body)
    except ValueError:
        ctype = headers.get("content-type", "no content type")
        what = f"an empty body ({ctype})" if not body else f"a body that is not JSON ({ctype})"
        raise invalid_response(provider, status, headers, body, f"response with {what}") from None


class SSEChunkDecoder:
    """Base of the SSE stream decoders: subclasses turn events into chunks in :meth:`_decode`
    and check the end of the body in :meth:`_end`.

    An error raised while decoding events that already produced chunks in the same read is
    kept and raised by the next :meth:`feed` or :meth:`close`, so any split of the bytes
    gives the caller the same chunks before the same error.
    """

    __slots__ = ("_done", "_failure", "_provider", "_sse")

    def __init__(self, provider: str, *, max_event_bytes: int = 1 << 20) -> None:
        self._sse = SSEDecoder(max_line_bytes=max_event_bytes)
        self._provider = provider
        self._done = False
        self._failure: APIError | None = None

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes) -> list[ModelResponseStream]:
        if self._failure is not None:
            raise self._failure
        try:
            events = self._sse.feed(data)
        except SSEDecodeError as exc:
            raise StreamError(str(exc), provider=self._provider) from exc
        return self._chunks(events) if events else []

    def close(self) -> list[ModelResponseStream]:
        if self._failure is not None:
            raise self._failure
        # An unterminated last event is discarded (SSE rules): close() dispatches nothing.
        self._sse.close()
        return self._end()

    def _chunks(self, events: list[ServerSentEvent]) -> list[ModelResponseStream]:
        out: list[ModelResponseStream] = []
        try:
            self._decode(events, out)
        except APIError as exc:
            if not out:
                raise
            self._failure = exc
        return out

    def _decode(self, events: list[ServerSentEvent], out: list[ModelResponseStream]) -> None:
        """Append the chunks ``events`` complete to ``out``; raise APIError on bad data."""
        raise NotImplementedError

    def _end(self) -> list[ModelResponseStream]:
        """At the end of the body: the chunks held back for it, or StreamError when the
        format's end was never reached (a truncated response)."""
        raise NotImplementedError

    def _truncated(self, what: str) -> StreamError:
        return StreamError(
            f"stream ended before {what} (the response was truncated)", provider=self._provider
        )

    def _malformed(self, what: str, data: str) -> StreamError:
        text = snippet(data)
        return StreamError(f"{what}: {text!r}", provider=self._provider, body=text)
