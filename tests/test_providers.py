"""Tests for ritellm._providers: model-string resolution, credentials, and the OpenAI wire
format (request bytes, completion parsing and the SSE stream decoder under every split)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import ritellm
from ritellm._providers import PROVIDERS, ProviderSpec, get_provider, resolve, resolve_credentials
from ritellm._providers.openai import OpenAIProvider, OpenAIStreamDecoder
from ritellm._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    ModelResponse,
    ModelResponseStream,
)
from ritellm._version import __version__

CANARY = "sk-CANARY-0123456789abcdef"

# --- resolve --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "model_id"),
    [
        ("openai/gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("gpt-3.5-turbo", "openai", "gpt-3.5-turbo"),
        ("ft:gpt-4o-mini:my-org:custom:abc123", "openai", "ft:gpt-4o-mini:my-org:custom:abc123"),
        ("openrouter/anthropic/claude-3.5-sonnet", "openrouter", "anthropic/claude-3.5-sonnet"),
        ("groq/llama3", "groq", "llama3"),
        ("openai/openai/gpt-4o", "openai", "openai/gpt-4o"),
        ("hosted_vllm/meta-llama/Llama-3.1-8B", "hosted_vllm", "meta-llama/Llama-3.1-8B"),
        ("together_ai/meta-llama/Llama-3-70b", "together_ai", "meta-llama/Llama-3-70b"),
        ("xai/grok-2", "xai", "grok-2"),
    ],
)
def test_resolve(model: str, provider: str, model_id: str) -> None:
    spec, got = resolve(model)
    assert spec is PROVIDERS[provider]
    assert spec.name == provider
    assert got == model_id


KNOWN = (
    "anthropic/, azure/, bedrock/, deepseek/, fireworks_ai/, gemini/, groq/, hosted_vllm/, "
    "llamafile/, lm_studio/, mistral/, ollama/, ollama_chat/, openai/, openrouter/, perplexity/, "
    "together_ai/, xai/"
)


def _compatible(rest: str, model: str) -> str:
    return (
        f" For an OpenAI-compatible server, pass model='openai/{rest}' with "
        f"base_url='http://<host>/v1' (the server gets model '{rest}'; "
        f"model='openai/{model}' would send '{model}')."
    )


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "nosuchhost/some-model",
            "Unknown provider prefix 'nosuchhost' in model 'nosuchhost/some-model'. "
            f"Supported prefixes: {KNOWN}." + _compatible("some-model", "nosuchhost/some-model"),
        ),
        (  # a typo: the close match first, then the same advice
            "antropic/claude-3",
            "Unknown provider prefix 'antropic' in model 'antropic/claude-3'. Did you mean "
            f"'anthropic/claude-3'? Supported prefixes: {KNOWN}."
            + _compatible("claude-3", "antropic/claude-3"),
        ),
        (  # prefixes are lower-case
            "OpenAI/gpt-4o",
            "Unknown provider prefix 'OpenAI' in model 'OpenAI/gpt-4o'. Did you mean "
            f"'openai/gpt-4o'? Supported prefixes: {KNOWN}."
            + _compatible("gpt-4o", "OpenAI/gpt-4o"),
        ),
        (  # a Hugging Face id: both forms are spelled out, the user knows which one it is
            "Qwen/Qwen2.5-7B-Instruct",
            "Unknown provider prefix 'Qwen' in model 'Qwen/Qwen2.5-7B-Instruct'. Supported "
            f"prefixes: {KNOWN}." + _compatible("Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ),
        (  # LiteLLM's other prefix for Bedrock's Converse API
            "bedrock_converse/anthropic.claude-3-haiku-20240307-v1:0",
            "Unknown provider prefix 'bedrock_converse' in model "
            "'bedrock_converse/anthropic.claude-3-haiku-20240307-v1:0'. Did you mean "
            "'bedrock/anthropic.claude-3-haiku-20240307-v1:0'? Supported prefixes: "
            f"{KNOWN}."
            + _compatible(
                "anthropic.claude-3-haiku-20240307-v1:0",
                "bedrock_converse/anthropic.claude-3-haiku-20240307-v1:0",
            ),
        ),
        (  # nothing after the prefix: no model to suggest
            "foo/",
            f"Unknown provider prefix 'foo' in model 'foo/'. Supported prefixes: {KNOWN}.",
        ),
    ],
)
def test_resolve_unknown_prefix_says_what_to_write(model: str, message: str) -> None:
    with pytest.raises(ritellm.UnknownProviderError) as info:
        resolve(model)
    assert str(info.value) == message
    assert isinstance(info.value, ritellm.ParameterError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("model", ["cohere/command-r", "Qwen/Qwen2.5-7B-Instruct", "OpenAI/x"])
def test_following_the_unknown_prefix_advice_sends_the_model_it_says(model: str) -> None:
    """Every model='...' the message suggests resolves, and sends what the message says."""
    with pytest.raises(ritellm.UnknownProviderError) as info:
        resolve(model)
    message = str(info.value)
    advice = re.search(r"model='(openai/[^']+)' with .*?gets model '([^']+)'", message)
    literal = re.search(r"model='(openai/[^']+)' would send '([^']+)'", message)
    assert advice is not None
    assert literal is not None
    for suggested, sent in (advice.groups(), literal.groups()):
        spec, model_id = resolve(suggested)
        assert (spec.name, model_id) == ("openai", sent)
    # base_url is what makes it another server: no OpenAI key is needed there.
    spec, _ = resolve(advice.group(1))
    got = resolve_credentials(spec, api_key=None, base_url="http://127.0.0.1:8000/v1", environ={})
    assert got.api_key is None
    assert got.base_url == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize("model", ["openai/", "groq/"])
def test_resolve_empty_model_id(model: str) -> None:
    with pytest.raises(ritellm.ParameterError, match="no model after the '/'") as info:
        resolve(model)
    assert type(info.value) is ritellm.ParameterError


@pytest.mark.parametrize(
    ("name", "base_url", "key_env", "base_env"),
    [
        ("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), ("OPENAI_BASE_URL",)),
        ("groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",), ("GROQ_API_BASE",)),
        ("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",), ()),
        ("fireworks_ai", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",), ()),
        ("perplexity", "https://api.perplexity.ai", ("PERPLEXITYAI_API_KEY",), ()),
        ("xai", "https://api.x.ai/v1", ("XAI_API_KEY",), ("XAI_API_BASE",)),
        ("hosted_vllm", None, (), ("HOSTED_VLLM_API_BASE",)),
        ("lm_studio", None, (), ("LM_STUDIO_API_BASE",)),
        ("llamafile", "http://127.0.0.1:8080/v1", (), ("LLAMAFILE_API_BASE",)),
    ],
)
def test_provider_table_follows_litellm_defaults(
    name: str, base_url: str | None, key_env: tuple[str, ...], base_env: tuple[str, ...]
) -> None:
    spec = PROVIDERS[name]
    assert spec.default_base_url == base_url
    assert spec.key_env[: len(key_env)] == key_env
    assert spec.base_env[: len(base_env)] == base_env


def test_providers_is_public_and_get_provider_caches() -> None:
    assert ritellm.PROVIDERS is PROVIDERS
    provider = get_provider(PROVIDERS["groq"])
    assert isinstance(provider, OpenAIProvider)
    assert provider.spec is PROVIDERS["groq"]
    assert get_provider(PROVIDERS["groq"]) is provider


# --- resolve_credentials --------------------------------------------------------------------

OPENAI = PROVIDERS["openai"]


def creds(
    spec: ProviderSpec = OPENAI,
    /,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    **environ: str,
) -> Credentials:
    return resolve_credentials(spec, api_key=api_key, base_url=base_url, environ=environ)


def test_argument_beats_environment() -> None:
    c = creds(
        api_key="sk-arg",
        base_url="http://arg:1/v1",
        OPENAI_API_KEY="sk-env",
        OPENAI_BASE_URL="http://env:2/v1",
    )
    assert (c.base_url, c.api_key) == ("http://arg:1/v1", "sk-arg")


def test_environment_key_and_default_url() -> None:
    c = creds(OPENAI_API_KEY="sk-env")
    assert (c.base_url, c.api_key) == ("https://api.openai.com/v1", "sk-env")


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({"OPENAI_BASE_URL": "http://a/v1", "OPENAI_API_BASE": "http://b/v1"}, "http://a/v1"),
        ({"OPENAI_API_BASE": "http://b/v1"}, "http://b/v1"),
        ({"OPENAI_BASE_URL": "", "OPENAI_API_BASE": "http://b/v1"}, "http://b/v1"),
        ({"OPENAI_BASE_URL": ""}, "https://api.openai.com/v1"),
    ],
)
def test_base_url_environment_order(environ: dict[str, str], url: str) -> None:
    assert creds(api_key="k", **environ).base_url == url


def test_key_environment_order() -> None:
    spec = PROVIDERS["openrouter"]
    assert creds(spec, OR_API_KEY="b").api_key == "b"
    assert creds(spec, OPENROUTER_API_KEY="a", OR_API_KEY="b").api_key == "a"
    assert creds(spec, OPENROUTER_API_KEY="", OR_API_KEY="b").api_key == "b"


@pytest.mark.parametrize(
    "base_url", [None, "https://api.openai.com/v1", "https://api.openai.com/v1/"]
)
def test_default_url_without_key_is_an_authentication_error(base_url: str | None) -> None:
    with pytest.raises(ritellm.AuthenticationError) as info:
        creds(base_url=base_url)
    assert "OPENAI_API_KEY" in str(info.value)
    assert "api_key=" in str(info.value)
    assert info.value.provider == "openai"
    assert info.value.status_code is None


def test_empty_key_counts_as_missing() -> None:
    with pytest.raises(ritellm.AuthenticationError, match="GROQ_API_KEY"):
        creds(PROVIDERS["groq"], api_key="", GROQ_API_KEY="")


@pytest.mark.parametrize(
    ("kwargs", "environ"),
    [
        ({"base_url": "http://127.0.0.1:8000/v1"}, {}),
        ({}, {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}),
    ],
)
def test_custom_base_url_needs_no_key(kwargs: dict[str, str], environ: dict[str, str]) -> None:
    c = creds(**kwargs, **environ)
    assert c == Credentials(base_url="http://127.0.0.1:8000/v1", api_key=None)


def test_hosted_vllm_needs_a_base_url() -> None:
    with pytest.raises(ritellm.ParameterError, match="HOSTED_VLLM_API_BASE") as info:
        creds(PROVIDERS["hosted_vllm"])
    assert type(info.value) is ritellm.ParameterError
    c = creds(PROVIDERS["hosted_vllm"], HOSTED_VLLM_API_BASE="http://gpu:8000/v1")
    assert c == Credentials(base_url="http://gpu:8000/v1", api_key=None)


@pytest.mark.parametrize(
    "url", ["localhost:8000/v1", "ftp://example.com/v1", "api.openai.com/v1", "ws://x/v1"]
)
def test_non_http_url_is_rejected(url: str) -> None:
    with pytest.raises(ritellm.ParameterError, match="must start with http:// or https://"):
        creds(api_key="k", base_url=url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8000/v1/", "http://localhost:8000/v1"),
        ("http://localhost:8000/v1//", "http://localhost:8000/v1"),
        ("https://example.com", "https://example.com"),
    ],
)
def test_trailing_slash_stripped(url: str, expected: str) -> None:
    assert creds(api_key="k", base_url=url).base_url == expected


def test_credentials_repr_never_shows_the_key() -> None:
    c = creds(api_key=CANARY)
    assert c.api_key == CANARY
    assert CANARY not in repr(c)
    assert CANARY not in str(c)


# --- build_request --------------------------------------------------------------------------

PROVIDER = OpenAIProvider(OPENAI)
UA = f"ritellm/{__version__}".encode()


def request(*, stream: bool = False, params: dict[str, Any] | None = None) -> CompletionRequest:
    return CompletionRequest(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        params={"temperature": 0.2, "max_tokens": 5} if params is None else params,
        stream=stream,
    )


def test_build_request_golden_non_stream() -> None:
    http = PROVIDER.build_request(
        request(), Credentials(base_url="https://api.openai.com/v1", api_key="sk-test"), {}
    )
    assert http.method == b"POST"
    assert http.url == "https://api.openai.com/v1/chat/completions"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/json"),
        (b"User-Agent", UA),
        (b"Authorization", b"Bearer sk-test"),
    ]
    assert http.body == (
        b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],'
        b'"temperature":0.2,"max_tokens":5}'
    )


def test_build_request_golden_stream() -> None:
    http = PROVIDER.build_request(
        request(stream=True),
        Credentials(base_url="https://api.openai.com/v1", api_key="sk-test"),
        {},
    )
    assert http.method == b"POST"
    assert http.url == "https://api.openai.com/v1/chat/completions"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"text/event-stream"),
        (b"User-Agent", UA),
        (b"Authorization", b"Bearer sk-test"),
    ]
    assert http.body == (
        b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],'
        b'"temperature":0.2,"max_tokens":5,"stream":true}'
    )


@pytest.mark.parametrize("key", [None, ""])
def test_build_request_without_key_sends_no_authorization(key: str | None) -> None:
    http = PROVIDER.build_request(
        request(), Credentials(base_url="http://127.0.0.1:8080/v1", api_key=key), {}
    )
    assert http.url == "http://127.0.0.1:8080/v1/chat/completions"
    assert http.headers == [
        (b"Content-Type", b"application/json"),
        (b"Accept", b"application/json"),
        (b"User-Agent", UA),
    ]
    assert not any(name.lower() == b"authorization" for name, _ in http.headers)


def test_build_request_appends_static_provider_headers() -> None:
    c = Credentials(base_url="http://h/v1", api_key="k", headers=((b"X-Title", b"app"),))
    http = PROVIDER.build_request(request(), c, {})
    assert http.headers[-2:] == [(b"Authorization", b"Bearer k"), (b"X-Title", b"app")]


def test_build_request_params_pass_through_in_order() -> None:
    params = {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "stream_options": {"include_usage": True},
        "seed": 7,
        "top_p": 1,
        "logit_bias": {"50256": -100},
        "user": None,
    }
    http = PROVIDER.build_request(
        request(stream=True, params=params), Credentials(base_url="http://h/v1"), {}
    )
    assert http.body == (
        b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],'
        b'"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],'
        b'"stream_options":{"include_usage":true},"seed":7,"top_p":1,'
        b'"logit_bias":{"50256":-100},"user":null,"stream":true}'
    )
    assert list(json.loads(http.body)) == [
        "model",
        "messages",
        "tools",
        "stream_options",
        "seed",
        "top_p",
        "logit_bias",
        "user",
        "stream",
    ]


def test_build_request_keeps_non_ascii_as_utf8() -> None:
    req = CompletionRequest(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "héllo ☃ 👋 日本"}],
        params={},
    )
    body = PROVIDER.build_request(req, Credentials(base_url="http://h/v1"), {}).body
    assert body == (
        b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
        + "héllo ☃ 👋 日本".encode()
        + b'"}]}'
    )
    assert b"\\u" not in body
    assert json.loads(body)["messages"][0]["content"] == "héllo ☃ 👋 日本"


# --- parse_completion -----------------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
}


def test_parse_completion_valid_body() -> None:
    r = PROVIDER.parse_completion(200, {}, json.dumps(COMPLETION).encode(), req=request(), now=0)
    assert type(r) is ModelResponse
    assert r == COMPLETION
    assert r["choices"][0]["message"]["content"] == "Hello! How can I assist you today?"
    assert r.choices[0].message.content == "Hello! How can I assist you today?"
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert isinstance(r.choices[0], AttrDict)
    assert r.choices[0].message.tool_calls is None


def test_parse_completion_accepts_empty_choices_list() -> None:
    r = PROVIDER.parse_completion(200, {}, b'{"id":"x","choices":[]}', req=request(), now=0)
    assert r == {"id": "x", "choices": []}


HTML = b"<html>\n<body><h1>Welcome to nginx!</h1></body>\n</html>"


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"", {}, "response with an empty body (no content type)"),
        (
            HTML,
            {"content-type": "text/html"},
            "response with a body that is not JSON (text/html): "
            "'<html> <body><h1>Welcome to nginx!</h1></body> </html>'",
        ),
        (
            b"\xff\xfe{}",
            {},
            "response with a body that is not JSON (no content type): '\ufffd\ufffd{}'",
        ),
        (b"[1, 2]", {}, "response is not a chat.completion object: '[1, 2]'"),
        (b'"ok"', {}, "response is not a chat.completion object: '\"ok\"'"),
        (b'{"id":"x"}', {}, 'response is not a chat.completion object: \'{"id":"x"}\''),
        (
            b'{"choices":{"0":1}}',
            {},
            'response is not a chat.completion object: \'{"choices":{"0":1}}\'',
        ),
    ],
)
def test_parse_completion_invalid_bodies(
    body: bytes, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        PROVIDER.parse_completion(
            200, {**headers, "x-request-id": "req_9"}, body, req=request(), now=0
        )
    err = info.value
    assert err.message == message
    assert err.status_code == 200
    assert err.provider == "openai"
    assert err.request_id == "req_9"


def test_parse_completion_error_body_with_2xx_status() -> None:
    body = (
        b'{"error":{"code":400,"message":"request (4390 tokens) exceeds the available context '
        b'size (4096 tokens), try increasing it","type":"exceed_context_size_error",'
        b'"n_prompt_tokens":4390,"n_ctx":4096}}'
    )
    with pytest.raises(ritellm.ContextWindowExceededError) as info:
        PROVIDER.parse_completion(200, {"x-request-id": "r"}, body, req=request(), now=0)
    assert info.value.status_code == 200
    assert info.value.type == "exceed_context_size_error"
    assert info.value.provider == "openai"
    assert info.value.request_id == "r"
    assert info.value.message.startswith("request (4390 tokens) exceeds")


def test_parse_completion_generic_error_body_with_2xx_status() -> None:
    body = b'{"error":{"message":"upstream failed","type":"server_error","code":null}}'
    with pytest.raises(ritellm.APIError) as info:
        PROVIDER.parse_completion(200, {}, body, req=request(), now=0)
    assert type(info.value) is ritellm.APIError
    assert info.value.message == "upstream failed"
    assert info.value.type == "server_error"


# --- OpenAIStreamDecoder --------------------------------------------------------------------


def sse(*events: str) -> bytes:
    return b"".join(f"data: {e}\n\n".encode() for e in events)


_HEAD = (
    '{"id":"chatcmpl-BwoiPTGRbKkY5rncfaM0s9KtWrq5N","object":"chat.completion.chunk",'
    '"created":1753357673,"model":"gpt-4.1-2025-04-14","service_tier":"default",'
    '"system_fingerprint":"fp_51e1070cf2",'
)
TEXT_EVENTS = [
    _HEAD + '"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
    '"logprobs":null,"finish_reason":null}],"usage":null}',
    _HEAD + '"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,'
    '"finish_reason":null}],"usage":null}',
    _HEAD + '"choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,'
    '"finish_reason":null}],"usage":null}',
    _HEAD + '"choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,'
    '"finish_reason":null}],"usage":null}',
    _HEAD + '"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
    '"usage":null}',
    _HEAD + '"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,'
    '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
    '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}',
]
TEXT_STREAM = sse(*TEXT_EVENTS, "[DONE]")
TEXT_CHUNKS = [json.loads(e) for e in TEXT_EVENTS]


def splits(data: bytes) -> Iterator[list[bytes]]:
    """All at once, one byte at a time, and every two-piece split."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def decode(pieces: list[bytes], **kwargs: Any) -> tuple[list[ModelResponseStream], bool]:
    decoder = OpenAIStreamDecoder("openai", **kwargs)
    chunks: list[ModelResponseStream] = []
    for piece in pieces:
        chunks.extend(decoder.feed(piece))
    done = decoder.done
    chunks.extend(decoder.close())
    return chunks, done


