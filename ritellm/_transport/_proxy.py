"""Proxy configuration as httpx defines it: a ``proxy=`` URL, or the HTTP_PROXY / HTTPS_PROXY /
ALL_PROXY / NO_PROXY environment variables, and which proxy (if any) serves an origin.

Pure: standard library and ritellm's leaf modules only; no I/O, and the environment is passed
in. Imports no anyio, httpcore or h11.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from .._checks import redact_url
from .._errors import ParameterError

__all__ = ["Proxy", "ProxyRules", "environment_proxies", "parse_proxy", "proxy_rules"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Proxy:
    """An HTTP proxy: where it listens, the credentials header its URL carries, and how it is
    shown in messages (password masked). ``key`` tells pools apart."""

    __slots__ = ("authorization", "host", "key", "port", "shown")

    def __init__(self, host: str, port: int, authorization: bytes | None, shown: str) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization
        self.shown = shown
        self.key = (host, port, authorization)

    def __repr__(self) -> str:
        return f"<Proxy {self.shown}>"


def parse_proxy(url: str, source: str) -> Proxy:
    """Parse a proxy URL such as ``http://user:pass@proxy.local:3128``.

    A URL without a scheme is taken as ``http://`` (as httpx does for the environment).
    Credentials in the userinfo (percent-encoded) become ``Proxy-Authorization: Basic …``.

    Args:
        url: the proxy URL.
        source: where it came from, for messages (``"proxy="``, ``"HTTPS_PROXY"``).

    Returns:
        The parsed proxy.

    Raises:
        ParameterError: not an ``http://`` proxy URL with a host (the message masks the
            password).
    """
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    shown = redact_url(text)
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced "[" in an IPv6 address
        parts = urlsplit("http://")
    scheme = parts.scheme.lower()
    if scheme != "http":
        kind = "SOCKS proxies" if scheme.startswith("socks") else f"{scheme}:// proxies"
        raise ParameterError(
            f"{source} is {shown!r}: {kind} are not supported; ritellm speaks to HTTP proxies "
            "(http://host:port), which tunnel https:// requests with CONNECT"
        )
    try:
        host = parts.hostname
        port = parts.port or 80
    except ValueError:
        host = None
    if not host:
        raise ParameterError(
            f"{source} is {shown!r}, which is not a proxy URL like http://host:port"
        )
    authorization = None
    if parts.username is not None or parts.password is not None:
        user = unquote(parts.username or "")
        password = unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = f"Basic {token}".encode("ascii")
    return Proxy(host, port, authorization, shown)


def environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """``<scheme>_proxy`` variables as urllib's ``getproxies_environment`` reads them: any case,
    a lower-case name winning over an upper-case one (an empty lower-case value removes the
    entry); upper-case ``HTTP_PROXY`` is ignored in a CGI request (``REQUEST_METHOD`` set),
    where a client's ``Proxy:`` header would arrive as it (CVE-2016-1000110)."""
    found: dict[str, str] = {}
    for name, value in environ.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy"):
            found[lowered[:-6]] = value
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value in environ.items():
        if name.endswith("_proxy"):
            scheme = name[:-6].lower()
            if value:
                found[scheme] = value
            else:
                found.pop(scheme, None)
    return found


class _Rule:
    """One entry of the routing table: which origins it covers, and the proxy for them
    (None: connect directly; a str: the reason the configured proxy URL is unusable)."""

    __slots__ = ("domain", "host", "network", "port", "priority", "proxy", "scheme")

    def __init__(
        self,
        proxy: Proxy | str | None,
        *,
        scheme: str = "",
        host: str = "",
        port: int | None = None,
        network: IPNetwork | None = None,
        domain: str = "",
    ) -> None:
        self.proxy = proxy
        self.scheme = scheme
        self.host = host
        self.port = port
        self.network = network
        # "example.com" covers example.com and its subdomains; ".example.com" only the
        # subdomains (httpx's "*example.com" and "*.example.com").
        self.domain = domain
        # httpx's order: rules with a port first, then longer hosts, then longer schemes.
        text = host or domain or (str(network) if network is not None else "")
        self.priority = (0 if port is not None else 1, -len(text), -len(scheme))

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if self.scheme and self.scheme != scheme:
            return False
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        if self.domain:
            if self.domain.startswith("."):
                return host.endswith(self.domain)
            return host == self.domain or host.endswith("." + self.domain)
        return not self.host or self.host == host


class ProxyRules:
    """Which proxy serves an origin: the first matching rule in httpx's priority order."""

    __slots__ = ("_rules",)

    def __init__(self, rules: list[_Rule]) -> None:
        self._rules = sorted(rules, key=lambda rule: rule.priority)

    def __bool__(self) -> bool:
        return any(rule.proxy is not None for rule in self._rules)

    def select(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for ``scheme://host:port``, or None to connect directly.

        Raises:
            ParameterError: the matching proxy setting is not a usable proxy URL.
        """
        host = host.lower()
        for rule in self._rules:
            if rule.matches(scheme, host, port):
                if isinstance(rule.proxy, str):
                    raise ParameterError(rule.proxy)
                return rule.proxy
        return None


def proxy_rules(proxy: str | None, environ: Mapping[str, str] | None) -> ProxyRules:
    """The routing table for a client, with httpx's semantics.

    Args:
        proxy: an explicit proxy for every origin (the environment is then not consulted,
            NO_PROXY included).
        environ: the process environment, or None to ignore it (``trust_env=False``).

    Raises:
        ParameterError: ``proxy`` is not a usable proxy URL (an unusable one from the
            environment raises only when a request would use it).
    """
    if proxy is not None:
        return ProxyRules([_Rule(parse_proxy(proxy, "proxy="))])
    if not environ:
        return ProxyRules([])
    found = environment_proxies(environ)
    rules: list[_Rule] = []
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            target: Proxy | str
            try:
                target = parse_proxy(url, f"{scheme.upper()}_PROXY")
            except ParameterError as exc:
                target = exc.args[0]
            rules.append(_Rule(target, scheme="" if scheme == "all" else scheme))
    if not rules:
        return ProxyRules([])
    for entry in found.get("no", "").split(","):
        entry = entry.strip().lower()
        if entry == "*":
            return ProxyRules([])  # NO_PROXY=* turns every proxy off
        if entry:
            rules.append(_bypass(entry))
    return ProxyRules(rules)


def _bypass(entry: str) -> _Rule:
    """A NO_PROXY entry as a direct-connection rule: a domain (and its subdomains), a
    ``.suffix`` (subdomains only), ``localhost``, an IPv4/IPv6 address or CIDR block, each
    with an optional ``:port``, or a ``scheme://host[:port]`` pattern."""
    scheme = ""
    if "://" in entry:
        scheme, _, entry = entry.partition("://")
        scheme = "" if scheme == "all" else scheme
        entry = entry.rstrip("/")
    host, port = _split_port(entry)
    network = _network(host)
    if network is not None:
        return _Rule(None, scheme=scheme, port=port, network=network)
    if host.startswith("*"):
        host = host[1:]  # "*.example.com" means ".example.com"
    if host in ("", "localhost"):
        return _Rule(None, scheme=scheme, port=port, host=host)
    return _Rule(None, scheme=scheme, port=port, domain=host)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    head, sep, tail = entry.rpartition(":")
    if sep and tail.isdigit() and ":" not in head:
        return head, int(tail)
    return entry, None


def _network(host: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(host, strict=False)
    except ValueError:
        return None
