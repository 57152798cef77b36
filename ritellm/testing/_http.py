"""One connection's HTTP/1.1 mechanics for the simulator: h11 events in, a `Plan` out, with the
transport faults (reset budget, drip, stall, truncate, no response, close) applied on the wire.
Imports anyio, h11 and this package; never trio, asyncio or httpcore.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import anyio
import h11
from anyio.abc import SocketAttribute, SocketStream

from ._replies import RecordedRequest
from ._wire import REASONS, Plan

__all__ = [
    "BAD_REQUEST",
    "CLOSE",
    "GONE",
    "GONE_ERRORS",
    "KEEP",
    "LINGER",
    "RESET",
    "Conn",
    "Writer",
    "close_gracefully",
    "next_event",
    "record",
    "send_plan",
    "set_rst_on_close",
    "wait_until_gone",
]

_MAX_READ = 65536
LINGER = 1.0  # seconds to wait for the client's FIN after ours, so every byte is delivered
_DRIP_DELAY = 0.001
_CONTINUE = h11.InformationalResponse(status_code=100, headers=[])
_BAD_REQUEST_BODY = (
    b'{"error":{"message":"Malformed HTTP request.","type":"invalid_request_error",'
    b'"param":null,"code":"malformed_http"}}'
)
BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BAD_REQUEST_BODY), _BAD_REQUEST_BODY)
)
# What a client going away looks like from our side; never worth more than a debug line.
GONE_ERRORS = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    ConnectionError,
)


class Reset(Exception):
    """Internal: the reply's byte budget is spent; abort the connection with an RST."""


class Conn:
    """One accepted connection."""

    __slots__ = ("closed", "h11", "idle", "stream")

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.SERVER)
        self.idle = False  # waiting for the next request with nothing buffered
        self.closed = anyio.Event()

    def send(self, event: h11.Event) -> bytes:
        data = self.h11.send(event)
        assert data is not None  # None only for h11.ConnectionClosed, which we never send
        return data


# What to do with a connection after a response.
KEEP, CLOSE, GONE, RESET = "keep", "close", "gone", "reset"


