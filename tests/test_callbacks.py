"""Callbacks with LiteLLM's interfaces: success_callback / failure_callback functions and
CustomLogger objects (global or per client), told of ok, failed, streamed and cancelled
calls on every format, off the request path, through the real transport on both loops."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, cast

import anyio
import anyio.abc
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

from .helpers import assert_pool_clean

pytestmark = pytest.mark.anyio

KEY = "sk-callbacks-0123456789"
MSGS: Any = [{"role": "user", "content": "Hello there"}]
FAST = {"retry-after-ms": "1"}
# model -> the extra arguments its format needs
FORMATS: dict[str, dict[str, Any]] = {
    "openai/gpt-4o-mini": {},
    "azure/my-gpt": {"api_version": "2024-10-21"},
    "anthropic/claude-sonnet-4-5": {},
    "gemini/gemini-2.5-flash": {},
    "ollama/llama3.2": {},
    "bedrock/anthropic.claude-sonnet-4-5-v1:0": {
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "aws_region_name": "us-east-1",
    },
}


class Recorder(ritellm.CustomLogger):
    """Every hook, sync and async, appends (hook, kwargs, response) to one list."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], Any]] = []
        self.threads: set[str] = set()

    def _add(self, hook: str, kwargs: dict[str, Any], response: Any) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append((hook, kwargs, response))

    def log_pre_api_call(self, model: str, messages: Any, kwargs: dict[str, Any]) -> None:
        self._add("pre", {**kwargs, "_model": model, "_messages": messages}, None)

    def log_success_event(self, kwargs: Any, response_obj: Any, start: Any, end: Any) -> None:
        assert isinstance(start, datetime) and isinstance(end, datetime) and start <= end
        self._add("success", kwargs, response_obj)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start: Any, end: Any) -> None:
        self._add("failure", kwargs, response_obj)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start: Any, end: Any
    ) -> None:
        self._add("async_success", kwargs, response_obj)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start: Any, end: Any
    ) -> None:
        self._add("async_failure", kwargs, response_obj)

    def hooks(self) -> list[str]:
        """The outcome hooks called (not the per-attempt "pre"), sorted."""
        return sorted(hook for hook, _, _ in self.events if hook != "pre")

    def one(self, hook: str) -> tuple[dict[str, Any], Any]:
        found = [(kwargs, response) for h, kwargs, response in self.events if h == hook]
        assert len(found) == 1, self.hooks()
        return found[0]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(rec: Recorder) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(api_key=KEY, callbacks=[rec]) as c:
        yield c
        assert_pool_clean(c)


@pytest.fixture(autouse=True)
def no_global_callbacks() -> Iterator[None]:
    yield
    ritellm.success_callback = []
    ritellm.failure_callback = []
    ritellm.callbacks = []


def base(sim: Simulator, model: str) -> str:
    return sim.base_url if model.startswith("openai/") else sim.url


def args(sim: Simulator, model: str) -> dict[str, Any]:
    return {"base_url": base(sim, model), **FORMATS[model]}


def check_kwargs(kwargs: dict[str, Any], model: str, *, stream: bool) -> None:
    provider, _, model_id = model.partition("/")
    assert kwargs["model"] == model_id
    assert kwargs["custom_llm_provider"] == provider
    assert kwargs["messages"] == MSGS
    assert kwargs["stream"] is stream
    assert uuid.UUID(kwargs["litellm_call_id"])
    assert kwargs["litellm_params"]["litellm_call_id"] == kwargs["litellm_call_id"]
    assert kwargs["metadata"] == kwargs["litellm_params"]["metadata"]
    assert isinstance(kwargs["response_metadata"], ritellm.ResponseMetadata)
    # Secrets never reach a callback.
    assert KEY not in repr(kwargs)
    assert "wJalrXUtnFEMI" not in repr(kwargs)


# -- every format: ok, stream, error, cancelled --------------------------------------------


@pytest.mark.parametrize("model", FORMATS)
async def test_a_response_is_reported_once_with_its_cost(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder, model: str
) -> None:
    with anyio.fail_after(10):
        r = await client.acompletion(model, MSGS, metadata={"job": 7}, **args(sim, model))
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_success", "success"]
    kwargs, response = rec.one("success")
    assert response is r
    assert rec.one("async_success")[1] is r
    check_kwargs(kwargs, model, stream=False)
    assert kwargs["metadata"] == {"job": 7}
    assert r.response_metadata is not None
    assert kwargs["response_cost"] == r.response_metadata.cost == r._hidden_params["response_cost"]
    assert "complete_streaming_response" not in kwargs
    assert "ritellm-callbacks" in rec.threads  # sync hooks ran off the event loop's thread


