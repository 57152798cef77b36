"""The connection pool of one event loop: slots, routes (direct or through a proxy), idle
connections (expiry, the check before reuse, a cap), sending a request up to its response
head, and closing what it holds (see ``_lifetime`` for when that happens by itself).

Why not ``httpcore.AsyncConnectionPool``: on this machine class it costs ~9,300 µs CPU per
request at 64 concurrent requests (work quadratic in the number of connections plus a socket
poll per idle connection per request); this pool does O(1) work per request and checks only
the one idle connection it is about to reuse. Imports anyio, h11 and this package; never
providers (and httpcore only through ``_conn``/``_connect``).
"""

from __future__ import annotations

import math
import ssl
import threading
import time
from collections.abc import Mapping

import anyio
import h11

from .._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
)
from .._options import DEFAULT_MAX_RESPONSE_BYTES, Timeouts
from .._types import HttpRequest
from ._conn import Connection, ServerClosed, build_request
from ._connect import open_connection, tls_context
from ._decode import Decoder, UnsupportedEncoding, decoder_for
from ._failures import IO_ERRORS, exchange_failure, proxy_refused
from ._lifetime import Sockets, watch
from ._proxy import Proxy, parse_proxy, proxy_rules
from ._response import Response
from ._route import Endpoint, Route

__all__ = ["DEFAULT_MAX_IDLE", "Transport"]

DEFAULT_MAX_IDLE = 128
# The most decompressed bytes one body read hands out (a stream's events are bounded by the
# provider's decoder; this bounds what a single network read can expand to).
_DECODE_CHUNK = 1 << 20
_SEND = "sending the request"
_WAIT = "waiting for the response"


