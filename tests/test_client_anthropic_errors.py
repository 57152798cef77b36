"""Anthropic Messages end to end, failures: HTTP errors in Anthropic's (and OpenAI's) shape as
typed ritellm errors, retries of 529 and of in-band errors sent before any content, stream
errors after content, truncated and malformed streams, secrets kept out of errors and logs,
and timeouts and cancellation leaving the pool clean, on asyncio and trio."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

from .test_client_anthropic import (
    ANSWER,
    KEY,
    MODEL,
    MSGS,
    WIRE_MODEL,
    call,
    collect,
    deltas,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

FAST_RETRY = {"retry-after-ms": "1"}  # the server's hint: retry after 1 ms, not 0.5 s
FIRST_REQUEST_ID = f"req_sim{1:024d}"  # the simulator's request-id header on its first answer
WORDS = "one two three four"
# Events as the simulator streams WORDS: message_start, content_block_start, ping, four
# text deltas (events 4-7), content_block_stop, message_delta, message_stop.
TWO_WORDS = [({"role": "assistant", "content": "one "}, None), ({"content": "two "}, None)]


@pytest.fixture
async def claude_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture
async def client(claude_sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(base_url=claude_sim.url, api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


async def read_until_error(c: ritellm.AsyncClient, got: list[Any], **kwargs: Any) -> None:
    """Open a stream and read it into ``got`` (the caller expects it to fail)."""
    with anyio.fail_after(10):
        stream = await c.acompletion(MODEL, MSGS, stream=True, **kwargs)
        async with stream:
            async for chunk in stream:
                got.append(chunk)


# -- HTTP errors -------------------------------------------------------------------------------

RATE_LIMITED = (
    "This request would exceed the rate limit for your organization (org-ritellm-sim) of 50 "
    "requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. "
    "You can see the response headers for current usage. Please reduce the prompt length or "
    "the maximum tokens requested, or try again later."
)


@pytest.mark.parametrize(
    ("status", "cls", "kind", "message"),
    [
        (400, ritellm.BadRequestError, "invalid_request_error", "Invalid request (simulated)."),
        (401, ritellm.AuthenticationError, "authentication_error", "invalid x-api-key"),
        (
            403,
            ritellm.PermissionDeniedError,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        (404, ritellm.NotFoundError, "not_found_error", f"model: {WIRE_MODEL}"),
        (
            413,
            ritellm.BadRequestError,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        (429, ritellm.RateLimitError, "rate_limit_error", RATE_LIMITED),
        (500, ritellm.InternalServerError, "api_error", "Internal server error"),
        (529, ritellm.ServiceUnavailableError, "overloaded_error", "Overloaded"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_http_errors_in_anthropics_shape(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    status: int,
    cls: type[ritellm.APIError],
    kind: str,
    message: str,
    stream: bool,
) -> None:
    claude_sim.script(Reply(status=status))
    with pytest.raises(cls) as info:
        await call(client, stream=stream, num_retries=0)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.type, err.message) == (status, kind, message)
    assert err.request_id == FIRST_REQUEST_ID
    assert err.body == {"type": kind, "message": message}
    assert (err.provider, err.model) == ("anthropic", MODEL)
    assert str(err) == f"{MODEL}: HTTP {status}: {message}"
    assert len(claude_sim.requests) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [("sk-ant-wrong-key-000000", "invalid x-api-key"), (None, "x-api-key header is required")],
)
async def test_rejected_keys_are_authentication_errors_not_retried(
    claude_sim: Simulator, key: str | None, message: str
) -> None:
    async with ritellm.AsyncClient(base_url=claude_sim.url, api_key=key) as c:
        with pytest.raises(ritellm.AuthenticationError) as info:
            await call(c, num_retries=2)
        assert_pool_clean(c)
    assert (info.value.status_code, info.value.message) == (401, message)
    assert len(claude_sim.requests) == 1


@pytest.mark.parametrize("retries", [0, 1, 2])
@pytest.mark.parametrize("stream", [False, True])
async def test_overloaded_529_is_retried(
    claude_sim: Simulator, client: ritellm.AsyncClient, retries: int, stream: bool
) -> None:
    claude_sim.script(*[Reply(status=529, headers=FAST_RETRY)] * (retries + 1))
    with pytest.raises(ritellm.ServiceUnavailableError) as info:
        await call(client, stream=stream, num_retries=retries)
    assert (info.value.status_code, info.value.message) == (529, "Overloaded")
    assert len(claude_sim.requests) == retries + 1


async def test_overloaded_then_an_answer(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(status=529, headers=FAST_RETRY), Reply(status=529, headers=FAST_RETRY))
    r = await call(client, num_retries=2)
    assert r.choices[0].message.content == ANSWER
    assert len(claude_sim.requests) == 3


async def test_retry_after_is_read_from_a_429(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(status=429, headers={"retry-after": "7"}))
    with pytest.raises(ritellm.RateLimitError) as info:
        await call(client, num_retries=0)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("status", [400, 413])
async def test_prompt_too_long_is_a_context_window_error(
    claude_sim: Simulator, client: ritellm.AsyncClient, status: int
) -> None:
    message = "prompt is too long: 210000 tokens > 200000 maximum"
    claude_sim.script(Reply(status=status, error_message=message))
    with pytest.raises(ritellm.ContextWindowExceededError) as info:
        await call(client, num_retries=2)
    assert isinstance(info.value, ritellm.BadRequestError)
    assert (info.value.status_code, info.value.message) == (status, message)
    assert info.value.type == ("invalid_request_error" if status == 400 else "request_too_large")
    assert len(claude_sim.requests) == 1  # never retried


OPENAI_SHAPE = [
    (400, "invalid_request_error", "Bad field.", ritellm.BadRequestError),
    (
        400,
        "invalid_request_error",
        "This model's maximum context length is 200000 tokens.",
        ritellm.ContextWindowExceededError,
    ),
    (401, "invalid_api_key", "Incorrect API key provided.", ritellm.AuthenticationError),
    (404, "not_found", "No such model.", ritellm.NotFoundError),
    (429, "rate_limit_exceeded", "Slow down.", ritellm.RateLimitError),
    (500, "server_error", "Upstream failed.", ritellm.InternalServerError),
    (503, "unavailable", "Try later.", ritellm.ServiceUnavailableError),
]


@pytest.mark.parametrize(("status", "kind", "message", "cls"), OPENAI_SHAPE)
async def test_errors_in_openais_shape_map_by_status(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    status: int,
    kind: str,
    message: str,
    cls: type[ritellm.APIError],
) -> None:
    # A proxy in front of Anthropic that answers errors the OpenAI way.
    error = {"message": message, "type": kind, "param": None, "code": kind}
    claude_sim.script(Reply(status=status, body={"error": error}))
    with pytest.raises(cls) as info:
        await call(client, num_retries=0)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.type, err.code, err.message) == (status, kind, kind, message)
    assert err.body == error


async def test_an_html_error_page(claude_sim: Simulator, client: ritellm.AsyncClient) -> None:
    claude_sim.script(Reply(fault="html", status=502))
    with pytest.raises(ritellm.InternalServerError) as info:
        await call(client, num_retries=0)
    assert info.value.status_code == 502
    assert info.value.message.startswith("<html> <head><title>502 Bad Gateway</title>")


# -- 2xx bodies that are not a message ------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cls", "message"),
    [
        (
            Reply(fault="malformed"),
            ritellm.APIResponseValidationError,
            "response with a body that is not JSON (application/json): "
            '\'{"id":"msg_sim","type":"message","conte\'',
        ),
        (
            Reply(fault="empty"),
            ritellm.APIResponseValidationError,
            "response with an empty body (application/json)",
        ),
        (
            Reply(body={"id": "msg_1", "type": "message"}),
            ritellm.APIResponseValidationError,
            'response is not a Messages API message: \'{"id":"msg_1","type":"message"}\'',
        ),
        (Reply(fault="stream_error"), ritellm.ServiceUnavailableError, "Overloaded"),
    ],
    ids=["malformed", "empty", "not-a-message", "error-in-a-200"],
)
async def test_bad_2xx_bodies(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    reply: Reply,
    cls: type[ritellm.APIError],
    message: str,
) -> None:
    claude_sim.script(reply)
    with pytest.raises(cls) as info:
        await call(client, num_retries=0)
    assert type(info.value) is cls
    assert info.value.message == message


async def test_an_overloaded_error_in_a_200_is_retried(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # A proxy's 200 whose body is Anthropic's overloaded_error: retried as the 529 it names.
    claude_sim.script(Reply(fault="stream_error"))
    r = await call(client, num_retries=1)
    assert r.choices[0].message.content == ANSWER
    assert len(claude_sim.requests) == 2


async def test_an_overloaded_error_in_a_200_answering_a_stream_is_retried(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # A proxy that answers a stream request with a JSON 200 whose body is the error.
    error = {"type": "overloaded_error", "message": "Overloaded"}
    claude_sim.script(
        Reply(body={"type": "error", "error": error}), Reply(body={"type": "error", "error": error})
    )
    with pytest.raises(ritellm.ServiceUnavailableError) as info:
        await call(client, stream=True, num_retries=0)
    assert (info.value.status_code, info.value.message) == (529, "Overloaded")
    chunks = await collect(client, num_retries=1)
    assert deltas(chunks)[-1] == ({}, "stop")
    assert len(claude_sim.requests) == 3


# -- in-band stream errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cls", "status"),
    [
        (Reply(fault="stream_error", error_after=1), ritellm.ServiceUnavailableError, 529),
        # The captured failure: message_start, content_block_start, ping, then the error.
        (Reply(fault="stream_error", error_after=3), ritellm.ServiceUnavailableError, 529),
        (
            Reply(fault="stream_error", error_after=3, error_type="api_error"),
            ritellm.InternalServerError,
            500,
        ),
        # A thinking block opened (empty) is no content either.
        (
            Reply(fault="stream_error", error_after=3, reasoning="Hmm."),
            ritellm.ServiceUnavailableError,
            529,
        ),
    ],
    ids=["after-message-start", "captured", "captured-api-error", "after-thinking-start"],
)
async def test_inband_error_before_content_is_raised_at_the_await(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    reply: Reply,
    cls: type[ritellm.APIError],
    status: int,
) -> None:
    claude_sim.script(reply)
    with pytest.raises(cls) as info:
        await call(client, stream=True, num_retries=0)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.message) == (status, "Overloaded")
    assert err.type == (reply.error_type or "overloaded_error")
    assert err.request_id == FIRST_REQUEST_ID  # from the 200's headers
    assert str(err) == f"{MODEL}: HTTP {status}: Overloaded"
    cause = err.__cause__
    assert isinstance(cause, ritellm.StreamError)
    assert cause.inband is not None and cause.inband.status == status
    assert len(claude_sim.requests) == 1


@pytest.mark.parametrize("error_after", [1, 3])
async def test_inband_overloaded_before_content_is_retried(
    claude_sim: Simulator, client: ritellm.AsyncClient, error_after: int
) -> None:
    claude_sim.script(Reply(fault="stream_error", error_after=error_after), Reply(content="ok now"))
    chunks = await collect(client, num_retries=1)
    assert deltas(chunks) == [
        ({"role": "assistant", "content": "ok "}, None),
        ({"content": "now"}, None),
        ({}, "stop"),
    ]
    assert len(claude_sim.requests) == 2


async def test_inband_error_after_content_is_a_stream_error_not_retried(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(
        Reply(
            content=WORDS,
            fault="stream_error",
            error_after=5,
            error_type="api_error",
            error_message="Internal server error",
        )
    )
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, got, num_retries=2)
    assert deltas(got) == TWO_WORDS
    err = info.value
    assert type(err) is ritellm.StreamError
    assert (err.message, err.type, err.status_code) == ("Internal server error", "api_error", None)
    assert err.body == {"type": "api_error", "message": "Internal server error"}
    assert err.inband is not None and err.inband.status == 500
    assert (err.provider, err.model) == ("anthropic", MODEL)
    assert len(claude_sim.requests) == 1


@pytest.mark.parametrize(
    ("truncate_after", "expected"),
    [
        (5, TWO_WORDS),
        # Everything but message_stop: the whole text, no finish chunk.
        (9, [*TWO_WORDS, ({"content": "three "}, None), ({"content": "four"}, None)]),
    ],
)
async def test_truncated_stream_is_a_stream_error(
    claude_sim: Simulator,
    client: ritellm.AsyncClient,
    truncate_after: int,
    expected: list[Any],
) -> None:
    claude_sim.script(Reply(content=WORDS, fault="truncate", truncate_after=truncate_after))
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, got, num_retries=2)
    assert deltas(got) == expected
    assert info.value.message == "stream ended before message_stop (the response was truncated)"
    assert info.value.inband is None
    assert len(claude_sim.requests) == 1


MALFORMED = 'malformed JSON in stream event: \'{"type":"content_block_delta","ind\''


async def test_malformed_event_is_a_stream_error(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(content=WORDS, fault="malformed", malformed_after=5))
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, got, num_retries=2)
    assert deltas(got) == TWO_WORDS
    assert info.value.message == MALFORMED
    assert len(claude_sim.requests) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(fault="truncate", truncate_after=3),
            "stream ended before message_stop (the response was truncated)",
        ),
        (Reply(fault="malformed", malformed_after=1), MALFORMED),
    ],
    ids=["truncated", "malformed"],
)
async def test_broken_stream_before_content_fails_at_the_await(
    claude_sim: Simulator, client: ritellm.AsyncClient, reply: Reply, message: str
) -> None:
    claude_sim.script(reply)
    with pytest.raises(ritellm.StreamError) as info:
        await call(client, stream=True, num_retries=0)
    assert info.value.message == message


# -- secrets ---------------------------------------------------------------------------------


def assert_no_key(*things: Any) -> None:
    for thing in things:
        assert KEY not in str(thing)
        assert KEY not in repr(thing)


def assert_error_has_no_key(err: ritellm.APIError) -> None:
    assert_no_key(err, err.message, err.body, err.headers, err.args)


async def test_the_key_never_reaches_errors_or_logs(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # A server (or proxy) that quotes the key it got, in the message and in a header.
    records: list[dict[str, Any]] = []
    claude_sim.script(
        Reply(status=401, error_message=f"invalid x-api-key: {KEY}", headers={"x-echo": KEY})
    )
    with pytest.raises(ritellm.AuthenticationError) as info:
        await call(client, logger_fn=records.append)
    assert info.value.message == "invalid x-api-key: ***"
    assert info.value.headers["x-echo"] == "***"
    assert_error_has_no_key(info.value)
    [record] = records
    assert record["headers"]["x-api-key"] == "***"
    assert record["url"] == claude_sim.url + "/v1/messages"
    # The body as sent, in Anthropic's format (what the server received).
    assert record["body"] == claude_sim.requests[0].json
    assert record["body"]["max_tokens"] == 4096
    assert_no_key(records)
    assert_no_key(client, ritellm.AsyncClient(api_key=KEY, base_url=claude_sim.url))


async def test_the_key_never_reaches_stream_errors(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    leak = f"upstream rejected {KEY}"
    claude_sim.script(Reply(fault="stream_error", error_after=3, error_message=leak))
    with pytest.raises(ritellm.ServiceUnavailableError) as at_await:
        await call(client, stream=True, num_retries=0)
    assert at_await.value.message == "upstream rejected ***"
    assert_error_has_no_key(at_await.value)
    assert isinstance(at_await.value.__cause__, ritellm.APIError)
    assert_error_has_no_key(at_await.value.__cause__)

    claude_sim.script(Reply(content=WORDS, fault="stream_error", error_after=5, error_message=leak))
    got: list[Any] = []
    with pytest.raises(ritellm.StreamError) as mid_stream:
        await read_until_error(client, got)
    assert mid_stream.value.message == "upstream rejected ***"
    assert_error_has_no_key(mid_stream.value)
    async with await client.acompletion(MODEL, MSGS, stream=True) as stream:
        assert repr(stream) == f"<AsyncCompletionStream {MODEL} open>"
        assert_no_key(stream)


async def test_the_key_never_reaches_the_inband_error_info(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(
        Reply(content=WORDS, fault="stream_error", error_after=5, error_message=f"bad {KEY}")
    )
    with pytest.raises(ritellm.StreamError) as info:
        await read_until_error(client, [])
    inband = info.value.inband
    assert inband is not None
    assert_no_key(inband.message, inband.body)


# -- timeouts and cancellation ----------------------------------------------------------------

NO_CHUNK = re.compile(r"No stream chunk from 127\.0\.0\.1:\d+ for 0\.3s \(read timeout\)")


async def test_stall_after_the_headers_times_out_at_the_await(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(fault="stall", stall_after=0))
    with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError) as info:
        await client.acompletion(MODEL, MSGS, stream=True, timeout=0.3, num_retries=0)
    assert isinstance(info.value, TimeoutError)
    assert NO_CHUNK.fullmatch(info.value.message)
    assert len(claude_sim.requests) == 1


async def test_stall_before_any_content_is_retried(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # message_start and the block start arrive, then silence: still nothing delivered.
    claude_sim.script(Reply(fault="stall", stall_after=2), Reply(content="second try"))
    chunks = await collect(client, timeout=0.3, num_retries=1)
    assert [d for d, _ in deltas(chunks)] == [
        {"role": "assistant", "content": "second "},
        {"content": "try"},
        {},
    ]
    assert len(claude_sim.requests) == 2


async def test_stall_mid_stream_times_out_while_reading(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(content=WORDS, fault="stall", stall_after=5))
    got: list[Any] = []
    with pytest.raises(ritellm.APITimeoutError) as info:
        await read_until_error(client, got, timeout=0.3, num_retries=2)
    assert deltas(got) == TWO_WORDS
    assert NO_CHUNK.fullmatch(info.value.message)
    assert len(claude_sim.requests) == 1


async def test_non_stream_stall_times_out(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(fault="stall"))
    with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError) as info:
        await client.acompletion(MODEL, MSGS, timeout=0.3, num_retries=0)
    assert info.value.message == "Request did not complete within its total timeout of 0.3s"


async def test_cancelling_mid_stream_leaves_the_pool_clean(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(content=WORDS, fault="stall", stall_after=5))
    got: list[Any] = []
    with anyio.fail_after(5), anyio.CancelScope() as scope:
        async with await client.acompletion(MODEL, MSGS, stream=True) as stream:
            async for chunk in stream:
                got.append(chunk)
                if len(got) == 2:
                    scope.cancel()  # lands at the next read, while the server is silent
    assert scope.cancelled_caught
    assert deltas(got) == TWO_WORDS
    assert_pool_clean(client)
    r = await call(client)  # the client still works
    assert r.choices[0].message.content == ANSWER


async def test_cancelling_while_waiting_for_the_first_chunk(
    claude_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    claude_sim.script(Reply(fault="stall", stall_after=1))

    async def open_stream() -> None:
        await client.acompletion(MODEL, MSGS, stream=True)
        raise AssertionError("the stream opened without a first chunk")  # pragma: no cover

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(open_stream)
            await claude_sim.wait_until(lambda s: s.in_flight == 1)
            tg.cancel_scope.cancel()
    assert_pool_clean(client)
    assert len(claude_sim.requests) == 1
