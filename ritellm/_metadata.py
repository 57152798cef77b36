"""What a call reports about itself: provider, models, endpoint, HTTP status and headers,
attempts, latencies, the rate limits the provider stated, usage and cost — on every response,
every stream (complete once it ends) and every APIError.

Pure: standard library, attrs and ritellm's pure modules only (the clock is read by the I/O
layer, which fills these in).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._error_map import request_id
from ._ratelimits import RateLimits, parse_rate_limits

__all__ = ["Latency", "ResponseMetadata", "hidden_params"]

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@attrs.define(kw_only=True)
class Latency:
    """Seconds since the call began (retries, backoff and fallbacks' own time included).

    Attributes:
        headers: until the response headers of the last attempt arrived.
        first_chunk: streams: until the first chunk was decoded (what a user waits for).
        total: until the whole answer was in: for a stream, its end (None while it is open).
    """

    headers: float | None = None
    first_chunk: float | None = None
    total: float | None = None


@attrs.define(kw_only=True)
class ResponseMetadata:
    """One call as it happened: ``response.response_metadata``, ``stream.response_metadata``
    (complete once the stream ends) and ``error.response_metadata``.

    A call that fell back to another model reports the model that answered (each failed
    model's error carries its own metadata). ritellm fills it in; the properties below
    (``request_id``, ``retries``, ``rate_limits``, ``cost``) are computed from it.

    Attributes:
        provider: the provider prefix that was called (``"openai"``, ``"anthropic"``, ...).
        model: the model string as requested (``"anthropic/claude-sonnet-4-5"``).
        api_base: the base URL called, any password in it masked.
        served_model: the model the provider says answered (``response.model``), when it
            says.
        status: the HTTP status of the last attempt (None: no response, e.g. a refused
            connection).
        headers: the last response's headers, lower-case names.
        attempts: requests sent for this model (1 + retries).
        latency: the call's :class:`Latency`.
        usage: the normalised usage (OpenAI's shape): a streamed call's comes from its usage
            chunk (``stream_options={"include_usage": True}``), None without one.
        started: ``time.perf_counter()`` when the call began.
        received_at: unix time when the last headers arrived (Anthropic's resets are
            timestamps).
    """

    provider: str
    model: str
    api_base: str
    served_model: str | None = None
    status: int | None = None
    headers: Mapping[str, str] = attrs.field(default=_NO_HEADERS, repr=False)
    attempts: int = 0
    latency: Latency = attrs.field(factory=Latency)
    usage: Any = None
    started: float = attrs.field(default=0.0, repr=False)
    received_at: float = attrs.field(default=0.0, repr=False)
    _cost: float | None = attrs.field(default=None, init=False, repr=False)
    _priced: bool = attrs.field(default=False, init=False, repr=False)  # _cost is computed

    @property
    def request_id(self) -> str | None:
        """The provider's id for the request (``x-request-id``, ``request-id``,
        ``x-amzn-requestid``), for a support ticket."""
        return request_id(self.headers)

    @property
    def cost(self) -> float | None:
        """USD for the usage, from the price library (``ritellm[cost]``) or prices you
        registered; None while a stream is open, without usage, or for a model whose prices
        are unknown (never a made-up 0). Computed when first read."""
        if not self._priced:
            if self.latency.total is None:
                return None  # not finished: the usage may still come
            from ._cost import response_cost

            self._cost = response_cost(
                self.provider, self.model, self.served_model, self.usage, self.received_at or None
            )
            self._priced = True
        return self._cost

    @property
    def retries(self) -> int:
        """Attempts after the first."""
        return max(0, self.attempts - 1)

    @property
    def rate_limits(self) -> RateLimits | None:
        """The request and token buckets the last response stated (OpenAI / Azure
        ``x-ratelimit-*``, Anthropic ``anthropic-ratelimit-*``), None if it stated none.
        Parsed when read: a call that never looks pays nothing."""
        return parse_rate_limits(self.headers, self.received_at) if self.headers else None

    # copy and pickle: the headers as a plain dict (the live view holds the response).
    def __getstate__(self) -> dict[str, Any]:
        state = {a.name: getattr(self, a.name) for a in attrs.fields(type(self))}
        state["headers"] = dict(self.headers)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    # -- filled in by the I/O layer ---------------------------------------------------------

    def responded(self, status: int, headers: Mapping[str, str]) -> None:
        """An attempt got its response headers: records ``status`` and ``headers`` (lower-case
        names) and the time they arrived."""
        self.status = status
        self.headers = headers
        self.received_at = time.time()
        self.latency.headers = time.perf_counter() - self.started

    def first_chunk(self, model: object) -> None:
        """A stream's first chunk was decoded; ``model`` is its ``model`` field (the served
        model, if a non-empty string)."""
        self.latency.first_chunk = time.perf_counter() - self.started
        if isinstance(model, str) and model:
            self.served_model = model

    def finished(self, model: object = None, usage: Any = None) -> None:
        """The whole answer is in (a response body, or a stream's end).

        Args:
            model: the answer's ``model`` field: the served model, if a non-empty string.
            usage: the answer's usage, if it has one.
        """
        self.latency.total = time.perf_counter() - self.started
        if isinstance(model, str) and model:
            self.served_model = model
        if usage is not None:
            self.usage = usage


def hidden_params(meta: ResponseMetadata | None) -> dict[str, Any]:
    """LiteLLM's ``response._hidden_params`` keys, for code migrating from LiteLLM (all None
    for a response ritellm did not receive itself, e.g. one rebuilt from chunks)."""
    return {
        "custom_llm_provider": meta.provider if meta else None,
        "api_base": meta.api_base if meta else None,
        "model_id": None,  # a LiteLLM Router deployment id: ritellm has no router
        "response_cost": meta.cost if meta else None,
        "additional_headers": dict(meta.headers) if meta else {},
    }
