"""Tests for the Ollama translator (ritellm._providers.ollama and _ollama_response): request
bodies for every parameter mapping, messages, headers, URLs and credentials; the wire-formats
§6.2-§6.5 responses and streams (every split of the bytes, LF and CRLF) with the exact
chat.completion objects and chunks; errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pydantic
import pytest

import ritellm
from ritellm._assemble import stream_chunk_builder
from ritellm._error_map import error_from_response
from ritellm._providers import PROVIDERS, get_provider, resolve
from ritellm._providers._common import call_id
from ritellm._providers._ollama_response import OllamaStreamDecoder
from ritellm._providers.ollama import OllamaProvider, host_url
from ritellm._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    HttpRequest,
    Media,
    ModelResponseStream,
)
from ritellm._version import __version__

OLLAMA = PROVIDERS["ollama"]
PROVIDER = OllamaProvider(OLLAMA)
DEFAULT = "http://localhost:11434"
CREDS = Credentials(base_url=DEFAULT, api_key=None)
UA = f"ritellm/{__version__}".encode()
HI: list[Mapping[str, Any]] = [{"role": "user", "content": "Hi"}]
HI_MESSAGES = [{"role": "user", "content": "Hi"}]
NOW = 1_750_000_000


def req(
    messages: Sequence[Mapping[str, Any]] | None = None,
    *,
    model: str = "llama3.2",
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


def build(
    request: CompletionRequest,
    creds: Credentials = CREDS,
    media: dict[str, Media] | None = None,
    provider: OllamaProvider = PROVIDER,
) -> HttpRequest:
    return provider.build_request(request, creds, media or {})


def exact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def assert_body(
    request: CompletionRequest, expected: dict[str, Any], media: dict[str, Media] | None = None
) -> None:
    body = build(request, media=media).body
    assert json.loads(body) == expected  # (the readable diff)
    assert body == exact(expected)  # the exact bytes: compact, UTF-8, keys in this order


def hi_body(**fields: Any) -> dict[str, Any]:
    """The body for HI with these fields between the messages and "stream": false."""
    return {"model": "llama3.2", "messages": HI_MESSAGES, **fields, "stream": False}


# --- registry, headers, URL -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name", "wire"),
    [
        ("ollama/llama3.2", "ollama", "llama3.2"),
        ("ollama_chat/llama3.2", "ollama_chat", "llama3.2"),
        ("ollama_chat/qwen3:8b", "ollama_chat", "qwen3:8b"),
        (
            "ollama/hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
            "ollama",
            "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
        ),
    ],
)
def test_registry_resolves_both_prefixes(model: str, name: str, wire: str) -> None:
    spec, model_id = resolve(model)
    assert (spec.name, model_id) == (name, wire)
    provider = get_provider(spec)
    assert isinstance(provider, OllamaProvider)
    assert provider.spec is spec
    assert provider.credential_params == ()
    assert provider.stream_media_types == ("application/x-ndjson",)


def test_golden_request_non_stream() -> None:
    http = build(req(temperature=0.2))
    assert http.method == b"POST"
    assert http.url == "http://localhost:11434/api/chat"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/json"),
        (b"User-Agent", UA),
    ]
    # "stream": false is always sent: Ollama streams unless told not to (§6.1).
    assert http.body == (
        b'{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}],'
        b'"options":{"temperature":0.2},"stream":false}'
    )


def test_golden_request_stream() -> None:
    http = build(req(stream=True, stream_options={"include_usage": True}))
    assert http.url == "http://localhost:11434/api/chat"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/x-ndjson"),
        (b"User-Agent", UA),
    ]
    # stream_options is read by the decoder, never sent.
    assert http.body == (
        b'{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}],"stream":true}'
    )


def test_bearer_only_with_a_key_and_static_headers_follow() -> None:
    keyed = Credentials(base_url="https://ollama.com", api_key="ok-123", headers=((b"X-T", b"a"),))
    assert build(req(), keyed).headers[-2:] == [
        (b"Authorization", b"Bearer ok-123"),
        (b"X-T", b"a"),
    ]
    for key in (None, ""):
        http = build(req(), Credentials(base_url=DEFAULT, api_key=key))
        assert [name for name, _ in http.headers] == [b"Content-Type", b"Accept", b"User-Agent"]
    assert b"ok-123" not in build(req(), keyed).body


def test_basic_auth_in_the_url_and_a_key_is_a_parameter_error() -> None:
    c = creds(base_url="http://user:pw@gpu-box:11434", api_key="ok-123")
    with pytest.raises(ritellm.ParameterError) as info:
        build(req(), c)
    assert str(info.value) == (
        "base_url has a user:password (sent as Basic auth) and ollama sends its key in the "
        "same Authorization header: give one of them"
    )
    # Without a key, the userinfo alone is the Authorization.
    http = build(req(), creds(base_url="http://user:pw@gpu-box:11434"))
    assert http.url == "http://gpu-box:11434/api/chat"
    assert http.headers[-1] == (b"Authorization", b"Basic dXNlcjpwdw==")


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434/api/chat"),
        ("http://127.0.0.1:11434/", "http://127.0.0.1:11434/api/chat"),
        ("http://127.0.0.1:11434/api", "http://127.0.0.1:11434/api/chat"),
        ("http://127.0.0.1:11434/api/", "http://127.0.0.1:11434/api/chat"),
        ("http://127.0.0.1:11434/api/chat", "http://127.0.0.1:11434/api/chat"),
        ("https://proxy.example/ollama", "https://proxy.example/ollama/api/chat"),
        ("https://proxy.example/ollama/api/chat", "https://proxy.example/ollama/api/chat"),
        ("http://h:1/api?tenant=a", "http://h:1/api/chat?tenant=a"),
    ],
)
def test_base_url_forms(base: str, url: str) -> None:
    assert build(req(), creds(base_url=base)).url == url


# --- credentials ----------------------------------------------------------------------------


def creds(
    *, api_key: str | None = None, base_url: str | None = None, **environ: str
) -> Credentials:
    return PROVIDER.credentials(api_key=api_key, base_url=base_url, options={}, environ=environ)


# OLLAMA_HOST as the ollama client reads it (ollama-python's _parse_host doctests, Go's
# envconfig.Host), and what ritellm decides where they do not help: the wildcard address a
# server listens on is dialled as loopback.
@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("1.2.3.4", "http://1.2.3.4:11434"),
        ("1.2.3.4:56789", "http://1.2.3.4:56789"),
        ("example.com", "http://example.com:11434"),
        ("example.com:8080", "http://example.com:8080"),
        ("example.com/", "http://example.com:11434/"),
        ("example.com:56789/path/", "http://example.com:56789/path/"),
        ("https://host", "https://host"),  # a scheme brings its own default port
        ("http://1.2.3.4", "http://1.2.3.4"),
        ("https://example.com:56789/path", "https://example.com:56789/path"),
        (":1234", "http://127.0.0.1:1234"),  # no host: loopback (as ollama-python)
        ("[::1]", "http://[::1]:11434"),
        ("[0001:002:003:0004::1]:56789/path", "http://[0001:002:003:0004::1]:56789/path"),
        ("::1", "http://[::1]:11434"),  # Go's net.ParseIP reads a bare IPv6 address
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("http://0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("[::]:8080", "http://[::1]:8080"),
        (' "example.com:1" ', "http://example.com:1"),  # Go's envconfig.Var trims both
        ("user:pw@box", "http://user:pw@box:11434"),
        ("box?x=1", "http://box:11434?x=1"),
    ],
)
def test_host_url(host: str, url: str) -> None:
    assert host_url(host) == url


@pytest.mark.parametrize(
    ("kwargs", "environ", "key", "base"),
    [
        ({}, {}, None, DEFAULT),  # no key needed, ever
        ({}, {"OLLAMA_API_KEY": "k"}, "k", DEFAULT),
        ({"api_key": "a"}, {"OLLAMA_API_KEY": "k"}, "a", DEFAULT),
        ({}, {"OLLAMA_API_BASE": "http://gpu:1/"}, None, "http://gpu:1"),
        ({}, {"OLLAMA_HOST": "gpu:2"}, None, "http://gpu:2"),
        ({}, {"OLLAMA_HOST": "gpu"}, None, "http://gpu:11434"),
        ({}, {"OLLAMA_HOST": "0.0.0.0"}, None, "http://127.0.0.1:11434"),
        ({}, {"OLLAMA_HOST": "https://ollama.com"}, None, "https://ollama.com"),
        ({}, {"OLLAMA_HOST": "gpu:2/api"}, None, "http://gpu:2"),
        # LiteLLM's OLLAMA_API_BASE first, then the ollama tools' OLLAMA_HOST.
        ({}, {"OLLAMA_API_BASE": "http://a:1", "OLLAMA_HOST": "b:2"}, None, "http://a:1"),
        ({}, {"OLLAMA_API_BASE": "", "OLLAMA_HOST": "b:2"}, None, "http://b:2"),
        ({"base_url": "http://arg:3"}, {"OLLAMA_HOST": "b:2"}, None, "http://arg:3"),
        ({"base_url": "http://arg:3/api/chat"}, {}, None, "http://arg:3"),
    ],
)
def test_credentials(
    kwargs: dict[str, str], environ: dict[str, str], key: str | None, base: str
) -> None:
    c = creds(**kwargs, **environ)
    assert (c.api_key, c.base_url, c.headers, c.query) == (key, base, (), "")


def test_a_bad_ollama_host_is_a_parameter_error() -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        creds(OLLAMA_HOST="gpu:port")
    assert str(info.value) == "base_url has an invalid port: 'http://gpu:port'"


# --- parameters -----------------------------------------------------------------------------


def test_every_mapped_option_in_the_callers_order() -> None:
    assert_body(
        req(
            num_ctx=8192,
            max_tokens=256,
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            seed=7,
            presence_penalty=0.5,
            frequency_penalty=0.25,
            stop=["\n\n", "END"],
            repeat_penalty=1.1,
            min_p=0.05,
            mirostat=2,
        ),
        hi_body(
            options={
                "temperature": 0.2,
                "top_p": 0.9,
                "top_k": 40,
                "seed": 7,
                "presence_penalty": 0.5,
                "frequency_penalty": 0.25,
                "num_predict": 256,
                "stop": ["\n\n", "END"],
                "num_ctx": 8192,
                "repeat_penalty": 1.1,
                "min_p": 0.05,
                "mirostat": 2,
            }
        ),
    )


@pytest.mark.parametrize(
    ("params", "options"),
    [
        ({"max_tokens": 5}, {"num_predict": 5}),
        ({"max_completion_tokens": 6}, {"num_predict": 6}),
        ({"max_tokens": 5, "max_completion_tokens": 6}, {"num_predict": 6}),  # the newer name
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"seed": 0, "temperature": 0}, {"temperature": 0, "seed": 0}),  # zeros are values
        ({"num_predict": 9, "max_tokens": 5}, {"num_predict": 9}),  # Ollama's own name wins
        ({"use_mmap": False, "num_gpu": 0}, {"use_mmap": False, "num_gpu": 0}),
    ],
)
def test_option_mappings(params: dict[str, Any], options: dict[str, Any]) -> None:
    assert_body(req(**params), hi_body(options=options))


def test_options_dict_is_merged_over_the_mapped_values() -> None:
    assert_body(
        req(
            temperature=0.2,
            max_tokens=5,
            num_ctx=2048,
            options={"temperature": 0.9, "num_ctx": 4096, "num_gpu": 1},
        ),
        hi_body(options={"temperature": 0.9, "num_predict": 5, "num_ctx": 4096, "num_gpu": 1}),
    )
    assert_body(req(options={}), hi_body())  # nothing to send: no "options" at all


def test_options_must_be_a_dict() -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        build(req(options=[("temperature", 1)]))
    assert str(info.value) == "options must be a dict of Ollama model options"


def test_native_fields_pass_through() -> None:
    assert_body(
        req(keep_alive="5m", think=True, format="json"),
        hi_body(keep_alive="5m", think=True, format="json"),
    )
    # keep_alive=0 unloads the model: a falsy value that is sent.
    assert_body(req(keep_alive=0, think=False), hi_body(keep_alive=0, think=False))


def test_native_fields_win_over_the_mapped_ones() -> None:
    assert_body(
        req(
            reasoning_effort="high",
            think=False,
            response_format={"type": "json_object"},
            format={"type": "object"},
        ),
        hi_body(format={"type": "object"}, think=False),
    )


class City(pydantic.BaseModel):
    name: str
    population: int


CITY_SCHEMA = {
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "population": {"title": "Population", "type": "integer"},
    },
    "required": ["name", "population"],
    "title": "City",
    "type": "object",
}


@pytest.mark.parametrize(
    ("response_format", "fields"),
    [
        ({"type": "json_object"}, {"format": "json"}),
        ({"type": "text"}, {}),
        (
            {
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": CITY_SCHEMA, "strict": True},
            },
            {"format": CITY_SCHEMA},
        ),
        (City, {"format": CITY_SCHEMA}),
    ],
    ids=["json_object", "text", "json_schema", "pydantic"],
)
def test_response_format(response_format: Any, fields: dict[str, Any]) -> None:
    assert_body(req(response_format=response_format), hi_body(**fields))


@pytest.mark.parametrize(
    ("effort", "think"),
    [
        ("none", False),
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "high"),
    ],
)
def test_reasoning_effort_is_think(effort: str, think: object) -> None:
    assert_body(req(reasoning_effort=effort), hi_body(think=think))


def test_unknown_reasoning_effort() -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        build(req(reasoning_effort="max"))
    assert str(info.value) == (
        "reasoning_effort must be one of 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', "
        "got 'max'"
    )


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


def test_tools_are_openai_style_function_tools() -> None:
    bare = {"type": "function", "function": {"name": "now"}}
    expected_tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {
            "type": "function",
            "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    for choice in (None, "auto"):
        assert_body(
            req(tools=[WEATHER_TOOL, bare], tool_choice=choice, parallel_tool_calls=True),
            hi_body(tools=expected_tools),
        )
    # "none": Ollama cannot be told not to call a tool, so it is not shown the tools.
    assert_body(req(tools=[WEATHER_TOOL, bare], tool_choice="none"), hi_body())


def unsupported(name: str, provider: str = "ollama") -> str:
    return (
        f"{provider} does not support the parameter {name!r}: remove it, or pass "
        "drop_params=True to drop parameters a provider cannot honour"
    )


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"user": "u-1"}, "user"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"tools": [WEATHER_TOOL], "tool_choice": "required"}, "tool_choice"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            },
            "tool_choice",
        ),
        ({"store": True}, "store"),
        ({"metadata": {"a": "b"}}, "metadata"),
        ({"functions": [{"name": "f"}]}, "functions"),
    ],
)
def test_unsupported_parameters(params: dict[str, Any], name: str) -> None:
    for spec_name in ("ollama", "ollama_chat"):
        provider = OllamaProvider(PROVIDERS[spec_name])
        with pytest.raises(ritellm.ParameterError) as info:
            build(req(**params), provider=provider)
        assert type(info.value) is ritellm.ParameterError
        assert str(info.value) == unsupported(name, spec_name)
    # drop_params=True: left out, the rest of the request goes as usual.
    dropped = json.loads(build(req(drop=True, temperature=0.5, **params)).body)
    assert dropped.keys() <= {"model", "messages", "tools", "options", "stream"}
    assert dropped["options"] == {"temperature": 0.5}


def test_n_of_one_and_none_values_are_fine() -> None:
    assert_body(req(n=1, user=None, logprobs=None, tool_choice=None), hi_body())


# --- messages -------------------------------------------------------------------------------


def test_wire_formats_6_4_tool_round_trip() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'},
    }
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22C, clear"},
    ]
    assert_body(
        req(messages),
        {
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Weather in Tokyo?"},
                {
                    "role": "assistant",
                    "content": "",
                    # An object, never OpenAI's JSON text (§6.4); ids are not sent.
                    "tool_calls": [
                        {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}
                    ],
                },
                {"role": "tool", "content": "22C, clear", "tool_name": "get_weather"},
            ],
            "stream": False,
        },
    )


def test_every_message_part_kind() -> None:
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                {"type": "text", "text": "and this"},
                {"type": "image_url", "image_url": "https://img.example/a.jpg"},
            ],
        },
        {"role": "system", "content": [{"type": "text", "text": "Use tools."}]},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": calls,
            "reasoning_content": "x",
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 18}'},
        {
            "role": "tool",
            "tool_call_id": "c2",
            "content": [
                {"type": "text", "text": "see "},
                {"type": "text", "text": "chart"},
                {"type": "image_url", "image_url": {"url": "https://img.example/chart.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": "",
            "thinking_blocks": [{"type": "thinking", "thinking": "x", "signature": "s"}],
        },
        {"role": "user", "content": "Thanks."},
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
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "Be brief.\n\nUse tools."},
                {"role": "user", "content": "Look:\nand this", "images": ["iVBORw0K", "/9j/"]},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                        {"function": {"name": "get_time", "arguments": {}}},
                    ],
                },
                {"role": "tool", "content": '{"temp": 18}', "tool_name": "get_weather"},
                {
                    "role": "tool",
                    "content": "see chart",
                    "tool_name": "get_time",
                    "images": ["iVBO"],
                },
                # The thinking-only assistant turn has nothing for Ollama.
                {"role": "user", "content": "Thanks."},
                {"role": "assistant", "content": "Done."},
            ],
            "stream": False,
        },
    )


def test_text_before_a_tool_result_keeps_its_place() -> None:
    # A user message between the call and its result is merged into the result's turn by
    # the conversation helper; Ollama still gets the messages in their order.
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "function": {"name": "w", "arguments": "{}"}}],
        },
        {"role": "user", "content": "hurry"},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "user", "content": "so?"},
    ]
    sent = json.loads(build(req(messages)).body)["messages"]
    assert sent == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "w", "arguments": {}}}],
        },
        {"role": "user", "content": "hurry"},
        {"role": "tool", "content": "sunny", "tool_name": "w"},
        {"role": "user", "content": "so?"},
    ]


def test_several_results_are_several_tool_messages() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Both?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": '{"x": 1}'}},
                {"id": "b", "function": {"name": "g", "arguments": '{"x": 2}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "b", "content": "two"},
        {"role": "tool", "tool_call_id": "a", "content": "one"},
        {"role": "tool", "name": "h", "content": "named"},
    ]
    sent = json.loads(build(req(messages)).body)["messages"][2:]
    assert sent == [
        {"role": "tool", "content": "two", "tool_name": "g"},
        {"role": "tool", "content": "one", "tool_name": "f"},
        {"role": "tool", "content": "named", "tool_name": "h"},
    ]


def test_system_only_is_sent_and_no_message_is_an_error() -> None:
    assert json.loads(build(req([{"role": "system", "content": "S"}])).body)["messages"] == [
        {"role": "system", "content": "S"}
    ]
    for messages in ([], [{"role": "user", "content": ""}]):
        with pytest.raises(ritellm.ParameterError) as info:
            build(req(messages))
        assert str(info.value) == "messages is empty: Ollama needs at least one message"


def test_unfetched_image_url_is_a_parameter_error() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "image_url", "image_url": "https://x.example/i.png"}]}
    ]
    with pytest.raises(ritellm.ParameterError) as info:
        build(req(messages))
    assert str(info.value) == (
        "image URL 'https://x.example/i.png' was not fetched: Ollama takes images inline, so "
        "every URL media_urls() returns must be in media"
    )
    assert PROVIDER.media_urls(req()) == ()


# --- whole responses (§6.2, §6.4) -------------------------------------------------------------

# wire-formats §6.2, verbatim.
WHOLE = b"""{
  "model": "llama3.2",
  "created_at": "2023-12-12T14:13:43.416799Z",
  "message": {"role": "assistant", "content": "Hello! How are you today?"},
  "done": true,
  "done_reason": "stop",
  "total_duration": 5191566416,
  "load_duration": 2154458,
  "prompt_eval_count": 26,
  "prompt_eval_duration": 383809000,
  "eval_count": 298,
  "eval_duration": 4799921000
}"""


def rid(data: bytes) -> str:
    return "chatcmpl-" + hashlib.sha256(data).hexdigest()[:24]


def parse(body: bytes | str, *, model: str = "llama3.2", status: int = 200) -> Any:
    data = body.encode() if isinstance(body, str) else body
    request = CompletionRequest(model=model, messages=HI, params={})
    return PROVIDER.parse_completion(
        status, {"content-type": "application/json; charset=utf-8"}, data, req=request, now=NOW
    )


def completion(
    message: dict[str, Any],
    finish: str,
    usage: tuple[int, int],
    *,
    id: str,
    model: str = "llama3.2",
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion",
        "created": NOW,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        },
    }


def test_wire_formats_6_2_response() -> None:
    r = parse(WHOLE)
    assert r == completion(
        {"content": "Hello! How are you today?"}, "stop", (26, 298), id=rid(WHOLE)
    )
    assert json.dumps(r)  # plain JSON data
    assert r.choices[0].message.content == "Hello! How are you today?"  # attribute access
    assert r.usage.total_tokens == 324
    assert parse(WHOLE).id == r.id  # the same bytes, the same id


# wire-formats §6.4 as one non-streamed object: the call, then the final fields.
TOOL_WHOLE = (
    '{"model":"llama3.2","created_at":"2025-07-07T20:22:19.184789Z","message":{"role":'
    '"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":'
    '{"city":"Tokyo"}}}]},"done_reason":"stop","done":true,"total_duration":182242375,'
    '"load_duration":41295167,"prompt_eval_count":169,"prompt_eval_duration":24573166,'
    '"eval_count":15,"eval_duration":115959084}'
)


def test_wire_formats_6_4_tool_call_response() -> None:
    r = parse(TOOL_WHOLE)
    i = rid(TOOL_WHOLE.encode())
    call = {
        "id": call_id(i, 0),
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
    }
    # Ollama says "stop" after tool calls: OpenAI's "tool_calls"; content null beside calls.
    assert r == completion({"content": None, "tool_calls": [call]}, "tool_calls", (169, 15), id=i)


def message_body(message: dict[str, Any], **fields: Any) -> str:
    return json.dumps(
        {"model": "llama3.2", "message": {"role": "assistant", **message}, "done": True, **fields}
    )


def test_newer_tool_calls_with_ids_and_index_and_string_arguments() -> None:
    body = message_body(
        {
            "content": "Two calls.",
            "thinking": "Both cities.",
            "tool_calls": [
                {"id": "call_a", "function": {"index": 0, "name": "w", "arguments": {"c": "é"}}},
                {"function": {"index": 1, "name": "w", "arguments": '{"c": "Rome"}'}},
                {"id": "", "function": {"name": "now"}},
            ],
        },
        done_reason="stop",
        eval_count=4,
    )
    i = rid(body.encode())
    r = parse(body)
    assert r == completion(
        {
            "content": "Two calls.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"c":"é"}'},
                },
                # A server's JSON text is kept as it is.
                {
                    "id": call_id(i, 1),
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"c": "Rome"}'},
                },
                {
                    "id": call_id(i, 2),
                    "type": "function",
                    "function": {"name": "now", "arguments": "{}"},
                },
            ],
            "reasoning_content": "Both cities.",
        },
        "tool_calls",
        (0, 4),  # prompt_eval_count omitted when zero (Go's omitempty)
        id=i,
    )
    ids = [c.id for c in r.choices[0].message.tool_calls]
    assert len(set(ids)) == 3
    assert parse(body).choices[0].message.tool_calls[1].id == ids[1]  # stable


@pytest.mark.parametrize(
    ("fields", "finish"),
    [
        ({"done_reason": "length"}, "length"),
        ({"done_reason": "stop"}, "stop"),
        ({"done_reason": "load"}, "stop"),
        ({}, "stop"),  # older servers
    ],
)
def test_done_reason(fields: dict[str, Any], finish: str) -> None:
    r = parse(message_body({"content": "x"}, **fields))
    assert r.choices[0].finish_reason == finish


def test_served_model_wins_and_a_missing_one_is_the_requested() -> None:
    assert parse(message_body({"content": "x"}), model="asked").model == "llama3.2"
    no_model = json.dumps({"message": {"role": "assistant", "content": "x"}, "done": True})
    r = parse(no_model, model="asked")
    assert r == completion(
        {"content": "x"}, "stop", (0, 0), id=rid(no_model.encode()), model="asked"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "response with an empty body (application/json; charset=utf-8)"),
        (
            b"nope",
            "response with a body that is not JSON (application/json; charset=utf-8): 'nope'",
        ),
        (b"[]", "response is not an Ollama chat response (no message): '[]'"),
        (
            b'{"model":"m","done":true}',
            'response is not an Ollama chat response (no message): \'{"model":"m","done":true}\'',
        ),
        (
            b'{"message":{"tool_calls":[{"function":{}}]}}',
            "malformed Ollama tool call (a tool call has no function name): "
            '\'{"message":{"tool_calls":[{"function":{}}]}}\'',
        ),
        (
            b'{"message":{"tool_calls":{"function":{"name":"f"}}}}',
            "malformed Ollama tool call (tool_calls is not a list): "
            '\'{"message":{"tool_calls":{"function":{"name":"f"}}}}\'',
        ),
    ],
)
def test_bodies_that_are_not_a_chat_response(body: bytes, message: str) -> None:
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        parse(body)
    assert type(info.value) is ritellm.APIResponseValidationError
    assert info.value.message == message
    assert info.value.status_code == 200


# --- errors (§6.5) --------------------------------------------------------------------------

NOT_FOUND = b'{"error":"model \'llama9\' not found"}'
HINTED = "model 'llama9' not found (pull it first: ollama pull llama9)"


def test_404_model_not_found_has_the_pull_hint() -> None:
    info = PROVIDER.parse_error(404, {}, NOT_FOUND)
    assert (info.message, info.type, info.code, info.status) == (HINTED, None, None, None)
    assert info.body == {"error": "model 'llama9' not found"}
    err = error_from_response(404, {}, NOT_FOUND, info=info, provider="ollama")
    assert type(err) is ritellm.NotFoundError
    assert (err.status_code, err.message) == (404, HINTED)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "model 'qwen3:8b' not found",
            "model 'qwen3:8b' not found (pull it first: ollama pull qwen3:8b)",
        ),
        # Older servers.
        (
            'model "llama3" not found, try pulling it first',
            'model "llama3" not found, try pulling it first (pull it first: ollama pull llama3)',
        ),
        ("missing request body", "missing request body"),
        (
            "an error was encountered while running the model",
            "an error was encountered while running the model",
        ),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    assert PROVIDER.parse_error(400, {}, json.dumps({"error": text}).encode()).message == message


@pytest.mark.parametrize(
    ("body", "cls", "status", "message"),
    [
        (NOT_FOUND, ritellm.NotFoundError, 404, HINTED),
        (b'{"error":"boom"}', ritellm.InternalServerError, 500, "boom"),
    ],
)
def test_an_error_in_a_2xx_is_its_twin(
    body: bytes, cls: type[ritellm.APIError], status: int, message: str
) -> None:
    # A whole response...
    with pytest.raises(cls) as info:
        parse(body)
    assert type(info.value) is cls
    assert (info.value.status_code, info.value.message) == (status, message)
    # ...and the same body answering a stream request: parse_error names the twin.
    assert PROVIDER.parse_error(200, {}, body).status == status
    assert PROVIDER.parse_error(500, {}, body).status is None  # a real status stands


# --- streams (§6.3, §6.4) ---------------------------------------------------------------------

# wire-formats §6.3, verbatim.
TRANSCRIPT = [
    '{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}',
    '{"model":"llama3.2","created_at":"2023-08-04T08:52:19.406406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}',  # noqa: E501
    '{"model":"llama3.2","created_at":"2023-08-04T08:52:19.427406455-07:00","message":{"role":"assistant","content":" is blue because of Rayleigh scattering."},"done":false}',  # noqa: E501
    '{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}',
]
# wire-formats §6.4, verbatim.
TOOL_TRANSCRIPT = [
    '{"model":"llama3.2","created_at":"2025-07-07T20:22:19.184789Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Tokyo"}}}]},"done":false}',
    '{"model":"llama3.2","created_at":"2025-07-07T20:22:19.19314Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":182242375,"load_duration":41295167,"prompt_eval_count":169,"prompt_eval_duration":24573166,"eval_count":15,"eval_duration":115959084}',
]
TEXT_ID = rid(TRANSCRIPT[0].encode())
TOOL_ID = rid(TOOL_TRANSCRIPT[0].encode())


def ndjson(*lines: str, crlf: bool = False) -> bytes:
    end = "\r\n" if crlf else "\n"
    return "".join(line + end for line in lines).encode()


def chunk(
    delta: dict[str, Any], finish: str | None = None, *, id: str = TEXT_ID, model: str = "llama3.2"
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": NOW,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage_chunk(
    prompt: int, completion: int, *, id: str = TEXT_ID, model: str = "llama3.2"
) -> dict[str, Any]:
    out = chunk({}, id=id, model=model)
    out["choices"] = []
    out["usage"] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return out


TEXT_CHUNKS = [
    chunk({"role": "assistant", "content": "The"}),
    chunk({"content": " sky"}),
    chunk({"content": " is blue because of Rayleigh scattering."}),
    chunk({}, "stop"),
    usage_chunk(26, 282),
]
TOOL_CHUNKS = [
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": call_id(TOOL_ID, 0),
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
                }
            ],
        },
        id=TOOL_ID,
    ),
    chunk({}, "tool_calls", id=TOOL_ID),
    usage_chunk(169, 15, id=TOOL_ID),
]


def decoder(
    *, include_usage: bool = True, model: str = "llama3.2", max_event_bytes: int = 1 << 20
) -> OllamaStreamDecoder:
    params = {"stream_options": {"include_usage": True}} if include_usage else {}
    request = CompletionRequest(model=model, messages=HI, params=params, stream=True)
    return PROVIDER.stream_decoder(request, now=NOW, max_event_bytes=max_event_bytes)


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, one byte at a time, and every two-piece split."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def decode(pieces: list[bytes], **kwargs: Any) -> list[ModelResponseStream]:
    d = decoder(**kwargs)
    chunks: list[ModelResponseStream] = []
    for piece in pieces:
        chunks.extend(d.feed(piece))
    chunks.extend(d.close())
    assert d.done
    return chunks


def assert_every_split(data: bytes, expected: list[dict[str, Any]], **kwargs: Any) -> None:
    for pieces in splits(data):
        assert decode(pieces, **kwargs) == expected, pieces


def fail(pieces: list[bytes], **kwargs: Any) -> tuple[list[ModelResponseStream], ritellm.APIError]:
    d = decoder(**kwargs)
    chunks: list[ModelResponseStream] = []
    try:
        for piece in pieces:
            chunks.extend(d.feed(piece))
        chunks.extend(d.close())
    except ritellm.APIError as exc:
        return chunks, exc
    raise AssertionError("no error")


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("include_usage", [True, False])
def test_wire_formats_6_3_transcript_every_split(crlf: bool, include_usage: bool) -> None:
    expected = TEXT_CHUNKS if include_usage else TEXT_CHUNKS[:4]
    assert_every_split(ndjson(*TRANSCRIPT, crlf=crlf), expected, include_usage=include_usage)


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("include_usage", [True, False])
def test_wire_formats_6_4_tool_transcript_every_split(crlf: bool, include_usage: bool) -> None:
    expected = TOOL_CHUNKS if include_usage else TOOL_CHUNKS[:2]
    assert_every_split(ndjson(*TOOL_TRANSCRIPT, crlf=crlf), expected, include_usage=include_usage)


def test_chunks_arrive_with_their_line_and_done_ends_the_stream() -> None:
    d = decoder()
    data = ndjson(*TRANSCRIPT)
    first_end = data.index(b"\n")
    assert d.feed(data[:first_end]) == []
    assert d.done is False
    assert d.feed(data[first_end : first_end + 1]) == TEXT_CHUNKS[:1]  # the line is complete
    assert d.feed(data[first_end + 1 :]) == TEXT_CHUNKS[1:]
    assert d.done is True  # before close(): the done line is the end
    assert d.close() == []


def test_chunks_have_dual_access() -> None:
    chunks = decode([ndjson(*TRANSCRIPT)])
    assert all(type(c) is ModelResponseStream for c in chunks)
    assert isinstance(chunks[0].choices[0].delta, AttrDict)
    assert chunks[0].choices[0].delta.content == "The"
    assert chunks[4].usage.total_tokens == 308


def test_a_last_line_without_its_newline() -> None:
    data = ndjson(*TRANSCRIPT)[:-1]
    assert_every_split(data, TEXT_CHUNKS)
    d = decoder()
    assert d.feed(data) == TEXT_CHUNKS[:3]  # the done line is not known to be whole yet
    assert d.done is False
    assert d.close() == TEXT_CHUNKS[3:]


def test_blank_lines_are_ignored() -> None:
    data = b"\n\r\n" + ndjson(TRANSCRIPT[0]) + b"\n   \n" + ndjson(*TRANSCRIPT[1:]) + b"\n"
    assert_every_split(data, TEXT_CHUNKS)


def test_lines_after_done_are_ignored() -> None:
    data = ndjson(*TRANSCRIPT, '{"error":"late"}', "not json", "42") + b"{cut"
    assert_every_split(data, TEXT_CHUNKS)


def line(message: dict[str, Any], done: bool = False, **fields: Any) -> str:
    obj = {
        "model": "qwen3",
        "created_at": "2025-07-07T20:22:19.184789Z",
        "message": {"role": "assistant", **message},
        "done": done,
        **fields,
    }
    return json.dumps(obj, ensure_ascii=False)


FINAL = line({"content": ""}, True, done_reason="stop", prompt_eval_count=3, eval_count=5)


def test_thinking_fragments_are_reasoning_content() -> None:
    lines = [
        line({"content": "", "thinking": "Let me"}),
        line({"content": "", "thinking": " think."}),
        line({"content": "", "thinking": ""}),  # nothing: no chunk
        line({"content": "Sure", "thinking": "!"}),
        line({"content": " thing. é"}),
        FINAL,
    ]
    i = rid(lines[0].encode())
    expected = [
        chunk({"role": "assistant", "reasoning_content": "Let me"}, id=i, model="qwen3"),
        chunk({"reasoning_content": " think."}, id=i, model="qwen3"),
        chunk({"reasoning_content": "!", "content": "Sure"}, id=i, model="qwen3"),
        chunk({"content": " thing. é"}, id=i, model="qwen3"),
        chunk({}, "stop", id=i, model="qwen3"),
    ]
    # The served model ("qwen3") names the chunks, not the requested one.
    assert_every_split(ndjson(*lines), expected, include_usage=False, model="qwen3:latest")


def calls_delta(*calls: tuple[int, str, str, str]) -> dict[str, Any]:
    return {
        "tool_calls": [
            {"index": k, "id": cid, "type": "function", "function": {"name": n, "arguments": a}}
            for k, cid, n, a in calls
        ]
    }


def test_tool_calls_with_and_without_ids_across_lines() -> None:
    lines = [
        line({"content": "On it."}),
        line(
            {
                "content": "",
                "tool_calls": [
                    {"function": {"name": "w", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "w", "arguments": '{"city":"Rome"}'}},  # JSON text
                ],
            }
        ),
        line(
            {
                "content": "",
                "tool_calls": [
                    {"id": "call_x", "function": {"index": 0, "name": "now", "arguments": {}}},
                    {"function": {"index": 1, "name": "tz"}},
                ],
            }
        ),
        FINAL,
    ]
    i = rid(lines[0].encode())
    expected = [
        chunk({"role": "assistant", "content": "On it."}, id=i, model="qwen3"),
        chunk(
            calls_delta(
                (0, call_id(i, 0), "w", '{"city":"Paris"}'),
                (1, call_id(i, 1), "w", '{"city":"Rome"}'),
            ),
            id=i,
            model="qwen3",
        ),
        # A server's own index restarts per line: the chunks number the calls of the answer.
        chunk(
            calls_delta((2, "call_x", "now", "{}"), (3, call_id(i, 3), "tz", "{}")),
            id=i,
            model="qwen3",
        ),
        chunk({}, "tool_calls", id=i, model="qwen3"),
    ]
    assert_every_split(ndjson(*lines), expected, include_usage=False)
    ids = [c["id"] for e in expected[1:3] for c in e["choices"][0]["delta"]["tool_calls"]]
    assert len(set(ids)) == 4
    # Another response (another first line) gets other synthesized ids.
    other = [line({"content": "On it!"}), *lines[1:]]
    again = decode([ndjson(*other)], include_usage=False)
    assert again[1].choices[0].delta.tool_calls[0].id != ids[0]


def test_a_done_line_alone() -> None:
    i = rid(FINAL.encode())
    assert_every_split(
        ndjson(FINAL),
        [
            chunk({"role": "assistant"}, "stop", id=i, model="qwen3"),
            usage_chunk(3, 5, id=i, model="qwen3"),
        ],
    )
    final = line({"content": "Hi"}, True, done_reason="length")  # no counts: zeros
    i = rid(final.encode())
    assert_every_split(
        ndjson(final),
        [
            chunk({"role": "assistant", "content": "Hi"}, id=i, model="qwen3"),
            chunk({}, "length", id=i, model="qwen3"),
            usage_chunk(0, 0, id=i, model="qwen3"),
        ],
    )


def test_stream_rebuilds_the_whole_response() -> None:
    # The same answer streamed and whole: stream_chunk_builder gives parse_completion's
    # result, but for the ids (each derived from its own response's bytes).
    lines = [
        line({"content": "", "thinking": "Two"}),
        line({"content": "", "thinking": " cities."}),
        line({"content": "Checking "}),
        line({"content": "both."}),
        line(
            {
                "content": "",
                "tool_calls": [
                    {"id": "call_a", "function": {"name": "w", "arguments": {"city": "Paris"}}},
                    {"id": "call_b", "function": {"name": "w", "arguments": {"city": "Rome"}}},
                ],
            }
        ),
        FINAL,
    ]
    whole = line(
        {
            "content": "Checking both.",
            "thinking": "Two cities.",
            "tool_calls": [
                {"id": "call_a", "function": {"name": "w", "arguments": {"city": "Paris"}}},
                {"id": "call_b", "function": {"name": "w", "arguments": {"city": "Rome"}}},
            ],
        },
        True,
        done_reason="stop",
        prompt_eval_count=3,
        eval_count=5,
    )
    expected = dict(parse(whole))
    assert expected["choices"][0]["finish_reason"] == "tool_calls"
    for pieces in splits(ndjson(*lines)):
        rebuilt = stream_chunk_builder(decode(pieces))
        assert rebuilt is not None
        assert rebuilt.id == rid(lines[0].encode())
        assert {**rebuilt, "id": expected["id"]} == expected
    text = stream_chunk_builder(decode([ndjson(*TRANSCRIPT)]))
    assert text is not None
    whole_text = message_body(
        {"content": "The sky is blue because of Rayleigh scattering."},
        done_reason="stop",
        prompt_eval_count=26,
        eval_count=282,
    )
    assert {**text, "id": "x"} == {**parse(whole_text), "id": "x"}


# --- stream errors --------------------------------------------------------------------------

RUNNER = '{"error":"an error was encountered while running the model"}'


@pytest.mark.parametrize(
    ("payload", "message", "status"),
    [
        (RUNNER, "an error was encountered while running the model", 500),
        ('{"error":"model \'llama9\' not found"}', HINTED, 404),
        ('{"error":{"message":"upstream down"}}', "upstream down", 500),  # a proxy's shape
    ],
)
@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_in_band_error_first(payload: str, message: str, status: int, crlf: bool) -> None:
    for pieces in splits(ndjson(payload, *TRANSCRIPT, crlf=crlf)):
        chunks, err = fail(pieces)
        assert chunks == []
        assert type(err) is ritellm.StreamError
        assert (err.message, err.provider, err.status_code) == (message, "ollama", None)
        assert err.inband is not None
        assert (err.inband.status, err.inband.message) == (status, message)


def test_in_band_error_body_is_the_error_object() -> None:
    _, err = fail([ndjson(RUNNER)])
    assert err.body == {"error": "an error was encountered while running the model"}


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_in_band_error_after_chunks_under_every_split(crlf: bool) -> None:
    data = ndjson(*TRANSCRIPT[:2], RUNNER, *TRANSCRIPT[2:], crlf=crlf)
    for pieces in splits(data):
        chunks, err = fail(pieces)
        assert chunks == TEXT_CHUNKS[:2], pieces
        assert type(err) is ritellm.StreamError
        assert err.message == "an error was encountered while running the model"
        assert err.inband is not None and err.inband.status == 500


def test_an_error_after_chunks_comes_on_the_next_feed_and_close() -> None:
    d = decoder()
    assert d.feed(ndjson(TRANSCRIPT[0], RUNNER)) == TEXT_CHUNKS[:1]
    with pytest.raises(ritellm.StreamError) as first:
        d.feed(b"")
    with pytest.raises(ritellm.StreamError) as second:
        d.close()
    assert first.value is second.value


TRUNCATED = 'stream ended before the final line with "done": true (the response was truncated)'


@pytest.mark.parametrize(
    ("data", "delivered"),
    [
        (b"", 0),
        (b"\n\r\n", 0),
        (ndjson(*TRANSCRIPT[:3]), 3),
        (ndjson(*TRANSCRIPT[:3], crlf=True), 3),
        (ndjson(*TRANSCRIPT[:3]) + TRANSCRIPT[3][:40].encode(), 3),  # cut inside the last line
        (ndjson(*TRANSCRIPT[:2]) + b"{", 2),
    ],
)
def test_a_body_without_the_done_line_is_truncated(data: bytes, delivered: int) -> None:
    for pieces in splits(data):
        chunks, err = fail(pieces)
        assert chunks == TEXT_CHUNKS[:delivered]
        assert type(err) is ritellm.StreamError
        assert err.message == TRUNCATED
        assert (err.inband, err.provider) == (None, "ollama")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"model":', "malformed JSON line in Ollama stream: '{\"model\":'"),
        ("data: {}", "malformed JSON line in Ollama stream: 'data: {}'"),
        ("42", "Ollama stream line is not a JSON object: '42'"),
        ("[1, 2]", "Ollama stream line is not a JSON object: '[1, 2]'"),
        ('"text"', "Ollama stream line is not a JSON object: '\"text\"'"),
        ("null", "Ollama stream line is not a JSON object: 'null'"),
        (
            '{"message":{"tool_calls":[{"function":{"arguments":{}}}]}}',
            "malformed Ollama tool call (a tool call has no function name): "
            '\'{"message":{"tool_calls":[{"function":{"arguments":{}}}]}}\'',
        ),
        (
            '{"message":{"tool_calls":[42]}}',
            "malformed Ollama tool call (a tool call has no function name): "
            '\'{"message":{"tool_calls":[42]}}\'',
        ),
    ],
)
def test_malformed_lines(payload: str, message: str) -> None:
    for pieces in splits(ndjson(TRANSCRIPT[0], payload, *TRANSCRIPT[1:])):
        chunks, err = fail(pieces)
        assert chunks == TEXT_CHUNKS[:1]
        assert type(err) is ritellm.StreamError
        assert err.message == message
        assert err.inband is None


def test_invalid_utf8_is_malformed() -> None:
    chunks, err = fail([ndjson(TRANSCRIPT[0]) + b'{"x":"\xff"}\n'])
    assert chunks == TEXT_CHUNKS[:1]
    assert err.message == 'malformed JSON line in Ollama stream: \'{"x":"\ufffd"}\''


LONG = "a stream line is longer than max_event_bytes (100 bytes)"


def test_a_line_over_max_event_bytes() -> None:
    big = ndjson(line({"content": "x" * 200}), *TRANSCRIPT)
    for pieces in splits(big):
        chunks, err = fail(pieces, max_event_bytes=100)
        assert chunks == []
        assert type(err) is ritellm.StreamError
        assert err.message == LONG
    # A line of exactly the limit is fine.
    exact_line = '{"model":"m","message":{"content":"' + "y" * 50 + '"},"done":true}'
    assert len(exact_line) == 100
    assert decode([ndjson(exact_line)], include_usage=False, max_event_bytes=100)[0].model == "m"
    _, err = fail([ndjson(exact_line)], max_event_bytes=99)
    assert err.message == "a stream line is longer than max_event_bytes (99 bytes)"


def test_a_long_line_after_good_lines_delivers_them_first_under_every_split() -> None:
    good = '{"model":"m","message":{"content":"ok"},"done":false}'
    data = ndjson(good, line({"content": "x" * 200}))
    for pieces in splits(data):
        chunks, err = fail(pieces, max_event_bytes=100)
        assert [c.choices[0].delta.get("content") for c in chunks] == ["ok"], pieces
        assert err.message == LONG


def test_decoder_is_fresh_for_every_stream_and_reads_include_usage() -> None:
    request = CompletionRequest(model="llama3.2", messages=HI, params={}, stream=True)
    first = PROVIDER.stream_decoder(request, now=NOW, max_event_bytes=1 << 20)
    assert first is not PROVIDER.stream_decoder(request, now=NOW, max_event_bytes=1 << 20)
    assert first.feed(ndjson(*TRANSCRIPT)) == TEXT_CHUNKS[:4]  # include_usage off
    for options in ({"include_usage": False}, None, "yes"):
        r = CompletionRequest(
            model="llama3.2", messages=HI, params={"stream_options": options}, stream=True
        )
        d = PROVIDER.stream_decoder(r, now=NOW, max_event_bytes=1 << 20)
        assert d.feed(ndjson(*TRANSCRIPT)) == TEXT_CHUNKS[:4]
