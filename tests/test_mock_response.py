"""mock_response= (LiteLLM's): answers without any I/O — a text, a chat.completion dict, or an
exception raised; validation first; no key; mocked fallbacks (the loop real calls use).
(tests/test_mock_streams.py has streams, callbacks and the blocking calls.)"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MSGS: Any = [{"role": "user", "content": "Say hello to the world"}]  # 5 words
TEXT = "Hello world, how are you?"  # 5 word-sized pieces
PIECES = ["Hello ", "world, ", "how ", "are ", "you?"]
MODEL = "openai/gpt-4o-mini"


def closed_port_url() -> str:
    """A base URL where nothing listens: any attempt to connect would fail."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(base_url=sim.base_url) as c:
        yield c
    assert sim.stats.requests == 0, "a mocked call reached the server"
    assert sim.stats.total_connections == 0


# -- a text ---------------------------------------------------------------------------------


async def test_a_text_is_a_chat_completion(client: ritellm.AsyncClient) -> None:
    r = await client.acompletion(MODEL, MSGS, mock_response=TEXT)
    assert isinstance(r, ritellm.ModelResponse)
    assert r.choices[0].message.content == TEXT
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason == "stop"
    assert r.id.startswith("chatcmpl-mock-") and len(r.id) == len("chatcmpl-mock-") + 24
    assert isinstance(r.created, int) and r.created > 1_700_000_000
    assert r.object == "chat.completion"
    # The model id as the provider would have been sent it (LiteLLM's mock does the same).
    assert r.model == "gpt-4o-mini"
    # Counted as the simulator counts: prompt words, answer pieces.
    assert r.usage == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    meta = r.response_metadata
    assert meta is not None
    assert (meta.provider, meta.model, meta.served_model) == ("openai", MODEL, "gpt-4o-mini")
    assert (meta.attempts, meta.status) == (0, None)  # nothing was sent
    assert meta.usage == r.usage and meta.latency.total is not None


async def test_no_io_even_with_a_closed_port_and_no_key() -> None:
    # conftest removed every provider key from the environment.
    r = await ritellm.acompletion(MODEL, MSGS, mock_response="hi", base_url=closed_port_url())
    assert r.choices[0].message.content == "hi"
    for model in ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"):
        r = await ritellm.acompletion(model, MSGS, mock_response="no key needed")
        assert r.choices[0].message.content == "no key needed"
        assert r.model == model.split("/", 1)[1]


async def test_n_choices(client: ritellm.AsyncClient) -> None:
    r = await client.acompletion(MODEL, MSGS, mock_response="x y", n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert {c.message.content for c in r.choices} == {"x y"}
    assert r.usage.completion_tokens == 6


async def test_the_empty_text(client: ritellm.AsyncClient) -> None:
    r = await client.acompletion(MODEL, MSGS, mock_response="")
    assert r.choices[0].message.content == ""
    assert r.usage.completion_tokens == 0


# -- a dict -----------------------------------------------------------------------------------


async def test_a_dict_is_returned_with_its_gaps_filled(client: ritellm.AsyncClient) -> None:
    given = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "from dict"}}]}
    r = await client.acompletion(MODEL, MSGS, mock_response=given)
    assert r.choices[0].message.content == "from dict"
    assert r.model == "gpt-4o-mini" and r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-mock-")
    assert r.usage == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert given == {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "from dict"}}]
    }  # the caller's dict is not changed


async def test_a_dict_keeps_what_it_gives(client: ritellm.AsyncClient) -> None:
    given = {
        "id": "chatcmpl-fixed",
        "created": 123,
        "model": "my-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "extra": [1, 2],
    }
    r = await client.acompletion(MODEL, MSGS, mock_response=given)
    assert r == {**given, "object": "chat.completion", "system_fingerprint": None}
    # Attribute access at every depth, as for a decoded response.
    assert r.choices[0].message.content == "x"
    # A ModelResponse (a previous answer) is a dict too.
    again = await client.acompletion(MODEL, MSGS, mock_response=r)
    assert again == r


# -- an exception -----------------------------------------------------------------------------


async def test_a_ritellm_error_is_raised_as_a_fresh_copy(client: ritellm.AsyncClient) -> None:
    given = ritellm.RateLimitError("slow down")
    for _ in range(2):
        with pytest.raises(ritellm.RateLimitError) as info:
            await client.acompletion(MODEL, MSGS, mock_response=given)
        err = info.value
        assert err is not given
        assert (err.message, err.status_code, err.provider, err.model) == (
            "slow down",
            429,  # the status its class stands for
            "openai",
            MODEL,
        )
        assert err.response_metadata is not None and err.response_metadata.attempts == 0
    # The caller's instance is untouched.
    assert (given.status_code, given.provider, given.model) == (None, None, None)


