"""The simulator's HTTP/1.1 server: anyio TCP listener, one h11 state machine per connection,
keep-alive, routing, auth, rate limiting and the transport-level faults.
Imports anyio, h11 and attrs; never trio, asyncio or httpcore.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import h11
from anyio.abc import SocketAttribute, SocketListener, SocketStream, TaskGroup

from . import _openai
from ._limits import TokenBucket
from ._replies import RecordedRequest, Reply, ReplyScript
from ._wire import REASONS, Endpoint, HeaderList, Plan

if TYPE_CHECKING:
    from ._thread import ThreadedSimulator

__all__ = ["Simulator", "SimulatorStats"]

log = logging.getLogger("ritellm.testing")

# path -> endpoint. Other provider formats (Anthropic /v1/messages, Gemini, Ollama) add rows.
ROUTES: dict[str, Endpoint] = {**_openai.ROUTES}
_FALLBACK: Endpoint = _openai.CHAT  # formats 404s for paths no route serves

_MAX_READ = 65536
_LINGER = 1.0  # seconds to wait for the client's FIN after ours, so every byte is delivered
_DRIP_DELAY = 0.001
_CONTINUE = h11.InformationalResponse(status_code=100, headers=[])
_BAD_REQUEST_BODY = (
    b'{"error":{"message":"Malformed HTTP request.","type":"invalid_request_error",'
    b'"param":null,"code":"malformed_http"}}'
)
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BAD_REQUEST_BODY), _BAD_REQUEST_BODY)
)
# What a client going away looks like from our side; never worth more than a debug line.
_GONE_ERRORS = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    ConnectionError,
)


@attrs.define
class SimulatorStats:
    """Live counters, updated by the server as it works."""

    open_connections: int = 0
    total_connections: int = 0
    requests: int = 0
    in_flight: int = 0
    """Requests read and not yet fully answered (stalled answers count)."""
    max_in_flight: int = 0
    rate_limited: int = 0
    """429s sent by the rate limiter (not scripted 429s)."""


class _Reset(Exception):
    """Internal: the reply's byte budget is spent; abort the connection with an RST."""


class _Conn:
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
_KEEP, _CLOSE, _GONE, _RESET = "keep", "close", "gone", "reset"


