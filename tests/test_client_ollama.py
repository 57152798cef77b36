"""Ollama end to end: ritellm's client and transport against the simulator's native
``/api/chat`` (wire-formats §6) over loopback, on asyncio and trio — the request at the server,
whole and NDJSON-streamed answers with the exact chunks, tools and thinking, errors (HTTP,
in-band, truncated, malformed, an error in a 2xx), retries, credentials from arguments and
the environment, and images."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio
import anyio.abc
import h11
import pytest

import ritellm
import ritellm._attempts
import ritellm._retry
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MODEL = "ollama/llama3.2"
WIRE = "llama3.2"
MSGS: list[dict[str, Any]] = [{"role": "user", "content": "Hello there"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
# The answer as the simulator streams it: word-ish tokens, one NDJSON line each.
TOKENS = ["Hello ", "from ", "the ", "ritellm ", "simulator! ", "You ", "said: ", "Hello ", "there"]
USAGE = {"prompt_tokens": 2, "completion_tokens": 9, "total_tokens": 11}
FAST = {"retry-after-ms": "1"}  # keeps the backoff short; the count is what is checked
KEY = "ollama-cloud-CANARY-0123456789"
RID = re.compile(r"chatcmpl-[0-9a-f]{24}")
RUNNER = "an error was encountered while running the model"
NOT_FOUND = f"model '{WIRE}' not found (pull it first: ollama pull {WIRE})"
TRUNCATED = 'stream ended before the final line with "done": true (the response was truncated)'
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    """A client aimed at the simulator's root (Ollama's base URL has no /v1)."""
    async with ritellm.AsyncClient(base_url=sim.url) as c:
        yield c
        assert_pool_clean(c)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries back off 1 ms: an error in a 2xx is retried without reading its Retry-After
    (FAST), so the default ~0.5 s would make these tests slow; the counts are what matter."""
    real = ritellm._retry.backoff

    def quick(attempt: int, hint: float | None, rng: Any, policy: Any) -> float | None:
        delay = real(attempt, hint, rng, policy)
        return None if delay is None else min(delay, 0.001)

    monkeypatch.setattr(ritellm._attempts, "backoff", quick)


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
    return json.loads(json.dumps(value))


def deltas(chunks: list[ritellm.ModelResponseStream]) -> list[Any]:
    """Each chunk as (delta, finish_reason), or ("usage", usage) for the usage chunk; also
    checks that id, created, model and object are the same on every chunk."""
    assert len({(c.id, c.created, c.model, c.object) for c in chunks}) == 1
    out: list[Any] = []
    for c in chunks:
        if c.choices:
            [choice] = c.choices
            assert (choice.index, choice.logprobs) == (0, None)
            out.append((plain(choice.delta), choice.finish_reason))
        else:
            out.append(("usage", plain(c.usage)))
    return out


def text_deltas(tokens: Sequence[str]) -> list[Any]:
    first, *rest = tokens
    return [
        ({"role": "assistant", "content": first}, None),
        *[({"content": t}, None) for t in rest],
    ]


def without(response: Mapping[str, Any], *names: str) -> Any:
    return {k: v for k, v in plain(response).items() if k not in names}


# -- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [MODEL, f"ollama_chat/{WIRE}"])
async def test_non_streamed_answer_and_request(
    sim: Simulator, client: ritellm.AsyncClient, model: str
) -> None:
    r = await complete(client, model=model)
    assert RID.fullmatch(r.id)
    assert without(r, "id", "created") == {
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
        "usage": USAGE,
    }
    assert r.choices[0].message.content == ANSWER  # attribute access
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.query) == ("POST", "/api/chat", "")
    assert rec.headers["content-type"] == "application/json"
    assert rec.headers["accept"] == "application/json"
    assert rec.headers["user-agent"].startswith("ritellm/")
    assert "authorization" not in rec.headers  # no key needed, none sent
    assert rec.body == (
        b'{"model":"llama3.2","messages":[{"role":"user","content":"Hello there"}],"stream":false}'
    )


