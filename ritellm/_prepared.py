"""The prepared call: one validated acompletion call's provider, credentials and wire
request, rebuilt when credentials or media arrive, signed for each attempt, logged for hooks,
and used to annotate the errors it raises. Built by ritellm._call.prepare.

Pure: standard library, attrs and ritellm's pure modules (providers included); never anyio,
httpcore, trio or asyncio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from ._checks import redact_url
from ._errors import APIError, ParameterError, ParameterTypeError
from ._metadata import ResponseMetadata
from ._mock import Mock
from ._options import RetryPolicy, Timeouts
from ._providers import Provider
from ._redact import redact_header, scrub_secret
from ._types import CompletionRequest, Credentials, HttpRequest, Media

if TYPE_CHECKING:
    from ._observe import Report

__all__ = ["Call", "LoggerFn"]

logger = logging.getLogger("ritellm")

LoggerFn = Callable[[dict[str, Any]], Any]

_NO_MEDIA: Mapping[str, Media] = MappingProxyType({})
_PLACEHOLDER = Media(mime_type="image/png", data="")


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
            name.decode("latin-1"): redact_header(name, value.decode("latin-1"), secret)
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
