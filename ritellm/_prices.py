"""Where a model's USD prices come from, and what a set of token counts costs at them:
prices the caller registered (``register_model``) win, else genai-prices' data (the ``cost``
extra) under the provider's id there; a local model or an unknown price is None, never a
made-up 0.

Pure: standard library and ritellm's pure modules. genai_prices (which imports pydantic) is
imported inside functions on first use, never by ``import ritellm``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from numbers import Real
from typing import TYPE_CHECKING, Any, NamedTuple

from ._errors import ParameterError, ParameterTypeError
from ._providers import resolve

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, Provider

__all__ = ["Counts", "Target", "load", "price", "register_model", "target"]

logger = logging.getLogger("ritellm")

# ritellm's provider prefixes whose genai-prices provider id (``Provider.id`` in its data) is
# another name. Every other prefix is its own id (openai, anthropic, azure, groq, deepseek,
# mistral, openrouter, perplexity), and genai-prices recognises several of LiteLLM's other
# names itself (``vertex_ai`` -> google, ``cohere``).
_LIBRARY_ID = {
    "gemini": "google",
    "bedrock": "aws",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
}
# Servers on the caller's own hardware: no list price, so None unless one is registered.
_LOCAL = frozenset({"ollama", "hosted_vllm", "lm_studio", "llamafile"})
# LiteLLM's two prefixes for Ollama's one API name the same models (and prices).
_SAME = {"ollama_chat": "ollama"}


class Counts(NamedTuple):
    """Token counts in OpenAI's convention: ``prompt`` includes cache reads and writes,
    ``completion`` includes reasoning."""

    prompt: int
    completion: int
    cache_read: int
    cache_write: int
    reasoning: int

    def problem(self) -> str | None:
        if min(self) < 0:
            return f"token counts must be >= 0, got {self}"
        if self.cache_read + self.cache_write > self.prompt:
            return (
                f"prompt_tokens ({self.prompt}) counts every input token, cache reads "
                f"({self.cache_read}) and writes ({self.cache_write}) included (OpenAI's "
                "convention), so it cannot be smaller than their sum"
            )
        if self.reasoning > self.completion:
            return (
                f"completion_tokens ({self.completion}) counts every output token, reasoning "
                f"({self.reasoning}) included, so it cannot be smaller"
            )
        return None


class Target(NamedTuple):
    """Where to look a model's price up."""

    provider: str | None  # ritellm's prefix (or the caller's name); None: not known
    library_id: str | None  # genai-prices' provider id; None lets it infer from the name
    names: tuple[str, ...]  # model ids, best first (the served model, then the requested)


def target(model: str, served: str | None, provider: str | None) -> Target:
    """Split ``model`` (``"provider/id"`` or bare) into where its price may be found."""
    library_id: str | None = None
    if provider:
        if model.startswith(provider + "/"):
            model = model[len(provider) + 1 :]
        library_id = _LIBRARY_ID.get(provider, provider)
    else:
        prefix, sep, rest = model.partition("/")
        if prefix and rest:
            # A ritellm prefix, or another (LiteLLM's ``vertex_ai/...``) for the library.
            provider, model, library_id = prefix, rest, _LIBRARY_ID.get(prefix, prefix)
        elif not sep:
            # A bare name, as ritellm would route it (a registered "openai/x" prices a bare
            # "x"); genai-prices infers the provider from the name itself.
            provider = resolve(model)[0].name
    names = [name for name in (served, model) if name]
    if provider == "gemini":
        # Gemini's REST names are "models/<id>"; the price data uses the bare id.
        names = [name.removeprefix("models/") for name in names]
    provider = _SAME.get(provider, provider) if provider else provider
    return Target(provider, library_id, tuple(dict.fromkeys(names)))


def price(where: Target, n: Counts, at: float | None = None) -> tuple[float, float] | None:
    """USD for the prompt and for the completion, or None when no price is known. ``at`` is
    the unix time of the call, for prices that change over time; None prices it now."""
    custom = _registered_price(where)
    if custom is not None:
        return custom.cost(n)
    if where.provider in _LOCAL:
        return None
    for name in where.names:
        found = _library_price(where.library_id, name, n, at)
        if found is not None:
            return found
    return None


# -- registered prices -------------------------------------------------------------------------


