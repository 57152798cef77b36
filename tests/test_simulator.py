"""The provider simulator, seen from a raw HTTP/1.1 client (anyio + h11) over real loopback
sockets, from blocking code, from the official openai SDK and as a subprocess."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import h11
import openai
import pytest
from anyio.abc import SocketStream

from ritellm.testing import Reply, Simulator
from ritellm.testing._limits import TokenBucket

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

REPO = Path(__file__).resolve().parents[1]
CHAT = "/v1/chat/completions"
HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
STREAM = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
NOTHING_WINDOW = 0.2  # a negative check: nothing may arrive within this window


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --------------------------------------------------------------------------------------------
# A raw HTTP/1.1 client: exactly what the simulator put on the wire.


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)  # the body as the server framed it
    reads: int = 0  # socket reads while the body arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[str]:
        return sse_data(self.body)

    def chunks_json(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.events() if e != "[DONE]"]


def sse_data(body: bytes) -> list[str]:
    """The data of each SSE event, per the WHATWG grammar (wire-formats §1.1)."""
    events: list[str] = []
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", body.decode()):
        if not line:
            if data:
                events.append("\n".join(data))
            data = []
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value[1:] if value.startswith(" ") else value)
    return events


class Client:
    """One keep-alive connection driven through h11."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)
        self.reads = 0

    @classmethod
    async def open(cls, sim: Simulator) -> Client:
        return cls(await anyio.connect_tcp("127.0.0.1", sim.port))

    async def send(
        self,
        payload: object = HELLO,
        *,
        method: str = "POST",
        path: str = CHAT,
        body: bytes | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        if body is None:
            body = b"" if payload is None else json.dumps(payload).encode()
        all_headers = [
            ("host", "127.0.0.1"),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            *headers,
        ]
        data = self.conn.send(h11.Request(method=method, target=path, headers=all_headers))
        data = (data or b"") + (self.conn.send(h11.Data(data=body)) or b"")
        await self.stream.send(data + (self.conn.send(h11.EndOfMessage()) or b""))

    async def next_event(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive()
                except anyio.EndOfStream:
                    data = b""
                self.reads += 1
                self.conn.receive_data(data)
                continue
            assert isinstance(event, h11.Event)
            return event

    async def head(self) -> h11.Response:
        event = await self.next_event()
        assert isinstance(event, h11.Response), event
        return event

    async def response(self) -> Response:
        head = await self.head()
        res = Response(
            head.status_code, {k.decode(): v.decode() for k, v in head.headers}, reads=self.reads
        )
        while True:
            event = await self.next_event()
            if isinstance(event, h11.EndOfMessage):
                res.reads = self.reads - res.reads
                return res
            assert isinstance(event, h11.Data)
            res.body += event.data
            if event.chunk_start or not res.chunks:
                res.chunks.append(b"")
            res.chunks[-1] += event.data

    async def raw_until_closed(self) -> tuple[bytes, BaseException | None]:
        """Raw bytes until the server closes; the error if it was not a clean EOF."""
        got = b""
        try:
            while True:
                got += await self.stream.receive()
        except anyio.EndOfStream:
            return got, None
        except anyio.BrokenResourceError as exc:
            return got, exc

    async def nothing_arrives(self) -> bool:
        with anyio.move_on_after(NOTHING_WINDOW):
            await self.stream.receive()
            return False
        return True

    async def aclose(self) -> None:
        await self.stream.aclose()


async def chat(sim: Simulator, payload: object = HELLO, **kwargs: Any) -> Response:
    client = await Client.open(sim)
    try:
        await client.send(payload, **kwargs)
        return await client.response()
    finally:
        await client.aclose()


def sim_header(**fields: Any) -> tuple[str, str]:
    return ("x-ritellm-sim", json.dumps(fields))


# --------------------------------------------------------------------------------------------
# OpenAI shapes


async def test_non_stream_shape_and_recorded_request() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            assert sim.base_url == f"http://127.0.0.1:{sim.port}/v1"
            res = await chat(sim, headers=[("Authorization", "Bearer x"), ("X-Custom", "1")])
    assert res.status == 200
    assert res.headers["content-type"] == "application/json"
    assert int(res.headers["content-length"]) == len(res.body)
    assert res.headers["x-request-id"].startswith("req_")
    assert int(res.headers["openai-processing-ms"]) >= 0
    body = res.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    assert body["service_tier"] == "default"
    assert body["system_fingerprint"].startswith("fp_")
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == ANSWER
    usage = body["usage"]
    assert usage["prompt_tokens"] == 2
    assert usage["completion_tokens"] == len(ANSWER.split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.json) == ("POST", CHAT, HELLO)
    assert rec.headers["authorization"] == "Bearer x"
    assert rec.headers["x-custom"] == "1"
    assert json.loads(rec.body) == HELLO


async def test_stream_exact_event_sequence() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="Hi there, friend!"))
            res = await chat(sim, STREAM)
    assert res.status == 200
    assert res.headers["content-type"].startswith("text/event-stream")
    assert res.headers["transfer-encoding"] == "chunked"
    # Every event was its own write, hence its own HTTP chunk.
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in res.chunks)
    assert [c.count(b"data: ") for c in res.chunks] == [1] * len(res.chunks)
    events = res.events()
    assert events[-1] == "[DONE]"
    chunks = res.chunks_json()
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    role, *content, finish, usage = chunks
    assert role["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "", "refusal": None},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert [c["choices"][0]["delta"] for c in content] == [
        {"content": "Hi "},
        {"content": "there, "},
        {"content": "friend!"},
    ]
    assert finish["choices"][0]["delta"] == {}
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 3