@pytest.mark.parametrize("model", FORMATS)
async def test_a_stream_is_reported_once_when_it_ends(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder, model: str
) -> None:
    with anyio.fail_after(10):
        stream = await client.acompletion(
            model, MSGS, stream=True, stream_options={"include_usage": True}, **args(sim, model)
        )
        async with stream:
            first = await stream.__anext__()
            await ritellm.aflush_callbacks()
            assert rec.hooks() == []  # open: nothing to report yet
            chunks = [first, *[c async for c in stream]]
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_success", "success"]
    kwargs, response = rec.one("success")
    check_kwargs(kwargs, model, stream=True)
    assert kwargs["complete_streaming_response"] is response
    assert response == ritellm.stream_chunk_builder(chunks)
    assert response.response_metadata is stream.response_metadata
    assert response.usage == chunks[-1].usage
    assert stream.response_metadata is not None
    assert kwargs["response_cost"] == stream.response_metadata.cost


@pytest.mark.parametrize("model", FORMATS)
async def test_an_error_is_reported_with_the_exception_raised(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder, model: str
) -> None:
    sim.script(Reply(status=400, error_message="bad things"))
    with anyio.fail_after(10):
        with pytest.raises(ritellm.BadRequestError) as info:
            await client.acompletion(model, MSGS, **args(sim, model))
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_failure", "failure"]
    kwargs, response = rec.one("failure")
    assert response is None
    check_kwargs(kwargs, model, stream=False)
    assert kwargs["exception"] is info.value
    assert "BadRequestError" in kwargs["traceback_exception"]
    assert kwargs["cancelled"] is False
    assert kwargs["response_cost"] is None


@pytest.mark.parametrize("model", FORMATS)
async def test_a_cancelled_call_is_reported_as_cancelled(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder, model: str
) -> None:
    sim.script(Reply(latency=30))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.acompletion(model, MSGS, **args(sim, model))

            tg.start_soon(call)
            await sim.wait_until(lambda stats: stats.requests >= 1)
            tg.cancel_scope.cancel()
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_failure", "failure"]
    kwargs, _ = rec.one("failure")
    assert kwargs["cancelled"] is True
    exc = kwargs["exception"]
    assert isinstance(exc, ritellm.CallCancelled)
    assert isinstance(exc.__cause__, anyio.get_cancelled_exc_class())


@pytest.mark.parametrize("model", FORMATS)
async def test_a_stream_closed_early_is_reported_as_cancelled(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder, model: str
) -> None:
    with anyio.fail_after(10):
        stream = await client.acompletion(model, MSGS, stream=True, **args(sim, model))
        async with stream:
            await stream.__anext__()
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_failure", "failure"]
    kwargs, _ = rec.one("failure")
    assert kwargs["cancelled"] is True
    assert isinstance(kwargs["exception"], ritellm.CallCancelled)
    assert str(kwargs["exception"]) == "The stream was closed before it ended"


async def test_a_stream_that_fails_midway_reports_the_error(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder
) -> None:
    sim.script(Reply(content="a b c d e f", fault="stream_error", error_after=2))
    with anyio.fail_after(10):
        stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
        with pytest.raises(ritellm.StreamError) as info:
            async with stream:
                [c async for c in stream]
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_failure", "failure"]
    kwargs, _ = rec.one("failure")
    assert kwargs["exception"] is info.value
    assert kwargs["cancelled"] is False


# -- attempts, retries, fallbacks -----------------------------------------------------------


async def test_pre_api_call_runs_per_attempt_and_success_once(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder
) -> None:
    sim.script(Reply(status=503, headers=FAST), Reply())
    with anyio.fail_after(10):
        await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
        await ritellm.aflush_callbacks()
    assert [hook for hook, _, _ in rec.events if hook != "async_success"] == [
        "pre",
        "pre",
        "success",
    ]
    pres = [kwargs for hook, kwargs, _ in rec.events if hook == "pre"]
    assert [kwargs["attempt"] for kwargs in pres] == [0, 1]
    assert pres[0]["litellm_call_id"] == pres[1]["litellm_call_id"]
    request = pres[0]["additional_args"]
    assert request["url"] == sim.base_url + "/chat/completions"
    assert request["body"]["messages"] == MSGS
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["authorization"] == "Bearer ***"
    assert pres[0]["_model"] == "gpt-4o-mini" and pres[0]["_messages"] == MSGS
    kwargs, r = rec.one("success")
    assert kwargs["litellm_call_id"] == pres[0]["litellm_call_id"]
    assert r.response_metadata.attempts == 2


