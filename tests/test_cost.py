"""Usage cost: prices checked against genai-prices' own ``calc_price`` (the oracle), the
usage shapes ritellm's translators produce, registered prices, and what is unknown (None)."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import genai_prices
import pytest
from genai_prices import Usage, data_snapshot

from ritellm import _prices
from ritellm._assemble import stream_chunk_builder
from ritellm._cost import completion_cost, cost_per_token, register_model, response_cost
from ritellm._errors import ParameterError, ParameterTypeError
from ritellm._metadata import ResponseMetadata
from ritellm._providers import PROVIDERS
from ritellm._providers._anthropic_response import usage as anthropic_usage
from ritellm._providers._bedrock_response import usage as bedrock_usage
from ritellm._providers._common import chunk, completion, usage
from ritellm._providers._gemini_stream import usage_of as gemini_usage
from ritellm._providers._ollama_response import usage_of as ollama_usage
from ritellm._types import AttrDict, ModelResponse


@pytest.fixture(autouse=True)
def _forget_registered_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered prices; what it registers is undone after it."""
    monkeypatch.setattr(_prices, "_registered", {})


def oracle(provider_id: str, model: str, **counts: int) -> float:
    """genai-prices' own price for the usage (its keys: input_tokens includes the cache)."""
    return float(
        genai_prices.calc_price(Usage(**counts), model, provider_id=provider_id).total_price
    )


def response(provider: str, model: str, served: str, use: AttrDict | None) -> ModelResponse:
    """A response as ritellm returns it: the provider's answer plus what the call reported."""
    message = AttrDict(role="assistant", content="hi", refusal=None)
    choice = AttrDict(index=0, message=message, logprobs=None, finish_reason="stop")
    r = completion(id="c1", created=1, model=served, choices=[choice], usage=use)
    meta = ResponseMetadata(provider=provider, model=model, api_base="https://x")
    meta.finished(served, use)
    r._attach(meta)
    return r


# -- the library's prices, for each provider's usage shape ------------------------------------


def test_openai_cached_tokens_at_the_cache_rate() -> None:
    u = usage(10_000, 2_000, cached=6_000)
    expected = oracle(
        "openai", "gpt-4o", input_tokens=10_000, cache_read_tokens=6_000, output_tokens=2_000
    )
    r = response("openai", "openai/gpt-4o", "gpt-4o-2024-08-06", u)
    assert completion_cost(r) == pytest.approx(expected, rel=1e-12)
    assert completion_cost(model="openai/gpt-4o", usage=u) == pytest.approx(expected, rel=1e-12)
    prices = cost_per_token(
        model="gpt-4o", prompt_tokens=10_000, completion_tokens=2_000, cache_read_input_tokens=6_000
    )
    assert prices is not None
    assert sum(prices) == pytest.approx(expected, rel=1e-12)
    # The cache discount was applied: the same prompt uncached costs more.
    uncached = cost_per_token(model="openai/gpt-4o", prompt_tokens=10_000, completion_tokens=2_000)
    assert uncached is not None
    assert uncached[0] > prices[0]
    assert uncached[1] == prices[1]


