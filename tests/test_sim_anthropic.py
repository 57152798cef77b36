"""The simulator's Anthropic Messages format, with the official anthropic SDK (sync and async) as
the oracle, raw bytes checked where the framing matters, and the request validation's 400s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from ritellm.testing import Reply, Simulator, ThreadedSimulator
from ritellm.testing._common import signature
from tests.sim_helpers import raw

anthropic = pytest.importorskip("anthropic")
from anthropic.types import (  # noqa: E402
    Message,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)

pytestmark = pytest.mark.timeout(30)
# See the async stream test that uses it.
UNCLOSED_SDK_GENERATORS = "ignore:Async generator '(anthropic|httpx2|httpcore2)\\.:ResourceWarning"

KEY = "sk-ant-test-123456"
MODEL = "claude-sonnet-4-6"
HELLO: list[Any] = [{"role": "user", "content": "Hello there"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
HEADERS = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")]
TOOLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def sim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread(api_key=KEY) as threaded:
        yield threaded


@pytest.fixture
def client(sim: ThreadedSimulator) -> Iterator[Any]:
    with anthropic.Anthropic(base_url=sim.url, api_key=KEY, max_retries=0, timeout=10) as c:
        yield c


def text_of(message: Message) -> str:
    return "".join(b.text for b in message.content if isinstance(b, TextBlock))


# --------------------------------------------------------------------------------------------
# Sync SDK


def test_text_non_stream(sim: ThreadedSimulator, client: Any) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert text_of(message) == ANSWER
    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (2, len(ANSWER.split()))
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (0, 0)
    assert message._request_id.startswith("req_")
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.query) == ("POST", "/v1/messages", "")
    # anthropic 2.x sends the key as a bearer token; the simulator takes either header.
    assert rec.headers.get("x-api-key") == KEY or rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.headers["anthropic-version"]
    assert rec.json == {"max_tokens": 100, "messages": HELLO, "model": MODEL}


def test_text_stream(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(content="Hi there, friend!"))
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert text_of(final) == "Hi there, friend!"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("text") == 3
    assert sim.requests[0].json["stream"] is True


def test_tool_calls(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(
        Reply(tool_calls=TOOLS), Reply(tool_calls=TOOLS, content="Let me check.", chunk_size=3)
    )
    plain = client.messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER_TOOL]
    )
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        streamed = stream.get_final_message()
    for message, text in ((plain, ""), (streamed, "Let me check.")):
        calls = [b for b in message.content if isinstance(b, ToolUseBlock)]
        assert [c.name for c in calls] == ["get_weather", "get_time"]
        assert [c.input for c in calls] == [{"city": "Paris"}, {"tz": "Europe/Paris"}]
        assert all(c.id.startswith("toolu_") for c in calls)
        assert calls[0].id != calls[1].id
        assert message.stop_reason == "tool_use"
        assert text_of(message) == text
    assert [b.type for b in plain.content] == ["tool_use", "tool_use"]  # no text block at all
    assert [b.type for b in streamed.content] == ["text", "tool_use", "tool_use"]


def test_tool_round_trip_is_validated(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=TOOLS[:1]), Reply(content="It is sunny."))
    first = client.messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER_TOOL]
    )
    [call] = [b for b in first.content if isinstance(b, ToolUseBlock)]
    history: list[Any] = [
        *HELLO,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}],
        },
    ]
    second = client.messages.create(
        model=MODEL, max_tokens=100, messages=history, tools=[WEATHER_TOOL]
    )
    assert text_of(second) == "It is sunny."
    assert sim.requests[1].json["messages"][1]["content"][0]["id"] == call.id
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=MODEL, max_tokens=100, messages=history[:2] + HELLO)
    assert bad.value.status_code == 400
    assert bad.value.body["error"]["message"] == (
        f"messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
        f"{call.id}. Each `tool_use` block must have a corresponding `tool_result` block in the "
        "next message."
    )
    assert sim.pending_replies == 0


def test_thinking(sim: ThreadedSimulator, client: Any) -> None:
    thought = "The user greets me. I should greet back."
    sim.script(Reply(reasoning=thought, content="Hi!"), Reply(reasoning=thought, content="Hi!"))
    options: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 2048,
        "messages": HELLO,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    plain = client.messages.create(**options)
    with client.messages.stream(**options) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_message()
    for message in (plain, streamed):
        thinking, text = message.content
        assert isinstance(thinking, ThinkingBlock)
        assert thinking.thinking == thought
        assert thinking.signature == signature(thought)
        assert isinstance(text, TextBlock)
        assert text.text == "Hi!"
    assert kinds.count("thinking") == len(thought.split())
    assert kinds.count("signature") == 1


def test_usage_with_cache(sim: ThreadedSimulator, client: Any) -> None:
    reply = Reply(content="a b c", cached_tokens=70, cache_creation_tokens=30)
    sim.script(reply, reply, Reply(usage={"input_tokens": 5, "output_tokens": 6}))
    plain = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        streamed = stream.get_final_message()
    for usage in (plain.usage, streamed.usage):
        assert usage.input_tokens == 2
        assert usage.cache_read_input_tokens == 70
        assert usage.cache_creation_input_tokens == 30
        assert usage.output_tokens == 3
    assert plain.usage.cache_creation is not None
    assert plain.usage.cache_creation.ephemeral_5m_input_tokens == 30
    verbatim = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert verbatim.usage.model_dump(exclude_none=True) == {"input_tokens": 5, "output_tokens": 6}


def test_max_tokens_and_refusal(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(content="one two three four"), Reply(blocked="cyber", content="I can't."))
    cut = client.messages.create(model=MODEL, max_tokens=2, messages=HELLO)
    assert (text_of(cut), cut.stop_reason, cut.usage.output_tokens) == ("one two ", "max_tokens", 2)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        refused = stream.get_final_message()
    assert refused.stop_reason == "refusal"
    assert text_of(refused) == "I can't."
    sim.script(Reply(blocked="cyber"))
    silent = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert (silent.content, silent.stop_reason) == ([], "refusal")
    assert silent.stop_details is not None
    assert silent.stop_details.type == "refusal"


@pytest.mark.parametrize(
    ("status", "error", "kind", "message"),
    [
        (400, "BadRequestError", "invalid_request_error", "Invalid request (simulated)."),
        (401, "AuthenticationError", "authentication_error", "invalid x-api-key"),
        (402, "PaymentRequiredError", "billing_error", "Your credit balance is too low"),
        (403, "PermissionDeniedError", "permission_error", "does not have permission"),
        (404, "NotFoundError", "not_found_error", f"model: {MODEL}"),
        (413, "ContentTooLargeError", "request_too_large", "Request exceeds"),
        (429, "RateLimitError", "rate_limit_error", "would exceed the rate limit"),
        (500, "InternalServerError", "api_error", "Internal server error"),
        (504, "GatewayTimeoutError", "timeout_error", "Request timed out"),
        (529, "OverloadedError", "overloaded_error", "Overloaded"),
    ],
)
def test_error_statuses(
    sim: ThreadedSimulator, client: Any, status: int, error: str, kind: str, message: str
) -> None:
    sim.script(Reply(status=status, headers={"retry-after": "1"}))
    with pytest.raises(getattr(anthropic, error)) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    exc = caught.value
    assert type(exc) is getattr(anthropic, error)
    assert exc.status_code == status
    assert exc.type == kind
    assert message in exc.api_message
    assert exc.request_id.startswith("req_")
    assert exc.body["request_id"] == exc.request_id
    assert exc.response.headers["retry-after"] == "1"


def test_error_fields_override(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(status=400, error_message="prompt is too long", error_code="too_long"))
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long") as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert caught.value.error_code == "too_long"  # sent as error.details.error_code


def test_stream_error_in_band(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(
        Reply(fault="stream_error", error_after=3),
        Reply(fault="stream_error", error_type="api_error", error_message="Internal"),
    )
    seen = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        for event in client.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, stream=True
        ):
            seen.append(event.type)
    # The SDK raises with the stream's own HTTP status, 200 (wire-formats §1.2).
    assert caught.value.status_code == 200
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert seen == ["message_start", "content_block_start"]  # the ping is the SDK's to skip
    with (
        pytest.raises(anthropic.APIStatusError, match="Internal"),
        client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream,
    ):
        stream.get_final_message()


def test_auth(sim: ThreadedSimulator) -> None:
    with (
        anthropic.Anthropic(base_url=sim.url, api_key="sk-wrong", max_retries=0) as wrong,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        wrong.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert caught.value.body["error"] == {
        "type": "authentication_error",
        "message": "invalid x-api-key",
    }
    assert caught.value.body["type"] == "error"
    assert "sk-wrong" not in caught.value.response.text
    with anthropic.Anthropic(base_url=sim.url, auth_token=KEY, max_retries=0) as bearer:
        bearer.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert sim.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_rate_limit() -> None:
    with (
        Simulator.start_in_thread(rate_limit=0.5) as sim,
        anthropic.Anthropic(base_url=sim.url, api_key=KEY, max_retries=0) as client,
    ):
        ok = client.messages.with_raw_response.create(model=MODEL, max_tokens=10, messages=HELLO)
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert ok.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "x-ratelimit-limit-requests" not in ok.headers
    limited = caught.value
    assert limited.type == "rate_limit_error"
    assert 1 <= int(limited.response.headers["retry-after"]) <= 2
    assert limited.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


@pytest.mark.parametrize(
    "shape",
    [
        {"crlf": True},
        {"keepalive_comments": True},
        {"split_data_lines": True},
        {"extra_fields": True},
        {"chunk_size": 2},
        {"event_size": 200},
    ],
    ids=["crlf", "keepalive", "split-data", "extra-fields", "chunk-size", "event-size"],
)
def test_stream_shapes_are_accepted(
    sim: ThreadedSimulator, client: Any, shape: dict[str, Any]
) -> None:
    sim.script(Reply(content="Ünïcode 😀 text", reasoning="a thought", **shape))
    with client.messages.stream(
        model=MODEL,
        max_tokens=2048,
        messages=HELLO,
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = stream.get_final_message()
    text = text_of(final)
    # event_size pads each text delta with spaces, so only the words are compared.
    assert text.split() == ["Ünïcode", "😀", "text"]
    assert text == "Ünïcode 😀 text" or "event_size" in shape
    assert isinstance(final.content[0], ThinkingBlock)


# --------------------------------------------------------------------------------------------
# Async SDK, on asyncio and trio (httpx supports both)


@pytest.mark.anyio
async def test_async_sdk() -> None:
    with anyio.fail_after(20):
        async with (
            Simulator(api_key=KEY) as sim,
            anthropic.AsyncAnthropic(base_url=sim.url, api_key=KEY, max_retries=0) as client,
        ):
            message = await client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
            sim.script(Reply(tool_calls=TOOLS, reasoning="hmm", chunk_size=4))
            async with client.messages.stream(
                model=MODEL,
                max_tokens=2048,
                messages=HELLO,
                thinking={"type": "enabled", "budget_tokens": 1024},
            ) as stream:
                final = await stream.get_final_message()
            sim.script(Reply(status=529))
            with pytest.raises(anthropic.OverloadedError):
                await client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert text_of(message) == ANSWER
    assert [b.type for b in final.content] == ["thinking", "tool_use", "tool_use"]
    assert [b.input for b in final.content if isinstance(b, ToolUseBlock)] == [
        {"city": "Paris"},
        {"tz": "Europe/Paris"},
    ]


# anthropic's AsyncStream leaves its (and httpx's) async generators unfinished when an in-band
# error event raises; trio's finalizer warns about that when they are collected (asyncio finalizes
# them silently). That warning is the SDK's, so it alone is ignored here.
@pytest.mark.filterwarnings(UNCLOSED_SDK_GENERATORS)
@pytest.mark.anyio
async def test_async_sdk_stream_error() -> None:
    with anyio.fail_after(20):
        async with (
            Simulator(default=Reply(fault="stream_error", error_after=3)) as sim,
            anthropic.AsyncAnthropic(base_url=sim.url, api_key=KEY, max_retries=0) as client,
        ):
            stream = await client.messages.create(
                model=MODEL, max_tokens=100, messages=HELLO, stream=True
            )
            with pytest.raises(anthropic.APIStatusError, match="Overloaded") as caught:
                async for _ in stream:
                    pass
    assert caught.value.status_code == 200


# --------------------------------------------------------------------------------------------
# Raw bytes


@pytest.mark.anyio
async def test_stream_framing_exact() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="Hi there", tool_calls=TOOLS[:1]))
            res = await raw(
                sim,
                "/v1/messages",
                {"model": MODEL, "max_tokens": 50, "messages": HELLO, "stream": True},
                headers=HEADERS,
            )
    assert res.status == 200
    assert res.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert res.headers["request-id"].startswith("req_")
    # One event per HTTP chunk, each "event:" + "data:" + blank line; no [DONE].
    assert all(c.startswith(b"event: ") and c.endswith(b"\n\n") for c in res.chunks)
    assert b"[DONE]" not in res.body
    events = res.events()
    names = [name for name, _ in events]
    fragments = 1 + -(-len('{"city": "Paris"}') // 8)  # "" first, then 8-character pieces
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        *["content_block_delta"] * fragments,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = res.data()
    assert all(d["type"] == name for d, name in zip(data, names, strict=True))
    assert events[2] == ("ping", '{"type": "ping"}')
    start = data[0]["message"]
    assert (start["content"], start["stop_reason"], start["usage"]["output_tokens"]) == (
        [],
        None,
        1,
    )
    assert data[6]["content_block"] == {
        "type": "tool_use",
        "id": data[6]["content_block"]["id"],
        "name": "get_weather",
        "input": {},
    }
    pieces = [d["delta"]["partial_json"] for d in data[7 : 7 + fragments]]
    assert pieces[0] == ""  # the API's first input_json_delta is empty
    assert json.loads("".join(pieces)) == {"city": "Paris"}
    assert data[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert data[-2]["usage"]["output_tokens"] > 1


@pytest.mark.anyio
async def test_stream_faults_raw() -> None:
    body = {"model": MODEL, "max_tokens": 50, "messages": HELLO, "stream": True}
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(
                Reply(fault="stream_error", error_after=3),
                Reply(fault="truncate", truncate_after=4),
                Reply(fault="malformed", malformed_after=1),
            )
            errored = await raw(sim, "/v1/messages", body, headers=HEADERS)
            truncated = await raw(sim, "/v1/messages", body, headers=HEADERS)
            malformed = await raw(sim, "/v1/messages", body, headers=HEADERS)
    # The captured sequence of an overloaded stream (wire-formats §4.9).
    assert [name for name, _ in errored.events()] == [
        "message_start",
        "content_block_start",
        "ping",
        "error",
    ]
    assert errored.data()[-1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    names = [name for name, _ in truncated.events()]
    assert len(names) == 4
    assert "message_stop" not in names
    assert malformed.events()[1] == ("content_block_delta", '{"type":"content_block_delta","ind')
    assert malformed.events()[-1][0] == "message_stop"


# --------------------------------------------------------------------------------------------
# Request validation: strict like the API, so a translator bug is a 400 in Anthropic's shape

U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Hello"}
BASE: dict[str, Any] = {"model": MODEL, "max_tokens": 100, "messages": [U]}
USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}


def with_(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


def without(name: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k != name}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (without("max_tokens"), "max_tokens: Field required"),
        (without("model"), "model: Field required"),
        (without("messages"), "messages: Field required"),
        (with_(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
        (with_(max_tokens="10"), "max_tokens: Input should be a valid integer"),
        (with_(temprature=0.5), "temprature: Extra inputs are not permitted"),
        (with_(response_format={}), "response_format: Extra inputs are not permitted"),
        (with_(context_management={}), "context_management: Extra inputs are not permitted"),
        (with_(messages=[]), "messages: at least one message is required"),
        (with_(messages=[A, U]), 'messages: first message must use the "user" role'),
        (
            with_(messages=[U, U]),
            'messages: roles must alternate between "user" and "assistant", but found multiple '
            '"user" roles in a row',
        ),
        (
            with_(messages=[U, A, A]),
            'messages: roles must alternate between "user" and "assistant", but found multiple '
            '"assistant" roles in a row',
        ),
        (
            with_(messages=[{"role": "system", "content": "x"}]),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            with_(messages=[{"role": "user", "content": "Hi", "name": "bob"}]),
            "messages.0.name: Extra inputs are not permitted",
        ),
        (
            with_(messages=[{"role": "user"}]),
            "messages.0.content: Field required",
        ),
        (
            with_(messages=[{"role": "user", "content": [{"type": "image_url", "url": "x"}]}]),
            "messages.0.content.0: Input tag 'image_url' found using 'type' does not match any of "
            "the expected tags: 'text', 'image', 'document', 'search_result', 'thinking', "
            "'redacted_thinking', 'tool_use', 'tool_result', 'server_tool_use', "
            "'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', "
            "'bash_code_execution_tool_result', 'text_editor_code_execution_tool_result', "
            "'tool_search_tool_result', 'container_upload'",
        ),
        (
            with_(messages=[{"role": "user", "content": [{"text": "no type"}]}]),
            "messages.0.content.0: Unable to extract tag using discriminator 'type'",
        ),
        (
            with_(messages=[U, {"role": "assistant", "content": [{**USE, "text": "x"}]}, U]),
            "messages.1.content.0.tool_use.text: Extra inputs are not permitted",
        ),
        (
            with_(messages=[{"role": "user", "content": [{"type": "text"}]}]),
            "messages.0.content.0.text.text: Field required",
        ),
        (
            with_(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
            "messages: text content blocks must be non-empty",
        ),
        (
            with_(messages=[{"role": "user", "content": ""}]),
            "messages.0: all messages must have non-empty content except for the optional final "
            "assistant message",
        ),
        (
            with_(messages=[U, {"role": "assistant", "content": "Sure "}]),
            "messages: final assistant content cannot end with trailing whitespace",
        ),
        (
            with_(messages=[U, {"role": "assistant", "content": [USE]}]),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` "
            "block in the next message.",
        ),
        (
            with_(messages=[U, {"role": "assistant", "content": [USE]}, U]),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` "
            "block in the next message.",
        ),
        (
            with_(messages=[{"role": "user", "content": [RESULT]}]),
            "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
            "toolu_1. Each `tool_result` block must have a corresponding `tool_use` block in the "
            "previous message.",
        ),
        (
            with_(
                messages=[
                    U,
                    {"role": "assistant", "content": [USE]},
                    {"role": "user", "content": [RESULT, {**RESULT, "tool_use_id": "toolu_2"}]},
                ]
            ),
            "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: "
            "toolu_2. Each `tool_result` block must have a corresponding `tool_use` block in the "
            "previous message.",
        ),
        (
            with_(messages=[{"role": "user", "content": [USE]}]),
            "messages.0.content.0: `tool_use` blocks are only allowed in `assistant` messages",
        ),
        (with_(system=[{"type": "image"}]), "system.0.type: Input should be 'text'"),
        (with_(system=5), "system: Input should be a valid string or a list of text blocks"),
        (
            with_(tools=[{"name": "f", "description": "x"}]),
            "tools.0.custom.input_schema: Field required",
        ),
        (
            with_(tools=[{"input_schema": {"type": "object"}}]),
            "tools.0.custom.name: Field required",
        ),
        (
            with_(tools=[{"name": "f", "input_schema": {"type": "object"}, "parameters": {}}]),
            "tools.0.custom.parameters: Extra inputs are not permitted",
        ),
        (
            with_(tools=[{"name": "bad name", "input_schema": {"type": "object"}}]),
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
        ),
        (
            with_(tools=[WEATHER_TOOL, WEATHER_TOOL]),
            "tools: Tool names must be unique.",
        ),
        (
            with_(tool_choice={"type": "required"}),
            "tool_choice: Input tag 'required' found using 'type' does not match any of the "
            "expected tags: 'auto', 'any', 'tool', 'none'",
        ),
        (with_(tool_choice={"type": "tool"}), "tool_choice.tool.name: Field required"),
        (
            with_(thinking={"type": "enabled", "budget_tokens": 512}),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            with_(max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 1024}),
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            "#max-tokens-and-context-window-size",
        ),
        (with_(thinking={"type": "enabled"}), "thinking.enabled.budget_tokens: Field required"),
        (
            with_(
                max_tokens=2048,
                temperature=0.5,
                thinking={"type": "enabled", "budget_tokens": 1024},
            ),
            "`temperature` may only be set to 1 when thinking is enabled.",
        ),
        (with_(temperature=1.5), "temperature: Input should be less than or equal to 1"),
        (
            with_(output_config={"format": {"type": "json_object"}}),
            "output_config.format.schema: Field required",
        ),
        (
            with_(output_config={"format": {"type": "json", "schema": {}}}),
            "output_config.format.type: Input should be 'json_schema'",
        ),
        (with_(metadata={"user": "x"}), "metadata.user: Extra inputs are not permitted"),
        (
            with_(service_tier="priority"),
            "service_tier: Input should be 'auto' or 'standard_only'",
        ),
    ],
)
@pytest.mark.anyio
async def test_validation(body: dict[str, Any], message: str) -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="kept"))
            res = await raw(sim, "/v1/messages", body, headers=HEADERS)
            assert sim.pending_replies == 1  # an invalid request does not use up the script
    assert res.status == 400
    assert res.headers["content-type"] == "application/json"
    assert res.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
        "request_id": res.headers["request-id"],
    }


@pytest.mark.anyio
async def test_validation_headers_and_valid_shapes() -> None:
    beta = {**BASE, "context_management": {"edits": []}}
    full = {
        **BASE,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, USE]},
            {"role": "user", "content": [RESULT, {"type": "text", "text": "Thanks"}]},
            {"role": "assistant", "content": "Prefilled"},
        ],
        "tools": [WEATHER_TOOL, {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "top_k": 5,
        "metadata": {"user_id": "u1"},
        "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": {}}},
        "service_tier": "auto",
    }
    with anyio.fail_after(10):
        async with Simulator() as sim:
            no_version = await raw(sim, "/v1/messages", BASE, headers=HEADERS[:1])
            with_beta = await raw(
                sim, "/v1/messages", beta, headers=[*HEADERS, ("anthropic-beta", "context-1")]
            )
            valid = await raw(sim, "/v1/messages", full, headers=HEADERS)
            not_json = await raw(sim, "/v1/messages", body=b"{nope", headers=HEADERS)
            wrong_method = await raw(sim, "/v1/messages", method="GET", headers=HEADERS)
    assert no_version.status == 400
    assert no_version.json()["error"]["message"] == "anthropic-version: header is required"
    assert with_beta.status == 200
    assert valid.status == 200, valid.body
    assert valid.json()["usage"]["input_tokens"] == 6  # the words of system and every turn
    assert not_json.status == 400
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    assert wrong_method.status == 405
    assert wrong_method.json()["type"] == "error"


@pytest.mark.anyio
async def test_auth_raw() -> None:
    with anyio.fail_after(10):
        async with Simulator(api_key=KEY) as sim:
            missing = await raw(sim, "/v1/messages", BASE, headers=HEADERS[1:])
            header_override = await raw(
                sim,
                "/v1/messages",
                BASE,
                headers=[*HEADERS, ("x-ritellm-sim", json.dumps({"colour": "red"}))],
            )
    assert missing.status == 401
    assert missing.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert header_override.status == 400
    assert header_override.json()["type"] == "error"
    assert "colour" in header_override.json()["error"]["message"]
