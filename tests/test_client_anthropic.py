"""Anthropic Messages end to end: ritellm's client over loopback against the simulator's
``/v1/messages`` route, on asyncio and trio — URL, headers and credentials at the server, text
answers (whole and streamed), the OpenAI -> Messages parameter mapping as the server received
it, refused parameters and structured output. Tools, thinking and usage are in
``test_client_anthropic_tools``; errors, faults and secrets in ``test_client_anthropic_errors``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pydantic
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

KEY = "sk-ant-CANARY-0123456789abcdef"
MODEL = "anthropic/claude-sonnet-4-5"
WIRE_MODEL = "claude-sonnet-4-5"
MSGS: Any = [{"role": "user", "content": "Hello there"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
# The simulator's usage for MSGS and ANSWER: 2 prompt words, 9 answer tokens, no cache.
USAGE = {
    "prompt_tokens": 2,
    "completion_tokens": 9,
    "total_tokens": 11,
    "prompt_tokens_details": {"cached_tokens": 0},
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
BARE: dict[str, Any] = {"model": WIRE_MODEL, "max_tokens": 4096, "messages": MSGS}
NO_KEY = "No API key for provider 'anthropic': pass api_key=... or set ANTHROPIC_API_KEY"


@pytest.fixture
async def claude_sim() -> AsyncIterator[Simulator]:
    """A simulator that insists on KEY (sent as x-api-key)."""
    async with Simulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture
async def client(claude_sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    """A client aimed at the simulator's root; no connection or pool slot may be left held."""
    async with ritellm.AsyncClient(base_url=claude_sim.url, api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


def plain(obj: Any, *drop: str) -> Any:
    """``obj`` as plain JSON values, without the top-level keys ``drop``."""
    out = json.loads(json.dumps(obj))
    for key in drop:
        out.pop(key)
    return out


async def collect(c: ritellm.AsyncClient, model: str = MODEL, **kwargs: Any) -> list[Any]:
    """Every chunk of one streamed call, bounded."""
    messages = kwargs.pop("messages", MSGS)
    with anyio.fail_after(10):
        async with await c.acompletion(model, messages, stream=True, **kwargs) as stream:
            return [chunk async for chunk in stream]


def deltas(chunks: list[Any]) -> list[tuple[Any, Any]]:
    """(delta, finish_reason) of each chunk that has a choice, as plain values."""
    return [(plain(c.choices[0].delta), c.choices[0].finish_reason) for c in chunks if c["choices"]]


async def call(c: ritellm.AsyncClient, **kwargs: Any) -> Any:
    messages = kwargs.pop("messages", MSGS)
    with anyio.fail_after(10):
        return await c.acompletion(kwargs.pop("model", MODEL), messages, **kwargs)


# -- URL, headers, credentials ---------------------------------------------------------------


async def test_request_at_the_server_and_the_answer(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await call(client)
    req = claude_sim.requests[0]
    assert (req.method, req.path, req.query) == ("POST", "/v1/messages", "")
    assert req.headers["x-api-key"] == KEY
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["accept"] == "application/json"
    assert "authorization" not in req.headers
    assert req.json == BARE  # max_tokens 4096 when the caller gives none
    assert isinstance(r, ritellm.ModelResponse)
    assert isinstance(r.created, int)
    assert plain(r, "created") == {
        "id": "msg_sim00000000000000000001",
        "object": "chat.completion",
        "model": WIRE_MODEL,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    # Attribute access at every level.
    assert r.choices[0].message.content == ANSWER
    assert r.usage.prompt_tokens_details.cached_tokens == 0


@pytest.mark.parametrize(
    "base", ["{url}", "{url}/", "{url}/v1", "{url}/v1/", "{url}/v1/messages", "{url}/v1/messages/"]
)
async def test_every_form_of_the_base_url_reaches_v1_messages(
    claude_sim: Simulator, client: ritellm.AsyncClient, base: str
) -> None:
    r = await call(client, base_url=base.format(url=claude_sim.url))
    assert r.choices[0].message.content == ANSWER
    assert claude_sim.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("variable", ["ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE"])
@pytest.mark.parametrize("suffix", ["", "/v1"])
async def test_key_and_base_from_the_environment(
    claude_sim: Simulator, monkeypatch: pytest.MonkeyPatch, variable: str, suffix: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv(variable, claude_sim.url + suffix)
    async with ritellm.AsyncClient() as c:
        r = await call(c)
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    req = claude_sim.requests[0]
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == KEY


async def test_base_url_variable_wins_and_arguments_win_over_the_environment(
    claude_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-environment-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", claude_sim.url)
    monkeypatch.setenv("ANTHROPIC_API_BASE", "http://127.0.0.1:9")  # nothing listens there
    async with ritellm.AsyncClient() as c:
        r = await call(c, api_key=KEY)
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    assert claude_sim.requests[0].headers["x-api-key"] == KEY


@pytest.mark.parametrize(
    "base",
    [
        None,
        "https://api.anthropic.com",
        "https://api.anthropic.com/v1",
        "https://api.anthropic.com/v1/messages/",
    ],
)
@pytest.mark.parametrize("model", [MODEL, "claude-3-5-haiku-20241022"])
async def test_default_api_without_a_key_fails_before_any_io(
    claude_sim: Simulator, base: str | None, model: str
) -> None:
    # An attempt to connect would be an APIConnectionError (or a request at a real server):
    # an AuthenticationError without a status says nothing was sent.
    async with ritellm.AsyncClient() as c:
        with anyio.fail_after(5), pytest.raises(ritellm.AuthenticationError) as info:
            await c.acompletion(model, MSGS, base_url=base, stream=model == MODEL)
        assert c.transport().idle_connections == 0
    assert info.value.message == NO_KEY
    assert info.value.status_code is None
    assert info.value.provider == "anthropic"
    assert claude_sim.requests == []


async def test_custom_base_needs_no_key(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.url) as c:
        r = await call(c)
        chunks = await collect(c)
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    for req in sim.requests:
        assert req.path == "/v1/messages"
        assert "x-api-key" not in req.headers
        assert "authorization" not in req.headers


async def test_bare_claude_model_routes_to_anthropic(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await call(client, model="claude-3-5-haiku-20241022")
    assert r.model == "claude-3-5-haiku-20241022"
    assert r.choices[0].message.content == ANSWER
    req = claude_sim.requests[0]
    assert req.path == "/v1/messages"
    assert req.json == {**BARE, "model": "claude-3-5-haiku-20241022"}


# -- text answers ----------------------------------------------------------------------------


async def test_text_stream_exact_chunks(claude_sim: Simulator, client: ritellm.AsyncClient) -> None:
    claude_sim.script(Reply(content="Roses are red", chunk_size=5))
    chunks = await collect(client, stream_options={"include_usage": True})
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Roses"}, None),
        ({"content": " are "}, None),
        ({"content": "red"}, None),
        ({}, "stop"),
    ]
    assert all(isinstance(c, ritellm.ModelResponseStream) for c in chunks)
    assert {(c.id, c.object, c.model, c.created) for c in chunks} == {
        ("msg_sim00000000000000000001", "chat.completion.chunk", WIRE_MODEL, chunks[0].created)
    }
    last = chunks[-1]
    assert last.choices == []
    assert plain(last.usage) == {**USAGE, "completion_tokens": 3, "total_tokens": 5}
    req = claude_sim.requests[0]
    assert req.headers["accept"] == "text/event-stream"
    # stream_options is ritellm's to consume: never sent to Anthropic.
    assert req.json == {**BARE, "stream": True}


async def test_text_stream_without_usage_ends_with_the_finish_chunk(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(content="Hi there", finish_reason="max_tokens"))
    chunks = await collect(client)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Hi "}, None),
        ({"content": "there"}, None),
        ({}, "length"),
    ]
    assert all("usage" not in c for c in chunks)


async def test_text_stream_rebuilds_the_non_streamed_answer(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    whole = await call(client)
    chunks = await collect(client, stream_options={"include_usage": True})
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    # Each request is a new message: the ids differ by the simulator's sequence number.
    assert (whole.id, rebuilt.id) == ("msg_sim00000000000000000001", "msg_sim00000000000000000002")
    assert plain(rebuilt, "created", "id") == plain(whole, "created", "id")


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "stop"),
        ("something_new", "stop"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_stop_reasons_and_the_served_model(
    claude_sim: Simulator, client: ritellm.AsyncClient, stop_reason: str, finish: str, stream: bool
) -> None:
    served = "claude-sonnet-4-5-20250929"  # an alias resolves to a dated model
    claude_sim.script(Reply(content="Done.", finish_reason=stop_reason, model=served))
    if stream:
        chunks = await collect(client)
        assert deltas(chunks)[-1] == ({}, finish)
        assert {c.model for c in chunks} == {served}
    else:
        r = await call(client)
        assert (r.choices[0].finish_reason, r.model) == (finish, served)


# -- the parameter mapping, as the server received it -----------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"max_tokens": 4096}),
        ({"max_tokens": 100}, {"max_tokens": 100}),
        ({"max_completion_tokens": 50}, {"max_tokens": 50}),
        ({"stop": "END"}, {"max_tokens": 4096, "stop_sequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"max_tokens": 4096, "stop_sequences": ["a", "b"]}),
        ({"user": "user-42"}, {"max_tokens": 4096, "metadata": {"user_id": "user-42"}}),
        (
            {"temperature": 0.25, "top_p": 0.5, "top_k": 5, "service_tier": "auto"},
            {"max_tokens": 4096, "temperature": 0.25, "top_p": 0.5, "top_k": 5},
        ),
        ({"n": 1, "response_format": {"type": "text"}}, {"max_tokens": 4096}),
    ],
    ids=[
        "default",
        "max_tokens",
        "max_completion_tokens",
        "stop-str",
        "stop-list",
        "user",
        "sampling",
        "no-ops",
    ],
)
async def test_parameters_as_sent(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    kwargs: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    await call(client, **kwargs)
    body = claude_sim.requests[0].json
    if "service_tier" in kwargs:
        expected = {**expected, "service_tier": "auto"}  # provider-specific: passed through
    assert body == {"model": WIRE_MODEL, "messages": MSGS, **expected}


async def test_system_and_developer_become_top_level_system_and_users_merge(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
        {"role": "assistant", "content": "Bien."},
        {"role": "user", "content": "And now?"},
    ]
    r = await call(client, messages=messages)
    assert r.choices[0].message.content == "Hello from the ritellm simulator! You said: And now?"
    body = claude_sim.requests[0].json
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in French."},
    ]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "How are you?"}],
        },
        {"role": "assistant", "content": "Bien."},
        {"role": "user", "content": "And now?"},
    ]


async def test_one_system_message_is_sent_as_a_string(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await call(client, messages=[{"role": "system", "content": "Be brief."}, *MSGS])
    assert claude_sim.requests[0].json == {**BARE, "system": "Be brief."}


async def test_cache_control_is_kept_on_its_block(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Prompt caching: a part's cache_control, or the message's (LiteLLM's form: it applies
    # to the message's last part), stays on that block.
    ephemeral = {"type": "ephemeral"}
    messages = [
        {
            "role": "system",
            "content": [{"type": "text", "text": "Long rules.", "cache_control": ephemeral}],
        },
        {"role": "user", "content": "Long document.", "cache_control": ephemeral},
    ]
    await call(client, messages=messages)
    body = claude_sim.requests[0].json
    assert body["system"] == [{"type": "text", "text": "Long rules.", "cache_control": ephemeral}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Long document.", "cache_control": ephemeral}],
        }
    ]


async def test_images_as_sent(claude_sim: Simulator, client: ritellm.AsyncClient) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        }
    ]
    await call(client, messages=messages)
    assert len(claude_sim.requests) == 1  # the https image is passed by reference, not fetched
    assert claude_sim.requests[0].json["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        }
    ]


# -- parameters Anthropic cannot honour -------------------------------------------------------

UNSUPPORTED: dict[str, Any] = {
    "seed": 7,
    "n": 2,
    "logit_bias": {"1234": 5},
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "logprobs": True,
    "top_logprobs": 3,
}


@pytest.mark.parametrize("name", list(UNSUPPORTED))
@pytest.mark.parametrize("stream", [False, True])
async def test_unsupported_parameter_fails_before_io(
    claude_sim: Simulator, client: ritellm.AsyncClient, name: str, stream: bool
) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await call(client, stream=stream, **{name: UNSUPPORTED[name]})
    assert str(info.value) == (
        f"anthropic does not support the parameter {name!r}: remove it, or pass "
        "drop_params=True to drop parameters a provider cannot honour"
    )
    assert claude_sim.requests == []


async def test_drop_params_drops_them_and_unknown_fields_pass_through(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await call(client, drop_params=True, top_k=3, **UNSUPPORTED)
    assert r.choices[0].message.content == ANSWER
    assert claude_sim.requests[0].json == {**BARE, "top_k": 3}


# -- structured output ------------------------------------------------------------------------

CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
    },
    "required": ["city"],
}