@pytest.mark.parametrize("include_usage", [True, False])
async def test_streamed_answer_exact_chunks(
    sim: Simulator, client: ritellm.AsyncClient, include_usage: bool
) -> None:
    options: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = await collect(client, **options)
    expected = [*text_deltas(TOKENS), ({}, "stop")]
    assert deltas(chunks) == ([*expected, ("usage", USAGE)] if include_usage else expected)
    assert RID.fullmatch(chunks[0].id)
    assert (chunks[0].model, chunks[0].object) == (WIRE, "chat.completion.chunk")
    [rec] = sim.requests
    assert rec.path == "/api/chat"
    assert rec.headers["accept"] == "application/x-ndjson"
    assert rec.json == {"model": WIRE, "messages": MSGS, "stream": True}


async def test_a_stream_dripped_one_byte_per_write_gives_the_same_chunks(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Every line split at every byte on the wire, through the real transport.
    sim.script(Reply(content="Hi there", fault="drip", delay=0.0001))
    chunks = await collect(client)
    assert deltas(chunks) == [*text_deltas(["Hi ", "there"]), ({}, "stop")]


async def test_stream_rebuilds_to_the_non_streamed_answer(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    reply = Reply(content="Rayleigh scattering, mostly.", reasoning="Physics question.")
    sim.script(reply, reply)
    whole = await complete(client, reasoning_effort="low")
    chunks = await collect(client, reasoning_effort="low", stream_options={"include_usage": True})
    assert deltas(chunks) == [
        ({"role": "assistant", "reasoning_content": "Physics "}, None),
        ({"reasoning_content": "question."}, None),
        ({"content": "Rayleigh "}, None),
        ({"content": "scattering, "}, None),
        ({"content": "mostly."}, None),
        ({}, "stop"),
        ("usage", {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}),
    ]
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    # Each response's id comes from its own bytes (Ollama sends none).
    assert without(rebuilt, "id", "created") == without(whole, "id", "created")
    assert whole.choices[0].message.reasoning_content == "Physics question."
    assert sim.requests[0].json["think"] == "low"
    assert {**sim.requests[0].json, "stream": True} == sim.requests[1].json


async def test_the_request_body_at_the_server(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await complete(
        client,
        [{"role": "system", "content": "Be terse."}, *MSGS],
        model=f"ollama_chat/{WIRE}",
        temperature=0.2,
        max_tokens=50,
        stop=["\n\n"],
        seed=42,
        num_ctx=4096,
        keep_alive="10m",
        response_format={"type": "json_object"},
        reasoning_effort="none",
        tools=[WEATHER],
        tool_choice="auto",
        options={"top_k": 20},
        timeout=10,  # ritellm's own options never reach the body
        num_retries=0,
    )
    [rec] = sim.requests
    assert (
        rec.body
        == json.dumps(
            {
                "model": WIRE,
                "messages": [{"role": "system", "content": "Be terse."}, *MSGS],
                "tools": [WEATHER],
                "format": "json",
                "think": False,
                "options": {
                    "temperature": 0.2,
                    "seed": 42,
                    "num_predict": 50,
                    "stop": ["\n\n"],
                    "num_ctx": 4096,
                    "top_k": 20,
                },
                "keep_alive": "10m",
                "stream": False,
            },
            separators=(",", ":"),
        ).encode()
    )


async def test_num_predict_cuts_the_answer(sim: Simulator, client: ritellm.AsyncClient) -> None:
    r = await complete(client, max_tokens=3)
    assert r.choices[0].message.content == "Hello from the "
    assert r.choices[0].finish_reason == "length"
    chunks = await collect(client, max_completion_tokens=2)
    assert deltas(chunks) == [*text_deltas(TOKENS[:2]), ({}, "length")]
    assert [rec.json["options"] for rec in sim.requests] == [{"num_predict": 3}, {"num_predict": 2}]


# -- tools and thinking ------------------------------------------------------------------------

CALLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_weather", "arguments": '{"city": "Rome"}', "id": "call_rome"},
]


async def test_tool_calls_and_thinking_non_streamed(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(tool_calls=CALLS, reasoning="Two cities."))
    r = await complete(client, tools=[WEATHER], reasoning_effort="high")
    message = plain(r.choices[0].message)
    [paris, rome] = message.pop("tool_calls")
    assert message == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Two cities.",
        "refusal": None,
    }
    assert re.fullmatch(r"call_[0-9a-f]{24}", paris.pop("id"))  # the server sent none
    assert paris == {
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert rome == {
        "id": "call_rome",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
    }
    assert r.choices[0].finish_reason == "tool_calls"  # Ollama said "stop"
    assert sim.requests[0].json["think"] == "high"


async def test_tool_calls_and_thinking_streamed(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(tool_calls=CALLS, reasoning="Two cities.", content="Checking."))
    chunks = await collect(client, tools=[WEATHER])
    d = deltas(chunks)
    assert d[:3] == [
        ({"role": "assistant", "reasoning_content": "Two "}, None),
        ({"reasoning_content": "cities."}, None),
        ({"content": "Checking."}, None),
    ]
    (calls, finish), end = d[3], d[4:]
    assert (finish, end) == (None, [({}, "tool_calls")])
    [paris, rome] = calls.pop("tool_calls")
    assert calls == {}
    assert (paris["index"], rome["index"]) == (0, 1)
    assert paris["id"].startswith("call_")
    assert rome["id"] == "call_rome"
    assert [c["function"] for c in (paris, rome)] == [
        {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"name": "get_weather", "arguments": '{"city":"Rome"}'},
    ]


async def test_a_tool_loop_is_accepted_by_the_server(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(tool_calls=CALLS), Reply(content="Sunny in both."))
    first = await complete(client, tools=[WEATHER])
    message = first.choices[0].message
    results = [
        {"role": "tool", "tool_call_id": call.id, "content": f"{k}: 20C"}
        for k, call in enumerate(message.tool_calls)
    ]
    second = await complete(client, [*MSGS, dict(message), *results], tools=[WEATHER])
    assert second.choices[0].message.content == "Sunny in both."
    assert sim.requests[1].json["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            ],
        },
        {"role": "tool", "content": "0: 20C", "tool_name": "get_weather"},
        {"role": "tool", "content": "1: 20C", "tool_name": "get_weather"},
    ]


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_404_model_not_found_has_the_pull_hint(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    sim.script(Reply(status=404))
    with pytest.raises(ritellm.NotFoundError) as info:
        await (collect(client) if stream else complete(client))
    err = info.value
    assert type(err) is ritellm.NotFoundError
    assert (err.status_code, err.message, err.provider) == (404, NOT_FOUND, "ollama")
    assert err.body == {"error": f"model '{WIRE}' not found"}
    assert len(sim.requests) == 1  # not retried


@pytest.mark.parametrize("stream", [False, True])
async def test_500_is_retried_within_num_retries(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    sim.script(*[Reply(status=500, headers=FAST)] * 3, Reply(content="Fine."))
    with pytest.raises(ritellm.InternalServerError) as info:
        await (collect(client, num_retries=2) if stream else complete(client, num_retries=2))
    assert (info.value.status_code, info.value.message) == (500, RUNNER)
    assert len(sim.requests) == 3
    # One more try would have been answered.
    r = await complete(client, num_retries=0)
    assert r.choices[0].message.content == "Fine."


async def test_inband_error_first_is_its_twin_at_the_await_and_retried(
    sim: Simulator, client: ritellm.AsyncClient, quick_retries: None
) -> None:
    sim.script(
        Reply(fault="stream_error", error_after=0),
        Reply(fault="stream_error", error_after=0),
        Reply(content="Fine now."),
    )
    stream = None
    with anyio.fail_after(10), pytest.raises(ritellm.InternalServerError) as info:
        stream = await client.acompletion(MODEL, MSGS, stream=True, num_retries=0)
    assert stream is None  # raised at the await: nothing was delivered
    err = info.value
    assert type(err) is ritellm.InternalServerError
    assert (err.status_code, err.message) == (500, RUNNER)
    assert isinstance(err.__cause__, ritellm.StreamError)
    assert len(sim.requests) == 1
    chunks = await collect(client, num_retries=1)
    assert deltas(chunks) == [*text_deltas(["Fine ", "now."]), ({}, "stop")]
    assert len(sim.requests) == 3


async def test_inband_model_not_found_is_a_404(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(
        Reply(fault="stream_error", error_after=0, error_message="model 'llama3.2' not found")
    )
    with pytest.raises(ritellm.NotFoundError) as info:
        await collect(client, num_retries=2)
    assert (info.value.status_code, info.value.message) == (404, NOT_FOUND)
    assert len(sim.requests) == 1


async def test_inband_error_after_chunks_is_a_stream_error_while_iterating(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(fault="stream_error", error_after=2))
    got: list[ritellm.ModelResponseStream] = []
    with anyio.fail_after(10):
        stream = await client.acompletion(MODEL, MSGS, stream=True, num_retries=3)
        with pytest.raises(ritellm.StreamError) as info:
            async with stream:
                async for chunk in stream:
                    got.append(chunk)
    assert deltas(got) == text_deltas(TOKENS[:2])
    err = info.value
    assert type(err) is ritellm.StreamError
    assert str(err) == f"{MODEL}: {RUNNER}"
    assert err.inband is not None and err.inband.status == 500
    assert len(sim.requests) == 1  # never retried once chunks were delivered


@pytest.mark.parametrize(
    ("reply", "delivered", "message"),
    [
        (Reply(fault="truncate"), 2, TRUNCATED),
        (Reply(fault="truncate", truncate_after=99), 9, TRUNCATED),  # all but the done line
        (Reply(fault="truncate", crlf=True), 2, TRUNCATED),
        (
            Reply(fault="malformed"),
            2,
            "malformed JSON line in Ollama stream: "
            + repr('{"model":"llama3.2","message":{"role":"assist'),
        ),
    ],
)
async def test_broken_streams_after_chunks(
    sim: Simulator,
    client: ritellm.AsyncClient,
    reply: Reply,
    delivered: int,
    message: str,
) -> None:
    sim.script(reply)
    got: list[ritellm.ModelResponseStream] = []
    with pytest.raises(ritellm.StreamError) as info:
        with anyio.fail_after(10):
            stream = await client.acompletion(MODEL, MSGS, stream=True, num_retries=2)
            async with stream:
                async for chunk in stream:
                    got.append(chunk)
    assert deltas(got) == text_deltas(TOKENS[:delivered])
    assert type(info.value) is ritellm.StreamError
    assert str(info.value) == f"{MODEL}: {message}"
    assert info.value.inband is None
    assert len(sim.requests) == 1


async def test_an_empty_truncated_stream_fails_at_the_await(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(fault="truncate", truncate_after=0))
    stream = None
    with anyio.fail_after(10), pytest.raises(ritellm.StreamError) as info:
        stream = await client.acompletion(MODEL, MSGS, stream=True)
    assert stream is None
    assert str(info.value) == f"{MODEL}: {TRUNCATED}"


async def test_a_malformed_whole_answer(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(fault="malformed"))
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        await complete(client)
    assert info.value.message == (
        "response with a body that is not JSON (application/json; charset=utf-8): "
        + repr('{"model":"llama3.2","message":{"role":"assist')
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_an_error_body_in_a_2xx_is_its_twin(
    sim: Simulator, client: ritellm.AsyncClient, quick_retries: None, stream: bool
) -> None:
    # A proxy's 200 with Ollama's error object (non-streamed: also the stream_error fault).
    sim.script(
        Reply(body={"error": "model 'llama3.2' not found"}),
        Reply(body={"error": "boom"}),
        Reply(body={"error": "boom"}),
    )
    with pytest.raises(ritellm.NotFoundError) as missing:
        await (collect(client, num_retries=3) if stream else complete(client, num_retries=3))
    assert (missing.value.status_code, missing.value.message) == (404, NOT_FOUND)
    assert len(sim.requests) == 1  # a 404 is final
    with pytest.raises(ritellm.InternalServerError) as boom:
        await (collect(client, num_retries=1) if stream else complete(client, num_retries=1))
    assert (boom.value.status_code, boom.value.message) == (500, "boom")
    assert len(sim.requests) == 3  # a 500 is retried


async def test_the_stream_error_fault_on_a_whole_answer(
    sim: Simulator, client: ritellm.AsyncClient, quick_retries: None
) -> None:
    sim.script(Reply(fault="stream_error"), Reply(content="Fine."))
    r = await complete(client, num_retries=1)
    assert r.choices[0].message.content == "Fine."
    assert len(sim.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unsupported_parameter_fails_before_any_request(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"user": "u-1"}, "user"),
        ({"n": 2}, "n"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "tool_choice"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ritellm.ParameterError) as info:
            await (collect(client, **kwargs) if stream else complete(client, **kwargs))
        assert str(info.value) == (
            f"ollama does not support the parameter {name!r}: remove it, or pass "
            "drop_params=True to drop parameters a provider cannot honour"
        )
    assert sim.requests == []
    await complete(client, user="u-1", drop_params=True)
    assert sim.requests[0].json == {"model": WIRE, "messages": MSGS, "stream": False}


# -- credentials -------------------------------------------------------------------------------


async def test_base_url_from_ollama_api_base(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_BASE", sim.url + "/api")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # LiteLLM's variable first: never used
    async with ritellm.AsyncClient() as c:
        r = await complete(c)
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    assert sim.requests[0].path == "/api/chat"


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "http://127.0.0.1:{port}", "0.0.0.0:{port}"])
async def test_base_url_from_ollama_host(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", form.format(port=sim.port))
    async with ritellm.AsyncClient() as c:
        chunks = await collect(c)
        assert_pool_clean(c)
    assert deltas(chunks)[-1] == ({}, "stop")
    assert sim.requests[0].headers["host"] == f"127.0.0.1:{sim.port}"


async def test_api_key_is_a_bearer_token() -> None:
    async with Simulator(api_key=KEY) as keyed, ritellm.AsyncClient(base_url=keyed.url) as c:
        r = await complete(c, api_key=KEY)
        chunks = await collect(c, api_key=KEY)
        with pytest.raises(ritellm.AuthenticationError) as info:
            await complete(c, num_retries=2)
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    assert deltas(chunks)[-1] == ({}, "stop")
    assert [rec.headers.get("authorization") for rec in keyed.requests] == [
        f"Bearer {KEY}",
        f"Bearer {KEY}",
        None,
    ]
    err = info.value
    assert type(err) is ritellm.AuthenticationError
    assert (err.status_code, err.message) == (401, "unauthorized")


async def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)
    async with Simulator(api_key=KEY) as keyed:
        monkeypatch.setenv("OLLAMA_HOST", keyed.url)
        async with ritellm.AsyncClient() as c:
            await complete(c)
            assert_pool_clean(c)
    assert keyed.requests[0].headers["authorization"] == f"Bearer {KEY}"


# -- images ------------------------------------------------------------------------------------

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()


def image_message(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


async def test_a_data_url_image_is_sent_as_base64(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await complete(client, image_message(f"data:image/png;base64,{PNG_B64}"))
    assert r.choices[0].message.content == (
        "Hello from the ritellm simulator! You said: What is this?"
    )
    assert sim.requests[0].json["messages"] == [
        {"role": "user", "content": "What is this?", "images": [PNG_B64]}
    ]


async def serve_png(listener: anyio.abc.Listener[anyio.abc.SocketStream], hits: list[str]) -> None:
    """A one-route image server: every request gets PNG, then the connection closes."""

    async def one(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            conn = h11.Connection(h11.SERVER)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive())
                elif isinstance(event, h11.Request):
                    hits.append(event.target.decode())
                elif isinstance(event, h11.EndOfMessage):
                    break
            head = h11.Response(
                status_code=200,
                headers=[
                    ("content-type", "image/png"),
                    ("content-length", str(len(PNG))),
                    ("connection", "close"),
                ],
            )
            for part in (head, h11.Data(data=PNG), h11.EndOfMessage()):
                await stream.send(conn.send(part) or b"")

    await listener.serve(one)


async def test_an_http_image_is_fetched_and_sent_inline(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    hits: list[str] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(serve_png, listener, hits)
        await complete(client, image_message(f"http://127.0.0.1:{port}/cat.png"))
        tg.cancel_scope.cancel()
    assert hits == ["/cat.png"]
    assert sim.requests[0].json["messages"][0]["images"] == [PNG_B64]