async def test_stream_without_include_usage_has_no_usage() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            res = await chat(sim, {**HELLO, "stream": True})
    chunks = res.chunks_json()
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == ANSWER


@pytest.mark.parametrize("limit_field", ["max_tokens", "max_completion_tokens"])
async def test_max_tokens_cuts_with_length(limit_field: str) -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(content="one two three four five")) as sim:
            plain = (await chat(sim, {**HELLO, limit_field: 2})).json()
            streamed = (await chat(sim, {**STREAM, limit_field: 2})).chunks_json()
    assert plain["choices"][0]["message"]["content"] == "one two "
    assert plain["choices"][0]["finish_reason"] == "length"
    assert plain["usage"]["completion_tokens"] == 2
    deltas = [c["choices"][0]["delta"].get("content") for c in streamed if c["choices"]]
    assert deltas == ["", "one ", "two ", None]
    assert streamed[-2]["choices"][0]["finish_reason"] == "length"


async def test_chunk_size_and_overrides() -> None:
    reply = Reply(content="abcdefg", chunk_size=3, model="gpt-x", finish_reason="content_filter")
    with anyio.fail_after(10):
        async with Simulator(default=reply) as sim:
            chunks = (await chat(sim, STREAM)).chunks_json()
            sim.default = Reply(usage={"prompt_tokens": 7})
            plain = (await chat(sim)).json()
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert deltas == ["abc", "def", "g"]
    assert {c["model"] for c in chunks} == {"gpt-x"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert plain["usage"] == {"prompt_tokens": 7}


TOOLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
]


async def test_tool_calls_non_stream() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(tool_calls=TOOLS)) as sim:
            body = (await chat(sim)).json()
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert json.loads(calls[1]["function"]["arguments"]) == {"tz": "Europe/Paris"}
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert calls[0]["id"] != calls[1]["id"]


