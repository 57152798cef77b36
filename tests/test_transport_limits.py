"""Bounded bodies: ``max_response_bytes`` caps a JSON answer or an error body (a declared
Content-Length over it fails before the body is read, a chunked one as soon as it passes
it), with a typed error; on asyncio and trio, over loopback sockets."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.abc
import h11
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

from .helpers import assert_pool_clean

MSGS = [{"role": "user", "content": "hi"}]
Handler = Callable[[anyio.abc.ByteStream], Awaitable[None]]


async def serve(handler: Handler) -> AsyncIterator[str]:
    """A server that reads one request (anyio + h11) and lets ``handler`` write raw bytes."""

    async def connection(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            conn = h11.Connection(h11.SERVER)
            while not isinstance(event := conn.next_event(), h11.EndOfMessage):
                if event is h11.NEED_DATA:
                    try:
                        conn.receive_data(await stream.receive())
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
            # The client gives up on the body, as it should.
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                await handler(stream)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, connection)
        yield f"http://127.0.0.1:{port}/v1"
        tg.cancel_scope.cancel()


async def until_closed(stream: anyio.abc.ByteStream) -> None:
    with anyio.move_on_after(10):
        while await stream.receive():
            pass


@pytest.mark.anyio
async def test_a_declared_length_over_the_limit_fails_before_the_body_is_read() -> None:
    async def handler(stream: anyio.abc.ByteStream) -> None:
        # A billion bytes are announced; a few arrive; the rest never would.
        await stream.send(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b'content-length: 1000000000\r\n\r\n{"id": '
        )
        await until_closed(stream)

    async for base_url in serve(handler):
        async with ritellm.AsyncClient(base_url=base_url, max_response_bytes=1000) as c:
            with anyio.fail_after(5), pytest.raises(ritellm.APIResponseValidationError) as info:
                await c.acompletion("gpt-4o", MSGS, num_retries=2)
            assert_pool_clean(c)
    err = info.value
    assert "1,000,000,000 bytes (Content-Length)" in str(err)
    assert "max_response_bytes=1,000" in str(err)
    assert err.status_code == 200
    assert err.model == "gpt-4o"


@pytest.mark.anyio
async def test_a_chunked_body_fails_as_soon_as_it_passes_the_limit() -> None:
    sent = 0

    async def handler(stream: anyio.abc.ByteStream) -> None:
        nonlocal sent
        await stream.send(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        piece = b" " * 4096
        while sent < 100_000_000:  # endless, for this client
            await stream.send(b"1000\r\n%s\r\n" % piece)
            sent += len(piece)

    async for base_url in serve(handler):
        async with ritellm.AsyncClient(base_url=base_url, max_response_bytes=64_000) as c:
            with anyio.fail_after(5), pytest.raises(ritellm.APIResponseValidationError) as info:
                await c.acompletion("gpt-4o", MSGS)
            assert_pool_clean(c)
    assert "larger than 64,000 bytes" in str(info.value)
    assert sent < 10_000_000


@pytest.mark.anyio
async def test_an_error_body_over_the_limit_is_typed_and_not_retried(sim: Simulator) -> None:
    sim.script(Reply(status=503, body="x" * 5000, content_type="text/plain"))
    async with ritellm.AsyncClient(base_url=sim.base_url, max_response_bytes=1000) as c:
        with pytest.raises(ritellm.APIResponseValidationError) as info:
            await c.acompletion("gpt-4o", MSGS, num_retries=3)
        assert_pool_clean(c)
    assert info.value.status_code == 503
    assert len(sim.requests) == 1


@pytest.mark.anyio
async def test_a_body_at_the_limit_is_read(sim: Simulator) -> None:
    answer = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "fits"}}],
    }
    body = json.dumps(answer).encode()
    sim.script(Reply(body=body), Reply(body=body + b" "))
    async with ritellm.AsyncClient(base_url=sim.base_url, max_response_bytes=len(body)) as c:
        assert (await c.acompletion("gpt-4o", MSGS)).choices[0].message.content == "fits"
        with pytest.raises(ritellm.APIResponseValidationError, match="max_response_bytes"):
            await c.acompletion("gpt-4o", MSGS)


@pytest.mark.anyio
async def test_a_stream_answered_with_a_huge_json_body_is_bounded(sim: Simulator) -> None:
    sim.script(Reply(body="[" + "0," * 100_000 + "0]"))
    async with ritellm.AsyncClient(base_url=sim.base_url, max_response_bytes=10_000) as c:
        with pytest.raises(ritellm.APIResponseValidationError, match="max_response_bytes"):
            await c.acompletion("gpt-4o", MSGS, stream=True)
        assert_pool_clean(c)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_response_bytes": 0}, ritellm.ParameterError),
        ({"max_response_bytes": 1.5}, ritellm.ParameterTypeError),
        ({"max_idle_connections": -1}, ritellm.ParameterError),
        ({"max_connections": 0}, ritellm.ParameterError),
        ({"keepalive_expiry": "long"}, ritellm.ParameterTypeError),
    ],
)
def test_limits_are_checked(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        ritellm.AsyncClient(**kwargs)  # type: ignore[arg-type]


def test_the_default_limit_is_32_mib() -> None:
    import inspect

    default = inspect.signature(ritellm.AsyncClient).parameters["max_response_bytes"].default
    assert default == 32 * 1024 * 1024
