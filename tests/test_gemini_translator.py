"""Tests for the Gemini translator's request side, completion parsing and error parsing
(ritellm._providers.gemini), on the wire-formats §5 examples."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
import pytest

import ritellm
from ritellm._error_map import error_from_response
from ritellm._providers import PROVIDERS, get_provider, resolve
from ritellm._providers._common import call_id
from ritellm._providers.gemini import GeminiProvider
from ritellm._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    HttpRequest,
    Media,
    ModelResponse,
)
from ritellm._version import __version__

GEMINI = PROVIDERS["gemini"]
PROVIDER = GeminiProvider(GEMINI)
DEFAULT = "https://generativelanguage.googleapis.com"
KEY = "AIza-CANARY-0123456789abcdef"
CREDS = Credentials(base_url=DEFAULT, api_key=KEY)
UA = f"ritellm/{__version__}".encode()
HI: list[Mapping[str, Any]] = [{"role": "user", "content": "Hi"}]
HI_CONTENTS = [{"role": "user", "parts": [{"text": "Hi"}]}]
NOW = 1_750_000_000


def req(
    messages: Sequence[Mapping[str, Any]] | None = None,
    *,
    model: str = "gemini-2.5-flash",
    stream: bool = False,
    drop: bool = False,
    **params: Any,
) -> CompletionRequest:
    return CompletionRequest(
        model=model,
        messages=list(HI if messages is None else messages),
        params=params,
        stream=stream,
        drop_params=drop,
    )


def with_params(params: dict[str, Any], *, drop: bool = False) -> CompletionRequest:
    return CompletionRequest(model="gemini-2.5-flash", messages=HI, params=params, drop_params=drop)


def build(
    request: CompletionRequest,
    creds: Credentials = CREDS,
    media: dict[str, Media] | None = None,
) -> HttpRequest:
    return PROVIDER.build_request(request, creds, media or {})


def assert_body(
    request: CompletionRequest, expected: dict[str, Any], media: dict[str, Media] | None = None
) -> None:
    body = build(request, media=media).body
    assert json.loads(body) == expected  # (the readable diff)
    assert body == exact(expected)  # the exact bytes: compact, UTF-8, keys in this order


def exact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# --- registry and credentials ---------------------------------------------------------------


def test_registry_resolves_gemini_models() -> None:
    assert resolve("gemini/gemini-2.5-flash") == (GEMINI, "gemini-2.5-flash")
    assert resolve("gemini-2.0-flash") == (GEMINI, "gemini-2.0-flash")
    assert resolve("gemini/models/gemini-2.5-pro") == (GEMINI, "models/gemini-2.5-pro")
    provider = get_provider(GEMINI)
    assert isinstance(provider, GeminiProvider)
    assert provider.spec is GEMINI
    assert provider.credential_params == ()


def creds(
    *, api_key: str | None = None, base_url: str | None = None, **environ: str
) -> Credentials:
    return PROVIDER.credentials(api_key=api_key, base_url=base_url, options={}, environ=environ)


@pytest.mark.parametrize(
    ("kwargs", "environ", "key", "base"),
    [
        ({}, {"GEMINI_API_KEY": "g"}, "g", DEFAULT),
        ({}, {"GOOGLE_API_KEY": "o"}, "o", DEFAULT),
        ({}, {"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": "o"}, "g", DEFAULT),
        ({"api_key": "a"}, {"GEMINI_API_KEY": "g"}, "a", DEFAULT),
        ({}, {"GEMINI_API_BASE": "http://proxy:1/"}, None, "http://proxy:1"),
        ({"base_url": "http://arg:2"}, {"GEMINI_API_BASE": "http://env:1"}, None, "http://arg:2"),
    ],
)
def test_credentials_order(
    kwargs: dict[str, str], environ: dict[str, str], key: str | None, base: str
) -> None:
    c = creds(**kwargs, **environ)
    assert (c.api_key, c.base_url) == (key, base)


def test_default_base_without_key_is_an_authentication_error() -> None:
    with pytest.raises(ritellm.AuthenticationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        creds()


# --- URL and headers ------------------------------------------------------------------------


def test_golden_request_non_stream() -> None:
    http = build(req(temperature=0.2))
    assert http.method == b"POST"
    assert http.url == f"{DEFAULT}/v1beta/models/gemini-2.5-flash:generateContent"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/json"),
        (b"User-Agent", UA),
        (b"x-goog-api-key", KEY.encode()),
    ]
    assert http.body == (
        b'{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],'
        b'"generationConfig":{"temperature":0.2}}'
    )


def test_golden_request_stream() -> None:
    http = build(req(stream=True, stream_options={"include_usage": True}))
    assert http.url == f"{DEFAULT}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"text/event-stream"),
        (b"User-Agent", UA),
        (b"x-goog-api-key", KEY.encode()),
    ]
    # stream_options is read by the decoder, never sent; nor is a "stream" field.
    assert http.body == b'{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}'


def test_key_only_in_its_header_and_static_headers_follow() -> None:
    c = Credentials(base_url="http://proxy:8", api_key=KEY, headers=((b"X-Team", b"a"),))
    http = build(req(), c)
    assert KEY not in http.url
    assert KEY.encode() not in http.body
    assert http.headers[-2:] == [(b"x-goog-api-key", KEY.encode()), (b"X-Team", b"a")]


@pytest.mark.parametrize("key", [None, ""])
def test_no_key_no_key_header(key: str | None) -> None:
    http = build(req(), Credentials(base_url="http://127.0.0.1:9", api_key=key))
    assert http.url == "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent"
    assert [name for name, _ in http.headers] == [b"Content-Type", b"Accept", b"User-Agent"]


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://proxy.example/v1beta/", "https://proxy.example/v1beta/models/m:generateContent"),
        ("https://proxy.example/v1", "https://proxy.example/v1/models/m:generateContent"),
        ("https://proxy.example/v1alpha", "https://proxy.example/v1alpha/models/m:generateContent"),
        (
            "https://proxy.example/gemini",
            "https://proxy.example/gemini/v1beta/models/m:generateContent",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1beta/models/m:generateContent"),
    ],
)
def test_base_url_may_name_the_api_version(base: str, url: str) -> None:
    assert build(req(model="m"), creds(api_key="k", base_url=base)).url == url


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash-001"),
        ("my model/x?y#z", "my%20model%2Fx%3Fy%23z"),
    ],
)
def test_model_id_is_stripped_and_quoted(model: str, path: str) -> None:
    url = build(req(model=model)).url
    assert url == f"{DEFAULT}/v1beta/models/{path}:generateContent"


def test_empty_model_id_after_prefix_is_a_parameter_error() -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        build(req(model="models/"))
    assert str(info.value) == "Gemini model 'models/' has no id after 'models/'"


# --- messages -------------------------------------------------------------------------------

WEATHER_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def test_wire_formats_5_2_conversation() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    ]
    assert_body(
        req(messages),
        {
            "systemInstruction": {"parts": [{"text": "You are terse."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "What is the weather in Paris?"}]},
                {
                    "role": "model",
                    "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
                },
                {
                    "role": "user",
                    "parts": [
                        {
                            "functionResponse": {
                                "name": "get_weather",
                                "response": {"result": "18C, sunny"},
                            }
                        }
                    ],
                },
            ],
        },
    )


def test_every_message_part_kind() -> None:
    signed = {**WEATHER_CALL, "provider_specific_fields": {"thought_signature": "c2ln"}}
    second = {
        "id": "call_2",
        "type": "function",
        "function": {"name": "get_time", "arguments": ""},
    }
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Look:"}, {"type": "text", "text": ""}],
        },
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                {"type": "image_url", "image_url": {"url": "https://img.example/a.jpg"}},
            ],
        },
        {"role": "system", "content": [{"type": "text", "text": "Use tools."}]},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [signed, second],
            "reasoning_content": "not sent back",
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18, "sky": "sunny"}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "[1, 2]"},
        {
            "role": "assistant",
            "content": "",
            "thinking_blocks": [{"type": "thinking", "thinking": "x", "signature": "s"}],
        },
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": [
                {"type": "text", "text": "see chart"},
                {"type": "image_url", "image_url": {"url": "https://img.example/chart.png"}},
            ],
        },
        {"role": "assistant", "content": "Done."},
    ]
    media = {
        "https://img.example/a.jpg": Media(mime_type="image/jpeg", data="/9j/"),
        "https://img.example/chart.png": Media(mime_type="image/png", data="iVBO"),
    }
    assert PROVIDER.media_urls(req(messages)) == (
        "https://img.example/a.jpg",
        "https://img.example/chart.png",
    )
    assert_body(
        req(messages),
        media=media,
        expected={
            "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Use tools."}]},
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "Look:"},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
                        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}},
                    ],
                },
                {
                    "role": "model",
                    "parts": [
                        {"text": "Checking."},
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "c2ln",
                        },
                        {"functionCall": {"name": "get_time", "args": {}}},
                    ],
                },
                {
                    # The thinking-only assistant turn has nothing for Gemini: the tool results
                    # around it become one user turn.
                    "role": "user",
                    "parts": [
                        {
                            "functionResponse": {
                                "name": "get_weather",
                                "response": {"temp": 18, "sky": "sunny"},
                            }
                        },
                        {
                            "functionResponse": {
                                "name": "get_time",
                                "response": {"result": "[1, 2]"},
                            }
                        },
                        {
                            "functionResponse": {
                                "name": "get_time",
                                "response": {"result": "see chart"},
                            }
                        },
                        {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                    ],
                },
                {"role": "model", "parts": [{"text": "Done."}]},
            ],
        },
    )


def test_media_urls_in_order_each_once() -> None:
    def image(url: str) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": url}}

    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [image("https://b.example/1"), image("http://a.example/2")]},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [image("https://b.example/1"), image("data:image/gif;base64,R0")],
        },
    ]
    assert PROVIDER.media_urls(req(messages)) == ("https://b.example/1", "http://a.example/2")
    assert PROVIDER.media_urls(req([{"role": "user", "content": "no images"}])) == ()


def test_unfetched_image_url_is_a_parameter_error() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "image_url", "image_url": "https://x.example/i.png"}]}
    ]
    with pytest.raises(ritellm.ParameterError) as info:
        build(req(messages))
    assert str(info.value) == (
        "image URL 'https://x.example/i.png' was not fetched: Gemini takes images inline, so "
        "every URL media_urls() returns must be in media"
    )


@pytest.mark.parametrize(
    ("messages", "error", "message"),
    [
        (
            [{"role": "system", "content": "only this"}],
            ritellm.ParameterError,
            "messages has no user or assistant content: Gemini needs at least one message "
            "besides system instructions",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "nope"}}],
                }
            ],
            ritellm.ParameterError,
            "messages[0].tool_calls[0].function.arguments is not valid JSON: 'nope'",
        ),
        (
            [{"role": "user", "content": 5}],
            ritellm.ParameterTypeError,
            "messages[0].content must be a string or a list of content parts, not int",
        ),
    ],
)
def test_bad_messages(messages: list[dict[str, Any]], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        build(req(messages))
    assert str(info.value) == message


# --- parameters -----------------------------------------------------------------------------


class Answer(pydantic.BaseModel):
    answer: str


ANSWER_SCHEMA = {
    "properties": {"answer": {"title": "Answer", "type": "string"}},
    "required": ["answer"],
    "title": "Answer",
    "type": "object",
}
CITY_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.mark.parametrize(
    ("params", "config"),
    [
        ({"temperature": 0.2}, {"temperature": 0.2}),
        ({"top_p": 0.95, "top_k": 40}, {"topP": 0.95, "topK": 40}),
        ({"max_tokens": 1024}, {"maxOutputTokens": 1024}),
        ({"max_completion_tokens": 7, "max_tokens": 9}, {"maxOutputTokens": 7}),
        ({"stop": "\n\nUser:"}, {"stopSequences": ["\n\nUser:"]}),
        ({"stop": ["a", "b"]}, {"stopSequences": ["a", "b"]}),
        ({"stop": []}, {}),
        ({"n": 2}, {"candidateCount": 2}),
        ({"seed": 7}, {"seed": 7}),
        (
            {"presence_penalty": 0.5, "frequency_penalty": -0.5},
            {"presencePenalty": 0.5, "frequencyPenalty": -0.5},
        ),
        ({"logprobs": True, "top_logprobs": 3}, {"responseLogprobs": True, "logprobs": 3}),
        ({"response_format": {"type": "text"}}, {}),
        ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "c", "schema": CITY_SCHEMA},
                }
            },
            {"responseMimeType": "application/json", "responseJsonSchema": CITY_SCHEMA},
        ),
        (
            {"response_format": Answer},
            {"responseMimeType": "application/json", "responseJsonSchema": ANSWER_SCHEMA},
        ),
        ({"temperature": None, "top_p": None, "seed": None}, {}),
        (
            # Every field at once, in the body's order (Google's documented order).
            {
                "seed": 1,
                "stop": "x",
                "max_tokens": 5,
                "top_k": 3,
                "top_p": 0.5,
                "temperature": 0,
                "n": 1,
                "response_format": {"type": "json_object"},
            },
            {
                "temperature": 0,
                "topP": 0.5,
                "topK": 3,
                "maxOutputTokens": 5,
                "stopSequences": ["x"],
                "candidateCount": 1,
                "seed": 1,
                "responseMimeType": "application/json",
            },
        ),
    ],
)
def test_generation_config(params: dict[str, Any], config: dict[str, Any]) -> None:
    expected: dict[str, Any] = {"contents": HI_CONTENTS}
    if config:
        expected["generationConfig"] = config
    assert_body(req(**params), expected)


# Budgets: REASONING_BUDGETS for Gemini 1.x/2.x; thinkingLevel for later models.
@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0, "includeThoughts": True}),
        ("gemini-2.5-flash", "minimal", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-pro", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        (
            "gemini-2.0-flash-thinking-exp",
            "medium",
            {"thinkingBudget": 2048, "includeThoughts": True},
        ),
        ("gemini-1.5-pro", "high", {"thinkingBudget": 4096, "includeThoughts": True}),
        ("models/gemini-2.5-flash", "xhigh", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-3-pro-preview", "none", {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
        ("gemini-3-flash", "minimal", {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
        ("gemini-3-pro-preview", "low", {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3-flash", "medium", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-3.5-pro", "xhigh", {"thinkingLevel": "HIGH", "includeThoughts": True}),
    ],
)
def test_reasoning_effort(model: str, effort: str, thinking: dict[str, Any]) -> None:
    expected = {"contents": HI_CONTENTS, "generationConfig": {"thinkingConfig": thinking}}
    assert_body(req(model=model, reasoning_effort=effort), expected)


@pytest.mark.parametrize(
    ("thinking", "config"),
    [
        (
            {"type": "enabled", "budget_tokens": 3000},
            {"thinkingBudget": 3000, "includeThoughts": True},
        ),
        ({"type": "disabled"}, {"thinkingBudget": 0}),
    ],
)
def test_anthropic_style_thinking_maps_to_the_thinking_config(
    thinking: dict[str, Any], config: dict[str, Any]
) -> None:
    # LiteLLM users pass Anthropic's `thinking` to every model; it wins over reasoning_effort.
    expected = {"contents": HI_CONTENTS, "generationConfig": {"thinkingConfig": config}}
    assert_body(req(thinking=thinking, reasoning_effort="high"), expected)


@pytest.mark.parametrize("thinking", [{"type": "adaptive"}, {"type": "enabled"}, "on"])
def test_other_thinking_values_are_a_parameter_error(thinking: Any) -> None:
    with pytest.raises(ritellm.ParameterError, match="thinking must be"):
        build(req(thinking=thinking))


def test_native_generation_config_wins_over_mapped_fields() -> None:
    assert_body(
        req(
            temperature=0.1,
            max_tokens=10,
            reasoning_effort="low",
            generationConfig={
                "temperature": 0.9,
                "thinkingConfig": {"thinkingBudget": -1},
                "responseModalities": ["TEXT"],
            },
        ),
        {
            "contents": HI_CONTENTS,
            "generationConfig": {
                "temperature": 0.9,
                "maxOutputTokens": 10,
                "thinkingConfig": {"thinkingBudget": -1},
                "responseModalities": ["TEXT"],
            },
        },
    )


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": CITY_SCHEMA,
        "strict": True,
    },
}
WEATHER_DECLARATION = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parametersJsonSchema": CITY_SCHEMA,
}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"tools": [WEATHER_TOOL]}, {"tools": [{"functionDeclarations": [WEATHER_DECLARATION]}]}),
        (
            {"tools": [WEATHER_TOOL, {"function": {"name": "now"}}]},
            {
                "tools": [
                    {
                        "functionDeclarations": [
                            WEATHER_DECLARATION,
                            {
                                "name": "now",
                                "parametersJsonSchema": {"type": "object", "properties": {}},
                            },
                        ]
                    }
                ]
            },
        ),
        (
            # Gemini's own tools pass through, after the function declarations.
            {"tools": [{"googleSearch": {}}, WEATHER_TOOL, {"codeExecution": {}}]},
            {
                "tools": [
                    {"functionDeclarations": [WEATHER_DECLARATION]},
                    {"googleSearch": {}},
                    {"codeExecution": {}},
                ]
            },
        ),
        ({"tools": []}, {}),
        ({"tool_choice": "auto"}, {"toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}}),
        ({"tool_choice": "none"}, {"toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}),
        ({"tool_choice": "required"}, {"toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {
                "toolConfig": {
                    "functionCallingConfig": {
                        "mode": "ANY",
                        "allowedFunctionNames": ["get_weather"],
                    }
                }
            },
        ),
        ({"parallel_tool_calls": True}, {}),
        (
            {"tool_choice": "auto", "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}}},
            {"toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}}},
        ),
    ],
)
def test_tools_and_tool_choice(params: dict[str, Any], fields: dict[str, Any]) -> None:
    assert_body(req(**params), {"contents": HI_CONTENTS, **fields})


def test_native_fields_pass_through_in_order() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    http = build(
        req(
            cachedContent="cachedContents/abc",
            safety_settings=safety,
            labels={"team": "a"},
            temperature=1,
            serviceTier=None,
        )
    )
    assert http.body == exact(
        {
            "contents": HI_CONTENTS,
            "generationConfig": {"temperature": 1},
            "safetySettings": safety,
            "cachedContent": "cachedContents/abc",
            "labels": {"team": "a"},
            "serviceTier": None,
        }
    )


def test_native_safety_settings_win_over_litellm_name() -> None:
    assert_body(
        req(safety_settings=[1], safetySettings=[2]),
        {"contents": HI_CONTENTS, "safetySettings": [2]},
    )


UNSUPPORTED = [
    ("user", "u-1"),
    ("logit_bias", {"50256": -100}),
    ("store", True),
    ("modalities", ["text"]),
    ("audio", {"voice": "alloy"}),
    ("prediction", {"type": "content", "content": "x"}),
    ("service_tier", "auto"),
    ("web_search_options", {}),
    ("verbosity", "low"),
    ("prompt_cache_key", "k"),
    ("safety_identifier", "s"),
    ("functions", [{"name": "f"}]),
    ("function_call", "auto"),
    ("metadata", {"a": "b"}),
    ("parallel_tool_calls", False),
]


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_unsupported_parameters(name: str, value: Any) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        build(with_params({name: value}))
    assert str(info.value) == (
        f"gemini does not support the parameter {name!r}: remove it, or pass drop_params=True "
        "to drop parameters a provider cannot honour"
    )
    # drop_params drops it (it is not passed through either); None counts as not given.
    assert build(with_params({name: value}, drop=True)).body == exact({"contents": HI_CONTENTS})
    if value is not False:
        assert build(with_params({name: None})).body == exact({"contents": HI_CONTENTS})


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"stop": 5}, ritellm.ParameterTypeError, "stop must be a string or a list of strings"),
        ({"max_tokens": 0}, ritellm.ParameterError, "max_tokens must be >= 1, got 0"),
        (
            {"tool_choice": "sometimes"},
            ritellm.ParameterError,
            "tool_choice must be 'auto', 'none', 'required' or "
            "{'type': 'function', 'function': {'name': ...}}",
        ),
        (
            {"tools": {"type": "function"}},
            ritellm.ParameterTypeError,
            "tools must be a list of {'type': 'function', ...} dicts",
        ),
        (
            # A native tool before it: the error still names the right index.
            {"tools": [{"googleSearch": {}}, {"type": "function", "function": {}}]},
            ritellm.ParameterError,
            "tools[1] must be {'type': 'function', 'function': {'name'...",
        ),
        (
            {"tools": [{"googleSearch": {}}, {"type": "retrieval"}]},
            ritellm.ParameterError,
            "tools[1] has type 'retrieval'; only 'function'",
        ),
        (
            {"response_format": {"type": "xml"}},
            ritellm.ParameterError,
            "response_format has unknown type 'xml'",
        ),
        (
            {"reasoning_effort": "max"},
            ritellm.ParameterError,
            "reasoning_effort must be one of 'none', 'minimal', 'low', 'medium', 'high', "
            "'xhigh', got 'max'",
        ),
        (
            {"generationConfig": [1]},
            ritellm.ParameterTypeError,
            "generationConfig must be a dict (Gemini's GenerationConfig)",
        ),
        (
            {"stream_options": True},
            ritellm.ParameterTypeError,
            "stream_options must be a dict like {'include_usage': True}",
        ),
    ],
)
def test_bad_parameters(params: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        build(req(**params))
    assert type(info.value) is error
    assert str(info.value) == message


def test_non_ascii_is_sent_as_utf8() -> None:
    body = build(req([{"role": "user", "content": "héllo ☃ 日本"}])).body
    assert "héllo ☃ 日本".encode() in body
    assert b"\\u" not in body


# --- parse_completion (wire-formats §5.3) ---------------------------------------------------

TEXT_BODY = (
    '{"candidates": [{"content": {"parts": [{"text": "Paris is 18°C and sunny."}],'
    '"role": "model"},"finishReason": "STOP","index": 0}],'
    '"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 9,"totalTokenCount": 17,'
    '"promptTokensDetails": [{"modality": "TEXT","tokenCount": 8}]},'
    '"modelVersion": "gemini-2.0-flash","responseId": "AdVRaMmDCYekqtsPrb_-iAw"}'
).encode()
CALL_BODY = (
    b'{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": '
    b'"get_weather", "args": {"city": "Paris"}}}]},"finishReason": "STOP","index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 6, "totalTokenCount": 46},'
    b'"modelVersion": "gemini-2.0-flash"}'
)
BLOCK_BODY = (
    b'{"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [{"category": '
    b'"HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},'
    b'"usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},'
    b'"modelVersion": "gemini-2.0-flash", "responseId": "blocked-1"}'
)


def parse(body: bytes, *, model: str = "gemini-2.0-flash", status: int = 200) -> ModelResponse:
    return PROVIDER.parse_completion(status, {}, body, req=req(model=model), now=NOW)


def message(content: str | None = "", **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **extra, "refusal": None}


def response(
    choices: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    *,
    id: str = "AdVRaMmDCYekqtsPrb_-iAw",
    model: str = "gemini-2.0-flash",
) -> dict[str, Any]:
    out = {
        "id": id,
        "object": "chat.completion",
        "created": NOW,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
    }
    if usage is not None:
        out["usage"] = usage
    return out


def choice(msg: dict[str, Any], finish: str | None = "stop", index: int = 0) -> dict[str, Any]:
    return {"index": index, "message": msg, "logprobs": None, "finish_reason": finish}


def test_parse_text_response() -> None:
    r = parse(TEXT_BODY)
    assert type(r) is ModelResponse
    assert r == response(
        [choice(message("Paris is 18°C and sunny."))],
        {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17},
    )
    assert list(r.choices[0].message) == ["role", "content", "refusal"]
    assert r.choices[0].message.content == "Paris is 18°C and sunny."
    assert r.usage.total_tokens == 17


def test_parse_function_call_response() -> None:
    rid = "chatcmpl-" + hashlib.sha256(CALL_BODY).hexdigest()[:29]  # no responseId sent
    r = parse(CALL_BODY)
    call = {
        "id": call_id(rid, 0, 0, "get_weather"),
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert r == response(
        [choice(message(None, tool_calls=[call]), "tool_calls")],
        {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46},
        id=rid,
    )
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert isinstance(r.choices[0].message.tool_calls[0].function, AttrDict)
    assert parse(CALL_BODY) == r  # the derived ids are deterministic


def test_parse_thinking_parallel_calls_and_ids() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "**Planning** the calls", "thought": True},
                        {"text": "Checking both."},
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "CiQB0e2Kb",
                        },
                        {
                            "functionCall": {
                                "id": "fc-2",
                                "name": "get_weather",
                                "args": {"city": "Rome"},
                            }
                        },
                        {"functionCall": {"name": "now"}},
                        {"executableCode": {"language": "PYTHON", "code": "1"}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "toolUsePromptTokenCount": 20,
            "cachedContentTokenCount": 64,
            "candidatesTokenCount": 30,
            "thoughtsTokenCount": 50,
            "totalTokenCount": 200,
        },
        "modelVersion": "models/gemini-2.5-pro",
        "responseId": "r-1",
    }
    r = parse(json.dumps(body).encode(), model="gemini-2.5-pro")
    calls = [
        {
            "id": call_id("r-1", 0, 0, "get_weather"),
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            "provider_specific_fields": {"thought_signature": "CiQB0e2Kb"},
        },
        {
            "id": "fc-2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
        },
        {
            "id": call_id("r-1", 0, 2, "now"),
            "type": "function",
            "function": {"name": "now", "arguments": "{}"},
        },
    ]
    assert r == response(
        [
            choice(
                message(
                    "Checking both.", tool_calls=calls, reasoning_content="**Planning** the calls"
                ),
                "tool_calls",
            )
        ],
        {
            "prompt_tokens": 120,
            "completion_tokens": 80,
            "total_tokens": 200,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 50},
        },
        id="r-1",
        model="gemini-2.5-pro",
    )
    assert list(r.choices[0].message) == [
        "role",
        "content",
        "tool_calls",
        "reasoning_content",
        "refusal",
    ]
    assert len({c["id"] for c in r.choices[0].message.tool_calls}) == 3


def test_parse_several_candidates_sorted_by_index() -> None:
    body = {
        "candidates": [
            {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
            {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0},
        ],
        "responseId": "r-2",
    }
    r = parse(json.dumps(body).encode(), model="models/gemini-2.5-flash")
    # No usageMetadata: no usage; no modelVersion: the requested model.
    assert r == response(
        [choice(message("A"), "stop", 0), choice(message("B"), "length", 1)],
        None,
        id="r-2",
        model="gemini-2.5-flash",
    )


def test_missing_candidate_index_is_its_position() -> None:
    # proto3 JSON omits a zero index; servers that omit every index are read by position.
    zero_omitted = {"candidates": [{"content": {"parts": [{"text": "A"}]}}, {"index": 1}]}
    none_given = {"candidates": [{"content": {"parts": [{"text": "A"}]}}, {}]}
    for body in (zero_omitted, none_given):
        r = parse(json.dumps(body).encode())
        assert [(c.index, c.message.content) for c in r.choices] == [(0, "A"), (1, "")]


@pytest.mark.parametrize(
    ("reason", "calls", "finish"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", False, "length"),
        ("MAX_TOKENS", True, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("LANGUAGE", False, "content_filter"),
        ("OTHER", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", True, "content_filter"),
        ("SPII", False, "content_filter"),
        ("IMAGE_SAFETY", False, "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", False, "content_filter"),
        ("IMAGE_RECITATION", False, "content_filter"),
        ("IMAGE_OTHER", False, "content_filter"),
        ("NO_IMAGE", False, "content_filter"),
        ("FINISH_REASON_UNSPECIFIED", False, "stop"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        ("UNEXPECTED_TOOL_CALL", True, "stop"),
        ("TOO_MANY_TOOL_CALLS", True, "stop"),
        ("SOMETHING_NEW", False, "stop"),
        (None, False, None),
    ],
)
def test_finish_reasons(reason: str | None, calls: bool, finish: str | None) -> None:
    parts: list[dict[str, Any]] = [{"functionCall": {"name": "f"}}] if calls else []
    cand: dict[str, Any] = {"content": {"parts": parts}}
    if reason is not None:
        cand["finishReason"] = reason
    r = parse(json.dumps({"candidates": [cand], "responseId": "r"}).encode())
    assert r.choices[0].finish_reason == finish


def test_cut_off_candidate_without_content() -> None:
    body = b'{"candidates": [{"finishReason": "SAFETY", "index": 0}], "responseId": "r"}'
    assert parse(body).choices == [choice(message(""), "content_filter")]


def test_logprobs_are_mapped() -> None:
    result: dict[str, Any] = {
        "topCandidates": [
            {
                "candidates": [
                    {"token": "Hi", "logProbability": -0.1},
                    {"token": "Yo", "logProbability": -2.5},
                ]
            },
            {"candidates": [{"token": "!"}]},
        ],
        "chosenCandidates": [
            {"token": "Hi", "logProbability": -0.1},
            {"token": "!"},
        ],
    }
    cand = {
        "content": {"parts": [{"text": "Hi!"}]},
        "finishReason": "STOP",
        "logprobsResult": result,
    }
    body = {"candidates": [cand], "responseId": "r"}
    r = parse(json.dumps(body).encode())
    assert r.choices[0].logprobs == {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.1,
                "bytes": [72, 105],
                "top_logprobs": [
                    {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                    {"token": "Yo", "logprob": -2.5, "bytes": [89, 111]},
                ],
            },
            {
                "token": "!",
                "logprob": 0.0,
                "bytes": [33],
                "top_logprobs": [{"token": "!", "logprob": 0.0, "bytes": [33]}],
            },
        ]
    }
    del result["topCandidates"]
    r = parse(json.dumps(body).encode())
    assert r.choices[0].logprobs.content[0].top_logprobs == []


def test_prompt_block_is_a_content_policy_error() -> None:
    with pytest.raises(ritellm.ContentPolicyViolationError) as info:
        parse(BLOCK_BODY)
    err = info.value
    assert err.message == "Gemini blocked the prompt (blockReason SAFETY)"
    assert err.status_code == 200
    assert err.code == "SAFETY"
    assert err.provider == "gemini"
    assert err.body == {
        "blockReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
    }
    detailed = (
        b'{"candidates": [], "promptFeedback": {"blockReason": "OTHER", '
        b'"blockReasonMessage": "nope"}}'
    )
    with pytest.raises(ritellm.ContentPolicyViolationError, match=r"\(blockReason OTHER\): nope$"):
        parse(detailed)


@pytest.mark.parametrize(
    ("body", "error", "status"),
    [
        (
            b'{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}',
            ritellm.ServiceUnavailableError,
            503,
        ),
        (
            b'[{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}]',
            ritellm.RateLimitError,
            429,
        ),
        (b'{"error": {"message": "no code"}}', ritellm.InternalServerError, 500),
    ],
)
def test_error_body_with_2xx_status(body: bytes, error: type[Exception], status: int) -> None:
    with pytest.raises(error) as info:
        parse(body)
    assert type(info.value) is error
    assert info.value.status_code == status  # type: ignore[attr-defined]
    assert info.value.provider == "gemini"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "response with an empty body (no content type)"),
        (b"<html>", "response with a body that is not JSON (no content type): '<html>'"),
        (b"[1, 2]", "response is not a GenerateContentResponse object: '[1, 2]'"),
        (
            b'{"usageMetadata": {}}',
            "response is not a GenerateContentResponse object: '{\"usageMetadata\": {}}'",
        ),
        (
            b'{"candidates": 3}',
            "malformed Gemini response (candidates is not a list of objects): "
            "'{\"candidates\": 3}'",
        ),
        (
            b'{"candidates": [{"index": "0"}]}',
            "malformed Gemini response (a candidate has a malformed index or finishReason): "
            '\'{"candidates": [{"index": "0"}]}\'',
        ),
        (
            b'{"candidates": [{"content": {"parts": {}}}]}',
            "malformed Gemini response (candidate content has no list of parts): "
            '\'{"candidates": [{"content": {"parts": {}}}]}\'',
        ),
        (
            b'{"candidates": [{"content": {"parts": [{"text": 1}]}}]}',
            "malformed Gemini response (a part's text is not a string): "
            '\'{"candidates": [{"content": {"parts": [{"text": 1}]}}]}\'',
        ),
        (
            b'{"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}',
            "malformed Gemini response (a functionCall has no name): "
            '\'{"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}\'',
        ),
        (
            b'{"candidates": [{"content": {"parts": [{"functionCall": '
            b'{"name": "f", "args": "x"}}]}}]}',
            "malformed Gemini response (functionCall args are not an object): "
            '\'{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", '
            '"args": "x"}}]}}]}\'',
        ),
        (
            b'{"candidates": [{"logprobsResult": {"chosenCandidates": [{"token": 1}]}}]}',
            "malformed Gemini response (a logprobs entry has no token): "
            '\'{"candidates": [{"logprobsResult": {"chosenCandidates": [{"token": 1}]}}]}\'',
        ),
        (
            b'{"candidates": [{"logprobsResult": {"chosenCandidates": [], "topCandidates": 5}}]}',
            "malformed Gemini response (logprobsResult.topCandidates is not a list of objects): "
            '\'{"candidates": [{"logprobsResult": {"chosenCandidates": [], '
            '"topCandidates": 5}}]}\'',
        ),
        (
            b'{"candidates": [{"logprobsResult": {"chosenCandidates": [{}], '
            b'"topCandidates": [{"candidates": {}}]}}]}',
            "malformed Gemini response (logprobsResult.topCandidates[].candidates is not a list): "
            '\'{"candidates": [{"logprobsResult": {"chosenCandidates": [{}], "topCandidates": '
            '[{"candidates": {}}]}}]}\'',
        ),
    ],
)
def test_invalid_bodies(body: bytes, message: str) -> None:
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        PROVIDER.parse_completion(200, {"x-request-id": "q"}, body, req=req(), now=NOW)
    err = info.value
    assert err.message == message
    assert (err.status_code, err.provider, err.request_id) == (200, "gemini", "q")


def test_empty_candidates_without_block_is_an_empty_answer() -> None:
    r = parse(b'{"candidates": [], "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}}')
    assert r.choices == []
    assert r.usage == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}


# --- parse_error (wire-formats §5.7) --------------------------------------------------------

BAD_KEY: dict[str, Any] = {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": "API key not valid. Please pass a valid API key.",
        },
    ],
}
QUOTA: dict[str, Any] = {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details. For "
    "more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
    "To monitor your current usage, head to: https://ai.dev/rate-limit. ",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        }
    ],
}


def with_retry(delay: Any) -> dict[str, Any]:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
    quota = {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []}
    # Details that are not typed objects are skipped.
    return {**QUOTA, "details": [*QUOTA["details"], "note", {"reason": "x"}, quota, retry]}


@pytest.mark.parametrize(
    "wrap", [lambda e: {"error": e}, lambda e: [{"error": e}]], ids=["object", "list"]
)
@pytest.mark.parametrize(
    ("error", "status", "cls", "kind", "retry_after"),
    [
        (BAD_KEY, 400, ritellm.AuthenticationError, "authentication", None),
        (QUOTA, 429, ritellm.RateLimitError, None, None),
        (with_retry("37s"), 429, ritellm.RateLimitError, None, 37.0),
        (with_retry("1.5s"), 429, ritellm.RateLimitError, None, 1.5),
        (with_retry({"seconds": "2", "nanos": 500000000}), 429, ritellm.RateLimitError, None, 2.5),
        (with_retry({"seconds": 3}), 429, ritellm.RateLimitError, None, 3.0),
        (with_retry("soon"), 429, ritellm.RateLimitError, None, None),
        (
            {"code": 404, "message": "models/x is not found", "status": "NOT_FOUND"},
            404,
            ritellm.NotFoundError,
            None,
            None,
        ),
        (
            {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"},
            503,
            ritellm.ServiceUnavailableError,
            None,
            None,
        ),
        (
            {"code": 500, "message": "Internal error", "status": "INTERNAL"},
            500,
            ritellm.InternalServerError,
            None,
            None,
        ),
    ],
)
def test_parse_error_google_status(
    wrap: Any,
    error: dict[str, Any],
    status: int,
    cls: type[Exception],
    kind: str | None,
    retry_after: float | None,
) -> None:
    body = json.dumps(wrap(error)).encode()
    info = PROVIDER.parse_error(status, {}, body)
    assert info.message == error["message"]
    assert info.type == error["status"]
    assert info.code == str(error["code"])
    assert info.body == error
    assert info.kind == kind
    assert info.retry_after == retry_after
    err = error_from_response(status, {}, body, info=info, provider="gemini")
    assert type(err) is cls
    assert err.retry_after == retry_after


@pytest.mark.parametrize(
    ("body", "message", "type_", "code"),
    [
        (
            b'{"error": {"message": "bad", "type": "invalid_request_error", "code": "x"}}',
            "bad",
            "invalid_request_error",
            "x",
        ),
        (b"upstream timeout", "upstream timeout", None, None),
        (b"", None, None, None),
    ],
)
def test_parse_error_falls_back_to_other_shapes(
    body: bytes, message: str | None, type_: str | None, code: str | None
) -> None:
    info = PROVIDER.parse_error(502, {}, body)
    assert (info.message, info.type, info.code, info.kind, info.retry_after) == (
        message,
        type_,
        code,
        None,
        None,
    )


def test_input_too_long_is_a_context_window_error() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": "The input token count (1200000) exceeds the maximum number of "
                "tokens allowed (1048576).",
                "status": "INVALID_ARGUMENT",
            }
        }
    ).encode()
    err = error_from_response(400, {}, body, info=PROVIDER.parse_error(400, {}, body))
    assert type(err) is ritellm.ContextWindowExceededError