async def test_tool_call_fragments_reassemble() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(tool_calls=TOOLS, chunk_size=4)) as sim:
            chunks = (await chat(sim, STREAM)).chunks_json()
    calls: dict[int, dict[str, str]] = {}
    fragments = []
    for chunk in chunks:
        for choice in chunk["choices"]:
            for frag in choice["delta"].get("tool_calls") or ():
                fragments.append(frag)
                call = calls.setdefault(frag["index"], {"arguments": ""})
                if "id" in frag:  # the first fragment of a call (§2.7)
                    assert frag["type"] == "function"
                    assert frag["function"]["arguments"] == ""
                    assert "id" not in call
                    call.update(id=frag["id"], name=frag["function"]["name"])
                else:
                    assert set(frag) == {"index", "function"}
                    assert len(frag["function"]["arguments"]) <= 4
                call["arguments"] += frag["function"]["arguments"]
    assert chunks[0]["choices"][0]["delta"]["content"] is None
    assert "tool_calls" in chunks[0]["choices"][0]["delta"]  # first fragment rides the role
    assert [calls[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    assert json.loads(calls[1]["arguments"]) == {"tz": "Europe/Paris"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert len(fragments) > 4


async def test_n_choices() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(content="a b")) as sim:
            plain = (await chat(sim, {**HELLO, "n": 2})).json()
            chunks = (await chat(sim, {**STREAM, "n": 2})).chunks_json()
    assert [c["index"] for c in plain["choices"]] == [0, 1]
    assert {c["message"]["content"] for c in plain["choices"]} == {"a b"}
    assert plain["usage"]["completion_tokens"] == 4
    per_choice: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    for chunk in chunks[:-1]:
        [choice] = chunk["choices"]
        per_choice[choice["index"]].append(choice)
    assert [c["choices"][0]["index"] for c in chunks[:2]] == [0, 1]  # interleaved
    for choices in per_choice.values():
        assert choices[0]["delta"]["role"] == "assistant"
        assert "".join(c["delta"].get("content") or "" for c in choices) == "a b"
        assert choices[-1]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4


# --------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
        (403, "invalid_request_error", "unsupported_country_region_territory"),
        (404, "invalid_request_error", "model_not_found"),
        (409, "invalid_request_error", "conflict"),
        (422, "invalid_request_error", "unprocessable_entity"),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
async def test_error_statuses(status: int, type_: str, code: str | None) -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(status=status, headers={"retry-after": "1"}))
            res = await chat(sim, {**STREAM, "model": "gpt-9"})
    assert res.status == status
    assert res.headers["content-type"] == "application/json"
    assert res.headers["retry-after"] == "1"
    error = res.json()["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert (error["type"], error["code"], error["param"]) == (type_, code, None)
    assert error["message"]
    if status == 404:
        assert "gpt-9" in error["message"]


async def test_error_fields_override() -> None:
    reply = Reply(status=429, error_message="quota", error_type="insufficient_quota")
    with anyio.fail_after(10):
        async with Simulator(default=reply) as sim:
            error = (await chat(sim)).json()["error"]
    assert error == {
        "message": "quota",
        "type": "insufficient_quota",
        "param": None,
        "code": "rate_limit_exceeded",
    }


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        (b"{not json", None),
        ({"messages": HELLO["messages"]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({**HELLO, "max_tokens": 0}, "max_tokens"),
        ({**HELLO, "stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
async def test_request_validation(payload: object, param: str | None) -> None:
    kwargs: dict[str, Any] = {"body": payload} if isinstance(payload, bytes) else {}
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="kept for the next valid request"))
            res = await chat(sim, payload, **kwargs)
            assert sim.pending_replies == 1  # invalid requests do not use up the script
    assert res.status == 400
    error = res.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


async def test_routes() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            missing = await chat(sim, path="/v1/nope")
            wrong_method = await chat(sim, None, method="GET")
            no_prefix = await chat(sim, path="/chat/completions")
            models = await chat(sim, None, method="GET", path="/v1/models")
    assert missing.status == 404
    assert missing.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"
    assert wrong_method.status == 405
    assert wrong_method.headers["allow"] == "POST"
    assert no_prefix.status == 200
    assert models.json()["object"] == "list"
    assert "gpt-4o-mini" in [m["id"] for m in models.json()["data"]]


async def test_api_key() -> None:
    with anyio.fail_after(10):
        async with Simulator(api_key="sk-secret-123456") as sim:
            missing = await chat(sim)
            wrong = await chat(sim, headers=[("authorization", "Bearer sk-wrong-987654")])
            right = await chat(sim, headers=[("authorization", "Bearer sk-secret-123456")])
    for res in (missing, wrong):
        assert res.status == 401
        assert res.json()["error"]["code"] == "invalid_api_key"
    assert "sk-wrong-987654" not in wrong.body.decode()
    assert right.status == 200


async def test_rate_limit() -> None:
    # 0.5 req/s: a burst of one, and the next token is ~2 s away, far longer than the test.
    with anyio.fail_after(10):
        async with Simulator(rate_limit=0.5) as sim:
            results = [await chat(sim) for _ in range(4)]
            assert sim.stats.rate_limited == 3
            sim.reset_stats()
            assert sim.stats.rate_limited == 0
    assert [r.status for r in results] == [200, 429, 429, 429]
    assert results[0].headers["x-ratelimit-limit-requests"] == "1"
    assert results[0].headers["x-ratelimit-remaining-requests"] == "0"
    for res in results[1:]:
        assert res.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(res.headers["retry-after"]) <= 2
        assert 1 <= int(res.headers["retry-after-ms"]) <= 2000
        assert res.headers["x-ratelimit-reset-requests"].endswith("s")


async def test_header_selected_reply() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="scripted"))
            chosen = await chat(sim, headers=[sim_header(content="from header", status=201)])
            scripted = await chat(sim)
            bad_json = await chat(sim, headers=[("x-ritellm-sim", "{nope")])
            unknown = await chat(sim, headers=[sim_header(colour="red")])
            bad_type = await chat(sim, headers=[sim_header(fault="explode")])
    assert chosen.status == 201
    assert chosen.json()["choices"][0]["message"]["content"] == "from header"
    assert scripted.json()["choices"][0]["message"]["content"] == "scripted"
    for res, words in ((bad_json, "JSON"), (unknown, "colour"), (bad_type, "explode")):
        assert res.status == 400
        assert words in res.json()["error"]["message"]


async def test_body_override() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(
                Reply(body={"custom": True}, status=202),
                Reply(body="plain text", content_type="text/plain"),
            )
            as_dict = await chat(sim)
            as_text = await chat(sim)
    assert (as_dict.status, as_dict.json()) == (202, {"custom": True})
    assert (as_text.headers["content-type"], as_text.body) == ("text/plain", b"plain text")


# --------------------------------------------------------------------------------------------
# Faults, as a client sees them


async def test_fault_reset_before_any_byte() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="reset")) as sim:
            client = await Client.open(sim)
            await client.send()
            got, error = await client.raw_until_closed()
            await client.aclose()
    assert got == b""
    assert isinstance(error, anyio.BrokenResourceError)  # an RST, not a clean FIN


