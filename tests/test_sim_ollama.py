"""The simulator's Ollama format (``POST /api/chat``, wire-formats §6), with the official
``ollama`` Python client (sync and async) as the oracle, raw NDJSON bytes checked where the
framing matters, and the request validation's 400s."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from ritellm.testing import Reply, Simulator, ThreadedSimulator
from tests.sim_helpers import raw, raw_sync

ollama = pytest.importorskip("ollama")

pytestmark = pytest.mark.timeout(30)

MODEL = "llama3.2"
HELLO: list[dict[str, Any]] = [{"role": "user", "content": "Hello there"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
KEY = "ollama-sim-key-0123456789"
RUNNER = "an error was encountered while running the model"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_weather", "arguments": '{"city": "Rome"}', "id": "call_rome"},
]
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def sim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as threaded:
        yield threaded


@pytest.fixture
def client(sim: ThreadedSimulator) -> Iterator[Any]:
    c = ollama.Client(host=sim.url, timeout=10)
    yield c
    c.close()


# --------------------------------------------------------------------------------------------
# Sync client


def test_chat_non_streamed(sim: ThreadedSimulator, client: Any) -> None:
    r = client.chat(model=MODEL, messages=HELLO)
    assert (r.message.role, r.message.content) == ("assistant", ANSWER)
    assert (r.message.thinking, r.message.tool_calls) == (None, None)
    assert (r.model, r.done, r.done_reason) == (MODEL, True, "stop")
    assert (r.prompt_eval_count, r.eval_count) == (2, len(ANSWER.split()))
    assert r.total_duration and r.eval_duration  # nanoseconds, as the server reports them
    assert r.created_at.endswith("Z")
    [rec] = sim.requests
    assert (rec.method, rec.path) == ("POST", "/api/chat")
    assert rec.json["stream"] is False
    assert rec.json["messages"] == HELLO


def test_chat_streamed(sim: ThreadedSimulator, client: Any) -> None:
    parts = list(client.chat(model=MODEL, messages=HELLO, stream=True))
    assert "".join(p.message.content for p in parts) == ANSWER
    assert len(parts) == len(ANSWER.split()) + 1  # one line per token, then the done line
    *fragments, last = parts
    assert all(p.done is False and p.done_reason is None for p in fragments)
    assert all(p.eval_count is None for p in fragments)
    assert (last.done, last.done_reason, last.message.content) == (True, "stop", "")
    assert (last.prompt_eval_count, last.eval_count) == (2, len(ANSWER.split()))
    assert {p.model for p in parts} == {MODEL}
    assert sim.requests[0].json["stream"] is True


def test_num_predict_and_done_reason(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(content="one two three four"), Reply(finish_reason="unload"))
    cut = client.chat(model=MODEL, messages=HELLO, options={"num_predict": 2})
    assert (cut.message.content, cut.done_reason, cut.eval_count) == ("one two ", "length", 2)
    assert sim.requests[0].json["options"] == {"num_predict": 2}
    verbatim = client.chat(model=MODEL, messages=HELLO)
    assert verbatim.done_reason == "unload"


def test_tool_calls(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=CALLS), Reply(tool_calls=CALLS, content="Checking."))
    whole = client.chat(model=MODEL, messages=HELLO, tools=[WEATHER])
    parts = list(client.chat(model=MODEL, messages=HELLO, tools=[WEATHER], stream=True))
    with_calls = [p for p in parts if p.message.tool_calls]
    assert len(with_calls) == 1  # whole calls, all in one line (§6.4)
    for message in (whole.message, with_calls[0].message):
        calls = message.tool_calls or []
        # Arguments are an object on the native API, even when the reply gave JSON text.
        assert [(c.function.name, c.function.arguments) for c in calls] == [
            ("get_weather", {"city": "Paris"}),
            ("get_weather", {"city": "Rome"}),
        ]
        assert isinstance(calls[0].function.arguments, dict)
    assert whole.done_reason == "stop"  # no "tool_calls" reason in the native API
    assert parts[-1].done_reason == "stop"
    assert "".join(p.message.content for p in parts) == "Checking."
    assert sim.requests[0].json["tools"][0]["function"]["name"] == "get_weather"


def test_tool_round_trip_is_accepted(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=CALLS[:1]), Reply(content="Sunny."))
    first = client.chat(model=MODEL, messages=HELLO, tools=[WEATHER])
    messages = [
        *HELLO,
        first.message,
        {"role": "tool", "content": "22C, clear", "tool_name": "get_weather"},
    ]
    second = client.chat(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.message.content == "Sunny."
    sent = sim.requests[1].json["messages"]
    assert sent[1]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    ]
    assert sent[2] == {"role": "tool", "content": "22C, clear", "tool_name": "get_weather"}


def test_thinking(sim: ThreadedSimulator, client: Any) -> None:
    reply = Reply(reasoning="Let me think about it.", content="Done.")
    sim.script(reply, reply)
    whole = client.chat(model=MODEL, messages=HELLO, think=True)
    parts = list(client.chat(model=MODEL, messages=HELLO, think="high", stream=True))
    assert (whole.message.thinking, whole.message.content) == ("Let me think about it.", "Done.")
    assert "".join(p.message.thinking or "" for p in parts) == "Let me think about it."
    assert "".join(p.message.content for p in parts) == "Done."
    # Thinking comes first, in lines of its own.
    kinds = ["thinking" if p.message.thinking else "content" for p in parts[:-1]]
    assert kinds == ["thinking"] * 5 + ["content"]
    assert [r.json["think"] for r in sim.requests] == [True, "high"]


def test_images(sim: ThreadedSimulator, client: Any) -> None:
    r = client.chat(
        model=MODEL, messages=[{"role": "user", "content": "What is this?", "images": [PNG]}]
    )
    assert r.message.content == "Hello from the ritellm simulator! You said: What is this?"
    assert sim.requests[0].json["messages"][0]["images"] == [base64.b64encode(PNG).decode()]


@pytest.mark.parametrize("stream", [False, True])
def test_404_model_not_found(sim: ThreadedSimulator, client: Any, stream: bool) -> None:
    sim.script(Reply(status=404))
    with pytest.raises(ollama.ResponseError) as caught:
        result = client.chat(model="llama9", messages=HELLO, stream=stream)
        if stream:
            list(result)
    err = caught.value
    assert (err.status_code, err.error) == (404, "model 'llama9' not found")
    assert str(err) == "model 'llama9' not found (status code: 404)"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "invalid request"),
        (429, "too many requests"),
        (500, RUNNER),
        (502, "bad gateway"),
    ],
)
def test_error_statuses(sim: ThreadedSimulator, client: Any, status: int, error: str) -> None:
    sim.script(Reply(status=status), Reply(status=status, error_message="custom text"))
    for expected in (error, "custom text"):
        with pytest.raises(ollama.ResponseError) as caught:
            client.chat(model=MODEL, messages=HELLO)
        assert (caught.value.status_code, caught.value.error) == (status, expected)


@pytest.mark.parametrize("error_after", [0, 2])
def test_in_band_error_line(sim: ThreadedSimulator, client: Any, error_after: int) -> None:
    sim.script(Reply(fault="stream_error", error_after=error_after))
    seen: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        for part in client.chat(model=MODEL, messages=HELLO, stream=True):
            seen.append(part.message.content)
    assert seen == ["Hello ", "from "][:error_after]
    # Raised by the client while iterating: the HTTP status was already 200.
    assert (caught.value.error, caught.value.status_code) == (RUNNER, -1)


def test_stream_faults_as_the_client_sees_them(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(fault="truncate"), Reply(fault="malformed", malformed_after=1))
    cut = list(client.chat(model=MODEL, messages=HELLO, stream=True))
    assert [p.done for p in cut] == [False, False]  # no done line: the client cannot tell
    seen: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        for part in client.chat(model=MODEL, messages=HELLO, stream=True):
            seen.append(part.message.content)
    assert seen == ["Hello "]


def test_auth() -> None:
    with Simulator.start_in_thread(api_key=KEY) as keyed:
        good = ollama.Client(host=keyed.url, headers={"Authorization": f"Bearer {KEY}"})
        bad = ollama.Client(host=keyed.url)
        try:
            assert good.chat(model=MODEL, messages=HELLO).message.content == ANSWER
            with pytest.raises(ollama.ResponseError) as caught:
                bad.chat(model=MODEL, messages=HELLO)
        finally:
            good.close()
            bad.close()
    assert (caught.value.status_code, caught.value.error) == (401, "unauthorized")


def test_api_key_and_host_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator.start_in_thread(api_key=KEY) as keyed:
        monkeypatch.setenv("OLLAMA_API_KEY", KEY)
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{keyed.port}")
        c = ollama.Client()
        try:
            assert c.chat(model=MODEL, messages=HELLO).message.content == ANSWER
        finally:
            c.close()
        assert keyed.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_rate_limit() -> None:
    with Simulator.start_in_thread(rate_limit=0.5) as limited:
        c = ollama.Client(host=limited.url)
        try:
            c.chat(model=MODEL, messages=HELLO)
            with pytest.raises(ollama.ResponseError) as caught:
                c.chat(model=MODEL, messages=HELLO)
        finally:
            c.close()
    assert (caught.value.status_code, caught.value.error) == (429, "too many requests")


# --------------------------------------------------------------------------------------------
# Async client, on asyncio and trio (httpx runs on both through anyio)


@pytest.mark.anyio
async def test_async_client() -> None:
    with anyio.fail_after(20):
        async with Simulator() as sim:
            c = ollama.AsyncClient(host=sim.url, timeout=10)
            try:
                whole = await c.chat(model=MODEL, messages=HELLO)
                parts = [p async for p in await c.chat(model=MODEL, messages=HELLO, stream=True)]
                sim.script(Reply(tool_calls=CALLS, reasoning="hmm"))
                called = await c.chat(model=MODEL, messages=HELLO, tools=[WEATHER], think=True)
                sim.script(Reply(status=404))
                with pytest.raises(ollama.ResponseError) as missing:
                    await c.chat(model="llama9", messages=HELLO)
            finally:
                await c.close()
    assert whole.message.content == ANSWER
    assert "".join(p.message.content for p in parts) == ANSWER
    assert (parts[-1].done, parts[-1].done_reason, parts[-1].eval_count) == (True, "stop", 9)
    assert called.message.thinking == "hmm"
    assert [c.function.arguments for c in called.message.tool_calls or []] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]
    assert (missing.value.status_code, missing.value.error) == (404, "model 'llama9' not found")


# The ollama client raises the in-band error from inside `async for line in
# response.aiter_lines()` without closing httpx's async generators; trio's finalizer warns
# about them when they are collected (asyncio finalizes them silently). That warning is the
# client's, so it alone is ignored here.
@pytest.mark.filterwarnings("ignore:Async generator 'httpx\\.:ResourceWarning")
@pytest.mark.anyio
async def test_async_client_in_band_error() -> None:
    with anyio.fail_after(20):
        async with Simulator(default=Reply(fault="stream_error", error_after=1)) as sim:
            c = ollama.AsyncClient(host=sim.url, timeout=10)
            seen: list[str] = []
            try:
                with pytest.raises(ollama.ResponseError) as inband:
                    async for part in await c.chat(model=MODEL, messages=HELLO, stream=True):
                        seen.append(part.message.content)
            finally:
                await c.close()
    assert seen == ["Hello "]
    assert (inband.value.status_code, inband.value.error) == (-1, RUNNER)


# --------------------------------------------------------------------------------------------
# Raw bytes


def lines(body: bytes, eol: bytes = b"\n") -> list[Any]:
    assert body.endswith(eol)
    return [json.loads(line) for line in body[: -len(eol)].split(eol)]


@pytest.mark.anyio
async def test_ndjson_framing_exact() -> None:
    body = {"model": MODEL, "messages": HELLO}  # no "stream": streaming is the default
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(
                Reply(content="a b", crlf=True),
                Reply(content="a b", tool_calls=CALLS[1:]),
                Reply(content="a b", fault="stream_error", error_after=1),
                Reply(content="a b c", fault="truncate"),
                Reply(content="a b c", fault="malformed", malformed_after=1),
            )
            crlf = await raw(sim, "/api/chat", body)
            called = await raw(sim, "/api/chat", body)
            errored = await raw(sim, "/api/chat", body)
            truncated = await raw(sim, "/api/chat", body)
            malformed = await raw(sim, "/api/chat", body)
            whole = await raw(sim, "/api/chat", {**body, "stream": False})
    assert crlf.headers["content-type"] == "application/x-ndjson"
    assert crlf.headers["transfer-encoding"] == "chunked"
    # One line per write, each a whole object; no SSE framing, no sentinel (§6.3).
    assert [c.endswith(b"}\r\n") and c.count(b"\n") == 1 for c in crlf.chunks] == [True] * 3
    first, second, last = lines(crlf.body, b"\r\n")
    assert [first["message"], second["message"]] == [
        {"role": "assistant", "content": "a "},
        {"role": "assistant", "content": "b"},
    ]
    assert (first["done"], second["done"], last["done"]) == (False, False, True)
    assert last["message"] == {"role": "assistant", "content": ""}
    assert (last["done_reason"], last["prompt_eval_count"], last["eval_count"]) == ("stop", 2, 2)
    assert last.keys() >= {"total_duration", "load_duration", "eval_duration"}
    # Newer servers' call shape: an id and function.index when the reply gave an id.
    assert lines(called.body)[2]["message"] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_rome",
                "function": {"name": "get_weather", "arguments": {"city": "Rome"}, "index": 0},
            }
        ],
    }
    assert lines(errored.body)[1:] == [{"error": RUNNER}]
    assert len(lines(errored.body)) == 2
    assert [line["done"] for line in lines(truncated.body)] == [False, False]
    assert malformed.body.split(b"\n")[1] == b'{"model":"llama3.2","message":{"role":"assist'
    assert whole.headers["content-type"] == "application/json; charset=utf-8"
    assert whole.json()["message"] == {"role": "assistant", "content": ANSWER}


# --------------------------------------------------------------------------------------------
# Request validation: what the real server's JSON decoding refuses is a 400


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"messages": HELLO}, "model is required"),
        ({"model": "", "messages": HELLO}, "model is required"),
        ({"model": MODEL, "messages": [{"role": "bot", "content": "x"}]}, "invalid role: bot"),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "json: cannot unmarshal array into Go struct field Message.messages.content",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x", "images": ["%%"]}]},
            "illegal base64 data in images",
        ),
        (
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}],
                    }
                ],
            },
            "json: cannot unmarshal string into Go struct field "
            "ToolCallFunction.messages.tool_calls.function.arguments",
        ),
        (
            {"model": MODEL, "messages": HELLO, "options": [1]},
            "json: cannot unmarshal options into the request",
        ),
        ({"model": MODEL, "messages": HELLO, "format": "yaml"}, 'invalid format: "yaml"'),
        ({"model": MODEL, "messages": HELLO, "think": "max"}, "invalid think value: 'max'"),
        ({"model": MODEL, "messages": HELLO, "think": 1}, "invalid think value: 1"),
    ],
)
def test_validation(sim: ThreadedSimulator, body: dict[str, Any], error: str) -> None:
    sim.script(Reply(content="kept"))
    res = raw_sync(sim, "/api/chat", body)
    assert (res.status, res.json()) == (400, {"error": error})
    assert sim.pending_replies == 1  # an invalid request does not use up the script


def test_validation_accepts_valid_shapes(sim: ThreadedSimulator) -> None:
    full = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?", "images": None},
            {
                "role": "assistant",
                "content": None,
                "thinking": "hmm",
                "tool_calls": [{"function": {"name": "w", "arguments": {"city": "Paris"}}}],
            },
            {"role": "tool", "content": "sunny", "tool_name": "w"},
        ],
        "tools": [WEATHER],
        "format": {"type": "object"},
        "options": {"num_ctx": 4096, "temperature": 0},
        "keep_alive": 0,
        "think": False,
        "stream": False,
    }
    ok = raw_sync(sim, "/api/chat", full)
    assert ok.status == 200, ok.body
    assert ok.json()["done"] is True
    load = raw_sync(sim, "/api/chat", {"model": MODEL, "messages": None, "stream": False})
    assert load.status == 200, load.body
    not_json = raw_sync(sim, "/api/chat", None)
    assert (not_json.status, not_json.json()) == (400, {"error": "missing request body"})
    wrong_method = raw_sync(sim, "/api/chat", method="GET")
    assert (wrong_method.status, wrong_method.body) == (405, b"405 method not allowed")
