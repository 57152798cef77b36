"""The benchmark's own canned HTTP/1.1 server, run in a separate process:
``python -m benchmarks._server --streams 200,20000 --drips 5000``.

Two listeners, announced as one JSON line on stdout (``{"canned": port, "paced": port}``):

- *canned* (asyncio ``Protocol``, no HTTP library): every response is prebuilt bytes written
  in one call, so the server costs a few µs per request and is never the bottleneck. Routes
  are chosen by a path prefix, because every client appends ``/chat/completions`` to its
  base URL: ``/json/v1`` (a chat.completion), ``/s{N}/v1`` (a stream of N chunks with a
  Content-Length, arriving in large reads like nginx's static files), ``/hold/v1`` (headers
  and one event, then the stream stays open until the client leaves: the RSS scenario).
  The same streams in the other wire formats, at the paths their clients build from a base
  URL that is the server root: ``/a{N}/v1/messages`` (Anthropic Messages) and
  ``/g{N}/v1beta/models/<model>:streamGenerateContent?alt=sse`` (Gemini; without
  ``alt=sse`` Gemini would stream a JSON array, so that is a 404 here); and the native
  formats that are not SSE: ``/o{N}/api/chat`` (Ollama's NDJSON) and
  ``/b{N}/model/<modelId>/converse-stream`` (Bedrock's binary event stream).
- *paced* (a blocking thread per connection): ``/drip{N}/v1`` writes each event of a chunked
  stream in its own ``send()`` with a pause in between, the way a provider emits tokens, so
  the client sees one event per read; ``/ttfb/v1`` sends the headers, waits, then one event
  whose content is ``time.monotonic_ns()`` taken just before the write (CLOCK_MONOTONIC is
  system-wide on Linux, so the client can subtract it from its own clock).

Standard library only (plus the pure ``_payloads`` modules; the Bedrock frames come from the
simulator's standard-library encoder, imported at start-up when a Bedrock stream is served):
nothing here may slow down or share an interpreter with the client being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from ._payloads import (
    anthropic_body,
    chunk_event,
    completion_body,
    gemini_body,
    stream_body,
    stream_events,
)
from ._payloads_native import bedrock_body, ollama_body

__all__ = ["main"]

# The route's name is the first path segment; exactly one group matches.
_PATH = re.compile(
    rb"^/(?:(json|hold|ttfb|s\d+|drip\d+)/v1/chat/completions"
    rb"|(a\d+)/v1/messages"
    rb"|(g\d+)/v1beta/models/[\w.-]+:streamGenerateContent\?alt=sse"
    rb"|(o\d+)/api/chat"
    rb"|(b\d+)/model/[^/?]+/converse-stream)$"
)
_JSON_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
_SSE_LENGTH_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n"
)
_ANTHROPIC_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"request-id: req_011CTvQ7T1GrzyYJz5MZ7VsV\r\ncontent-length: %d\r\n\r\n"
)
_NDJSON_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: %d\r\n\r\n"
)
_EVENTSTREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
    b"x-amzn-requestid: 5d3c6c5e-1f0b-4a39-9c5e-0b1a6e4d2f7a\r\ncontent-length: %d\r\n\r\n"
)
_SSE_CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
_BAD = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _route(path: bytes) -> bytes:
    """The route's name (``s200``, ``a20000``, ...) of a request path, or b"" when none."""
    match = _PATH.match(path)
    if match is None or match.lastindex is None:
        return b""
    name: bytes = match.group(match.lastindex)
    return name


