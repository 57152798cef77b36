"""Gemini end to end, tools: functionDeclarations/toolConfig at the server, function calls whole
and streamed, parallel calls, thought signatures, and a full OpenAI-style tool loop that the
simulator's Gemini validation accepts. On asyncio and trio."""

from __future__ import annotations

import re
from typing import Any

import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from ritellm.testing._common import signature
from tests.test_client_gemini import (
    HELLO,
    USAGE,
    assert_rebuilds,
    client,
    collect,
    complete,
    deltas,
    plain,
    sim,
)

pytestmark = pytest.mark.anyio
__all__ = ["client", "sim"]  # the fixtures, shared with test_client_gemini.py

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather now", "parameters": CITY},
    },
    {"type": "function", "function": {"name": "get_time"}},
]
DECLARATIONS = [
    {"name": "get_weather", "description": "Weather now", "parametersJsonSchema": CITY},
    {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}}},
]
ASK = [{"role": "user", "content": "Weather and time in Paris?"}]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": {}},
]
CALL_ID = re.compile(r"call_[0-9a-f]{24}")


def tool_call(call_id: str, name: str, arguments: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
        **extra,
    }


# -- the request ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (None, None),
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_time"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_time"]},
        ),
    ],
    ids=["unset", "auto", "none", "required", "named"],
)
async def test_function_declarations_and_tool_config(
    sim: Simulator, client: ritellm.AsyncClient, choice: object, config: dict[str, Any] | None
) -> None:
    await complete(client, tools=TOOLS, tool_choice=choice)
    expected: dict[str, Any] = {**HELLO, "tools": [{"functionDeclarations": DECLARATIONS}]}
    if config is not None:
        expected["toolConfig"] = {"functionCallingConfig": config}
    assert sim.requests[-1].json == expected


async def test_native_tools_pass_next_to_functions(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await complete(client, tools=[*TOOLS, {"googleSearch": {}}, {"codeExecution": {}}])
    assert sim.requests[-1].json["tools"] == [
        {"functionDeclarations": DECLARATIONS},
        {"googleSearch": {}},
        {"codeExecution": {}},
    ]


async def test_bad_tool_fails_before_io(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await complete(client, tools=[TOOLS[0], {"type": "function", "function": {}}])
    assert str(info.value).startswith("tools[1] must be {'type': 'function', 'function'")
    assert sim.requests == []


# -- function calls in responses -----------------------------------------------------------------


async def test_function_calls_non_stream(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(tool_calls=CALLS))
    r = await complete(client, ASK, tools=TOOLS)
    [choice] = r.choices
    assert choice.finish_reason == "tool_calls"
    message = plain(choice.message)
    first, second = message.pop("tool_calls")
    assert message == {"role": "assistant", "content": None, "refusal": None}
    assert first == tool_call(first["id"], "get_weather", '{"city":"Paris"}')
    assert second == tool_call(second["id"], "get_time", "{}")
    assert CALL_ID.fullmatch(first["id"]) and CALL_ID.fullmatch(second["id"])
    assert first["id"] != second["id"]
    assert choice.message.tool_calls[0].function.name == "get_weather"  # attribute access


async def test_parallel_function_calls_in_one_event_stream(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(tool_calls=CALLS))
    chunks = await collect(client, ASK, tools=TOOLS, stream_options=USAGE)
    got = deltas(chunks)
    first_id = got[0][0]["tool_calls"][0]["id"]
    second_id = got[1][0]["tool_calls"][0]["id"]
    assert got == [
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": 0, **tool_call(first_id, "get_weather", '{"city":"Paris"}')}
                ],
            },
            None,
        ),
        ({"tool_calls": [{"index": 1, **tool_call(second_id, "get_time", "{}")}]}, None),
        ({}, "tool_calls"),
        ("usage", {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}),
    ]
    assert CALL_ID.fullmatch(first_id) and CALL_ID.fullmatch(second_id)
    assert first_id != second_id
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert [c.function.arguments for c in rebuilt.choices[0].message.tool_calls] == [
        '{"city":"Paris"}',
        "{}",
    ]


async def test_text_then_function_call(sim: Simulator, client: ritellm.AsyncClient) -> None:
    reply = Reply(content="Checking.", tool_calls=[{**CALLS[0], "id": "fc-1"}])
    sim.script(reply, reply)
    whole = await complete(client, ASK, tools=TOOLS)
    chunks = await collect(client, ASK, tools=TOOLS, stream_options=USAGE)
    assert plain(whole.choices[0].message) == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [tool_call("fc-1", "get_weather", '{"city":"Paris"}')],
        "refusal": None,
    }
    assert deltas(chunks)[:3] == [
        ({"role": "assistant", "content": "Checking."}, None),
        (
            {"tool_calls": [{"index": 0, **tool_call("fc-1", "get_weather", '{"city":"Paris"}')}]},
            None,
        ),
        ({}, "tool_calls"),
    ]
    assert_rebuilds(chunks, whole)