@pytest.mark.parametrize(
    ("given", "cls", "status"),
    [
        (ritellm.Timeout(), ritellm.APITimeoutError, None),
        (ritellm.ContextWindowExceededError("too long"), ritellm.ContextWindowExceededError, 400),
        (ritellm.ServiceUnavailableError("down"), ritellm.ServiceUnavailableError, 503),
        (ritellm.BadRequestError("bad", status_code=413), ritellm.BadRequestError, 413),
        ("litellm.RateLimitError", ritellm.RateLimitError, 429),
        ("litellm.ContextWindowExceededError", ritellm.ContextWindowExceededError, 400),
        ("litellm.InternalServerError", ritellm.InternalServerError, 500),
    ],
)
async def test_error_classes(
    client: ritellm.AsyncClient, given: Any, cls: type[Exception], status: int | None
) -> None:
    with pytest.raises(cls) as info:
        await client.acompletion(MODEL, MSGS, mock_response=given)
    assert type(info.value) is cls
    assert getattr(info.value, "status_code", None) == status


class _WithStatus(Exception):
    status_code = 404


async def test_another_exception_is_wrapped_as_litellm_does(client: ritellm.AsyncClient) -> None:
    boom = ValueError("boom")
    with pytest.raises(ritellm.InternalServerError) as info:
        await client.acompletion(MODEL, MSGS, mock_response=boom)
    assert (info.value.status_code, info.value.message) == (500, "boom")
    assert info.value.__cause__ is boom
    with pytest.raises(ritellm.NotFoundError) as found:
        await client.acompletion(MODEL, MSGS, mock_response=_WithStatus("gone"))
    assert found.value.status_code == 404


async def test_a_mock_error_is_not_retried(client: ritellm.AsyncClient) -> None:
    calls: list[dict[str, Any]] = []
    with anyio.fail_after(2), pytest.raises(ritellm.RateLimitError):
        await client.acompletion(
            MODEL,
            MSGS,
            mock_response="litellm.RateLimitError",
            num_retries=5,
            logger_fn=calls.append,
        )
    assert [c["attempt"] for c in calls] == [0]


async def test_a_fanout_does_not_resend_a_mocked_429(client: ritellm.AsyncClient) -> None:
    """The fan-out re-sends a provider's 429 after its hold; a mocked one is final at once."""
    request = {"model": MODEL, "messages": MSGS, "mock_response": "litellm.RateLimitError"}
    with anyio.fail_after(2):
        results = await ritellm.gather_completions(
            [request, {**request, "mock_response": "hi"}], return_exceptions=True, client=client
        )
    assert isinstance(results[0], ritellm.RateLimitError)
    assert results[1].choices[0].message.content == "hi"


async def test_mocked_fallbacks_are_tried(client: ritellm.AsyncClient) -> None:
    seen: list[str] = []
    r = await client.acompletion(
        MODEL,
        MSGS,
        mock_response=ritellm.InternalServerError("down"),
        fallbacks=["openai/second", {"model": "openai/third", "mock_response": "third answers"}],
        logger_fn=lambda record: seen.append(record["model"]),
    )
    assert r.choices[0].message.content == "third answers"
    assert r.model == "third"
    assert seen == [MODEL, "openai/second", "openai/third"]
    # A request's own fault is not an availability problem: no fallback.
    with pytest.raises(ritellm.BadRequestError):
        await client.acompletion(
            MODEL,
            MSGS,
            mock_response=ritellm.BadRequestError("bad"),
            fallbacks=[{"model": "openai/b", "mock_response": "never"}],
        )


async def test_mocked_fallbacks_are_logged_as_real_ones(caplog: pytest.LogCaptureFixture) -> None:
    # One fallback loop runs both: the same "falling back" line for a mock as for a request.
    async with Simulator() as sim, ritellm.AsyncClient(base_url=sim.base_url) as c:
        sim.script(Reply(status=500, error_message="down"))
        with caplog.at_level(logging.INFO, logger="ritellm"):
            await c.acompletion(MODEL, MSGS, num_retries=0, fallbacks=["openai/second"])
            await c.acompletion(
                MODEL,
                MSGS,
                mock_response=ritellm.InternalServerError("down"),
                fallbacks=[{"model": "openai/second", "mock_response": "ok"}],
            )
        assert sim.stats.requests == 2  # the real call and its fallback; the mocks sent nothing
    lines = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert (
        lines
        == [f"ritellm: {MODEL} failed ({MODEL}: HTTP 500: down); falling back to openai/second"] * 2
    )


