"""The simulator's Azure OpenAI format, with openai.AzureOpenAI (sync and async) as the oracle,
raw bytes checked where Azure's stream differs from OpenAI's, and its gateway errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest

from ritellm.testing import Reply, Simulator, ThreadedSimulator
from tests.sim_helpers import raw

pytestmark = pytest.mark.timeout(30)
# See the async stream test that uses it.
UNCLOSED_SDK_GENERATORS = "ignore:Async generator '(openai|httpx2|httpcore2)\\.:ResourceWarning"

KEY = "azure-test-key-123456"
VERSION = "2024-10-21"
DEPLOYMENT = "my-gpt"
PATH = f"/openai/deployments/{DEPLOYMENT}/chat/completions"
HELLO: Any = [{"role": "user", "content": "Hello there"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
SAFE = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}
PROMPT_FILTER = [
    {
        "prompt_index": 0,
        "content_filter_results": {**SAFE, "jailbreak": {"filtered": False, "detected": False}},
    }
]
TOOLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
]


@pytest.fixture
def sim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread(api_key=KEY) as threaded:
        yield threaded


def azure(url: str, **auth: Any) -> openai.AzureOpenAI:
    auth = auth or {"api_key": KEY}
    return openai.AzureOpenAI(
        azure_endpoint=url, api_version=VERSION, max_retries=0, timeout=10, **auth
    )


@pytest.fixture
def client(sim: ThreadedSimulator) -> Iterator[openai.AzureOpenAI]:
    with azure(sim.url) as c:
        yield c


# --------------------------------------------------------------------------------------------
# Sync SDK


def test_non_stream(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    assert sim.url == f"http://127.0.0.1:{sim.port}"  # the server root: Azure's endpoint
    assert sim.base_url == f"{sim.url}/v1"  # OpenAI's base URL stays /v1
    completion = client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    [choice] = completion.choices
    assert choice.message.content == ANSWER
    assert choice.finish_reason == "stop"
    # Azure reports the deployment's model; the simulator knows only the deployment.
    assert completion.model == DEPLOYMENT
    extra = completion.model_extra or {}
    assert extra["prompt_filter_results"] == PROMPT_FILTER
    assert (choice.model_extra or {})["content_filter_results"] == SAFE
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2
    [rec] = sim.requests
    assert (rec.method, rec.path, rec.query) == ("POST", PATH, f"api-version={VERSION}")
    assert rec.headers["api-key"] == KEY
    assert "authorization" not in rec.headers
    assert rec.json["messages"] == HELLO


def test_stream(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    sim.script(Reply(content="Hi there, friend!"))
    chunks = list(
        client.chat.completions.create(
            model=DEPLOYMENT,
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    prompt_filter, role, *content, finish, usage = chunks
    assert (prompt_filter.id, prompt_filter.model, prompt_filter.created) == ("", "", 0)
    assert prompt_filter.choices == []
    assert (prompt_filter.model_extra or {})["prompt_filter_results"] == PROMPT_FILTER
    assert (role.choices[0].model_extra or {})["content_filter_results"] == {}
    assert [c.choices[0].delta.content for c in content] == ["Hi ", "there, ", "friend!"]
    assert all((c.choices[0].model_extra or {})["content_filter_results"] == SAFE for c in content)
    assert finish.choices[0].finish_reason == "stop"
    assert {c.model for c in chunks[1:]} == {DEPLOYMENT}
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.completion_tokens == 3


def test_async_filter_annotations(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    sim.script(Reply(content="a b", async_filter=True))
    chunks = list(client.chat.completions.create(model=DEPLOYMENT, messages=HELLO, stream=True))
    *_, finish, annotation = chunks
    assert finish.choices[0].finish_reason == "stop"
    assert (annotation.id, annotation.model, annotation.created) == ("", "", 0)
    [choice] = annotation.choices
    assert choice.delta is None  # an annotation carries no delta (wire-formats §3.3)
    extra = choice.model_extra or {}
    assert extra["content_filter_results"] == SAFE
    assert extra["content_filter_offsets"] == {
        "check_offset": 3,
        "start_offset": 0,
        "end_offset": 3,
    }
    text = "".join(
        c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta
    )
    assert text == "a b"
    # With the asynchronous filter, content chunks carry no results of their own.
    assert all(
        (c.choices[0].model_extra or {}).get("content_filter_results") == {} for c in chunks[1:-1]
    )


def test_tool_calls_and_round_trip(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    sim.script(Reply(tool_calls=TOOLS), Reply(tool_calls=TOOLS, chunk_size=3), Reply(content="ok"))
    plain = client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    with client.chat.completions.stream(model=DEPLOYMENT, messages=HELLO) as stream:
        streamed = stream.get_final_completion()
    for completion in (plain, streamed):
        [choice] = completion.choices
        calls = choice.message.tool_calls or []
        assert choice.finish_reason == "tool_calls"
        assert [c.function.name for c in calls if c.type == "function"] == [
            "get_weather",
            "get_time",
        ]
    calls = plain.choices[0].message.tool_calls or []
    history: Any = [
        *HELLO,
        plain.choices[0].message.model_dump(exclude_none=True),
        *({"role": "tool", "tool_call_id": c.id, "content": "18C"} for c in calls),
    ]
    final = client.chat.completions.create(model=DEPLOYMENT, messages=history)
    assert final.choices[0].message.content == "ok"
    assert sim.requests[-1].json["messages"][2]["tool_call_id"] == calls[0].id


def test_reasoning_and_cached_usage(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    reply = Reply(reasoning="Think first.", content="Done.", cached_tokens=64)
    sim.script(reply, reply)
    plain = client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    chunks = list(
        client.chat.completions.create(
            model=DEPLOYMENT, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert (plain.choices[0].message.model_extra or {})["reasoning_content"] == "Think first."
    thought = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content", "")
        for c in chunks
        if c.choices
    )
    assert thought == "Think first."
    for usage in (plain.usage, chunks[-1].usage):
        assert usage is not None
        assert usage.prompt_tokens == 2 + 64
        assert usage.prompt_tokens_details is not None
        assert usage.prompt_tokens_details.cached_tokens == 64
        assert usage.completion_tokens_details is not None
        assert usage.completion_tokens_details.reasoning_tokens == 2


def test_content_filter_400(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    sim.script(Reply(blocked="self_harm"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    exc = caught.value
    assert (exc.status_code, exc.code, exc.param, exc.type) == (
        400,
        "content_filter",
        "prompt",
        None,
    )
    body: Any = exc.body
    assert body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert body["innererror"]["content_filter_result"]["self_harm"] == {
        "filtered": True,
        "severity": "medium",
    }
    assert body["innererror"]["content_filter_result"]["violence"]["filtered"] is False


@pytest.mark.parametrize(
    ("status", "error", "code", "message"),
    [
        (
            401,
            openai.AuthenticationError,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint.",
        ),
        (
            404,
            openai.NotFoundError,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist.",
        ),
        (
            429,
            openai.RateLimitError,
            "429",
            f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            f"{VERSION} have exceeded token rate limit",
        ),
        (500, openai.InternalServerError, None, "The server had an error"),
        (400, openai.BadRequestError, None, "Invalid request (simulated)."),
    ],
)
def test_error_statuses(
    client: openai.AzureOpenAI,
    sim: ThreadedSimulator,
    status: int,
    error: type[openai.APIStatusError],
    code: str | None,
    message: str,
) -> None:
    sim.script(Reply(status=status, headers={"retry-after": "6"}))
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    exc = caught.value
    assert exc.status_code == status
    body: Any = exc.body
    assert body["message"].startswith(message)
    assert body.get("code") == code
    if status in (401, 404, 429):  # Azure's gateway shape: a string code and no type
        assert set(body) == {"code", "message"}
    assert exc.response.headers["retry-after"] == "6"
    assert exc.response.headers["apim-request-id"]


def test_stream_error_in_band(sim: ThreadedSimulator, client: openai.AzureOpenAI) -> None:
    sim.script(Reply(fault="stream_error", error_after=2))
    with pytest.raises(openai.APIError, match="server had an error"):
        list(client.chat.completions.create(model=DEPLOYMENT, messages=HELLO, stream=True))


def test_auth(sim: ThreadedSimulator) -> None:
    with (
        azure(sim.url, api_key="wrong-key") as wrong,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        wrong.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    assert caught.value.body == {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make "
        "sure to provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    }
    assert "wrong-key" not in caught.value.response.text
    with azure(sim.url, azure_ad_token=KEY) as entra:  # a Microsoft Entra ID bearer token
        entra.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    assert sim.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_rate_limit() -> None:
    with Simulator.start_in_thread(rate_limit=0.5) as sim, azure(sim.url) as client:
        ok = client.chat.completions.with_raw_response.create(model=DEPLOYMENT, messages=HELLO)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
    assert ok.headers["x-ratelimit-remaining-requests"] == "0"
    exc = caught.value
    body: Any = exc.body
    assert body["code"] == "429"
    assert body["message"].startswith(
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {VERSION}"
        " have exceeded call rate limit"
    )
    assert 1 <= int(exc.response.headers["retry-after"]) <= 2
    assert 1 <= int(exc.response.headers["retry-after-ms"]) <= 2000


# --------------------------------------------------------------------------------------------
# Async SDK, on asyncio and trio


# openai's AsyncStream stops at [DONE] without finishing its (and httpx's) inner async
# generators; trio's finalizer warns about them when they are collected (asyncio finalizes them
# silently). That warning is the SDK's, so it alone is ignored here.
@pytest.mark.filterwarnings(UNCLOSED_SDK_GENERATORS)
@pytest.mark.anyio
async def test_async_sdk() -> None:
    with anyio.fail_after(20):
        async with (
            Simulator(api_key=KEY) as sim,
            openai.AsyncAzureOpenAI(
                azure_endpoint=sim.url, api_key=KEY, api_version=VERSION, max_retries=0
            ) as client,
        ):
            plain = await client.chat.completions.create(model=DEPLOYMENT, messages=HELLO)
            stream = await client.chat.completions.create(
                model=DEPLOYMENT, messages=HELLO, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert plain.choices[0].message.content == ANSWER
    assert text == ANSWER


# --------------------------------------------------------------------------------------------
# Raw bytes and gateway answers


@pytest.mark.anyio
async def test_stream_bytes() -> None:
    with anyio.fail_after(10):
        async with Simulator() as sim:
            sim.script(Reply(content="a b", async_filter=True))
            res = await raw(
                sim, f"{PATH}?api-version={VERSION}", {"messages": HELLO, "stream": True}
            )
    events = [data for _, data in res.events()]
    assert events[-1] == "[DONE]"
    first, *chunks = [json.loads(e) for e in events[:-1]]
    assert first == {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": PROMPT_FILTER,
    }
    annotation = chunks[-1]
    assert "delta" not in annotation["choices"][0]
    assert annotation["usage"] is None
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.anyio
async def test_gateway_answers() -> None:
    body = {"messages": HELLO}
    with anyio.fail_after(10):
        async with Simulator(api_key=KEY) as sim:
            keyed = [("api-key", KEY)]
            no_version = await raw(sim, PATH, body, headers=keyed)
            no_key = await raw(sim, f"{PATH}?api-version={VERSION}", body)
            get = await raw(sim, f"{PATH}?api-version={VERSION}", method="GET", headers=keyed)
            invalid = await raw(
                sim, f"{PATH}?api-version={VERSION}", {"messages": []}, headers=keyed
            )
            with_model = await raw(
                sim, f"{PATH}?api-version={VERSION}", {**body, "model": "x"}, headers=keyed
            )
            quoted = await raw(
                sim,
                f"/openai/deployments/my%20dep/chat/completions?api-version={VERSION}",
                body,
                headers=keyed,
            )
    # Without api-version the gateway finds no operation (wire-formats §3.4).
    assert no_version.status == 404
    assert no_version.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert no_key.status == 401
    assert no_key.json()["error"]["message"].startswith(
        "Access denied due to missing subscription key."
    )
    assert get.status == 404
    assert invalid.status == 400
    assert invalid.json() == {  # the model's own errors keep OpenAI's shape
        "error": {
            "message": "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "empty_array",
        }
    }
    assert with_model.json()["model"] == DEPLOYMENT  # the body's model is ignored
    assert quoted.json()["model"] == "my dep"


def test_command_line_prints_every_base_url() -> None:
    repo = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ritellm.testing", "--port", "0"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    match = re.search(r"OpenAI base URL (http://127\.0\.0\.1:\d+)/v1$", lines[0].strip())
    assert match, lines
    root = match.group(1)
    assert [line.split()[:3] for line in lines[1:]] == [
        ["Anthropic", "base", "URL"],
        ["Gemini", "base", "URL"],
        ["Azure", "endpoint", root],
    ]
    assert all(root in line for line in lines[1:])
    assert proc.returncode == 0