class Place(pydantic.BaseModel):
    lat: float
    lon: float


class City(pydantic.BaseModel):
    name: str
    place: Place


async def test_json_schema_becomes_output_config(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(content='{"city": "Paris"}'))
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY_SCHEMA}}
    r = await call(client, response_format=fmt)
    assert json.loads(r.choices[0].message.content) == {"city": "Paris"}
    closed = {
        **CITY_SCHEMA,
        "properties": {
            "city": {"type": "string"},
            "where": {
                "type": "object",
                "properties": {"lat": {"type": "number"}},
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }
    assert claude_sim.requests[0].json == {
        **BARE,
        "output_config": {"format": {"type": "json_schema", "schema": closed}},
    }


async def test_pydantic_model_becomes_output_config(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await call(client, response_format=City)
    schema = claude_sim.requests[0].json["output_config"]["format"]["schema"]
    assert claude_sim.requests[0].json["output_config"]["format"]["type"] == "json_schema"
    assert schema == {
        "$defs": {
            "Place": {
                "properties": {
                    "lat": {"title": "Lat", "type": "number"},
                    "lon": {"title": "Lon", "type": "number"},
                },
                "required": ["lat", "lon"],
                "title": "Place",
                "type": "object",
                "additionalProperties": False,
            }
        },
        "properties": {
            "name": {"title": "Name", "type": "string"},
            "place": {"$ref": "#/$defs/Place"},
        },
        "required": ["name", "place"],
        "title": "City",
        "type": "object",
        "additionalProperties": False,
    }


async def test_json_object_is_refused_unless_dropped(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await call(client, response_format={"type": "json_object"})
    assert str(info.value) == (
        "anthropic has no JSON mode without a schema (response_format {'type': 'json_object'}): "
        "pass {'type': 'json_schema', 'json_schema': {'name': ..., 'schema': {...}}} or a "
        "Pydantic model class instead, or drop_params=True to drop it"
    )
    assert claude_sim.requests == []
    await call(client, response_format={"type": "json_object"}, drop_params=True)
    assert claude_sim.requests[0].json == BARE