def assert_every_split(data: bytes, expected: list[dict[str, Any]], *, done: bool) -> None:
    for pieces in splits(data):
        assert decode(pieces) == (expected, done), pieces


def test_stream_transcript_under_every_split() -> None:
    assert_every_split(TEXT_STREAM, TEXT_CHUNKS, done=True)


def test_stream_chunks_have_dual_access() -> None:
    chunks, _ = decode([TEXT_STREAM])
    assert all(type(c) is ModelResponseStream for c in chunks)
    assert chunks[1].choices[0].delta.content == "Hello"
    assert chunks[1]["choices"][0]["delta"]["content"] == "Hello"
    assert chunks[5].usage.total_tokens == 15
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Hello there!"
    )


def test_stream_done_only_after_done_marker() -> None:
    decoder = OpenAIStreamDecoder("openai")
    before, marker = TEXT_STREAM.split(b"data: [DONE]")
    assert len(decoder.feed(before)) == 6
    assert decoder.done is False
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.done is False  # the event is not complete until its blank line
    assert decoder.feed(marker) == []
    assert decoder.done is True
    assert decoder.close() == []


def test_events_after_done_are_ignored() -> None:
    data = sse(TEXT_EVENTS[1], "[DONE]", TEXT_EVENTS[2], '{"error":{"message":"late"}}', "{bad")
    assert_every_split(data, [json.loads(TEXT_EVENTS[1])], done=True)


