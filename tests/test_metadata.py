"""Response metadata end to end, on asyncio and trio over loopback: every provider's response,
stream (complete once it ends) and error reports provider, models, endpoint, status, headers,
request id, attempts, latencies, the stated rate limits and usage; LiteLLM's
``_hidden_params`` keys; the blocking facade; copies and pickles keep it."""

from __future__ import annotations

import copy
import json
import pickle
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

KEY = "sk-meta-0123456789"
MSGS: Any = [{"role": "user", "content": "Hello there"}]
FAST = {"retry-after-ms": "1"}  # retry after 1 ms, not the default backoff
# model string -> (extra arguments, the served model the format reports, request-id header)
FORMATS: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "openai/gpt-4o-mini": ({}, "gpt-4o-mini", "x-request-id"),
    "azure/my-gpt": ({"api_version": "2024-10-21"}, "my-gpt", "x-request-id"),
    "anthropic/claude-sonnet-4-5": ({}, "claude-sonnet-4-5", "request-id"),
    "gemini/gemini-2.5-flash": ({}, "gemini-2.5-flash", None),
    "ollama/llama3.2": ({}, "llama3.2", None),
    "bedrock/anthropic.claude-sonnet-4-5-v1:0": ({}, "", "x-amzn-requestid"),
}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def client() -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


def base(sim: Simulator, model: str) -> str:
    return sim.base_url if model.startswith("openai/") else sim.url


def check_common(meta: ritellm.ResponseMetadata, sim: Simulator, model: str) -> None:
    _, served, id_header = FORMATS[model]
    assert meta.provider == model.split("/")[0]
    assert meta.model == model
    assert meta.api_base == base(sim, model)
    assert meta.served_model == (served or model.split("/", 1)[1])
    assert meta.status == 200
    assert meta.headers["content-type"]
    assert meta.request_id == (meta.headers[id_header] if id_header else None)
    assert (meta.attempts, meta.retries) == (1, 0)
    # Priced from genai-prices (tests/test_cost.py checks the amounts); a private Azure
    # deployment name, a local Ollama model and the simulator's made-up Bedrock model id have
    # no known price: None, never a made-up 0.
    if model.startswith(("azure/", "ollama/", "bedrock/")):
        assert meta.cost is None
    else:
        assert meta.cost is not None
        assert meta.cost > 0


@pytest.mark.parametrize("model", FORMATS)
async def test_every_format_reports_a_response(
    sim: Simulator, client: ritellm.AsyncClient, model: str
) -> None:
    with anyio.fail_after(10):
        r = await client.acompletion(model, MSGS, base_url=base(sim, model), **FORMATS[model][0])
    meta = r.response_metadata
    assert meta is not None
    check_common(meta, sim, model)
    latency = meta.latency
    assert latency.headers is not None and latency.total is not None
    assert 0 < latency.headers <= latency.total < 10
    assert latency.first_chunk is None  # not a stream
    assert meta.usage == r.usage and meta.usage.total_tokens > 0
    # Not a key: the response is exactly the provider's answer.
    assert "response_metadata" not in r and "_meta" not in r
    assert json.loads(json.dumps(r)) == dict(r)
    assert r._hidden_params == {
        "custom_llm_provider": meta.provider,
        "api_base": meta.api_base,
        "model_id": None,
        "response_cost": meta.cost,
        "additional_headers": dict(meta.headers),
    }


@pytest.mark.parametrize("model", FORMATS)
async def test_every_format_reports_a_stream_complete_once_it_ends(
    sim: Simulator, client: ritellm.AsyncClient, model: str
) -> None:
    with anyio.fail_after(10):
        stream = await client.acompletion(
            model,
            MSGS,
            stream=True,
            stream_options={"include_usage": True},
            base_url=base(sim, model),
            **FORMATS[model][0],
        )
        async with stream:
            meta = stream.response_metadata
            assert meta is not None
            # Open: the first chunk is in (streams open at it), the end is not.
            assert meta.latency.first_chunk is not None
            assert meta.latency.total is None
            assert meta.usage is None
            chunks = [c async for c in stream]
    check_common(meta, sim, model)
    latency = meta.latency
    assert latency.headers is not None and latency.first_chunk is not None
    assert latency.total is not None
    assert 0 < latency.headers <= latency.first_chunk <= latency.total < 10
    assert meta.usage == chunks[-1].usage
    assert chunks[-1].usage.completion_tokens > 0


async def test_a_stream_without_a_usage_chunk_has_no_usage(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    stream = await client.acompletion("ollama/llama3.2", MSGS, stream=True, base_url=sim.url)
    async with stream:
        [c async for c in stream]
    meta = stream.response_metadata
    assert meta is not None and meta.latency.total is not None
    assert meta.usage is None


async def test_a_stream_left_early_never_completes(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="one two three four five six", chunk_size=4))
    stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
    async with stream:
        async for _ in stream:
            break
    meta = stream.response_metadata
    assert meta is not None and meta.latency.first_chunk is not None
    assert meta.latency.total is None and meta.usage is None


async def test_retries_are_counted_and_the_last_response_is_reported(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=500, headers=FAST), Reply(status=503, headers=FAST), Reply())
    r = await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    meta = r.response_metadata
    assert meta is not None
    assert (meta.attempts, meta.retries, meta.status) == (3, 2, 200)
    assert meta.request_id == "req_sim000000000000000000000003"


