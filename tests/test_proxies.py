"""Proxies with httpx's semantics: the routing rules (pure), then requests through a real
proxy process (proxy.py) to the simulator (forwarding) and to a TLS server (CONNECT), on
asyncio and trio."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
import trustme
from anyio.streams.tls import TLSListener

import ritellm
from ritellm._transport._proxy import environment_proxies, parse_proxy, proxy_rules
from ritellm.testing import Simulator

from .helpers import assert_pool_clean

MSGS = [{"role": "user", "content": "hi"}]
USER, PASSWORD = "ritellm", "s3cret-proxy-pw"


# -- the rules (pure) -------------------------------------------------------------------


def route(environ: dict[str, str], url: str, proxy: str | None = None) -> str | None:
    """Which proxy (host:port) a request to ``url`` goes through, or None for direct."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    chosen = proxy_rules(proxy, environ).select(parts.scheme, parts.hostname, port)
    return None if chosen is None else f"{chosen.host}:{chosen.port}"


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        ({}, "https://api.openai.com/v1", None),
        ({"HTTPS_PROXY": "http://p:1"}, "https://api.openai.com/v1", "p:1"),
        ({"HTTPS_PROXY": "http://p:1"}, "http://api.openai.com/v1", None),
        ({"HTTP_PROXY": "http://p:1"}, "http://x.test/v1", "p:1"),
        ({"HTTP_PROXY": "http://p:1"}, "https://x.test/v1", None),
        ({"ALL_PROXY": "http://a:1"}, "https://x.test/v1", "a:1"),
        ({"ALL_PROXY": "http://a:1", "HTTPS_PROXY": "http://s:2"}, "https://x.test", "s:2"),
        ({"ALL_PROXY": "http://a:1", "HTTPS_PROXY": "http://s:2"}, "http://x.test", "a:1"),
        # A value without a scheme is an http:// proxy; its default port is 80.
        ({"https_proxy": "proxy.local"}, "https://x.test", "proxy.local:80"),
        # Lower case wins over upper case, whatever the order.
        ({"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:2"}, "https://x.test", "low:2"),
        ({"https_proxy": "http://low:2", "HTTPS_PROXY": "http://up:1"}, "https://x.test", "low:2"),
        # An empty lower-case variable removes the upper-case one.
        ({"HTTPS_PROXY": "http://up:1", "https_proxy": ""}, "https://x.test", None),
        # In a CGI request, HTTP_PROXY may come from a client's "Proxy:" header.
        ({"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}, "http://x.test", None),
        ({"http_proxy": "http://ok:1", "REQUEST_METHOD": "GET"}, "http://x.test", "ok:1"),
    ],
)
def test_environment_proxies(environ: dict[str, str], url: str, expected: str | None) -> None:
    assert route(environ, url) == expected


PROXIED = {"ALL_PROXY": "http://p:1"}


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("example.com", "https://example.com", True),
        ("example.com", "https://api.example.com", True),
        ("example.com", "https://notexample.com", False),
        (".example.com", "https://api.example.com", True),
        (".example.com", "https://example.com", False),  # a leading dot: subdomains only
        ("*.example.com", "https://api.example.com", True),
        ("EXAMPLE.com", "https://Api.Example.COM", True),
        ("localhost", "http://localhost:8080", True),
        ("localhost", "http://sub.localhost", False),
        ("127.0.0.1", "http://127.0.0.1:9000", True),
        ("127.0.0.1", "http://127.0.0.2:9000", False),
        ("10.0.0.0/8", "http://10.1.2.3", True),
        ("10.0.0.0/8", "http://11.1.2.3", False),
        ("10.0.0.0/8", "http://ten.example", False),
        ("::1", "http://[::1]:8000", True),
        ("fd00::/8", "http://[fd12::1]", True),
        ("example.com:8080", "http://example.com:8080", True),
        ("example.com:8080", "http://example.com:9090", False),
        ("http://example.com", "http://example.com", True),
        ("http://example.com", "https://example.com", False),
        ("*", "https://anything.test", True),
        ("a.test, *", "https://anything.test", True),
        (" a.test , b.test ", "https://b.test", True),
        ("", "https://b.test", False),
    ],
)
def test_no_proxy_rules(no_proxy: str, url: str, direct: bool) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        assert route({**PROXIED, name: no_proxy}, url) == (None if direct else "p:1")


def test_an_explicit_proxy_ignores_the_environment() -> None:
    environ = {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}
    assert route(environ, "https://x.test", proxy="http://mine:3128") == "mine:3128"
    assert route(environ, "https://x.test") is None


