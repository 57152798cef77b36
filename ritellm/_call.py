"""Validate acompletion's arguments and prepare a `Call`: provider, credentials and the wire
request, before any I/O. ritellm's own options (headers, fallbacks, mock_response, ...) are
parsed here; the prepared Call itself lives in ritellm._prepared.

Pure: standard library, attrs and ritellm's pure modules (providers included); never anyio,
httpcore, trio or asyncio. The environment is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import attrs

from ._checks import (
    check_additional,
    check_headers,
    check_key,
    check_messages,
    check_number,
    check_retries,
)
from ._errors import AuthenticationError, ParameterError, ParameterTypeError
from ._mock import check_mock
from ._options import RetryPolicy, Timeouts
from ._prepared import Call
from ._providers import get_provider, resolve
from ._types import CompletionRequest

__all__ = [
    "CompletionParams",
    "Defaults",
    "Messages",
    "prepare",
]

Messages = Sequence[Mapping[str, Any]]


if TYPE_CHECKING:
    from ._prepared import LoggerFn

    # Declared for type checkers only: building a 50-key TypedDict at import time costs
    # ~6 ms, and nothing reads it at run time.
    class CompletionParams(TypedDict, total=False):
        """The keyword arguments of ``acompletion``/``completion`` (all optional).

        ritellm's own options are never sent; every other field is a request parameter in
        OpenAI's vocabulary, translated for the provider. A parameter not listed here can
        still be passed (as a keyword at run time, or in ``additional_params`` for type-checked
        code): it goes into the provider's native body unchanged.
        """

        # ritellm's options
        base_url: str | None
        api_base: str | None
        api_key: str | None
        additional_params: str | Mapping[str, Any] | None
        timeout: float | Timeouts | None
        logger_fn: LoggerFn | None
        num_retries: int | None
        max_retries: int | None
        extra_headers: Mapping[str, str] | None
        headers: Mapping[str, str] | None
        mock_response: str | Mapping[str, Any] | Exception | None
        fallbacks: Sequence[str | Mapping[str, Any]] | None
        drop_params: bool
        api_version: str | None
        azure_ad_token: str | None
        aws_access_key_id: str | None
        aws_secret_access_key: str | None
        aws_session_token: str | None
        aws_region_name: str | None
        aws_profile_name: str | None
        proxy: str | None
        metadata: Mapping[str, Any] | None
        # OpenAI Chat Completions parameters
        temperature: float | None
        max_tokens: int | None
        max_completion_tokens: int | None
        top_p: float | None
        n: int | None
        stop: str | Sequence[str] | None
        seed: int | None
        presence_penalty: float | None
        frequency_penalty: float | None
        logit_bias: Mapping[str, float] | None
        logprobs: bool | None
        top_logprobs: int | None
        user: str | None
        tools: Sequence[Mapping[str, Any]] | None
        tool_choice: str | Mapping[str, Any] | None
        parallel_tool_calls: bool | None
        response_format: Mapping[str, Any] | type | None
        reasoning_effort: str | None
        stream_options: Mapping[str, Any] | None
        service_tier: str | None
        store: bool | None
        modalities: Sequence[str] | None
        audio: Mapping[str, Any] | None
        prediction: Mapping[str, Any] | None
        web_search_options: Mapping[str, Any] | None
        verbosity: str | None
        prompt_cache_key: str | None
        safety_identifier: str | None
        # common provider-specific parameters
        top_k: int | None
        thinking: Mapping[str, Any] | None
        safety_settings: Sequence[Mapping[str, Any]] | None


# ritellm's own options: consumed here, never part of the request body.
_OPTIONS = frozenset(
    {
        "base_url",
        "api_base",
        "api_key",
        "additional_params",
        "timeout",
        "logger_fn",
        "num_retries",
        "max_retries",
        "extra_headers",
        "headers",
        "fallbacks",
        "drop_params",
        "proxy",
        "metadata",
        "mock_response",
    }
)
# The key a mocked call is prepared with when none is configured (LiteLLM's word for it):
# nothing is sent, so no key is needed.
_MOCK_KEY = "mock-key"


@attrs.frozen(kw_only=True)
class Defaults:
    """An AsyncClient's defaults for every call (per-call arguments win)."""

    api_key: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | Timeouts | None = None
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    # The largest streamed event (or SSE line) a decoder accepts.
    max_event_bytes: int = 1 << 20


