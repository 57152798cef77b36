"""Request hygiene before any I/O: extra_headers by RFC 9110's rules (no framing or hop-by-hop
fields, no value ever quoted), and base URLs whose query is kept, whose fragment is an error and
whose userinfo becomes Basic auth that never shows up in logs or errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm._checks import check_headers, redact_url
from ritellm._providers import endpoint, parse_base_url
from ritellm._types import Credentials
from ritellm.testing import Simulator
from tests.helpers import assert_pool_clean

MSGS: Any = [{"role": "user", "content": "Hi"}]
SECRET = "sk-CANARY-hygiene-0123456789"

# --- extra_headers (pure) -------------------------------------------------------------------

RESERVED = [
    "Host",
    "content-length",
    "Transfer-Encoding",
    "Connection",
    "TE",
    "Upgrade",
    "Keep-Alive",
    "Proxy-Authorization",
    "proxy-connection",
]


@pytest.mark.parametrize("name", RESERVED)
def test_framing_and_hop_by_hop_fields_are_refused(name: str) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        check_headers({name: SECRET})
    assert str(info.value) == (
        f"extra_headers: {name!r} is a framing or hop-by-hop field that ritellm's transport "
        "sets itself; it cannot be given (a proxy is configured with proxy=)"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (f"{SECRET}\n", "contains a control character"),
        (f"Bearer {SECRET}\r\nX-Evil: 1", "contains a control character"),
        (f"{SECRET}\0", "contains a control character"),
        (f"{SECRET}\x7f", "contains a control character"),
        (f"{SECRET}\x1b", "contains a control character"),
        (f" {SECRET}", "has leading or trailing whitespace"),
        (f"{SECRET}\t", "has leading or trailing whitespace"),
        (f"{SECRET}→", "is not Latin-1 text"),
    ],
)
def test_bad_values_are_refused_without_quoting_them(value: str, why: str) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        check_headers({"X-Key": value})
    assert why in str(info.value)
    assert "'X-Key'" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


@pytest.mark.parametrize("value", ["", "a\tb", "a b", "caf\xe9", "!#$%&'*+-.^_`|~"])
def test_valid_values_pass(value: str) -> None:
    assert check_headers({"X-A": value}) == [(b"X-A", value.encode("latin-1"))]


# --- base URLs (pure) -----------------------------------------------------------------------


def basic(user: str, password: str) -> tuple[tuple[bytes, bytes], ...]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return ((b"Authorization", f"Basic {token}".encode()),)


@pytest.mark.parametrize(
    ("url", "base", "query", "auth"),
    [
        ("https://h/v1", "https://h/v1", "", ()),
        ("https://h/v1/", "https://h/v1", "", ()),
        ("HTTPS://h:8443/v1?api-version=X&a=b", "https://h:8443/v1", "api-version=X&a=b", ()),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1", "", ()),
        ("http://user:p%40ss@h/v1", "http://h/v1", "", basic("user", "p@ss")),
        ("http://user@h:81/v1?x=1", "http://h:81/v1", "x=1", basic("user", "")),
    ],
)
def test_base_url_parts(
    url: str, base: str, query: str, auth: tuple[tuple[bytes, bytes], ...]
) -> None:
    assert parse_base_url(url) == (base, query, auth)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h/v1#frag", "base_url has a fragment"),
        ("http://h/v1#", "base_url has a fragment"),
        ("http://h:99999/v1", "base_url has an invalid port"),
        ("http://h:port/v1", "base_url has an invalid port"),
        ("http:///v1", "base_url has no host"),
        ("http://h/v 1", "base_url contains whitespace or control characters"),
        ("http://h/v1\n", "base_url contains whitespace or control characters"),
        ("ftp://h/v1", "must start with http:// or https://"),
        ("http://user:hunter2@h:99999/v1", "base_url has an invalid port"),
    ],
)
def test_bad_base_urls_are_parameter_errors(url: str, message: str) -> None:
    with pytest.raises(ritellm.ParameterError, match=message) as info:
        parse_base_url(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("base_query", "path", "query", "url"),
    [
        ("", "/chat/completions", "", "http://h/v1/chat/completions"),
        ("a=1", "/chat/completions", "", "http://h/v1/chat/completions?a=1"),
        ("", "/x", "alt=sse", "http://h/v1/x?alt=sse"),
        ("a=1", "/x", "alt=sse", "http://h/v1/x?alt=sse&a=1"),
    ],
)
def test_endpoint_merges_the_base_query(base_query: str, path: str, query: str, url: str) -> None:
    creds = Credentials(base_url="http://h/v1", query=base_query)
    assert endpoint(creds, path, query) == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@h:1/v1?x=1", "http://u:***@h:1/v1?x=1"),
        ("https://h/v1", "https://h/v1"),
        ("http://a:b@c@h/p", "http://a:***@h/p"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_credentials_repr_hides_basic_auth() -> None:
    creds = Credentials(base_url="http://h", headers=basic("u", SECRET))
    assert SECRET not in repr(creds)
    assert base64.b64encode(f"u:{SECRET}".encode()).decode() not in repr(creds)


# --- end to end, on both loops ----------------------------------------------------------------

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient() as c:
        yield c
        assert_pool_clean(c)


def with_userinfo(url: str, user: str = "me", password: str = SECRET) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


async def test_the_base_urls_query_is_kept(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await client.acompletion("openai/gpt-4o", MSGS, base_url=sim.base_url + "?tenant=t1")
    assert (sim.requests[0].path, sim.requests[0].query) == ("/v1/chat/completions", "tenant=t1")
    async with await client.acompletion(
        "gemini/gemini-2.5-flash", MSGS, base_url=sim.url + "?tenant=t1", stream=True
    ) as stream:
        await stream.collect()
    assert sim.requests[1].query == "alt=sse&tenant=t1"
    await client.acompletion(
        "azure/dep", MSGS, base_url=sim.url + "?tenant=t1", api_version="2024-10-21", api_key="k"
    )
    assert sim.requests[2].query == "api-version=2024-10-21&tenant=t1"


async def test_userinfo_is_basic_auth_and_never_shown(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    records: list[dict[str, Any]] = []
    base = with_userinfo(sim.url)
    await client.acompletion(
        "anthropic/claude-sonnet-4-5", MSGS, base_url=base, logger_fn=records.append
    )
    received = sim.requests[0]
    assert received.path == "/v1/messages"
    token = base64.b64encode(f"me:{SECRET}".encode()).decode()
    assert received.headers["authorization"] == f"Basic {token}"
    [record] = records
    assert record["url"] == sim.url + "/v1/messages"
    assert record["headers"]["Authorization"] == "Basic ***"
    assert SECRET not in repr(records) and token not in repr(records)


async def test_userinfo_never_reaches_an_error(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await client.acompletion(
            "openai/gpt-4o", MSGS, base_url=with_userinfo(sim.base_url), api_key="sk-other"
        )
    # OpenAI sends its key as a Bearer in the same header: one of them must go.
    assert "user:password" in str(info.value)
    with pytest.raises(ritellm.ParameterError) as bad_port:
        await client.acompletion("openai/gpt-4o", MSGS, base_url="http://me:" + SECRET + "@h:x/")
    for err in (info.value, bad_port.value):
        assert SECRET not in str(err) and SECRET not in repr(err)
    assert sim.requests == []


async def test_openai_userinfo_without_a_key_is_basic_auth(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await client.acompletion("hosted_vllm/m", MSGS, base_url=with_userinfo(sim.base_url))
    assert sim.requests[0].headers["authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"extra_headers": {"Content-Length": "5"}}, "framing or hop-by-hop"),
        ({"extra_headers": {"Transfer-Encoding": "chunked"}}, "framing or hop-by-hop"),
        ({"extra_headers": {"X-Key": f" {SECRET}"}}, "leading or trailing whitespace"),
        ({"base_url": "http://127.0.0.1:1/v1#x"}, "fragment"),
        ({"base_url": "http://127.0.0.1:70000/v1"}, "invalid port"),
    ],
)
async def test_bad_requests_fail_before_any_io(
    sim: Simulator, client: ritellm.AsyncClient, kwargs: dict[str, Any], message: str
) -> None:
    kwargs.setdefault("base_url", sim.base_url)
    with anyio.fail_after(5), pytest.raises(ritellm.ParameterError, match=message) as info:
        await client.acompletion("openai/gpt-4o", MSGS, **kwargs)
    assert SECRET not in str(info.value)
    assert sim.requests == [] and sim.stats.total_connections == 0
