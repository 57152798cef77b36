"""What a call cost in USD: ``cost_per_token``, ``completion_cost`` and the cost in a
response's metadata, read from OpenAI-shaped usage (a response, a finished stream, a dict or
an SDK object) and priced by ``_prices``; an unknown price or usage is None, never a made-up 0.

Pure: standard library and ritellm's pure modules. Like ``_prices``, never imports
genai_prices (nor pydantic) when ``import ritellm`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ._errors import ParameterError, ParameterTypeError
from ._prices import Counts, Target, price, register_model, target

__all__ = ["completion_cost", "cost_per_token", "register_model", "response_cost"]

logger = logging.getLogger("ritellm")

_COUNT_NAMES = (
    "prompt_tokens",
    "completion_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_tokens",
)


def cost_per_token(
    *,
    model: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    custom_llm_provider: str | None = None,
) -> tuple[float, float] | None:
    """The USD cost of the prompt and of the completion (LiteLLM's name).

    Counts follow OpenAI's convention: ``prompt_tokens`` includes the cache reads and writes
    (each priced at its own rate), ``completion_tokens`` the reasoning tokens (priced at a
    registered reasoning rate, else as output).

    Args:
        model: ``"provider/model"`` as passed to ``completion`` (``"azure/<deployment>"``,
            ``"bedrock/<modelId>"``), or a bare model name.
        prompt_tokens: every input token, cache reads and writes included.
        completion_tokens: every output token, reasoning included.
        cache_read_input_tokens: the part of ``prompt_tokens`` read from a cache.
        cache_creation_input_tokens: the part of ``prompt_tokens`` written to a cache.
        reasoning_tokens: the part of ``completion_tokens`` spent reasoning.
        custom_llm_provider: the provider, when ``model`` does not name it.

    Returns:
        ``(prompt_cost, completion_cost)``, or None when the model's price is unknown (not
        in genai-prices, genai-prices not installed, a local model) and none is registered.

    Raises:
        ParameterTypeError: an argument has the wrong type.
        ParameterError: an empty model, or counts that contradict each other.
    """
    _check_str("model", model, optional=False)
    _check_str("custom_llm_provider", custom_llm_provider)
    n = Counts(
        prompt_tokens,
        completion_tokens,
        cache_read_input_tokens,
        cache_creation_input_tokens,
        reasoning_tokens,
    )
    for name, value in zip(_COUNT_NAMES, n, strict=True):
        if type(value) is not int:
            raise ParameterTypeError(f"{name} must be an int, not {type(value).__name__}")
    if problem := n.problem():
        raise ParameterError(problem)
    return price(target(model, None, custom_llm_provider), n)


def completion_cost(
    completion_response: Any = None,
    *,
    model: str | None = None,
    usage: Any = None,
    custom_llm_provider: str | None = None,
) -> float | None:
    """The USD cost of a response (LiteLLM's name), or of ``usage`` for ``model``.

    A ritellm response is priced for the model the provider says answered (e.g.
    ``gpt-4o-2024-08-06`` behind an Azure deployment), falling back to the requested one.
    A response rebuilt by ``stream_chunk_builder`` (or an OpenAI SDK object) has no
    metadata: its ``model`` field is priced, so pass ``custom_llm_provider`` (or ``model``)
    when the name alone does not say which provider served it.

    Args:
        completion_response: a response, a finished stream, or a response dict.
        model: price this model instead of the response's.
        usage: the usage to price instead of the response's (OpenAI's shape).
        custom_llm_provider: the provider, when neither the response nor ``model`` says.

    Returns:
        USD, or None when the price or the usage is unknown.

    Raises:
        ParameterTypeError: an argument has the wrong type.
        ParameterError: neither a response nor ``model`` and ``usage`` were given.
    """
    _check_str("model", model)
    _check_str("custom_llm_provider", custom_llm_provider)
    response = completion_response
    if response is not None and not (
        isinstance(response, Mapping)
        or hasattr(response, "usage")
        or hasattr(response, "response_metadata")
    ):
        raise ParameterTypeError(
            f"completion_cost expects a response (a dict), not {type(response).__name__}"
        )
    if usage is not None and not (isinstance(usage, Mapping) or hasattr(usage, "prompt_tokens")):
        raise ParameterTypeError(
            f"usage must be a dict with prompt_tokens and completion_tokens, not "
            f"{type(usage).__name__}"
        )
    if response is None and (usage is None or model is None):
        raise ParameterError("completion_cost needs a response, or model=... and usage=...")
    meta = getattr(response, "response_metadata", None)  # None without a response
    if usage is None:
        usage = _field(response, "usage")
        if usage is None:
            usage = getattr(meta, "usage", None)
    n = _counts(usage)
    if n is None:
        return None
    if model is not None:
        where = target(model, None, custom_llm_provider)
    else:
        served = _text(getattr(meta, "served_model", None))
        if meta is None:  # no metadata: a response's own model field (a stream's is requested)
            served = _text(_field(response, "model"))
        requested = _text(getattr(meta, "model", None))
        provider = custom_llm_provider or _text(getattr(meta, "provider", None))
        if requested is None:
            if served is None:
                return None
            requested, served = served, None
        where = target(requested, served, provider)
    at = getattr(meta, "received_at", None)
    return _total(where, n, at if isinstance(at, float) and at > 0 else None)


def response_cost(
    provider: str, model: str, served_model: str | None, usage: Any, at: float | None = None
) -> float | None:
    """The cost of one call as its metadata reports it (``ResponseMetadata.cost``), or None.

    ``at`` is the unix time the call was answered (``received_at``), so that a cost read
    later is the price when the call ran; None prices it now.

    Never raises: a cost is read from a finished call, where a failure to price it must not
    become an error (any failure is logged at debug level).
    """
    try:
        n = _counts(usage)
        return None if n is None else _total(target(model, served_model, provider), n, at)
    except Exception:  # a price is an annotation: no failure may escape into the call
        logger.debug("ritellm: no cost for %s/%s", provider, model, exc_info=True)
        return None


def _total(where: Target, n: Counts, at: float | None) -> float | None:
    both = price(where, n, at)
    return None if both is None else both[0] + both[1]


# -- reading usage -----------------------------------------------------------------------------


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict | Mapping):  # dict first: the ABC check costs ~0.3 µs
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, name: str) -> int | None:
    value = _field(obj, name)
    return value if type(value) is int else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _counts(usage: Any) -> Counts | None:
    """The counts of an OpenAI-shaped usage (a dict or an SDK object), or None without
    prompt and completion counts or with counts that contradict each other."""
    if usage is None:
        return None
    prompt = _count(usage, "prompt_tokens")
    completion = _count(usage, "completion_tokens")
    if prompt is None or completion is None:
        return None
    # Anthropic and Bedrock usage carries LiteLLM's names for both cache counts; OpenAI,
    # Azure and Gemini report cache reads as prompt_tokens_details.cached_tokens, DeepSeek
    # (passed through as it sent it) also or only as prompt_cache_hit_tokens.
    read = _count(usage, "cache_read_input_tokens")
    if read is None:
        read = _count(_field(usage, "prompt_tokens_details"), "cached_tokens")
    if read is None:
        read = _count(usage, "prompt_cache_hit_tokens")
    write = _count(usage, "cache_creation_input_tokens")
    reasoning = _count(_field(usage, "completion_tokens_details"), "reasoning_tokens")
    n = Counts(prompt, completion, read or 0, write or 0, reasoning or 0)
    if problem := n.problem():
        logger.debug("ritellm: usage not priced: %s", problem)
        return None
    return n


def _check_str(name: str, value: object, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ParameterTypeError(f"{name} must be a string, not {type(value).__name__}")
    if not value:
        raise ParameterError(f"{name} must not be empty")