async def test_given_ids_are_kept_and_stream_rebuilds(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    calls = [{**CALLS[0], "id": "fc-a"}, {**CALLS[1], "id": "fc-b"}]
    sim.script(Reply(tool_calls=calls), Reply(tool_calls=calls))
    whole = await complete(client, ASK, tools=TOOLS)
    chunks = await collect(client, ASK, tools=TOOLS, stream_options=USAGE)
    assert [c.id for c in whole.choices[0].message.tool_calls] == ["fc-a", "fc-b"]
    assert_rebuilds(chunks, whole)


# -- thought signatures and the tool loop --------------------------------------------------------


async def test_thought_signature_kept_and_sent_back(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sig = signature("Need the weather.")
    reply = Reply(reasoning="Need the weather.", tool_calls=[{**CALLS[0], "id": "fc-1"}])
    sim.script(reply, reply, Reply(content="18C and sunny."))
    whole = await complete(client, ASK, tools=TOOLS, reasoning_effort="low")
    chunks = await collect(client, ASK, tools=TOOLS, reasoning_effort="low", stream_options=USAGE)
    call = tool_call(
        "fc-1",
        "get_weather",
        '{"city":"Paris"}',
        provider_specific_fields={"thought_signature": sig},
    )
    assert plain(whole.choices[0].message) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call],
        "reasoning_content": "Need the weather.",
        "refusal": None,
    }
    assert deltas(chunks)[3:5] == [
        ({"tool_calls": [{"index": 0, **call}]}, None),
        ({}, "tool_calls"),
    ]
    assert_rebuilds(chunks, whole)
    # The next turn: the assistant message exactly as returned, plus the tool's answer.
    followup = [
        *ASK,
        whole.choices[0].message,
        {"role": "tool", "tool_call_id": "fc-1", "content": "18C, sunny"},
    ]
    r = await complete(client, followup, tools=TOOLS)
    assert r.choices[0].message.content == "18C and sunny."
    assert sim.requests[-1].json["contents"] == [
        {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": sig,
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "18C, sunny"}}}
            ],
        },
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_full_multi_turn_tool_loop_written_for_openai(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    sim.script(Reply(tool_calls=CALLS, reasoning="Two tools."), Reply(content="18C at noon."))
    messages: list[Any] = [{"role": "system", "content": "Be brief."}, *ASK]
    if stream:
        rebuilt = ritellm.stream_chunk_builder(await collect(client, messages, tools=TOOLS))
        assert rebuilt is not None
        assistant = rebuilt.choices[0].message
    else:
        assistant = (await complete(client, messages, tools=TOOLS)).choices[0].message
    weather_id, time_id = (c.id for c in assistant.tool_calls)
    messages += [
        assistant,
        {"role": "tool", "tool_call_id": weather_id, "content": '{"temp_c": 18}'},
        {"role": "tool", "tool_call_id": time_id, "content": "12:00"},
    ]
    final = (await complete(client, messages, tools=TOOLS)) if not stream else None
    if stream:
        chunks = await collect(client, messages, tools=TOOLS)
        assert [d for d, _ in deltas(chunks)][-1] == {}
        text = "".join(c.choices[0].delta.get("content") or "" for c in chunks)
        finish = chunks[-1].choices[0].finish_reason
    else:
        assert final is not None
        text, finish = final.choices[0].message.content, final.choices[0].finish_reason
    assert (text, finish) == ("18C at noon.", "stop")  # the simulator's validation passed
    assert sim.requests[-1].json == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": signature("Two tools."),
                    },
                    {"functionCall": {"name": "get_time", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                    {"functionResponse": {"name": "get_time", "response": {"result": "12:00"}}},
                ],
            },
        ],
        "tools": [{"functionDeclarations": DECLARATIONS}],
    }


async def test_mismatched_tool_turn_is_the_servers_400(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # One call answered twice: Gemini's rule on response counts, passed on as a 400.
    messages: list[dict[str, Any]] = [
        *ASK,
        {"role": "assistant", "tool_calls": [tool_call("c1", "get_time", "{}")]},
        {"role": "tool", "tool_call_id": "c1", "content": "12:00"},
        {"role": "tool", "tool_call_id": "c1", "content": "12:01"},
    ]
    with pytest.raises(ritellm.BadRequestError) as info:
        await complete(client, messages, tools=TOOLS)
    assert info.value.message == (
        "Please ensure that the number of function response parts is equal to the number of "
        "function call parts of the function call turn."
    )
    assert (info.value.status_code, info.value.type) == (400, "INVALID_ARGUMENT")
    assert len(sim.requests) == 1


async def test_tool_result_for_an_unknown_call_fails_before_io(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    messages = [*ASK, {"role": "tool", "tool_call_id": "nope", "content": "x"}]
    with pytest.raises(ritellm.ParameterError) as info:
        await complete(client, messages)
    assert str(info.value).startswith("messages[1] answers tool_call_id 'nope'")
    assert sim.requests == []
