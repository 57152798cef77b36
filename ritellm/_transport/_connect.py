"""Opening a connection for a route: TCP to the origin or its proxy, a CONNECT tunnel through
the proxy for https:// origins, then TLS with the origin (inside the tunnel, if any). Every
failure becomes an APIConnectionError that names the server or the proxy.

Uses httpcore's public network backend (``connect_tcp``, ``start_tls``) and h11 for the
CONNECT exchange; knows nothing of pools or providers.
"""

from __future__ import annotations

import contextlib
import ssl

import anyio
import h11
import httpcore

from .._errors import APIConnectionError, APIError, APITimeoutError
from ._conn import Connection, ServerClosed
from ._failures import IO_ERRORS, connect_failure, exchange_failure, proxy_refused, tls_failure
from ._route import Route

__all__ = ["open_connection", "tls_context"]

_BACKEND = httpcore.AnyIOBackend()


async def open_connection(
    route: Route, ssl_context: ssl.SSLContext | None, timeout: float | None
) -> Connection:
    """A new connection ready for requests to ``route``'s origin.

    Args:
        route: the origin and its proxy, if any.
        ssl_context: for https:// origins.
        timeout: the connect timeout, over TCP, the tunnel and TLS together.

    Raises:
        APITimeoutError: the connect timeout passed.
        APIConnectionError: refused, unknown host, TLS failure, or a proxy's refusal.
    """
    phase = ["tcp"]
    try:
        # One deadline of our own for all steps; a caller's cancellation propagates as is.
        with anyio.fail_after(timeout):
            return await _open(route, ssl_context, phase)
    except TimeoutError as exc:
        if isinstance(exc, APIError):  # already ours (APITimeoutError is a TimeoutError)
            raise
        if phase[0] == "tls":
            raise tls_failure(exc, route, timeout) from None
        if phase[0] == "tunnel":
            raise APITimeoutError(
                f"Timed out after {timeout:g}s waiting for proxy {_shown(route)} to open a "
                f"tunnel to {route.connect_target.decode()} (connect timeout)"
            ) from None
        raise connect_failure(exc, route, timeout) from None


async def _open(route: Route, ssl_context: ssl.SSLContext | None, phase: list[str]) -> Connection:
    ep, proxy = route.endpoint, route.proxy
    host, port = (ep.host, ep.port) if proxy is None else (proxy.host, proxy.port)
    try:
        stream = await _BACKEND.connect_tcp(host, port)
    except IO_ERRORS as exc:
        raise connect_failure(exc, route, None) from exc
    try:
        if proxy is not None and ep.tls:
            phase[0] = "tunnel"
            await _tunnel(stream, route)
        if ep.tls:
            assert ssl_context is not None
            phase[0] = "tls"
            try:
                stream = await stream.start_tls(ssl_context, server_hostname=ep.host)
            except IO_ERRORS as exc:
                raise tls_failure(exc, route, None) from exc
        phase[0] = "done"
        return Connection(stream, route.key)
    except BaseException:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await stream.aclose()
        raise


async def _tunnel(stream: httpcore.AsyncNetworkStream, route: Route) -> None:
    """Ask the proxy for a tunnel to the origin (RFC 9110 §9.3.6); on success the stream
    carries the origin's bytes from then on."""
    h = h11.Connection(h11.CLIENT)
    headers = [(b"Host", route.connect_target), *route.proxy_headers]
    request = h11.Request(method=b"CONNECT", target=route.connect_target, headers=headers)
    data = h.send(request)
    assert data is not None
    conn = Connection(stream, None)
    conn.h11 = h
    try:
        await stream.write(data)
        response = await conn.receive_head()
    except ServerClosed as exc:
        raise APIConnectionError(
            f"Proxy {_shown(route)} closed the connection instead of answering CONNECT "
            f"{route.connect_target.decode()}"
        ) from exc
    except IO_ERRORS as exc:
        raise exchange_failure(exc, route, phase="waiting for the proxy", eof=conn.eof) from exc
    if not 200 <= response.status_code < 300:
        raise proxy_refused(route, response.status_code, response.reason, tunnel=True)
    leftover, _ = h.trailing_data
    if leftover:  # nothing may follow a 2xx to CONNECT before our TLS hello
        raise APIConnectionError(
            f"Proxy {_shown(route)} sent unexpected bytes after accepting CONNECT"
        )


def _shown(route: Route) -> str:
    return route.proxy.shown if route.proxy is not None else route.where


def tls_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    """The SSL context for ``verify`` (certifi's bundle when installed, as httpx does;
    otherwise the system store)."""
    if isinstance(verify, ssl.SSLContext):
        ctx = verify
    elif verify:
        ctx = ssl.create_default_context()
        try:
            import certifi

            ctx.load_verify_locations(cafile=certifi.where())
        except ImportError:
            pass
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