@pytest.mark.parametrize("payload", [HELLO, STREAM])
async def test_fault_reset_mid_body(payload: dict[str, Any]) -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="reset", reset_after=300)) as sim:
            client = await Client.open(sim)
            await client.send(payload)
            with pytest.raises((anyio.BrokenResourceError, h11.RemoteProtocolError)):
                await client.response()  # never completes
            await client.aclose()


async def test_fault_stall() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="stall", stall_after=1)) as sim:
            client = await Client.open(sim)
            await client.send(STREAM)
            await client.head()
            event = await client.next_event()
            assert isinstance(event, h11.Data)
            assert b'"role":"assistant"' in event.data
            assert event.chunk_end
            assert await client.nothing_arrives()
            assert sim.stats.in_flight == 1
            await client.aclose()


async def test_fault_stall_right_after_headers_non_stream() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="stall")) as sim:
            client = await Client.open(sim)
            await client.send()
            head = await client.head()
            assert head.status_code == 200
            assert await client.nothing_arrives()
            await client.aclose()


async def test_fault_no_response() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="no_response")) as sim:
            client = await Client.open(sim)
            await client.send()
            assert await client.nothing_arrives()
            assert sim.stats.requests == 1
            await client.aclose()


async def test_fault_truncate_stream() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="truncate", truncate_after=2)) as sim:
            client = await Client.open(sim)
            await client.send(STREAM)
            res = await client.response()  # the chunked body ends cleanly...
            await client.send(STREAM)  # ...and the connection is still usable
            again = await client.response()
            await client.aclose()
    for r in (res, again):
        events = r.events()
        assert len(events) == 2
        assert "[DONE]" not in events
        assert all(c["choices"][0]["finish_reason"] is None for c in r.chunks_json())


