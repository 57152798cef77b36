"""Shared by the simulator's per-format tests: a raw HTTP/1.1 client over anyio + h11 (exactly
the bytes the simulator sent, one entry per HTTP chunk) and an SSE parser that keeps event
names (WHATWG rules, wire-formats §1.1)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import h11

from ritellm.testing import Simulator, ThreadedSimulator


@dataclass
class Raw:
    """One response as it came off the wire."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)  # the body, one item per HTTP chunk

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[tuple[str | None, str]]:
        """(event name, data) of each SSE event."""
        return sse(self.body)

    def data(self) -> list[Any]:
        """Each SSE event's data, parsed as JSON."""
        return [json.loads(data) for _, data in self.events()]


def sse(body: bytes) -> list[tuple[str | None, str]]:
    """Dispatch SSE events the way the WHATWG grammar does (any line ending, comments skipped,
    several ``data:`` lines joined with a newline)."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", body.decode()):
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "data":
                data.append(value)
            elif key == "event":
                name = value
    return events


async def raw(
    sim: Simulator,
    path: str,
    payload: object = None,
    *,
    method: str = "POST",
    body: bytes | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> Raw:
    """One request on a fresh connection; the response as sent."""
    if body is None:
        body = b"" if payload is None else json.dumps(payload).encode()
    conn = h11.Connection(h11.CLIENT)
    all_headers = [
        ("host", "127.0.0.1"),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("connection", "close"),
        *headers,
    ]
    request = h11.Request(method=method, target=path, headers=all_headers)
    out = b"".join(
        conn.send(event) or b"" for event in (request, h11.Data(data=body), h11.EndOfMessage())
    )
    async with await anyio.connect_tcp("127.0.0.1", sim.port) as stream:
        await stream.send(out)
        res: Raw | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    conn.receive_data(await stream.receive())
                except anyio.EndOfStream:
                    conn.receive_data(b"")
                continue
            if isinstance(event, h11.Response):
                decoded = {k.decode(): v.decode() for k, v in event.headers}
                res = Raw(event.status_code, decoded)
            elif isinstance(event, h11.Data):
                assert res is not None
                res.body += event.data
                if event.chunk_start or not res.chunks:
                    res.chunks.append(b"")
                res.chunks[-1] += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert res is not None
                return res
            else:
                raise AssertionError(f"unexpected h11 event {event!r}")


def raw_sync(
    sim: ThreadedSimulator,
    path: str,
    payload: object = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> Raw:
    """:func:`raw` for blocking tests (chunk boundaries are not kept)."""
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        body = None if payload is None else json.dumps(payload)
        conn.request(method, path, body, {"content-type": "application/json", **(headers or {})})
        res = conn.getresponse()
        return Raw(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
    finally:
        conn.close()
