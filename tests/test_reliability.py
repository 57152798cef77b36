"""Reliability: the fault matrix, retries, timeouts, cancellation safety and secrets, each on
asyncio and trio against the simulator over real sockets."""

from __future__ import annotations

import json
import logging
import random
import socket
import traceback
from typing import Any

import anyio
import anyio.abc
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

from .conftest import open_fds
from .helpers import assert_pool_clean

pytestmark = pytest.mark.anyio

MSGS = [{"role": "user", "content": "Hello!"}]
FAST = {"retry-after-ms": "1"}  # keeps retry sleeps short in tests


# -- the fault matrix: non-streaming ---------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error", "fragment"),
    [
        (Reply(status=400, error_message="bad thing"), ritellm.BadRequestError, "bad thing"),
        (Reply(status=401), ritellm.AuthenticationError, "API key"),
        (Reply(status=403), ritellm.PermissionDeniedError, ""),
        (Reply(status=404), ritellm.NotFoundError, "does not exist"),
        (Reply(status=422), ritellm.UnprocessableEntityError, ""),
        (
            Reply(
                status=400,
                error_code="context_length_exceeded",
                error_message="This model's maximum context length is 128000 tokens.",
            ),
            ritellm.ContextWindowExceededError,
            "maximum context length",
        ),
        (Reply(fault="html", status=502), ritellm.InternalServerError, "Bad Gateway"),
        (Reply(fault="malformed"), ritellm.APIResponseValidationError, "not JSON"),
        (Reply(fault="empty"), ritellm.APIResponseValidationError, "empty body"),
        (
            Reply(body="<html>hi</html>", content_type="text/html"),
            ritellm.APIResponseValidationError,
            "<html>hi</html>",
        ),
        (Reply(body={"no": "choices"}), ritellm.APIResponseValidationError, "chat.completion"),
        (Reply(fault="stream_error"), ritellm.APIError, "The server had an error"),
    ],
    ids=[
        "400",
        "401",
        "403",
        "404",
        "422",
        "context-window",
        "html-502",
        "malformed-200",
        "empty-200",
        "html-200",
        "wrong-shape-200",
        "error-in-200",
    ],
)
async def test_non_streaming_faults(
    sim: Simulator,
    client: ritellm.AsyncClient,
    reply: Reply,
    error: type[ritellm.APIError],
    fragment: str,
) -> None:
    sim.script(reply, reply, reply)
    with anyio.fail_after(10), pytest.raises(error) as info:
        await client.acompletion("openai/gpt-4o-mini", MSGS, num_retries=2)
    err = info.value
    assert fragment in str(err)
    assert err.provider == "openai"
    assert err.model == "openai/gpt-4o-mini"
    retried = isinstance(err, ritellm.InternalServerError)
    assert len(sim.requests) == (3 if retried else 1)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(fault="reset", reset_after=0), ritellm.APIConnectionError),
        (Reply(fault="reset", reset_after=150), ritellm.APIConnectionError),
        (Reply(fault="truncate"), ritellm.APIConnectionError),
        (Reply(fault="no_response"), ritellm.APITimeoutError),
        (Reply(fault="stall"), ritellm.APITimeoutError),
    ],
    ids=["reset-before-response", "reset-mid-body", "truncated-body", "never-answers", "stall"],
)
async def test_transport_faults_are_typed_and_retried(
    sim: Simulator, client: ritellm.AsyncClient, reply: Reply, error: type[Exception]
) -> None:
    sim.script(reply, reply)
    with anyio.fail_after(10), pytest.raises(error) as info:
        await client.acompletion("gpt-4o", MSGS, num_retries=1, timeout=ritellm.Timeouts(read=0.2))
    assert len(sim.requests) == 2  # retried once: nothing was answered
    # Never the HTTP library's own exception; its cause stays chained for debugging.
    assert type(info.value).__module__ == "ritellm._errors"
    # LiteLLM's `except ritellm.Timeout:` catches exactly the timeouts.
    assert isinstance(info.value, ritellm.Timeout) == (error is ritellm.APITimeoutError)
    if not isinstance(info.value, ritellm.APITimeoutError):  # (timeouts are ritellm's own)
        assert info.value.__cause__ is not None
    # And after all that, the next call works.
    r = await client.acompletion("gpt-4o", MSGS)
    assert r.choices[0].message.content


