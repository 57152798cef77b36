"""Where a request goes: the origin parsed from its URL, the proxy (if any) in front of it, and
what follows from both (the pool key, the request target, the Host and Proxy-Authorization
headers, the name used in messages).

Pure: standard library and this package's pure modules; no anyio, httpcore or h11.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .._checks import redact_url
from .._errors import ParameterError
from ._proxy import Proxy

__all__ = ["Endpoint", "Route"]


class Endpoint:
    """A parsed http(s) URL: scheme, host, port, origin-form target and Host header value."""

    __slots__ = ("authority", "host", "port", "scheme", "target", "tls")

    def __init__(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ParameterError(
                f"Invalid URL (port or IPv6 address): {redact_url(url)!r}"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParameterError(f"Not an http(s) URL: {redact_url(url)!r}")
        self.scheme = parts.scheme
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = port or (443 if self.tls else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        shown = f"[{self.host}]" if ":" in self.host else self.host
        default_port = self.port == (443 if self.tls else 80)
        # The Host header (and a forwarding proxy's absolute URL): the port only when it is
        # not the scheme's default, as browsers and httpx send it.
        self.authority = shown if default_port else f"{shown}:{self.port}"


class Route:
    """An origin reached directly or through a proxy.

    Plain-HTTP origins go through a forwarding proxy (the request target is the absolute URL
    and the proxy's credentials ride on every request); https:// origins through a CONNECT
    tunnel (the credentials go on the CONNECT only, and the request inside the tunnel is an
    ordinary origin-form one).
    """

    __slots__ = (
        "connect_target",
        "endpoint",
        "forward",
        "host_header",
        "key",
        "proxy",
        "proxy_headers",
        "request_headers",
        "target",
        "where",
    )

    def __init__(self, endpoint: Endpoint, proxy: Proxy | None) -> None:
        ep = endpoint
        self.endpoint = ep
        self.proxy = proxy
        host = f"[{ep.host}]" if ":" in ep.host else ep.host
        # CONNECT always names the port (RFC 9110 §9.3.6: authority-form).
        try:
            self.connect_target = f"{host}:{ep.port}".encode("idna")
            self.host_header = ep.authority.encode("idna")
        except UnicodeError as exc:
            raise ParameterError(f"Invalid host name in URL: {ep.host!r}") from exc
        self.forward = proxy is not None and not ep.tls
        path = ep.target.encode()
        self.target = (
            b"%s://%s%s" % (ep.scheme.encode(), self.host_header, path) if self.forward else path
        )
        self.proxy_headers: list[tuple[bytes, bytes]] = (
            [(b"Proxy-Authorization", proxy.authorization)]
            if proxy is not None and proxy.authorization is not None
            else []
        )
        # What every request carries for the proxy: only a forwarding proxy sees them.
        self.request_headers = self.proxy_headers if self.forward else []
        where = f"{host}:{ep.port}"
        self.where = where if proxy is None else f"{where} (through proxy {proxy.shown})"
        self.key = (ep.scheme, ep.host, ep.port, None if proxy is None else proxy.key)
