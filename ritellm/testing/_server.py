"""The simulator: anyio TCP listener, one task per connection, keep-alive, routing, auth, rate
limiting, the reply script and the public `Simulator` API (the wire mechanics are in ``_http``).
Imports anyio, h11 and attrs; never trio, asyncio or httpcore.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

import anyio
import attrs
import h11
from anyio.abc import SocketAttribute, SocketListener, TaskGroup

from ._http import (
    BAD_REQUEST,
    CLOSE,
    GONE,
    GONE_ERRORS,
    KEEP,
    LINGER,
    RESET,
    Conn,
    Writer,
    close_gracefully,
    next_event,
    record,
    send_plan,
    set_rst_on_close,
)
from ._limits import TokenBucket, without_quota_headers
from ._replies import RecordedRequest, Reply, ReplyScript
from ._routes import FALLBACK, ROUTES, match
from ._thread import ThreadedSimulator, run_in_thread
from ._wire import Endpoint, HeaderList, Plan

__all__ = ["Simulator", "SimulatorStats"]

log = logging.getLogger("ritellm.testing")


@attrs.define
class SimulatorStats:
    """Live counters, updated by the server as it works: ``open_connections`` now and
    ``total_connections`` ever accepted; ``requests`` received; ``in_flight``, requests read
    and not yet fully answered (stalled answers count), and its peak ``max_in_flight``;
    ``rate_limited``, 429s sent by the rate limiter (not scripted 429s)."""

    open_connections: int = 0
    total_connections: int = 0
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    rate_limited: int = 0


class Simulator:
    """A local HTTP/1.1 server speaking OpenAI chat completions, Anthropic Messages, Google
    Gemini, Azure OpenAI, Ollama and Bedrock (routes in the ``ritellm.testing`` docstring).

    Use ``async with Simulator() as sim`` (or :meth:`start_in_thread` from blocking code).
    It binds ``host:port`` (port 0 picks a free one) and serves in a task group it owns;
    leaving the block closes the listener and every connection.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        api_key: when set, requests must carry this key the way their format does (OpenAI
            ``Authorization: Bearer``, Anthropic ``x-api-key``, Gemini ``x-goog-api-key`` or
            ``?key=``, Azure ``api-key``), else they get that format's auth error.
        rate_limit: requests per second (a token bucket); beyond it the answer is the
            format's 429 (OpenAI/Azure: ``retry-after``, ``retry-after-ms`` and
            ``x-ratelimit-*``; Anthropic: ``anthropic-ratelimit-requests-*`` and
            ``retry-after``; Gemini: RESOURCE_EXHAUSTED with a RetryInfo ``retryDelay``).
            Every answer carries the format's rate-limit headers.
        rate_burst: the bucket's size, i.e. the most requests accepted at once (default
            ``max(1, rate_limit)``; at least 1).
        rate_headers: False leaves out the ``x-ratelimit-*`` / ``anthropic-ratelimit-*``
            headers (a provider that only says when to retry, in ``retry-after``).
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
        rate_burst: float | None = None,
        rate_headers: bool = True,
        default: Reply | None = None,
        latency: float = 0.0,
        record_requests: bool = True,
    ) -> None:
        self.host = host
        self._port = port
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.rate_headers = rate_headers
        if rate_burst is not None and rate_limit is None:
            raise ValueError("rate_burst needs a rate_limit")
        self._bucket = TokenBucket(rate_limit, rate_burst) if rate_limit is not None else None
        self.default: Reply = default if default is not None else Reply()
        self.latency = latency
        self.record_requests = record_requests
        self.requests: list[RecordedRequest] = []
        self.stats = SimulatorStats()
        self._script = ReplyScript()
        self._seq = 0
        self._conns: set[Conn] = set()
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
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:PORT``: the base URL for Anthropic
        (``base_url=``), Gemini (``HttpOptions(base_url=...)``) and Azure
        (``azure_endpoint=``) clients."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

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
        rate_burst: float | None = None,
        rate_headers: bool = True,
        default: Reply | None = None,
        latency: float = 0.0,
        record_requests: bool = True,
        backend: str = "asyncio",
    ) -> Iterator[ThreadedSimulator]:
        """Run a simulator in a daemon thread (its own event loop) for blocking code.

        Same arguments as :class:`Simulator` (``host``, ``port``, ``api_key``, ``rate_limit``,
        ``rate_burst``, ``rate_headers``, ``default``, ``latency``, ``record_requests``), plus
        ``backend``, the thread's event loop ("asyncio" or "trio").
        Yields a :class:`ThreadedSimulator` with the same attributes; leaving the block stops
        the server and joins the thread.
        """
        sim = cls(
            host,
            port,
            api_key=api_key,
            rate_limit=rate_limit,
            rate_burst=rate_burst,
            rate_headers=rate_headers,
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
            conn = Conn(stream)
            self._conns.add(conn)
            self.stats.open_connections += 1
            self.stats.total_connections += 1
            self._notify()
            tg.start_soon(self._serve_connection, conn)

    def _forget(self, conn: Conn) -> None:
        if conn in self._conns:
            self._conns.discard(conn)
            self.stats.open_connections -= 1
            conn.closed.set()
            self._notify()

    async def _serve_connection(self, conn: Conn) -> None:
        stream = conn.stream
        outcome = GONE
        try:
            outcome = await self._connection_loop(conn)
            if outcome == CLOSE:
                await close_gracefully(conn)
        except h11.RemoteProtocolError as exc:
            log.debug("ritellm simulator: bad request: %s", exc)
            with anyio.move_on_after(LINGER):
                try:
                    await stream.send(BAD_REQUEST)
                except (*GONE_ERRORS, OSError):
                    pass
        except GONE_ERRORS as exc:
            log.debug("ritellm simulator: client went away: %r", exc)
        except Exception:
            log.exception("ritellm simulator: unexpected error, closing the connection")
        finally:
            with anyio.CancelScope(shield=True):
                if outcome == RESET:
                    set_rst_on_close(stream)
                await stream.aclose()
            self._forget(conn)

    async def _connection_loop(self, conn: Conn) -> str:
        while True:
            event = await next_event(conn, at_start=True)
            if not isinstance(event, h11.Request):
                return GONE  # the client closed: nothing left to deliver
            body = bytearray()
            while True:
                part = await next_event(conn)
                if isinstance(part, h11.Data):
                    body += part.data
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return GONE
            outcome = await self._answer(conn, event, bytes(body))
            if outcome != KEEP:
                return outcome
            if conn.h11.our_state is h11.MUST_CLOSE:
                return CLOSE
            conn.h11.start_next_cycle()

    # -- requests ------------------------------------------------------------------------

    async def _answer(self, conn: Conn, request: h11.Request, body: bytes) -> str:
        rec = record(request, body)
        if self.record_requests:
            self.requests.append(rec)
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        self._notify()
        out = Writer(conn.stream, self._request_done)
        try:
            self._seq += 1
            endpoint = ROUTES.get(rec.path) or match(rec.path)
            try:
                plan = self._plan(rec, endpoint, self._seq)
            except Exception:
                log.exception("ritellm simulator: failed to build a response")
                plan = (endpoint or FALLBACK).error(500, seq=self._seq)
            return await send_plan(conn, plan, out, self.latency)
        finally:
            out.release()

    def _request_done(self) -> None:
        self.stats.in_flight -= 1
        self._notify()

    def _plan(self, rec: RecordedRequest, endpoint: Endpoint | None, seq: int) -> Plan:
        if endpoint is None:
            return FALLBACK.not_found(rec, seq)
        if rec.method not in endpoint.methods:
            return endpoint.method_not_allowed(rec, seq)
        if self.api_key is not None and not endpoint.authorized(rec, self.api_key):
            return endpoint.unauthorized(rec, seq)
        now = int(time.time())
        limit_headers: HeaderList = ()
        if self._bucket is not None:
            quota = self._bucket.acquire(anyio.current_time())
            if quota.wait:
                self.stats.rate_limited += 1
                refused = endpoint.rate_limited(rec, quota, seq, now)
                if not self.rate_headers:
                    refused = attrs.evolve(refused, headers=without_quota_headers(refused.headers))
                return refused
            if self.rate_headers:
                limit_headers = endpoint.quota_headers(quota, now)
        override = rec.headers.get("x-ritellm-sim")
        next_reply: Callable[[], Reply]
        if override is None:
            next_reply = self._next_reply
        else:
            try:
                chosen = Reply.from_json(override)
            except ValueError as exc:
                return endpoint.error(
                    400, message=str(exc), code="invalid_simulator_header", seq=seq
                )
            next_reply = lambda: chosen  # noqa: E731
        plan = endpoint.respond(rec, next_reply, seq, now)
        if limit_headers:
            plan = attrs.evolve(plan, headers=[*plan.headers, *limit_headers])
        return plan

    def _next_reply(self) -> Reply:
        return self._script.pop(self.default)
