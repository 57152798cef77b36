"""HTTP/1.1 transport: ritellm's own connection pool over httpcore's low-level connections.

The ONLY module that imports httpcore; it maps every transport failure to a ritellm error
here, where it enters. Knows nothing of providers. One Transport belongs to one event loop.

Why not ``httpcore.AsyncConnectionPool``: on this machine class it costs ~9,300 µs CPU per
request at 64 concurrent requests (work quadratic in the number of connections plus a socket
poll per idle connection per request); this pool does O(1) work per request and polls only
the one idle connection it is about to reuse.
"""

from __future__ import annotations

import contextlib
import select
import ssl
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import cast
from urllib.parse import urlsplit

import anyio
import httpcore

from ._errors import APIConnectionError, APITimeoutError, ParameterError
from ._options import Timeout
from ._types import HttpRequest

__all__ = ["Response", "Transport"]

# Failures that, on a connection taken from the pool, mean "the server closed it while it
# sat idle": the request never reached the application, so it is resent once.
_STALE = (
    httpcore.RemoteProtocolError,
    httpcore.ReadError,
    httpcore.WriteError,
    httpcore.ConnectionNotAvailable,
)


_Idle = tuple[httpcore.AsyncHTTP11Connection, int, float]


def _readable(fd: int) -> bool:
    """Whether an idle connection's socket has something to read — EOF (the server closed
    it), a reset or stray bytes — so that it cannot carry a request.

    httpcore's own check (``has_expired``) first rebuilds anyio's socket-attribute table
    on every call; the file descriptor is looked up once per connection here instead.
    """
    if fd < 0:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


