"""AWS Bedrock Converse end to end: ritellm's client over loopback against the simulator's
``/model/{modelId}/converse`` and ``/converse-stream`` routes, on asyncio and trio. Every SigV4
signature the server received is verified by recomputing it with botocore from the recorded
request (so the transport sent exactly the bytes that were signed); bearer API keys, session
tokens, credentials from the environment and from botocore's credential chain; answers whole and
streamed, tools and reasoning, a tool loop the simulator validates; AWS's HTTP errors and
in-band exceptions as typed errors; broken streams; secrets kept out of logs and errors."""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zlib import crc32

import anyio
import botocore.auth  # type: ignore[import-untyped, unused-ignore]
import botocore.credentials  # type: ignore[import-untyped, unused-ignore]
import pytest
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped, unused-ignore]

import ritellm
from ritellm import _aws_credentials
from ritellm.testing import Reply, Simulator
from ritellm.testing._common import signature as sim_signature
from ritellm.testing._eventstream import event_frame
from ritellm.testing._replies import RecordedRequest
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

ACCESS_KEY_ID = "AKIDSIMULATOR00000001"
SECRET = "sim-secret-CANARY-wJalrXUtnFEMIK7MDENG"
TOKEN = "sim-session-CANARY-IQoJb3JpZ2luX2VjEJr//////////wEa"
REGION = "us-east-1"
MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MODEL = f"bedrock/{MODEL_ID}"
ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
)
KEYS: dict[str, Any] = {
    "aws_access_key_id": ACCESS_KEY_ID,
    "aws_secret_access_key": SECRET,
    "aws_region_name": REGION,
}
MSGS: Any = [{"role": "user", "content": "Hello there"}]
WIRE_MSGS = [{"role": "user", "content": [{"text": "Hello there"}]}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
TOKENS = ["Hello ", "from ", "the ", "ritellm ", "simulator! ", "You ", "said: ", "Hello ", "there"]
# The simulator's usage for MSGS and ANSWER: 2 prompt words, 9 answer tokens, no cache.
USAGE = {
    "prompt_tokens": 2,
    "completion_tokens": 9,
    "total_tokens": 11,
    "prompt_tokens_details": {"cached_tokens": 0},
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
FAST_RETRY = {"retry-after-ms": "1"}  # the server's hint: retry after 1 ms, not 0.5 s
AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/bedrock/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def request_id(seq: int) -> str:
    """The simulator's x-amzn-requestid on its ``seq``-th answer (a UUID, as AWS sends)."""
    return f"00000000-0000-0000-0000-{seq + 1:012x}"


@pytest.fixture(autouse=True)
def aws_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS variable, no ~/.aws, no instance role: botocore sees only the files written
    here, and no session cached by an earlier test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(name)
    for name in ("config", "credentials"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(_aws_credentials, "_sessions", {})
    return tmp_path


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator that only accepts requests signed by ACCESS_KEY_ID (or it as a bearer)."""
    async with Simulator(api_key=ACCESS_KEY_ID) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    """A client aimed at the simulator; no connection or pool slot may be left held."""
    async with ritellm.AsyncClient(base_url=sim.url) as c:
        yield c
        assert_pool_clean(c)


def plain(obj: Any, *drop: str) -> Any:
    out = json.loads(json.dumps(obj))
    for key in drop:
        out.pop(key)
    return out


async def call(c: ritellm.AsyncClient, **kwargs: Any) -> Any:
    messages = kwargs.pop("messages", MSGS)
    options = {**KEYS, **kwargs}
    with anyio.fail_after(10):
        return await c.acompletion(options.pop("model", MODEL), messages, **options)


async def collect(c: ritellm.AsyncClient, **kwargs: Any) -> list[Any]:
    """Every chunk of one streamed call."""
    messages = kwargs.pop("messages", MSGS)
    options = {**KEYS, **kwargs}
    with anyio.fail_after(10):
        stream = await c.acompletion(options.pop("model", MODEL), messages, stream=True, **options)
        async with stream:
            return [chunk async for chunk in stream]


async def read_until_error(c: ritellm.AsyncClient, got: list[Any], **kwargs: Any) -> None:
    """Open a stream and read it into ``got`` (the caller expects it to fail)."""
    options = {**KEYS, **kwargs}
    with anyio.fail_after(10):
        stream = await c.acompletion(MODEL, MSGS, stream=True, **options)
        async with stream:
            async for chunk in stream:
                got.append(chunk)


def deltas(chunks: list[Any]) -> list[tuple[Any, Any]]:
    """(delta, finish_reason) of each chunk that has a choice, as plain values."""
    return [(plain(c.choices[0].delta), c.choices[0].finish_reason) for c in chunks if c["choices"]]


def answer_deltas() -> list[tuple[Any, Any]]:
    first, *rest = TOKENS
    return [
        ({"role": "assistant", "content": first}, None),
        *(({"content": token}, None) for token in rest),
        ({}, "stop"),
    ]


def verify_signature(
    rec: RecordedRequest,
    sim: Simulator,
    *,
    key: str = ACCESS_KEY_ID,
    secret: str = SECRET,
    token: str | None = None,
    region: str = REGION,
) -> str:
    """Recompute the request's SigV4 signature with botocore, as AWS does: from the method,
    the URL and query received, the headers the Authorization header names as signed and
    the body received, at the request's X-Amz-Date. Returns the signature."""
    found = AUTH.fullmatch(rec.headers["authorization"])
    assert found is not None, rec.headers["authorization"]
    assert (found["key"], found["region"]) == (key, region)
    signed = found["signed"].split(";")
    # The body is covered through its hash, its type and where it goes through these.
    assert {"content-type", "host", "x-amz-date"} <= set(signed)
    assert ("x-amz-security-token" in signed) == (token is not None)
    assert rec.headers.get("x-amz-security-token") == token
    stamp = rec.headers["x-amz-date"]
    assert stamp.startswith(found["date"])
    when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    url = sim.url + rec.path + (f"?{rec.query}" if rec.query else "")
    oracle = AWSRequest(method=rec.method, url=url, data=rec.body)
    for name in signed:
        if name not in ("x-amz-date", "x-amz-security-token"):  # botocore sets these itself
            oracle.headers[name] = rec.headers[name]
    creds = botocore.credentials.Credentials(key, secret, token)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            botocore.auth,
            "get_current_datetime",
            lambda remove_tzinfo=True: when if remove_tzinfo else when.replace(tzinfo=datetime.UTC),
        )
        botocore.auth.SigV4Auth(creds, "bedrock", region).add_auth(oracle)
    assert oracle.headers["X-Amz-Date"] == stamp
    assert oracle.headers["Authorization"] == rec.headers["authorization"]
    return found["signature"]


# -- requests, signatures, answers ----------------------------------------------------------------


async def test_answer_and_the_signed_request_at_the_server(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await call(client)
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.query) == (
        "POST",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        "",
    )
    assert rec.headers["content-type"] == "application/json"
    assert rec.headers["accept"] == "application/json"
    assert rec.headers["user-agent"].startswith("ritellm/")
    assert rec.headers["host"] == sim.url.removeprefix("http://")
    assert "x-amz-security-token" not in rec.headers
    assert rec.json == {"messages": WIRE_MSGS}
    verify_signature(rec, sim)
    assert isinstance(r, ritellm.ModelResponse)
    assert isinstance(r.created, int)
    assert plain(r, "created") == {
        "id": f"chatcmpl-{request_id(1)}",
        "object": "chat.completion",
        "model": MODEL_ID,
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
    assert r.choices[0].message.content == ANSWER
    assert r.usage.prompt_tokens_details.cached_tokens == 0


async def test_a_stream_dripped_one_byte_per_write_gives_the_same_chunks(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Every frame (prelude, headers, payload, CRCs) split at every byte on the wire.
    sim.script(Reply(content="Hi there", fault="drip", delay=0.0001))
    chunks = await collect(client)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Hi "}, None),
        ({"content": "there"}, None),
        ({}, "stop"),
    ]


@pytest.mark.parametrize("include_usage", [False, True])
async def test_streamed_answer(
    sim: Simulator, client: ritellm.AsyncClient, include_usage: bool
) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = await collect(client, **options)
    [rec] = sim.requests
    assert rec.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    assert rec.headers["accept"] == "application/vnd.amazon.eventstream"
    assert rec.json == {"messages": WIRE_MSGS}  # stream_options is ritellm's, not sent
    verify_signature(rec, sim)
    assert deltas(chunks) == answer_deltas()
    assert all(isinstance(c, ritellm.ModelResponseStream) for c in chunks)
    # Every chunk carries AWS's request id, as the non-streamed answer does.
    assert {c.id for c in chunks} == {f"chatcmpl-{request_id(1)}"}
    assert {(c.object, c.model) for c in chunks} == {("chat.completion.chunk", MODEL_ID)}
    if include_usage:
        assert chunks[-1]["choices"] == []
        assert plain(chunks[-1].usage) == USAGE
    else:
        assert all("usage" not in c for c in chunks)
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    assert rebuilt.choices[0].message.content == ANSWER


@pytest.mark.parametrize("stream", [False, True])
async def test_an_inference_profile_arn_is_one_path_segment(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    if stream:
        await collect(client, model=f"bedrock/{ARN}")
    else:
        r = await call(client, model=f"bedrock/{ARN}")
        assert (r.model, r.choices[0].message.content) == (ARN, ANSWER)
    [rec] = sim.requests
    action = "converse-stream" if stream else "converse"
    assert rec.path == f"/model/{quote(ARN, safe='')}/{action}"
    assert rec.path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
        f"us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/{action}"
    )
    verify_signature(rec, sim)


async def test_extra_headers_are_signed(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await call(client, extra_headers={"X-Trace-Tag": "a   b", "X-Amzn-Trace-Id": "Root=1"})
    [rec] = sim.requests
    signed = AUTH.fullmatch(rec.headers["authorization"])
    assert signed is not None
    # Signed as sent (the tracing header is one a proxy may rewrite: never signed).
    assert signed["signed"] == "accept;content-type;host;x-amz-date;x-trace-tag"
    verify_signature(rec, sim)


async def test_extra_headers_only_the_signer_sets_are_refused(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await call(client, extra_headers={"X-Amz-Date": "20250101T000000Z"})
    assert str(info.value) == (
        "bedrock cannot sign this request: header 'X-Amz-Date' is set by the signer"
    )
    assert sim.requests == []


async def test_a_base_url_query_is_kept_and_signed(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await call(client, base_url=f"{sim.url}/?tenant=a%20b&z=1")
    [rec] = sim.requests
    assert (rec.path, rec.query) == (
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        "tenant=a%20b&z=1",
    )
    verify_signature(rec, sim)


@pytest.mark.parametrize("stream", [False, True])
async def test_session_token(sim: Simulator, client: ritellm.AsyncClient, stream: bool) -> None:
    if stream:
        assert deltas(await collect(client, aws_session_token=TOKEN)) == answer_deltas()
    else:
        assert (await call(client, aws_session_token=TOKEN)).choices[0].message.content == ANSWER
    [rec] = sim.requests
    verify_signature(rec, sim, token=TOKEN)


async def test_every_attempt_is_signed_anew(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(
        Reply(status=500, headers=FAST_RETRY),
        Reply(status=503, headers=FAST_RETRY),
        Reply(content="Third time lucky."),
    )
    records: list[dict[str, Any]] = []
    r = await call(client, num_retries=2, aws_session_token=TOKEN, logger_fn=records.append)
    assert r.choices[0].message.content == "Third time lucky."
    assert r.id == f"chatcmpl-{request_id(3)}"
    assert len(sim.requests) == 3
    for rec in sim.requests:
        verify_signature(rec, sim, token=TOKEN)
    assert [record["attempt"] for record in records] == [0, 1, 2]
    # Each record shows that attempt's own request: its own date, nothing secret.
    for record, rec in zip(records, sim.requests, strict=True):
        assert record["headers"]["X-Amz-Date"] == rec.headers["x-amz-date"]
        assert record["headers"]["Authorization"] == "AWS4-HMAC-SHA256 ***"
        assert record["headers"]["X-Amz-Security-Token"] == "***"


async def test_a_retried_stream_is_signed_anew(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(status=429, headers=FAST_RETRY), Reply())
    assert deltas(await collect(client, num_retries=1)) == answer_deltas()
    assert len(sim.requests) == 2
    for rec in sim.requests:
        assert rec.path.endswith("/converse-stream")
        verify_signature(rec, sim)


@pytest.mark.parametrize("stream", [False, True])
async def test_bedrock_api_key_as_bearer(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    # The simulator takes its api_key as a Bedrock API key too.
    options: dict[str, Any] = {"api_key": ACCESS_KEY_ID, "aws_region_name": REGION}
    with anyio.fail_after(10):
        if stream:
            async with await client.acompletion(MODEL, MSGS, stream=True, **options) as chunks:
                assert deltas([x async for x in chunks]) == answer_deltas()
        else:
            r = await client.acompletion(MODEL, MSGS, **options)
            assert r.choices[0].message.content == ANSWER
    [rec] = sim.requests
    assert rec.headers["authorization"] == f"Bearer {ACCESS_KEY_ID}"
    assert "x-amz-date" not in rec.headers
    assert "x-amz-security-token" not in rec.headers


async def test_bedrock_api_key_from_the_environment(
    sim: Simulator, client: ritellm.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_REGION", REGION)
    with anyio.fail_after(10):
        r = await client.acompletion(MODEL, MSGS)
    assert r.choices[0].message.content == ANSWER
    assert sim.requests[0].headers["authorization"] == f"Bearer {ACCESS_KEY_ID}"


async def test_credentials_from_the_environment(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_BEDROCK_RUNTIME_ENDPOINT", sim.url)
    async with ritellm.AsyncClient() as c:
        with anyio.fail_after(10):
            r = await c.acompletion(MODEL, MSGS)
            async with await c.acompletion(MODEL, MSGS, stream=True) as stream:
                chunks = [x async for x in stream]
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    assert deltas(chunks) == answer_deltas()
    for rec in sim.requests:
        verify_signature(rec, sim, token=TOKEN, region="eu-west-3")


async def test_the_botocore_credential_chain(
    sim: Simulator, client: ritellm.AsyncClient, aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read (in a worker thread) from a profile: its key, token and region.
    profile_secret = "profile-secret-CANARY-0123456789"
    (aws_home / "credentials").write_text(
        f"[ritellm-sim]\naws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {profile_secret}\naws_session_token = {TOKEN}\n"
    )
    (aws_home / "config").write_text("[profile ritellm-sim]\nregion = ap-northeast-1\n")
    # Keys in the environment do not replace the profile the call names.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    records: list[dict[str, Any]] = []
    with anyio.fail_after(10):
        r = await client.acompletion(
            MODEL, MSGS, aws_profile_name="ritellm-sim", logger_fn=records.append
        )
        stream = await client.acompletion(MODEL, MSGS, stream=True, aws_profile_name="ritellm-sim")
        async with stream:
            chunks = [x async for x in stream]
    assert r.choices[0].message.content == ANSWER
    assert deltas(chunks) == answer_deltas()
    assert len(sim.requests) == 2
    for rec in sim.requests:
        verify_signature(rec, sim, secret=profile_secret, token=TOKEN, region="ap-northeast-1")
    assert profile_secret not in json.dumps(records)
    assert TOKEN not in json.dumps(records)


async def test_the_chain_without_the_profile_fails_at_the_await(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with anyio.fail_after(10), pytest.raises(ritellm.AuthenticationError) as info:
        await client.acompletion(MODEL, MSGS, aws_profile_name="missing", aws_region_name=REGION)
    assert info.value.message == (
        "AWS credential chain failed (ProfileNotFound): The config profile (missing) could not "
        "be found"
    )
    assert sim.requests == []


async def test_no_credentials_reach_a_custom_endpoint_unsigned(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # The chain found nothing: a base_url of the caller's own is called unsigned, and the
    # simulator (which wants ACCESS_KEY_ID) refuses it as AWS would.
    with anyio.fail_after(10), pytest.raises(ritellm.AuthenticationError) as info:
        await client.acompletion(MODEL, MSGS, aws_region_name=REGION, num_retries=0)
    assert info.value.message == "Missing Authentication Token"
    assert (info.value.status_code, info.value.type) == (403, "MissingAuthenticationTokenException")
    [rec] = sim.requests
    assert "authorization" not in rec.headers


async def test_an_open_endpoint_needs_no_credentials_and_no_region() -> None:
    async with Simulator() as open_sim, ritellm.AsyncClient(base_url=open_sim.url) as c:
        with anyio.fail_after(10):
            r = await c.acompletion(MODEL, MSGS)
            stream = await c.acompletion(MODEL, MSGS, stream=True)
            async with stream:
                chunks = [x async for x in stream]
        assert_pool_clean(c)
    assert r.choices[0].message.content == ANSWER
    assert deltas(chunks) == answer_deltas()
    for rec in open_sim.requests:
        assert "authorization" not in rec.headers
        assert "x-amz-date" not in rec.headers


# -- tools and reasoning ------------------------------------------------------------------------

CALLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
    {"name": "ping", "arguments": ""},
]


async def test_tool_calls_and_reasoning(sim: Simulator, client: ritellm.AsyncClient) -> None:
    reply = Reply(tool_calls=CALLS, reasoning="Two tools will do.", chunk_size=5)
    sim.script(reply, reply)
    whole = await call(client, tools=[WEATHER], reasoning_effort="low")
    chunks = await collect(client, tools=[WEATHER], reasoning_effort="low")
    # The request: tools as toolSpecs, the thinking budget with room for the answer.
    assert sim.requests[0].json == sim.requests[1].json
    assert sim.requests[0].json == {
        "messages": WIRE_MSGS,
        "inferenceConfig": {"maxTokens": 1024 + 4096},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Current weather",
                        "inputSchema": {
                            "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                        },
                    }
                }
            ]
        },
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    }
    message = whole.choices[0].message
    assert whole.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.reasoning_content == "Two tools will do."
    assert plain(message.thinking_blocks) == [
        {
            "type": "thinking",
            "thinking": "Two tools will do.",
            "signature": sim_signature("Two tools will do."),
        }
    ]
    assert [(c.type, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("function", "get_weather", '{"city":"Paris"}'),
        ("function", "get_time", '{"tz":"Europe/Paris"}'),
        ("function", "ping", "{}"),
    ]
    ids = [c.id for c in message.tool_calls]
    assert all(re.fullmatch(r"tooluse_[0-9a-f]{24}", i) for i in ids)
    assert len(set(ids)) == 3
    # Streamed: the same answer (the arguments as the model wrote them, in fragments).
    rebuilt = ritellm.stream_chunk_builder(chunks)
    assert rebuilt is not None
    streamed = rebuilt.choices[0].message
    assert rebuilt.choices[0].finish_reason == "tool_calls"
    assert (streamed.content, streamed.reasoning_content) == (None, "Two tools will do.")
    assert plain(streamed.thinking_blocks) == plain(message.thinking_blocks)
    assert [c.id for c in streamed.tool_calls] == ids
    assert [json.loads(c.function.arguments) for c in streamed.tool_calls] == [
        {"city": "Paris"},
        {"tz": "Europe/Paris"},
        {},
    ]
    fragments = [
        d["tool_calls"][0]["function"]["arguments"] for d, _ in deltas(chunks) if "tool_calls" in d
    ]
    assert fragments[:4] == ["", '{"cit', 'y": "', "Paris"]  # 5 characters at a time
    assert deltas(chunks)[0][0] == {
        "role": "assistant",
        "reasoning_content": "Two t",
        "thinking_blocks": [{"index": 0, "type": "thinking", "thinking": "Two t"}],
    }


async def test_a_tool_loop_the_simulator_validates(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(
        Reply(tool_calls=[CALLS[0]], reasoning="Weather first."),
        Reply(content="It is sunny in Paris."),
    )
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = await call(client, messages=messages, tools=[WEATHER], reasoning_effort="low")
    assistant = first.choices[0].message
    [tool_call] = assistant.tool_calls
    messages += [
        assistant,  # as returned: thinking block (signed), tool call
        {"role": "tool", "tool_call_id": tool_call.id, "content": '{"temp": 21, "sky": "sunny"}'},
    ]
    final = await call(client, messages=messages, tools=[WEATHER], reasoning_effort="low")
    assert final.choices[0].message.content == "It is sunny in Paris."
    assert final.choices[0].finish_reason == "stop"
    sent = sim.requests[1].json["messages"]
    assert sent[1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "reasoningContent": {
                        "reasoningText": {
                            "text": "Weather first.",
                            "signature": sim_signature("Weather first."),
                        }
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": tool_call.id,
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": tool_call.id,
                        "content": [{"json": {"temp": 21, "sky": "sunny"}}],
                        "status": "success",
                    }
                }
            ],
        },
    ]
    # Bedrock wants the tools of a conversation that used them (so does the simulator).
    with pytest.raises(ritellm.BadRequestError) as info:
        await call(client, messages=messages, num_retries=0)
    assert info.value.message == (
        "The toolConfig field must be defined when using toolUse and toolResult content blocks."
    )
    # A result for a call the conversation never made is refused.
    messages[-1] = {**messages[-1], "tool_call_id": "tooluse_unknown", "name": "get_weather"}
    with pytest.raises(ritellm.BadRequestError) as info:
        await call(client, messages=messages, tools=[WEATHER], num_retries=0)
    assert info.value.message == (
        "The toolUseId in a toolResult block doesn't match any toolUse block in the previous turn."
    )


async def test_images_are_sent_as_bytes(sim: Simulator, client: ritellm.AsyncClient) -> None:
    png = "iVBORw0KGgo="
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
            ],
        }
    ]
    r = await call(client, messages=messages)
    assert (
        r.choices[0].message.content == "Hello from the ritellm simulator! You said: What is this?"
    )
    assert sim.requests[0].json["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"bytes": png}}
    }


# -- HTTP errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cls", "status", "kind", "message"),
    [
        (
            Reply(status=400),
            ritellm.BadRequestError,
            400,
            "ValidationException",
            "Malformed input request, please reformat your input.",
        ),
        (
            Reply(status=400, error_message="Input is too long for requested model."),
            ritellm.ContextWindowExceededError,
            400,
            "ValidationException",
            "Input is too long for requested model.",
        ),
        (
            Reply(status=403),
            ritellm.PermissionDeniedError,
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        (
            Reply(
                status=403,
                error_type="ExpiredTokenException",
                error_message="The security token included in the request is expired",
            ),
            ritellm.AuthenticationError,
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        (
            Reply(status=404),
            ritellm.NotFoundError,
            404,
            "ResourceNotFoundException",
            "The requested resource could not be found.",
        ),
        (
            Reply(status=424),
            ritellm.APIError,
            424,
            "ModelErrorException",
            "The model returned an error.",
        ),
        (
            Reply(status=429),
            ritellm.RateLimitError,
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        (
            Reply(status=500),
            ritellm.InternalServerError,
            500,
            "InternalServerException",
            "The server encountered an internal error.",
        ),
        (
            Reply(status=503),
            ritellm.ServiceUnavailableError,
            503,
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_http_errors(
    sim: Simulator,
    client: ritellm.AsyncClient,
    reply: Reply,
    cls: type[ritellm.APIError],
    status: int,
    kind: str,
    message: str,
    stream: bool,
) -> None:
    sim.script(reply)
    with pytest.raises(ritellm.APIError) as info:
        await call(client, stream=stream, num_retries=0)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.type, err.message) == (status, kind, message)
    assert err.body == {"message": message}
    assert (err.provider, err.model) == ("bedrock", MODEL)
    assert err.headers["x-amzn-requestid"] == request_id(1)
    assert err.request_id == request_id(1)  # AWS's id, for a support ticket
    assert str(err) == f"{MODEL}: HTTP {status}: {message}"
    assert len(sim.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_an_aws_error_body_sent_with_a_200_is_its_twin(
    sim: Simulator, client: ritellm.AsyncClient, stream: bool
) -> None:
    # A proxy answering with AWS's error JSON and a 200, streamed or not: typed by its name.
    body = {"__type": "ThrottlingException", "message": "Too many requests"}
    sim.script(Reply(body=body, headers=FAST_RETRY))
    with pytest.raises(ritellm.RateLimitError) as info:
        await call(client, stream=stream, num_retries=0)
    assert (info.value.status_code, info.value.message) == (429, "Too many requests")


async def test_throttling_is_retried_then_raised(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(*[Reply(status=429, headers=FAST_RETRY)] * 3)
    with pytest.raises(ritellm.RateLimitError) as info:
        await call(client, num_retries=2)
    assert info.value.type == "ThrottlingException"
    assert len(sim.requests) == 3
    for rec in sim.requests:
        verify_signature(rec, sim)


async def test_a_wrong_access_key_is_an_authentication_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    records: list[dict[str, Any]] = []
    with pytest.raises(ritellm.AuthenticationError) as info:
        await call(
            client,
            aws_access_key_id="AKIDWRONG0000000000",
            aws_session_token=TOKEN,
            logger_fn=records.append,
        )
    err = info.value
    assert type(err) is ritellm.AuthenticationError
    assert (err.status_code, err.type, err.message) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert len(sim.requests) == 1  # never retried
    signature = verify_signature(sim.requests[0], sim, key="AKIDWRONG0000000000", token=TOKEN)
    for secret in (SECRET, TOKEN, signature):
        for thing in (str(err), repr(err), err.message, err.body, err.headers, err.args, records):
            assert secret not in str(thing)
            assert secret not in json.dumps(thing, default=str)


async def test_a_2xx_error_body(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(fault="stream_error", error_message="Upstream failure."))
    with pytest.raises(ritellm.InternalServerError) as info:
        await call(client, num_retries=0)
    assert (info.value.status_code, info.value.message) == (500, "Upstream failure.")
    sim.script(
        Reply(
            fault="stream_error",
            error_message="Slow down.",
            headers={"x-amzn-errortype": "ThrottlingException", **FAST_RETRY},
        ),
        Reply(),
    )
    r = await call(client, num_retries=1)  # retried as the 429 it stands for
    assert r.choices[0].message.content == ANSWER


async def test_a_malformed_response_body(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(fault="malformed"))
    with pytest.raises(ritellm.APIResponseValidationError) as info:
        await call(client, num_retries=2)
    assert info.value.message == (
        "response with a body that is not JSON (application/json): "
        '\'{"output": {"message": {"role": "assist\''
    )
    assert len(sim.requests) == 1


# -- in-band errors and broken streams ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "cls", "status"),
    [
        ("throttlingException", ritellm.RateLimitError, 429),
        ("validationException", ritellm.BadRequestError, 400),
        ("internalServerException", ritellm.InternalServerError, 500),
        ("serviceUnavailableException", ritellm.ServiceUnavailableError, 503),
    ],
)
async def test_inband_error_before_any_chunk_is_raised_at_the_await(
    sim: Simulator, client: ritellm.AsyncClient, wire: str, cls: type[ritellm.APIError], status: int
) -> None:
    sim.script(
        Reply(fault="stream_error", error_type=wire, error_message="Stopped.", error_after=1)
    )
    with pytest.raises(ritellm.APIError) as info:
        await call(client, stream=True, num_retries=0)
    err = info.value
    assert type(err) is cls
    name = wire[0].upper() + wire[1:]
    assert (err.status_code, err.type, err.message) == (status, name, "Stopped.")
    cause = err.__cause__
    assert isinstance(cause, ritellm.StreamError)
    assert cause.inband is not None and cause.inband.status == status
    assert len(sim.requests) == 1


async def test_a_model_stream_error_before_any_chunk_is_a_stream_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(fault="stream_error", error_after=0))
    with pytest.raises(ritellm.StreamError) as info:
        await call(client, stream=True, num_retries=2)
    err = info.value
    assert type(err) is ritellm.StreamError
    assert (err.type, err.message) == ("ModelStreamErrorException", "The model stream failed.")
    assert err.inband is not None and err.inband.status is None
    assert len(sim.requests) == 1  # not retried


async def test_inband_throttling_before_any_chunk_is_retried(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(
        Reply(fault="stream_error", error_type="throttlingException", error_after=1), Reply()
    )
    assert deltas(await collect(client, num_retries=1)) == answer_deltas()
    assert len(sim.requests) == 2
    for rec in sim.requests:
        verify_signature(rec, sim)


async def test_inband_error_after_chunks_is_a_stream_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(
        Reply(
            fault="stream_error",
            error_type="throttlingException",
            error_message="Too many tokens.",
            error_after=3,
        )
    )
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, got, num_retries=2)
    assert deltas(got) == answer_deltas()[:2]  # messageStart, then two text deltas
    err = info.value
    assert type(err) is ritellm.StreamError
    assert (err.message, err.type, err.status_code) == (
        "Too many tokens.",
        "ThrottlingException",
        None,
    )
    assert err.body == {"message": "Too many tokens."}
    assert err.inband is not None and err.inband.status == 429
    assert (err.provider, err.model) == ("bedrock", MODEL)
    assert len(sim.requests) == 1


TRUNCATED = "stream ended before messageStop (the response was truncated)"


@pytest.mark.parametrize(("truncate_after", "chunks"), [(3, 2), (11, 9)])
async def test_truncated_stream(
    sim: Simulator, client: ritellm.AsyncClient, truncate_after: int, chunks: int
) -> None:
    sim.script(Reply(fault="truncate", truncate_after=truncate_after))
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, got, num_retries=2)
    assert deltas(got) == answer_deltas()[:chunks]
    assert info.value.message == TRUNCATED
    assert info.value.inband is None
    assert len(sim.requests) == 1


async def test_truncated_before_any_chunk_fails_at_the_await(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(fault="truncate", truncate_after=1))
    with pytest.raises(ritellm.StreamError) as info:
        await call(client, stream=True, num_retries=0)
    assert info.value.message == TRUNCATED


def corrupted(frame: bytes) -> str:
    """The decoder's message for ``frame`` with its last byte XOR-ed with 0x5A (the
    simulator's ``malformed`` fault)."""
    stored = int.from_bytes(frame[-4:], "big") ^ 0x5A
    return (
        "event stream message CRC mismatch: "
        f"expected 0x{stored:08x}, computed 0x{crc32(frame[:-4]):08x}"
    )


async def test_corrupted_stream(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(fault="malformed", malformed_after=2))
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, got, num_retries=2)
    assert deltas(got) == answer_deltas()[:1]
    # Frame 2 is the second text delta.
    frame = event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "from "}})
    assert info.value.message == corrupted(frame)
    assert info.value.inband is None
    assert len(sim.requests) == 1


# -- secrets ---------------------------------------------------------------------------------------


async def test_logs_and_errors_hold_no_secret(sim: Simulator, client: ritellm.AsyncClient) -> None:
    records: list[dict[str, Any]] = []
    sim.script(Reply(status=400, error_message="Bad input."), Reply())
    with pytest.raises(ritellm.BadRequestError) as info:
        await call(client, aws_session_token=TOKEN, logger_fn=records.append, num_retries=0)
    await collect(client, aws_session_token=TOKEN, logger_fn=records.append)
    signatures = [verify_signature(rec, sim, token=TOKEN) for rec in sim.requests]
    assert len(records) == 2
    for record, rec in zip(records, sim.requests, strict=True):
        assert record["url"] == sim.url + rec.path
        assert record["body"] == rec.json
        assert record["provider"] == "bedrock"
        assert record["headers"]["Authorization"] == "AWS4-HMAC-SHA256 ***"
        assert record["headers"]["X-Amz-Security-Token"] == "***"
        assert record["headers"]["X-Amz-Date"] == rec.headers["x-amz-date"]
    err = info.value
    shown = json.dumps(records) + str(err) + repr(err) + json.dumps(err.headers) + str(err.body)
    for secret in (SECRET, TOKEN, *signatures):
        assert secret not in shown
    assert_no_secret_in_repr(client)


def assert_no_secret_in_repr(*things: Any) -> None:
    for thing in things:
        assert SECRET not in repr(thing)
        assert TOKEN not in repr(thing)


async def test_an_echoed_session_token_is_scrubbed(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=400, error_message=f"bad token {TOKEN}"))
    with pytest.raises(ritellm.BadRequestError) as info:
        await call(client, aws_session_token=TOKEN, num_retries=0)
    assert TOKEN not in info.value.message
