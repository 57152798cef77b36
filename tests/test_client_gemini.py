"""Gemini end to end: ritellm's client and transport against the simulator on asyncio and trio.

This file: the shared helpers, URL, headers and credentials, text (whole and streamed), the
request mapping, SSE framing and secrets. Parameters, tools, images and errors are in
test_client_gemini_{params,tools,media,errors}.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio
import pytest

import ritellm
import ritellm._transport
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = pytest.mark.anyio

KEY = "gm-canary-Zq8xK3v9Lw2"
MODEL = "gemini/gemini-2.5-flash"
WIRE = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{WIRE}:generateContent"
STREAM = f"/v1beta/models/{WIRE}:streamGenerateContent"
MSGS = [{"role": "user", "content": "Hello there"}]
HELLO = {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
USAGE = {"include_usage": True}


# -- shared by the test_client_gemini_*.py files -----------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator that insists on KEY (the Gemini way: x-goog-api-key or ?key=)."""
    async with Simulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    """A client aimed at the simulator's root; every test checks the pool is clean after."""
    async with ritellm.AsyncClient(base_url=sim.url, api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


async def complete(
    client: ritellm.AsyncClient,
    messages: Sequence[Mapping[str, Any]] | None = None,
    model: str = MODEL,
    **kwargs: Any,
) -> ritellm.ModelResponse:
    with anyio.fail_after(10):
        response: ritellm.ModelResponse = await client.acompletion(
            model, messages or MSGS, **kwargs
        )
    return response


async def collect(
    client: ritellm.AsyncClient,
    messages: Sequence[Mapping[str, Any]] | None = None,
    model: str = MODEL,
    **kwargs: Any,
) -> list[ritellm.ModelResponseStream]:
    with anyio.fail_after(10):
        stream = await client.acompletion(model, messages or MSGS, stream=True, **kwargs)
        async with stream:
            return [chunk async for chunk in stream]


def plain(value: object) -> Any:
    """Plain JSON data (AttrDicts compare equal to dicts, but diffs read better this way)."""
    return json.loads(json.dumps(value))


def deltas(chunks: list[ritellm.ModelResponseStream]) -> list[Any]:
    """Each chunk as (delta, finish_reason), or ("usage", usage) for the usage chunk; also
    checks that id, created and model are the same on every chunk."""
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1
    out: list[Any] = []
    for c in chunks:
        if c.choices:
            [choice] = c.choices
            out.append((plain(choice.delta), choice.finish_reason))
        else:
            out.append(("usage", plain(c.usage)))
    return out


def without(response: Mapping[str, Any], *names: str) -> Any:
    return {k: v for k, v in plain(response).items() if k not in names}


def sse_reply(*events: object) -> Reply:
    """A raw SSE body of these JSON events, CRLF-framed as Gemini sends it."""
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)
    return Reply(body=body, content_type="text/event-stream")


def assert_rebuilds(
    chunks: list[ritellm.ModelResponseStream], whole: ritellm.ModelResponse
) -> None:
    """stream_chunk_builder(stream) == the non-streamed response, minus `created` (and `id`:
    the simulator numbers its responses, so two requests never share one)."""
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert without(rebuilt, "created", "id") == without(whole, "created", "id")


# -- URL, headers, credentials -------------------------------------------------------------------


async def test_non_stream_text_request_and_response(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await complete(client)
    assert without(r, "created") == {
        "id": "sim00000000000000000001",
        "object": "chat.completion",
        "model": WIRE,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 9, "total_tokens": 11},
    }
    assert r.choices[0].message.content == ANSWER  # attribute access at every level
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.query) == ("POST", GENERATE, "")
    assert rec.headers["x-goog-api-key"] == KEY
    assert rec.headers["content-type"] == "application/json"
    assert rec.headers["accept"] == "application/json"
    assert rec.headers["user-agent"].startswith("ritellm/")
    assert "authorization" not in rec.headers
    assert rec.json == HELLO


async def test_stream_exact_chunks_and_request(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="Roses are red."))
    chunks = await collect(client, stream_options=USAGE)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Roses "}, None),
        ({"content": "are "}, None),
        ({"content": "red."}, None),
        ({}, "stop"),
        ("usage", {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}),
    ]
    assert (chunks[0].id, chunks[0].model) == ("sim00000000000000000001", WIRE)
    assert chunks[0].object == "chat.completion.chunk"
    [rec] = sim.requests
    assert (rec.path, rec.query) == (STREAM, "alt=sse")
    assert rec.headers["x-goog-api-key"] == KEY
    assert rec.headers["accept"] == "text/event-stream"
    assert rec.json == HELLO  # no stream flag, no stream_options in Gemini's body


async def test_stream_rebuilds_to_the_non_streamed_response(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="One two three."), Reply(content="One two three."))
    whole = await complete(client, temperature=0.5)
    chunks = await collect(client, temperature=0.5, stream_options=USAGE)
    assert_rebuilds(chunks, whole)
    assert sim.requests[0].json == sim.requests[1].json