def _parse_head(head: bytes) -> tuple[bytes, int] | None:
    """(path, content-length) of a request head, or None when it is not one we serve
    (no chunked request bodies: every client under test sends a Content-Length)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            return None
    return parts[1], length


class _Canned(asyncio.Protocol):
    """One keep-alive connection of the canned listener."""

    def __init__(self, routes: dict[bytes, bytes]) -> None:
        self._routes = routes
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        transport = self._transport
        assert transport is not None
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            parsed = _parse_head(buf[:end])
            if parsed is None:
                transport.write(_BAD)
                transport.close()
                return
            path, length = parsed
            total = end + 4 + length
            if len(buf) < total:
                break  # the body is still on its way
            buf = buf[total:]
            response = self._routes.get(_route(path))
            transport.write(response if response is not None else _NOT_FOUND)
        self._buf = buf


# wire format -> (route prefix, response head, body of a stream of n chunks)
_STREAMS: dict[str, tuple[bytes, bytes, Callable[[int], bytes]]] = {
    "openai": (b"s", _SSE_LENGTH_HEAD, stream_body),
    "anthropic": (b"a", _ANTHROPIC_HEAD, anthropic_body),
    "gemini": (b"g", _SSE_LENGTH_HEAD, gemini_body),
    "ollama": (b"o", _NDJSON_HEAD, ollama_body),
    "bedrock": (b"b", _EVENTSTREAM_HEAD, bedrock_body),
}


def _canned_routes(sizes: dict[str, list[int]]) -> dict[bytes, bytes]:
    body = completion_body()
    routes = {b"json": _JSON_HEAD % len(body) + body}
    for wire, (prefix, head, make) in _STREAMS.items():
        for n in sizes.get(wire, []):
            stream = make(n)
            routes[prefix + b"%d" % n] = head % len(stream) + stream
    # Headers and the first event, then nothing: the response never completes.
    routes[b"hold"] = _SSE_CHUNKED_HEAD + _chunk(chunk_event({"role": "assistant", "content": ""}))
    return routes


class _Paced:
    """The paced listener: one blocking thread per connection, so a pause between two writes
    is a precise ``time.sleep`` rather than an event-loop timer (1 ms granularity)."""

    def __init__(self, gap: float) -> None:
        self._gap = gap
        self._drips: dict[int, list[bytes]] = {}
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=1024)

    def add_drip(self, n: int) -> None:
        self._drips[n] = [_chunk(e) for e in stream_events(n)]

    def serve_forever(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        # Small writes must leave at once: without TCP_NODELAY, Nagle would hold an event
        # back until the previous one is acknowledged and the client would see batches.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        with conn, contextlib.suppress(OSError):
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    continue
                parsed = _parse_head(buf[:end])
                if parsed is None:
                    conn.sendall(_BAD)
                    return
                path, length = parsed
                while len(buf) < end + 4 + length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[end + 4 + length :]
                name = _route(path)
                if name == b"ttfb":
                    self._ttfb(conn)
                elif name.startswith(b"drip") and int(name[4:]) in self._drips:
                    self._drip(conn, self._drips[int(name[4:])])
                else:
                    conn.sendall(_NOT_FOUND)

    def _drip(self, conn: socket.socket, events: list[bytes]) -> None:
        conn.sendall(_SSE_CHUNKED_HEAD)
        gap = self._gap
        for event in events:
            time.sleep(gap)
            conn.sendall(event)
        conn.sendall(b"0\r\n\r\n")

    def _ttfb(self, conn: socket.socket) -> None:
        conn.sendall(_SSE_CHUNKED_HEAD + _chunk(chunk_event({"role": "assistant", "content": ""})))
        # Let the client settle into waiting for the next read, as it would while a real
        # model thinks; then stamp and send the first content event.
        time.sleep(0.002)
        head, tail = chunk_event({"content": "@"}).split(b"@")
        stamp = time.monotonic_ns()
        conn.sendall(_chunk(head + b"%d" % stamp + tail))
        time.sleep(0.001)
        conn.sendall(_chunk(chunk_event({}, "stop")) + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    routes = _canned_routes(
        {
            "openai": _sizes(args.streams),
            **{wire: _sizes(getattr(args, wire)) for wire in _STREAMS if wire != "openai"},
        }
    )
    server = await loop.create_server(lambda: _Canned(routes), "127.0.0.1", args.port, backlog=4096)
    paced = _Paced(args.drip_gap_us / 1e6)
    for n in _sizes(args.drips):
        paced.add_drip(n)
    threading.Thread(target=paced.serve_forever, daemon=True).start()
    canned_port = server.sockets[0].getsockname()[1]
    print(json.dumps({"canned": canned_port, "paced": paced.sock.getsockname()[1]}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--port", type=int, default=0, help="canned listener port (0: any)")
    parser.add_argument("--streams", default="200", help="canned stream sizes, e.g. 200,20000")
    parser.add_argument("--anthropic", default="", help="canned Anthropic stream sizes")
    parser.add_argument("--gemini", default="", help="canned Gemini stream sizes")
    parser.add_argument("--ollama", default="", help="canned Ollama (NDJSON) stream sizes")
    parser.add_argument("--bedrock", default="", help="canned Bedrock (event stream) sizes")
    parser.add_argument("--drips", default="", help="drip-fed stream sizes, e.g. 5000")
    parser.add_argument(
        "--drip-gap-us", type=float, default=100.0, help="pause before each dripped event"
    )
    args = parser.parse_args(argv)
    # The RSS scenario holds 1,000+ connections open at once.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