async def test_fault_truncate_non_stream() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="truncate")) as sim:
            client = await Client.open(sim)
            await client.send()
            head = await client.head()
            declared = int(dict(head.headers)[b"content-length"])
            got = await client.next_event()
            assert isinstance(got, h11.Data)
            with pytest.raises(h11.RemoteProtocolError, match="peer closed"):
                await client.next_event()  # EOF before the declared Content-Length
            await client.aclose()
    assert len(got.data) == declared // 2


async def test_fault_malformed() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(fault="malformed", malformed_after=2), Reply(fault="malformed"))
            streamed = await chat(sim, STREAM)
            plain = await chat(sim)
    events = streamed.events()
    assert events[-1] == "[DONE]"  # the stream carries on after the bad event
    bad = [e for e in events if not _is_json(e)]
    assert bad == ['{"id": "chatcmpl-x", "choi', "[DONE]"]
    assert events.index(bad[0]) == 2
    assert plain.status == 200
    assert plain.headers["content-type"] == "application/json"
    assert not _is_json(plain.body.decode())


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def test_fault_stream_error() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="stream_error", error_after=2)) as sim:
            res = await chat(sim, STREAM)
    assert res.status == 200
    events = res.events()
    assert len(events) == 3
    assert json.loads(events[-1]) == {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


async def test_fault_html_and_empty() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(fault="html"), Reply(fault="html", status=503), Reply(fault="empty"))
            gateway = await chat(sim)
            unavailable = await chat(sim, STREAM)
            empty = await chat(sim)
    assert gateway.status == 502
    assert gateway.headers["content-type"] == "text/html"
    assert b"<html>" in gateway.body
    assert b"502 Bad Gateway" in gateway.body
    assert unavailable.status == 503
    assert (empty.status, empty.body, empty.headers["content-length"]) == (200, b"", "0")
    assert empty.headers["content-type"] == "application/json"


async def test_fault_close() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="close")) as sim:
            client = await Client.open(sim)
            await client.send()
            res = await client.response()
            rest, error = await client.raw_until_closed()
            await client.aclose()
    assert res.status == 200
    assert "connection" not in res.headers
    assert (rest, error) == (b"", None)  # a clean FIN right after the response


async def test_fault_drip() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="drip", delay=0.0005, content="Hi")) as sim:
            client = await Client.open(sim)
            await client.send()
            res = await client.response()
            await client.aclose()
    assert res.json()["choices"][0]["message"]["content"] == "Hi"
    assert res.reads >= 20  # one byte per write; the client woke up for many of them


async def test_stream_shape_toggles() -> None:
    reply = Reply(
        content="a b",
        crlf=True,
        keepalive_comments=True,
        split_data_lines=True,
        extra_fields=True,
    )
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(reply, Reply(content="a b", role_chunk=False, event_size=300))
            shaped = await chat(sim, STREAM)
            sized = await chat(sim, STREAM)
    body = shaped.body
    assert b"\r\n\r\n" in body
    assert b"\n\n" not in body.replace(b"\r\n", b"")
    assert body.count(b": keep-alive\r\n\r\n") == len(shaped.chunks) - 1
    assert shaped.chunks[0].count(b"data: ") == 2  # one payload over two data: lines
    chunks = shaped.chunks_json()
    assert chunks[0]["obfuscation"]
    assert chunks[0]["provider"]
    assert chunks[0]["x_groq"]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == "a b"
    first = sized.chunks_json()[0]
    assert first["choices"][0]["delta"] == {"content": "a ".ljust(300)}
    assert all(len(c) >= 300 for c in sized.chunks[:2])


