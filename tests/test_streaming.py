"""Streaming end to end: exact chunks, incremental delivery, early exit, stream faults."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import anyio
import anyio.abc
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

pytestmark = pytest.mark.anyio

MSGS = [{"role": "user", "content": "Write a poem."}]


def contents(chunks: list[ritellm.ModelResponseStream]) -> list[str | None]:
    return [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]


async def stream_all(client: ritellm.AsyncClient, **kwargs: Any) -> list[Any]:
    async with await client.acompletion("openai/gpt-4o-mini", MSGS, stream=True, **kwargs) as s:
        return [chunk async for chunk in s]


async def test_exact_chunks_with_usage(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="Roses are red", chunk_size=5))
    chunks = await stream_all(client, stream_options={"include_usage": True})
    assert all(isinstance(c, ritellm.ModelResponseStream) for c in chunks)
    assert contents(chunks) == ["", "Roses", " are ", "red", None]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == 3
    assert sim.requests[-1].json["stream"] is True
    assert sim.requests[-1].json["stream_options"] == {"include_usage": True}
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert rebuilt.choices[0].message.content == "Roses are red"
    assert rebuilt.usage.total_tokens == usage_chunk.usage.total_tokens


async def test_first_chunk_arrives_before_the_server_sends_the_second(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # The server waits 30 s between events: seeing the first content chunk within 5 s proves
    # it was delivered as soon as it arrived, not buffered until a later event.
    sim.script(Reply(content="one two three", delay=30.0, role_chunk=False))
    with anyio.fail_after(5):
        stream = await client.acompletion("gpt-4o", MSGS, stream=True)
        async with stream:
            first = await stream.__anext__()
    assert first.choices[0].delta.content == "one "


async def test_break_releases_the_connection(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="a b c d e f g", delay=0.0))
    async with await client.acompletion("gpt-4o", MSGS, stream=True) as stream:
        async for chunk in stream:
            if chunk.choices[0].delta.content == "b ":
                break
    transport = client.transport()
    assert transport.active_connections == 0
    # The next call works (on a fresh or reused connection).
    r = await client.acompletion("gpt-4o", MSGS)
    assert r.choices[0].message.content


async def test_reading_to_the_end_returns_the_connection_for_reuse(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    for _ in range(3):
        chunks = await stream_all(client)
        assert chunks[-1].choices[0].finish_reason == "stop"
    assert sim.stats.total_connections == 1


async def test_stream_without_context_manager_frees_connection_at_done(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    stream = await client.acompletion("gpt-4o", MSGS, stream=True)
    got = [c async for c in stream]
    assert got
    assert client.transport().active_connections == 0


async def test_exception_inside_async_with_closes(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with await client.acompletion("gpt-4o", MSGS, stream=True) as stream:
            async for _ in stream:
                1 / 0  # noqa: B018
    assert client.transport().active_connections == 0


async def test_caller_cancellation_mid_stream(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="x y z", fault="stall", stall_after=2))
    got: list[Any] = []
    with anyio.move_on_after(0.3) as scope:
        async with await client.acompletion("gpt-4o", MSGS, stream=True) as stream:
            async for chunk in stream:
                got.append(chunk)
    assert scope.cancelled_caught  # the caller sees its own cancellation, not an error
    assert len(got) == 2
    assert client.transport().active_connections == 0


async def test_plain_for_raises_a_helpful_type_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    async with await client.acompletion("gpt-4o", MSGS, stream=True) as stream:
        with pytest.raises(TypeError, match="async for"):
            for _ in stream:
                pass


async def test_http_error_raises_at_the_await(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(status=429, headers={"retry-after": "3"}))
    with pytest.raises(ritellm.RateLimitError) as info:
        await client.acompletion("gpt-4o", MSGS, stream=True, num_retries=0)
    assert info.value.status_code == 429
    assert info.value.retry_after == 3.0


async def test_tool_call_fragments_rebuild(sim: Simulator, client: ritellm.AsyncClient) -> None:
    args = json.dumps({"city": "Paris", "unit": "celsius"})
    sim.script(Reply(tool_calls=[{"name": "get_weather", "arguments": args}], chunk_size=4))
    chunks = await stream_all(client, tools=[{"type": "function", "function": {"name": "x"}}])
    assert len(chunks) > 4  # arguments arrived in fragments
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    call = rebuilt.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert call.id.startswith("call_")
    assert rebuilt.choices[0].finish_reason == "tool_calls"
    assert rebuilt.choices[0].message.content is None


async def test_n_choices_interleaved(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="same answer"))
    chunks = await stream_all(client, n=2)
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert [c.message.content for c in rebuilt.choices] == ["same answer", "same answer"]


@pytest.mark.parametrize(
    "shape",
    [
        {"crlf": True},
        {"keepalive_comments": True},
        {"split_data_lines": True},
        {"extra_fields": True},
        {"fault": "drip", "delay": 0.0},
    ],
    ids=["crlf", "keepalive", "split-data", "extra-fields", "one-byte-writes"],
)
async def test_stream_shapes_give_identical_chunks(
    sim: Simulator, client: ritellm.AsyncClient, shape: dict[str, Any]
) -> None:
    sim.script(Reply(content="Ünïcode 😀 text here", chunk_size=3))
    expected = contents(await stream_all(client))
    sim.script(Reply(content="Ünïcode 😀 text here", chunk_size=3, **shape))
    assert contents(await stream_all(client)) == expected


async def test_read_timeout_before_first_chunk(sim: Simulator, client: ritellm.AsyncClient) -> None:
    # The await returns once the first chunk arrived, so silence after the headers times
    # out there, where nothing has reached the caller yet.
    sim.script(Reply(fault="stall", stall_after=0))
    with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError, match="read timeout") as info:
        await client.acompletion("gpt-4o", MSGS, stream=True, timeout=0.2, num_retries=0)
    assert isinstance(info.value, TimeoutError)
    assert len(sim.requests) == 1


async def test_silence_before_first_chunk_is_retried(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(fault="stall", stall_after=0), Reply(content="second try"))
    with anyio.fail_after(5):
        async with await client.acompletion("gpt-4o", MSGS, stream=True, timeout=0.2) as s:
            text = "".join([c.choices[0].delta.content or "" async for c in s if c.choices])
    assert text == "second try"
    assert len(sim.requests) == 2


async def test_reset_before_first_chunk_is_retried(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Headers arrive, then the connection dies before any event: nothing was delivered, so
    # the attempt is retried within num_retries, like a reset before the headers.
    sim.script(Reply(fault="reset", reset_after=120), Reply(content="second try"))
    with anyio.fail_after(5):
        async with await client.acompletion("gpt-4o", MSGS, stream=True) as s:
            text = "".join([c.choices[0].delta.content or "" async for c in s if c.choices])
    assert text == "second try"
    assert len(sim.requests) == 2


async def test_read_timeout_mid_stream(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="a b c", fault="stall", stall_after=2))
    got: list[Any] = []
    with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError):
        async with await client.acompletion("gpt-4o", MSGS, stream=True, timeout=0.2) as s:
            async for chunk in s:
                got.append(chunk)
    assert len(got) == 2


async def test_headers_timeout(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(fault="no_response"))
    with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError):
        await client.acompletion("gpt-4o", MSGS, stream=True, timeout=0.2, num_retries=0)


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (Reply(fault="truncate", truncate_after=2), "truncated"),
        (Reply(fault="stream_error", error_after=2), "The server had an error"),
        (Reply(fault="malformed", malformed_after=2), "malformed JSON"),
        (Reply(fault="reset", reset_after=900), "127.0.0.1"),  # after the first chunks
    ],
    ids=["truncate", "in-band-error", "malformed", "reset"],
)
async def test_stream_failures_are_stream_errors(
    sim: Simulator, client: ritellm.AsyncClient, reply: Reply, fragment: str
) -> None:
    sim.script(reply)
    with anyio.fail_after(5), pytest.raises(ritellm.StreamError, match=fragment) as info:
        await stream_all(client)
    assert info.value.provider == "openai"
    assert info.value.model == "openai/gpt-4o-mini"
    assert info.value.status_code is None


async def test_event_over_the_size_limit(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url) as c:
        sim.script(Reply(content="x", event_size=2_000_000))
        with anyio.fail_after(10), pytest.raises(ritellm.StreamError, match="max_line_bytes"):
            await stream_all(c)


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-x", "gemini/gemini-x"])
async def test_the_event_size_limit_is_configurable(sim: Simulator, model: str) -> None:
    base = sim.base_url if model.startswith("openai/") else sim.url
    async with ritellm.AsyncClient(base_url=base, max_event_bytes=4096) as c:
        sim.script(Reply(content="x y", event_size=1000))  # fits
        async with await c.acompletion(model, MSGS, stream=True) as s:
            assert [chunk async for chunk in s]
        sim.script(Reply(content="x y", event_size=5000))  # does not
        with anyio.fail_after(10), pytest.raises(ritellm.StreamError, match="4096"):
            async with await c.acompletion(model, MSGS, stream=True, num_retries=0) as s:
                await s.collect()
    with pytest.raises(ritellm.ParameterError, match="max_event_bytes must be >= 1"):
        ritellm.AsyncClient(max_event_bytes=0)


async def test_stream_metadata(sim: Simulator, client: ritellm.AsyncClient) -> None:
    async with await client.acompletion("gpt-4o", MSGS, stream=True) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "gpt-4o" in repr(stream)


async def test_reset_after_done_does_not_spoil_a_complete_answer(
    client: ritellm.AsyncClient,
) -> None:
    """The answer is whole once [DONE] arrives: a connection reset right after it (before
    the body's terminating chunk) must not turn it into an error or lose the last chunk."""
    finish = json.dumps(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
        }
    )
    last = json.dumps(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    events = f"data: {finish}\n\ndata: {last}\n\ndata: [DONE]\n\n".encode()
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (len(events), events)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            await stream.send(head + chunk)  # no terminating 0-chunk: then a reset
            sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        with anyio.fail_after(5):
            chunks = await stream_all(client, base_url=f"http://127.0.0.1:{port}/v1")
        tg.cancel_scope.cancel()
    assert contents(chunks) == ["hi", None]
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_read_timeout_is_per_chunk_not_per_read(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    """Bytes that trickle in without ever completing a chunk do not keep a stream alive."""
    sim.script(Reply(content="x" * 50, chunk_size=50, fault="drip", delay=0.02))
    with anyio.fail_after(10), pytest.raises(ritellm.APITimeoutError, match="chunk"):
        await stream_all(client, timeout=0.5, num_retries=0)


async def test_collect_reads_the_rest_and_closes(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="a b c"))
    stream = await client.acompletion("gpt-4o", MSGS, stream=True)
    first = await stream.__anext__()
    rest = await stream.collect()
    assert contents([first, *rest]) == ["", "a ", "b ", "c", None]
    assert client.transport().active_connections == 0
