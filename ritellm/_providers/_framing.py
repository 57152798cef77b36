"""What every stream decoder shares: the rule that an error found after good chunks is raised
only after those chunks were returned, the errors a decoder raises (malformed data, an in-band
provider error, a response that is not the format's), and the framings used by more than one
format or kept apart from a format's events (SSE, NDJSON lines).

Pure: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from .._error_map import request_id, snippet
from .._errors import APIError, APIResponseValidationError, ErrorInfo, StreamError
from .._types import ModelResponseStream, decode_json
from ..sse import ServerSentEvent, SSEDecodeError, SSEDecoder

__all__ = [
    "ChunkDecoder",
    "LineChunkDecoder",
    "SSEChunkDecoder",
    "inband_error",
    "invalid_response",
    "json_body",
]

_Frame = TypeVar("_Frame")


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
        request_id=request_id(headers),
    )


def json_body(provider: str, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """A 2xx body decoded as JSON (objects as AttrDict), or APIResponseValidationError."""
    try:
        return decode_json(body)
    except ValueError:
        ctype = headers.get("content-type", "no content type")
        what = f"an empty body ({ctype})" if not body else f"a body that is not JSON ({ctype})"
        raise invalid_response(provider, status, headers, body, f"response with {what}") from None


class ChunkDecoder(Generic[_Frame]):
    """Base of the stream decoders: a subclass splits body bytes into its format's frames in
    :meth:`_split` (SSE events, NDJSON lines, binary event-stream frames), turns frames into
    chunks in :meth:`_decode` and checks the end of the body in :meth:`_end`.

    An error raised while decoding frames that already produced chunks in the same read is
    kept and raised by the next :meth:`feed` or :meth:`close`, so any split of the bytes
    gives the caller the same chunks before the same error.
    """

    __slots__ = ("_done", "_failure", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._done = False
        self._failure: APIError | None = None

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes) -> list[ModelResponseStream]:
        if self._failure is not None:
            raise self._failure
        frames = self._split(data)
        return self._chunks(frames) if frames else []

    def close(self) -> list[ModelResponseStream]:
        if self._failure is not None:
            raise self._failure
        out: list[ModelResponseStream] = []
        # close() is called once: an error here is raised at once, whatever came before.
        self._decode(self._split_last(), out)
        return out + self._end()

    def _chunks(self, frames: list[_Frame]) -> list[ModelResponseStream]:
        out: list[ModelResponseStream] = []
        try:
            self._decode(frames, out)
        except APIError as exc:
            if not out:
                raise
            self._failure = exc
        return out

    def _split(self, data: bytes) -> list[_Frame]:
        """The frames ``data`` completes; StreamError on bytes that break the framing."""
        raise NotImplementedError

    def _split_last(self) -> list[_Frame]:
        """At the end of the body: a last frame the format lets end without its terminator
        (none by default), or StreamError for a cut-off frame the format cannot ignore."""
        return []

    def _decode(self, frames: list[_Frame], out: list[ModelResponseStream]) -> None:
        """Append the chunks ``frames`` complete to ``out``; raise APIError on bad data."""
        raise NotImplementedError

    def _end(self) -> list[ModelResponseStream]:
        """At the end of the body: the chunks held back for it, or StreamError when the
        format's end was never reached (a truncated response)."""
        raise NotImplementedError

    def _truncated(self, what: str) -> StreamError:
        return StreamError(
            f"stream ended before {what} (the response was truncated)", provider=self._provider
        )

    def _malformed(self, what: str, data: str | bytes) -> StreamError:
        text = snippet(data)
        return StreamError(f"{what}: {text!r}", provider=self._provider, body=text)


class SSEChunkDecoder(ChunkDecoder[ServerSentEvent]):
    """A decoder of Server-Sent Events (OpenAI, Azure, Anthropic, Gemini)."""

    __slots__ = ("_sse",)

    def __init__(self, provider: str, *, max_event_bytes: int = 1 << 20) -> None:
        super().__init__(provider)
        self._sse = SSEDecoder(max_line_bytes=max_event_bytes)

    def _split(self, data: bytes) -> list[ServerSentEvent]:
        try:
            return self._sse.feed(data)
        except SSEDecodeError as exc:
            raise StreamError(str(exc), provider=self._provider) from exc

    def _split_last(self) -> list[ServerSentEvent]:
        # An unterminated last event is discarded (SSE rules): close() dispatches nothing.
        self._sse.close()
        return []


class LineChunkDecoder(ChunkDecoder[bytes]):
    """A decoder of newline-delimited JSON (Ollama): one JSON value per ``\n``-terminated
    line, blank lines ignored, a line longer than ``max_event_bytes`` is a StreamError (after
    the lines before it, however the bytes were split)."""

    __slots__ = ("_buffer", "_max", "_overflow")

    def __init__(self, provider: str, *, max_event_bytes: int = 1 << 20) -> None:
        super().__init__(provider)
        self._buffer = b""
        self._max = max_event_bytes
        self._overflow = False  # a line over the limit follows the lines returned last

    def _split(self, data: bytes) -> list[bytes]:
        if self._overflow:
            raise self._too_long()
        buffered = self._buffer + data if self._buffer else data
        lines = buffered.split(b"\n")
        self._buffer = lines.pop()
        out = []
        for line in lines:
            if len(line) > self._max:
                self._overflow = True
                break
            if line.strip():
                out.append(line)
        if len(self._buffer) > self._max:
            self._overflow = True  # an unfinished line is already too long
        if self._overflow:
            self._buffer = b""
            if not out:
                raise self._too_long()
        return out

    def _split_last(self) -> list[bytes]:
        if self._overflow:
            raise self._too_long()
        # A last line without its newline is still a whole value if it parses (servers that
        # end the body right after the final object); anything else was cut off.
        last, self._buffer = self._buffer, b""
        return [last] if last.strip() else []

    def _too_long(self) -> StreamError:
        return StreamError(
            f"a stream line is longer than max_event_bytes ({self._max} bytes)",
            provider=self._provider,
        )
