"""One tool loop written for OpenAI, run unchanged against every wire format (OpenAI, Azure,
Anthropic, Gemini, Ollama, Bedrock) over loopback on asyncio and trio: the same calls come
back, the same conversation is accepted by each format's strict validation, and the answers
agree — streamed or not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

KEY = "sk-tool-loop-0123456789"
# model string -> extra arguments each provider needs
PROVIDERS: dict[str, dict[str, Any]] = {
    "openai/gpt-4o-mini": {},
    "azure/my-gpt": {"api_version": "2024-10-21"},
    "anthropic/claude-sonnet-4-5": {},
    "gemini/gemini-2.5-flash": {},
    "ollama/llama3.2": {},
    "bedrock/anthropic.claude-sonnet-4-5-v1:0": {},  # the client's key as a Bedrock API key
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Local time in a time zone",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
        },
    },
]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]
RESULTS = {"get_weather": '{"temp_c": 18, "sky": "sunny"}', "get_time": "14:05"}
FINAL = "It is 18°C and sunny in Paris, and 14:05."


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


def base_url(sim: Simulator, model: str) -> str:
    return sim.base_url if model.startswith("openai/") else sim.url


async def ask(
    client: ritellm.AsyncClient,
    sim: Simulator,
    model: str,
    messages: list[Any],
    *,
    stream: bool,
) -> ritellm.ModelResponse:
    kwargs: dict[str, Any] = {
        "tools": TOOLS,
        "base_url": base_url(sim, model),
        **PROVIDERS[model],
    }
    if not stream:
        response = await client.acompletion(model, messages, **kwargs)
        assert isinstance(response, ritellm.ModelResponse)
        return response
    async with await client.acompletion(
        model, messages, stream=True, stream_options={"include_usage": True}, **kwargs
    ) as s:
        chunks = [c async for c in s]
    built = ritellm.stream_chunk_builder(chunks)
    assert built is not None
    return built


def summary(r: ritellm.ModelResponse) -> dict[str, Any]:
    """What must agree across formats (ids differ by format: toolu_…, call_…)."""
    message = r.choices[0].message
    return {
        "finish_reason": r.choices[0].finish_reason,
        "content": message.content,
        "calls": [
            (c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or ()
        ],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_the_same_tool_loop_runs_on_every_format(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    outcomes: dict[str, list[dict[str, Any]]] = {}
    for model in PROVIDERS:
        sim.requests.clear()
        sim.script(Reply(tool_calls=CALLS), Reply(content=FINAL))
        messages: list[Any] = [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather and time in Paris?"},
        ]
        with anyio.fail_after(10):
            first = await ask(client, sim, model, messages, stream=stream)
            calls = first.choices[0].message.tool_calls
            ids = [c.id for c in calls]
            assert len(set(ids)) == 2 and all(ids), model  # distinct, non-empty ids
            # The OpenAI idiom: append the assistant message as returned, then one tool
            # message per call.
            messages.append(first.choices[0].message)
            for call in calls:
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": RESULTS[call.function.name],
                    }
                )
            second = await ask(client, sim, model, messages, stream=stream)
        outcomes[model] = [summary(first), summary(second)]
        # Each format's strict validation accepted the second turn (tool results paired with
        # their calls): the simulator answered it instead of a 400.
        assert len(sim.requests) == 2
    expected = [
        {
            "finish_reason": "tool_calls",
            "content": None,
            "calls": [(c["name"], c["arguments"]) for c in CALLS],
        },
        {"finish_reason": "stop", "content": FINAL, "calls": []},
    ]
    for model, outcome in outcomes.items():
        assert outcome == expected, model


async def test_what_each_format_received_for_the_second_turn(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    received: dict[str, Any] = {}
    for model in PROVIDERS:
        sim.requests.clear()
        sim.script(Reply(tool_calls=CALLS), Reply(content=FINAL))
        messages: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
        first = await ask(client, sim, model, messages, stream=False)
        calls = first.choices[0].message.tool_calls
        messages.append(first.choices[0].message)
        messages += [
            {"role": "tool", "tool_call_id": c.id, "content": RESULTS[c.function.name]}
            for c in calls
        ]
        await ask(client, sim, model, messages, stream=False)
        received[model] = (sim.requests[1].json, [c.id for c in calls])

    anthropic, ids = received["anthropic/claude-sonnet-4-5"]
    assert anthropic["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": ids[0],
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": ids[1],
                    "name": "get_time",
                    "input": {"tz": "Europe/Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": ids[0], "content": RESULTS["get_weather"]},
                {"type": "tool_result", "tool_use_id": ids[1], "content": RESULTS["get_time"]},
            ],
        },
    ]
    gemini, _ = received["gemini/gemini-2.5-flash"]
    assert gemini["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Paris"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"temp_c": 18, "sky": "sunny"},
                    }
                },
                {"functionResponse": {"name": "get_time", "response": {"result": "14:05"}}},
            ],
        },
    ]
    ollama, _ = received["ollama/llama3.2"]
    assert ollama["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_time", "arguments": {"tz": "Europe/Paris"}}},
            ],
        },
        {"role": "tool", "content": RESULTS["get_weather"], "tool_name": "get_weather"},
        {"role": "tool", "content": RESULTS["get_time"], "tool_name": "get_time"},
    ]
    bedrock, ids = received["bedrock/anthropic.claude-sonnet-4-5-v1:0"]
    assert bedrock["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "toolUse": {
                        "toolUseId": ids[0],
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": ids[1],
                        "name": "get_time",
                        "input": {"tz": "Europe/Paris"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": ids[0],
                        "content": [{"json": {"temp_c": 18, "sky": "sunny"}}],
                        "status": "success",
                    }
                },
                {
                    "toolResult": {
                        "toolUseId": ids[1],
                        "content": [{"text": "14:05"}],
                        "status": "success",
                    }
                },
            ],
        },
    ]
    for model in ("openai/gpt-4o-mini", "azure/my-gpt"):
        body, ids = received[model]
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "tool"]
        assert [m.get("tool_call_id") for m in body["messages"][2:]] == ids