async def test_a_fallback_reports_one_success_for_the_model_that_answered(
    sim: Simulator, client: ritellm.AsyncClient, rec: Recorder
) -> None:
    sim.script(Reply(status=404), Reply())
    with anyio.fail_after(10):
        await client.acompletion(
            "openai/missing",
            MSGS,
            base_url=sim.base_url,
            fallbacks=[{"model": "anthropic/claude-sonnet-4-5", "base_url": sim.url}],
        )
        await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_success", "success"]
    kwargs, _ = rec.one("success")
    assert (kwargs["custom_llm_provider"], kwargs["model"]) == ("anthropic", "claude-sonnet-4-5")


# -- the functions and the global registries ------------------------------------------------


async def test_global_functions_and_loggers(sim: Simulator) -> None:
    seen: list[tuple[str, Any]] = []
    rec = Recorder()

    def on_success(kwargs: Any, response: Any, start: datetime, end: datetime) -> None:
        seen.append(("success", response))

    async def on_failure(kwargs: Any, response: Any, start: datetime, end: datetime) -> None:
        seen.append(("failure", kwargs["exception"]))

    # LiteLLM's idiom: assign new lists to the module attributes.
    ritellm.success_callback = [on_success]
    ritellm.failure_callback = [on_failure]
    ritellm.callbacks = [rec]
    sim.script(Reply(), Reply(status=401))
    async with ritellm.AsyncClient(api_key=KEY) as client:
        with anyio.fail_after(10):
            r = await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
            with pytest.raises(ritellm.AuthenticationError) as info:
                await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
            await ritellm.aflush_callbacks()
    assert sorted(seen, key=lambda item: item[0]) == [("failure", info.value), ("success", r)]
    assert rec.hooks() == ["async_failure", "async_success", "failure", "success"]


async def test_a_client_s_callbacks_see_only_its_calls(sim: Simulator) -> None:
    mine, other = Recorder(), Recorder()
    async with (
        ritellm.AsyncClient(api_key=KEY, callbacks=[mine]) as a,
        ritellm.AsyncClient(api_key=KEY, callbacks=[other]) as b,
    ):
        with anyio.fail_after(10):
            await a.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
            await ritellm.aflush_callbacks()
    assert mine.hooks() == ["async_success", "success"]
    assert other.events == []
    del b


async def test_a_callback_that_raises_is_logged_and_the_rest_still_run(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(kwargs: Any, response: Any, start: datetime, end: datetime) -> None:
        raise RuntimeError("callback bug")

    async def broken_async(kwargs: Any, response: Any, start: datetime, end: datetime) -> None:
        raise RuntimeError("async callback bug")

    def fine(kwargs: Any, response: Any, start: datetime, end: datetime) -> None:
        seen.append(response.choices[0].message.content)

    ritellm.success_callback = [broken, broken_async, fine]
    with caplog.at_level(logging.WARNING, logger="ritellm"):
        async with ritellm.AsyncClient(api_key=KEY) as client:
            with anyio.fail_after(10):
                r = await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
                await ritellm.aflush_callbacks()
    assert seen == [r.choices[0].message.content]
    raised = [rec for rec in caplog.records if "raised; ignoring" in rec.getMessage()]
    assert sorted(str(rec.exc_info[1]) for rec in raised if rec.exc_info) == [
        "async callback bug",
        "callback bug",
    ]


async def test_async_callbacks_never_delay_the_call_or_the_next_chunk(
    sim: Simulator,
) -> None:
    release = anyio.Event()
    done: list[str] = []

    class Slow(ritellm.CustomLogger):
        async def async_log_stream_event(self, kwargs: Any, chunk: Any, s: Any, e: Any) -> None:
            await release.wait()
            done.append("chunk")

        async def async_log_success_event(self, kwargs: Any, r: Any, s: Any, e: Any) -> None:
            await release.wait()
            done.append("success")

    sim.script(Reply(content="one two three four"), Reply())
    async with ritellm.AsyncClient(api_key=KEY, callbacks=[Slow()]) as client:
        with anyio.fail_after(10):
            stream = await client.acompletion(
                "gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url
            )
            async with stream:
                chunks = [c async for c in stream]  # every chunk while callbacks wait
            await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
            assert done == []
            release.set()
            await ritellm.aflush_callbacks()
    assert done.count("chunk") == len(chunks) and done.count("success") == 2


async def test_chunks_are_reported_only_when_asked(sim: Simulator, rec: Recorder) -> None:
    streamed: list[Any] = []

    class PerChunk(ritellm.CustomLogger):
        def log_stream_event(self, kwargs: Any, chunk: Any, s: Any, e: Any) -> None:
            streamed.append(chunk)

    async with ritellm.AsyncClient(api_key=KEY, callbacks=[rec, PerChunk()]) as client:
        with anyio.fail_after(10):
            stream = await client.acompletion(
                "gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url
            )
            async with stream:
                chunks = [c async for c in stream]
            await ritellm.aflush_callbacks()
    assert streamed == chunks
    assert rec.hooks() == ["async_success", "success"]  # no per-chunk hook: no chunk events


async def test_fan_out_reports_each_request(sim: Simulator, rec: Recorder) -> None:
    async with ritellm.AsyncClient(api_key=KEY, callbacks=[rec]) as client:
        with anyio.fail_after(10):
            results = await ritellm.gather_completions(
                [{"model": "gpt-4o-mini", "messages": MSGS, "base_url": sim.base_url}] * 3,
                client=client,
            )
            await ritellm.aflush_callbacks()
    assert len(results) == 3
    ids = {kwargs["litellm_call_id"] for hook, kwargs, _ in rec.events if hook == "success"}
    assert len(ids) == 3


# -- bad registrations fail before any I/O ------------------------------------------------


async def test_a_named_integration_is_refused_before_io(sim: Simulator) -> None:
    ritellm.success_callback = ["langfuse"]
    async with ritellm.AsyncClient(api_key=KEY) as client:
        with pytest.raises(ritellm.ParameterError, match=r"'langfuse'.*no built-in"):
            await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    assert sim.stats.requests == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("success_callback", [42], "must hold functions"),
        ("failure_callback", "fn", "must be a list of functions"),
        ("callbacks", [print], "must hold CustomLogger objects"),
    ],
)
async def test_bad_global_registrations_are_typed_errors(
    sim: Simulator, name: str, value: Any, message: str
) -> None:
    setattr(ritellm, name, value)
    async with ritellm.AsyncClient(api_key=KEY) as client:
        with pytest.raises(ritellm.ParameterTypeError, match=message):
            await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    assert sim.stats.requests == 0