@pytest.mark.parametrize("cut", [1, 3, 4])
def test_truncated_stream_raises_on_close(cut: int) -> None:
    data = sse(*TEXT_EVENTS[:cut])
    for extra in (b"", b'data: {"choi'):
        decoder = OpenAIStreamDecoder("openai")
        assert decoder.feed(data + extra) == TEXT_CHUNKS[:cut]
        with pytest.raises(ritellm.StreamError, match="truncated") as info:
            decoder.close()
        assert info.value.provider == "openai"
        assert info.value.status_code is None


def test_empty_body_is_truncated() -> None:
    decoder = OpenAIStreamDecoder("openai")
    with pytest.raises(ritellm.StreamError, match="truncated"):
        decoder.close()


def test_finish_reason_without_done_is_not_an_error() -> None:
    # Servers that close right after the finish chunk (or its usage chunk) are complete.
    assert_every_split(sse(*TEXT_EVENTS[:5]), TEXT_CHUNKS[:5], done=False)
    assert_every_split(sse(*TEXT_EVENTS), TEXT_CHUNKS, done=False)


def feed_until_error(pieces: list[bytes]) -> tuple[list[ModelResponseStream], ritellm.StreamError]:
    decoder = OpenAIStreamDecoder("openai")
    chunks: list[ModelResponseStream] = []
    try:
        for piece in pieces:
            chunks.extend(decoder.feed(piece))
        chunks.extend(decoder.close())
    except ritellm.StreamError as exc:
        return chunks, exc
    raise AssertionError("no StreamError")


