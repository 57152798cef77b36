"""HTTPS: certificates are verified by default; a trusted CA works; failures are typed."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest
import trustme
from anyio.streams.tls import TLSListener

import ritellm

pytestmark = pytest.mark.anyio

BODY = json.dumps(
    {
        "id": "chatcmpl-tls",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "secure"}}],
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_url(ca: trustme.CA) -> AsyncIterator[str]:
    """A minimal HTTPS server on loopback with a certificate for 127.0.0.1."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def handle(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += await stream.receive()
                await stream.send(RESPONSE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLError, OSError):
                pass  # the client rejected our certificate: expected in one test

    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    listener = TLSListener(tcp, server_ctx, standard_compatible=False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield f"https://127.0.0.1:{port}/v1"
        tg.cancel_scope.cancel()
    await listener.aclose()


MSGS = [{"role": "user", "content": "hi"}]


async def test_untrusted_certificate_is_refused(https_url: str) -> None:
    async with ritellm.AsyncClient(base_url=https_url) as client:
        with pytest.raises(ritellm.APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.acompletion("gpt-4o", MSGS, num_retries=0)


async def test_trusted_ca_works(https_url: str, ca: trustme.CA) -> None:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    async with ritellm.AsyncClient(base_url=https_url, verify=ctx) as client:
        r = await client.acompletion("gpt-4o", MSGS)
        assert r.choices[0].message.content == "secure"
        transport = client.transport()
    assert transport.free_slots == transport.max_connections


async def test_verification_can_be_disabled_explicitly(https_url: str) -> None:
    async with ritellm.AsyncClient(base_url=https_url, verify=False) as client:
        r = await client.acompletion("gpt-4o", MSGS)
        assert r.choices[0].message.content == "secure"
