"""mock_response= (LiteLLM's), continued: streams that are real AsyncCompletionStream /
CompletionStream objects, the blocking calls from threads, and callbacks told of a mocked call
as of a real one. (tests/test_mock_response.py has the answers, errors and fallbacks.)"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Simulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MSGS: Any = [{"role": "user", "content": "Say hello to the world"}]  # 5 words
TEXT = "Hello world, how are you?"  # 5 word-sized pieces
PIECES = ["Hello ", "world, ", "how ", "are ", "you?"]
MODEL = "openai/gpt-4o-mini"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(base_url=sim.base_url) as c:
        yield c
    assert sim.stats.requests == 0, "a mocked call reached the server"
    assert sim.stats.total_connections == 0


class Recorder(ritellm.CustomLogger):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []

    def log_pre_api_call(self, model: str, messages: Any, kwargs: dict[str, Any]) -> None:
        self.events.append(("pre", kwargs, None))

    def log_success_event(self, kwargs: Any, response_obj: Any, start: Any, end: Any) -> None:
        self.events.append(("success", kwargs, response_obj))

    def log_failure_event(self, kwargs: Any, response_obj: Any, start: Any, end: Any) -> None:
        self.events.append(("failure", kwargs, kwargs["exception"]))


# -- streams ----------------------------------------------------------------------------------


async def test_a_stream_of_word_sized_chunks(client: ritellm.AsyncClient) -> None:
    with anyio.fail_after(5):
        stream = await client.acompletion(MODEL, MSGS, mock_response=TEXT, stream=True)
        assert isinstance(stream, ritellm.AsyncCompletionStream)
        async with stream:
            chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta for c in chunks]
    assert [d.get("content") for d in deltas] == [*PIECES, None]
    assert deltas[0].role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks] == [None] * 5 + ["stop"]
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-4o-mini" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert not any("usage" in c for c in chunks)
    built = ritellm.stream_chunk_builder(chunks)
    assert built is not None and built.choices[0].message.content == TEXT
    meta = stream.response_metadata
    assert meta is not None and meta.latency.total is not None and meta.usage is None


async def test_a_stream_with_usage(client: ritellm.AsyncClient) -> None:
    stream = await client.acompletion(
        MODEL, MSGS, mock_response=TEXT, stream=True, stream_options={"include_usage": True}
    )
    chunks = await stream.collect()
    assert chunks[-1].choices == []
    usage = {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert chunks[-1].usage == usage
    assert stream.response_metadata is not None and stream.response_metadata.usage == usage
    # The same answer as without streaming.
    whole = await client.acompletion(MODEL, MSGS, mock_response=TEXT)
    built = ritellm.stream_chunk_builder(chunks)
    assert built is not None
    assert (built.choices, built.usage) == (whole.choices, whole.usage)


async def test_a_dict_streams_too(client: ritellm.AsyncClient) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    given = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    stream = await client.acompletion(MODEL, MSGS, mock_response=given, stream=True)
    built = ritellm.stream_chunk_builder(await stream.collect())
    assert built is not None
    assert built.choices[0].message.tool_calls == [call]
    assert built.choices[0].finish_reason == "tool_calls"


async def test_leaving_a_stream_early(client: ritellm.AsyncClient) -> None:
    rec = Recorder()
    async with ritellm.AsyncClient(callbacks=[rec]) as observed:
        stream = await observed.acompletion(MODEL, MSGS, mock_response=TEXT, stream=True)
        async with stream:
            async for _ in stream:
                break
        await ritellm.aflush_callbacks()
    assert [e[0] for e in rec.events] == ["pre", "failure"]
    assert isinstance(rec.events[1][2], ritellm.CallCancelled)


async def test_a_stream_that_fails_raises_before_it_is_returned(
    client: ritellm.AsyncClient,
) -> None:
    with pytest.raises(ritellm.RateLimitError):
        await client.acompletion(MODEL, MSGS, mock_response="litellm.RateLimitError", stream=True)


def test_blocking_completion_and_stream_from_threads() -> None:
    out: dict[int, Any] = {}

    def work(i: int) -> None:
        r = ritellm.completion(MODEL, MSGS, mock_response=f"answer {i}")
        with ritellm.completion(MODEL, MSGS, mock_response=TEXT, stream=True) as stream:
            assert isinstance(stream, ritellm.CompletionStream)
            pieces = [c.choices[0].delta.get("content") for c in stream]
        out[i] = (r.choices[0].message.content, pieces)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert out == {i: (f"answer {i}", [*PIECES, None]) for i in range(4)}


# -- callbacks ----------------------------------------------------------------------------------


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


async def test_callbacks_see_mocks_as_real_calls(rec: Recorder) -> None:
    async with ritellm.AsyncClient(callbacks=[rec]) as c:
        r = await c.acompletion(MODEL, MSGS, mock_response="ok", metadata={"run": 7})
        with pytest.raises(ritellm.RateLimitError):
            await c.acompletion(MODEL, MSGS, mock_response="litellm.RateLimitError")
        stream = await c.acompletion(MODEL, MSGS, mock_response=TEXT, stream=True)
        await stream.collect()
        await ritellm.aflush_callbacks()
    assert [e[0] for e in rec.events] == ["pre", "success", "pre", "failure", "pre", "success"]
    pre, success = rec.events[0][1], rec.events[1][1]
    assert pre["additional_args"]["body"]["model"] == "gpt-4o-mini"  # what would have been sent
    assert success["metadata"] == {"run": 7}
    assert rec.events[1][2] is r
    assert isinstance(rec.events[3][2], ritellm.RateLimitError)
    assert rec.events[5][2].choices[0].message.content == TEXT
    assert rec.events[5][1]["complete_streaming_response"].choices[0].message.content == TEXT


async def test_cancelling_a_mocked_call(client: ritellm.AsyncClient) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await client.acompletion(MODEL, MSGS, mock_response="never seen")
        pytest.fail("a mocked call is a cancel point")  # pragma: no cover
    assert scope.cancelled_caught