def test_anthropic_cache_reads_and_writes_each_at_their_rate() -> None:
    # Anthropic's input_tokens excludes the cache; the translator's usage adds it back.
    u = anthropic_usage(
        {
            "input_tokens": 100,
            "output_tokens": 500,
            "cache_read_input_tokens": 20_000,
            "cache_creation_input_tokens": 3_000,
        }
    )
    assert u.prompt_tokens == 23_100
    expected = oracle(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        input_tokens=23_100,
        cache_read_tokens=20_000,
        cache_write_tokens=3_000,
        output_tokens=500,
    )
    r = response("anthropic", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5-20250929", u)
    assert completion_cost(r) == pytest.approx(expected, rel=1e-12)
    assert response_cost(
        "anthropic", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5-20250929", u
    ) == pytest.approx(expected, rel=1e-12)
    prompt, answer = cost_per_token(
        model="anthropic/claude-sonnet-4-5",
        prompt_tokens=23_100,
        completion_tokens=500,
        cache_read_input_tokens=20_000,
        cache_creation_input_tokens=3_000,
    ) or (math.nan, math.nan)
    calc = genai_prices.calc_price(
        Usage(
            input_tokens=23_100,
            cache_read_tokens=20_000,
            cache_write_tokens=3_000,
            output_tokens=500,
        ),
        "claude-sonnet-4-5",
        provider_id="anthropic",
    )
    assert prompt == pytest.approx(float(calc.input_price), rel=1e-12)
    assert answer == pytest.approx(float(calc.output_price), rel=1e-12)


def test_gemini_thinking_tokens_are_billed_as_output() -> None:
    u = gemini_usage(
        {
            "promptTokenCount": 1_200,
            "cachedContentTokenCount": 1_000,
            "candidatesTokenCount": 50,
            "thoughtsTokenCount": 700,
            "totalTokenCount": 1_950,
        }
    )
    assert u is not None
    assert (u.completion_tokens, u.completion_tokens_details.reasoning_tokens) == (750, 700)
    expected = oracle(
        "google", "gemini-2.5-flash", input_tokens=1_200, cache_read_tokens=1_000, output_tokens=750
    )
    r = response("gemini", "gemini/gemini-2.5-flash", "gemini-2.5-flash", u)
    assert completion_cost(r) == pytest.approx(expected, rel=1e-12)
    # Thoughts left out would be cheaper: they are counted.
    no_thoughts = oracle(
        "google", "gemini-2.5-flash", input_tokens=1_200, cache_read_tokens=1_000, output_tokens=50
    )
    assert expected > no_thoughts


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "amazon.nova-pro-v1:0",
    ],
)
def test_bedrock_model_ids(model_id: str) -> None:
    u = bedrock_usage(
        {
            "inputTokens": 300,
            "outputTokens": 40,
            "cacheReadInputTokens": 2_000,
            "cacheWriteInputTokens": 500,
        }
    )
    expected = oracle(
        "aws",
        model_id,
        input_tokens=2_800,
        cache_read_tokens=2_000,
        cache_write_tokens=500,
        output_tokens=40,
    )
    r = response("bedrock", f"bedrock/{model_id}", model_id, u)
    assert completion_cost(r) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("hour", [3, 20])
def test_priced_at_the_time_of_the_call(hour: int) -> None:
    # DeepSeek's prices depend on the hour (UTC): a cost read later is the call's price.
    when = datetime(2025, 6, 2, hour, tzinfo=UTC)
    # DeepSeek's own cache field (older responses carry no prompt_tokens_details).
    u = AttrDict(prompt_tokens=10_000, completion_tokens=1_000, prompt_cache_hit_tokens=4_000)
    calc = genai_prices.calc_price(
        Usage(input_tokens=10_000, cache_read_tokens=4_000, output_tokens=1_000),
        "deepseek-chat",
        provider_id="deepseek",
        genai_request_timestamp=when,
    )
    cost = response_cost("deepseek", "deepseek/deepseek-chat", None, u, when.timestamp())
    assert cost == pytest.approx(float(calc.total_price), rel=1e-12)
    r = response("deepseek", "deepseek/deepseek-chat", "deepseek-chat", u)
    assert r.response_metadata is not None
    r.response_metadata.received_at = when.timestamp()
    assert completion_cost(r) == pytest.approx(float(calc.total_price), rel=1e-12)
    other = datetime(2025, 6, 2, 23 - hour, tzinfo=UTC).timestamp()
    assert response_cost("deepseek", "deepseek-chat", None, u, other) != cost


def test_azure_prices_the_served_model_behind_a_deployment() -> None:
    u = usage(1_000, 100, cached=0)
    r = response("azure", "azure/prod-chat", "gpt-4o-2024-08-06", u)
    expected = oracle("azure", "gpt-4o-2024-08-06", input_tokens=1_000, output_tokens=100)
    assert completion_cost(r) == pytest.approx(expected, rel=1e-12)
    # The deployment name alone says nothing; a deployment named after its model does.
    assert cost_per_token(model="azure/prod-chat", prompt_tokens=1, completion_tokens=1) is None
    assert cost_per_token(model="azure/gpt-4o", prompt_tokens=1, completion_tokens=1)