@pytest.mark.parametrize("model", ["gemini-2.0-flash", "gemini/gemini-2.0-flash"])
async def test_bare_gemini_model_routes_to_gemini(
    sim: Simulator, client: ritellm.AsyncClient, model: str
) -> None:
    r = await complete(client, model=model)
    assert r.model == "gemini-2.0-flash"
    assert sim.requests[-1].path == "/v1beta/models/gemini-2.0-flash:generateContent"


@pytest.mark.parametrize("suffix", ["/v1beta", "/v1", "/v1/", "/"])
async def test_base_url_naming_an_api_version_is_used_as_is(sim: Simulator, suffix: str) -> None:
    async with ritellm.AsyncClient(base_url=sim.url + suffix, api_key=KEY) as c:
        await complete(c)
        await collect(c)
        assert_pool_clean(c)
    version = suffix.strip("/") or "v1beta"
    assert [(r.path, r.query) for r in sim.requests] == [
        (f"/{version}/models/{WIRE}:generateContent", ""),
        (f"/{version}/models/{WIRE}:streamGenerateContent", "alt=sse"),
    ]


@pytest.mark.parametrize(
    ("env", "sent"),
    [
        ({"GEMINI_API_KEY": KEY}, KEY),
        ({"GOOGLE_API_KEY": KEY}, KEY),
        ({"GEMINI_API_KEY": KEY, "GOOGLE_API_KEY": "other-key"}, KEY),  # GEMINI_ first
    ],
    ids=["gemini", "google", "both"],
)
async def test_key_and_base_from_the_environment(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], sent: str
) -> None:
    monkeypatch.setenv("GEMINI_API_BASE", sim.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    async with ritellm.AsyncClient() as c:
        r = await complete(c)
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    [rec] = sim.requests
    assert rec.headers["x-goog-api-key"] == sent
    assert rec.query == ""


async def test_argument_key_wins_over_the_environment(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "env-key-not-used")
    monkeypatch.setenv("GEMINI_API_BASE", "http://127.0.0.1:9")  # never contacted
    async with ritellm.AsyncClient() as c:
        await complete(c, api_key=KEY, base_url=sim.url)
        assert_pool_clean(c)
    assert sim.requests[-1].headers["x-goog-api-key"] == KEY


@pytest.mark.parametrize("stream", [False, True])
async def test_default_base_without_key_fails_before_any_io(
    monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    sent: list[object] = []

    async def no_io(self: object, request: object, timeout: object) -> None:
        sent.append(request)
        raise AssertionError("no request may be sent")

    monkeypatch.setattr(ritellm._transport.Transport, "send", no_io)
    async with ritellm.AsyncClient() as c:
        with anyio.fail_after(10), pytest.raises(ritellm.AuthenticationError) as info:
            await c.acompletion(MODEL, MSGS, stream=stream)
    assert sent == []
    assert str(info.value) == (
        "gemini: No API key for provider 'gemini': pass api_key=... or set GEMINI_API_KEY or "
        "GOOGLE_API_KEY"
    )
    assert info.value.status_code is None


async def test_custom_base_without_key_sends_no_key(sim: Simulator) -> None:
    # No key is required with a custom base URL; the simulator then answers Google's 403.
    async with ritellm.AsyncClient(base_url=sim.url) as c:
        with pytest.raises(ritellm.PermissionDeniedError) as info:
            await complete(c)
        assert_pool_clean(c)
    assert "x-goog-api-key" not in sim.requests[-1].headers
    assert info.value.status_code == 403
    assert info.value.message.startswith("Method doesn't allow unregistered callers")


# -- the request mapping -------------------------------------------------------------------------


async def test_system_instruction_roles_and_same_role_merging(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "First question."},
        {"role": "user", "content": [{"type": "text", "text": "Second part."}]},
        {"role": "assistant", "content": "An answer."},
        {"role": "developer", "content": "Use metric units."},
        {"role": "assistant", "content": "More of it."},
        {"role": "user", "content": "Thanks!"},
    ]
    await complete(client, messages)
    assert sim.requests[-1].json == {
        "systemInstruction": {"parts": [{"text": "Be terse."}, {"text": "Use metric units."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "First question."}, {"text": "Second part."}]},
            {"role": "model", "parts": [{"text": "An answer."}, {"text": "More of it."}]},
            {"role": "user", "parts": [{"text": "Thanks!"}]},
        ],
    }


