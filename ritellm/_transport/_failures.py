"""Network failures turned into ritellm errors that say what happened, where: refused, unknown
host, a TLS handshake with a server that speaks plain HTTP, a reset, a proxy's refusal.

Imports httpcore and h11 only to recognise their exceptions; no I/O here.
"""

from __future__ import annotations

import socket
import ssl

import anyio
import h11
import httpcore

from .._errors import APIConnectionError, APITimeoutError
from ._route import Route

__all__ = [
    "IO_ERRORS",
    "connect_failure",
    "exchange_failure",
    "proxy_refused",
    "tls_failure",
]

# What the network can raise at us. Anything else is a bug and stays visible as itself.
IO_ERRORS = (
    httpcore.NetworkError,
    httpcore.TimeoutException,
    h11.RemoteProtocolError,
    OSError,  # ssl.SSLError and socket.gaierror included
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


def _root(exc: BaseException) -> BaseException:
    """The most specific error behind ``exc``: httpcore and anyio wrap the OS's (e.g.
    ConnectError <- OSError("All connection attempts failed") <- ConnectionRefusedError)."""
    seen = 0
    while seen < 10:
        seen += 1
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
            continue
        inner = exc.__cause__
        if inner is None:
            return exc
        exc = inner
    return exc


def _detail(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def connect_failure(exc: BaseException, route: Route, timeout: float | None) -> APIConnectionError:
    """The error for a failed TCP connection to the origin or, with a proxy, to the proxy."""
    proxy = route.proxy
    if proxy is None:
        host, port = route.endpoint.host, route.endpoint.port
        shown = f"{host}:{port}"
        what, hint = shown, "is the server running?"
    else:
        host, port = proxy.host, proxy.port
        what, hint = f"proxy {proxy.shown}", "is the proxy running?"
    if isinstance(exc, TimeoutError | httpcore.TimeoutException):
        after = f" after {timeout:g}s" if timeout is not None else ""
        return APITimeoutError(f"Timed out{after} connecting to {what} (connect timeout)")
    cause = _root(exc)
    if isinstance(cause, ConnectionRefusedError):
        return APIConnectionError(f"Connection refused by {what} — {hint}")
    if isinstance(cause, socket.gaierror):
        return APIConnectionError(
            f"Could not resolve the host name {host!r} of {what} ({_detail(cause)}): check "
            "the URL and your DNS"
        )
    return APIConnectionError(f"Could not connect to {what}: {_detail(cause)}")


def tls_failure(exc: BaseException, route: Route, timeout: float | None) -> APIConnectionError:
    """The error for a failed TLS handshake with the origin."""
    where = route.where
    if isinstance(exc, TimeoutError | httpcore.TimeoutException):
        after = f" after {timeout:g}s" if timeout is not None else ""
        return APITimeoutError(
            f"Timed out{after} in the TLS handshake with {where} (connect timeout; does the "
            "server speak TLS there? check http:// vs https:// in the URL)"
        )
    cause = _root(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return APIConnectionError(
            f"TLS certificate verification failed for {where}: {_detail(cause)} (pass "
            "verify=<ssl.SSLContext> trusting your CA to AsyncClient)"
        )
    reason = getattr(cause, "reason", None)
    if reason in (
        "WRONG_VERSION_NUMBER",
        "HTTP_REQUEST",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
    ):
        return APIConnectionError(
            f"TLS handshake with {where} failed: the server does not speak TLS there "
            f"({reason}); check http:// vs https:// in the URL"
        )
    if isinstance(
        cause,
        ssl.SSLEOFError
        | ssl.SSLZeroReturnError
        | anyio.EndOfStream
        | anyio.BrokenResourceError
        | ConnectionResetError,
    ):
        return APIConnectionError(
            f"TLS handshake with {where} failed: the server closed the connection (does it "
            "speak TLS on this port? check http:// vs https:// in the URL)"
        )
    return APIConnectionError(f"TLS handshake with {where} failed: {_detail(cause)}")


def proxy_refused(route: Route, status: int, reason: bytes, *, tunnel: bool) -> APIConnectionError:
    """The error for a proxy that answered CONNECT, or a forwarded request, with a refusal
    (407 and the like): the origin was never reached."""
    proxy = route.proxy
    assert proxy is not None
    text = reason.decode("latin-1", "replace").strip()
    status_text = f"HTTP {status} {text}".rstrip()
    ep = route.endpoint
    if status == 407:
        hint = (
            "it rejected the credentials in the proxy URL"
            if proxy.authorization is not None
            else "put them in the proxy URL: http://user:password@host:port"
        )
        return APIConnectionError(
            f"Proxy {proxy.shown} requires authentication ({status_text}): {hint}"
        )
    action = (
        f"open a tunnel to {ep.host}:{ep.port}"
        if tunnel
        else f"forward the request to {ep.host}:{ep.port}"
    )
    return APIConnectionError(f"Proxy {proxy.shown} refused to {action}: {status_text}")


def exchange_failure(
    exc: BaseException,
    route: Route,
    *,
    phase: str,
    eof: bool = False,
    write_timeout: float | None = None,
) -> APIConnectionError:
    """The error for a failure while sending a request or reading its response.

    Args:
        exc: what was raised.
        route: where the request went.
        phase: how far it got: "sending the request", "waiting for the response" or
            "reading the response body".
        eof: the server had closed the connection (h11 then names the framing problem).
        write_timeout: the write timeout in force, for its message.
    """
    where = route.where
    if isinstance(exc, httpcore.WriteTimeout):
        after = f" after {write_timeout:g}s" if write_timeout is not None else ""
        return APITimeoutError(f"Timed out{after} sending the request to {where} (write timeout)")
    if isinstance(exc, TimeoutError | httpcore.TimeoutException):
        return APITimeoutError(f"Timed out {phase} ({where})")
    if isinstance(exc, h11.RemoteProtocolError):
        if eof:
            return APIConnectionError(f"{where} closed the connection {_during(phase)} ({exc})")
        return APIConnectionError(f"{where} sent an invalid HTTP response: {exc}")
    cause = _root(exc)
    if isinstance(cause, ConnectionResetError):
        return APIConnectionError(f"{where} reset the connection {_during(phase)}")
    if isinstance(cause, BrokenPipeError | anyio.EndOfStream | ssl.SSLEOFError):
        return APIConnectionError(f"{where} closed the connection {_during(phase)}")
    return APIConnectionError(f"Connection to {where} failed {_during(phase)}: {_detail(cause)}")


def _during(phase: str) -> str:
    return "before answering" if phase == "waiting for the response" else f"while {phase}"