# What the transport translates into ritellm errors. Anything else is a bug and must stay
# visible as itself rather than pass for a network problem.
_TRANSPORT_ERRORS = (
    httpcore.ConnectionNotAvailable,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
    httpcore.ProtocolError,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    OSError,  # includes ssl.SSLError
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


class _Endpoint:
    """A parsed base URL, cached: scheme/host/port, the httpcore URL and the Host header."""

    __slots__ = ("host", "host_header", "key", "origin", "port", "tls", "url")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParameterError(f"Not an http(s) URL: {url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        try:
            port = parts.port
        except ValueError as exc:
            raise ParameterError(f"Invalid port in URL {url!r}") from exc
        self.port = port or (443 if self.tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        scheme = parts.scheme.encode("ascii")
        host = self.host.encode("idna")
        self.key = (scheme, host, self.port)
        self.origin = httpcore.Origin(scheme, host, self.port)
        self.url = httpcore.URL(scheme=scheme, host=host, port=self.port, target=target.encode())
        shown = f"[{self.host}]" if ":" in self.host else self.host
        default_port = self.port == (443 if self.tls else 80)
        self.host_header = (shown if default_port else f"{shown}:{self.port}").encode("idna")


class _Body:
    """The request body as httpcore's async-iterable content, without a generator.

    httpcore wraps bytes in an async generator and abandons it mid-iteration when a write
    fails (it then reads the server's answer anyway); trio warns when such a generator is
    garbage-collected. A plain iterator has nothing to finalise. Re-iterable, so the same
    request can be resent on a fresh connection.
    """

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __aiter__(self) -> _BodyIterator:
        return _BodyIterator(self._data)


class _BodyIterator(AsyncIterator[bytes]):
    __slots__ = ("_data",)

    def __init__(self, data: bytes | None) -> None:
        self._data = data

    async def __anext__(self) -> bytes:
        data = self._data
        if data is None:
            raise StopAsyncIteration
        self._data = None
        return data


def _map_error(exc: BaseException, where: str) -> APIConnectionError:
    """Translate an httpcore/OS/TLS failure into the ritellm error a caller sees."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpcore.ConnectTimeout):
        return APITimeoutError(f"Timed out connecting to {where}")
    if isinstance(exc, httpcore.WriteTimeout):
        return APITimeoutError(f"Timed out sending the request to {where}")
    if isinstance(exc, httpcore.ReadTimeout):
        return APITimeoutError(f"Timed out waiting for {where} to respond")
    if isinstance(exc, httpcore.TimeoutException):
        return APITimeoutError(f"Timed out talking to {where}")
    if isinstance(exc, httpcore.ConnectError):
        return APIConnectionError(f"Could not connect to {where}: {detail}")
    return APIConnectionError(f"Connection to {where} failed: {detail}")


class Transport:
    """A connection pool for one event loop.

    ``send`` returns a :class:`Response` holding one connection and one pool slot until the
    body is read to the end or the response is closed; then the connection goes back to the
    idle list (if reusable) and the slot is freed. Every exit path, cancellation included,
    closes or returns the connection.
    """

    def __init__(
        self,
        *,
        max_connections: int = 256,
        keepalive_expiry: float = 30.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._max_connections = max_connections
        self._slots = anyio.Semaphore(max_connections)
        self._keepalive_expiry = keepalive_expiry
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        # Per origin, LIFO: (connection, its raw socket, monotonic time it expires).
        self._idle: dict[tuple[bytes, bytes, int], list[_Idle]] = {}
        # File descriptors of live connections, looked up once at connect time.
        self._fds: weakref.WeakKeyDictionary[httpcore.AsyncHTTP11Connection, int] = (
            weakref.WeakKeyDictionary()
        )
        self._endpoints: dict[str, _Endpoint] = {}
        self._active = 0
        self._graveyard: list[httpcore.AsyncHTTP11Connection] = []
        self._closed = False
        self._thread = threading.get_ident()
        self._exit_hook: AsyncGenerator[None, None] | None = None

    # -- introspection (tests and leak checks use these) --------------------------------

    @property
    def active_connections(self) -> int:
        """Connections currently lent to a response."""
        return self._active

    @property
    def idle_connections(self) -> int:
        """Open keep-alive connections waiting for reuse."""
        return sum(len(conns) for conns in self._idle.values())

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

    # -- sending -----------------------------------------------------------------------

    def endpoint(self, url: str) -> _Endpoint:
        """The parsed form of ``url`` (cached)."""
        ep = self._endpoints.get(url)
        if ep is None:
            if len(self._endpoints) > 1024:
                self._endpoints.clear()
            ep = self._endpoints[url] = _Endpoint(url)
        return ep

    async def send(self, request: HttpRequest, timeout: Timeout) -> Response:
        """Send ``request`` and return once the response headers have arrived.

        Raises:
            APITimeoutError: connect/write/read/pool timeout.
            APIConnectionError: any other failure to connect, send or read the headers.
        """
        if self._closed:
            raise APIConnectionError("This ritellm client has been closed")
        if self._exit_hook is None:
            await self._install_exit_hook()
        if self._graveyard:
            await self._bury()
        ep = self.endpoint(request.url)
        headers = [(b"Host", ep.host_header), *request.headers]
        headers.append((b"Content-Length", str(len(request.body)).encode()))
        # httpcore sets a timer per socket operation it is given a timeout for (~8 µs each
        # on asyncio). Connect is bounded here (a timer only when connecting); the client
        # bounds sending and waiting for the response with one deadline per attempt
        # (Timeout.read), and streams each chunk with their own; a write timeout is passed
        # on only when it is shorter than that deadline, i.e. when it can matter.
        write = timeout.write
        if write is not None and timeout.read is not None and write >= timeout.read:
            write = None
        timeouts: dict[str, float | None] = {"connect": timeout.connect, "write": write}
        hreq = httpcore.Request(
            b"POST" if request.method == b"POST" else request.method,
            ep.url,
            headers=headers,
            content=_Body(request.body),
            extensions={"timeout": timeouts},
        )
        await self._acquire_slot(timeout.pool, ep)
        conn: httpcore.AsyncHTTP11Connection | None = None
        try:
            conn = await self._checkout(ep)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(ep, timeout.connect)
            try:
                hresp = await conn.handle_async_request(hreq)
            except _STALE:
                if not reused:
                    raise
                # The server closed this keep-alive connection while it was idle and we
                # raced its FIN: resend once on a fresh connection.
                await _close_quietly(conn)
                conn = None
                conn = await self._connect(ep, timeout.connect)
                hresp = await conn.handle_async_request(hreq)
        except BaseException as exc:
            if conn is not None and not conn.is_closed():
                await _close_quietly(conn)
            self._slots.release()
            if isinstance(exc, _TRANSPORT_ERRORS):
                raise _map_error(exc, f"{ep.host}:{ep.port}") from exc
            raise
        self._active += 1
        return Response(self, conn, hreq, hresp, ep)

    async def _acquire_slot(self, pool_timeout: float | None, ep: _Endpoint) -> None:
        try:
            # Fast path without a checkpoint: the slot is free (the common case).
            self._slots.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(pool_timeout) as scope:
            await self._slots.acquire()
            return
        if scope.cancelled_caught:
            raise APITimeoutError(
                f"Timed out after {pool_timeout}s waiting for a free connection to "
                f"{ep.host}:{ep.port} (all {self._max_connections} pool slots busy)"
            )

    async def _checkout(self, ep: _Endpoint) -> httpcore.AsyncHTTP11Connection | None:
        idle = self._idle.get(ep.key)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn, fd, expires = idle.pop()  # LIFO: the warmest; cold ones expire
            if now < expires and conn.is_idle() and not _readable(fd):
                return conn
            await _close_quietly(conn)
        return None

    async def _connect(
        self, ep: _Endpoint, connect_timeout: float | None
    ) -> httpcore.AsyncHTTP11Connection:
        stream = await self._backend.connect_tcp(ep.host, ep.port, timeout=connect_timeout)
        if ep.tls:
            try:
                stream = await stream.start_tls(
                    self._tls_context(), server_hostname=ep.host, timeout=connect_timeout
                )
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                raise
        conn = httpcore.AsyncHTTP11Connection(origin=ep.origin, stream=stream)
        sock = stream.get_extra_info("socket")
        self._fds[conn] = sock.fileno() if sock is not None else -1
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            if isinstance(self._verify, ssl.SSLContext):
                ctx = self._verify
            elif self._verify:
                ctx = ssl.create_default_context()
                try:  # certifi's bundle when installed (as httpx does); else the system store
                    import certifi

                    ctx.load_verify_locations(cafile=certifi.where())
                except ImportError:
                    pass
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl_context = ctx
        return self._ssl_context

    # -- returning connections ---------------------------------------------------------

    async def _release(self, conn: httpcore.AsyncHTTP11Connection, ep: _Endpoint) -> None:
        """Give a connection back after its response was closed. Call shielded."""
        self._active -= 1
        try:
            if conn.is_idle() and not self._closed:
                fd = self._fds.get(conn, -1)
                entry = (conn, fd, time.monotonic() + self._keepalive_expiry)
                self._idle.setdefault(ep.key, []).append(entry)
            elif not conn.is_closed():
                await _close_quietly(conn)
        finally:
            self._slots.release()

    def _abandon(self, conn: httpcore.AsyncHTTP11Connection) -> None:
        """A response was garbage-collected without being closed: free its slot now (when
        on the loop's thread) and close its socket at the next opportunity."""
        self._active -= 1
        self._graveyard.append(conn)
        if threading.get_ident() == self._thread:
            self._slots.release()
        else:  # pragma: no cover - GC in a foreign thread; freed by _bury()
            self._graveyard.append(_RELEASE_LATER)  # type: ignore[arg-type]

    async def _bury(self) -> None:
        dead, self._graveyard = self._graveyard, []
        for conn in dead:
            if conn is _RELEASE_LATER:  # pragma: no cover
                self._slots.release()
            elif not conn.is_closed():
                await _close_quietly(conn)

    async def aclose(self) -> None:
        """Close every idle connection; in-flight responses close theirs when they end."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            idle = [entry[0] for entries in self._idle.values() for entry in entries]
            self._idle.clear()
            for conn in idle:
                await _close_quietly(conn)
            await self._bury()
            hook, self._exit_hook = self._exit_hook, None
            if hook is not None:
                await hook.aclose()

    async def _install_exit_hook(self) -> None:
        # Close idle sockets when the event loop ends, without a background task: a started
        # async generator is registered with the running loop (PEP 525 hooks), and both
        # asyncio.run() and trio.run() aclose() every live one at shutdown, which runs our
        # `finally`. Without this, idle keep-alive sockets outlive their loop and warn.
        hook = _close_at_loop_exit(weakref.ref(self))
        self._exit_hook = hook
        await hook.asend(None)


_RELEASE_LATER = object()


async def _close_at_loop_exit(ref: weakref.ref[Transport]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        transport = ref()
        if transport is not None and not transport.closed:
            transport._exit_hook = None
            with anyio.CancelScope(shield=True):
                await transport.aclose()


async def _close_quietly(conn: httpcore.AsyncHTTP11Connection) -> None:
    with anyio.CancelScope(shield=True):
        # Closing a broken socket may fail; it is gone either way.
        with contextlib.suppress(Exception):
            await conn.aclose()


class _HeaderView(Mapping[str, str]):
    __slots__ = ("_response",)

    def __init__(self, response: Response) -> None:
        self._response = response

    def __getitem__(self, name: str) -> str:
        return self._response.headers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._response.headers)

    def __len__(self) -> int:
        return len(self._response.headers)


class Response:
    """Status and headers of a response whose body is still on the wire.

    Holds a connection and a pool slot until :meth:`aread` finishes, :meth:`receive`
    returns ``b""``, or :meth:`aclose` is called (always safe to call; idempotent).
    """

    __slots__ = (
        "_closed",
        "_conn",
        "_ep",
        "_headers",
        "_hreq",
        "_hresp",
        "_iter",
        "_transport",
        "status",
    )

    def __init__(
        self,
        transport: Transport,
        conn: httpcore.AsyncHTTP11Connection,
        hreq: httpcore.Request,
        hresp: httpcore.Response,
        ep: _Endpoint,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._hreq = hreq
        self._hresp = hresp
        self._ep = ep
        self.status: int = hresp.status
        self._headers: dict[str, str] | None = None
        self._iter: AsyncGenerator[bytes, None] | None = None
        self._closed = False

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers with lower-case names (repeated headers joined by ``, ``)."""
        if self._headers is None:
            result: dict[str, str] = {}
            for raw_name, raw_value in self._hresp.headers:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                result[name] = f"{result[name]}, {value}" if name in result else value
            self._headers = result
        return self._headers

    @property
    def lazy_headers(self) -> Mapping[str, str]:
        """:attr:`headers`, decoded only if something reads them (the success path of a
        non-streaming call never does: ~5 µs saved per request)."""
        return _HeaderView(self) if self._headers is None else self._headers

    @property
    def where(self) -> str:
        """``host:port`` for messages."""
        return f"{self._ep.host}:{self._ep.port}"

    def _body(self) -> AsyncGenerator[bytes, None]:
        # httpcore's public body iterator is a generator wrapping this one without ever
        # closing it, so abandoning a body mid-way leaves the inner generator to the garbage
        # collector (trio warns; asyncio finalises it on the loop later). Iterating the inner
        # generator ourselves lets aclose() close it deterministically, and saves a generator
        # hop per read. Private API: httpcore is pinned to 1.0.x in pyproject.toml.
        it = self._conn._receive_response_body(request=self._hreq)
        self._iter = cast(AsyncGenerator[bytes, None], it)
        return self._iter

    async def aread(self) -> bytes:
        """The whole body; the connection is returned to the pool afterwards."""
        parts: list[bytes] = []
        try:
            async for part in self._body():
                parts.append(part)
        except _TRANSPORT_ERRORS as exc:
            await self.aclose()
            raise _map_error(exc, self.where) from exc
        except BaseException:
            await self.aclose()
            raise
        await self.aclose()
        return b"".join(parts)

    async def receive(self) -> bytes:
        """The next piece of the body as it arrives; ``b""`` at the end (connection returned).

        Raises:
            APIConnectionError / APITimeoutError: the body could not be read; the connection
                is closed.
        """
        if self._closed:
            return b""
        it = self._iter
        if it is None:
            it = self._body()
        try:
            return await it.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            return b""
        except _TRANSPORT_ERRORS as exc:
            await self.aclose()
            raise _map_error(exc, self.where) from exc
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop reading: return the connection if the body was complete, else close it."""
        if self._closed:
            return
        self._closed = True
        # No shield needed (and none paid for on every request): if a cancellation lands
        # in here, httpcore leaves the connection unfinished, _release() then closes it
        # (shielded) instead of pooling it, and the slot is freed either way.
        try:
            if self._iter is not None:
                await self._iter.aclose()
            await self._hresp.aclose()
        except Exception:  # a broken connection is closed by _release()
            pass
        finally:
            await self._transport._release(self._conn, self._ep)

    def __del__(self) -> None:
        # Safety net only: every documented path closes responses explicitly. A stream that
        # is dropped without `async with`/aclose() must not leak its pool slot forever.
        if not getattr(self, "_closed", True):
            self._closed = True
            self._transport._abandon(self._conn)
