"""acompletion end to end over real loopback sockets, on asyncio and trio."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator

pytestmark = pytest.mark.anyio

MSGS = [{"role": "user", "content": "Hello!"}]


async def test_non_streaming_shape_and_dual_access(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="Paris is sunny."))
    r = await client.acompletion("openai/gpt-4o-mini", MSGS, max_tokens=100)
    assert isinstance(r, ritellm.ModelResponse)
    assert r["choices"][0]["message"]["content"] == "Paris is sunny."
    assert r.choices[0].message.content == "Paris is sunny."
    assert r.choices[0].finish_reason == "stop"
    assert r["object"] == "chat.completion"
    assert r.get("id", "").startswith("chatcmpl-")
    assert "usage" in r
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    plain = json.loads(json.dumps(r))
    assert r == plain and plain == r
    assert r.choices[0].message.tool_calls is None  # optional fields read as None
    # The wire request: model id without the prefix, our parameters.
    body = sim.requests[-1].json
    assert body == {"model": "gpt-4o-mini", "messages": MSGS, "max_tokens": 100}


async def test_bare_model_uses_openai_format(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await client.acompletion("gpt-3.5-turbo", MSGS)
    assert sim.requests[-1].path == "/v1/chat/completions"
    assert sim.requests[-1].json["model"] == "gpt-3.5-turbo"


async def test_params_pass_through_unchanged(sim: Simulator, client: ritellm.AsyncClient) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    await client.acompletion(
        "openai/gpt-4o-mini",
        MSGS,
        temperature=0.2,
        top_p=0.9,
        stop=["\n"],
        n=1,
        seed=7,
        tools=tools,
        tool_choice="auto",
        response_format={"type": "json_object"},
        user="u-1",
        logprobs=False,
    )
    body = sim.requests[-1].json
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["stop"] == ["\n"]
    assert body["seed"] == 7
    assert body["tools"] == tools
    assert body["tool_choice"] == "auto"
    assert body["response_format"] == {"type": "json_object"}
    assert body["user"] == "u-1"
    assert body["logprobs"] is False
    assert "stream" not in body


@pytest.mark.parametrize(
    "additional", ['{"top_p": 0.5, "seed": 3}', {"top_p": 0.5, "seed": 3}], ids=["json", "dict"]
)
async def test_additional_params(
    sim: Simulator, client: ritellm.AsyncClient, additional: Any
) -> None:
    await client.acompletion("gpt-4o", MSGS, additional_params=additional, seed=4)
    body = sim.requests[-1].json
    assert body["top_p"] == 0.5
    assert body["seed"] == 4  # explicit keyword arguments win


@pytest.mark.parametrize(
    ("additional", "fragment"),
    [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
async def test_invalid_additional_params_fail_before_io(
    sim: Simulator, client: ritellm.AsyncClient, additional: str, fragment: str
) -> None:
    with pytest.raises(ritellm.ParameterError, match=fragment) as info:
        await client.acompletion("gpt-4o", MSGS, additional_params=additional)
    assert isinstance(info.value, ValueError)
    assert sim.requests == []


async def test_unknown_prefix_names_supported_prefixes(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    with pytest.raises(ritellm.UnknownProviderError) as info:
        await client.acompletion("nosuch/model-1", MSGS)
    message = str(info.value)
    assert "'nosuch'" in message
    for prefix in ("openai/", "groq/", "openrouter/", "hosted_vllm/"):
        assert prefix in message
    assert sim.requests == []


async def test_missing_key_for_default_url_fails_before_io() -> None:
    with pytest.raises(ritellm.AuthenticationError, match="OPENAI_API_KEY") as info:
        await ritellm.acompletion("openai/gpt-4o-mini", MSGS)
    assert info.value.status_code is None


async def test_env_base_url_and_key(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", sim.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key")
    await ritellm.acompletion("openai/gpt-4o-mini", MSGS)
    assert sim.requests[-1].headers["authorization"] == "Bearer sk-env-key"
    monkeypatch.setenv("OPENAI_BASE_URL", sim.base_url + "/")  # preferred over _API_BASE
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    await ritellm.acompletion("openai/gpt-4o-mini", MSGS, api_key="sk-arg")
    assert sim.requests[-1].headers["authorization"] == "Bearer sk-arg"
    await ritellm._client.default_client().aclose()


async def test_api_base_alias_and_no_key_needed(sim: Simulator) -> None:
    r = await ritellm.acompletion("openai/local", MSGS, api_base=sim.base_url)
    assert r.choices[0].message.content
    assert "authorization" not in sim.requests[-1].headers
    await ritellm._client.default_client().aclose()


async def test_logger_fn_called_per_attempt_with_key_redacted(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    calls: list[dict[str, Any]] = []
    sim.script(Reply(status=500, headers={"retry-after-ms": "1"}))
    await client.acompletion(
        "openai/gpt-4o-mini", MSGS, api_key="sk-canary-123456", logger_fn=calls.append
    )
    assert [c["attempt"] for c in calls] == [0, 1]
    first = calls[0]
    assert first["provider"] == "openai"
    assert first["model"] == "openai/gpt-4o-mini"
    assert first["url"] == sim.base_url + "/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer ***"
    assert first["body"]["messages"] == MSGS
    assert "sk-canary-123456" not in repr(calls)


async def test_logger_fn_errors_do_not_break_the_call(
    sim: Simulator, client: ritellm.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError("logger bug")

    r = await client.acompletion("gpt-4o", MSGS, logger_fn=broken)
    assert r.choices[0].message.content
    assert "logger_fn raised" in caplog.text


async def test_keep_alive_reuses_one_connection(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    for _ in range(5):
        await client.acompletion("gpt-4o", MSGS)
    assert sim.stats.total_connections == 1
    assert client.transport().idle_connections == 1


async def test_concurrent_requests_share_the_pool(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    results: dict[int, str] = {}

    async def one(i: int) -> None:
        r = await client.acompletion("gpt-4o", [{"role": "user", "content": f"q{i}"}])
        results[i] = r.choices[0].message.content

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)
    assert sorted(results) == list(range(20))
    assert all(results[i].endswith(f"q{i}") for i in results)


async def test_async_client_closes_its_connections(sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=sim.base_url) as c:
        await c.acompletion("gpt-4o", MSGS)
        transport = c.transport()
        assert transport.idle_connections == 1
    assert transport.closed and transport.idle_connections == 0
    with anyio.fail_after(5):  # the server notices the close asynchronously
        await sim.wait_until(lambda s: s.open_connections == 0)
    # Still usable afterwards: a fresh pool for this loop.
    await c.acompletion("gpt-4o", MSGS)
    await c.aclose()


async def test_repr_never_shows_the_key(sim: Simulator) -> None:
    c = ritellm.AsyncClient(api_key="sk-secret-canary", base_url=sim.base_url)
    assert "sk-secret-canary" not in repr(c)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": 3}, ritellm.ParameterTypeError),
        ({"model": ""}, ritellm.ParameterError),
        ({"messages": "hi"}, ritellm.ParameterTypeError),
        ({"messages": []}, ritellm.ParameterError),
        ({"messages": ["hi"]}, ritellm.ParameterTypeError),
        ({"messages": [{"content": "x"}]}, ritellm.ParameterError),
        ({"temperature": "hot"}, ritellm.ParameterTypeError),
        ({"max_tokens": 1.5}, ritellm.ParameterTypeError),
        ({"max_tokens": 0}, ritellm.ParameterError),
        ({"stream": "yes"}, ritellm.ParameterTypeError),
        ({"timeout": "soon"}, ritellm.ParameterTypeError),
        ({"timeout": -1}, ritellm.ParameterError),
        ({"num_retries": -1}, ritellm.ParameterError),
        ({"base_url": "ftp://x"}, ritellm.ParameterError),
        ({"api_key": 12}, ritellm.ParameterTypeError),
        ({"extra_headers": {"x": 1}}, ritellm.ParameterTypeError),
        ({"logger_fn": "print"}, ritellm.ParameterTypeError),
        ({"seed": object()}, ritellm.ParameterTypeError),
    ],
)
async def test_bad_arguments_raise_before_io(
    sim: Simulator, client: ritellm.AsyncClient, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    call: dict[str, Any] = {"model": "gpt-4o", "messages": MSGS, **kwargs}
    with pytest.raises(error):
        await client.acompletion(**call)
    assert sim.requests == []


async def test_explicit_arguments_win_over_additional_params(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    await client.acompletion(
        "openai/gpt-4o-mini",
        MSGS,
        additional_params={"model": "other", "messages": [], "stream": True, "top_k": 3},
    )
    body = sim.requests[-1].json
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == MSGS
    assert "stream" not in body
    assert body["top_k"] == 3


async def test_extra_headers_replace_same_named_defaults(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    calls: list[dict[str, Any]] = []
    await client.acompletion(
        "gpt-4o",
        MSGS,
        api_key="sk-canary-abcdef",
        extra_headers={"user-agent": "my-app/1.0", "X-Api-Key": "sk-other-secret", "X-Trace": "t1"},
        logger_fn=calls.append,
    )
    headers = sim.requests[-1].headers
    assert headers["user-agent"] == "my-app/1.0"  # replaced, not "ritellm/..., my-app/1.0"
    assert headers["x-trace"] == "t1"
    logged = calls[0]["headers"]
    assert logged["X-Api-Key"] == "***"
    assert logged["Authorization"] == "Bearer ***"
    assert "sk-" not in repr(logged)
