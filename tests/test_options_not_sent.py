"""ritellm's options never reach a request body, for every format: headers= (LiteLLM's alias of
extra_headers, merged with it), drop_params, metadata and mock_response — checked in the bytes
the simulator received."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MSGS: Any = [{"role": "user", "content": "Hello there"}]
# model -> the arguments its format needs besides base_url
FORMATS: dict[str, dict[str, Any]] = {
    "openai/gpt-4o-mini": {},
    "azure/my-gpt": {"api_version": "2024-10-21", "api_key": "azure-key"},
    "anthropic/claude-sonnet-4-5": {},
    "gemini/gemini-2.5-flash": {},
    "ollama/llama3.2": {},
    "bedrock/anthropic.claude-sonnet-4-5-v1:0": {"api_key": "bedrock-bearer-key"},
}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client() -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient() as c:
        yield c
        assert_pool_clean(c)


def base(sim: Simulator, model: str) -> str:
    return sim.base_url if model.startswith("openai/") else sim.url


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", FORMATS)
async def test_options_stay_out_of_the_body(
    sim: Simulator, client: ritellm.AsyncClient, model: str, stream: bool
) -> None:
    result = await client.acompletion(
        model,
        MSGS,
        stream=stream,
        base_url=base(sim, model),
        headers={"X-Canary-Plain": "HDR-CANARY-1", "X-Both": "from-headers"},
        extra_headers={"x-both": "from-extra", "X-Canary-Extra": "HDR-CANARY-2"},
        drop_params=True,
        metadata={"run": "META-CANARY"},
        mock_response=None,  # "not set": a real call
        max_tokens=20,
        **FORMATS[model],
    )
    if isinstance(result, ritellm.AsyncCompletionStream):
        await result.collect()
    [request] = sim.requests
    body = request.body
    for word in (b'"headers"', b'"extra_headers"', b'"drop_params"', b'"metadata"'):
        assert word not in body
    for word in (b"mock_response", b"META-CANARY", b"HDR-CANARY"):
        assert word not in body
    assert request.headers["x-canary-plain"] == "HDR-CANARY-1"
    assert request.headers["x-canary-extra"] == "HDR-CANARY-2"
    # Both name it: extra_headers wins (LiteLLM's precedence), and it is sent once.
    assert request.headers["x-both"] == "from-extra"


async def test_headers_alone(sim: Simulator, client: ritellm.AsyncClient) -> None:
    await client.acompletion(
        "openai/gpt-4o-mini", MSGS, base_url=sim.base_url, headers={"X-Only": "1"}
    )
    assert sim.requests[0].headers["x-only"] == "1"
    assert b"X-Only" not in sim.requests[0].body


@pytest.mark.parametrize(
    ("headers", "cls", "message"),
    [
        (
            {"bad name": "x"},
            ritellm.ParameterError,
            "headers: 'bad name' is not a valid header name",
        ),
        ({"X-A": 1}, ritellm.ParameterTypeError, "headers must be a dict of str to str"),
        ("X-A: 1", ritellm.ParameterTypeError, "headers must be a dict of str to str"),
        (
            {"Content-Length": "5"},
            ritellm.ParameterError,
            "headers: 'Content-Length' is a framing or hop-by-hop field that ritellm's transport "
            "sets itself; it cannot be given (a proxy is configured with proxy=)",
        ),
    ],
)
async def test_bad_headers_are_named_as_given(
    client: ritellm.AsyncClient, headers: Any, cls: type[Exception], message: str
) -> None:
    with pytest.raises(cls) as info:
        await client.acompletion("openai/gpt-4o-mini", MSGS, api_key="k", headers=headers)
    assert type(info.value) is cls
    assert str(info.value) == message


async def test_headers_reach_a_fallback(sim: Simulator, client: ritellm.AsyncClient) -> None:
    # The first model is refused (a 500, not retried), so the fallback is really sent.
    sim.script(Reply(status=500, error_message="down"))
    r = await client.acompletion(
        "openai/gpt-4o-mini",
        MSGS,
        base_url=sim.base_url,
        num_retries=0,
        headers={"X-Run": "7"},
        extra_headers={"X-Extra": "e"},
        metadata={"m": 1},
        drop_params=True,
        fallbacks=["openai/second"],
    )
    assert r.model == "second"
    first, second = sim.requests
    assert [first.json["model"], second.json["model"]] == ["gpt-4o-mini", "second"]
    for request in (first, second):
        assert (request.headers["x-run"], request.headers["x-extra"]) == ("7", "e")
        assert request.json == {"model": request.json["model"], "messages": MSGS}
        for option in (b"X-Run", b"X-Extra", b"fallbacks", b"metadata", b"drop_params"):
            assert option not in request.body


async def test_headers_reach_fanouts(sim: Simulator, client: ritellm.AsyncClient) -> None:
    requests = [
        {
            "model": "openai/gpt-4o-mini",
            "messages": MSGS,
            "base_url": sim.base_url,
            "headers": {"X-Fan": str(i)},
        }
        for i in range(3)
    ]
    await ritellm.gather_completions(requests, client=client)
    assert sorted(r.headers["x-fan"] for r in sim.requests) == ["0", "1", "2"]
    assert all(b"X-Fan" not in r.body for r in sim.requests)
