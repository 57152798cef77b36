"""Gemini end to end, parameters: reasoning_effort and thought parts, structured output,
unsupported and native parameters, safety (prompt blocks, filtered finishes) and usage. On
asyncio and trio."""

from __future__ import annotations

from typing import Any

import anyio
import pydantic
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.test_client_gemini import (
    HELLO,
    MODEL,
    MSGS,
    USAGE,
    assert_rebuilds,
    client,
    collect,
    complete,
    deltas,
    plain,
    sim,
    sse_reply,
)

pytestmark = pytest.mark.anyio
__all__ = ["client", "sim"]  # the fixtures, shared with test_client_gemini.py

# -- reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-pro", "medium", {"thinkingBudget": 2048, "includeThoughts": True}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 4096, "includeThoughts": True}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0, "includeThoughts": True}),
        ("gemini-3-pro-preview", "low", {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        (
            "gemini-3-flash-preview",
            "minimal",
            {"thinkingLevel": "MINIMAL", "includeThoughts": True},
        ),
    ],
)
async def test_reasoning_effort_to_thinking_config(
    sim: Simulator, client: ritellm.AsyncClient, model: str, effort: str, thinking: dict[str, Any]
) -> None:
    await complete(client, model=f"gemini/{model}", reasoning_effort=effort)
    rec = sim.requests[-1]
    assert rec.path == f"/v1beta/models/{model}:generateContent"
    assert rec.json == {**HELLO, "generationConfig": {"thinkingConfig": thinking}}


async def test_thought_parts_are_reasoning_content(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    reply = Reply(content="It is 42.", reasoning="Let me think hard.")
    sim.script(reply, reply)
    whole = await complete(client, reasoning_effort="low")
    chunks = await collect(client, reasoning_effort="low", stream_options=USAGE)
    usage = {
        "prompt_tokens": 2,
        "completion_tokens": 7,
        "total_tokens": 9,
        "completion_tokens_details": {"reasoning_tokens": 4},  # thoughtsTokenCount
    }
    assert plain(whole.choices[0].message) == {
        "role": "assistant",
        "content": "It is 42.",
        "reasoning_content": "Let me think hard.",
        "refusal": None,
    }
    assert plain(whole.usage) == usage
    assert deltas(chunks) == [
        ({"role": "assistant", "reasoning_content": "Let "}, None),
        ({"reasoning_content": "me "}, None),
        ({"reasoning_content": "think "}, None),
        ({"reasoning_content": "hard."}, None),
        ({"content": "It "}, None),
        ({"content": "is "}, None),
        ({"content": "42."}, None),
        ({}, "stop"),
        ("usage", usage),
    ]
    assert_rebuilds(chunks, whole)


# -- structured output ---------------------------------------------------------------------------


class City(pydantic.BaseModel):
    name: str
    population: int


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("response_format", "config"),
    [
        ({"type": "json_object"}, {"responseMimeType": "application/json"}),
        (
            {"type": "json_schema", "json_schema": {"name": "c", "schema": SCHEMA, "strict": True}},
            {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA},
        ),
        (
            City,
            {
                "responseMimeType": "application/json",
                "responseJsonSchema": City.model_json_schema(),
            },
        ),
        ({"type": "text"}, None),
    ],
    ids=["json_object", "json_schema", "pydantic", "text"],
)
async def test_response_format(
    sim: Simulator,
    client: ritellm.AsyncClient,
    response_format: Any,
    config: dict[str, Any] | None,
) -> None:
    sim.script(Reply(content='{"name": "Paris", "population": 2102650}'))
    r = await complete(client, response_format=response_format)
    expected = dict(HELLO) if config is None else {**HELLO, "generationConfig": config}
    assert sim.requests[-1].json == expected
    assert City.model_validate_json(r.choices[0].message.content).name == "Paris"