class _Price(NamedTuple):
    """A registered model's USD per token; an absent rate falls back to the plain one."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None

    def cost(self, n: Counts) -> tuple[float, float]:
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        uncached = n.prompt - n.cache_read - n.cache_write
        prompt = uncached * self.input + n.cache_read * read + n.cache_write * write
        if self.reasoning is None:  # reasoning tokens are output tokens, billed as such
            return prompt, n.completion * self.output
        answer = n.completion - n.reasoning
        return prompt, answer * self.output + n.reasoning * self.reasoning


_RATES = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "output_cost_per_reasoning_token": "reasoning",
}
_REQUIRED = ("input_cost_per_token", "output_cost_per_token")

# Replaced, never mutated: readers take the current dict without a lock.
_registered: Mapping[str, _Price] = {}
_register_lock = threading.Lock()


def register_model(prices: Mapping[str, Mapping[str, Any]]) -> None:
    """Register prices for private or unlisted models (LiteLLM's ``register_model`` shape);
    they win over the price library's. Nothing is stored unless every entry is valid.

    ``{"my-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}`` in USD per
    token; optional ``cache_read_input_token_cost``, ``cache_creation_input_token_cost`` and
    ``output_cost_per_reasoning_token`` (each defaults to the plain input or output rate), and
    ``litellm_provider`` (``"ollama"``: the key then prices only that provider's model, as
    the key ``"ollama/my-model"`` does). A bare key prices that model id under any provider.
    Other LiteLLM keys (``max_tokens``, ``mode``, ...) are ignored; other ``*cost*`` keys
    (tiered, per-second, batch prices) are refused rather than silently left out.

    Raises:
        ParameterTypeError: ``prices`` is not a dict of dicts, or a rate is not a number.
        ParameterError: a rate is missing, negative or not finite, or a price key is unknown.
    """
    if not isinstance(prices, Mapping):
        raise ParameterTypeError(
            "register_model expects a dict {model: {'input_cost_per_token': ..., "
            f"'output_cost_per_token': ...}}, not {type(prices).__name__}"
        )
    new = dict(_registered_entry(model, entry) for model, entry in prices.items())
    global _registered
    with _register_lock:  # two registrations at once must not lose one
        _registered = {**_registered, **new}


def _registered_entry(model: object, entry: object) -> tuple[str, _Price]:
    if not isinstance(model, str):
        raise ParameterTypeError(f"register_model: model names are strings, not {model!r}")
    if not model.strip():
        raise ParameterError("register_model: a model name is empty")
    if not isinstance(entry, Mapping):
        raise ParameterTypeError(
            f"register_model: the prices of {model!r} must be a dict, not {type(entry).__name__}"
        )
    rates: dict[str, float] = {}
    for key, value in entry.items():
        if key in _RATES:
            if value is not None or key in _REQUIRED:
                rates[_RATES[key]] = _rate(model, key, value)
        elif isinstance(key, str) and "cost" in key:
            supported = ", ".join(_RATES)
            raise ParameterError(
                f"register_model: {model!r} has the price {key!r}, which ritellm cannot apply "
                f"(supported: {supported})"
            )
    for key in _REQUIRED:
        if _RATES[key] not in rates:
            raise ParameterError(f"register_model: {model!r} needs {key!r} (USD per token)")
    provider = entry.get("litellm_provider")
    if provider is not None and not isinstance(provider, str):
        raise ParameterTypeError(
            f"register_model: {model!r} has a litellm_provider that is not a string: {provider!r}"
        )
    return _registry_key(model, provider), _Price(**rates)


def _rate(model: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ParameterTypeError(
            f"register_model: {model!r} {key!r} must be a number (USD per token), "
            f"not {type(value).__name__}"
        )
    rate = float(value)
    if not math.isfinite(rate) or rate < 0:
        raise ParameterError(f"register_model: {model!r} {key!r} must be >= 0, got {value!r}")
    return rate


def _registry_key(model: str, provider: str | None) -> str:
    """Keys compare lower-case (as genai-prices' names do), same-model prefixes merged."""
    key = model.strip().lower()
    if provider and not key.startswith(provider.lower() + "/"):
        key = f"{provider.lower()}/{key}"
    prefix, sep, rest = key.partition("/")
    return f"{_SAME[prefix]}/{rest}" if sep and prefix in _SAME else key


def _registered_price(where: Target) -> _Price | None:
    table = _registered  # one read: a concurrent register_model replaces it whole
    names = [name.lower() for name in where.names] if table else []
    keys = [f"{where.provider.lower()}/{name}" for name in names] if where.provider else []
    return next((table[key] for key in [*keys, *names] if key in table), None)


# -- the price library -------------------------------------------------------------------------

_unavailable = False  # genai-prices is not installed: said once, not retried on every call
_cached_snapshot: object = None


class _Model(NamedTuple):
    provider: Provider
    info: ModelInfo
    # Zeros for the units the model prices that ritellm does not report (1-hour cache writes,
    # audio, web searches): genai-prices would infer 0 for each (nothing reported is finer
    # than or overlaps them), but inferring costs it ~40% of its time.
    unreported: dict[str, int]


# (provider id, model) -> the library's model, or None for a miss: a miss costs genai-prices
# a scan of the provider's models, and it caches only hits.
_lookups: dict[tuple[str | None, str], _Model | None] = {}
_MAX_LOOKUPS = 4096

_REPORTED = frozenset(
    {"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"}
    | {"output_reasoning_tokens", "requests"}  # requests: genai-prices counts 1 itself
)


def load() -> None:
    """Import the price list now (~185 ms the first time): callbacks do it on their thread
    so that the first cost read on an event loop does not."""
    _snapshot()


def _snapshot() -> DataSnapshot | None:
    global _unavailable
    if _unavailable:
        return None
    try:
        from genai_prices import data_snapshot
    except ImportError:
        _unavailable = True
        logger.warning(
            "ritellm: costs are None without a price list: pip install 'ritellm[cost]' "
            "(genai-prices), or register prices with ritellm.register_model"
        )
        return None
    return data_snapshot.get_snapshot()


def _library_model(library_id: str | None, name: str) -> _Model | None:
    snapshot = _snapshot()
    if snapshot is None:
        return None
    global _cached_snapshot
    if snapshot is not _cached_snapshot:  # new prices (genai_prices.UpdatePrices): look again
        _lookups.clear()
        _cached_snapshot = snapshot
    key = (library_id, name.lower())
    try:
        return _lookups[key]
    except KeyError:
        pass
    try:
        provider, info = snapshot.find_provider_model(key[1], None, library_id, None)
    except LookupError:
        found = None
    else:
        found = _Model(provider, info, _unreported(info))
    if len(_lookups) >= _MAX_LOOKUPS:  # a bound for callers that invent model names
        _lookups.clear()
    _lookups[key] = found
    return found


def _unreported(info: ModelInfo) -> dict[str, int]:
    from genai_prices.data_units import unit_data

    prices = info.prices if isinstance(info.prices, list) else [info.prices]
    priced = {
        key
        for each in [*prices, *(info.price_variants or ())]
        # (getattr: a shape this code does not know only costs the saving, never the price)
        for key, value in getattr(getattr(each, "prices", each), "__dict__", {}).items()
        if value is not None
    }
    return {
        usage_key: 0
        for usage_key, unit in unit_data.items()
        if unit.get("price_key", usage_key) in priced and usage_key not in _REPORTED
    }


def _library_price(
    library_id: str | None, name: str, n: Counts, at: float | None
) -> tuple[float, float] | None:
    found = _library_model(library_id, name)
    if found is None:
        return None
    from genai_prices import Usage

    # genai-prices counts as OpenAI does (input_tokens includes the cache, output_tokens the
    # reasoning) and prices each part at its own rate where the model has one.
    usage = Usage(
        input_tokens=n.prompt,
        output_tokens=n.completion,
        cache_read_tokens=n.cache_read,
        cache_write_tokens=n.cache_write,
        output_reasoning_tokens=n.reasoning,
        **found.unreported,
    )
    try:
        # Prices change (DeepSeek's off-peak hours, dated price changes): priced at the time
        # of the call when it is known, else genai-prices reads its clock.
        when = None if at is None else datetime.fromtimestamp(at, UTC)
        calc = found.info.calc_price(usage, found.provider, genai_request_timestamp=when)
    except ValueError:  # counts the model's price units cannot split (e.g. a missing join)
        logger.debug("ritellm: genai-prices cannot price %s", name, exc_info=True)
        return None
    # Per-request fees belong to neither direction; they go to the prompt side, so that
    # prompt + completion is the total.
    return float(calc.total_price - calc.output_price), float(calc.output_price)