def prepare(
    model: object,
    messages: object,
    stream: object,
    kwargs: Mapping[str, Any],
    defaults: Defaults,
    environ: Mapping[str, str],
) -> Call:
    """Validate one call's arguments and build its wire request; no I/O.

    Args:
        model, messages, stream: acompletion's arguments.
        kwargs: every other keyword argument (ritellm's options and request parameters).
        defaults: the client's defaults.
        environ: the process environment (credentials and base URLs).

    Raises:
        ParameterError / ParameterTypeError / UnknownProviderError: bad arguments.
        AuthenticationError: no credentials where the provider needs them.
    """
    if not isinstance(model, str):
        raise ParameterTypeError(f"model must be a str, not {type(model).__name__}")
    if not model:
        raise ParameterError("model must not be empty")
    checked_messages = check_messages(messages)
    if not isinstance(stream, bool):
        raise ParameterTypeError(f"stream must be True or False, not {stream!r}")
    options = {name: kwargs[name] for name in _OPTIONS.intersection(kwargs)}
    base_url = options.get("base_url")
    if base_url is None:
        base_url = options.get("api_base")  # LiteLLM's name
    api_key = options.get("api_key")
    for name, value in (("base_url", base_url), ("api_key", api_key)):
        if value is not None and not isinstance(value, str):
            raise ParameterTypeError(f"{name} must be a str, not {type(value).__name__}")
    logger_fn = options.get("logger_fn")
    if logger_fn is not None and not callable(logger_fn):
        raise ParameterTypeError("logger_fn must be callable")
    proxy = options.get("proxy")
    if proxy is not None and not isinstance(proxy, str):
        raise ParameterTypeError(f"proxy must be a str (a proxy URL), not {type(proxy).__name__}")
    metadata = options.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ParameterTypeError(f"metadata must be a dict, not {type(metadata).__name__}")
    drop_params = options.get("drop_params", False)
    if not isinstance(drop_params, bool):
        raise ParameterTypeError(f"drop_params must be True or False, not {drop_params!r}")
    mock = check_mock(options.get("mock_response"))

    body = check_additional(options.get("additional_params"))
    # The explicit arguments win: additional_params cannot replace them on the wire.
    for name in ("model", "messages", "stream"):
        body.pop(name, None)
    for name, value in kwargs.items():
        # None means "not set" (LiteLLM's convention for optional parameters).
        if name not in _OPTIONS and value is not None:
            body[name] = value
    body.pop("stream", None)  # `stream=` is the argument, never a body field
    if "temperature" in body:
        check_number("temperature", body["temperature"])
    for name in ("max_tokens", "max_completion_tokens"):
        if name in body:
            check_number(name, body[name], integer=True)
            if body[name] < 1:
                raise ParameterError(f"{name} must be >= 1, got {body[name]}")
    retries = check_retries(
        options.get("num_retries"), options.get("max_retries"), defaults.retry.max_retries
    )
    retry = (
        defaults.retry
        if retries == defaults.retry.max_retries
        else attrs.evolve(defaults.retry, max_retries=retries)
    )
    timeout = options.get("timeout")
    timeout_value = Timeouts.coerce(defaults.timeout if timeout is None else timeout, stream=stream)

    spec, model_id = resolve(model)
    provider = get_provider(spec)
    credential_options = {name: body.pop(name, None) for name in provider.credential_params}
    try:
        creds = provider.credentials(
            api_key=api_key or defaults.api_key,
            base_url=base_url or defaults.base_url,
            options=credential_options,
            environ=environ,
        )
    except AuthenticationError:
        if mock is None:
            raise
        # A mock sends nothing: it needs no key (everything else is checked as usual).
        creds = provider.credentials(
            api_key=_MOCK_KEY,
            base_url=base_url or defaults.base_url,
            options=credential_options,
            environ=environ,
        )
    check_key(creds.api_key)
    call = Call(
        provider=provider,
        model=model,
        payload=CompletionRequest(
            model=model_id,
            messages=checked_messages,
            params=body,
            stream=stream,
            drop_params=drop_params,
        ),
        creds=creds,
        extra_headers=_headers(options.get("headers"), options.get("extra_headers")),
        timeout=timeout_value,
        retry=retry,
        logger_fn=logger_fn,
        proxy=proxy,
        max_event_bytes=defaults.max_event_bytes,
        user_metadata=metadata,
        mock=mock,
    )
    fallbacks = options.get("fallbacks")
    if fallbacks is not None:
        rest = {k: v for k, v in kwargs.items() if k != "fallbacks"}
        call.fallbacks = _fallbacks(fallbacks, model, messages, stream, rest, defaults, environ)
        if any((fallback.mock is None) != (mock is None) for fallback in call.fallbacks):
            # A mocked model falls back only to mocks, and a real one only to real calls:
            # a mock never hides a request, and a fallback never sends one a mock skipped.
            raise ParameterError(
                "mock_response: either every model of the call is mocked or none is (the "
                "fallbacks inherit the call's mock_response; a fallback dict may give its own, "
                "but not None, nor one when the call itself has none)"
            )
    return call


def _headers(headers: object, extra: object) -> list[tuple[bytes, bytes]]:
    """``headers`` (LiteLLM's alias) and ``extra_headers`` merged, as wire-ready pairs.
    Where both name a header (in any case), ``extra_headers`` wins, as in LiteLLM."""
    merged = check_headers(extra) if extra else []
    if headers:
        plain = check_headers(headers, "headers")
        given = {name.lower() for name, _ in merged}
        merged = [(n, v) for n, v in plain if n.lower() not in given] + merged
    return merged


def _fallbacks(
    fallbacks: object,
    model: str,
    messages: object,
    stream: bool,
    kwargs: dict[str, Any],
    defaults: Defaults,
    environ: Mapping[str, str],
) -> list[Call]:
    """Each fallback is a model string, or a dict of arguments overriding this call's
    (e.g. ``{"model": ..., "base_url": ..., "api_key": ...}``). A fallback to the same
    provider inherits this call's base URL and key; another provider does not."""
    if isinstance(fallbacks, str | bytes) or not isinstance(fallbacks, Sequence):
        raise ParameterTypeError("fallbacks must be a list of model strings or dicts")
    primary = resolve(model)[0]
    calls: list[Call] = []
    for i, entry in enumerate(fallbacks):
        if isinstance(entry, str):
            overrides: dict[str, Any] = {"model": entry}
        elif isinstance(entry, Mapping) and isinstance(entry.get("model"), str):
            overrides = dict(entry)
        else:
            raise ParameterTypeError(
                f"fallbacks[{i}] must be a model string or a dict with a 'model'"
            )
        options = dict(kwargs)
        if resolve(overrides["model"])[0] is not primary:
            for name in ("base_url", "api_base", "api_key"):
                options.pop(name, None)
        options.update(overrides)
        target = options.pop("model")
        calls.append(
            prepare(target, messages, options.pop("stream", stream), options, defaults, environ)
        )
    return calls