@pytest.mark.parametrize(
    ("params", "config"),
    [
        (
            {"temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "stop": ["\n\n", "END"]},
            {
                "temperature": 0.2,
                "topP": 0.9,
                "maxOutputTokens": 50,
                "stopSequences": ["\n\n", "END"],
            },
        ),
        (
            {"n": 1, "seed": 7, "stop": "END"},
            {"stopSequences": ["END"], "candidateCount": 1, "seed": 7},
        ),
        ({"max_completion_tokens": 64, "top_k": 40}, {"topK": 40, "maxOutputTokens": 64}),
        (
            {"presence_penalty": 0.5, "frequency_penalty": 0.25},
            {"presencePenalty": 0.5, "frequencyPenalty": 0.25},
        ),
        (
            {"temperature": 1.0, "generationConfig": {"temperature": 0.3, "topK": 3}},
            {"temperature": 0.3, "topK": 3},  # Gemini's own generationConfig wins
        ),
    ],
    ids=["sampling", "renamed", "max-completion", "penalties", "native"],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_generation_config_mapping(
    sim: Simulator,
    client: ritellm.AsyncClient,
    params: dict[str, Any],
    config: dict[str, Any],
    stream: bool,
) -> None:
    if stream:
        await collect(client, **params)
    else:
        await complete(client, **params)
    body = sim.requests[-1].json
    assert body == {**HELLO, "generationConfig": config}
    assert list(body["generationConfig"]) == list(config)


async def test_max_tokens_cut_is_finish_reason_length(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="one two three four"), Reply(content="one two three four"))
    whole = await complete(client, max_tokens=2)
    chunks = await collect(client, max_tokens=2, stream_options=USAGE)
    assert (whole.choices[0].message.content, whole.choices[0].finish_reason) == (
        "one two ",
        "length",
    )
    assert deltas(chunks)[-2:] == [
        ({}, "length"),
        ("usage", {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}),
    ]
    assert_rebuilds(chunks, whole)


# -- framing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        {"crlf": True},
        {"crlf": True, "keepalive_comments": True, "split_data_lines": True},
        {"canned": True, "crlf": True},
        {"extra_fields": True},
    ],
    ids=["crlf", "crlf-comments-split", "one-write", "unknown-fields"],
)
async def test_sse_framing_variants(
    sim: Simulator, client: ritellm.AsyncClient, framing: dict[str, Any]
) -> None:
    sim.script(Reply(content="Roses are red.", **framing))
    chunks = await collect(client)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Roses "}, None),
        ({"content": "are "}, None),
        ({"content": "red."}, None),
        ({}, "stop"),
    ]


async def test_drip_one_byte_at_a_time(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="Hi you.", fault="drip", delay=0.0, crlf=True))
    chunks = await collect(client)
    assert [d for d, _ in deltas(chunks)] == [
        {"role": "assistant", "content": "Hi "},
        {"content": "you."},
        {},
    ]


# -- secrets -------------------------------------------------------------------------------------


async def test_key_never_in_errors_logs_urls_or_reprs(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    records: list[dict[str, Any]] = []
    echoed = f"API key {KEY} has no access to {WIRE}."
    sim.script(
        Reply(status=403, error_message=echoed),
        Reply(content="all fine", fault="stream_error", error_after=1, error_message=echoed),
    )
    with pytest.raises(ritellm.PermissionDeniedError) as info:
        await complete(client, logger_fn=records.append)
    err = info.value
    assert err.message == f"API key *** has no access to {WIRE}."
    with pytest.raises(ritellm.StreamError) as stream_info:
        await collect(client, logger_fn=records.append)
    stream_err = stream_info.value
    assert stream_err.message == f"API key *** has no access to {WIRE}."
    assert [r["url"] for r in records] == [
        f"{sim.url}{GENERATE}",
        f"{sim.url}{STREAM}?alt=sse",
    ]
    assert [r["headers"]["x-goog-api-key"] for r in records] == ["***", "***"]
    for shown in (
        str(err),
        repr(err),
        repr(err.body),
        repr(err.headers),
        str(stream_err),
        repr(stream_err),
        repr(stream_err.body),
        repr(records),
        repr(client),
    ):
        assert KEY not in shown
    assert all(KEY not in r.query for r in sim.requests)
    with anyio.fail_after(10):
        async with await client.acompletion(MODEL, MSGS, stream=True) as stream:
            assert KEY not in repr(stream)


async def test_wrong_key_error_does_not_show_either_key(sim: Simulator) -> None:
    wrong = "gm-wrong-canary-8c1d2e3f"
    async with ritellm.AsyncClient(base_url=sim.url, api_key=wrong) as c:
        with pytest.raises(ritellm.AuthenticationError) as info:
            await complete(c)
        stream = None
        with pytest.raises(ritellm.AuthenticationError):
            stream = await c.acompletion(MODEL, MSGS, stream=True)
        assert stream is None
        assert_pool_clean(c)
    for shown in (str(info.value), repr(info.value), repr(info.value.body), repr(c)):
        assert wrong not in shown and KEY not in shown
    assert [r.headers["x-goog-api-key"] for r in sim.requests] == [wrong, wrong]