OPENAI_INBAND = (
    '{"error": {"message": "The server had an error while processing your request. Sorry about '
    'that!", "type": "server_error"}}'
)


def test_in_band_error_raises_with_provider_message_and_type() -> None:
    _, err = feed_until_error([sse(OPENAI_INBAND)])
    assert type(err) is ritellm.StreamError
    assert err.message == (
        "The server had an error while processing your request. Sorry about that!"
    )
    assert err.type == "server_error"
    assert err.status_code is None
    assert err.provider == "openai"
    assert err.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
    }


def test_in_band_error_keeps_the_chunks_before_it_under_every_split() -> None:
    # The chunks that arrived before the error must reach the caller whatever the network
    # reads were: the decoder's "any split gives the same chunks" contract.
    data = sse(TEXT_EVENTS[0], TEXT_EVENTS[1], OPENAI_INBAND)
    for pieces in splits(data):
        chunks, err = feed_until_error(pieces)
        assert chunks == TEXT_CHUNKS[:2], pieces
        assert err.type == "server_error"


def test_in_band_error_openrouter_and_vllm_shapes() -> None:
    openrouter = (
        '{"error":{"code":502,"message":"Network connection lost.",'
        '"metadata":{"error_type":"provider_unavailable"}}}'
    )
    _, err = feed_until_error([sse(openrouter)])
    assert (err.message, err.code, err.type) == ("Network connection lost.", "502", None)
    vllm = '{"error":{"object":"error","message":"boom","type":"InternalServerError","code":500}}'
    _, err = feed_until_error([sse(vllm, "[DONE]")])
    assert (err.message, err.type, err.code) == ("boom", "InternalServerError", "500")
    _, err = feed_until_error([sse('{"error":"plain text"}')])
    assert err.message == "plain text"


