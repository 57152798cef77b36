"""One HTTP/1.1 connection: h11's state machine driven over an httpcore network stream (its
public ``AsyncNetworkStream``), plus the cheap check that an idle connection is still open.

Builds (and checks) a request, writes it and reads a response head; the body is read by
``_response``. Knows nothing of pools or providers.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable
from typing import Any

import anyio
import h11
import httpcore

from .._errors import ParameterError
from .._types import HttpRequest
from ._decode import ACCEPT_ENCODING
from ._route import Route

__all__ = ["READ_SIZE", "Connection", "ServerClosed", "build_request", "make_probe"]

READ_SIZE = 64 * 1024
# Bodies up to this size go out in the same write as the head: one system call and one
# packet for a typical request; larger ones are written separately rather than copied.
_JOIN_BODY = 256 * 1024


class ServerClosed(Exception):
    """The server closed the connection before the response head was complete."""


def make_probe(sock: Any) -> Callable[[], bool] | None:
    """A zero-timeout check of whether an idle socket has something to read: EOF (the
    server closed it), a reset, or stray bytes; any of them means it cannot carry a request.

    POSIX: a ``select.poll`` object made once per connection (0.6 µs per check here,
    against 1.2 µs for ``select.select`` and 1.6 µs for ``recv(MSG_PEEK)``, which asyncio's
    transport sockets do not even offer); poll has no limit on descriptor numbers, while
    ``select`` fails above FD_SETSIZE (1024). Windows has no poll: ``select.select`` there,
    whose limit is a count of sockets, not their numbers. None when there is no socket to
    look at (the connection is then trusted until the expiry time).
    """
    if sock is None:
        return None
    try:
        fd = sock.fileno()
    except (OSError, ValueError):
        return None
    if fd < 0:
        return None
    poll = getattr(select, "poll", None)
    if poll is not None:
        poller = poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        check = poller.poll

        def by_poll() -> bool:
            return bool(check(0))

        return by_poll

    def by_select() -> bool:
        try:
            return bool(select.select([fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True  # cannot tell: don't reuse it

    return by_select


class Connection:
    """An open HTTP/1.1 connection and its h11 state."""

    __slots__ = ("eof", "expires", "h11", "key", "probe", "stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream, key: object) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)
        self.probe = make_probe(stream.get_extra_info("socket"))
        self.key = key
        self.expires = 0.0  # monotonic time after which an idle connection is not reused
        self.eof = False  # the server closed its side

    def reusable(self) -> bool:
        """Whether both sides finished the last exchange and may start another; if so the
        state machine is reset for it."""
        h = self.h11
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            return True
        return False

    async def send(self, request: h11.Request, body: bytes, write_timeout: float | None) -> None:
        """Write the request (head and body) with one write when it is small."""
        h = self.h11
        head = h.send(request)
        assert head is not None
        if body:
            # Content-Length framing: h11 returns the body unchanged.
            data = h.send(h11.Data(data=body))
            assert data is not None
        else:
            data = b""
        h.send(h11.EndOfMessage())
        if len(data) <= _JOIN_BODY:
            await self.stream.write(head + data, write_timeout)
        else:
            await self.stream.write(head, write_timeout)
            await self.stream.write(data, write_timeout)

    async def receive(self) -> None:
        """Read the next bytes from the socket into h11 (an empty read means EOF)."""
        data = await self.stream.read(READ_SIZE)
        if not data:
            self.eof = True
        self.h11.receive_data(data)

    async def receive_head(self) -> h11.Response:
        """Read up to the final response head (1xx informational responses are skipped).

        Raises:
            ServerClosed: the server closed the connection first.
            h11.RemoteProtocolError: the server sent something that is not HTTP/1.1.
        """
        h = self.h11
        # Nothing of this response can be buffered yet (the request was just written, and a
        # reused connection's previous response was read to its end): read first.
        await self.receive()
        while True:
            if self.eof and not h.trailing_data[0]:
                raise ServerClosed
            event = h.next_event()
            if event is h11.NEED_DATA:
                if self.eof:
                    raise ServerClosed
                await self.receive()
                continue
            if type(event) is h11.Response:
                return event
            if type(event) is h11.InformationalResponse:
                continue  # 100 Continue, 103 Early Hints: the real answer follows
            raise ServerClosed

    async def aclose(self) -> None:
        """Close the socket; never raises, and finishes even when cancelled."""
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            # Closing a broken socket may fail; it is gone either way.
            await self.stream.aclose()


def build_request(request: HttpRequest, route: Route) -> h11.Request:
    """The h11 request for ``request`` on ``route``: ritellm's headers added (Host,
    Content-Length, Accept-Encoding, a forwarding proxy's credentials) and everything
    checked by h11.

    Raises:
        ParameterError: a header or the URL is not valid HTTP/1.1 (nothing was sent).
    """
    body = request.body
    headers = [(b"Host", route.host_header), *request.headers]
    if body or request.method == b"POST":
        headers.append((b"Content-Length", b"%d" % len(body)))
    for name, _ in request.headers:
        if len(name) == 15 and name.lower() == b"accept-encoding":
            break
    else:
        headers.append((b"Accept-Encoding", ACCEPT_ENCODING))
    if route.request_headers:
        headers.extend(route.request_headers)
    try:
        return h11.Request(method=request.method, target=route.target, headers=headers)
    except h11.LocalProtocolError:
        # Bad input (a header or URL that is not valid HTTP): never sent, never retried.
        # h11's message quotes the value, which may be a key: name the part instead.
        raise ParameterError(
            f"Invalid HTTP request to {route.where}: {_invalid_part(headers)} is not valid HTTP/1.1"
        ) from None


_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _invalid_part(headers: list[tuple[bytes, bytes]]) -> str:
    """What h11 refused, named without quoting any header value."""
    for name, value in headers:
        if not name or not _TOKEN.issuperset(name):
            return f"the header name {name.decode('latin-1')!r}"
        if any(c in value for c in b"\r\n\0") or value != value.strip(b" \t"):
            return f"the value of the {name.decode('latin-1')!r} header"
    return "the URL's path (the request target)"