async def test_an_http_error_carries_the_metadata(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(*[Reply(status=503, headers=FAST)] * 2)
    with pytest.raises(ritellm.ServiceUnavailableError) as info:
        await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url, num_retries=1)
    meta = info.value.response_metadata
    assert isinstance(meta, ritellm.ResponseMetadata)
    assert (meta.provider, meta.model, meta.status) == ("openai", "gpt-4o-mini", 503)
    assert (meta.attempts, meta.retries) == (2, 1)
    assert meta.request_id == info.value.request_id == "req_sim000000000000000000000002"
    assert meta.latency.total is None and meta.usage is None


async def test_a_connection_error_carries_the_metadata(client: ritellm.AsyncClient) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ritellm.APIConnectionError) as info:
        await client.acompletion(
            "gpt-4o-mini", MSGS, base_url=f"http://127.0.0.1:{port}/v1", num_retries=0
        )
    meta = info.value.response_metadata
    assert meta is not None
    assert (meta.status, meta.attempts, dict(meta.headers)) == (None, 1, {})
    assert meta.api_base == f"http://127.0.0.1:{port}/v1"


async def test_a_stream_error_carries_the_metadata(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(content="a b c d e f", fault="stream_error", error_after=2))
    stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
    with pytest.raises(ritellm.StreamError) as info:
        async with stream:
            [c async for c in stream]
    assert info.value.response_metadata is stream.response_metadata
    assert stream.response_metadata is not None
    assert stream.response_metadata.status == 200


async def test_a_fallback_reports_the_model_that_answered(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    sim.script(Reply(status=404), Reply())
    r = await client.acompletion(
        "openai/missing",
        MSGS,
        base_url=sim.base_url,
        fallbacks=[{"model": "anthropic/claude-sonnet-4-5", "base_url": sim.url}],
    )
    meta = r.response_metadata
    assert meta is not None
    assert (meta.provider, meta.model, meta.attempts) == (
        "anthropic",
        "anthropic/claude-sonnet-4-5",
        1,
    )


async def test_openai_rate_limit_headers_are_parsed() -> None:
    async with Simulator(rate_limit=50, rate_burst=10) as sim, ritellm.AsyncClient() as c:
        r = await c.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url, api_key=KEY)
    meta = r.response_metadata
    assert meta is not None and meta.rate_limits is not None
    requests = meta.rate_limits.requests
    assert requests is not None and meta.rate_limits.tokens is None
    assert (requests.limit, requests.remaining) == (10, 9)
    assert 0 < requests.reset <= 0.1  # one token at 50/s, stated in milliseconds


async def test_anthropic_rate_limit_headers_are_parsed() -> None:
    async with Simulator(rate_limit=2, rate_burst=4) as sim, ritellm.AsyncClient() as c:
        r = await c.acompletion("anthropic/claude-x", MSGS, base_url=sim.url, api_key=KEY)
    meta = r.response_metadata
    assert meta is not None and meta.rate_limits is not None
    requests = meta.rate_limits.requests
    assert requests is not None
    assert (requests.limit, requests.remaining) == (4, 3)
    assert 0 < requests.reset <= 2  # an RFC 3339 timestamp, read against the arrival time


async def test_no_rate_limit_headers_means_none(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await client.acompletion("gemini/gemini-2.5-flash", MSGS, base_url=sim.url)
    assert r.response_metadata is not None
    assert r.response_metadata.rate_limits is None


async def test_the_base_url_password_is_never_reported(sim: Simulator) -> None:
    url = sim.base_url.replace("http://", "http://user:hunter2-secret@")
    async with ritellm.AsyncClient() as c:
        r = await c.acompletion("gpt-4o-mini", MSGS, base_url=url)
    meta = r.response_metadata
    assert meta is not None
    assert meta.api_base == sim.base_url
    assert "hunter2" not in repr(meta) and "hunter2" not in repr(r._hidden_params)


async def test_copies_and_pickles_keep_the_metadata(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    r = await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    for other in (copy.copy(r), copy.deepcopy(r), pickle.loads(pickle.dumps(r))):
        assert other == r
        meta = other.response_metadata
        assert meta is not None and r.response_metadata is not None
        assert meta.request_id == r.response_metadata.request_id
        assert dict(meta.headers) == dict(r.response_metadata.headers)


def test_the_blocking_facade_reports_too() -> None:
    with Simulator.start_in_thread() as sim:
        r = ritellm.completion("gpt-4o-mini", MSGS, base_url=sim.base_url, api_key=KEY)
        assert r.response_metadata is not None
        assert r.response_metadata.status == 200
        with ritellm.completion(
            "gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url, api_key=KEY
        ) as stream:
            list(stream)
        meta = stream.response_metadata
        assert meta is not None and meta.latency.total is not None


def test_a_response_built_from_chunks_has_no_metadata() -> None:
    built = ritellm.stream_chunk_builder(
        [
            ritellm.ModelResponseStream(
                id="c",
                object="chat.completion.chunk",
                created=1,
                model="m",
                choices=[{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}],
            )
        ]
    )
    assert built is not None
    assert built.response_metadata is None
    assert built._hidden_params["response_cost"] is None