def test_bad_client_callbacks_are_refused() -> None:
    with pytest.raises(ritellm.ParameterTypeError, match="CustomLogger"):
        ritellm.AsyncClient(callbacks=[object()])  # type: ignore[list-item]
    with pytest.raises(ritellm.ParameterError, match="no built-in"):
        ritellm.AsyncClient(callbacks=["langfuse"])  # type: ignore[list-item]


async def test_metadata_must_be_a_dict(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.ParameterTypeError, match="metadata must be a dict"):
        await client.acompletion(
            "gpt-4o-mini", MSGS, base_url=sim.base_url, metadata=cast(Any, "x")
        )
    assert sim.stats.requests == 0


async def test_metadata_is_never_sent(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with anyio.fail_after(10):
        await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url, metadata={"a": 1})
    assert "metadata" not in sim.requests[-1].json


# -- nothing observes: nothing runs -----------------------------------------------------------


def test_an_unobserved_call_has_no_report() -> None:
    from ritellm._call import Defaults, prepare
    from ritellm._observe import start

    call = prepare("gpt-4o-mini", MSGS, False, {"api_key": KEY}, Defaults(), {})
    assert start(call, (), None) is None


# -- the blocking facade ---------------------------------------------------------------------


def test_blocking_calls_report_and_flush(rec: Recorder) -> None:
    ritellm.callbacks = [rec]
    with Simulator.start_in_thread() as sim:
        r = ritellm.completion("gpt-4o-mini", MSGS, base_url=sim.base_url, api_key=KEY)
        with ritellm.completion(
            "gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url, api_key=KEY
        ) as stream:
            chunks = list(stream)
        assert ritellm.flush_callbacks(timeout=5)
    assert rec.hooks() == ["async_success", "async_success", "success", "success"]
    responses = [response for hook, _, response in rec.events if hook == "success"]
    assert r in responses
    assert ritellm.stream_chunk_builder(chunks) in responses