def test_event_error_raises() -> None:
    data = (
        b"event: error\n"
        b'data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
        b"\n\n"
    )
    _, err = feed_until_error([data])
    assert (err.message, err.type) == ("Overloaded", "overloaded_error")
    _, err = feed_until_error([b"event: error\ndata: {}\n\n"])
    assert err.message == "An error occurred during streaming"


def test_malformed_json_raises_with_snippet() -> None:
    data = sse(TEXT_EVENTS[0]) + b'data: {"choices":[{"index":0,"delta":{"content":"x"\n\n'
    _, err = feed_until_error([data])
    assert err.message == (
        'malformed JSON in stream event: \'{"choices":[{"index":0,"delta":{"content":"x"\''
    )
    assert err.body == '{"choices":[{"index":0,"delta":{"content":"x"'
    assert err.provider == "openai"


def test_malformed_json_snippet_is_short() -> None:
    _, err = feed_until_error([sse("{" + "x" * 5000)])
    assert len(err.message) < 300
    assert err.message.startswith("malformed JSON in stream event: '{xxx")


@pytest.mark.parametrize("payload", ["[1,2]", '"text"', "null", "42", "true"])
def test_non_object_event_raises(payload: str) -> None:
    _, err = feed_until_error([sse(payload)])
    assert err.message == f"stream event is not a JSON object: {payload!r}"