class Transport:
    """A connection pool for one event loop.

    ``send`` returns a :class:`Response` holding one connection and one pool slot until the
    body is read to the end or the response is closed; then the connection goes back to the
    idle list (if reusable) and the slot is freed. Every exit path, cancellation included,
    closes or returns the connection.

    Args:
        max_connections: pool slots (connections lent out at once).
        max_idle_connections: idle keep-alive connections kept at most (0: none).
        keepalive_expiry: seconds an idle connection may wait for reuse.
        verify: verify TLS certificates, or the ``ssl.SSLContext`` to use.
        proxy: a proxy URL for every origin (the environment is then ignored).
        environ: the environment to read proxy settings from; None ignores it.
        max_response_bytes: the largest body :meth:`Response.aread` returns.

    Raises:
        ParameterError: ``proxy`` is not a usable proxy URL.
    """

    def __init__(
        self,
        *,
        max_connections: int = 256,
        max_idle_connections: int = DEFAULT_MAX_IDLE,
        keepalive_expiry: float = 30.0,
        verify: bool | ssl.SSLContext = True,
        proxy: str | None = None,
        environ: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._rules = proxy_rules(proxy, environ)
        self._max_connections = max_connections
        self._slots = anyio.Semaphore(max_connections)
        self._max_idle = max_idle_connections
        self._keepalive_expiry = keepalive_expiry
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._max_response_bytes = max_response_bytes
        self._sockets = Sockets()
        self._idle = self._sockets.idle
        self._graveyard = self._sockets.graveyard
        self._lent = self._sockets.lent
        self._idle_count = 0
        self._next_sweep = math.inf  # when the oldest idle connection expires
        self._routes: dict[str, Route] = {}
        self._proxied: dict[tuple[str, str], Route] = {}
        self._proxies: dict[str, Proxy] = {}
        self._active = 0
        self._closed = False
        self._hooked = False
        self._thread = threading.get_ident()

    # -- introspection (tests and leak checks use these) --------------------------------

    @property
    def active_connections(self) -> int:
        """Connections currently lent to a response."""
        return self._active

    @property
    def idle_connections(self) -> int:
        """Open keep-alive connections waiting for reuse."""
        return self._idle_count

    @property
    def free_slots(self) -> int:
        """Pool slots not held by any request (``max_connections`` when quiet)."""
        return self._slots.value

    @property
    def max_connections(self) -> int:
        """The pool size."""
        return self._max_connections

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    # -- routing -----------------------------------------------------------------------

    def _route(self, url: str, proxy: str | None) -> Route:
        if proxy is None:
            route = self._routes.get(url)
            if route is None:
                if len(self._routes) > 1024:
                    self._routes.clear()
                ep = Endpoint(url)
                chosen = self._rules.select(ep.scheme, ep.host, ep.port) if self._rules else None
                route = self._routes[url] = Route(ep, chosen)
            return route
        key = (url, proxy)
        route = self._proxied.get(key)
        if route is None:
            if len(self._proxied) > 1024:
                self._proxied.clear()
                self._proxies.clear()
            parsed = self._proxies.get(proxy)
            if parsed is None:
                parsed = self._proxies[proxy] = parse_proxy(proxy, "proxy=")
            route = self._proxied[key] = Route(Endpoint(url), parsed)
        return route

    # -- sending -----------------------------------------------------------------------

    async def send(
        self, request: HttpRequest, timeout: Timeouts, proxy: str | None = None
    ) -> Response:
        """Send ``request`` and return once the response headers have arrived.

        Args:
            request: the wire-ready request (the transport adds Host, Content-Length,
                Accept-Encoding and, for a forwarding proxy, Proxy-Authorization).
            timeout: ``connect``, ``write`` and ``pool`` apply here; callers bound the wait
                for the response with their own deadline.
            proxy: a proxy URL for this request, overriding the client's proxy settings.

        Raises:
            ParameterError: the URL, a header or the proxy URL is invalid (nothing is sent).
            APITimeoutError: connect/write/pool timeout.
            APIConnectionError: any other failure to connect, send or read the headers.
            APIResponseValidationError: a 2xx answer in a content coding ritellm cannot
                decode.
        """
        if self._closed:
            raise APIConnectionError("This ritellm client has been closed")
        if not self._hooked:
            self._hooked = True
            await watch(self, self._sockets)
        route = self._route(request.url, proxy)
        hreq = build_request(request, route)
        if time.monotonic() >= self._next_sweep:
            self._sweep()
        if self._graveyard:
            await self._bury()
        # The caller bounds sending and the wait for the response with one deadline per
        # attempt (Timeouts.read); a write timeout costs a timer per write, so it is set only
        # when it is shorter, i.e. when it can matter. Connecting has its own (Timeouts.connect).
        write = timeout.write
        if write is not None and timeout.read is not None and write >= timeout.read:
            write = None
        try:
            self._slots.acquire_nowait()  # no checkpoint when a slot is free (the usual case)
        except anyio.WouldBlock:
            await self._wait_for_slot(timeout.pool, route)
        conn: Connection | None = None
        phase = _SEND
        try:
            conn = self._checkout(route.key)
            if self._graveyard:  # it found closed ones: close them now
                await self._bury()
            if conn is None:
                if route.endpoint.tls and self._ssl_context is None:
                    self._ssl_context = tls_context(self._verify)
                conn = await open_connection(route, self._ssl_context, timeout.connect)
            await conn.send(hreq, request.body, write)
            phase = _WAIT
            head = await conn.receive_head()
        except BaseException as exc:
            if conn is not None:
                await conn.aclose()
            self._slots.release()
            if isinstance(exc, APIError):  # translated already (where it happened)
                raise
            if isinstance(exc, ServerClosed):
                raise APIConnectionError(
                    f"{route.where} closed the connection before answering"
                ) from exc
            if isinstance(exc, IO_ERRORS):
                raise exchange_failure(
                    exc,
                    route,
                    phase=phase,
                    eof=conn is not None and conn.eof,
                    write_timeout=write,
                ) from exc
            if isinstance(exc, h11.LocalProtocolError):
                # Our side broke HTTP: a bug (the request was validated above), never a
                # network problem worth a retry.
                raise APIError(
                    f"ritellm sent an invalid HTTP/1.1 request to {route.where}: {exc}"
                ) from exc
            raise
        decoder: Decoder | None = None
        length: int | None = None
        for name, value in head.headers:
            if name == b"content-length":
                length = int(value)
            elif name == b"content-encoding":
                try:
                    decoder = decoder_for(value.decode("latin-1"), _DECODE_CHUNK)
                except UnsupportedEncoding as exc:
                    if head.status_code < 300:
                        await self._refuse(conn)
                        raise APIResponseValidationError(
                            f"{route.where} answered in Content-Encoding {exc.args[0]!r}, which "
                            "ritellm cannot decode (it asks for gzip or deflate)",
                            status_code=head.status_code,
                            headers={
                                k.decode("latin-1"): v.decode("latin-1") for k, v in head.headers
                            },
                        ) from None
                    # An error's body is kept as it is: its status says what matters.
        if route.forward and head.status_code == 407:
            await self._refuse(conn)
            raise proxy_refused(route, 407, head.reason, tunnel=False)
        self._active += 1
        self._lent.add(conn)
        return Response(self, conn, route, head, decoder, length, self._max_response_bytes)

    async def _refuse(self, conn: Connection) -> None:
        """Close a connection whose answer is not handed out, and free its slot."""
        try:
            await conn.aclose()
        finally:
            self._slots.release()

    async def _wait_for_slot(self, pool_timeout: float | None, route: Route) -> None:
        with anyio.move_on_after(pool_timeout) as scope:
            await self._slots.acquire()
            return
        if scope.cancelled_caught:
            raise APITimeoutError(
                f"Timed out after {pool_timeout}s waiting for a free connection to "
                f"{route.where} (all {self._max_connections} pool slots busy)"
            )

    def _checkout(self, key: object) -> Connection | None:
        """The warmest idle connection for ``key`` that is still open. Closed ones are found
        before anything is sent, so replacing them is invisible (no attempt is spent)."""
        idle = self._idle.get(key)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # LIFO: the warmest; cold ones expire
            self._idle_count -= 1
            probe = conn.probe
            if now < conn.expires and (probe is None or not probe()):
                return conn
            self._graveyard.append(conn)
        return None

    def _sweep(self) -> None:
        """Move every expired idle connection (they are oldest first) to the graveyard."""
        now = time.monotonic()
        soonest = math.inf
        for idle in self._idle.values():
            while idle and idle[0].expires <= now:
                self._graveyard.append(idle.pop(0))
                self._idle_count -= 1
            if idle and idle[0].expires < soonest:
                soonest = idle[0].expires
        self._next_sweep = soonest

    # -- returning connections ---------------------------------------------------------

    async def _release(self, conn: Connection) -> None:
        """Give a connection back after its response ended (or was closed)."""
        self._active -= 1
        self._lent.discard(conn)
        try:
            if self._closed or not conn.reusable():
                await conn.aclose()
                return
            victim: Connection | None = conn
            same = self._idle.get(conn.key)
            if self._idle_count < self._max_idle:
                victim = None
                self._idle_count += 1
            elif same:
                victim = same.pop(0)  # full: the oldest idle connection of this route goes
            if victim is not conn:
                # Bookkeeping first, the close (a checkpoint) last: nothing interleaves.
                expires = time.monotonic() + self._keepalive_expiry
                conn.expires = expires
                if same is None:
                    same = self._idle[conn.key] = []
                same.append(conn)
                if expires < self._next_sweep:
                    self._next_sweep = expires
            if victim is not None:
                await victim.aclose()
        finally:
            self._slots.release()

    async def _discard(self, conn: Connection) -> None:
        """Close a connection whose response failed or was abandoned mid-body."""
        self._active -= 1
        self._lent.discard(conn)
        try:
            await conn.aclose()
        finally:
            self._slots.release()

    def _abandon(self, conn: Connection) -> None:
        """A response was garbage-collected without being closed: free its slot now (when
        on the loop's thread) and close its socket at the next opportunity."""
        self._active -= 1
        self._lent.discard(conn)
        self._graveyard.append(conn)
        if threading.get_ident() == self._thread:
            self._slots.release()
        else:  # pragma: no cover - GC in a foreign thread; freed by _bury()
            self._graveyard.append(None)

    async def _bury(self) -> None:
        dead = list(self._graveyard)
        self._graveyard.clear()
        for conn in dead:
            if conn is None:  # pragma: no cover
                self._slots.release()
            else:
                await conn.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; in-flight responses close theirs when they end."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            self._idle_count = 0
            await self._bury()
            await self._sockets.close_all()
            hook = self._sockets.hook
            if hook is not None:
                await hook.aclose()
