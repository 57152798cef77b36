"""Tests for the Anthropic Messages translator (ritellm._providers.anthropic): credentials,
request bytes for every mapping and every refusal, completion parsing on the wire-formats §4
examples, and error bodies. The stream decoder is tested in test_anthropic_stream.py."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

import ritellm
from ritellm._error_map import error_from_response
from ritellm._errors import ErrorInfo
from ritellm._providers import PROVIDERS, get_provider, resolve
from ritellm._providers._common import dumps
from ritellm._providers._schema import strict_schema
from ritellm._providers.anthropic import DEFAULT_MAX_TOKENS, AnthropicProvider
from ritellm._types import AttrDict, CompletionRequest, Credentials, ModelResponse
from ritellm._version import __version__

SPEC = PROVIDERS["anthropic"]
PROVIDER = AnthropicProvider(SPEC)
KEY = "sk-ant-CANARY-0123456789abcdef"
CREDS = Credentials(base_url="https://api.anthropic.com", api_key=KEY)
MODEL = "claude-sonnet-4-20250514"
HI: list[Any] = [{"role": "user", "content": "Hi"}]
NOW = 1_760_000_000


def make(
    messages: list[Any] | None = None,
    *,
    stream: bool = False,
    drop: bool = False,
    **params: Any,
) -> CompletionRequest:
    return CompletionRequest(
        model=MODEL,
        messages=HI if messages is None else messages,
        params=params,
        stream=stream,
        drop_params=drop,
    )


def body(messages: list[Any] | None = None, **params: Any) -> dict[str, Any]:
    """The request body, decoded (for tables: key order is checked by the byte goldens)."""
    http = PROVIDER.build_request(make(messages, **params), CREDS, {})
    decoded: dict[str, Any] = json.loads(http.body)
    return decoded


def sent(**params: Any) -> dict[str, Any]:
    """The body fields besides model, messages and the default max_tokens."""
    out = body(**params)
    del out["model"], out["messages"]
    if out["max_tokens"] == DEFAULT_MAX_TOKENS:
        del out["max_tokens"]
    return out


# --- registry and credentials ---------------------------------------------------------------


def test_registry_routes_anthropic_models_here() -> None:
    assert resolve("anthropic/claude-opus-4-1") == (SPEC, "claude-opus-4-1")
    assert resolve("claude-3-5-haiku-latest") == (SPEC, "claude-3-5-haiku-latest")
    provider = get_provider(SPEC)
    assert isinstance(provider, AnthropicProvider)
    assert provider.credential_params == ()
    assert (
        provider.media_urls(make([{"role": "user", "content": [image("https://x/a.png")]}])) == ()
    )
    assert provider.media_urls(make()) == ()


def image(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, **extra}


def credentials(
    *, api_key: str | None = None, base_url: str | None = None, **environ: str
) -> Credentials:
    return PROVIDER.credentials(api_key=api_key, base_url=base_url, options={}, environ=environ)


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        (None, "https://api.anthropic.com"),
        ("https://api.anthropic.com", "https://api.anthropic.com"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com"),
        ("https://api.anthropic.com/v1/", "https://api.anthropic.com"),
        ("https://api.anthropic.com/v1/messages", "https://api.anthropic.com"),
        ("http://127.0.0.1:8080/v1/messages/", "http://127.0.0.1:8080"),
        ("https://gateway.example/anthropic", "https://gateway.example/anthropic"),
        ("https://gateway.example/anthropic/v1", "https://gateway.example/anthropic"),
    ],
)
def test_base_url_forms_all_reach_v1_messages(base_url: str | None, root: str) -> None:
    creds = credentials(api_key="k", base_url=base_url)
    assert creds.base_url == root
    assert PROVIDER.build_request(make(), creds, {}).url == root + "/v1/messages"


def test_key_and_base_from_the_environment() -> None:
    creds = credentials(ANTHROPIC_API_KEY="env-key")
    assert (creds.base_url, creds.api_key) == ("https://api.anthropic.com", "env-key")
    creds = credentials(api_key="arg", ANTHROPIC_API_KEY="env", ANTHROPIC_API_BASE="http://b:2/v1")
    assert (creds.base_url, creds.api_key) == ("http://b:2", "arg")
    both = {"ANTHROPIC_BASE_URL": "http://a:1", "ANTHROPIC_API_BASE": "http://b:2"}
    assert credentials(**both).base_url == "http://a:1"
    assert credentials(base_url="http://c:3/v1", **both).base_url == "http://c:3"


@pytest.mark.parametrize(
    "base_url",
    [
        None,
        "https://api.anthropic.com/",
        "https://api.anthropic.com/v1",
        "https://api.anthropic.com/v1/messages",
    ],
)
def test_default_api_without_key_fails_before_io(base_url: str | None) -> None:
    with pytest.raises(ritellm.AuthenticationError, match="ANTHROPIC_API_KEY") as info:
        credentials(base_url=base_url)
    assert info.value.provider == "anthropic"
    assert info.value.status_code is None


@pytest.mark.parametrize(
    ("kwargs", "environ"),
    [({"base_url": "http://127.0.0.1:8080/v1"}, {}), ({}, {"ANTHROPIC_BASE_URL": "http://h:1"})],
)
def test_custom_base_needs_no_key(kwargs: dict[str, str], environ: dict[str, str]) -> None:
    creds = credentials(**kwargs, **environ)
    assert creds.api_key is None
    headers = dict(PROVIDER.build_request(make(), creds, {}).headers)
    assert b"x-api-key" not in headers


# --- request goldens ------------------------------------------------------------------------

UA = f"ritellm/{__version__}".encode()


def test_golden_request_non_stream() -> None:
    extra = ((b"anthropic-beta", b"files-api-2025-04-14"),)
    creds = Credentials(base_url="https://api.anthropic.com", api_key=KEY, headers=extra)
    http = PROVIDER.build_request(make(temperature=0.2, max_tokens=5), creds, {})
    assert http.method == b"POST"
    assert http.url == "https://api.anthropic.com/v1/messages"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/json"),
        (b"User-Agent", UA),
        (b"x-api-key", KEY.encode()),
        (b"anthropic-version", b"2023-06-01"),
        (b"anthropic-beta", b"files-api-2025-04-14"),
    ]
    assert http.body == (
        b'{"model":"claude-sonnet-4-20250514","max_tokens":5,'
        b'"messages":[{"role":"user","content":"Hi"}],"temperature":0.2}'
    )


def test_golden_request_stream() -> None:
    req = make(stream=True, stream_options={"include_usage": True})
    http = PROVIDER.build_request(req, CREDS, {})
    assert (b"Accept", b"text/event-stream") in http.headers
    assert http.body == (
        b'{"model":"claude-sonnet-4-20250514","max_tokens":4096,'
        b'"messages":[{"role":"user","content":"Hi"}],"stream":true}'
    )


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}


def test_golden_tool_round_trip_of_wire_formats_4_2() -> None:
    messages = [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in San Francisco?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"location": "San Francisco, CA"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "content": "15°C, fog"},
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": WEATHER_SCHEMA,
            },
        }
    ]
    http = PROVIDER.build_request(make(messages, max_tokens=1024, tools=tools), CREDS, {})
    expected = {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 1024,
        "system": "You are a weather bot.",
        "messages": [
            {"role": "user", "content": "Weather in San Francisco?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                        "name": "get_weather",
                        "input": {"location": "San Francisco, CA"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                        "content": "15°C, fog",
                    }
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Current weather",
                "input_schema": WEATHER_SCHEMA,
            }
        ],
    }
    assert http.body == dumps(expected).encode()  # exact bytes: order, compact, UTF-8 kept
    assert "15°C".encode() in http.body


# --- messages -------------------------------------------------------------------------------

EPHEMERAL = {"type": "ephemeral"}


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ([{"role": "system", "content": "Be brief."}], "Be brief."),
        (
            [{"role": "system", "content": "A"}, {"role": "developer", "content": "B"}],
            [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
        ),
        (
            [
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "Long", "cache_control": EPHEMERAL}],
                }
            ],
            [{"type": "text", "text": "Long", "cache_control": EPHEMERAL}],
        ),
    ],
)
def test_system_messages_become_top_level_system(
    system: list[dict[str, Any]], expected: Any
) -> None:
    out = body([*system, *HI])
    assert out["system"] == expected
    assert out["messages"] == HI


def test_no_system_field_without_system_messages() -> None:
    assert "system" not in body()


def test_user_images_by_url_and_inline_keep_extra_fields() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        image("https://example.com/cat.png"),
        image("data:image/png;base64,iVBORw0KGgo=", cache_control=EPHEMERAL),
    ]
    assert body([{"role": "user", "content": content}])["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                    "cache_control": EPHEMERAL,
                },
            ],
        }
    ]


def test_message_level_cache_control_marks_the_last_block() -> None:
    messages = [{"role": "user", "content": "Hi", "cache_control": EPHEMERAL}]
    assert body(messages)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": EPHEMERAL}]}
    ]


THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}


def test_thinking_blocks_go_back_first_and_unchanged() -> None:
    call = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    messages = [
        *HI,
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [call],
            "thinking_blocks": [THINKING, REDACTED],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "done"},
    ]
    assert body(messages)["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                THINKING,
                REDACTED,
                {"type": "text", "text": "Calling."},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}],
        },
    ]


def tool_turns(result: Any) -> list[dict[str, Any]]:
    call = {"id": "toolu_9", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
    return [
        *HI,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_9", "content": result},
        {"role": "user", "content": "And now?"},
    ]


@pytest.mark.parametrize(
    ("result", "content"),
    [
        ("plain", "plain"),
        ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "ab"),
        (
            [{"type": "text", "text": "see"}, image("https://x/y.png")],
            [
                {"type": "text", "text": "see"},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            ],
        ),
        (
            [{"type": "text", "text": "big", "cache_control": EPHEMERAL}],
            [{"type": "text", "text": "big", "cache_control": EPHEMERAL}],
        ),
    ],
)
def test_tool_results_in_a_user_turn(result: Any, content: Any) -> None:
    messages = body(tool_turns(result))["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_9", "name": "shot", "input": {}}],
    }
    assert messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_9", "content": content},
            {"type": "text", "text": "And now?"},
        ],
    }


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [
                *HI,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "t1", "function": {"name": "f", "arguments": "{}"}},
                        {"function": {"name": "g", "arguments": "{}"}},
                    ],
                },
            ],
            "messages[1].tool_calls[1] has no id: Anthropic needs an id on every tool call to "
            "match it with its tool_result",
        ),
        (
            [*HI, {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}],
            "messages[1].function_call has no id: Anthropic needs an id on every tool call to "
            "match it with its tool_result",
        ),
        (
            [*HI, {"role": "function", "name": "f", "content": "42"}],
            "messages[1] has no tool_call_id: Anthropic matches each tool result to its tool "
            "call by id (use role 'tool' with tool_call_id)",
        ),
    ],
)
def test_tool_calls_and_results_need_ids(messages: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        body(messages)
    assert str(info.value) == message


# --- parameters -----------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
F = {"name": "f", "input_schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"temperature": 0.5, "top_p": 0.9}, {"temperature": 0.5, "top_p": 0.9}),
        ({"max_tokens": 100}, {"max_tokens": 100}),
        ({"max_completion_tokens": 200, "max_tokens": 100}, {"max_tokens": 200}),
        ({"stop": "END"}, {"stop_sequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}),
        ({"stop": "x", "stop_sequences": ["native"]}, {"stop_sequences": ["native"]}),
        ({"user": "u-1"}, {"metadata": {"user_id": "u-1"}}),
        ({"user": "u-1", "metadata": {"k": "v"}}, {"metadata": {"user_id": "u-1", "k": "v"}}),
        ({"user": "u-1", "metadata": {"user_id": "mine"}}, {"metadata": {"user_id": "mine"}}),
        ({"n": 1}, {}),
        ({"stream_options": {"include_usage": True}}, {}),
        ({"seed": None, "logprobs": None}, {}),  # None means "not set"
        (
            {"top_k": 5, "metadata": {"user_id": "x"}, "service_tier": "auto"},
            {"top_k": 5, "metadata": {"user_id": "x"}, "service_tier": "auto"},
        ),
        (
            {"container": "c_1", "mcp_servers": [{"type": "url", "url": "https://m", "name": "m"}]},
            {"container": "c_1", "mcp_servers": [{"type": "url", "url": "https://m", "name": "m"}]},
        ),
        # tools and tool_choice
        ({"tools": [TOOL]}, {"tools": [F]}),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "g",
                            "description": "G",
                            "parameters": WEATHER_SCHEMA,
                            "strict": True,
                        },
                    },
                    {"type": "function", "function": {"name": "h"}},
                ]
            },
            {
                "tools": [
                    {
                        "name": "g",
                        "description": "G",
                        "input_schema": WEATHER_SCHEMA,
                        "strict": True,
                    },
                    {"name": "h", "input_schema": {"type": "object", "properties": {}}},
                ]
            },
        ),
        ({"tools": [TOOL], "tool_choice": "auto"}, {"tools": [F], "tool_choice": {"type": "auto"}}),
        ({"tools": [TOOL], "tool_choice": "none"}, {"tools": [F], "tool_choice": {"type": "none"}}),
        (
            {"tools": [TOOL], "tool_choice": "required"},
            {"tools": [F], "tool_choice": {"type": "any"}},
        ),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "f"}}},
            {"tools": [F], "tool_choice": {"type": "tool", "name": "f"}},
        ),
        (
            {"tools": [TOOL], "parallel_tool_calls": False},
            {"tools": [F], "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
        ),
        (
            {"tools": [TOOL], "parallel_tool_calls": False, "tool_choice": "required"},
            {"tools": [F], "tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
        ),
        (
            {"tools": [TOOL], "parallel_tool_calls": False, "tool_choice": "none"},
            {"tools": [F], "tool_choice": {"type": "none"}},
        ),
        ({"tools": [TOOL], "parallel_tool_calls": True}, {"tools": [F]}),
        ({"parallel_tool_calls": False}, {}),  # nothing to parallelise without tools
        # response_format
        ({"response_format": {"type": "text"}}, {}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "w", "schema": WEATHER_SCHEMA, "strict": True},
                }
            },
            {
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {**WEATHER_SCHEMA, "additionalProperties": False},
                    }
                }
            },
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "string"}},
                },
                "output_config": {"effort": "high"},
            },
            {
                "output_config": {
                    "format": {"type": "json_schema", "schema": {"type": "string"}},
                    "effort": "high",
                }
            },
        ),
        # reasoning_effort and thinking
        ({"reasoning_effort": "none"}, {}),
        (
            {"reasoning_effort": "low"},
            {"max_tokens": 1024 + 4096, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        ),
        (
            {"reasoning_effort": "minimal"},
            {"max_tokens": 1024 + 4096, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        ),
        (
            {"reasoning_effort": "medium", "max_tokens": 3000},
            {"max_tokens": 3000, "thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        (
            {"reasoning_effort": "high"},
            {"max_tokens": 4096 + 4096, "thinking": {"type": "enabled", "budget_tokens": 4096}},
        ),
        (
            {"reasoning_effort": "xhigh"},
            {"max_tokens": 8192 + 4096, "thinking": {"type": "enabled", "budget_tokens": 8192}},
        ),
        (
            {"reasoning_effort": "high", "thinking": {"type": "enabled", "budget_tokens": 10000}},
            {"max_tokens": 14096, "thinking": {"type": "enabled", "budget_tokens": 10000}},
        ),
        (
            # The caller's own thinking is theirs to check (interleaved thinking allows a
            # budget above max_tokens).
            {"thinking": {"type": "enabled", "budget_tokens": 10000}, "max_tokens": 5000},
            {"max_tokens": 5000, "thinking": {"type": "enabled", "budget_tokens": 10000}},
        ),
        ({"thinking": {"type": "adaptive"}}, {"thinking": {"type": "adaptive"}}),
    ],
)
def test_parameter_mapping(params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sent(**params) == expected


def test_body_key_order_is_stable() -> None:
    out = body(
        top_k=3,
        user="u",
        temperature=1,
        reasoning_effort="low",
        tools=[TOOL],
        tool_choice="auto",
        stop="S",
    )
    assert list(out) == [
        "model",
        "max_tokens",
        "messages",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "top_k",
        "temperature",
    ]


UNSUPPORTED = [
    ("n", 2),
    ("seed", 1),
    ("presence_penalty", 0.5),
    ("frequency_penalty", 0.5),
    ("logit_bias", {"1": 1}),
    ("logprobs", True),
    ("top_logprobs", 2),
    ("store", True),
    ("modalities", ["text"]),
    ("audio", {"voice": "alloy"}),
    ("prediction", {"type": "content", "content": "x"}),
    ("web_search_options", {}),
    ("verbosity", "low"),
    ("prompt_cache_key", "k"),
    ("safety_identifier", "s"),
    ("functions", [{"name": "f"}]),
    ("function_call", "auto"),
]


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_unsupported_parameters_refused_or_dropped(name: str, value: Any) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        body(**{name: value})
    assert str(info.value) == (
        f"anthropic does not support the parameter {name!r}: remove it, or pass "
        "drop_params=True to drop parameters a provider cannot honour"
    )
    http = PROVIDER.build_request(make(drop=True, **{name: value}, top_k=2), CREDS, {})
    assert json.loads(http.body) == {
        "model": MODEL,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": HI,
        "top_k": 2,
    }


def test_json_object_has_no_anthropic_equivalent() -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        body(response_format={"type": "json_object"})
    assert str(info.value) == (
        "anthropic has no JSON mode without a schema (response_format {'type': "
        "'json_object'}): pass {'type': 'json_schema', 'json_schema': {'name': ..., "
        "'schema': {...}}} or a Pydantic model class instead, or drop_params=True to drop it"
    )
    req = make(drop=True, response_format={"type": "json_object"})
    assert "output_config" not in json.loads(PROVIDER.build_request(req, CREDS, {}).body)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"reasoning_effort": "medium", "max_tokens": 2048},
            "max_tokens=2048 leaves no room for the answer: Anthropic counts thinking against "
            "max_tokens, and reasoning_effort='medium' is a 2048-token thinking budget, so "
            "max_tokens must be greater than 2048 (or leave it out to get 6144)",
        ),
        (
            {"reasoning_effort": "low", "max_completion_tokens": 100},
            "max_completion_tokens=100 leaves no room for the answer: Anthropic counts thinking "
            "against max_tokens, and reasoning_effort='low' is a 1024-token thinking budget, "
            "so max_completion_tokens must be greater than 1024 (or leave it out to get 5120)",
        ),
        (
            {"reasoning_effort": "maximum"},
            "reasoning_effort must be one of 'none', 'minimal', 'low', 'medium', 'high', "
            "'xhigh', got 'maximum'",
        ),
        (
            {"tool_choice": "sometimes"},
            "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', "
            "'function': {'name': ...}}",
        ),
        ({"response_format": {"type": "yaml"}}, "response_format has unknown type 'yaml'"),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            "tools[0] has type 'web_search_20250305'; only 'function'",
        ),
    ],
)
def test_parameter_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        body(**params)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"user": 42}, "user must be a str, not int"),
        (
            {"parallel_tool_calls": "no", "tools": [TOOL]},
            "parallel_tool_calls must be True or False, not 'no'",
        ),
        ({"stop": 3}, "stop must be a string or a list of strings"),
        ({"max_tokens": "5"}, "max_tokens must be an integer, not str"),
        ({"tools": {"name": "f"}}, "tools must be a list of {'type': 'function', ...} dicts"),
    ],
)
def test_parameter_type_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        body(**params)
    assert str(info.value) == message


class Pet(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0)


class Owner(pydantic.BaseModel):
    pets: list[Pet]


def test_pydantic_model_becomes_native_structured_output() -> None:
    assert sent(response_format=Owner) == {
        "output_config": {
            "format": {
                "type": "json_schema",
                "schema": {
                    "$defs": {
                        "Pet": {
                            "properties": {
                                "name": {"title": "Name", "type": "string"},
                                "age": {
                                    "title": "Age",
                                    "type": "integer",
                                    "description": "Constraints: minimum=0",
                                },
                            },
                            "required": ["name", "age"],
                            "title": "Pet",
                            "type": "object",
                            "additionalProperties": False,
                        }
                    },
                    "properties": {
                        "pets": {
                            "items": {"$ref": "#/$defs/Pet"},
                            "title": "Pets",
                            "type": "array",
                        }
                    },
                    "required": ["pets"],
                    "title": "Owner",
                    "type": "object",
                    "additionalProperties": False,
                },
            }
        }
    }


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {"type": "object", "properties": {"o": {"type": "object", "properties": {}}}},
            {
                "type": "object",
                "properties": {
                    "o": {"type": "object", "properties": {}, "additionalProperties": False}
                },
                "additionalProperties": False,
            },
        ),
        # An explicit additionalProperties is the caller's decision.
        (
            {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
            {
                "type": "object",
                "additionalProperties": {
                    "type": "string",
                    "description": "Constraints: maxLength=3",
                },
            },
        ),
        ({"type": ["object", "null"]}, {"type": ["object", "null"], "additionalProperties": False}),
        ({"properties": {}}, {"properties": {}, "additionalProperties": False}),
        (
            {"oneOf": [{"type": "object"}, {"type": "string", "format": "email"}]},
            {
                "anyOf": [
                    {"type": "object", "additionalProperties": False},
                    {"type": "string", "format": "email"},
                ]
            },
        ),
        (
            {"anyOf": [{"type": "object"}], "oneOf": [{"type": "object"}]},
            {
                "anyOf": [{"type": "object", "additionalProperties": False}],
                "oneOf": [{"type": "object", "additionalProperties": False}],
            },
        ),
        (
            {"type": "array", "items": [{"type": "object"}], "minItems": 1, "maxItems": 4},
            {
                "type": "array",
                "items": [{"type": "object", "additionalProperties": False}],
                "minItems": 1,
                "description": "Constraints: maxItems=4",
            },
        ),
        (
            {
                "type": "number",
                "description": "A ratio",
                "minimum": 0,
                "exclusiveMaximum": 1.5,
                "multipleOf": 0.5,
            },
            {
                "type": "number",
                "description": "A ratio\n\nConstraints: minimum=0, exclusiveMaximum=1.5, "
                "multipleOf=0.5",
            },
        ),
        (
            {"type": "string", "format": "binary", "minLength": 2, "pattern": "^a+$"},
            {
                "type": "string",
                "pattern": "^a+$",
                "description": 'Constraints: format="binary", minLength=2',
            },
        ),
        (
            {"type": "array", "items": {"type": "integer"}, "minItems": 2, "uniqueItems": True},
            {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Constraints: minItems=2, uniqueItems=true",
            },
        ),
        (
            {"allOf": [{"$ref": "#/definitions/A"}], "definitions": {"A": {"type": "object"}}},
            {
                "allOf": [{"$ref": "#/definitions/A"}],
                "definitions": {"A": {"type": "object", "additionalProperties": False}},
            },
        ),
        ({"enum": ["a", "b"], "const": "a"}, {"enum": ["a", "b"], "const": "a"}),
    ],
)
def test_strict_schema(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    before = json.dumps(schema)
    assert strict_schema(schema) == expected
    assert json.dumps(schema) == before  # the caller's schema is not modified


# --- parse_completion -----------------------------------------------------------------------

TEXT_MESSAGE = b"""{
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-20250514",
  "content": [
    {"type": "text", "text": "Hello! How can I help you today?"}
  ],
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "usage": {
    "input_tokens": 12,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 12,
    "service_tier": "standard"
  }
}"""

TOOL_MESSAGE = b"""{
  "id": "msg_01JHKqEmh7wYuPXqUWUvusfL",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-20250514",
  "content": [
    {"type": "text", "text": "I'll read that file."},
    {"type": "tool_use", "id": "toolu_01AusGgY5aKFhzWrFBv9JfHq", "name": "Read",
     "input": {"file_path": "/tmp/blah/foo"}}
  ],
  "stop_reason": "tool_use",
  "stop_sequence": null,
  "usage": {"input_tokens": 5, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 23490, "output_tokens": 84, "service_tier": "standard"}
}"""


def completion(
    message: dict[str, Any],
    finish: str,
    usage: dict[str, Any] | None,
    *,
    id: str = "msg_01XFDUDYJgAACzvnptvVoYEL",
    model: str = MODEL,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": id,
        "object": "chat.completion",
        "created": NOW,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage
    return out


def parse(body: bytes, status: int = 200, **headers: str) -> ModelResponse:
    return PROVIDER.parse_completion(status, headers, body, req=make(), now=NOW)


def assert_attr_dicts(value: Any) -> None:
    if isinstance(value, dict):
        assert isinstance(value, AttrDict), value
        for item in value.values():
            assert_attr_dicts(item)
    elif isinstance(value, list):
        for item in value:
            assert_attr_dicts(item)


def test_parse_text_message_of_wire_formats_4_3() -> None:
    result = parse(TEXT_MESSAGE)
    assert type(result) is ModelResponse
    assert result == completion(
        {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": None},
        "stop",
        {
            "prompt_tokens": 12,
            "completion_tokens": 12,
            "total_tokens": 24,
            "prompt_tokens_details": {"cached_tokens": 0},
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    )
    assert_attr_dicts(result)
    assert result.choices[0].message.content == "Hello! How can I help you today?"
    assert result.usage.prompt_tokens_details.cached_tokens == 0


def test_parse_tool_use_message_of_wire_formats_4_3() -> None:
    result = parse(TOOL_MESSAGE)
    call = {
        "id": "toolu_01AusGgY5aKFhzWrFBv9JfHq",
        "type": "function",
        "function": {"name": "Read", "arguments": '{"file_path":"/tmp/blah/foo"}'},
    }
    assert result == completion(
        {
            "role": "assistant",
            "content": "I'll read that file.",
            "tool_calls": [call],
            "refusal": None,
        },
        "tool_calls",
        {
            "prompt_tokens": 5 + 23490,
            "completion_tokens": 84,
            "total_tokens": 5 + 23490 + 84,
            "prompt_tokens_details": {"cached_tokens": 23490},
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 23490,
        },
        id="msg_01JHKqEmh7wYuPXqUWUvusfL",
    )
    assert_attr_dicts(result)
    assert result.choices[0].message.tool_calls[0].function.name == "Read"


def message(content: list[Any], **fields: Any) -> bytes:
    obj = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-1-20250805",
        "content": content,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }
    obj.update(fields)
    return json.dumps(obj).encode()


def test_parse_thinking_and_tool_only_message() -> None:
    content = [
        THINKING,
        {"type": "thinking", "thinking": " More.", "signature": "Sig2"},
        REDACTED,
        {"type": "tool_use", "id": "toolu_a", "name": "now", "input": {}},
        {"type": "tool_use", "id": "toolu_b", "name": "add", "input": {"a": 1, "b": "é"}},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
    ]
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 7,
        "output_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 15},
    }
    result = parse(message(content, stop_reason="tool_use", usage=usage))
    msg = result.choices[0].message
    assert list(msg) == [
        "role",
        "content",
        "tool_calls",
        "reasoning_content",
        "thinking_blocks",
        "refusal",
    ]
    assert msg == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "toolu_a", "type": "function", "function": {"name": "now", "arguments": "{}"}},
            {
                "id": "toolu_b",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a":1,"b":"é"}'},
            },
        ],
        "reasoning_content": "Let me think. More.",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"},
            {"type": "thinking", "thinking": " More.", "signature": "Sig2"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        ],
        "refusal": None,
    }
    assert result.usage == {
        "prompt_tokens": 17,
        "completion_tokens": 20,
        "total_tokens": 37,
        "completion_tokens_details": {"reasoning_tokens": 15},
        "cache_creation_input_tokens": 7,
    }
    assert result.model == "claude-opus-4-1-20250805"
    assert_attr_dicts(result)


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons(stop_reason: str | None, finish: str) -> None:
    text = [{"type": "text", "text": "x"}]
    assert parse(message(text, stop_reason=stop_reason)).choices[0].finish_reason == finish


def test_empty_content_and_missing_fields() -> None:
    result = parse(b'{"type":"message","content":[]}')
    assert result == completion(
        {"role": "assistant", "content": "", "refusal": None}, "stop", None, id="", model=MODEL
    )


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (b"", "response with an empty body (text/html)"),
        (b"<html>oops</html>", "response with a body that is not JSON (text/html)"),
        (b"[1, 2]", "response is not a Messages API message"),
        (b'{"id": "msg_1"}', "response is not a Messages API message"),
        (b'{"type": "message", "content": "text"}', "response is not a Messages API message"),
        (b'{"type": "message", "content": ["text"]}', "response is not a Messages API message"),
        (b'{"type": "completion", "content": []}', "response is not a Messages API message"),
        (b'{"choices": []}', "response is not a Messages API message"),
    ],
)
def test_invalid_bodies(raw: bytes, what: str) -> None:
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        PROVIDER.parse_completion(
            200, {"content-type": "text/html", "request-id": "req_1"}, raw, req=make(), now=NOW
        )
    assert info.value.message.startswith(what)
    assert info.value.status_code == 200
    assert info.value.provider == "anthropic"
    assert info.value.request_id == "req_1"


@pytest.mark.parametrize(
    ("raw", "cls", "status"),
    [
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            ritellm.ServiceUnavailableError,
            529,
        ),
        (
            b'{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}',
            ritellm.RateLimitError,
            429,
        ),
        (
            b'{"error":{"message":"Slow down","type":"server_error"}}',
            ritellm.InternalServerError,
            500,
        ),
    ],
)
def test_error_body_with_2xx_status_is_its_http_twin(
    raw: bytes, cls: type[ritellm.APIError], status: int
) -> None:
    with pytest.raises(ritellm.APIError) as info:
        parse(raw)
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.provider == "anthropic"


# --- parse_error ----------------------------------------------------------------------------


def fields(info: ErrorInfo) -> tuple[Any, ...]:
    return (info.message, info.type, info.code, info.param, info.body, info.kind)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"type": "error", "error": {"type": "not_found_error", '
            b'"message": "model: claude-9"}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}',
            (
                "model: claude-9",
                "not_found_error",
                None,
                None,
                {"type": "not_found_error", "message": "model: claude-9"},
                None,
            ),
        ),
        (
            b'{"type":"error","error":{"type":"authentication_error",'
            b'"message":"invalid x-api-key"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}',
            (
                "invalid x-api-key",
                "authentication_error",
                None,
                None,
                {"type": "authentication_error", "message": "invalid x-api-key"},
                None,
            ),
        ),
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},'
            b'"request_id":"req_018EeWyXxfu5pfWkrYcMdjWG"}',
            (
                "Overloaded",
                "overloaded_error",
                None,
                None,
                {"type": "overloaded_error", "message": "Overloaded"},
                None,
            ),
        ),
        (
            b'{"type":"error","error":{"type":"api_error"}}',
            (None, "api_error", None, None, {"type": "api_error"}, None),
        ),
        # Other shapes: the OpenAI-compatible parser.
        (
            b'{"error":{"message":"bad","type":"invalid_request_error","code":"x","param":"p"}}',
            (
                "bad",
                "invalid_request_error",
                "x",
                "p",
                {"message": "bad", "type": "invalid_request_error", "code": "x", "param": "p"},
                None,
            ),
        ),
        (
            b"upstream connect error",
            ("upstream connect error", None, None, None, "upstream connect error", None),
        ),
        (b"", (None, None, None, None, "", None)),
        (
            b'{"type":"error","error":"text"}',
            ("text", None, None, None, {"type": "error", "error": "text"}, None),
        ),
    ],
)
def test_parse_error(raw: bytes, expected: tuple[Any, ...]) -> None:
    assert fields(PROVIDER.parse_error(400, {}, raw)) == expected


@pytest.mark.parametrize(
    ("status", "raw", "twin"),
    [
        (200, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', 529),
        (200, b'{"type":"error","error":{"type":"rate_limit_error","message":"x"}}', 429),
        (200, b'{"error":{"message":"x","type":"server_error"}}', 500),
        (529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', None),
    ],
)
def test_parse_error_names_the_twin_of_an_error_in_a_2xx(
    status: int, raw: bytes, twin: int | None
) -> None:
    # An error status speaks for itself; a 2xx error body needs the status it stands for.
    assert PROVIDER.parse_error(status, {}, raw).status == twin


def error_body(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "raw", "cls"),
    [
        (
            400,
            error_body("invalid_request_error", "max_tokens: Field required"),
            ritellm.BadRequestError,
        ),
        (
            400,
            error_body(
                "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum"
            ),
            ritellm.ContextWindowExceededError,
        ),
        (401, error_body("authentication_error", "invalid x-api-key"), ritellm.AuthenticationError),
        (402, error_body("billing_error", "Your credit balance is too low"), ritellm.APIError),
        (403, error_body("permission_error", "no"), ritellm.PermissionDeniedError),
        (404, error_body("not_found_error", "model: claude-9"), ritellm.NotFoundError),
        (
            413,
            error_body("request_too_large", "Request exceeds the maximum size"),
            ritellm.BadRequestError,
        ),
        (
            429,
            error_body("rate_limit_error", "Number of requests has exceeded"),
            ritellm.RateLimitError,
        ),
        (500, error_body("api_error", "Internal server error"), ritellm.InternalServerError),
        (504, error_body("timeout_error", "Request timeout"), ritellm.InternalServerError),
        (529, error_body("overloaded_error", "Overloaded"), ritellm.ServiceUnavailableError),
    ],
)
def test_error_classes(status: int, raw: bytes, cls: type[ritellm.APIError]) -> None:
    info = PROVIDER.parse_error(status, {}, raw)
    err = error_from_response(status, {"request-id": "req_7"}, raw, info=info, provider="anthropic")
    assert type(err) is cls
    assert err.message == json.loads(raw)["error"]["message"]
    assert err.type == json.loads(raw)["error"]["type"]
    assert err.request_id == "req_7"