# -- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("user", "user-123"),
        ("logit_bias", {"50256": -100}),
        ("parallel_tool_calls", False),
        ("store", True),
        ("service_tier", "flex"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_unsupported_parameter_fails_before_io_unless_dropped(
    sim: Simulator, client: ritellm.AsyncClient, name: str, value: object, stream: bool
) -> None:
    params: dict[str, Any] = {name: value}
    with anyio.fail_after(10), pytest.raises(ritellm.ParameterError) as info:
        await client.acompletion(MODEL, MSGS, stream=stream, **params)
    assert str(info.value) == (
        f"gemini does not support the parameter {name!r}: remove it, or pass drop_params=True "
        "to drop parameters a provider cannot honour"
    )
    assert sim.requests == []
    if stream:
        await collect(client, drop_params=True, **params)
    else:
        await complete(client, drop_params=True, **params)
    assert sim.requests[-1].json == HELLO


async def test_parallel_tool_calls_true_is_accepted_and_not_sent(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await complete(client, parallel_tool_calls=True)
    assert sim.requests[-1].json == HELLO


async def test_safety_settings_and_native_fields_pass_through(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    await complete(
        client,
        safety_settings=settings,
        labels={"team": "search"},
        cachedContent="cachedContents/abc123",
        additional_params={"serviceTier": "standard"},
    )
    assert sim.requests[-1].json == {
        **HELLO,
        "safetySettings": settings,
        "labels": {"team": "search"},
        "cachedContent": "cachedContents/abc123",
        "serviceTier": "standard",
    }


async def test_unknown_native_field_reaches_the_server_and_its_400(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Passed through unchanged: the API (here the simulator) is the judge of Gemini fields.
    with pytest.raises(ritellm.BadRequestError) as info:
        await complete(client, bogus_field=1, num_retries=0)
    assert sim.requests[-1].json == {**HELLO, "bogus_field": 1}
    assert info.value.message == (
        'Invalid JSON payload received. Unknown name "bogus_field": Cannot find field.'
    )
    assert info.value.type == "INVALID_ARGUMENT"


# -- safety --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_prompt_block_is_a_content_policy_error_not_retried(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    sim.default = Reply(blocked="PROHIBITED_CONTENT")
    delivered: list[Any] = []
    with anyio.fail_after(10), pytest.raises(ritellm.ContentPolicyViolationError) as info:
        result = await client.acompletion(MODEL, MSGS, stream=stream, num_retries=3)
        delivered.append(result)  # never reached: nothing is delivered
    assert delivered == []
    err = info.value
    assert isinstance(err, ritellm.BadRequestError)
    assert err.message == "Gemini blocked the prompt (blockReason PROHIBITED_CONTENT)"
    assert (err.code, err.provider, err.model) == ("PROHIBITED_CONTENT", "gemini", MODEL)
    assert err.body["blockReason"] == "PROHIBITED_CONTENT"
    assert len(sim.requests) == 1  # not retried


@pytest.mark.parametrize("stream", [False, True])
async def test_prompt_block_message_carries_google_detail(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    blocked = {
        "promptFeedback": {"blockReason": "OTHER", "blockReasonMessage": "Not allowed."},
        "usageMetadata": {"promptTokenCount": 2, "totalTokenCount": 2},
    }
    sim.script(sse_reply(blocked) if stream else Reply(body=blocked))
    with pytest.raises(ritellm.ContentPolicyViolationError) as info:
        if stream:
            await collect(client)
        else:
            await complete(client)
    assert (
        str(info.value)
        == f"{MODEL}: HTTP 200: Gemini blocked the prompt (blockReason OTHER): Not allowed."
    )
    assert len(sim.requests) == 1


@pytest.mark.parametrize("reason", ["SAFETY", "RECITATION", "PROHIBITED_CONTENT"])
async def test_filtered_finish_reason_is_content_filter(
    sim: Simulator, client: ritellm.AsyncClient, reason: str
) -> None:
    reply = Reply(content="Partial answer", finish_reason=reason)
    sim.script(reply, reply)
    whole = await complete(client)
    chunks = await collect(client, stream_options=USAGE)
    assert whole.choices[0].finish_reason == "content_filter"
    assert whole.choices[0].message.content == "Partial answer"
    assert deltas(chunks)[-2][1] == "content_filter"
    assert_rebuilds(chunks, whole)


# -- usage ---------------------------------------------------------------------------------------


async def test_cumulative_usage_is_taken_once(sim: Simulator, client: ritellm.AsyncClient) -> None:
    # Every event carries the running totals: the usage chunk is the last one, not a sum.
    sim.script(Reply(content="a b c d e f"), Reply(content="a b c d e f"))
    chunks = await collect(client, stream_options=USAGE)
    assert [c.usage for c in chunks if not c.choices] == [
        {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}
    ]
    chunks = await collect(client)
    assert all(c.choices and "usage" not in c for c in chunks)
    assert deltas(chunks)[-1] == ({}, "stop")


async def test_cached_tokens(sim: Simulator, client: ritellm.AsyncClient) -> None:
    reply = Reply(content="Cached.", cached_tokens=100)
    sim.script(reply, reply)
    whole = await complete(client)
    chunks = await collect(client, stream_options=USAGE)
    usage = {
        "prompt_tokens": 102,
        "completion_tokens": 1,
        "total_tokens": 103,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    assert plain(whole.usage) == usage
    assert deltas(chunks)[-1] == ("usage", usage)


async def test_usage_metadata_verbatim(sim: Simulator, client: ritellm.AsyncClient) -> None:
    meta = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 7,
        "toolUsePromptTokenCount": 3,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 25,
    }
    reply = Reply(content="Hi.", usage=meta)
    sim.script(reply, reply)
    whole = await complete(client)
    chunks = await collect(client, stream_options=USAGE)
    usage = {
        "prompt_tokens": 13,
        "completion_tokens": 12,
        "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }
    assert plain(whole.usage) == usage
    assert deltas(chunks)[-1] == ("usage", usage)


# -- candidates and events -----------------------------------------------------------------------


def candidate(index: int, parts: list[dict[str, Any]], finish: str | None = None) -> Any:
    out: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if index:  # proto3 JSON leaves a zero index out
        out["index"] = index
    if finish:
        out["finishReason"] = finish
    return out


def event(*candidates: Any, usage: dict[str, int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "candidates": list(candidates),
        "modelVersion": "models/gemini-2.5-flash-002",
        "responseId": "resp-1",
    }
    if usage:
        out["usageMetadata"] = usage
    return out


META = {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}
CALL = {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "c2ln"}


async def test_two_candidates_whole_and_streamed(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    whole_body = event(
        candidate(0, [{"text": "A1 A2"}], "STOP"),
        candidate(1, [{"text": "B1 "}, CALL], "STOP"),
        usage=META,
    )
    sim.script(
        Reply(body=whole_body),
        sse_reply(
            event(candidate(0, [{"text": "A1 "}]), candidate(1, [{"text": "B1 "}])),
            event(candidate(0, [{"text": "A2"}], "STOP")),
            event(candidate(1, [CALL], "STOP"), usage=META),
        ),
    )
    whole = await complete(client, n=2)
    chunks = await collect(client, n=2, stream_options=USAGE)
    call = {
        "id": whole.choices[1].message.tool_calls[0].id,
        "type": "function",
        "function": {"name": "f", "arguments": '{"x":1}'},
        "provider_specific_fields": {"thought_signature": "c2ln"},
    }
    assert [c.choices[0].index for c in chunks if c.choices] == [0, 1, 0, 1, 0, 1]
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "A1 "}, None),
        ({"role": "assistant", "content": "B1 "}, None),
        ({"content": "A2"}, None),
        ({"tool_calls": [{"index": 0, **call}]}, None),
        ({}, "stop"),
        ({}, "tool_calls"),
        ("usage", {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
    ]
    assert (whole.id, whole.model) == ("resp-1", "gemini-2.5-flash-002")
    assert [c.finish_reason for c in whole.choices] == ["stop", "tool_calls"]
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert plain(rebuilt) == {**plain(whole), "created": rebuilt.created}
    assert sim.requests[0].json["generationConfig"] == {"candidateCount": 2}


async def test_finish_reason_on_every_event_gives_one_finish_chunk(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Older models put finishReason STOP on every event; a call in a later one still makes
    # the finish "tool_calls", and it is sent once, at the end.
    sim.script(
        sse_reply(
            event(candidate(0, [{"text": "One "}], "STOP")),
            event(candidate(0, [{"text": "two."}], "STOP")),
            event(candidate(0, [CALL], "STOP"), usage=META),
        )
    )
    chunks = await collect(client)
    assert [finish for _, finish in deltas(chunks)] == [None, None, None, "tool_calls"]


async def test_served_model_is_reported(sim: Simulator, client: ritellm.AsyncClient) -> None:
    reply = Reply(content="Hi.", model="gemini-2.5-flash-preview-09-2025")
    sim.script(reply, reply)
    whole = await complete(client)
    chunks = await collect(client)
    assert whole.model == "gemini-2.5-flash-preview-09-2025"
    assert {c.model for c in chunks} == {"gemini-2.5-flash-preview-09-2025"}