async def test_connection_refused(client: ritellm.AsyncClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        refused = f"Connection refused by 127.0.0.1:{port} — is the server running?"
        with pytest.raises(ritellm.APIConnectionError, match=refused) as info:
            await client.acompletion(
                "gpt-4o", MSGS, base_url=f"http://127.0.0.1:{port}/v1", num_retries=0
            )
    assert not isinstance(info.value, ritellm.APITimeoutError)


async def test_connect_timeout(client: ritellm.AsyncClient) -> None:
    # A listener whose accept queue is full: further SYNs are dropped, so the TCP handshake
    # never completes and only the connect timeout can end the wait.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(("127.0.0.1", port))
                fillers.append(f)
            with anyio.fail_after(10), pytest.raises(ritellm.APITimeoutError, match="connect"):
                await client.acompletion(
                    "gpt-4o",
                    MSGS,
                    base_url=f"http://127.0.0.1:{port}/v1",
                    num_retries=0,
                    timeout=ritellm.Timeouts(connect=0.2),
                )
        finally:
            for f in fillers:
                f.close()


# -- retries ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
async def test_retryable_statuses(sim: Simulator, client: ritellm.AsyncClient, status: int) -> None:
    sim.script(Reply(status=status, headers=FAST), Reply(status=status, headers=FAST))
    r = await client.acompletion("gpt-4o", MSGS)
    assert r.choices[0].message.content
    assert len(sim.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_non_retryable_statuses(
    sim: Simulator, client: ritellm.AsyncClient, status: int
) -> None:
    sim.script(Reply(status=status))
    with pytest.raises(ritellm.APIError) as info:
        await client.acompletion("gpt-4o", MSGS)
    assert info.value.status_code == status
    assert len(sim.requests) == 1


async def test_x_should_retry_header_wins(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(status=400, headers={"x-should-retry": "true", **FAST}))
    await client.acompletion("gpt-4o", MSGS)
    assert len(sim.requests) == 2
    sim.script(Reply(status=503, headers={"x-should-retry": "false"}))
    with pytest.raises(ritellm.ServiceUnavailableError):
        await client.acompletion("gpt-4o", MSGS)
    assert len(sim.requests) == 3


async def test_retries_exhausted_raise_the_last_error(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(*[Reply(status=429, headers=FAST)] * 4)
    with pytest.raises(ritellm.RateLimitError) as info:
        await client.acompletion("gpt-4o", MSGS, max_retries=3)
    assert len(sim.requests) == 4
    assert info.value.retry_after == 0.001


async def test_retry_after_over_the_cap_is_not_slept_on(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=429, headers={"retry-after": "3600"}))
    with anyio.fail_after(5), pytest.raises(ritellm.RateLimitError) as info:
        await client.acompletion("gpt-4o", MSGS)
    assert info.value.retry_after == 3600.0
    assert len(sim.requests) == 1


async def test_retry_sleep_honours_retry_after_and_is_cancellable(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=503, headers={"retry-after": "30"}))
    with anyio.move_on_after(0.3) as scope:
        await client.acompletion("gpt-4o", MSGS)
    assert scope.cancelled_caught  # cancelled during the 30 s sleep, promptly
    assert len(sim.requests) == 1


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_connection_closed_after_the_pre_send_check_is_resent_only_as_a_retry(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    """The race the pre-send check cannot see (the server's FIN arrives just after it): the
    request may have reached the server, so it is resent only within num_retries, as an
    attempt logger_fn sees, never silently."""
    from ritellm._transport import _conn

    monkeypatch.setattr(_conn, "make_probe", lambda sock: None)  # the FIN goes unnoticed
    async with ritellm.AsyncClient(base_url=sim.base_url) as client:
        await client.acompletion("gpt-4o", MSGS)
        await anyio.wait_all_tasks_blocked()  # the server is back waiting for a request
        assert await sim.drop_idle_connections() == 1
        logged: list[dict[str, Any]] = []
        call = client.acompletion("gpt-4o", MSGS, num_retries=retries, logger_fn=logged.append)
        if retries:
            assert (await call).choices[0].message.content
        else:
            with pytest.raises(ritellm.APIConnectionError, match="closed the connection"):
                await call
        assert [entry["attempt"] for entry in logged] == list(range(retries + 1))
        assert len(sim.requests) == 1 + retries
        assert_pool_clean(client)


@pytest.mark.parametrize("retries", [0, 2])
async def test_a_reset_on_a_reused_connection_is_never_replayed_silently(
    sim: Simulator, retries: int
) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url) as client:
        await client.acompletion("gpt-4o", MSGS)  # a keep-alive connection to reuse
        reset = Reply(fault="reset", reset_after=0)
        sim.script(*[reset] * (retries + 1))
        logged: list[dict[str, Any]] = []
        with pytest.raises(ritellm.APIConnectionError, match=r"127\.0\.0\.1"):
            await client.acompletion(
                "gpt-4o", MSGS, num_retries=retries, logger_fn=logged.append, timeout=5
            )
        # The server saw the first request and exactly one per retry.
        assert len(sim.requests) == 1 + 1 + retries
        assert len(logged) == 1 + retries
        assert_pool_clean(client)


async def test_server_closing_idle_connections_is_harmless(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    for _ in range(3):
        sim.script(Reply(fault="close"))
        r = await client.acompletion("gpt-4o", MSGS, num_retries=0)
        assert r.choices[0].message.content
        # Once the server's FIN has arrived the pool notices it before sending: harmless.
        # (A request sent before it arrives fails, and is resent only as a retry: see
        # test_a_connection_closed_after_the_pre_send_check_is_resent_only_as_a_retry.)
        await anyio.wait_all_tasks_blocked()
    assert sim.stats.total_connections == 3


# -- timeouts --------------------------------------------------------------------------


async def test_float_timeout_bounds_the_whole_call_including_retries(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.default = Reply(status=500, headers={"retry-after": "0.15"})
    with anyio.fail_after(5), pytest.raises(ritellm.APIError) as info:
        await client.acompletion("gpt-4o", MSGS, timeout=0.5, num_retries=10)
    # Stops when the next sleep would pass the deadline: a few attempts, not eleven.
    assert 2 <= len(sim.requests) <= 4
    assert isinstance(info.value, ritellm.InternalServerError | ritellm.APITimeoutError)


async def test_total_timeout_fires_mid_attempt(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(latency=5))
    with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError, match="total timeout"):
        await client.acompletion("gpt-4o", MSGS, timeout=ritellm.Timeouts(total=0.2))


async def test_pool_timeout(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url, max_connections=1) as c:
        sim.script(Reply(fault="stall", stall_after=1))  # the role chunk, then silence
        holder = await c.acompletion("gpt-4o", MSGS, stream=True)
        async with holder:
            with anyio.fail_after(5), pytest.raises(ritellm.APITimeoutError, match="pool"):
                await c.acompletion("gpt-4o", MSGS, timeout=ritellm.Timeouts(pool=0.1))
        r = await c.acompletion("gpt-4o", MSGS)  # the slot came back
        assert r.choices[0].message.content


@pytest.mark.parametrize("how", ["anyio.fail_after", "move_on_after", "CancelScope.cancel"])
async def test_callers_scope_wins_over_ritellm_timeouts(
    sim: Simulator, client: ritellm.AsyncClient, how: str
) -> None:
    """Cancellation is never turned into a ritellm error (or swallowed)."""
    sim.script(Reply(latency=5))
    if how == "anyio.fail_after":
        with pytest.raises(TimeoutError) as info:
            with anyio.fail_after(0.1):
                await client.acompletion("gpt-4o", MSGS, timeout=10)
        assert not isinstance(info.value, ritellm.RiteLLMError)
    elif how == "move_on_after":
        with anyio.move_on_after(0.1) as scope:
            await client.acompletion("gpt-4o", MSGS, timeout=10)
        assert scope.cancelled_caught
    else:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.acompletion("gpt-4o", MSGS, timeout=10)
                pytest.fail("not cancelled")

            tg.start_soon(call)
            with anyio.fail_after(5):  # the request is on the wire
                await sim.wait_until(lambda s: s.in_flight > 0)
            tg.cancel_scope.cancel()


async def test_native_loop_timeouts_win(
    sim: Simulator, client: ritellm.AsyncClient, anyio_backend: str
) -> None:
    """asyncio.timeout() and trio.move_on_after() around a call behave as they would around
    any other await: the caller sees its own timeout, never a ritellm error."""
    sim.script(Reply(latency=5))
    if anyio_backend == "asyncio":
        import asyncio

        with pytest.raises(TimeoutError) as info:
            async with asyncio.timeout(0.1):
                await client.acompletion("gpt-4o", MSGS, timeout=10)
        assert not isinstance(info.value, ritellm.RiteLLMError)
    else:
        import trio

        with trio.move_on_after(0.1) as scope:
            await client.acompletion("gpt-4o", MSGS, timeout=10)
        assert scope.cancelled_caught


# -- cancellation safety ---------------------------------------------------------------

# Replies chosen per request through the simulator's x-ritellm-sim header, so concurrent
# requests hit different phases: headers wait, body, mid-stream, retry sleep, stalls.
SCENARIOS: list[dict[str, Any]] = [
    {},
    {"latency": 0.002},
    {"delay": 0.001, "content": "a b c d e f"},
    {"status": 429, "headers": {"retry-after-ms": "3"}},
    {"status": 503, "headers": {"retry-after-ms": "1"}},
    {"fault": "stall", "stall_after": 2},
    {"fault": "reset", "reset_after": 120},
    {"fault": "drip", "delay": 0.0001},
]


async def test_cancel_at_random_points_leaks_nothing(sim: Simulator) -> None:
    rng = random.Random(20261121)
    fds_before = open_fds()
    cancelled = completed = failed = 0
    # A pool smaller than the fan-out, so some requests are cancelled while queued for a slot.
    async with ritellm.AsyncClient(base_url=sim.base_url, max_connections=3) as c:

        async def one(scenario: dict[str, Any], stream: bool) -> None:
            nonlocal completed, failed
            headers = {"x-ritellm-sim": json.dumps(scenario)}
            try:
                if stream:
                    async with await c.acompletion(
                        "gpt-4o", MSGS, stream=True, extra_headers=headers, timeout=2
                    ) as s:
                        async for _ in s:
                            pass
                else:
                    await c.acompletion("gpt-4o", MSGS, extra_headers=headers, timeout=2)
                completed += 1
            except ritellm.APIError:
                failed += 1

        for _ in range(300):
            with anyio.move_on_after(rng.uniform(0, 0.015)) as scope:
                async with anyio.create_task_group() as tg:
                    for _ in range(rng.randint(1, 5)):
                        tg.start_soon(one, rng.choice(SCENARIOS), rng.random() < 0.5)
            cancelled += scope.cancelled_caught
            transport = c.transport()
            assert transport.active_connections == 0
            assert transport.free_slots == transport.max_connections
        r = await c.acompletion("gpt-4o", MSGS)  # the next request succeeds
        assert r.choices[0].message.content
    assert cancelled >= 100, (cancelled, completed, failed)
    with anyio.fail_after(10):  # the server notices every close
        await sim.wait_until(lambda s: s.open_connections == 0)
    fds_after = open_fds()
    assert fds_after <= fds_before
    print(f"\ncancelled={cancelled} completed={completed} failed={failed} ", end="")
    print(f"fds before={fds_before} after={fds_after}")


# -- secrets ---------------------------------------------------------------------------

CANARY = "sk-canary-0123456789abcdef"


async def test_api_key_never_leaks(
    sim: Simulator, client: ritellm.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    logged: list[dict[str, Any]] = []
    echo = {"error": {"message": f"Incorrect API key provided: {CANARY}", "type": "x"}}
    cases = [
        Reply(status=401, body=echo),
        Reply(status=500, body=echo, headers=FAST),
        Reply(fault="stream_error"),
        Reply(fault="reset", reset_after=10),
    ]
    for reply in cases:
        sim.script(reply, reply, reply)
        for stream in (False, True):
            try:
                result = await client.acompletion(
                    "gpt-4o",
                    MSGS,
                    api_key=CANARY,
                    stream=stream,
                    logger_fn=logged.append,
                    num_retries=1,
                )
                if isinstance(result, ritellm.AsyncCompletionStream):
                    seen.append(repr(result))
                    async with result:
                        async for _ in result:
                            pass
            except ritellm.APIError as exc:
                seen.append(str(exc))
                seen.append(repr(exc))
                seen.append("".join(traceback.format_exception(exc)))
                seen.append(json.dumps(exc.body, default=str))
                seen.append(repr(exc.headers))
    seen.append(repr(logged))
    seen.append(caplog.text)
    assert len(seen) > 10
    for text in seen:
        assert CANARY not in text
    assert sim.requests[-1].headers["authorization"] == f"Bearer {CANARY}"  # it was sent


async def test_bad_key_characters_are_rejected_without_quoting_the_key(
    client: ritellm.AsyncClient,
) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        await client.acompletion("gpt-4o", MSGS, api_key=CANARY + "\n")
    assert CANARY not in str(info.value)


async def test_idle_connection_closed_by_the_server_is_not_reused(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await client.acompletion("gpt-4o", MSGS)
    await anyio.wait_all_tasks_blocked()  # the server is back waiting for a request
    assert await sim.drop_idle_connections() == 1
    # The pool notices the server's FIN before sending: no failed attempt, a new connection.
    calls: list[dict[str, Any]] = []
    await client.acompletion("gpt-4o", MSGS, num_retries=0, logger_fn=calls.append)
    assert len(calls) == 1
    assert sim.stats.total_connections == 2


async def test_idle_connections_expire(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url, keepalive_expiry=0.01) as c:
        await c.acompletion("gpt-4o", MSGS)
        with anyio.fail_after(5):
            await anyio.sleep(0.05)  # the idle connection's keep-alive time passes
        await c.acompletion("gpt-4o", MSGS)
    assert sim.stats.total_connections == 2
