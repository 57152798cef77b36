"""The floor: the least a client on ritellm's own stack can do per request — httpcore's
HTTP/1.1 connections in a minimal pool, one JSON encode per request and one JSON decode per
body or SSE event. ritellm is judged by its distance from this.

Deliberately minimal: no timeouts, retries, error mapping or validation. A list of idle
connections is the whole pool (new connections when it is empty, no limit), which is also
what makes it O(1) per request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpcore

__all__ = ["FloorPool"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class FloorPool:
    """POSTs to ``{base_url}/chat/completions`` over reused httpcore connections."""

    def __init__(self, base_url: str, api_key: str) -> None:
        parts = urlsplit(base_url + "/chat/completions")
        assert parts.hostname is not None
        assert parts.port is not None
        self._host = parts.hostname
        self._port = parts.port
        self._origin = httpcore.Origin(b"http", self._host.encode(), self._port)
        self._url = httpcore.URL(
            scheme=b"http", host=self._host.encode(), port=self._port, target=parts.path.encode()
        )
        self._headers = [
            (b"Host", f"{self._host}:{self._port}".encode()),
            (b"Content-Type", b"application/json"),
            (b"Authorization", b"Bearer " + api_key.encode()),
        ]
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

    async def stream(self, payload: dict[str, object]) -> AsyncIterator[str]:
        """One streaming request; yields each chunk's delta content (``""`` when absent).

        SSE is split minimally: complete lines, ``data: `` prefix, ``[DONE]`` ends it.
        """
        conn, response = await self._post({**payload, "stream": True})
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
                        done = True
                        continue
                    choices = json.loads(data)["choices"]
                    yield (choices[0]["delta"].get("content") or "") if choices else ""
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