class Simulator:
    """A local HTTP/1.1 server speaking OpenAI's chat-completions wire format.

    Use ``async with Simulator() as sim`` (or :meth:`start_in_thread` from blocking code).
    It binds ``host:port`` (port 0 picks a free one) and serves in a task group it owns;
    leaving the block closes the listener and every connection.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        api_key: when set, requests must send ``Authorization: Bearer <api_key>`` (else 401).
        rate_limit: requests per second (token bucket, burst ``max(1, rate)``); beyond it the
            answer is a 429 with ``retry-after``, ``retry-after-ms`` and ``x-ratelimit-*``.
        default: the reply used when the script is empty (default: ``Reply()``).
        latency: seconds added before every response, on top of ``Reply.latency``.
        record_requests: keep every request in :attr:`requests` (turn off for long benchmarks).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        rate_limit: float | None = None,
        default: Reply | None = None,
        latency: float = 0.0,
        record_requests: bool = True,
    ) -> None:
        self.host = host
        self._port = port
        self.api_key = api_key
        self.rate_limit = rate_limit
        self._bucket = TokenBucket(rate_limit) if rate_limit is not None else None
        self.default: Reply = default if default is not None else Reply()
        self.latency = latency
        self.record_requests = record_requests
        self.requests: list[RecordedRequest] = []
        self.stats = SimulatorStats()
        self._script = ReplyScript()
        self._seq = 0
        self._conns: set[_Conn] = set()
        self._changed: anyio.Event | None = None
        self._listeners: list[SocketListener] = []
        self._tg: TaskGroup | None = None

    # -- public API ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (available once the simulator is running)."""
        if not self._listeners:
            raise RuntimeError("the simulator is not running: use `async with Simulator()`")
        port: int = self._listeners[0].extra(SocketAttribute.local_port)
        return port

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat requests, first in first out."""
        self._script.push(replies)

    @property
    def pending_replies(self) -> int:
        """How many scripted replies have not been used yet."""
        return len(self._script)

    def reset_stats(self) -> None:
        """Zero the cumulative counters (the live ones, open/in-flight, are kept)."""
        s = self.stats
        s.total_connections = s.requests = s.rate_limited = 0
        s.max_in_flight = s.in_flight

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def wait_until(self, predicate: Callable[[SimulatorStats], bool]) -> None:
        """Wait, without polling, until ``predicate(sim.stats)`` holds (it is re-checked
        whenever a connection opens or closes or a request starts or ends). Bound it with
        your own timeout, e.g. ``with anyio.fail_after(5): await sim.wait_until(...)``."""
        while not predicate(self.stats):
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    async def drop_idle_connections(self) -> int:
        """Close, from the server side, every keep-alive connection waiting for a request.

        Returns once those sockets are closed; returns how many there were.
        """
        idle = [c for c in self._conns if c.idle]
        for conn in idle:
            # The handler is parked in receive(); closing the stream wakes it with
            # ClosedResourceError and it cleans up quietly. (A flag, not a cancel scope per
            # request: scopes are costly on asyncio and this path is per request.)
            await conn.stream.aclose()
        for conn in idle:
            await conn.closed.wait()
        return len(idle)

    @classmethod
    @contextmanager
    def start_in_thread(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        rate_limit: float | None = None,
        default: Reply | None = None,
        latency: float = 0.0,
        record_requests: bool = True,
        backend: str = "asyncio",
    ) -> Iterator[ThreadedSimulator]:
        """Run a simulator in a daemon thread (its own event loop) for blocking code.

        Same arguments as :class:`Simulator`, plus ``backend`` ("asyncio" or "trio").
        Yields a :class:`ThreadedSimulator` with the same attributes; leaving the block stops
        the server and joins the thread.
        """
        from ._thread import run_in_thread

        sim = cls(
            host,
            port,
            api_key=api_key,
            rate_limit=rate_limit,
            default=default,
            latency=latency,
            record_requests=record_requests,
        )
        with run_in_thread(sim, backend) as threaded:
            yield threaded

    async def __aenter__(self) -> Simulator:
        if self._tg is not None:
            raise RuntimeError("this Simulator is already running")
        multi = await anyio.create_tcp_listener(local_host=self.host, local_port=self._port)
        self._listeners = [x for x in multi.listeners if isinstance(x, SocketListener)]
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        for listener in self._listeners:
            tg.start_soon(self._accept_loop, listener, tg)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        assert tg is not None
        tg.cancel_scope.cancel()
        try:
            # Not the body's exception: a task group would wrap it in an ExceptionGroup.
            await tg.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                for listener in self._listeners:
                    await listener.aclose()
                # A connection accepted as shutdown began may never have run its handler.
                for conn in list(self._conns):
                    await conn.stream.aclose()
                    self._forget(conn)

    # -- connections ---------------------------------------------------------------------

    async def _accept_loop(self, listener: SocketListener, tg: TaskGroup) -> None:
        while True:
            try:
                stream = await listener.accept()
            except anyio.ClosedResourceError:
                return
            except OSError as exc:  # e.g. out of file descriptors: back off, keep serving
                log.warning("ritellm simulator: accept failed: %s", exc)
                await anyio.sleep(0.05)
                continue
            conn = _Conn(stream)
            self._conns.add(conn)
            self.stats.open_connections += 1
            self.stats.total_connections += 1
            self._notify()
            tg.start_soon(self._serve_connection, conn)

    def _forget(self, conn: _Conn) -> None:
        if conn in self._conns:
            self._conns.discard(conn)
            self.stats.open_connections -= 1
            conn.closed.set()
            self._notify()

    async def _serve_connection(self, conn: _Conn) -> None:
        stream = conn.stream
        outcome = _GONE
        try:
            outcome = await self._connection_loop(conn)
            if outcome == _CLOSE:
                await self._close_gracefully(conn)
        except h11.RemoteProtocolError as exc:
            log.debug("ritellm simulator: bad request: %s", exc)
            with anyio.move_on_after(_LINGER):
                try:
                    await stream.send(_BAD_REQUEST)
                except (*_GONE_ERRORS, OSError):
                    pass
        except _GONE_ERRORS as exc:
            log.debug("ritellm simulator: client went away: %r", exc)
        except Exception:
            log.exception("ritellm simulator: unexpected error, closing the connection")
        finally:
            with anyio.CancelScope(shield=True):
                if outcome == _RESET:
                    _set_rst_on_close(stream)
                await stream.aclose()
            self._forget(conn)

    async def _connection_loop(self, conn: _Conn) -> str:
        while True:
            event = await self._next_event(conn, at_start=True)
            if not isinstance(event, h11.Request):
                return _GONE  # the client closed: nothing left to deliver
            body = bytearray()
            while True:
                part = await self._next_event(conn)
                if isinstance(part, h11.Data):
                    body += part.data
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return _GONE
            outcome = await self._answer(conn, event, bytes(body))
            if outcome != _KEEP:
                return outcome
            if conn.h11.our_state is h11.MUST_CLOSE:
                return _CLOSE
            conn.h11.start_next_cycle()

    async def _next_event(self, conn: _Conn, at_start: bool = False) -> h11.Event:
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
                data = await _receive(conn.stream)
            finally:
                conn.idle = False
            conn.h11.receive_data(data)

    async def _close_gracefully(self, conn: _Conn) -> None:
        # FIN first, then wait briefly for the client's: closing at once could discard
        # bytes still queued in the transport, or turn into an RST if the client sent more.
        try:
            await conn.stream.send_eof()
        except OSError:
            return
        with anyio.move_on_after(_LINGER):
            await _wait_until_gone(conn.stream)

    # -- requests ------------------------------------------------------------------------

    async def _answer(self, conn: _Conn, request: h11.Request, body: bytes) -> str:
        rec = _record(request, body)
        if self.record_requests:
            self.requests.append(rec)
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        self._notify()
        out = _Writer(conn.stream, stats, self._notify)
        try:
            try:
                plan = self._plan(rec)
            except Exception:
                log.exception("ritellm simulator: failed to build a response")
                plan = _FALLBACK.error(500)
            return await self._send(conn, plan, out)
        finally:
            out.release()

    def _plan(self, rec: RecordedRequest) -> Plan:
        endpoint = ROUTES.get(rec.path)
        if endpoint is None:
            return _FALLBACK.not_found(rec)
        if rec.method not in endpoint.methods:
            return endpoint.method_not_allowed(rec)
        if self.api_key is not None and not endpoint.authorized(rec, self.api_key):
            return endpoint.unauthorized(rec)
        limit_headers: HeaderList = ()
        if self._bucket is not None:
            wait, limit_headers = self._bucket.take(anyio.current_time())
            if wait:
                self.stats.rate_limited += 1
                message = (
                    f"Rate limit reached for requests in organization org-ritellm-sim on "
                    f"requests per second (RPS): Limit {self._bucket.rate:g}. Please try again "
                    f"in {math.ceil(wait * 1000)}ms."
                )
                return endpoint.error(429, message=message, headers=limit_headers)
        override = rec.headers.get("x-ritellm-sim")
        next_reply: Callable[[], Reply]
        if override is None:
            next_reply = self._next_reply
        else:
            try:
                chosen = Reply.from_json(override)
            except ValueError as exc:
                return endpoint.error(400, message=str(exc), code="invalid_simulator_header")
            next_reply = lambda: chosen  # noqa: E731
        self._seq += 1
        plan = endpoint.respond(rec, next_reply, self._seq, int(time.time()))
        if limit_headers:
            plan = attrs.evolve(plan, headers=[*plan.headers, *limit_headers])
        return plan

    def _next_reply(self) -> Reply:
        return self._script.pop(self.default)

    async def _send(self, conn: _Conn, plan: Plan, out: _Writer) -> str:
        reply = plan.reply
        fault = reply.fault if reply is not None else None
        if fault == "no_response":
            await _wait_until_gone(conn.stream)
            return _GONE
        latency = self.latency + (reply.latency if reply is not None else 0.0)
        if latency:
            # Wait, but notice a client that gives up meanwhile (as a real server's
            # cancelled generation would), so a cancelled request doesn't stay "in flight".
            # (Pipelined requests are not supported, so nothing else can arrive here.)
            with anyio.move_on_after(latency):
                await _wait_until_gone(conn.stream)
                return _GONE
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
                    await _wait_until_gone(conn.stream)
                    return _GONE
                if fault == "truncate":  # the declared length never arrives
                    await out.write(head + body[: len(body) // 2])
                    return _CLOSE
                data = send(h11.Data(data=body)) if body else b""
                if fault == "drip":
                    await out.write(head)
                    await out.write(data, body=True, last=True)
                else:
                    await out.write(head + data, last=True)
                send(h11.EndOfMessage())
            else:
                await self._send_events(conn, plan, out, head)
            if fault == "reset":  # the budget outlasted the response: reset anyway
                raise _Reset
        except _Reset:
            return _RESET
        if fault == "stall":
            return _GONE
        return _CLOSE if fault == "close" else _KEEP

    async def _send_events(self, conn: _Conn, plan: Plan, out: _Writer, head: bytes) -> None:
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
                await _wait_until_gone(conn.stream)
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
            await _wait_until_gone(conn.stream)
            return
        await out.write(send(h11.EndOfMessage()), body=True, last=True)


class _Writer:
    """Writes one response: spends the ``reset`` fault's byte budget, drips the body one byte
    per write for ``drip``, and ends the request's in-flight count before the last write (so
    a client that has the whole answer also sees ``stats.in_flight`` without it)."""

    __slots__ = ("budget", "drip", "notify", "stats", "stream")

    def __init__(
        self,
        stream: SocketStream,
        stats: SimulatorStats | None,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.stream = stream
        self.stats = stats
        self.notify = notify
        self.budget: int | None = None
        self.drip: float | None = None

    def release(self) -> None:
        if self.stats is not None:
            self.stats.in_flight -= 1
            self.stats = None
            if self.notify is not None:
                self.notify()

    async def write(self, data: bytes, body: bool = False, last: bool = False) -> None:
        if last:
            self.release()
        if self.budget is not None:
            if len(data) >= self.budget:
                if self.budget:
                    await self._send(data[: self.budget], body)
                raise _Reset
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


async def _receive(stream: SocketStream) -> bytes:
    try:
        return await stream.receive(_MAX_READ)
    except (anyio.EndOfStream, anyio.BrokenResourceError):
        return b""  # h11 turns this into ConnectionClosed (or a protocol error mid-request)


async def _wait_until_gone(stream: SocketStream) -> None:
    """Read and discard until the client closes (stall / no-response faults)."""
    while await _receive(stream):
        pass


def _set_rst_on_close(stream: SocketStream) -> None:
    # SO_LINGER (on, 0 s): close() discards unsent data and sends RST instead of FIN.
    sock = stream.extra(SocketAttribute.raw_socket, None)
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _record(request: h11.Request, body: bytes) -> RecordedRequest:
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