async def test_canned_stream_is_one_write() -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(canned=True, delay=5)) as sim:
            res = await chat(sim, STREAM)
    assert len(res.chunks) == 1  # the whole body in one HTTP chunk, delay ignored
    assert res.events()[-1] == "[DONE]"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in res.chunks_json()[:-1])


async def test_latency_holds_the_headers() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(latency=30))
            client = await Client.open(sim)
            await client.send()
            assert await client.nothing_arrives()
            await client.aclose()  # leaving the block cancels the sleeping answer


# --------------------------------------------------------------------------------------------
# Connections, stats, shutdown


async def test_keep_alive_and_connection_close() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            client = await Client.open(sim)
            for _ in range(3):
                await client.send()
                assert (await client.response()).status == 200
            await client.send(STREAM, headers=[("connection", "close")])
            last = await client.response()
            rest, error = await client.raw_until_closed()
            await client.aclose()
            assert (sim.stats.total_connections, sim.stats.requests) == (1, 4)
    assert last.headers["connection"] == "close"
    assert (rest, error) == (b"", None)


async def test_max_in_flight() -> None:
    # Stalled answers stay in flight until their client leaves: no timing involved.
    with anyio.fail_after(10):
        async with Simulator(default=Reply(fault="stall")) as sim:
            clients = [await Client.open(sim) for _ in range(4)]
            for client in clients:
                await client.send()
            for client in clients:
                await client.head()
            assert sim.stats.in_flight == 4
            assert sim.stats.max_in_flight == 4
            assert sim.stats.open_connections == 4
            for client in clients:
                await client.aclose()
            sim.default = Reply()
            await chat(sim)
            assert sim.stats.in_flight <= 4
        assert sim.stats.max_in_flight == 4
        assert (sim.stats.in_flight, sim.stats.open_connections) == (0, 0)
        assert (sim.stats.total_connections, sim.stats.requests) == (5, 5)


async def test_drop_idle_connections() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            idle = await Client.open(sim)
            await idle.send()
            await idle.response()
            busy = await Client.open(sim)
            sim.script(Reply(fault="stall"))
            await busy.send()
            await busy.head()
            assert await sim.drop_idle_connections() == 1
            rest, _ = await idle.raw_until_closed()
            assert rest == b""
            assert sim.stats.open_connections == 1  # the busy one is kept
            await idle.aclose()
            await busy.aclose()


async def test_shutdown_with_open_and_stalled_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with anyio.fail_after(10):
        tasks_before = len(anyio.get_running_tasks())
        async with Simulator() as sim:
            sim.script(Reply(fault="stall", stall_after=1), Reply(fault="no_response"))
            stalled, silent, idle = [await Client.open(sim) for _ in range(3)]
            await stalled.send(STREAM)
            await stalled.head()
            await silent.send()
            await idle.send()
            await idle.response()
            assert sim.stats.open_connections == 3
            port = sim.port
        assert len(anyio.get_running_tasks()) == tasks_before
        assert sim.stats.open_connections == 0
        assert sim.stats.in_flight == 0
        for client in (stalled, silent, idle):
            await client.raw_until_closed()  # the server side is gone
            await client.aclose()
        with pytest.raises(OSError, match=r"(?i)connect|refused"):
            await anyio.connect_tcp("127.0.0.1", port)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_client_leaving_mid_stream_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with anyio.fail_after(10):
        async with Simulator(default=Reply(content="x " * 50, delay=0.01)) as sim:
            client = await Client.open(sim)
            await client.send(STREAM)
            await client.head()
            await client.next_event()
            await client.aclose()
            # The header-selected reply has no delay; the server is still fine.
            assert (await chat(sim, STREAM, headers=[sim_header()])).events()[-1] == "[DONE]"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_malformed_http_gets_400() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            stream = await anyio.connect_tcp("127.0.0.1", sim.port)
            await stream.send(b"NOT HTTP AT ALL\r\n\r\n")
            client = Client(stream)
            got, _ = await client.raw_until_closed()
            await stream.aclose()
    assert got.startswith(b"HTTP/1.1 400 ")