def test_the_requested_model_when_the_served_one_is_unknown() -> None:
    u = usage(1_000, 100)
    r = response("openai", "openai/gpt-4o", "gpt-4o-some-future-snapshot-xyz", u)
    expected = oracle("openai", "gpt-4o", input_tokens=1_000, output_tokens=100)
    assert completion_cost(r) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("model", "provider", "library_id", "ref"),
    [
        ("gpt-4o-mini", None, "openai", "gpt-4o-mini"),
        ("claude-3-5-haiku-20241022", None, "anthropic", "claude-3-5-haiku-20241022"),
        ("gemini-2.5-pro", "gemini", "google", "gemini-2.5-pro"),
        ("vertex_ai/gemini-2.5-flash", None, "google", "gemini-2.5-flash"),
        (
            "openrouter/anthropic/claude-3.5-sonnet",
            None,
            "openrouter",
            "anthropic/claude-3.5-sonnet",
        ),
        ("groq/llama-3.3-70b-versatile", None, "groq", "llama-3.3-70b-versatile"),
        ("xai/grok-3", None, "x-ai", "grok-3"),
    ],
)
def test_model_strings_and_custom_llm_provider(
    model: str, provider: str | None, library_id: str, ref: str
) -> None:
    prices = cost_per_token(
        model=model, prompt_tokens=5_000, completion_tokens=300, custom_llm_provider=provider
    )
    assert prices is not None
    expected = oracle(library_id, ref, input_tokens=5_000, output_tokens=300)
    assert sum(prices) == pytest.approx(expected, rel=1e-12)


def test_every_provider_prefix_has_a_price_source() -> None:
    known = {p.id for p in data_snapshot.get_snapshot().providers}
    for name in PROVIDERS:
        local = _prices._SAME.get(name, name) in _prices._LOCAL
        assert local or _prices._LIBRARY_ID.get(name, name) in known, name


# -- unknown is None ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    ["openai/no-such-model-xyz", "anthropic/claude-nope", "nosuchprovider/x", "llama-local"],
)
def test_unknown_models_are_none(model: str) -> None:
    assert cost_per_token(model=model, prompt_tokens=10, completion_tokens=10) is None
    assert completion_cost(model=model, usage=usage(10, 10)) is None


@pytest.mark.parametrize("prefix", ["ollama", "ollama_chat", "hosted_vllm", "lm_studio"])
def test_local_models_are_none_unless_registered(prefix: str) -> None:
    # gpt-oss has a list price elsewhere; run on the caller's own hardware, it has none.
    u = ollama_usage({"prompt_eval_count": 100, "eval_count": 20})
    r = response(prefix, f"{prefix}/gpt-oss:20b", "gpt-oss:20b", u)
    assert completion_cost(r) is None
    register_model({"gpt-oss:20b": {"input_cost_per_token": 1e-9, "output_cost_per_token": 0}})
    assert completion_cost(r) == pytest.approx(100e-9)


def test_without_usage_the_cost_is_none() -> None:
    r = response("openai", "openai/gpt-4o", "gpt-4o", None)
    assert completion_cost(r) is None
    assert response_cost("openai", "openai/gpt-4o", "gpt-4o", None) is None
    # Counts that contradict OpenAI's convention are not priced either.
    bad = AttrDict(prompt_tokens=10, completion_tokens=5, cache_read_input_tokens=50)
    assert completion_cost(model="openai/gpt-4o", usage=bad) is None


@pytest.mark.parametrize(
    "use",
    [object(), {"prompt_tokens": "10", "completion_tokens": 1}, {"prompt_tokens": 1}, 42],
)
def test_response_cost_never_raises(use: Any) -> None:
    assert response_cost("openai", "openai/gpt-4o", None, use) is None
    assert response_cost("", "", None, usage(1, 1)) is None


