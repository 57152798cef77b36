"""Compressed responses: ritellm asks for gzip and deflate and decodes them incrementally and
boundedly, streams included (each event still arrives as soon as its bytes do); any other
coding is a clear error. On asyncio and trio, over loopback sockets."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.abc
import h11
import pytest

import ritellm
from ritellm._transport._decode import DecodeError, decoder_for
from ritellm.testing import Reply, Simulator

from .helpers import assert_pool_clean

MSGS = [{"role": "user", "content": "hi"}]
ANSWER = {
    "id": "chatcmpl-z",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "squeezed " * 50},
            "finish_reason": "stop",
        }
    ],
}
RAW = json.dumps(ANSWER).encode()


def deflate(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


ENCODED = {
    "gzip": gzip.compress(RAW),
    "x-gzip": gzip.compress(RAW),
    "GZIP": gzip.compress(RAW),
    "deflate": deflate(RAW, zlib.MAX_WBITS),  # RFC 9110: the zlib format
    "deflate-raw": deflate(RAW, -zlib.MAX_WBITS),  # what some servers send instead
    "identity": RAW,
    "gzip, identity": gzip.compress(RAW),
    "deflate, gzip": gzip.compress(deflate(RAW, zlib.MAX_WBITS)),
    "two-members": gzip.compress(RAW[:100]) + gzip.compress(RAW[100:]),
}


# -- the decoder (pure) -----------------------------------------------------------------


def decode_all(coding: str, data: bytes, step: int, chunk: int = 7) -> bytes:
    decoder = decoder_for(coding, chunk)
    assert decoder is not None
    out = b""
    for i in range(0, len(data), step):
        out += decoder.feed(data[i : i + step])
        while decoder.pending:
            part = decoder.feed(b"")
            assert len(part) <= chunk
            out += part
    return out + decoder.end()


@pytest.mark.parametrize("name", sorted(ENCODED))
@pytest.mark.parametrize("step", [1, 5, 64, 10_000])
def test_any_split_decodes_to_the_same_bytes(name: str, step: int) -> None:
    coding = {"deflate-raw": "deflate", "two-members": "gzip"}.get(name, name)
    if coding == "identity":
        assert decoder_for(coding, 7) is None
        return
    assert decode_all(coding, ENCODED[name], step) == RAW


@pytest.mark.parametrize(
    ("data", "fragment"),
    [(gzip.compress(RAW)[:-6], "ends before"), (b"not gzip at all", "invalid gzip")],
    ids=["truncated", "garbage"],
)
def test_corrupt_data_is_a_decode_error(data: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        decode_all("gzip", data, 4)


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br"])
def test_codings_ritellm_cannot_decode_are_named(coding: str) -> None:
    with pytest.raises(ValueError, match=coding.split(", ")[-1]):
        decoder_for(coding, 7)


# -- JSON bodies from the simulator ------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(ENCODED))
async def test_compressed_answers_are_decoded(
    sim: Simulator, client: ritellm.AsyncClient, name: str
) -> None:
    coding = {"deflate-raw": "deflate", "two-members": "gzip"}.get(name, name)
    sim.script(Reply(body=ENCODED[name], headers={"content-encoding": coding}))
    r = await client.acompletion("gpt-4o", MSGS, num_retries=0)
    assert r.choices[0].message.content == ANSWER["choices"][0]["message"]["content"]  # type: ignore[index]
    assert sim.requests[-1].headers["accept-encoding"] == "gzip, deflate"
    # The connection is reused: the compressed body was read to its end.
    await client.acompletion("gpt-4o", MSGS)
    assert sim.stats.total_connections == 1


@pytest.mark.anyio
async def test_a_callers_accept_encoding_wins(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await client.acompletion("gpt-4o", MSGS, extra_headers={"Accept-Encoding": "identity"})
    assert sim.requests[-1].headers["accept-encoding"] == "identity"


@pytest.mark.anyio
async def test_a_compressed_error_body_is_decoded(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    body = json.dumps({"error": {"message": "bad thing", "type": "invalid_request_error"}})
    sim.script(
        Reply(status=400, body=gzip.compress(body.encode()), headers={"content-encoding": "gzip"})
    )
    with pytest.raises(ritellm.BadRequestError, match="bad thing"):
        await client.acompletion("gpt-4o", MSGS)


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_an_unknown_coding_is_a_clear_error_not_retried(
    sim: Simulator, client: ritellm.AsyncClient, coding: str
) -> None:
    sim.script(Reply(body=b"\x8b\x00binary", headers={"content-encoding": coding}))
    with pytest.raises(ritellm.APIResponseValidationError, match=f"Content-Encoding '{coding}'"):
        await client.acompletion("gpt-4o", MSGS, num_retries=2)
    assert len(sim.requests) == 1


@pytest.mark.anyio
async def test_a_corrupt_compressed_body_is_a_clear_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(body=gzip.compress(RAW)[:-6], headers={"content-encoding": "gzip"}))
    with pytest.raises(ritellm.APIResponseValidationError, match="could not be decoded"):
        await client.acompletion("gpt-4o", MSGS)


@pytest.mark.anyio
async def test_a_decompression_bomb_fails_without_blowing_up_memory(sim: Simulator) -> None:
    bomb = gzip.compress(b" " * (200 * 1024 * 1024), 9)  # 200 MiB of spaces, ~200 KiB
    sim.script(Reply(body=bomb, headers={"content-encoding": "gzip"}))
    async with ritellm.AsyncClient(base_url=sim.base_url, max_response_bytes=4 << 20) as c:
        tracemalloc.start()
        try:
            with pytest.raises(ritellm.APIResponseValidationError, match="max_response_bytes"):
                await c.acompletion("gpt-4o", MSGS)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 12 << 20, f"peak {peak:,} bytes"  # the 4 MiB limit and some change
        assert_pool_clean(c)


# -- streams from a server that compresses whatever it is asked -------------------------


Handler = Callable[[h11.Request, anyio.abc.ByteStream], Awaitable[None]]


async def serve(handler: Handler) -> AsyncIterator[str]:
    """A one-route HTTP/1.1 server (anyio + h11) whose handler writes the raw response."""

    async def connection(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            conn = h11.Connection(h11.SERVER)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        conn.receive_data(await stream.receive())
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.EndOfMessage):
                    await handler(request, stream)
                    return
                elif not isinstance(event, h11.Data):
                    return

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, connection)
        yield f"http://127.0.0.1:{port}/v1"
        tg.cancel_scope.cancel()


def sse(content: str, index: int) -> bytes:
    chunk = {
        "id": "chatcmpl-z",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: %s\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_compressed_stream_delivers_each_event_as_it_arrives(coding: str) -> None:
    """Each event is sent (compressed, Z_SYNC_FLUSH) only after the client holds the previous
    one: a client that waited for more compressed bytes would hang here."""
    words = ["one ", "two ", "three ", "four"]
    delivered = [anyio.Event() for _ in words]

    async def handler(request: h11.Request, stream: anyio.abc.ByteStream) -> None:
        assert dict(request.headers)[b"accept-encoding"] == b"gzip, deflate"
        wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
        await stream.send(STREAM_HEAD % coding.encode())
        for i, word in enumerate(words):
            data = comp.compress(sse(word, i)) + comp.flush(zlib.Z_SYNC_FLUSH)
            await stream.send(chunked(data))
            await delivered[i].wait()
        tail = comp.compress(b"data: [DONE]\n\n") + comp.flush()
        await stream.send(chunked(tail) + b"0\r\n\r\n")

    async for base_url in serve(handler):
        async with ritellm.AsyncClient(base_url=base_url) as client:
            with anyio.fail_after(10):
                got = []
                stream = await client.acompletion("gpt-4o", MSGS, stream=True)
                async with stream:
                    async for chunk in stream:
                        text = chunk.choices[0].delta.content
                        if text:
                            got.append(text)
                            delivered[len(got) - 1].set()
            assert got == words
            assert_pool_clean(client)


@pytest.mark.anyio
async def test_a_compressed_stream_bomb_is_bounded() -> None:
    """One 64 MiB event, compressed to ~64 KiB: the event-size limit stops it, and a single
    network read never expands to more than a bounded piece."""

    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = comp.compress(b"data: " + b"x" * (64 << 20)) + comp.flush(zlib.Z_SYNC_FLUSH)

    async def handler(request: h11.Request, stream: anyio.abc.ByteStream) -> None:
        await stream.send(STREAM_HEAD % b"gzip")
        await stream.send(chunked(bomb))
        with anyio.move_on_after(10):
            await stream.receive()  # until the client goes away

    async for base_url in serve(handler):
        async with ritellm.AsyncClient(base_url=base_url) as client:
            tracemalloc.start()
            try:
                with anyio.fail_after(30), pytest.raises(ritellm.APIError, match="max_line_bytes"):
                    stream = await client.acompletion("gpt-4o", MSGS, stream=True, num_retries=0)
                    async with stream:
                        async for _ in stream:
                            pass
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 12 << 20, f"peak {peak:,} bytes"
            assert_pool_clean(client)
