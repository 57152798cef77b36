"""Costs of real calls through the transport (both loops, streamed and not): each
provider's wire usage with cached and reasoning tokens, as the simulator sends it, priced as
genai-prices prices the same counts — on the response, the stream, _hidden_params and the
callbacks' response_cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import genai_prices
import pytest
from genai_prices import Usage

import ritellm
from ritellm.testing import Reply, Simulator

pytestmark = pytest.mark.anyio

MSGS: Any = [{"role": "user", "content": "Hello there"}]

# model -> (the wire usage the simulator sends, genai-prices' provider and model, the counts
# genai-prices prices: input_tokens includes cache reads and writes, output reasoning)
CASES: dict[str, tuple[dict[str, Any], str, str, dict[str, int]]] = {
    "openai/gpt-4o": (
        {
            "prompt_tokens": 10_000,
            "completion_tokens": 2_000,
            "total_tokens": 12_000,
            "prompt_tokens_details": {"cached_tokens": 6_000},
            "completion_tokens_details": {"reasoning_tokens": 500},
        },
        "openai",
        "gpt-4o",
        {"input_tokens": 10_000, "cache_read_tokens": 6_000, "output_tokens": 2_000},
    ),
    "anthropic/claude-sonnet-4-5": (
        {
            "input_tokens": 3_000,
            "cache_read_input_tokens": 6_000,
            "cache_creation_input_tokens": 1_000,
            "output_tokens": 2_000,
        },
        "anthropic",
        "claude-sonnet-4-5",
        {
            "input_tokens": 10_000,
            "cache_read_tokens": 6_000,
            "cache_write_tokens": 1_000,
            "output_tokens": 2_000,
        },
    ),
    "gemini/gemini-2.5-flash": (
        {
            "promptTokenCount": 10_000,
            "cachedContentTokenCount": 6_000,
            "candidatesTokenCount": 1_500,
            "thoughtsTokenCount": 500,
            "totalTokenCount": 12_000,
        },
        "google",
        "gemini-2.5-flash",
        {"input_tokens": 10_000, "cache_read_tokens": 6_000, "output_tokens": 2_000},
    ),
}


def oracle(provider_id: str, model: str, counts: dict[str, int]) -> float:
    price = genai_prices.calc_price(Usage(**counts), model, provider_id=provider_id)
    return float(price.total_price)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def no_global_callbacks() -> Any:
    yield
    ritellm.success_callback = []


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", CASES)
async def test_cached_and_reasoning_tokens_are_priced_like_the_price_library(
    sim: Simulator, model: str, stream: bool
) -> None:
    wire, provider_id, library_model, counts = CASES[model]
    expected = oracle(provider_id, library_model, counts)
    costs: list[float] = []

    def on_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        costs.append(kwargs["response_cost"])

    ritellm.success_callback = [on_success]
    sim.script(Reply(usage=wire, model=library_model))
    base_url = sim.base_url if model.startswith("openai/") else sim.url
    async with ritellm.AsyncClient(api_key="sk-cost-e2e", base_url=base_url) as client:
        with anyio.fail_after(10):
            if stream:
                s = await client.acompletion(
                    model, MSGS, stream=True, stream_options={"include_usage": True}
                )
                async with s:
                    chunks = [c async for c in s]
                meta = s.response_metadata
                assert meta is not None
                assert ritellm.completion_cost(
                    ritellm.stream_chunk_builder(chunks), model=model
                ) == (pytest.approx(expected, rel=1e-9))
            else:
                r = await client.acompletion(model, MSGS)
                meta = r.response_metadata
                assert meta is not None
                assert r._hidden_params["response_cost"] == pytest.approx(expected, rel=1e-9)
                assert ritellm.completion_cost(r) == pytest.approx(expected, rel=1e-9)
            await ritellm.aflush_callbacks()
    assert meta.cost == pytest.approx(expected, rel=1e-9)
    assert costs == [pytest.approx(expected, rel=1e-9)]