@pytest.mark.parametrize(
    ("error", "falls_back"),
    [
        (ritellm.RateLimitError("x"), True),
        (ritellm.InternalServerError("x"), True),
        (ritellm.ServiceUnavailableError("x"), True),
        (ritellm.NotFoundError("x"), True),
        (ritellm.ConflictError("x"), True),
        (ritellm.APIConnectionError("x"), True),
        (ritellm.APITimeoutError("x"), True),
        (ritellm.BadRequestError("x"), False),
        (ritellm.AuthenticationError("x"), False),
        (ritellm.PermissionDeniedError("x"), False),
        (ritellm.UnprocessableEntityError("x"), False),
    ],
)
async def test_which_mocked_errors_fall_back(
    client: ritellm.AsyncClient, error: ritellm.APIError, falls_back: bool
) -> None:
    """The statuses docs/api.md lists: the same as for real calls (docs/errors.md)."""
    fallbacks = [{"model": "openai/b", "mock_response": "b answers"}]
    if falls_back:
        r = await client.acompletion(MODEL, MSGS, mock_response=error, fallbacks=fallbacks)
        assert r.choices[0].message.content == "b answers"
    else:
        with pytest.raises(type(error)):
            await client.acompletion(MODEL, MSGS, mock_response=error, fallbacks=fallbacks)


async def test_every_model_mocked_or_none(client: ritellm.AsyncClient) -> None:
    message = (
        "mock_response: either every model of the call is mocked or none is (the fallbacks "
        "inherit the call's mock_response; a fallback dict may give its own, but not None, nor "
        "one when the call itself has none)"
    )
    for kwargs in (
        {"fallbacks": [{"model": "openai/b", "mock_response": "b"}]},
        {"mock_response": "a", "fallbacks": [{"model": "openai/b", "mock_response": None}]},
    ):
        with pytest.raises(ritellm.ParameterError) as info:
            await client.acompletion(MODEL, MSGS, **kwargs)
        assert str(info.value) == message


# -- validation still comes first ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "cls", "message"),
    [
        (
            {"messages": []},
            ritellm.ParameterError,
            "messages must contain at least one message",
        ),
        (
            {"messages": [{"content": "no role"}]},
            ritellm.ParameterError,
            "messages[0] has no 'role' (got None)",
        ),
        (
            {"temperature": "hot"},
            ritellm.ParameterTypeError,
            "temperature must be a number, not str",
        ),
        (
            {"mock_response": 42},
            ritellm.ParameterTypeError,
            "mock_response must be a str (the answer's text), a dict (a chat.completion) or an "
            "exception instance, not int",
        ),
        (
            {"mock_response": ritellm.RateLimitError},
            ritellm.ParameterTypeError,
            "mock_response takes an exception instance, not the class RateLimitError: e.g. "
            "mock_response=RateLimitError(...)",
        ),
        (
            {"mock_response": {"content": "no choices"}},
            ritellm.ParameterError,
            "mock_response: a dict must be a chat.completion with a 'choices' list, e.g. "
            '{"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}',
        ),
        (
            {"mock_response": KeyboardInterrupt()},
            ritellm.ParameterTypeError,
            "mock_response must be a str (the answer's text), a dict (a chat.completion) or an "
            "exception instance, not KeyboardInterrupt",
        ),
    ],
)
async def test_bad_input_is_refused_before_anything(
    client: ritellm.AsyncClient, kwargs: dict[str, Any], cls: type[Exception], message: str
) -> None:
    args: dict[str, Any] = {"messages": MSGS, "mock_response": "x", **kwargs}
    with pytest.raises(cls) as info:
        await client.acompletion(MODEL, **args)
    assert type(info.value) is cls
    assert str(info.value) == message


async def test_a_dict_that_is_not_json_is_refused(client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.ParameterTypeError) as info:
        await client.acompletion(MODEL, MSGS, mock_response={"choices": [object()]})
    assert str(info.value) == (
        "mock_response: a dict must be a JSON-serialisable chat.completion: "
        "Object of type object is not JSON serializable"
    )