def test_without_genai_prices_only_registered_prices(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # `import genai_prices` fails
    monkeypatch.setattr(_prices, "_unavailable", False)
    with caplog.at_level(logging.WARNING, logger="ritellm"):
        assert cost_per_token(model="openai/gpt-4o", prompt_tokens=1, completion_tokens=1) is None
        assert completion_cost(model="gpt-4o", usage=usage(1, 1)) is None
        assert response_cost("openai", "gpt-4o", None, usage(1, 1)) is None
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "ritellm[cost]" in caplog.records[0].getMessage()
    register_model({"gpt-4o": {"input_cost_per_token": 1.0, "output_cost_per_token": 2.0}})
    assert cost_per_token(model="openai/gpt-4o", prompt_tokens=1, completion_tokens=1) == (1, 2)


# -- registered prices -------------------------------------------------------------------------


def test_registered_rates_for_cache_and_reasoning() -> None:
    register_model(
        {
            "my-model": {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 4e-6,
                "cache_read_input_token_cost": 1e-7,
                "cache_creation_input_token_cost": 2e-6,
                "output_cost_per_reasoning_token": 8e-6,
                "litellm_provider": "openai",
                "max_tokens": 8192,  # LiteLLM's other keys are ignored
                "mode": "chat",
            }
        }
    )
    prompt, answer = cost_per_token(
        model="openai/my-model",
        prompt_tokens=1_000,
        cache_read_input_tokens=600,
        cache_creation_input_tokens=300,
        completion_tokens=200,
        reasoning_tokens=150,
    ) or (math.nan, math.nan)
    assert prompt == pytest.approx(100 * 1e-6 + 600 * 1e-7 + 300 * 2e-6)
    assert answer == pytest.approx(50 * 4e-6 + 150 * 8e-6)
    # A bare name routes to OpenAI, so the OpenAI-qualified price applies...
    assert cost_per_token(model="my-model", prompt_tokens=1, completion_tokens=0)
    # ...but not to another provider's model of the same name.
    assert cost_per_token(model="groq/my-model", prompt_tokens=1, completion_tokens=0) is None


def test_absent_rates_fall_back_to_the_plain_ones() -> None:
    register_model(
        {
            "m": {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 2e-6,
                "cache_read_input_token_cost": None,
            }
        }
    )
    prices = cost_per_token(
        model="together_ai/m",
        prompt_tokens=1_000,
        cache_read_input_tokens=500,
        cache_creation_input_tokens=100,
        completion_tokens=10,
        reasoning_tokens=10,
    )
    assert prices == pytest.approx((1_000e-6, 10 * 2e-6))


def test_registered_prices_win_over_the_library() -> None:
    assert cost_per_token(model="openai/gpt-4o", prompt_tokens=1, completion_tokens=1) != (1, 1)
    register_model({"openai/gpt-4o": {"input_cost_per_token": 1, "output_cost_per_token": 1}})
    assert cost_per_token(model="openai/gpt-4o", prompt_tokens=1, completion_tokens=1) == (1, 1)
    # ...even when the served model is one the library knows.
    r = response("openai", "openai/gpt-4o", "gpt-4o-2024-08-06", usage(3, 4))
    assert completion_cost(r) == 7
    # Keys compare case-insensitively; a later registration replaces an earlier one.
    register_model({"OpenAI/GPT-4o": {"input_cost_per_token": 2, "output_cost_per_token": 2}})
    assert completion_cost(r) == 14


def test_an_azure_deployment_can_be_registered() -> None:
    register_model({"azure/prod-chat": {"input_cost_per_token": 1, "output_cost_per_token": 0}})
    assert response_cost("azure", "azure/prod-chat", "gpt-4o-2024-08-06", usage(5, 5)) == 5


@pytest.mark.parametrize(
    ("prices", "error", "words"),
    [
        ("https://prices.json", ParameterTypeError, ["dict"]),
        ({"m": 1e-6}, ParameterTypeError, ["'m'", "dict"]),
        ({"m": {"input_cost_per_token": 1e-6}}, ParameterError, ["'m'", "output_cost_per_token"]),
        (
            {"m": {"input_cost_per_token": "1e-6", "output_cost_per_token": 1e-6}},
            ParameterTypeError,
            ["'m'", "input_cost_per_token", "number"],
        ),
        (
            {"m": {"input_cost_per_token": -1, "output_cost_per_token": 1e-6}},
            ParameterError,
            ["'m'", "input_cost_per_token", ">= 0"],
        ),
        (
            {"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": math.inf}},
            ParameterError,
            ["'m'", "output_cost_per_token"],
        ),
        (
            {"m": {"input_cost_per_token": True, "output_cost_per_token": 1e-6}},
            ParameterTypeError,
            ["input_cost_per_token"],
        ),
        (
            {
                "m": {
                    "input_cost_per_token": 1,
                    "output_cost_per_token": 1,
                    "input_cost_per_token_above_200k_tokens": 2,
                }
            },
            ParameterError,
            ["'m'", "input_cost_per_token_above_200k_tokens", "supported"],
        ),
        (
            {"m": {"input_cost_per_token": 1, "output_cost_per_token": 1, "litellm_provider": 3}},
            ParameterTypeError,
            ["'m'", "litellm_provider"],
        ),
        ({" ": {"input_cost_per_token": 1, "output_cost_per_token": 1}}, ParameterError, []),
        ({3: {"input_cost_per_token": 1, "output_cost_per_token": 1}}, ParameterTypeError, []),
    ],
)
def test_bad_registrations_are_typed_errors(
    prices: Any, error: type[Exception], words: list[str]
) -> None:
    good = {"ok-model": {"input_cost_per_token": 1, "output_cost_per_token": 1}}
    with pytest.raises(error) as info:
        register_model({**good, **prices} if isinstance(prices, dict) else prices)
    for word in words:
        assert word in str(info.value)
    # Nothing was stored: the valid entry next to the bad one is not registered either.
    assert cost_per_token(model="ok-model", prompt_tokens=1, completion_tokens=1) is None


