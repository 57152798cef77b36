"""AsyncClient and acompletion: validate → resolve → build → send → parse, with retries and
deadlines. The only module that knows both the providers and the transport.

Imports anyio, the pure modules and the transport; never httpcore, trio or asyncio.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import anyio
import anyio.lowlevel

from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    ParameterError,
    ParameterTypeError,
    RateLimitError,
    error_from_response,
    parse_error_body,
    scrub_secret,
    snippet,
)
from ._options import RetryPolicy, Timeout
from ._providers import Provider, get_provider, resolve, resolve_credentials
from ._retry import backoff, parse_retry_after, should_retry
from ._stream import AsyncCompletionStream
from ._types import CompletionRequest, HttpRequest, ModelResponse

if TYPE_CHECKING:
    import ssl

    from ._transport import Response, Transport

__all__ = ["AsyncClient", "acompletion"]

logger = logging.getLogger("ritellm")

LoggerFn = Callable[[dict[str, Any]], Any]
Messages = Sequence[Mapping[str, Any]]


class _Call:
    """Everything one acompletion call needs once its arguments are validated."""

    __slots__ = (
        "fallbacks",
        "logger_fn",
        "model",
        "payload",
        "provider",
        "request",
        "retry",
        "secret",
        "stream",
        "timeout",
    )

    def __init__(
        self,
        *,
        provider: Provider,
        model: str,
        request: HttpRequest,
        payload: CompletionRequest,
        stream: bool,
        timeout: Timeout,
        retry: RetryPolicy,
        logger_fn: LoggerFn | None,
        secret: str | None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.request = request
        self.payload = payload
        self.stream = stream
        self.timeout = timeout
        self.retry = retry
        self.logger_fn = logger_fn
        self.secret = secret
        self.fallbacks: list[_Call] = []

    def annotate(self, err: APIError) -> APIError:
        """Fill in provider/model and scrub the key from an error before it is raised."""
        if err.provider is None:
            err.provider = self.provider.spec.name
        if err.model is None:
            err.model = self.model
        return scrub_secret(err, self.secret)

    def log(self, attempt: int) -> None:
        """Call the user's logger_fn (LiteLLM's hook) once per attempt, key redacted."""
        if self.logger_fn is None:
            return
        headers = {
            name.decode("latin-1"): _redact(name, value.decode("latin-1"), self.secret)
            for name, value in self.request.headers
        }
        body: dict[str, Any] = {"model": self.payload.model, "messages": self.payload.messages}
        body.update(self.payload.params)
        if self.stream:
            body["stream"] = True
        record = {
            "event": "pre_api_call",
            "provider": self.provider.spec.name,
            "model": self.model,
            "url": self.request.url,
            "headers": headers,
            "body": body,
            "stream": self.stream,
            "attempt": attempt,
        }
        try:
            self.logger_fn(record)
        except Exception:
            # A logging callback must never break the call it observes.
            logger.warning("logger_fn raised; ignoring", exc_info=True)


_SECRET_HEADERS = frozenset({b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key"})


def _redact(name: bytes, value: str, secret: str | None) -> str:
    """A header value as logger_fn may see it: credentials masked."""
    if name.lower() in _SECRET_HEADERS:
        scheme, _, rest = value.partition(" ")
        return f"{scheme} ***" if rest else "***"
    if secret and secret in value:
        return value.replace(secret, "***")
    return value


def _check_messages(messages: object) -> list[Mapping[str, Any]]:
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ParameterTypeError(
            "messages must be a list of dicts like {'role': 'user', 'content': '...'}, "
            f"not {type(messages).__name__}"
        )
    if not messages:
        raise ParameterError("messages must contain at least one message")
    checked: list[Mapping[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ParameterTypeError(
                f"messages[{i}] must be a dict with 'role' and 'content', "
                f"not {type(message).__name__}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise ParameterError(f"messages[{i}] has no 'role' (got {role!r})")
        checked.append(message if isinstance(message, dict) else dict(message))
    return checked


def _check_additional(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ParameterError(f"additional_params is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ParameterError(
                f"additional_params must be a JSON object, got {type(parsed).__name__}"
            )
        return parsed
    if isinstance(value, Mapping):
        return dict(value)
    raise ParameterTypeError(
        f"additional_params must be a JSON object string or a dict, not {type(value).__name__}"
    )


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _check_headers(headers: object) -> list[tuple[bytes, bytes]]:
    if not isinstance(headers, Mapping):
        raise ParameterTypeError("extra_headers must be a dict of str to str")
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ParameterTypeError("extra_headers must be a dict of str to str")
        if not name or not _TOKEN_CHARS.issuperset(name):
            raise ParameterError(f"extra_headers: {name!r} is not a valid header name")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ParameterError(f"extra_headers: the value of {name!r} contains CR, LF or NUL")
        try:
            out.append((name.encode("ascii"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise ParameterError(
                f"extra_headers: the value of {name!r} is not Latin-1 text"
            ) from None
    return out


def _check_key(api_key: str | None) -> None:
    # A key is sent in a header: control characters would corrupt the request. The message
    # must not quote the key.
    if api_key is not None and (not api_key.isprintable() or api_key != api_key.strip()):
        raise ParameterError(
            "api_key contains whitespace or control characters (check for a stray newline)"
        )


def _check_number(name: str, value: object, *, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ParameterTypeError(f"{name} must be {kind}, not {type(value).__name__}")


def _check_retries(num_retries: object, max_retries: object, default: int) -> int:
    if num_retries is not None and max_retries is not None and num_retries != max_retries:
        raise ParameterError("num_retries and max_retries are aliases; pass only one")
    name, value = (
        ("num_retries", num_retries) if num_retries is not None else ("max_retries", max_retries)
    )
    if value is None:
        return default
    _check_number(name, value, integer=True)
    assert isinstance(value, int)
    if value < 0:
        raise ParameterError(f"{name} must be >= 0, got {value}")
    return value


class AsyncClient:
    """An LLM client with its own connection pools and defaults.

    Pools belong to event loops: one client works in ``asyncio.run()`` after
    ``asyncio.run()``, under ``trio.run()`` and in several threads' loops, each with its own
    connections. ``async with AsyncClient() as client:`` closes the current loop's
    connections on exit; a client is still usable afterwards (it opens new ones).

    Args:
        api_key, base_url: defaults for every call (per-call arguments win; then the
            provider's environment variables).
        timeout: default ``timeout=`` for calls (a number or :class:`Timeout`).
        num_retries: default retries per call (``max_retries`` is an alias).
        max_connections: pool size per event loop; calls beyond it wait (``Timeout.pool``).
        keepalive_expiry: seconds an idle connection is kept for reuse.
        verify: verify TLS certificates (default) or an ``ssl.SSLContext`` to use.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | Timeout | None = None,
        num_retries: int | None = None,
        max_retries: int | None = None,
        max_connections: int = 256,
        keepalive_expiry: float = 30.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        if api_key is not None and not isinstance(api_key, str):
            raise ParameterTypeError(f"api_key must be a str, not {type(api_key).__name__}")
        if base_url is not None and not isinstance(base_url, str):
            raise ParameterTypeError(f"base_url must be a str, not {type(base_url).__name__}")
        _check_number("max_connections", max_connections, integer=True)
        if max_connections < 1:
            raise ParameterError("max_connections must be >= 1")
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        Timeout.coerce(timeout, stream=False)  # validate now, not at the first call
        self._retry = RetryPolicy(max_retries=_check_retries(num_retries, max_retries, 2))
        self._pool_args: dict[str, Any] = {
            "max_connections": max_connections,
            "keepalive_expiry": keepalive_expiry,
            "verify": verify,
        }
        self._transports: anyio.lowlevel.RunVar[Transport | None] = anyio.lowlevel.RunVar(
            f"ritellm.transport.{id(self):x}", default=None
        )
        self._rng = random.Random()

    def __repr__(self) -> str:
        # Never show the key.
        return f"<ritellm.AsyncClient base_url={self._base_url!r}>"

    # -- pools -------------------------------------------------------------------------

    def transport(self) -> Transport:
        """This event loop's connection pool (created on first use)."""
        transport = self._transports.get()
        if transport is None:
            # Imported on first use: httpcore's import costs ~140 ms (it imports trio when
            # installed), and `import ritellm` must stay fast.
            from ._transport import Transport

            transport = Transport(**self._pool_args)
            self._transports.set(transport)
        return transport

    async def aclose(self) -> None:
        """Close this event loop's connections (idempotent)."""
        transport = self._transports.get()
        if transport is not None:
            self._transports.set(None)
            await transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the call ----------------------------------------------------------------------

    @overload
    async def acompletion(
        self,
        model: str,
        messages: Messages,
        *,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        base_url: str | None = ...,
        api_key: str | None = ...,
        stream: Literal[False] = ...,
        additional_params: str | Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        logger_fn: LoggerFn | None = ...,
        num_retries: int | None = ...,
        max_retries: int | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        fallbacks: Sequence[str | Mapping[str, Any]] | None = ...,
        **params: Any,
    ) -> ModelResponse: ...

    @overload
    async def acompletion(
        self,
        model: str,
        messages: Messages,
        *,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        base_url: str | None = ...,
        api_key: str | None = ...,
        stream: Literal[True],
        additional_params: str | Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        logger_fn: LoggerFn | None = ...,
        num_retries: int | None = ...,
        max_retries: int | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        fallbacks: Sequence[str | Mapping[str, Any]] | None = ...,
        **params: Any,
    ) -> AsyncCompletionStream: ...

    @overload
    async def acompletion(
        self,
        model: str,
        messages: Messages,
        *,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        base_url: str | None = ...,
        api_key: str | None = ...,
        stream: bool = ...,
        additional_params: str | Mapping[str, Any] | None = ...,
        timeout: float | Timeout | None = ...,
        logger_fn: LoggerFn | None = ...,
        num_retries: int | None = ...,
        max_retries: int | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        fallbacks: Sequence[str | Mapping[str, Any]] | None = ...,
        **params: Any,
    ) -> ModelResponse | AsyncCompletionStream: ...

    async def acompletion(
        self,
        model: str,
        messages: Messages,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        stream: bool = False,
        additional_params: str | Mapping[str, Any] | None = None,
        timeout: float | Timeout | None = None,
        logger_fn: LoggerFn | None = None,
        num_retries: int | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        fallbacks: Sequence[str | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse | AsyncCompletionStream:
        """Create a chat completion; see :func:`ritellm.acompletion`."""
        call = self._prepare(
            model,
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            base_url=base_url,
            api_key=api_key,
            stream=stream,
            additional_params=additional_params,
            timeout=timeout,
            logger_fn=logger_fn,
            num_retries=num_retries,
            max_retries=max_retries,
            extra_headers=extra_headers,
            fallbacks=fallbacks,
            params=params,
        )
        return await self._run(call)

    async def _run(
        self, call: _Call, *, defer_rate_limits: bool = False
    ) -> ModelResponse | AsyncCompletionStream:
        """Send a prepared call, then its fallbacks while the failures are about
        availability (rate limits, 5xx, connection trouble, unknown model)."""
        if not call.fallbacks:
            return await self._run_one(call, defer_rate_limits)
        errors: list[APIError] = []
        for candidate in (call, *call.fallbacks):
            try:
                return await self._run_one(candidate, defer_rate_limits)
            except _FALLBACK_ON as exc:
                if errors:
                    exc.__context__ = errors[-1]  # the chain shows every model tried
                errors.append(exc)
                logger.info("ritellm: %s failed (%s); falling back", candidate.model, exc)
        raise errors[-1]

    async def _run_one(
        self, call: _Call, defer_rate_limits: bool
    ) -> ModelResponse | AsyncCompletionStream:
        """One model: attempts, retries and the total deadline."""
        total = call.timeout.total
        if total is None:
            return await self._attempts(call, None, defer_rate_limits)
        deadline = anyio.current_time() + total
        with anyio.CancelScope(deadline=deadline) as scope:
            return await self._attempts(call, deadline, defer_rate_limits)
        # Our deadline fired (a caller's own cancellation propagates instead: see below).
        await anyio.lowlevel.checkpoint_if_cancelled()
        assert scope.cancelled_caught
        raise call.annotate(
            APITimeoutError(f"Request did not complete within its total timeout of {total}s")
        )

    def _prepare(
        self,
        model: object,
        messages: object,
        *,
        temperature: object,
        max_tokens: object,
        base_url: object,
        api_key: object,
        stream: object,
        additional_params: object,
        timeout: object,
        logger_fn: object,
        num_retries: object,
        max_retries: object,
        extra_headers: object,
        params: dict[str, Any],
        fallbacks: object = None,
    ) -> _Call:
        """Validate everything and build the wire request; no I/O. Raises ParameterError,
        ParameterTypeError, UnknownProviderError or AuthenticationError."""
        if not isinstance(model, str):
            raise ParameterTypeError(f"model must be a str, not {type(model).__name__}")
        if not model:
            raise ParameterError("model must not be empty")
        checked_messages = _check_messages(messages)
        if not isinstance(stream, bool):
            raise ParameterTypeError(f"stream must be True or False, not {stream!r}")
        if "api_base" in params:  # LiteLLM's name
            alias = params.pop("api_base")
            if base_url is None:
                base_url = alias
        for name, value in (("base_url", base_url), ("api_key", api_key)):
            if value is not None and not isinstance(value, str):
                raise ParameterTypeError(f"{name} must be a str, not {type(value).__name__}")
        if logger_fn is not None and not callable(logger_fn):
            raise ParameterTypeError("logger_fn must be callable")
        body = _check_additional(additional_params)
        # The explicit arguments win: additional_params cannot replace them on the wire.
        for name in ("model", "messages", "stream"):
            body.pop(name, None)
        body.update(params)
        if temperature is not None:
            _check_number("temperature", temperature)
            body["temperature"] = temperature
        if max_tokens is not None:
            _check_number("max_tokens", max_tokens, integer=True)
            assert isinstance(max_tokens, int)
            if max_tokens < 1:
                raise ParameterError(f"max_tokens must be >= 1, got {max_tokens}")
            body["max_tokens"] = max_tokens
        body.pop("stream", None)  # `stream=` is the argument, never a body field
        retries = _check_retries(num_retries, max_retries, self._retry.max_retries)
        retry = (
            self._retry if retries == self._retry.max_retries else RetryPolicy(max_retries=retries)
        )
        timeout_value = Timeout.coerce(self._timeout if timeout is None else timeout, stream=stream)

        spec, model_id = resolve(model)
        provider = get_provider(spec)
        assert base_url is None or isinstance(base_url, str)
        assert api_key is None or isinstance(api_key, str)
        creds = resolve_credentials(
            spec,
            api_key=api_key or self._api_key,
            base_url=base_url or self._base_url,
            environ=os.environ,
        )
        _check_key(creds.api_key)
        req = CompletionRequest(
            model=model_id, messages=checked_messages, params=body, stream=stream
        )
        try:
            http = provider.build_request(req, creds)
        except (TypeError, ValueError) as exc:
            raise ParameterTypeError(
                f"Request parameters are not JSON-serialisable: {exc}"
            ) from None
        if extra_headers:
            extra = _check_headers(extra_headers)
            # Same name (any case): the caller's header replaces ritellm's, never doubles it.
            names = {name.lower() for name, _ in extra}
            kept = [(n, v) for n, v in http.headers if n.lower() not in names]
            http = HttpRequest(
                method=http.method, url=http.url, headers=[*kept, *extra], body=http.body
            )
        call = _Call(
            provider=provider,
            model=model,
            request=http,
            payload=req,
            stream=stream,
            timeout=timeout_value,
            retry=retry,
            logger_fn=logger_fn,
            secret=creds.api_key,
        )
        if fallbacks is not None:
            named = {
                "model": model,
                "temperature": temperature,
                "max_tokens": max_tokens,
                "base_url": base_url,
                "api_key": api_key,
                "stream": stream,
                "additional_params": additional_params,
                "timeout": timeout,
                "logger_fn": logger_fn,
                "num_retries": num_retries,
                "max_retries": max_retries,
                "extra_headers": extra_headers,
            }
            call.fallbacks = self._prepare_fallbacks(fallbacks, messages, named, params)
        return call

    def _prepare_fallbacks(
        self,
        fallbacks: object,
        messages: object,
        named: dict[str, Any],
        params: dict[str, Any],
    ) -> list[_Call]:
        """Each fallback is a model string, or a dict of arguments overriding this call's
        (e.g. ``{"model": ..., "base_url": ..., "api_key": ...}``). A fallback to the same
        provider inherits this call's base URL and key; another provider does not."""
        if isinstance(fallbacks, str | bytes) or not isinstance(fallbacks, Sequence):
            raise ParameterTypeError("fallbacks must be a list of model strings or dicts")
        primary = resolve(str(named["model"]))[0]
        calls: list[_Call] = []
        for i, entry in enumerate(fallbacks):
            if isinstance(entry, str):
                overrides: dict[str, Any] = {"model": entry}
            elif isinstance(entry, Mapping) and isinstance(entry.get("model"), str):
                overrides = dict(entry)
            else:
                raise ParameterTypeError(
                    f"fallbacks[{i}] must be a model string or a dict with a 'model'"
                )
            kwargs = {**named, **params}
            if resolve(overrides["model"])[0] is not primary:
                kwargs["base_url"] = kwargs["api_key"] = None
            kwargs.update(overrides)
            calls.append(self._prepare_kwargs(kwargs.pop("model"), messages, kwargs))
        return calls

    def _prepare_kwargs(self, model: object, messages: object, kwargs: dict[str, Any]) -> _Call:
        """:meth:`_prepare` from an ``acompletion`` keyword dict (fan-out requests)."""
        named = {name: kwargs.pop(name, None) for name in _NAMED}
        stream = named.pop("stream")
        return self._prepare(
            model, messages, stream=False if stream is None else stream, **named, params=kwargs
        )

    async def _attempts(
        self, call: _Call, deadline: float | None, defer_rate_limits: bool = False
    ) -> ModelResponse | AsyncCompletionStream:
        transport = self.transport()
        timeout = call.timeout
        # One deadline bounds sending and the wait for the response (rather than httpcore's
        # timer per socket read and write: measured ~25 µs per request on asyncio).
        budget = timeout.read
        attempt = 0
        while True:
            call.log(attempt)
            try:
                if budget is None:
                    outcome = await self._attempt(call, transport, deadline, defer_rate_limits)
                else:
                    with anyio.CancelScope(deadline=anyio.current_time() + budget) as scope:
                        outcome = await self._attempt(call, transport, deadline, defer_rate_limits)
                    if scope.cancelled_caught:
                        # Only our own deadline lands here; a caller's scope propagates.
                        await anyio.lowlevel.checkpoint_if_cancelled()
                        raise APITimeoutError(f"No response within {budget:g}s (read timeout)")
            except APIConnectionError as exc:  # timeouts included: nothing was answered
                outcome = (call.annotate(exc), True)
            if not isinstance(outcome, tuple):
                return outcome
            err, retryable = outcome
            if not retryable or attempt >= call.retry.max_retries:
                raise err
            delay = backoff(attempt, err.retry_after, self._rng.random, call.retry)
            if delay is None or (deadline is not None and anyio.current_time() + delay > deadline):
                raise err
            logger.info(
                "ritellm: %s; retrying %s in %.2fs (retry %d of %d)",
                type(err).__name__,
                call.model,
                delay,
                attempt + 1,
                call.retry.max_retries,
            )
            await anyio.sleep(delay)
            attempt += 1

    async def _attempt(
        self, call: _Call, transport: Transport, deadline: float | None, defer_rate_limits: bool
    ) -> ModelResponse | AsyncCompletionStream | tuple[APIError, bool]:
        """One request: the result, or (the error, whether it is worth retrying)."""
        response = await transport.send(call.request, call.timeout)
        if response.status < 300:
            if call.stream:
                return await self._open_stream(call, response, deadline)
            body = await response.aread()
            try:
                return call.provider.parse_completion(response.status, response.lazy_headers, body)
            except APIError as exc:
                call.annotate(exc)
                raise
        err = await self._status_error(call, response)
        # In a fan-out, 429s go back to the fan-out's shared limiter instead.
        retryable = should_retry(response.status, response.headers) and not (
            defer_rate_limits and response.status == 429
        )
        return err, retryable

    async def _status_error(self, call: _Call, response: Response) -> APIError:
        body = await response.aread()
        headers = response.headers
        retry_after = parse_retry_after(headers, time.time())
        return call.annotate(
            error_from_response(
                response.status,
                headers,
                body,
                provider=call.provider.spec.name,
                model=call.model,
                retry_after=retry_after,
            )
        )

    async def _open_stream(
        self, call: _Call, response: Response, deadline: float | None
    ) -> AsyncCompletionStream:
        ctype = response.headers.get("content-type", "")
        if ctype and not ctype.startswith("text/event-stream"):
            # A 2xx that is not a stream: an error in a 200 (llama.cpp, proxies) or a server
            # that ignored stream=true. Either way a typed error, never a silent success.
            body = await response.aread()
            if ctype.startswith("application/json"):
                info = parse_error_body(body)
                if body.lstrip().startswith(b"{") and b'"error"' in body[:64]:
                    raise call.annotate(
                        error_from_response(
                            response.status,
                            response.headers,
                            body,
                            provider=call.provider.spec.name,
                            model=call.model,
                            info=info,
                        )
                    )
            raise call.annotate(
                APIResponseValidationError(
                    f"Expected a text/event-stream response, got {ctype}: {snippet(body)!r}",
                    status_code=response.status,
                    body=snippet(body),
                    headers=response.headers,
                )
            )
        return AsyncCompletionStream(
            response,
            call.provider.stream_decoder(),
            read_timeout=call.timeout.read,
            deadline=deadline,
            provider=call.provider.spec.name,
            model=call.model,
            secret=call.secret,
        )


# Failures worth trying another model for: availability, not the request's own fault.
_FALLBACK_ON = (
    RateLimitError,
    InternalServerError,
    APIConnectionError,
    NotFoundError,
    ConflictError,
)

# acompletion's named keyword parameters, besides model/messages (the rest go to the body).
_NAMED = (
    "temperature",
    "max_tokens",
    "base_url",
    "api_key",
    "stream",
    "additional_params",
    "timeout",
    "logger_fn",
    "num_retries",
    "max_retries",
    "extra_headers",
    "fallbacks",
)

_default_client: AsyncClient | None = None


def default_client() -> AsyncClient:
    """The client behind the module-level functions (pools per event loop)."""
    global _default_client
    if _default_client is None:
        _default_client = AsyncClient()
    return _default_client


@overload
async def acompletion(
    model: str,
    messages: Messages,
    *,
    temperature: float | None = ...,
    max_tokens: int | None = ...,
    base_url: str | None = ...,
    api_key: str | None = ...,
    stream: Literal[False] = ...,
    additional_params: str | Mapping[str, Any] | None = ...,
    timeout: float | Timeout | None = ...,
    logger_fn: LoggerFn | None = ...,
    num_retries: int | None = ...,
    max_retries: int | None = ...,
    extra_headers: Mapping[str, str] | None = ...,
    fallbacks: Sequence[str | Mapping[str, Any]] | None = ...,
    **params: Any,
) -> ModelResponse: ...


@overload
async def acompletion(
    model: str,
    messages: Messages,
    *,
    temperature: float | None = ...,
    max_tokens: int | None = ...,
    base_url: str | None = ...,
    api_key: str | None = ...,
    stream: Literal[True],
    additional_params: str | Mapping[str, Any] | None = ...,
    timeout: float | Timeout | None = ...,
    logger_fn: LoggerFn | None = ...,
    num_retries: int | None = ...,
    max_retries: int | None = ...,
    extra_headers: Mapping[str, str] | None = ...,
    fallbacks: Sequence[str | Mapping[str, Any]] | None = ...,
    **params: Any,
) -> AsyncCompletionStream: ...


@overload
async def acompletion(
    model: str,
    messages: Messages,
    *,
    temperature: float | None = ...,
    max_tokens: int | None = ...,
    base_url: str | None = ...,
    api_key: str | None = ...,
    stream: bool = ...,
    additional_params: str | Mapping[str, Any] | None = ...,
    timeout: float | Timeout | None = ...,
    logger_fn: LoggerFn | None = ...,
    num_retries: int | None = ...,
    max_retries: int | None = ...,
    extra_headers: Mapping[str, str] | None = ...,
    fallbacks: Sequence[str | Mapping[str, Any]] | None = ...,
    **params: Any,
) -> ModelResponse | AsyncCompletionStream: ...


async def acompletion(
    model: str,
    messages: Messages,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    stream: bool = False,
    additional_params: str | Mapping[str, Any] | None = None,
    timeout: float | Timeout | None = None,
    logger_fn: LoggerFn | None = None,
    num_retries: int | None = None,
    max_retries: int | None = None,
    extra_headers: Mapping[str, str] | None = None,
    fallbacks: Sequence[str | Mapping[str, Any]] | None = None,
    **params: Any,
) -> ModelResponse | AsyncCompletionStream:
    """Create a chat completion with any supported provider (OpenAI's response shape).

    Args:
        model: ``"openai/gpt-4o-mini"``, a bare OpenAI name like ``"gpt-3.5-turbo"``, or
            another ``prefix/model`` (see ``ritellm.PROVIDERS``).
        messages: OpenAI-style messages, e.g. ``[{"role": "user", "content": "Hi"}]``.
        temperature, max_tokens: common sampling parameters (omitted when None).
        base_url: the API base (``api_base=`` is accepted as an alias); default from the
            provider's environment variable (``OPENAI_BASE_URL``/``OPENAI_API_BASE``) or URL.
        api_key: default from the provider's environment variable (``OPENAI_API_KEY``).
            Not required with a custom ``base_url``.
        stream: return an :class:`AsyncCompletionStream` once the headers arrive.
        additional_params: extra body fields as a JSON-object string or a dict; explicit
            keyword arguments win over it.
        timeout: seconds or a :class:`Timeout`. A number bounds the whole call (retries
            included) without streaming, and the wait for the headers and for each next
            chunk with streaming.
        logger_fn: called once per attempt with a dict describing the request (key redacted).
        num_retries: retries for connection errors, 408, 409, 429 and 5xx (default 2);
            ``max_retries`` is an alias.
        extra_headers: extra HTTP request headers.
        **params: any other request field (top_p, stop, n, seed, tools, tool_choice,
            response_format, stream_options, user, logprobs, ...), passed through unchanged.

    Returns:
        A :class:`ModelResponse` (dict with attribute access), or with ``stream=True`` an
        :class:`AsyncCompletionStream`.

    Raises:
        ParameterError / ParameterTypeError / UnknownProviderError: bad arguments (no I/O).
        AuthenticationError: no key for the provider's default URL, or HTTP 401.
        APIError subclasses: the provider answered with an error, or the call failed.
    """
    return await default_client().acompletion(
        model,
        messages,
        temperature=temperature,
        max_tokens=max_tokens,
        base_url=base_url,
        api_key=api_key,
        stream=stream,
        additional_params=additional_params,
        timeout=timeout,
        logger_fn=logger_fn,
        num_retries=num_retries,
        max_retries=max_retries,
        extra_headers=extra_headers,
        fallbacks=fallbacks,
        **params,
    )