# -- regressions: outcomes reported exactly once, and dispatch that cannot break ------------


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def test_a_stream_cut_short_while_draining_is_reported_as_it_ended(rec: Recorder) -> None:
    # The whole answer and [DONE] arrive in the first read, but the body never ends: the
    # total timeout fires while ritellm drains it. The caller gets APITimeoutError, and so
    # must the callbacks (not a success reported at [DONE]).
    def chunk(content: str | None, finish: str | None = None) -> dict[str, Any]:
        delta = {"content": content} if content else {}
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "choices": [choice]}

    body = _sse(chunk("Hello")) + _sse(chunk(None, "stop")) + b"data: [DONE]\n\n"

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            head += b"transfer-encoding: chunked\r\n\r\n"
            await stream.send(head + b"%x\r\n" % len(body) + body + b"\r\n")  # no last chunk
            await anyio.sleep(10)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        async with ritellm.AsyncClient(api_key=KEY, callbacks=[rec]) as client:
            # Shorter than the drain's 50 ms: the deadline lands while draining.
            with anyio.fail_after(10), pytest.raises(ritellm.APITimeoutError) as info:
                await client.acompletion(
                    "gpt-4o-mini",
                    MSGS,
                    base_url=f"http://127.0.0.1:{port}/v1",
                    stream=True,
                    timeout=ritellm.Timeouts(total=0.03),
                    num_retries=0,
                )
            await ritellm.aflush_callbacks()
        tg.cancel_scope.cancel()
    assert rec.hooks() == ["async_failure", "failure"]
    assert rec.one("failure")[0]["exception"] is info.value


async def test_concurrent_flushes_all_return(sim: Simulator) -> None:
    release = anyio.Event()
    flushed: list[int] = []

    async def slow(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        await release.wait()

    ritellm.success_callback = [slow]
    async with ritellm.AsyncClient(api_key=KEY) as client:
        with anyio.fail_after(10):
            await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
            async with anyio.create_task_group() as tg:
                for i in range(3):

                    async def flush(i: int = i) -> None:
                        await ritellm.aflush_callbacks()
                        flushed.append(i)

                    tg.start_soon(flush)
                await anyio.wait_all_tasks_blocked()
                assert flushed == []  # the callback still waits
                release.set()
    assert sorted(flushed) == [0, 1, 2]


async def test_a_fan_out_resend_after_429_is_one_call(sim: Simulator, rec: Recorder) -> None:
    sim.script(Reply(status=429, headers=FAST), Reply())
    async with ritellm.AsyncClient(api_key=KEY, callbacks=[rec]) as client:
        with anyio.fail_after(10):
            results = await ritellm.gather_completions(
                [{"model": "gpt-4o-mini", "messages": MSGS, "base_url": sim.base_url}],
                client=client,
            )
            await ritellm.aflush_callbacks()
    assert rec.hooks() == ["async_success", "success"]
    kwargs, response = rec.one("success")
    assert response is results[0]
    pres = [k for hook, k, _ in rec.events if hook == "pre"]
    assert len(pres) == 2
    assert {k["litellm_call_id"] for k in pres} == {kwargs["litellm_call_id"]}


async def test_a_callback_raising_system_exit_breaks_nothing(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def exits(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        raise SystemExit(3)

    async def exits_async(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        raise SystemExit(4)

    def fine(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        seen.append("fine")

    ritellm.success_callback = [exits, exits_async, fine]
    with caplog.at_level(logging.WARNING, logger="ritellm"):
        async with ritellm.AsyncClient(api_key=KEY) as client:
            with anyio.fail_after(10):
                for _ in range(2):  # the callback thread survives the first SystemExit
                    await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
                    await ritellm.aflush_callbacks()
    assert seen == ["fine", "fine"]
    assert sum("raised; ignoring" in r.getMessage() for r in caplog.records) == 4


async def test_async_callable_objects_are_awaited(sim: Simulator) -> None:
    seen: list[Any] = []

    class OnSuccess:
        async def __call__(self, kwargs: Any, response: Any, start: Any, end: Any) -> None:
            seen.append(response)

    ritellm.success_callback = [OnSuccess()]
    async with ritellm.AsyncClient(api_key=KEY) as client:
        with anyio.fail_after(10):
            r = await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
            await ritellm.aflush_callbacks()
    assert seen == [r]


def test_the_price_list_is_loaded_on_the_callback_thread() -> None:
    # Async callbacks read the cost on the event loop: its first import must not happen there.
    code = """
import sys, threading, anyio, ritellm
from ritellm.testing import Simulator
where = []
def audit(event, args):
    if event == "import" and args[0] == "genai_prices":
        where.append(threading.current_thread().name)
sys.addaudithook(audit)
class L(ritellm.CustomLogger):
    async def async_log_success_event(self, kwargs, response, start, end):
        assert kwargs["response_cost"] > 0
async def main():
    async with Simulator() as sim, ritellm.AsyncClient(api_key="k", callbacks=[L()]) as c:
        await c.acompletion("gpt-4o-mini", [{"role": "user", "content": "hi"}],
                            base_url=sim.base_url)
        await ritellm.aflush_callbacks()
anyio.run(main)
print(where[0])
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "ritellm-callbacks"