# -- argument checks ---------------------------------------------------------------------------


def test_wrong_argument_types_raise() -> None:
    with pytest.raises(ParameterTypeError):
        cost_per_token(model=3, prompt_tokens=1)  # type: ignore[arg-type]
    with pytest.raises(ParameterTypeError, match="prompt_tokens"):
        cost_per_token(model="gpt-4o", prompt_tokens=1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="cannot be smaller"):
        cost_per_token(model="gpt-4o", prompt_tokens=10, cache_read_input_tokens=20)
    with pytest.raises(ParameterError, match="reasoning"):
        cost_per_token(model="gpt-4o", completion_tokens=1, reasoning_tokens=2)
    with pytest.raises(ParameterError, match=">= 0"):
        cost_per_token(model="gpt-4o", prompt_tokens=-1)
    with pytest.raises(ParameterTypeError, match="response"):
        completion_cost("gpt-4o")
    with pytest.raises(ParameterTypeError, match="usage"):
        completion_cost(model="gpt-4o", usage=[1, 2])
    with pytest.raises(ParameterTypeError, match="custom_llm_provider"):
        completion_cost(model="gpt-4o", usage=usage(1, 1), custom_llm_provider=1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"model=\.\.\. and usage="):
        completion_cost(usage=usage(1, 1))


# -- streams and responses without metadata ----------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "served", "use"),
    [
        ("openai", "openai/gpt-4o", "gpt-4o-2024-08-06", usage(900, 80, cached=512)),
        (
            "anthropic",
            "anthropic/claude-sonnet-4-5",
            "claude-sonnet-4-5-20250929",
            anthropic_usage(
                {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": 4_000}
            ),
        ),
    ],
)
def test_an_assembled_stream_costs_what_the_response_costs(
    provider: str, model: str, served: str, use: AttrDict
) -> None:
    whole = response(provider, model, served, use)
    deltas = [AttrDict(role="assistant", content="h"), AttrDict(content="i")]
    chunks = [chunk(id="c1", created=1, model=served, delta=d) for d in deltas]
    last = chunk(id="c1", created=1, model=served, delta=AttrDict(), finish_reason="stop")
    last["choices"] = []
    last["usage"] = use  # the include_usage chunk
    rebuilt = stream_chunk_builder([*chunks, last])
    assert rebuilt is not None
    assert rebuilt.response_metadata is None
    expected = completion_cost(whole)
    assert expected is not None
    assert completion_cost(rebuilt) == pytest.approx(expected, rel=1e-12)
    # A plain dict (e.g. read back from JSON) is priced the same.
    assert completion_cost(rebuilt.to_dict()) == pytest.approx(expected, rel=1e-12)


def test_a_finished_stream_is_priced_from_its_metadata() -> None:
    class Stream:  # what a ritellm stream offers once it has ended
        model = "gpt-4o-mini"  # the model id requested, not the one that answered
        response_metadata = ResponseMetadata(
            provider="openai",
            model="openai/gpt-4o",
            api_base="https://x",
            served_model="gpt-4o-2024-08-06",
            usage=usage(100, 10),
        )

    expected = oracle("openai", "gpt-4o-2024-08-06", input_tokens=100, output_tokens=10)
    assert completion_cost(Stream()) == pytest.approx(expected, rel=1e-12)


# -- the lookup cache and the import rule ------------------------------------------------------


def test_lookups_are_cached_hits_and_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    _prices._lookups.clear()
    snapshot = data_snapshot.get_snapshot()
    calls: list[str] = []
    real = snapshot.find_provider_model

    def counting(ref: str, *args: Any) -> Any:
        calls.append(ref)
        return real(ref, *args)

    monkeypatch.setattr(snapshot, "find_provider_model", counting)
    for _ in range(3):
        assert cost_per_token(model="openai/gpt-4o", prompt_tokens=1, completion_tokens=1)
        assert cost_per_token(model="openai/nope-xyz", prompt_tokens=1, completion_tokens=1) is None
    assert calls == ["gpt-4o", "nope-xyz"]


def test_import_ritellm_imports_no_price_library() -> None:
    code = (
        "import sys, ritellm, ritellm._cost; "
        "assert 'genai_prices' not in sys.modules, 'genai_prices'; "
        "assert 'pydantic' not in sys.modules, 'pydantic'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