def test_credentials_become_a_basic_header_and_are_masked() -> None:
    proxy = parse_proxy(f"http://{USER}:s3cr%40t@proxy.local:3128", "proxy=")
    assert proxy.authorization == b"Basic cml0ZWxsbTpzM2NyQHQ="  # ritellm:s3cr@t
    assert proxy.shown == f"http://{USER}:***@proxy.local:3128"
    assert "s3cr" not in repr(proxy)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("socks5://p:1080", "SOCKS proxies are not supported"),
        ("https://p:443", "https:// proxies are not supported"),
        ("http://", "not a proxy URL"),
        ("http://p:notaport", "not a proxy URL"),
    ],
)
def test_unusable_proxy_urls(url: str, fragment: str) -> None:
    with pytest.raises(ritellm.ParameterError, match=fragment):
        parse_proxy(url, "proxy=")
    with pytest.raises(ritellm.ParameterError, match=fragment):
        ritellm.AsyncClient(proxy=url)


def test_an_unusable_environment_proxy_fails_only_when_used() -> None:
    rules = proxy_rules(None, {"ALL_PROXY": "socks5://u:pw@p:1080", "NO_PROXY": "direct.test"})
    assert rules.select("https", "direct.test", 443) is None
    with pytest.raises(ritellm.ParameterError, match=r"ALL_PROXY is 'socks5://u:\*\*\*@p:1080'"):
        rules.select("https", "other.test", 443)


def test_environment_reading_matches_urllib() -> None:
    import urllib.request
    from unittest import mock

    environ = {
        "HTTP_PROXY": "http://a:1",
        "no_proxy": "x",
        "FTP_PROXY": "ftp://f",
        "https_proxy": "",
    }
    with mock.patch.dict(os.environ, environ, clear=True):
        assert environment_proxies(environ) == urllib.request.getproxies_environment()


def test_repr_masks_url_passwords() -> None:
    client = ritellm.AsyncClient(
        base_url="http://user:base-pw@llm.local/v1", proxy=f"http://{USER}:{PASSWORD}@p:3128"
    )
    shown = repr(client)
    assert "base-pw" not in shown
    assert PASSWORD not in shown
    assert f"http://{USER}:***@p:3128" in shown


def test_client_arguments_are_checked() -> None:
    with pytest.raises(ritellm.ParameterTypeError, match="proxy"):
        ritellm.AsyncClient(proxy=3128)  # type: ignore[arg-type]
    with pytest.raises(ritellm.ParameterTypeError, match="trust_env"):
        ritellm.AsyncClient(trust_env="no")  # type: ignore[arg-type]


# -- through a real proxy -------------------------------------------------------------


def _start_proxy(tmp: Path, *extra: str) -> Iterator[str]:
    """Run proxy.py on a free loopback port; yields its URL (without credentials)."""
    port_file = tmp / "port"
    cmd = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0"]
    cmd += ["--port-file", str(port_file), "--num-workers", "1", "--num-acceptors", "1"]
    cmd += ["--log-level", "WARNING", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        port = ""
        while not port:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("proxy.py did not start")
            time.sleep(0.05)  # a separate process: nothing to wait on but its port file
            if port_file.exists():
                port = port_file.read_text().strip().split()[0] if port_file.read_text() else ""
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start_proxy(tmp_path_factory.mktemp("proxy"))


@pytest.fixture(scope="module")
def auth_proxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start_proxy(tmp_path_factory.mktemp("auth"), "--basic-auth", f"{USER}:{PASSWORD}")


def with_credentials(url: str, password: str = PASSWORD) -> str:
    return url.replace("http://", f"http://{USER}:{password}@")


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


BODY = json.dumps(
    {
        "id": "chatcmpl-tls",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "tunnelled"}}],
    }
).encode()
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


