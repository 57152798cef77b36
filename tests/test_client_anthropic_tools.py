"""Anthropic Messages end to end, continued: tools (mapping, calls whole and streamed, a full
OpenAI-style tool loop accepted by the simulator's pairing rules), extended thinking
(reasoning_effort, reasoning_content and signed thinking_blocks sent back unchanged) and usage
(cache counts, the include_usage chunk, streamed == non-streamed), on asyncio and trio."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

from .test_client_anthropic import (
    BARE,
    KEY,
    MSGS,
    USAGE,
    WIRE_MODEL,
    call,
    collect,
    deltas,
    plain,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "get_time"}}  # no parameters at all
TOOLS = [WEATHER, CLOCK]
NATIVE_TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather",
        "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
    },
    {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
]
# Two parallel calls after a text block; compact JSON, as ritellm writes a whole call's input.
CALLS = [
    {"id": "toolu_01Weather", "name": "get_weather", "arguments": '{"city":"Paris"}'},
    {"id": "toolu_02Clock", "name": "get_time", "arguments": ""},
]
TOOL_CALLS = [
    {
        "id": "toolu_01Weather",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    },
    {
        "id": "toolu_02Clock",
        "type": "function",
        "function": {"name": "get_time", "arguments": "{}"},
    },
]
THOUGHT = "Need the weather. Call tools."


@pytest.fixture
async def claude_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture
async def client(claude_sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(base_url=claude_sim.url, api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


def signature_of(r: Any) -> str:
    block = r.choices[0].message.thinking_blocks[0]
    assert isinstance(block.signature, str) and block.signature
    return str(block.signature)


# -- tools: the request -----------------------------------------------------------------------

NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("kwargs", "choice"),
    [
        ({}, None),
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": NAMED}, {"type": "tool", "name": "get_weather"}),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        (
            {"tool_choice": NAMED, "parallel_tool_calls": False},
            {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        ),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"parallel_tool_calls": True}, None),
    ],
    ids=[
        "no-choice",
        "auto",
        "none",
        "required",
        "named",
        "no-parallel",
        "required-no-parallel",
        "named-no-parallel",
        "none-no-parallel",
        "parallel",
    ],
)
async def test_tools_and_tool_choice_as_sent(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    kwargs: dict[str, Any],
    choice: dict[str, Any] | None,
) -> None:
    await call(client, tools=TOOLS, **kwargs)
    expected = {**BARE, "tools": NATIVE_TOOLS}
    if choice is not None:
        expected["tool_choice"] = choice
    assert claude_sim.requests[0].json == expected


# -- tools: the answer ------------------------------------------------------------------------


async def test_tool_calls_non_stream(claude_sim: Simulator, client: ritellm.AsyncClient) -> None:
    claude_sim.script(Reply(content="Let me check.", tool_calls=CALLS))
    r = await call(client, tools=TOOLS)
    assert plain(r.choices[0]) == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": TOOL_CALLS,
            "refusal": None,
        },
        "logprobs": None,
        "finish_reason": "tool_calls",
    }
    assert r.choices[0].message.tool_calls[1].function.arguments == "{}"


async def test_tool_only_answer_has_no_content(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    r = await call(client, tools=TOOLS, tool_choice="required")
    message = r.choices[0].message
    assert message.content is None
    [tool_call] = message.tool_calls
    assert tool_call.id.startswith("toolu_")  # the simulator's ids, as the API's
    assert tool_call.function == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}


async def test_tool_calls_stream_exact_chunks(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Anthropic numbers the blocks 0 (text), 1, 2: OpenAI's tool-call indices are 0 and 1.
    claude_sim.script(Reply(content="Let me check.", tool_calls=CALLS))
    chunks = await collect(client, tools=TOOLS)
    weather = {"name": "get_weather", "arguments": ""}
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Let "}, None),
        ({"content": "me "}, None),
        ({"content": "check."}, None),
        (
            {
                "tool_calls": [
                    {"index": 0, "id": "toolu_01Weather", "type": "function", "function": weather}
                ]
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, None),
        (
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_02Clock",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        # A call without arguments streams none: "{}" keeps it parseable.
        ({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, None),
        ({}, "tool_calls"),
    ]
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert plain(rebuilt.choices[0].message.tool_calls) == TOOL_CALLS


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_openai_tool_loop_is_accepted(
    claude_sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    # Turn 1: two parallel calls (ids from the simulator). Turn 2: the conversation written
    # the OpenAI way — the assistant message as returned, one role "tool" message per call.
    claude_sim.script(
        Reply(
            content="Checking both.",
            tool_calls=[
                {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"name": "get_time", "arguments": ""},
            ],
        ),
        Reply(content="It is 15°C at noon."),
    )
    if stream:
        rebuilt = ritellm.stream_chunk_builder(await collect(client, tools=TOOLS))
        assert rebuilt is not None
        assistant = rebuilt.choices[0].message
    else:
        assistant = (await call(client, tools=TOOLS)).choices[0].message
    first, second = assistant.tool_calls
    messages = [
        *MSGS,
        assistant,
        {"role": "tool", "tool_call_id": first.id, "content": "15°C"},
        {"role": "tool", "tool_call_id": second.id, "content": "12:00"},
    ]
    r = await call(client, messages=messages, tools=TOOLS)
    assert r.choices[0].message.content == "It is 15°C at noon."  # the simulator accepted it
    assert claude_sim.requests[1].json["messages"] == [
        *MSGS,
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": first.id,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": second.id, "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": first.id, "content": "15°C"},
                {"type": "tool_result", "tool_use_id": second.id, "content": "12:00"},
            ],
        },
    ]


async def test_a_tool_result_the_server_cannot_pair_is_its_400(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # The simulator's pairing rule is live: an assistant call left unanswered is refused
    # with the API's wording (ritellm sends the conversation as written).
    messages = [
        *MSGS,
        {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS},
        {"role": "tool", "tool_call_id": "toolu_01Weather", "content": "15°C"},
    ]
    with pytest.raises(ritellm.BadRequestError) as info:
        await call(client, messages=messages, tools=TOOLS, num_retries=0)
    assert info.value.message == (
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
        "after: toolu_02Clock. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message."
    )
    assert len(claude_sim.requests) == 1


# -- extended thinking ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "kwargs", "thinking", "limit"),
    [
        ("low", {}, {"type": "enabled", "budget_tokens": 1024}, 5120),
        ("medium", {}, {"type": "enabled", "budget_tokens": 2048}, 6144),
        ("high", {}, {"type": "enabled", "budget_tokens": 4096}, 8192),
        ("low", {"max_tokens": 2000}, {"type": "enabled", "budget_tokens": 1024}, 2000),
        ("none", {}, None, 4096),
    ],
)
async def test_reasoning_effort_as_sent(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    effort: str,
    kwargs: dict[str, Any],
    thinking: dict[str, Any] | None,
    limit: int,
) -> None:
    await call(client, reasoning_effort=effort, **kwargs)
    expected = {**BARE, "max_tokens": limit}
    if thinking is not None:
        expected["thinking"] = thinking
    assert claude_sim.requests[0].json == expected


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("limit", [1024, 100])
async def test_max_tokens_within_the_thinking_budget_fails_before_io(
    claude_sim: Simulator, client: ritellm.AsyncClient, name: str, limit: int
) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await call(client, reasoning_effort="low", stream=True, **{name: limit})
    assert str(info.value) == (
        f"{name}={limit} leaves no room for the answer: Anthropic counts thinking against "
        f"max_tokens, and reasoning_effort='low' is a 1024-token thinking budget, so {name} "
        "must be greater than 1024 (or leave it out to get 5120)"
    )
    assert claude_sim.requests == []


async def test_thinking_non_stream(claude_sim: Simulator, client: ritellm.AsyncClient) -> None:
    claude_sim.script(Reply(content="Sunny.", reasoning=THOUGHT))
    r = await call(client, reasoning_effort="low")
    signature = signature_of(r)
    assert plain(r.choices[0].message) == {
        "role": "assistant",
        "content": "Sunny.",
        "reasoning_content": THOUGHT,
        "thinking_blocks": [{"type": "thinking", "thinking": THOUGHT, "signature": signature}],
        "refusal": None,
    }


async def test_thinking_stream_exact_chunks(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(content="Sunny.", reasoning="Look outside."))
    chunks = await collect(client, reasoning_effort="low")
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    signature = signature_of(rebuilt)

    def thought(text: str) -> dict[str, Any]:
        block = {"index": 0, "type": "thinking", "thinking": text}
        return {"reasoning_content": text, "thinking_blocks": [block]}

    assert deltas(chunks) == [
        ({"role": "assistant", **thought("Look ")}, None),
        (thought("outside."), None),
        ({"thinking_blocks": [{"index": 0, "type": "thinking", "signature": signature}]}, None),
        ({"content": "Sunny."}, None),
        ({}, "stop"),
    ]
    assert plain(rebuilt.choices[0].message) == {
        "role": "assistant",
        "content": "Sunny.",
        "reasoning_content": "Look outside.",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "Look outside.", "signature": signature}
        ],
        "refusal": None,
    }


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_thinking_blocks_go_back_unchanged_in_a_tool_loop(
    claude_sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    claude_sim.script(Reply(reasoning=THOUGHT, tool_calls=CALLS), Reply(content="15°C at noon."))
    if stream:
        rebuilt = ritellm.stream_chunk_builder(
            await collect(client, tools=TOOLS, reasoning_effort="low")
        )
        assert rebuilt is not None
        assistant = rebuilt.choices[0].message
    else:
        assistant = (await call(client, tools=TOOLS, reasoning_effort="low")).choices[0].message
    assert assistant.content is None
    assert assistant.reasoning_content == THOUGHT
    [block] = assistant.thinking_blocks
    messages = [
        *MSGS,
        assistant,
        {"role": "tool", "tool_call_id": "toolu_01Weather", "content": "15°C"},
        {"role": "tool", "tool_call_id": "toolu_02Clock", "content": "12:00"},
    ]
    r = await call(client, messages=messages, tools=TOOLS, reasoning_effort="low")
    assert r.choices[0].message.content == "15°C at noon."
    sent = claude_sim.requests[1].json["messages"][1]["content"]
    # First in the assistant turn, exactly as the model produced it (signature included).
    assert sent[0] == {"type": "thinking", "thinking": THOUGHT, "signature": block.signature}
    assert [b["type"] for b in sent] == ["thinking", "tool_use", "tool_use"]


# -- usage ------------------------------------------------------------------------------------

CACHED_USAGE = {
    "prompt_tokens": 2 + 100 + 20,  # counted prompt + cache reads + cache writes
    "completion_tokens": 9,
    "total_tokens": 131,
    "prompt_tokens_details": {"cached_tokens": 100},
    "cache_creation_input_tokens": 20,
    "cache_read_input_tokens": 100,
}


async def test_usage_with_cached_tokens(claude_sim: Simulator, client: ritellm.AsyncClient) -> None:
    cache = Reply(cached_tokens=100, cache_creation_tokens=20)
    claude_sim.script(cache, cache, cache)
    r = await call(client)
    assert plain(r.usage) == CACHED_USAGE
    chunks = await collect(client, stream_options={"include_usage": True})
    last = chunks[-1]
    assert (last.choices, plain(last.usage)) == ([], CACHED_USAGE)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all("usage" not in c for c in chunks[:-1])
    chunks = await collect(client)  # without include_usage: no usage chunk
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all("usage" not in c for c in chunks)


async def test_usage_as_the_server_reports_it(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # A server that reports only input and output (older API versions, proxies).
    claude_sim.script(Reply(usage={"input_tokens": 7, "output_tokens": 3}))
    r = await call(client)
    assert plain(r.usage) == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


@pytest.mark.parametrize(
    "reply",
    [
        Reply(content="Plain text answer.", cached_tokens=5),
        Reply(content="Let me check.", tool_calls=CALLS),
        Reply(content="Sunny.", reasoning=THOUGHT, cache_creation_tokens=9),
        Reply(reasoning=THOUGHT, tool_calls=CALLS[:1]),
        Reply(content="one two three four", finish_reason="max_tokens"),
    ],
    ids=["text", "tools", "thinking", "thinking-tool", "length"],
)
async def test_stream_rebuilds_the_non_streamed_response(
    claude_sim: Simulator, client: ritellm.AsyncClient, reply: Reply
) -> None:
    claude_sim.script(reply, reply)
    kwargs: dict[str, Any] = {"tools": TOOLS, "reasoning_effort": "low"}
    whole = await call(client, **kwargs)
    chunks = await collect(client, stream_options={"include_usage": True}, **kwargs)
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    # Two requests, two messages: only id (the simulator's sequence) and created differ.
    assert rebuilt.id == chunks[0].id != whole.id
    assert plain(rebuilt, "created", "id") == plain(whole, "created", "id")
    assert "usage" in whole and whole.model == WIRE_MODEL


async def test_default_usage_matches_the_text_answer(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await call(client)
    assert plain(r.usage) == USAGE


# -- redacted thinking (the simulator cannot produce it: raw bodies, as the API sends them) ----

REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
SIGNED = {"type": "thinking", "thinking": "Check.", "signature": "sig-1"}
RAW_MESSAGE = {
    "id": "msg_raw",
    "type": "message",
    "role": "assistant",
    "model": WIRE_MODEL,
    "content": [
        REDACTED,
        SIGNED,
        {
            "type": "tool_use",
            "id": "toolu_01Weather",
            "name": "get_weather",
            "input": {"city": "Paris"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 5},
}


def sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def block(index: int, content_block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content_block}


def delta(index: int, **fields: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": fields}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


RAW_STREAM = sse(
    {
        "type": "message_start",
        "message": {
            **RAW_MESSAGE,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    },
    block(0, REDACTED),
    stop(0),
    block(1, {"type": "thinking", "thinking": ""}),
    delta(1, type="thinking_delta", thinking="Check."),
    delta(1, type="signature_delta", signature="sig-1"),
    stop(1),
    block(2, {"type": "tool_use", "id": "toolu_01Weather", "name": "get_weather", "input": {}}),
    delta(2, type="input_json_delta", partial_json=""),
    delta(2, type="input_json_delta", partial_json='{"city":"Paris"}'),
    stop(2),
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    },
    {"type": "message_stop"},
)


async def test_redacted_and_signed_thinking_round_trip(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(
        Reply(body=RAW_MESSAGE),
        Reply(body=RAW_STREAM, content_type="text/event-stream; charset=utf-8"),
    )
    whole = await call(client, tools=TOOLS, reasoning_effort="low")
    chunks = await collect(
        client, tools=TOOLS, reasoning_effort="low", stream_options={"include_usage": True}
    )
    weather = {"name": "get_weather", "arguments": ""}
    assert deltas(chunks) == [
        ({"role": "assistant", "thinking_blocks": [{"index": 0, **REDACTED}]}, None),
        (
            {"reasoning_content": "Check.",
             "thinking_blocks": [{"index": 1, "type": "thinking", "thinking": "Check."}]},
            None,
        ),
        ({"thinking_blocks": [{"index": 1, "type": "thinking", "signature": "sig-1"}]}, None),
        (
            {"tool_calls": [{"index": 0, "id": "toolu_01Weather", "type": "function",
                             "function": weather}]},
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]}, None),
        ({}, "tool_calls"),
    ]  # fmt: skip
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert plain(rebuilt, "created") == plain(whole, "created")  # the same message id too
    assert plain(whole.choices[0].message) == {
        "role": "assistant",
        "content": None,
        "tool_calls": TOOL_CALLS[:1],
        "reasoning_content": "Check.",
        "thinking_blocks": [REDACTED, SIGNED],
        "refusal": None,
    }
    for assistant in (whole.choices[0].message, rebuilt.choices[0].message):
        messages = [
            *MSGS,
            assistant,
            {"role": "tool", "tool_call_id": "toolu_01Weather", "content": "15°C"},
        ]
        r = await call(client, messages=messages, tools=TOOLS, reasoning_effort="low")
        assert r.choices[0].finish_reason == "stop"  # accepted by the strict simulator
        assert claude_sim.requests[-1].json["messages"][1]["content"] == [
            REDACTED,
            SIGNED,
            {"type": "tool_use", "id": "toolu_01Weather", "name": "get_weather",
             "input": {"city": "Paris"}},
        ]  # fmt: skip
