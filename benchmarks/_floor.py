"""The floor: the least a client on ritellm's own stack can do per request — httpcore's
HTTP/1.1 connections in a minimal pool, one JSON encode per request and one JSON decode per
body or SSE event. ritellm is judged by its distance from this.

Deliberately minimal: no timeouts, retries, error mapping or validation. A list of idle
connections is the whole pool (new connections when it is empty, no limit), which is also
what makes it O(1) per request. Streams come in OpenAI's, Anthropic's and Gemini's SSE, Ollama's
NDJSON (one ``json.loads`` per line) and Bedrock's binary event stream (each frame's lengths
read with ``struct``, both CRCs checked with ``zlib.crc32``, one ``json.loads`` per payload);
non-streaming requests in OpenAI's only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from struct import Struct
from typing import Any
from urllib.parse import quote, urlsplit
from zlib import crc32

import httpcore

from ._payloads import ANTHROPIC_MODEL, GEMINI_MODEL, MESSAGES, MODEL
from ._payloads_native import BEDROCK_MODEL, OLLAMA_MODEL

__all__ = ["PAYLOADS", "FloorPool"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_PRELUDE = Struct(">III")  # an event-stream frame's total length, headers length, prelude CRC
_CRC = Struct(">I")


def _openai_text(obj: Any) -> str:
    choices = obj["choices"]
    return (choices[0]["delta"].get("content") or "") if choices else ""


def _anthropic_text(obj: Any) -> str:
    # Only text deltas carry content; message_start, ping, block start/stop and the final
    # message_delta / message_stop are read (json.loads) and yield nothing.
    return (obj["delta"].get("text") or "") if obj["type"] == "content_block_delta" else ""


def _gemini_text(obj: Any) -> str:
    candidates = obj.get("candidates")
    if not candidates:
        return ""
    return "".join(part.get("text", "") for part in candidates[0]["content"]["parts"])


def _ollama_text(obj: Any) -> str:
    return obj["message"].get("content") or ""  # the done line's content is ""


def _bedrock_text(obj: Any) -> str:
    # Only contentBlockDelta payloads have a "delta"; messageStart, contentBlockStop,
    # messageStop and metadata are read (json.loads) and yield nothing.
    delta = obj.get("delta")
    return (delta.get("text") or "") if delta else ""


# The request body per wire format: what each provider's API requires, no more.
PAYLOADS: dict[str, dict[str, object]] = {
    "openai": {"model": MODEL, "messages": MESSAGES},
    "anthropic": {"model": ANTHROPIC_MODEL, "max_tokens": 4096, "messages": MESSAGES},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": MESSAGES[0]["content"]}]}]},
    "ollama": {"model": OLLAMA_MODEL, "messages": MESSAGES},
    "bedrock": {"messages": [{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}]},
}
# Formats without a "stream" flag in the body: the endpoint says it.
_NO_STREAM_FLAG = frozenset({"gemini", "bedrock"})

# wire -> (path after the base URL, auth header, text of one decoded event). A local Ollama
# takes no key; the floor does not SigV4-sign Bedrock requests (a per-request cost, which a
# stream of 20,000 chunks amortises to a few ns per chunk).
_WIRES: dict[str, tuple[str, bytes | None, Callable[[Any], str]]] = {
    "openai": ("/chat/completions", b"Authorization", _openai_text),
    "anthropic": ("/v1/messages", b"x-api-key", _anthropic_text),
    "gemini": (
        f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse",
        b"x-goog-api-key",
        _gemini_text,
    ),
    "ollama": ("/api/chat", None, _ollama_text),
    "bedrock": (f"/model/{quote(BEDROCK_MODEL, safe='')}/converse-stream", None, _bedrock_text),
}


class FloorPool:
    """POSTs to the wire format's endpoint under ``base_url`` (``{base_url}/chat/completions``
    for OpenAI) over reused httpcore connections."""

    def __init__(self, base_url: str, api_key: str, wire: str = "openai") -> None:
        path, auth, self._text = _WIRES[wire]
        self._wire = wire
        parts = urlsplit(base_url + path)
        assert parts.hostname is not None
        assert parts.port is not None
        self._host = parts.hostname
        self._port = parts.port
        self._origin = httpcore.Origin(b"http", self._host.encode(), self._port)
        target = parts.path + ("?" + parts.query if parts.query else "")
        self._url = httpcore.URL(
            scheme=b"http", host=self._host.encode(), port=self._port, target=target.encode()
        )
        key = ("Bearer " + api_key if wire == "openai" else api_key).encode()
        self._headers = [
            (b"Host", f"{self._host}:{self._port}".encode()),
            (b"Content-Type", b"application/json"),
        ]
        if auth is not None:
            self._headers.append((auth, key))
        if wire == "anthropic":
            self._headers.append((b"anthropic-version", b"2023-06-01"))
        self._backend = httpcore.AnyIOBackend()
        self._idle: list[httpcore.AsyncHTTP11Connection] = []

    async def _post(
        self, payload: dict[str, object]
    ) -> tuple[httpcore.AsyncHTTP11Connection, httpcore.Response]:
        body = _dumps(payload).encode()
        request = httpcore.Request(
            b"POST",
            self._url,
            headers=[*self._headers, (b"Content-Length", b"%d" % len(body))],
            content=body,
        )
        if self._idle:
            conn = self._idle.pop()
        else:
            stream = await self._backend.connect_tcp(self._host, self._port)
            conn = httpcore.AsyncHTTP11Connection(origin=self._origin, stream=stream)
        return conn, await conn.handle_async_request(request)

    def _give_back(self, conn: httpcore.AsyncHTTP11Connection) -> None:
        if conn.is_idle():
            self._idle.append(conn)

    async def complete(self, payload: dict[str, object]) -> str:
        """One non-streaming request; returns the message content."""
        conn, response = await self._post(payload)
        parts = [part async for part in response.stream]  # type: ignore[union-attr]
        await response.aclose()
        self._give_back(conn)
        obj = json.loads(b"".join(parts))
        content: str = obj["choices"][0]["message"]["content"]
        return content

    def stream(self, payload: dict[str, object]) -> AsyncIterator[str]:
        """One streaming request; yields each event's text (``""`` when it has none)."""
        body = payload if self._wire in _NO_STREAM_FLAG else {**payload, "stream": True}
        if self._wire == "ollama":
            return self._ndjson(body)
        if self._wire == "bedrock":
            return self._frames(body)
        return self._sse(body)

    async def _sse(self, body: dict[str, object]) -> AsyncIterator[str]:
        """SSE, split minimally: complete lines, ``data: `` prefix (a CRLF line keeps its
        ``\\r``, which json.loads skips as whitespace), ``[DONE]`` or the body's end ends it.
        """
        conn, response = await self._post(body)
        text = self._text
        tail = b""
        done = False
        try:
            async for part in response.stream:  # type: ignore[union-attr]
                lines = (tail + part).split(b"\n") if tail else part.split(b"\n")
                tail = lines.pop()
                for line in lines:
                    if line[:6] != b"data: ":
                        continue
                    data = line[6:]
                    if data == b"[DONE]":
                        continue
                    yield text(json.loads(data))
            done = True  # the whole body was read: the connection can be reused
        finally:
            await response.aclose()
            if done:
                self._give_back(conn)
            else:
                await conn.aclose()

    async def _ndjson(self, body: dict[str, object]) -> AsyncIterator[str]:
        """NDJSON: complete lines, one JSON object each; the body's end ends it."""
        conn, response = await self._post(body)
        text = self._text
        tail = b""
        done = False
        try:
            async for part in response.stream:  # type: ignore[union-attr]
                lines = (tail + part).split(b"\n") if tail else part.split(b"\n")
                tail = lines.pop()
                for line in lines:
                    yield text(json.loads(line))
            done = True
        finally:
            await response.aclose()
            if done:
                self._give_back(conn)
            else:
                await conn.aclose()

    async def _frames(self, body: dict[str, object]) -> AsyncIterator[str]:
        """Event-stream frames: the prelude's lengths, its CRC and the message CRC checked,
        the headers skipped (the payload says what it is), the payload decoded."""
        conn, response = await self._post(body)
        text = self._text
        prelude, crc = _PRELUDE.unpack_from, _CRC.unpack_from
        tail = b""
        done = False
        try:
            async for part in response.stream:  # type: ignore[union-attr]
                buf = tail + part if tail else part
                view = memoryview(buf)
                pos, size = 0, len(buf)
                while size - pos >= 12:
                    total, headers, check = prelude(buf, pos)
                    if crc32(view[pos : pos + 8]) != check:
                        raise ValueError("event stream: prelude CRC mismatch")
                    end = pos + total
                    if end > size:
                        break
                    if crc32(view[pos : end - 4]) != crc(buf, end - 4)[0]:
                        raise ValueError("event stream: message CRC mismatch")
                    yield text(json.loads(buf[pos + 12 + headers : end - 4]))
                    pos = end
                tail = buf[pos:]
            done = True
        finally:
            await response.aclose()
            if done:
                self._give_back(conn)
            else:
                await conn.aclose()

    async def open_stream(
        self, payload: dict[str, object]
    ) -> tuple[httpcore.AsyncHTTP11Connection, httpcore.Response, AsyncIterator[bytes]]:
        """Start a stream and return its connection, response and body iterator (the RSS
        scenario holds many of these open at once)."""
        conn, response = await self._post({**payload, "stream": True})
        return conn, response, response.stream.__aiter__()  # type: ignore[union-attr]

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.aclose()