def test_token_bucket_refills_at_the_rate() -> None:
    bucket = TokenBucket(2.0)  # burst of 2, one token every 0.5 s
    assert [bucket.take(10.0)[0] for _ in range(3)] == [0.0, 0.0, 0.5]
    wait, headers = bucket.take(10.25)
    assert wait == pytest.approx(0.25)
    assert dict(headers)[b"retry-after"] == b"1"
    assert dict(headers)[b"retry-after-ms"] == b"250"
    assert bucket.take(10.5)[0] == 0.0
    assert dict(bucket.take(100.0)[1])[b"x-ratelimit-remaining-requests"] == b"1"


def test_reply_validation() -> None:
    with pytest.raises(ValueError, match="fault"):
        Reply(fault="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        Reply(chunk_size=0)
    with pytest.raises(TypeError, match="tool_calls"):
        Reply(tool_calls=[{"arguments": "{}"}])
    with pytest.raises(ValueError, match="header"):
        Reply(headers={"x-evil": "a\r\nset-cookie: 1"})
    assert Reply.from_json('{"fault": "reset", "reset_after": 10}') == Reply(
        fault="reset", reset_after=10
    )


# --------------------------------------------------------------------------------------------
# Blocking use, the openai SDK, the command line


def test_start_in_thread_from_sync_code() -> None:
    with Simulator.start_in_thread(api_key="k") as sim:
        sim.script(Reply(content="from a thread"))
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
        try:
            conn.request("POST", CHAT, json.dumps(HELLO), {"Authorization": "Bearer k"})
            res = conn.getresponse()
            body = json.loads(res.read())
            assert sim.drop_idle_connections() == 1
        finally:
            conn.close()
        assert body["choices"][0]["message"]["content"] == "from a thread"
        assert sim.requests[0].json == HELLO
        assert sim.stats.requests == 1


@pytest.fixture
def threaded() -> Iterator[Any]:
    with Simulator.start_in_thread(backend="trio") as sim:
        yield sim


def _sdk(base_url: str, api_key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=10)


def test_openai_sdk_accepts_everything(threaded: Any) -> None:
    with _sdk(threaded.base_url) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}]
        )
        assert completion.choices[0].message.content == ANSWER
        assert completion.usage is not None
        assert completion.usage.total_tokens > 0

        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Hello there"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == ANSWER
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens > 0

        threaded.script(Reply(tool_calls=TOOLS[:1]))
        tools = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}]
        )
        [call] = tools.choices[0].message.tool_calls or []
        assert call.type == "function"
        assert json.loads(call.function.arguments) == {"city": "Paris"}

        threaded.script(Reply(tool_calls=TOOLS, chunk_size=3))
        with client.chat.completions.stream(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}]
        ) as tool_stream:
            final = tool_stream.get_final_completion()
        calls = final.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_weather", "get_time"]

        threaded.script(Reply(fault="stream_error"))
        with pytest.raises(openai.APIError, match="server had an error"):
            list(
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
                )
            )


def test_openai_sdk_errors() -> None:
    messages: Any = [{"role": "user", "content": "Hi"}]
    with Simulator.start_in_thread(api_key="sk-right", rate_limit=0.5) as sim:
        with (
            _sdk(sim.base_url, "sk-wrong") as client,
            pytest.raises(openai.AuthenticationError) as auth,
        ):
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert auth.value.code == "invalid_api_key"
        with _sdk(sim.base_url, "sk-right") as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            with pytest.raises(openai.RateLimitError) as limited:
                client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            assert limited.value.response.headers["retry-after-ms"]
            assert sim.stats.rate_limited == 1


def test_command_line() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ritellm.testing", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        try:
            conn.request("POST", CHAT, json.dumps(HELLO), {"Content-Type": "application/json"})
            assert json.loads(conn.getresponse().read())["choices"][0]["message"]["content"]
        finally:
            conn.close()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
