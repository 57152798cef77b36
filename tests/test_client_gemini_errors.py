"""Gemini end to end, errors: google.rpc.Status bodies per status, RetryInfo, in-band errors
before and after content, truncation, malformed events, and servers answering in OpenAI's error
shape. Retries are checked by request counts and the retry log, never by the clock. On asyncio
and trio."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean
from tests.test_client_gemini import (
    GENERATE,
    KEY,
    MODEL,
    STREAM,
    client,
    collect,
    complete,
    deltas,
    sim,
    sse_reply,
)

pytestmark = pytest.mark.anyio
__all__ = ["client", "sim"]  # the fixtures, shared with test_client_gemini.py

TYPES = "type.googleapis.com/google.rpc."
QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
INTERNAL = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)


def status_body(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def retry_info(delay: object) -> dict[str, Any]:
    return {"@type": TYPES + "RetryInfo", "retryDelay": delay}


def text_event(text: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "responseId": "r-1", "modelVersion": "gemini-2.5-flash"}


async def call(client: ritellm.AsyncClient, stream: bool, **kwargs: Any) -> Any:
    """A non-streamed response, or a stream read to the end."""
    if stream:
        return await collect(client, **kwargs)
    return await complete(client, **kwargs)


# -- HTTP errors in Gemini's shape ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "kind", "message"),
    [
        (400, ritellm.BadRequestError, "INVALID_ARGUMENT", "Request contains an invalid argument."),
        (
            403,
            ritellm.PermissionDeniedError,
            "PERMISSION_DENIED",
            "The caller does not have permission",
        ),
        (
            404,
            ritellm.NotFoundError,
            "NOT_FOUND",
            "models/gemini-2.5-flash is not found for API version v1beta, or is not supported "
            "for generateContent. Call ListModels to see the list of available models and "
            "their supported methods.",
        ),
        (429, ritellm.RateLimitError, "RESOURCE_EXHAUSTED", QUOTA),
        (500, ritellm.InternalServerError, "INTERNAL", INTERNAL),
        (
            503,
            ritellm.ServiceUnavailableError,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        (
            504,
            ritellm.InternalServerError,
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_http_errors_by_status(
    sim: Simulator,
    client: ritellm.AsyncClient,
    status: int,
    cls: type[ritellm.APIError],
    kind: str,
    message: str,
    stream: bool,
) -> None:
    sim.script(Reply(status=status))
    with pytest.raises(ritellm.APIError) as info:
        await call(client, stream, num_retries=0)
    err = info.value
    assert type(err) is cls
    assert str(err) == f"{MODEL}: HTTP {status}: {message}"
    assert (err.status_code, err.type, err.code) == (status, kind, str(status))
    assert (err.provider, err.model) == ("gemini", MODEL)
    assert err.body["status"] == kind  # the inner google.rpc.Status
    assert err.retry_after == (1.0 if status == 429 else None)  # RetryInfo "1s"
    assert [r.path for r in sim.requests] == [STREAM if stream else GENERATE]


async def test_bad_key_is_an_authentication_error_not_retried(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.url, api_key="not-the-key-42") as c:
        with pytest.raises(ritellm.AuthenticationError) as info:
            await complete(c)
    err = info.value
    assert str(err) == f"{MODEL}: HTTP 400: API key not valid. Please pass a valid API key."
    assert (err.status_code, err.type, err.code) == (400, "INVALID_ARGUMENT", "400")
    assert err.body["details"][0]["reason"] == "API_KEY_INVALID"
    assert len(sim.requests) == 1


async def test_request_validation_400_with_field_violations(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    tools = [{"type": "function", "function": {"name": "bad name!"}}]
    with pytest.raises(ritellm.BadRequestError) as info:
        await complete(client, tools=tools)
    assert info.value.message == (
        "* GenerateContentRequest.tools[0].function_declarations[0].name: Invalid function "
        "name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), "
        "underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.\n"
    )
    assert len(sim.requests) == 1  # a 400 is not retried


@pytest.mark.parametrize("stream", [False, True])
async def test_5xx_is_retried(sim: Simulator, client: ritellm.AsyncClient, stream: bool) -> None:
    fast = {"retry-after-ms": "1"}  # keeps the backoff short; the count is what is checked
    sim.script(Reply(status=503, headers=fast), Reply(status=500, headers=fast))
    result = await call(client, stream, num_retries=2)
    assert result
    assert len(sim.requests) == 3


# -- RetryInfo -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delay", ["0.01s", {"seconds": 0, "nanos": 10_000_000}], ids=["str", "proto"]
)
@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_retry_info_is_honoured(
    sim: Simulator,
    client: ritellm.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    delay: object,
    stream: bool,
) -> None:
    body = status_body(429, "RESOURCE_EXHAUSTED", QUOTA, retry_info(delay))
    sim.script(Reply(status=429, body=body))
    with caplog.at_level(logging.INFO, logger="ritellm"):
        result = await call(client, stream, num_retries=2)
    assert result
    assert len(sim.requests) == 2
    assert f"RateLimitError; retrying {MODEL} in 0.01s (retry 1 of 2)" in caplog.text


async def test_rate_limit_asking_for_too_long_is_raised_at_once(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    body = status_body(429, "RESOURCE_EXHAUSTED", QUOTA, retry_info("3600s"))
    sim.script(Reply(status=429, body=body))
    with pytest.raises(ritellm.RateLimitError) as info:
        await complete(client, num_retries=3)
    assert info.value.retry_after == 3600.0
    assert len(sim.requests) == 1  # beyond max_retry_after: the caller decides


async def test_rate_limiter_429_with_a_long_retry_delay() -> None:
    # The simulator's limiter allows one request, then answers RESOURCE_EXHAUSTED with a
    # RetryInfo of many minutes: more than max_retry_after, so raised without a retry.
    async with (
        Simulator(api_key=KEY, rate_limit=0.001) as limited,
        ritellm.AsyncClient(base_url=limited.url, api_key=KEY) as c,
    ):
        await complete(c)
        with pytest.raises(ritellm.RateLimitError) as info:
            await complete(c, num_retries=2)
        assert_pool_clean(c)
    assert info.value.retry_after is not None and info.value.retry_after > 120
    assert info.value.message == QUOTA
    assert (limited.stats.requests, limited.stats.rate_limited) == (2, 1)


# -- in-band errors ------------------------------------------------------------------------------


async def test_inband_error_before_content_is_retried(
    sim: Simulator, client: ritellm.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    sim.script(
        Reply(
            content="a b c", fault="stream_error", error_after=0, headers={"retry-after-ms": "1"}
        ),
        Reply(content="Fine now."),
    )
    with caplog.at_level(logging.INFO, logger="ritellm"):
        chunks = await collect(client)
    assert [d for d, _ in deltas(chunks)] == [
        {"role": "assistant", "content": "Fine "},
        {"content": "now."},
        {},
    ]
    assert len(sim.requests) == 2
    assert f"InternalServerError; retrying {MODEL}" in caplog.text


async def test_inband_error_before_content_without_retries_is_raised_at_the_await(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="a b c", fault="stream_error", error_after=0, error_type="INTERNAL"))
    stream = None
    with anyio.fail_after(10), pytest.raises(ritellm.InternalServerError) as info:
        stream = await client.acompletion(
            MODEL, [{"role": "user", "content": "x"}], stream=True, num_retries=0
        )
    assert stream is None
    err = info.value
    assert type(err) is ritellm.InternalServerError
    assert str(err) == f"{MODEL}: HTTP 500: {INTERNAL}"
    assert (err.type, err.code) == ("INTERNAL", "500")
    assert isinstance(err.__cause__, ritellm.StreamError)
    assert len(sim.requests) == 1


async def test_inband_rate_limit_before_content_is_its_twin_with_retry_info(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    error = status_body(429, "RESOURCE_EXHAUSTED", QUOTA, retry_info("7s"))
    sim.script(sse_reply(error))
    with pytest.raises(ritellm.RateLimitError) as info:
        await collect(client, num_retries=0)
    assert (info.value.status_code, info.value.retry_after) == (429, 7.0)
    assert info.value.message == QUOTA


async def test_inband_rate_limit_before_content_is_retried_after_its_retry_delay(
    sim: Simulator, client: ritellm.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    error = status_body(429, "RESOURCE_EXHAUSTED", QUOTA, retry_info("0.02s"))
    sim.script(sse_reply(error), Reply(content="Done."))
    with caplog.at_level(logging.INFO, logger="ritellm"):
        chunks = await collect(client)
    assert [d for d, _ in deltas(chunks)] == [{"role": "assistant", "content": "Done."}, {}]
    assert len(sim.requests) == 2
    assert f"RateLimitError; retrying {MODEL} in 0.02s (retry 1 of 2)" in caplog.text


async def test_inband_error_after_content_is_a_stream_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="one two three", fault="stream_error", error_after=2))
    got: list[Any] = []
    with anyio.fail_after(10):
        stream = await client.acompletion(MODEL, [{"role": "user", "content": "x"}], stream=True)
        with pytest.raises(ritellm.StreamError) as info:
            async with stream:
                async for chunk in stream:
                    got.append(chunk)
    assert [d for d, _ in deltas(got)] == [
        {"role": "assistant", "content": "one "},
        {"content": "two "},
    ]
    err = info.value
    assert type(err) is ritellm.StreamError
    assert str(err) == f"{MODEL}: {INTERNAL}"
    assert (err.status_code, err.type, err.code) == (None, "INTERNAL", "500")
    assert err.inband is not None and err.inband.status == 500
    assert len(sim.requests) == 1  # never retried once chunks were delivered


async def test_stream_without_finish_reason_is_truncated(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="one two three", fault="truncate", truncate_after=2))
    got: list[Any] = []
    with anyio.fail_after(10):
        stream = await client.acompletion(MODEL, [{"role": "user", "content": "x"}], stream=True)
        with pytest.raises(ritellm.StreamError) as info:
            async with stream:
                async for chunk in stream:
                    got.append(chunk)
    assert len(got) == 2
    assert str(info.value) == (
        f"{MODEL}: stream ended before any candidate carried a finishReason (the response was "
        "truncated)"
    )
    assert info.value.inband is None


async def test_malformed_event_mid_stream(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(content="one two three", fault="malformed", malformed_after=1))
    with pytest.raises(ritellm.StreamError) as info:
        await collect(client)
    assert str(info.value) == (
        f"{MODEL}: malformed JSON in Gemini stream event: "
        + repr('{"candidates": [{"content": {"par')
    )


async def test_error_object_in_a_200_json_body_is_its_twin(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(
        Reply(content="x", fault="stream_error"),
        Reply(body=json.dumps([status_body(503, "UNAVAILABLE", "Overloaded.")])),
    )
    with pytest.raises(ritellm.InternalServerError) as info:
        await complete(client, num_retries=0)
    assert str(info.value) == f"{MODEL}: HTTP 500: {INTERNAL}"
    with pytest.raises(ritellm.ServiceUnavailableError) as unavailable:
        await complete(client, num_retries=0)
    assert str(unavailable.value) == f"{MODEL}: HTTP 503: Overloaded."


async def test_error_object_in_a_200_json_body_answering_a_stream_is_its_twin(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # A proxy's JSON error answering a streamed call: the same class as without streaming.
    sim.script(Reply(body=status_body(503, "UNAVAILABLE", "Overloaded.")))
    with pytest.raises(ritellm.ServiceUnavailableError) as info:
        await collect(client, num_retries=0)
    assert info.value.status_code == 503
    assert str(info.value) == f"{MODEL}: HTTP 503: Overloaded."


async def test_raw_crlf_stream_with_stop_then_no_more(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(sse_reply(text_event("Hi "), text_event("there.", "STOP")))
    chunks = await collect(client)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "Hi "}, None),
        ({"content": "there."}, None),
        ({}, "stop"),
    ]
    assert chunks[0].id == "r-1"


# -- other error shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cls", "text", "fields"),
    [
        (
            Reply(
                status=400,
                body={
                    "error": {
                        "message": "Invalid 'messages': empty.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "invalid_value",
                    }
                },
            ),
            ritellm.BadRequestError,
            "HTTP 400: Invalid 'messages': empty.",
            ("invalid_request_error", "invalid_value", "messages"),
        ),
        (
            Reply(status=401, body={"error": {"message": "Bad key.", "type": "auth"}}),
            ritellm.AuthenticationError,
            "HTTP 401: Bad key.",
            ("auth", None, None),
        ),
        (
            Reply(
                status=429, body={"error": {"message": "Slow down."}}, headers={"retry-after": "3"}
            ),
            ritellm.RateLimitError,
            "HTTP 429: Slow down.",
            (None, None, None),
        ),
        (
            Reply(status=500, body={"message": "boom"}),
            ritellm.InternalServerError,
            "HTTP 500: boom",
            (None, None, None),
        ),
        (
            Reply(status=502, fault="html"),
            ritellm.InternalServerError,
            "HTTP 502: <html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 "
            "Bad Gateway</h1></center> <hr><center>ritellm-simulator</center> </body> </html>",
            (None, None, None),
        ),
    ],
    ids=["openai-400", "openai-401", "openai-429", "flat-500", "html-502"],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_other_error_shapes_map_by_status(
    sim: Simulator,
    client: ritellm.AsyncClient,
    reply: Reply,
    cls: type[ritellm.APIError],
    text: str,
    fields: tuple[str | None, str | None, str | None],
    stream: bool,
) -> None:
    sim.script(reply)
    with pytest.raises(ritellm.APIError) as info:
        await call(client, stream, num_retries=0)
    err = info.value
    assert type(err) is cls
    assert str(err) == f"{MODEL}: {text}"
    assert (err.type, err.code, err.param) == fields
    assert err.retry_after == (3.0 if reply.status == 429 else None)


async def test_unknown_model_falls_back_to_another_gemini_model(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=404))
    r = await complete(client, fallbacks=["gemini-2.0-flash"])
    assert (r.model, r.choices[0].finish_reason) == ("gemini-2.0-flash", "stop")
    assert [q.path for q in sim.requests] == [
        GENERATE,
        "/v1beta/models/gemini-2.0-flash:generateContent",
    ]
    assert {q.headers["x-goog-api-key"] for q in sim.requests} == {KEY}