async def send_plan(conn: Conn, plan: Plan, out: Writer, latency: float) -> str:
    """Write ``plan`` on ``conn`` with its reply's latency and faults; returns what to do
    with the connection next (KEEP, CLOSE, GONE or RESET)."""
    reply = plan.reply
    fault = reply.fault if reply is not None else None
    if fault == "no_response":
        await wait_until_gone(conn.stream)
        return GONE
    latency += reply.latency if reply is not None else 0.0
    if latency:
        # Wait, but notice a client that gives up meanwhile (as a real server's
        # cancelled generation would), so a cancelled request doesn't stay "in flight".
        # (Pipelined requests are not supported, so nothing else can arrive here.)
        with anyio.move_on_after(latency):
            await wait_until_gone(conn.stream)
            return GONE
    if reply is not None and fault == "reset":
        out.budget = reply.reset_after
    elif reply is not None and fault == "drip":
        out.drip = reply.delay or _DRIP_DELAY
    send = conn.send
    try:
        headers = list(plan.headers)
        if plan.body is not None:
            headers.append((b"content-length", b"%d" % len(plan.body)))
        reason = REASONS.get(plan.status, b"")
        head = send(h11.Response(status_code=plan.status, headers=headers, reason=reason))
        if plan.body is not None:
            body = plan.body
            if fault == "stall":
                await out.write(head)
                await wait_until_gone(conn.stream)
                return GONE
            if fault == "truncate":  # the declared length never arrives
                await out.write(head + body[: len(body) // 2])
                return CLOSE
            data = send(h11.Data(data=body)) if body else b""
            if fault == "drip":
                await out.write(head)
                await out.write(data, body=True, last=True)
            else:
                await out.write(head + data, last=True)
            send(h11.EndOfMessage())
        else:
            await _send_events(conn, plan, out, head)
        if fault == "reset":  # the budget outlasted the response: reset anyway
            raise Reset
    except Reset:
        return RESET
    if fault == "stall":
        return GONE
    return CLOSE if fault == "close" else KEEP


async def _send_events(conn: Conn, plan: Plan, out: Writer, head: bytes) -> None:
    send = conn.send
    events = plan.events or ()
    reply = plan.reply
    if reply is not None and reply.canned:
        data = send(h11.Data(data=b"".join(events)))
        end = send(h11.EndOfMessage())
        await out.write(head + data + end, body=True, last=True)
        return
    await out.write(head)
    fault = reply.fault if reply is not None else None
    stall_at = reply.stall_after if reply is not None and fault == "stall" else -1
    delay = reply.delay if reply is not None and fault != "drip" else 0.0
    last = len(events) - 1
    for i, event in enumerate(events):
        if i == stall_at:
            await wait_until_gone(conn.stream)
            return
        if i and delay:
            await anyio.sleep(delay)
        data = send(h11.Data(data=event))
        if i == last and stall_at < 0:
            # The terminator rides with the last event, so a client that stops reading at
            # [DONE] still finds the message complete and can reuse the connection.
            await out.write(data + send(h11.EndOfMessage()), body=True, last=True)
            return
        await out.write(data, body=True)
    if stall_at >= 0:  # stall_after >= the number of events: stall before the terminator
        await wait_until_gone(conn.stream)
        return
    await out.write(send(h11.EndOfMessage()), body=True, last=True)


async def next_event(conn: Conn, at_start: bool = False) -> h11.Event:
    """The next h11 event, reading from the socket as needed."""
    while True:
        event = conn.h11.next_event()
        if event is not h11.NEED_DATA:
            assert not isinstance(event, type)
            return event
        if conn.h11.they_are_waiting_for_100_continue:
            await conn.stream.send(conn.send(_CONTINUE))
        conn.idle = at_start and not conn.h11.trailing_data[0]
        try:
            data = await receive(conn.stream)
        finally:
            conn.idle = False
        conn.h11.receive_data(data)


async def close_gracefully(conn: Conn) -> None:
    """End a connection with a FIN and let the client read everything."""
    # FIN first, then wait briefly for the client's: closing at once could discard
    # bytes still queued in the transport, or turn into an RST if the client sent more.
    try:
        await conn.stream.send_eof()
    except OSError:
        return
    with anyio.move_on_after(LINGER):
        await wait_until_gone(conn.stream)


class Writer:
    """Writes one response: spends the ``reset`` fault's byte budget, drips the body one byte
    per write for ``drip``, and calls ``on_done`` (the server ends the request's in-flight
    count there) before the last write, so a client that has the whole answer also sees
    ``stats.in_flight`` without it."""

    __slots__ = ("budget", "drip", "on_done", "stream")

    def __init__(self, stream: SocketStream, on_done: Callable[[], None] | None) -> None:
        self.stream = stream
        self.on_done = on_done
        self.budget: int | None = None
        self.drip: float | None = None

    def release(self) -> None:
        """Run ``on_done`` (once)."""
        on_done, self.on_done = self.on_done, None
        if on_done is not None:
            on_done()

    async def write(self, data: bytes, body: bool = False, last: bool = False) -> None:
        if last:
            self.release()
        if self.budget is not None:
            if len(data) >= self.budget:
                if self.budget:
                    await self._send(data[: self.budget], body)
                raise Reset
            self.budget -= len(data)
        await self._send(data, body)

    async def _send(self, data: bytes, body: bool) -> None:
        if self.drip is None or not body:
            await self.stream.send(data)
            return
        for i in range(len(data)):
            if i:
                await anyio.sleep(self.drip)
            await self.stream.send(data[i : i + 1])


async def receive(stream: SocketStream) -> bytes:
    try:
        return await stream.receive(_MAX_READ)
    except (anyio.EndOfStream, anyio.BrokenResourceError):
        return b""  # h11 turns this into ConnectionClosed (or a protocol error mid-request)


async def wait_until_gone(stream: SocketStream) -> None:
    """Read and discard until the client closes (stall / no-response faults)."""
    while await receive(stream):
        pass


def set_rst_on_close(stream: SocketStream) -> None:
    # SO_LINGER (on, 0 s): close() discards unsent data and sends RST instead of FIN.
    sock = stream.extra(SocketAttribute.raw_socket, None)
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def record(request: h11.Request, body: bytes) -> RecordedRequest:
    target = request.target.decode("latin-1")
    path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    return RecordedRequest(
        method=request.method.decode("latin-1"),
        path=path,
        query=query,
        headers=headers,
        body=body,
        json=parsed,
    )
