"""The simulator's Gemini format, with the official google-genai SDK (sync and async) as the
oracle, raw bytes checked where the framing matters, and the request validation's 400s."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from ritellm.testing import Reply, Simulator, ThreadedSimulator
from ritellm.testing._common import signature
from tests.sim_helpers import raw, raw_sync

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

try:  # google-genai's HTTP client: httpx2 in recent releases, httpx in older ones
    http_client: Any = importlib.import_module("httpx2")
except ImportError:
    http_client = importlib.import_module("httpx")

pytestmark = pytest.mark.timeout(30)

KEY = "gemini-test-key-123456"
MODEL = "gemini-2.5-flash"
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent"
HELLO: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}
KEYED = [("x-goog-api-key", KEY)]
TOOLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
]
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="Current weather",
            parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
)


@pytest.fixture
def sim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread(api_key=KEY) as threaded:
        yield threaded


def make_client(url: str, key: str = KEY, version: str = "v1") -> Any:
    # A transport of our own turns off google-genai's per-asyncio-loop pool, whose
    # asyncio.get_running_loop() would fail under trio; sync calls are unaffected.
    options = types.HttpOptions(
        base_url=url,
        api_version=version,
        async_client_args={"transport": http_client.AsyncHTTPTransport()},
    )
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture
def client(sim: ThreadedSimulator) -> Iterator[Any]:
    c = make_client(sim.url)
    yield c
    c.close()


def thinking_config() -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    )


# --------------------------------------------------------------------------------------------
# Sync SDK


def test_text_non_stream(sim: ThreadedSimulator) -> None:
    c = make_client(sim.url, version="v1beta")
    r = c.models.generate_content(model=MODEL, contents="Hello there")
    c.close()
    assert r.text == ANSWER
    assert r.model_version == MODEL
    assert r.response_id
    [candidate] = r.candidates or []
    assert (candidate.finish_reason, candidate.index) == (types.FinishReason.STOP, 0)
    usage = r.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (2, len(ANSWER.split()))
    assert usage.total_token_count == 2 + len(ANSWER.split())
    assert usage.thoughts_token_count is None
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.query) == ("POST", GENERATE, "")
    assert rec.headers["x-goog-api-key"] == KEY
    assert rec.json == {"contents": [{"parts": [{"text": "Hello there"}], "role": "user"}]}


def test_text_stream(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(content="Hi there, friend!"))
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Hello there"))
    # The simulator serves both API versions (google-genai 3 uses v1 by default, older v1beta).
    [rec] = sim.requests
    assert (rec.path, rec.query) == (f"/v1/models/{MODEL}:streamGenerateContent", "alt=sse")
    assert [c.text for c in chunks] == ["Hi ", "there, ", "friend!"]
    assert [c.candidates[0].finish_reason for c in chunks] == [None, None, types.FinishReason.STOP]
    counts = [c.usage_metadata.candidates_token_count for c in chunks]
    assert counts == [1, 2, 3]  # cumulative on every chunk
    assert {c.usage_metadata.prompt_token_count for c in chunks} == {2}
    assert {c.response_id for c in chunks} == {chunks[0].response_id}
    assert {c.model_version for c in chunks} == {MODEL}


def test_tool_calls(sim: ThreadedSimulator, client: Any) -> None:
    ids = [{**TOOLS[0], "id": "call-1"}, TOOLS[1]]
    sim.script(Reply(tool_calls=TOOLS), Reply(tool_calls=ids, content="Checking."))
    config = types.GenerateContentConfig(tools=[WEATHER])
    plain = client.models.generate_content(model=MODEL, contents="Weather?", config=config)
    chunks = list(
        client.models.generate_content_stream(model=MODEL, contents="Weather?", config=config)
    )
    for calls in (plain.function_calls, chunks[-1].function_calls):
        assert [(c.name, c.args) for c in calls or []] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "Europe/Paris"}),
        ]
    assert [c.id for c in plain.function_calls or []] == [None, None]  # Gemini sends no ids
    assert [c.id for c in chunks[-1].function_calls or []] == ["call-1", None]
    assert plain.candidates[0].finish_reason == types.FinishReason.STOP
    # Both calls arrive whole, in one chunk, which also ends the stream.
    assert [c.function_calls is not None for c in chunks] == [False, True]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_tool_round_trip_is_validated(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=TOOLS[:1], reasoning="Need the weather."), Reply(content="Sunny."))
    config = types.GenerateContentConfig(tools=[WEATHER])
    question = types.Content(role="user", parts=[types.Part.from_text(text="Weather?")])
    first = client.models.generate_content(model=MODEL, contents=[question], config=config)
    model_turn = first.candidates[0].content
    answer = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="get_weather", response={"temp": 18})],
    )
    second = client.models.generate_content(
        model=MODEL, contents=[question, model_turn, answer], config=config
    )
    assert second.text == "Sunny."
    sent = sim.requests[1].json
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    call_part = next(p for p in sent["contents"][1]["parts"] if "functionCall" in p)
    # Echoed back (google-genai re-encodes bytes as URL-safe base64; protobuf reads both).
    echoed = call_part["thoughtSignature"].replace("-", "+").replace("_", "/")
    assert echoed == signature("Need the weather.")
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents=[question, answer], config=config)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == (
        "Please ensure that function response turn comes immediately after a function call turn."
    )
    assert sim.pending_replies == 0


def test_thinking_and_cached_usage(sim: ThreadedSimulator, client: Any) -> None:
    reply = Reply(reasoning="Let me think.", content="Done.", cached_tokens=40)
    sim.script(reply, reply)
    plain = client.models.generate_content(
        model=MODEL, contents="Hello there", config=thinking_config()
    )
    chunks = list(
        client.models.generate_content_stream(
            model=MODEL, contents="Hello there", config=thinking_config()
        )
    )
    parts = plain.candidates[0].content.parts
    assert [(p.thought, p.text) for p in parts] == [(True, "Let me think."), (None, "Done.")]
    assert plain.text == "Done."  # thoughts are not the answer
    thoughts = [p.text for c in chunks for p in c.candidates[0].content.parts if p.thought]
    assert "".join(thoughts) == "Let me think."
    for usage in (plain.usage_metadata, chunks[-1].usage_metadata):
        assert usage.thoughts_token_count == 3
        assert usage.cached_content_token_count == 40
        assert usage.prompt_token_count == 42  # the cached tokens are part of the prompt
        assert usage.candidates_token_count == 1
        assert usage.total_token_count == 42 + 1 + 3
    sim.script(Reply(usage={"promptTokenCount": 9}))
    verbatim = client.models.generate_content(model=MODEL, contents="x")
    assert verbatim.usage_metadata.model_dump(exclude_none=True) == {"prompt_token_count": 9}


def test_max_tokens_and_finish_override(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(content="one two three"), Reply(content="x", finish_reason="SAFETY"))
    config = types.GenerateContentConfig(max_output_tokens=2)
    cut = client.models.generate_content(model=MODEL, contents="Hi", config=config)
    assert (cut.text, cut.candidates[0].finish_reason) == ("one two ", "MAX_TOKENS")
    assert sim.requests[0].json["generationConfig"] == {"maxOutputTokens": 2}
    unsafe = client.models.generate_content(model=MODEL, contents="Hi")
    assert unsafe.candidates[0].finish_reason == types.FinishReason.SAFETY


def test_prompt_blocked(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(blocked="SAFETY"), Reply(blocked="PROHIBITED_CONTENT"))
    plain = client.models.generate_content(model=MODEL, contents="bad")
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="bad"))
    assert plain.candidates is None
    assert plain.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert plain.prompt_feedback.safety_ratings
    [only] = chunks  # the single stream event
    assert only.candidates is None
    assert only.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT


@pytest.mark.parametrize(
    ("status", "error", "code", "message"),
    [
        (400, errors.ClientError, "INVALID_ARGUMENT", "Request contains an invalid argument."),
        (403, errors.ClientError, "PERMISSION_DENIED", "The caller does not have permission"),
        (404, errors.ClientError, "NOT_FOUND", f"models/{MODEL} is not found for API version v1,"),
        (429, errors.ClientError, "RESOURCE_EXHAUSTED", "You exceeded your current quota"),
        (500, errors.ServerError, "INTERNAL", "An internal error has occurred."),
        (503, errors.ServerError, "UNAVAILABLE", "The model is overloaded."),
        (504, errors.ServerError, "DEADLINE_EXCEEDED", "Deadline expired"),
    ],
)
def test_error_statuses(
    sim: ThreadedSimulator,
    client: Any,
    status: int,
    error: type[errors.APIError],
    code: str,
    message: str,
) -> None:
    sim.script(Reply(status=status), Reply(status=status))
    for call in (
        lambda: client.models.generate_content(model=MODEL, contents="Hi"),
        lambda: list(client.models.generate_content_stream(model=MODEL, contents="Hi")),
    ):
        with pytest.raises(error) as caught:
            call()
        exc = caught.value
        assert (exc.code, exc.status) == (status, code)
        assert (exc.message or "").startswith(message)
    details = exc.details["error"].get("details", [])
    if status == 429:
        retry = [d for d in details if d["@type"].endswith("RetryInfo")]
        assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]


def test_stream_error_in_band(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(fault="stream_error", error_after=2, content="a b c d"))
    texts = []
    with pytest.raises(errors.ServerError) as caught:
        for chunk in client.models.generate_content_stream(model=MODEL, contents="Hi"):
            texts.append(chunk.text)
    assert texts == ["a ", "b "]
    assert (caught.value.code, caught.value.status) == (500, "INTERNAL")


def test_auth(sim: ThreadedSimulator) -> None:
    wrong = make_client(sim.url, key="wrong-key")
    with pytest.raises(errors.ClientError) as caught:
        wrong.models.generate_content(model=MODEL, contents="Hi")
    wrong.close()
    exc = caught.value
    # Gemini answers a bad key with 400, not 401 (wire-formats §5.7).
    assert (exc.code, exc.status) == (400, "INVALID_ARGUMENT")
    assert exc.message == "API key not valid. Please pass a valid API key."
    [info, localized] = exc.details["error"]["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["reason"] == "API_KEY_INVALID"
    assert localized["@type"] == "type.googleapis.com/google.rpc.LocalizedMessage"
    assert "wrong-key" not in json.dumps(exc.details)
    by_query = raw_sync(sim, f"{GENERATE}?key={KEY}", HELLO)
    missing = raw_sync(sim, GENERATE, HELLO)
    assert by_query.status == 200
    assert missing.status == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"


def test_rate_limit() -> None:
    with Simulator.start_in_thread(rate_limit=0.5) as sim:
        client = make_client(sim.url)
        client.models.generate_content(model=MODEL, contents="Hi")
        with pytest.raises(errors.ClientError) as caught:
            client.models.generate_content(model=MODEL, contents="Hi")
        client.close()
    exc = caught.value
    assert (exc.code, exc.status) == (429, "RESOURCE_EXHAUSTED")
    [retry] = [d for d in exc.details["error"]["details"] if d["@type"].endswith("RetryInfo")]
    assert retry["retryDelay"] in ("1s", "2s")
    assert "x-ratelimit-limit-requests" not in exc.response.headers  # Gemini sends none


# Not keepalive_comments: Gemini never sends SSE comments, and google-genai's line reader (not
# a full SSE parser) takes a ": ..." line for JSON; that toggle is for ritellm's own decoder.
@pytest.mark.parametrize(
    "shape",
    [{"crlf": True}, {"split_data_lines": True}, {"extra_fields": True}],
    ids=["crlf", "split-data", "extra-fields"],
)
def test_stream_shapes_are_accepted(
    sim: ThreadedSimulator, client: Any, shape: dict[str, Any]
) -> None:
    sim.script(Reply(content="Ünïcode 😀 text", chunk_size=3, **shape))
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Hi"))
    assert "".join(c.text or "" for c in chunks) == "Ünïcode 😀 text"


# --------------------------------------------------------------------------------------------
# Async SDK, on asyncio and trio


@pytest.mark.anyio
async def test_async_sdk() -> None:
    with anyio.fail_after(20):
        async with Simulator(api_key=KEY) as sim:
            client = make_client(sim.url)
            plain = await client.aio.models.generate_content(model=MODEL, contents="Hello there")
            sim.script(Reply(tool_calls=TOOLS, reasoning="hmm"))
            chunks = [
                c
                async for c in await client.aio.models.generate_content_stream(
                    model=MODEL, contents="Hi", config=thinking_config()
                )
            ]
            sim.script(Reply(status=503))
            with pytest.raises(errors.ServerError):
                await client.aio.models.generate_content(model=MODEL, contents="Hi")
            await client.aio.aclose()
            client.close()
    assert plain.text == ANSWER
    assert [c.name for c in chunks[-1].function_calls or []] == ["get_weather", "get_time"]


# --------------------------------------------------------------------------------------------
# Raw bytes


@pytest.mark.anyio
async def test_sse_framing_exact() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="a b", crlf=True), Reply(content="a b"))
            crlf = await raw(sim, f"{STREAM}?alt=sse", HELLO)
            plain = await raw(sim, f"{STREAM}?alt=sse", HELLO)
    assert crlf.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert all(c.startswith(b"data: ") and c.endswith(b"\r\n\r\n") for c in crlf.chunks)
    assert all(c.endswith(b"}\n\n") and b"\r" not in c for c in plain.chunks)
    for res in (crlf, plain):
        assert [name for name, _ in res.events()] == [None, None]  # no event names
        assert b"[DONE]" not in res.body
        first, last = res.data()
        assert "finishReason" not in first["candidates"][0]
        assert last["candidates"][0]["finishReason"] == "STOP"
        assert first["responseId"] == last["responseId"]
        assert first["usageMetadata"]["candidatesTokenCount"] == 1
        assert last["usageMetadata"]["candidatesTokenCount"] == 2


@pytest.mark.anyio
async def test_json_array_stream() -> None:
    with anyio.fail_after(10):
        async with Simulator(api_key=KEY) as sim:
            sim.script(Reply(content="a b c"), Reply(fault="truncate", content="a b c"))
            whole = await raw(sim, STREAM, HELLO, headers=KEYED)
            cut = await raw(sim, STREAM, HELLO, headers=KEYED)
            bad_key = await raw(sim, STREAM, HELLO, headers=[("x-goog-api-key", "nope")])
            invalid = await raw(sim, STREAM, {"contents": []}, headers=KEYED)
    # Without alt=sse: one JSON array, an element per write (wire-formats §5.1).
    assert whole.headers["content-type"] == "application/json; charset=UTF-8"
    assert len(whole.chunks) == 4
    assert whole.chunks[0].startswith(b"[{")
    assert whole.chunks[1].startswith(b",\r\n{")
    assert whole.chunks[-1] == b"]"
    elements = whole.json()
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in elements) == "a b c"
    assert elements[-1]["candidates"][0]["finishReason"] == "STOP"
    assert not cut.body.endswith(b"]")  # a truncated array never closes
    # Errors on the array stream come wrapped in an array too.
    assert bad_key.status == 400
    assert bad_key.json()[0]["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert invalid.status == 400
    assert invalid.json()[0]["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.anyio
async def test_stream_faults_raw() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(
                Reply(fault="stream_error", error_after=1, content="a b c"),
                Reply(fault="truncate", truncate_after=5, content="a b c"),
                Reply(fault="malformed", malformed_after=1, content="a b"),
            )
            errored = await raw(sim, f"{STREAM}?alt=sse", HELLO)
            truncated = await raw(sim, f"{STREAM}?alt=sse", HELLO)
            malformed = await raw(sim, f"{STREAM}?alt=sse", HELLO)
    assert errored.data()[-1] == {
        "error": {
            "code": 500,
            "message": "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
            "status": "INTERNAL",
        }
    }
    assert len(errored.data()) == 2
    # truncate_after beyond the stream still stops before the chunk with finishReason.
    assert all("finishReason" not in d["candidates"][0] for d in truncated.data())
    assert len(truncated.data()) == 2
    assert malformed.events()[1] == (None, '{"candidates": [{"content": {"par')


# --------------------------------------------------------------------------------------------
# Request validation: strict like the API, so a translator bug is a 400 in Google's shape

USER: dict[str, Any] = {"role": "user", "parts": [{"text": "Hi"}]}
CALL: dict[str, Any] = {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}
RESULT: dict[str, Any] = {
    "role": "user",
    "parts": [{"functionResponse": {"name": "f", "response": {"x": 1}}}],
}
NO_CONTENTS = "* GenerateContentRequest.contents: contents is not specified\n"


def unknown(name: str, at: str | None = None) -> tuple[str, list[dict[str, str]]]:
    where = f" at '{at}'" if at else ""
    text = f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.'
    return text, [{"field": at, "description": text} if at else {"description": text}]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**HELLO, "temperature": 0.2}, unknown("temperature")),
        (
            {**HELLO, "generationConfig": {"max_tokens": 5}},
            unknown("max_tokens", "generation_config"),
        ),
        (
            {**HELLO, "generation_config": {"thinkingConfig": {"budget": 5}}},
            unknown("budget", "generation_config.thinking_config"),
        ),
        (
            {"contents": [{"role": "user", "parts": [{"text": "x", "thought_sig": "y"}]}]},
            unknown("thought_sig", "contents[0].parts[0]"),
        ),
        (
            {"contents": [{"role": "user", "parts": [{"text": "x"}], "name": "bob"}]},
            unknown("name", "contents[0]"),
        ),
        (
            {**HELLO, "tools": [{"functionDeclarations": [{"name": "f", "params": {}}]}]},
            unknown("params", "tools[0].function_declarations[0]"),
        ),
        (
            {**HELLO, "tools": [{"function_declarations": [], "googleSearchX": {}}]},
            unknown("googleSearchX", "tools[0]"),
        ),
        (
            {**HELLO, "generationConfig": {"maxOutputTokens": "ten"}},
            (
                "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), \"ten\"",
                [
                    {
                        "field": "generation_config.max_output_tokens",
                        "description": "Invalid value at 'generation_config.max_output_tokens' "
                        '(TYPE_INT32), "ten"',
                    }
                ],
            ),
        ),
        (
            {"contents": []},
            (NO_CONTENTS, None),
        ),
        ({}, (NO_CONTENTS, None)),
        (
            {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
            ("Please use a valid role: user, model.", None),
        ),
        (
            {"contents": [{"role": "user", "parts": []}]},
            (
                "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n",
                None,
            ),
        ),
        (
            {"contents": [{"role": "user", "parts": [{"thought": True}]}]},
            (
                "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' "
                "must have one initialized field\n",
                None,
            ),
        ),
        (
            {"contents": [USER, RESULT]},
            (
                "Please ensure that function response turn comes immediately after a function "
                "call turn.",
                None,
            ),
        ),
        (
            {"contents": [USER, CALL, {"role": "user", "parts": RESULT["parts"] * 2}]},
            (
                "Please ensure that the number of function response parts is equal to the number "
                "of function call parts of the function call turn.",
                None,
            ),
        ),
        (
            {"contents": [CALL, RESULT]},
            (
                "Please ensure that function call turn comes immediately after a user turn or "
                "after a function response turn.",
                None,
            ),
        ),
        (
            {"contents": [USER, {"role": "model", "parts": RESULT["parts"]}]},
            (
                "* GenerateContentRequest.contents[1].parts: function_response parts are only "
                'allowed in a "user" turn.\n',
                None,
            ),
        ),
        (
            {"contents": [{"role": "user", "parts": CALL["parts"]}]},
            (
                "* GenerateContentRequest.contents[0].parts: function_call parts are only "
                'allowed in a "model" turn.\n',
                None,
            ),
        ),
        (
            {**HELLO, "systemInstruction": {"parts": []}},
            (
                "* GenerateContentRequest.system_instruction.parts: contents.parts must not be "
                "empty.\n",
                None,
            ),
        ),
        (
            {**HELLO, "tools": [{"functionDeclarations": [{"description": "no name"}]}]},
            (
                "* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be "
                "empty.\n",
                None,
            ),
        ),
        (
            {**HELLO, "tools": [{"functionDeclarations": [{"name": "get weather"}]}]},
            (
                "* GenerateContentRequest.tools[0].function_declarations[0].name: Invalid "
                "function name. Must start with a letter or an underscore. Must be alphameric "
                "(a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a "
                "maximum length of 64.\n",
                None,
            ),
        ),
        (
            {
                **HELLO,
                "tools": [
                    {
                        "functionDeclarations": [
                            {"name": "f", "parameters": {}, "parametersJsonSchema": {}}
                        ]
                    }
                ],
            },
            (
                "* GenerateContentRequest.tools[0].function_declarations[0]"
                ".parameters_json_schema: parameters and parameters_json_schema cannot both be "
                "set.\n",
                None,
            ),
        ),
    ],
)
@pytest.mark.anyio
async def test_validation(
    body: dict[str, Any], expected: tuple[str, list[dict[str, str]] | None]
) -> None:
    message, violations = expected
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="kept"))
            res = await raw(sim, GENERATE, body)
            assert sim.pending_replies == 1  # an invalid request does not use up the script
    assert res.status == 400
    error: dict[str, Any] = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    if violations is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
        ]
    assert res.json() == {"error": error}


@pytest.mark.anyio
async def test_validation_accepts_valid_shapes() -> None:
    full = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"},
                    {"functionCall": {"name": "g", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "f", "response": {}}},
                    {"functionResponse": {"name": "g", "response": {}}},
                ],
            },
        ],
        "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g", "parameters": {}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "safetySettings": [],
        "generationConfig": {
            "temperature": 0.5,
            "maxOutputTokens": 50,
            "responseMimeType": "application/json",
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 0},
        },
    }
    snake = {
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"parts": [{"text": "A lone prompt may omit the role"}]}],
        "generation_config": {
            "max_output_tokens": 5,
            "thinking_config": {"include_thoughts": False},
        },
    }
    with anyio.fail_after(10):
        async with Simulator() as sim:
            valid = await raw(sim, GENERATE, full)
            snake_case = await raw(sim, f"/v1/models/{MODEL}:generateContent", snake)
            not_json = await raw(sim, GENERATE, body=b"{nope")
            wrong_method = await raw(sim, GENERATE, method="GET")
            other_action = await raw(sim, f"/v1beta/models/{MODEL}:countTokens", HELLO)
    assert valid.status == 200, valid.body
    assert valid.json()["usageMetadata"]["promptTokenCount"] == 5  # the words of every text part
    assert snake_case.status == 200, snake_case.body
    assert not_json.status == 400
    assert not_json.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert wrong_method.status == 404
    assert wrong_method.json()["error"]["status"] == "NOT_FOUND"
    # Only the two model actions are served; other paths get the fallback's (OpenAI's) 404.
    assert other_action.status == 404
    assert other_action.json()["error"]["code"] == "unknown_url"