@pytest.fixture
async def https_url(ca: trustme.CA) -> AsyncIterator[str]:
    """A minimal keep-alive HTTPS server on loopback with a certificate for 127.0.0.1."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def handle(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            data = b""
            try:
                while True:
                    while b"\r\n\r\n" not in data:
                        data += await stream.receive()
                    head, _, data = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(data) < length:
                        data += await stream.receive()
                    data = data[length:]
                    await stream.send(RESPONSE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLError, OSError):
                pass

    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    listener = TLSListener(tcp, server_ctx, standard_compatible=False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield f"https://127.0.0.1:{port}/v1"
        tg.cancel_scope.cancel()
    await listener.aclose()


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.mark.anyio
async def test_http_through_a_forwarding_proxy(sim: Simulator, proxy_url: str) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url, proxy=proxy_url) as client:
        with anyio.fail_after(20):
            for _ in range(2):
                r = await client.acompletion("gpt-4o", MSGS, num_retries=0)
                assert r.choices[0].message.content.endswith("hi")
        assert sim.requests[-1].path == "/v1/chat/completions"  # origin-form at the server
        assert_pool_clean(client)


@pytest.mark.anyio
async def test_proxy_credentials_are_sent_and_never_shown(
    sim: Simulator, auth_proxy_url: str
) -> None:
    logged: list[dict[str, Any]] = []
    proxy = with_credentials(auth_proxy_url)
    async with ritellm.AsyncClient(base_url=sim.base_url, proxy=proxy) as client:
        with anyio.fail_after(20):
            r = await client.acompletion("gpt-4o", MSGS, num_retries=0, logger_fn=logged.append)
        assert r.choices[0].message.content
        assert "proxy-authorization" not in sim.requests[-1].headers  # for the proxy only
        assert PASSWORD not in repr(client) + repr(logged)
        assert_pool_clean(client)


@pytest.mark.anyio
@pytest.mark.parametrize("tls", [False, True], ids=["forward", "connect"])
@pytest.mark.parametrize("password", [None, "wrong"])
async def test_a_proxy_refusing_credentials_is_a_connection_error_naming_it(
    sim: Simulator,
    https_url: str,
    ca: trustme.CA,
    auth_proxy_url: str,
    tls: bool,
    password: str | None,
) -> None:
    proxy = auth_proxy_url if password is None else with_credentials(auth_proxy_url, password)
    base_url = https_url if tls else sim.base_url
    async with ritellm.AsyncClient(base_url=base_url, proxy=proxy, verify=trusting(ca)) as client:
        with anyio.fail_after(20), pytest.raises(ritellm.APIConnectionError) as info:
            await client.acompletion("gpt-4o", MSGS, num_retries=1)
        assert_pool_clean(client)
    message = str(info.value)
    assert "407" in message
    assert f"Proxy {proxy.replace('wrong', '***')}" in message
    assert "wrong" not in message
    assert sim.requests == []


@pytest.mark.anyio
async def test_https_through_a_connect_tunnel(
    https_url: str, ca: trustme.CA, auth_proxy_url: str
) -> None:
    proxy = with_credentials(auth_proxy_url)
    async with ritellm.AsyncClient(base_url=https_url, proxy=proxy, verify=trusting(ca)) as c:
        with anyio.fail_after(20):
            for _ in range(2):
                r = await c.acompletion("gpt-4o", MSGS, num_retries=0)
                assert r.choices[0].message.content == "tunnelled"
        transport = c.transport()
        assert transport.idle_connections == 1  # the tunnel is kept alive and reused
        assert_pool_clean(c)


@pytest.mark.anyio
async def test_a_per_call_proxy_is_an_option_never_a_body_field(
    sim: Simulator, auth_proxy_url: str
) -> None:
    logged: list[dict[str, Any]] = []
    async with ritellm.AsyncClient(base_url=sim.base_url, trust_env=False) as client:
        with anyio.fail_after(20):
            # Without the call's proxy the request goes direct, with it through the proxy:
            # a wrong password proves the route.
            await client.acompletion("gpt-4o", MSGS)
            with pytest.raises(ritellm.APIConnectionError, match="407"):
                await client.acompletion(
                    "gpt-4o", MSGS, proxy=with_credentials(auth_proxy_url, "wrong"), num_retries=0
                )
            await client.acompletion(
                "gpt-4o", MSGS, proxy=with_credentials(auth_proxy_url), logger_fn=logged.append
            )
        assert "proxy" not in sim.requests[-1].json
        assert logged[0]["proxy"] == f"{auth_proxy_url.replace('http://', f'http://{USER}:***@')}"
        # One pool per (origin, proxy): the direct and the proxied connections both idle.
        assert client.transport().idle_connections == 2
        assert_pool_clean(client)


@pytest.mark.anyio
async def test_a_refused_proxy_is_named_with_its_password_masked(sim: Simulator) -> None:
    proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{dead_port()}"
    async with ritellm.AsyncClient(base_url=sim.base_url, proxy=proxy) as client:
        with pytest.raises(ritellm.APIConnectionError) as info:
            await client.acompletion("gpt-4o", MSGS, num_retries=0)
    message = str(info.value)
    assert f"Connection refused by proxy http://{USER}:***@127.0.0.1" in message
    assert PASSWORD not in message + repr(info.value)


@pytest.mark.anyio
async def test_environment_proxies_no_proxy_and_trust_env(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{dead_port()}"
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with ritellm.AsyncClient(base_url=sim.base_url) as client:
        with pytest.raises(ritellm.APIConnectionError, match="refused by proxy"):
            await client.acompletion("gpt-4o", MSGS, num_retries=0)
    async with ritellm.AsyncClient(base_url=sim.base_url, trust_env=False) as client:
        assert (await client.acompletion("gpt-4o", MSGS, num_retries=0)).choices
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.0/8")
    async with ritellm.AsyncClient(base_url=sim.base_url) as client:
        assert (await client.acompletion("gpt-4o", MSGS, num_retries=0)).choices
    assert len(sim.requests) == 2