@pytest.mark.parametrize(
    "payload",
    ['{"choices":"oops"}', '{"choices":[1]}', '{"choices":[null]}', '{"choices":{"index":0}}'],
)
def test_malformed_choices_raise_stream_error(payload: str) -> None:
    # A chunk whose "choices" is not a list of objects must fail as a ritellm.StreamError,
    # never as a bare AttributeError/TypeError from inside the decoder.
    _, err = feed_until_error([sse(payload)])
    assert err.provider == "openai"


def test_keep_alive_comments_crlf_and_split_data_lines() -> None:
    first, finish = TEXT_EVENTS[1], TEXT_EVENTS[4]
    cut = first.index('"choices"')
    data = (
        b": OPENROUTER PROCESSING\r\n\r\n"
        + b"data: "
        + first[:cut].encode()
        + b"\r\ndata: "
        + first[cut:].encode()
        + b"\r\n\r\n: keep-alive\r\n"
        + b"data:"
        + finish.encode()
        + b"\r\n\r\n"
        + b"data: [DONE]\r\n\r\n"
    )
    assert_every_split(data, [json.loads(first), json.loads(finish)], done=True)


def test_unknown_fields_are_kept_and_tolerated() -> None:
    groq_finish = (
        '{"id":"chatcmpl-8566e76f","object":"chat.completion.chunk","created":1716131679,'
        '"model":"llama3-8b-8192","system_fingerprint":"fp_179b0f92c9","choices":[{"index":0,'
        '"delta":{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_01hy8",'
        '"usage":{"queue_time":0.075,"prompt_tokens":23,"completion_tokens":19,'
        '"total_tokens":42}}}'
    )
    obfuscated = (
        '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        '"delta":{"content":"Hi","tool_calls":[]},"finish_reason":null,'
        '"native_finish_reason":null}],"obfuscation":"q3Xz","provider":"Azure"}'
    )
    data = sse(obfuscated, groq_finish, "[DONE]")
    assert_every_split(data, [json.loads(obfuscated), json.loads(groq_finish)], done=True)
    chunks, _ = decode([data])
    assert chunks[1].x_groq.usage.total_tokens == 42
    assert chunks[0].obfuscation == "q3Xz"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"content":"caf\xc3 ok \xff"},'
        b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    for pieces in splits(data):
        chunks, done = decode(pieces)
        assert done
        assert chunks[0].choices[0].delta.content == "caf\ufffd ok \ufffd"


