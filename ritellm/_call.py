"""Validate acompletion's arguments and prepare a `Call`: provider, credentials and the wire
request, before any I/O.

Pure: standard library, attrs and ritellm's pure modules (providers included); never anyio,
httpcore, trio or asyncio. The environment is passed in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

import attrs

from ._checks import (
    check_additional,
    check_headers,
    check_key,
    check_messages,
    check_number,
    check_retries,
    redact_url,
)
from ._errors import (
    APIError,
    AuthenticationError,
    ParameterError,
    ParameterTypeError,
    scrub_secret,
)
from ._metadata import ResponseMetadata
from ._mock import Mock, check_mock
from ._options import RetryPolicy, Timeouts
from ._providers import Provider, get_provider, resolve
from ._types import CompletionRequest, Credentials, HttpRequest, Media

__all__ = [
    "Call",
    "CompletionParams",
    "Defaults",
    "LoggerFn",
    "Messages",
    "prepare",
]

logger = logging.getLogger("ritellm")

LoggerFn = Callable[[dict[str, Any]], Any]
Messages = Sequence[Mapping[str, Any]]


if TYPE_CHECKING:
    from ._observe import Report

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

_SECRET_HEADERS = frozenset(
    {b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key", b"x-amz-security-token"}
)
_NO_MEDIA: Mapping[str, Media] = MappingProxyType({})
_PLACEHOLDER = Media(mime_type="image/png", data="")


@attrs.frozen(kw_only=True)
class Defaults:
    """An AsyncClient's defaults for every call (per-call arguments win)."""

    api_key: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | Timeouts | None = None
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    # The largest streamed event (or SSE line) a decoder accepts.
    max_event_bytes: int = 1 << 20


class Call:
    """Everything one acompletion call needs once its arguments are validated."""

    # What the call reports (response_metadata): made fresh by the attempt loop each time the
    # call is run, so a Call that was never run has none.
    meta: ResponseMetadata
    # Who observes the run (callbacks, spans): None when nothing does.
    report: Report | None

    __slots__ = (
        "creds",
        "extra_headers",
        "fallbacks",
        "logger_fn",
        "max_event_bytes",
        "media_urls",
        "meta",
        "mock",
        "model",
        "payload",
        "provider",
        "proxy",
        "report",
        "request",
        "retry",
        "stream",
        "timeout",
        "user_metadata",
    )

    def __init__(
        self,
        *,
        provider: Provider,
        model: str,
        payload: CompletionRequest,
        creds: Credentials,
        extra_headers: list[tuple[bytes, bytes]],
        timeout: Timeouts,
        retry: RetryPolicy,
        logger_fn: LoggerFn | None,
        proxy: str | None = None,
        max_event_bytes: int = 1 << 20,
        user_metadata: Mapping[str, Any] | None = None,
        mock: Mock | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.payload = payload
        self.stream = payload.stream
        self.creds = creds
        self.extra_headers = extra_headers
        self.timeout = timeout
        self.retry = retry
        self.logger_fn = logger_fn
        # A proxy URL for this call only (a ritellm option: never part of the request).
        self.proxy = proxy
        self.max_event_bytes = max_event_bytes
        # The caller's metadata= (LiteLLM's): for callbacks, never sent.
        self.user_metadata = user_metadata
        # mock_response=: the call answers this instead of sending anything (ritellm._mock).
        self.mock = mock
        self.report = None
        self.fallbacks: list[Call] = []
        self.media_urls = provider.media_urls(payload)
        # Built now (validating everything) even when media must be fetched first: with
        # placeholders, then again once the bytes are in (see with_media).
        media = dict.fromkeys(self.media_urls, _PLACEHOLDER) if self.media_urls else _NO_MEDIA
        self.request: HttpRequest = self._build(media)

    @property
    def secret(self) -> str | None:
        # What a server could echo back: the key, else a signed request's session token.
        return self.creds.api_key or getattr(self.creds.signing, "session_token", None)

    def _build(self, media: Mapping[str, Media]) -> HttpRequest:
        try:
            http = self.provider.build_request(self.payload, self.creds, media)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError | ParameterTypeError):
                raise
            raise ParameterTypeError(
                f"Request parameters are not JSON-serialisable: {exc}"
            ) from None
        if not self.extra_headers:
            return http
        # Same name (any case): the caller's header replaces ritellm's, never doubles it.
        names = {name.lower() for name, _ in self.extra_headers}
        kept = [(n, v) for n, v in http.headers if n.lower() not in names]
        return attrs.evolve(http, headers=[*kept, *self.extra_headers])

    def with_credentials(self, creds: Credentials) -> None:
        """Use credentials completed by their provider's ``resolve`` (after blocking I/O in
        a worker thread), rebuilding the request for them."""
        self.creds = creds
        media = dict.fromkeys(self.media_urls, _PLACEHOLDER) if self.media_urls else _NO_MEDIA
        self.request = self._build(media)

    def signed(self, now: float) -> HttpRequest:
        """The request as sent at ``now``: signed anew for each attempt by formats that sign
        requests (Bedrock's SigV4 signature carries its time), as built for the others."""
        return self.provider.sign(self.request, self.creds, now)

    def with_media(self, media: Mapping[str, Media]) -> None:
        """Rebuild the request with the fetched bytes of :attr:`media_urls`."""
        self.request = self._build(media)
        self.media_urls = ()

    def annotate(self, err: APIError) -> APIError:
        """Fill in provider/model and scrub the key from an error before it is raised."""
        if err.provider is None:
            err.provider = self.provider.spec.name
        if err.model is None:
            err.model = self.model
        return scrub_secret(err, self.secret)

    def log(self, attempt: int, request: HttpRequest) -> None:
        """Call the user's logger_fn (LiteLLM's hook) once per attempt with the request as
        sent, credentials redacted."""
        if self.logger_fn is None:
            return
        record = {
            "event": "pre_api_call",
            "provider": self.provider.spec.name,
            "model": self.model,
            **self.request_record(attempt, request),
        }
        try:
            self.logger_fn(record)
        except Exception:
            # A logging callback must never break the call it observes.
            logger.warning("logger_fn raised; ignoring", exc_info=True)

    def request_record(self, attempt: int, request: HttpRequest) -> dict[str, Any]:
        """The request as sent, for logging hooks: credentials redacted, the body parsed."""
        secret = self.secret
        headers = {
            name.decode("latin-1"): _redact(name, value.decode("latin-1"), secret)
            for name, value in request.headers
        }
        record = {
            "url": request.url,
            "headers": headers,
            # What is sent, in the provider's own format (keys travel in headers only).
            "body": json.loads(request.body),
            "stream": self.stream,
            "attempt": attempt,
        }
        if self.proxy is not None:
            record["proxy"] = redact_url(self.proxy)
        return record


def _redact(name: bytes, value: str, secret: str | None) -> str:
    """A header value as logger_fn may see it: credentials masked."""
    if name.lower() in _SECRET_HEADERS:
        scheme, _, rest = value.partition(" ")
        return f"{scheme} ***" if rest else "***"
    if secret and secret in value:
        return value.replace(secret, "***")
    return value


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
