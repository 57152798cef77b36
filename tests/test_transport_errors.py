"""The HTTP/1.1 exchange is ritellm's own (h11 over httpcore's public network API), and its
errors say what happened: refused, TLS spoken to a plain-HTTP server, a reset, a redirect,
a reply that is not HTTP; a local protocol error is bad input, never a retried connection
error. On asyncio and trio, over loopback sockets."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
import pytest

import ritellm
from ritellm._options import Timeouts
from ritellm._types import HttpRequest
from ritellm.testing import Reply, Simulator

from .helpers import assert_pool_clean

MSGS = [{"role": "user", "content": "Hello!"}]
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ritellm" / "_transport"


# -- nothing private of httpcore ---------------------------------------------------------


def _private_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(private attribute names used, private names defined) in a module."""
    used: set[str] = set()
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if not node.attr.startswith("__"):
                used.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__slots__":
                    for elt in ast.walk(node.value):
                        if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                            defined.add(elt.value)
                elif isinstance(target, ast.Attribute):
                    defined.add(target.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
            defined.add(node.target.attr)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            private = [p for p in node.module.split(".") if p.startswith("_") and p != "__future__"]
            assert not private, f"imports from private module {node.module}"
    return used, defined


def test_the_transport_uses_only_its_own_private_names() -> None:
    used: set[str] = set()
    defined: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        u, d = _private_names(ast.parse(path.read_text(encoding="utf-8")))
        used |= u
        defined |= d
    assert used <= defined, f"private names of other libraries: {sorted(used - defined)}"


def test_httpcore_is_not_pinned_below_1_1() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (spec,) = [d for d in project["project"]["dependencies"] if d.startswith("httpcore")]
    assert "<" not in spec and re.search(r">=\s*1\.", spec), spec


# -- local protocol errors ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "url_tail", "named"),
    [
        (
            [(b"X-Split", b"sk-secret\r\nX-Injected: 1")],
            "/chat/completions",
            "value of the 'X-Split'",
        ),
        ([(b"Bad Name", b"x")], "/chat/completions", "header name 'Bad Name'"),
        ([], "/chat completions", "URL's path"),
    ],
    ids=["header-injection", "header-name", "space-in-target"],
)
async def test_invalid_http_is_bad_input_never_sent_nor_retried(
    sim: Simulator,
    client: ritellm.AsyncClient,
    headers: list[tuple[bytes, bytes]],
    url_tail: str,
    named: str,
) -> None:
    request = HttpRequest(method=b"POST", url=sim.base_url + url_tail, headers=headers, body=b"{}")
    transport = client.transport()
    with pytest.raises(ritellm.ParameterError, match="Invalid HTTP request") as info:
        await transport.send(request, Timeouts())
    assert named in str(info.value)
    assert "sk-secret" not in str(info.value)  # a value is never quoted: it may be a key
    assert sim.stats.total_connections == 0
    assert_pool_clean(client)


# -- messages that say what happened -----------------------------------------------------


@pytest.mark.anyio
async def test_tls_spoken_to_a_plain_http_server(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=f"https://127.0.0.1:{sim.port}/v1") as client:
        with pytest.raises(ritellm.APIConnectionError) as info:
            await client.acompletion("gpt-4o", MSGS, num_retries=0)
        assert_pool_clean(client)
    message = str(info.value)
    assert f"TLS handshake with 127.0.0.1:{sim.port} failed" in message
    assert "does not speak TLS" in message
    assert "http:// vs https://" in message


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_says_where_and_that_it_is_not_followed(
    sim: Simulator, client: ritellm.AsyncClient, status: int
) -> None:
    target = "https://new.example/v1/chat/completions"
    sim.script(Reply(status=status, headers={"location": target}, body=b"<html>Moved</html>"))
    with pytest.raises(ritellm.APIError) as info:
        await client.acompletion("gpt-4o", MSGS)
    assert info.value.status_code == status
    assert str(info.value) == (
        f"gpt-4o: HTTP {status}: Redirect to {target}; ritellm does not follow redirects for "
        "POST requests (use the new address as base_url)"
    )
    assert len(sim.requests) == 1


@pytest.mark.anyio
async def test_a_reset_before_the_answer_says_so(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(fault="reset", reset_after=0))
    with pytest.raises(ritellm.APIConnectionError) as info:
        await client.acompletion("gpt-4o", MSGS, num_retries=0)
    assert f"127.0.0.1:{sim.port} reset the connection before answering" in str(info.value)


async def _garbage_server() -> AsyncIterator[str]:
    async def handle(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            try:
                await stream.receive()
                await stream.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
                await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield f"http://127.0.0.1:{port}/v1"
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_reply_that_is_not_http_says_so() -> None:
    async for base_url in _garbage_server():
        async with ritellm.AsyncClient(base_url=base_url) as client:
            with anyio.fail_after(5), pytest.raises(ritellm.APIConnectionError) as info:
                await client.acompletion("gpt-4o", MSGS, num_retries=0)
            assert_pool_clean(client)
    assert "sent an invalid HTTP response" in str(info.value)