def test_multibyte_characters_split_anywhere() -> None:
    event = '{"choices":[{"index":0,"delta":{"content":"日本語 👋"},"finish_reason":"stop"}]}'
    assert_every_split(sse(event, "[DONE]"), [json.loads(event)], done=True)


def test_event_larger_than_max_event_bytes_raises() -> None:
    big = '{"choices":[{"index":0,"delta":{"content":"' + "a" * 200 + '"}}]}'
    for pieces in ([sse(big)], [sse(big)[:70], sse(big)[70:]]):
        decoder = OpenAIStreamDecoder("openai", max_event_bytes=128)
        for piece in pieces[:-1]:
            assert decoder.feed(piece) == []
        with pytest.raises(ritellm.StreamError, match="max_line_bytes=128") as info:
            decoder.feed(pieces[-1])
        assert info.value.provider == "openai"
    # Many short data lines adding up to more than the limit.
    decoder = OpenAIStreamDecoder("openai", max_event_bytes=128)
    with pytest.raises(ritellm.StreamError, match="max_line_bytes=128"):
        decoder.feed(b"data: 0123456789\n" * 20)


def test_event_at_the_limit_is_accepted() -> None:
    event = '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
    line = len(f"data: {event}")  # the limit counts the whole line, field name included
    chunks, done = decode([sse(event, "[DONE]")], max_event_bytes=line)
    assert (chunks, done) == ([json.loads(event)], True)
    with pytest.raises(ritellm.StreamError, match=f"max_line_bytes={line - 1}"):
        decode([sse(event, "[DONE]")], max_event_bytes=line - 1)


def test_provider_stream_decoder_is_fresh_and_named() -> None:
    provider = get_provider(PROVIDERS["groq"])
    first, second = (
        provider.stream_decoder(request(), now=0, max_event_bytes=1 << 20),
        provider.stream_decoder(request(), now=0, max_event_bytes=1 << 20),
    )
    assert first is not second
    with pytest.raises(ritellm.StreamError) as info:
        first.feed(sse(OPENAI_INBAND))
    assert info.value.provider == "groq"
    assert second.feed(sse(TEXT_EVENTS[4], "[DONE]")) == [TEXT_CHUNKS[4]]
