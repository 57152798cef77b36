"""The ritellm exception tree and the one function that maps an HTTP error response to a class.

Pure: imports only the standard library. Every error a caller can see is defined here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContextWindowExceededError",
    "InternalServerError",
    "NotFoundError",
    "ParameterError",
    "ParameterTypeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RiteLLMError",
    "ServiceUnavailableError",
    "StreamError",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "error_from_response",
    "parse_error_body",
    "scrub_secret",
    "snippet",
]

SNIPPET_CHARS = 200


class RiteLLMError(Exception):
    """Root of every exception ritellm raises on purpose."""


class ParameterError(RiteLLMError, ValueError):
    """A caller-supplied value is invalid; raised before any network I/O."""


class ParameterTypeError(RiteLLMError, TypeError):
    """A caller-supplied value has the wrong type; raised before any network I/O."""


class UnknownProviderError(ParameterError):
    """The model string names a provider prefix ritellm does not know."""


class APIError(RiteLLMError):
    """A request reached (or tried to reach) a provider and failed.

    Attributes mirror the OpenAI SDK's: ``status_code`` (None when no HTTP status applies,
    e.g. connection errors and failures after a stream began), ``message``, ``type``,
    ``code``, ``param`` (from the provider's error body), ``provider``, ``model``,
    ``request_id``, ``body`` (the parsed error body, or its text), ``headers`` (response
    headers, lower-case names) and ``retry_after`` (seconds the server asked us to wait).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.code = code
        self.param = param
        self.provider = provider
        self.model = model
        self.request_id = request_id
        self.body = body
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = self.model or self.provider  # model strings carry their provider prefix
        parts = [p for p in (where, f"HTTP {self.status_code}" if self.status_code else None) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors don't pickle by default; keep errors picklable so they
        # cross process pools (e.g. a fan-out in a ProcessPoolExecutor).
        state = dict(self.__dict__)
        return (_rebuild, (type(self), state))


def _rebuild(cls: type[APIError], state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


class BadRequestError(APIError):
    """HTTP 400 (and 413): the request is invalid; retrying will not help."""


class ContextWindowExceededError(BadRequestError):
    """The prompt (plus max_tokens) does not fit the model's context window."""


class AuthenticationError(APIError):
    """HTTP 401, or no API key configured for a provider that needs one."""


class PermissionDeniedError(APIError):
    """HTTP 403."""


class NotFoundError(APIError):
    """HTTP 404: unknown model, deployment or path."""


class ConflictError(APIError):
    """HTTP 409 (retried by default)."""


class UnprocessableEntityError(APIError):
    """HTTP 422."""


class RateLimitError(APIError):
    """HTTP 429 (retried by default, honouring Retry-After)."""


class InternalServerError(APIError):
    """HTTP 5xx (retried by default)."""


class ServiceUnavailableError(InternalServerError):
    """HTTP 503, and Anthropic's 529 "overloaded"."""


class APIConnectionError(APIError):
    """The request could not be sent or the response could not be read (DNS, refused, reset,
    TLS, protocol errors)."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """A ritellm timeout fired (connect, read, write, pool or total) or the server sent 408."""


class APIResponseValidationError(APIError):
    """A 2xx response whose body is not what the provider's format promises."""


class StreamError(APIError):
    """A stream failed after it began: an in-band error event, malformed data, truncation or
    a reset. Never retried (chunks may already have reached the caller)."""


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: APITimeoutError,
    409: ConflictError,
    413: BadRequestError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    529: ServiceUnavailableError,
}

# Strong signals: an error code/type that means "context window exceeded" whatever the status
# (llama.cpp has sent it as 400, 500 and even 200).
_CONTEXT_CODES = frozenset(
    {"context_length_exceeded", "exceed_context_size_error", "model_context_window_exceeded"}
)
# Wording used by providers for the same condition (OpenAI, vLLM, Anthropic, Gemini, Mistral,
# llama.cpp); only trusted on 400/413 bodies.
_CONTEXT_PHRASES = (
    "maximum context length",
    "context length",
    "context window",
    "context_length_exceeded",
    "prompt is too long",
    "exceeds the available context size",
    "input is too long",
    "too many tokens",
    "exceeds the maximum number of tokens",
    "reduce the length of the messages",
)


_CONTEXT_PHRASES_5XX = ("exceeds the available context size", "maximum context length")


def snippet(text: str | bytes, limit: int = SNIPPET_CHARS) -> str:
    """A short, single-line, printable excerpt of a body for error messages."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text[: limit * 4]).decode("utf-8", errors="replace")
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ErrorInfo:
    """What an error body says, whatever its provider's shape."""

    __slots__ = ("body", "code", "message", "param", "type")

    def __init__(
        self,
        message: str | None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.body = body


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _str_only(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_error_body(body: bytes) -> ErrorInfo:
    """Extract message/type/code/param from any provider's error body.

    Shapes accepted (see wire-formats §2.10, §4.9, §5.7, §6.5, §7): OpenAI/Azure/llama.cpp/
    OpenRouter ``{"error": {...}}`` (``code`` may be a string or a number), Anthropic
    ``{"type": "error", "error": {...}}``, Gemini ``{"error": {"code", "message", "status"}}``
    (possibly wrapped in a one-element list), vLLM's flat ``{"object": "error", ...}``,
    Ollama's ``{"error": "text"}``, a bare ``{"message": ...}``, and anything else as text.
    """
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = snippet(body)
        return ErrorInfo(text or None, body=text)
    obj = parsed
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    if not isinstance(obj, dict):
        return ErrorInfo(snippet(body), body=parsed)
    err = obj.get("error", obj)
    if isinstance(err, str):
        return ErrorInfo(err, body=parsed)
    if not isinstance(err, dict):
        return ErrorInfo(snippet(body), body=parsed)
    message = err.get("message")
    if not isinstance(message, str):
        message = snippet(json.dumps(err)) if err else None
    return ErrorInfo(
        message,
        # Gemini names the error kind in a string "status"; Azure sends a numeric one.
        type=_str_or_none(err.get("type") or _str_only(err.get("status"))),
        code=_str_or_none(err.get("code")),
        param=_str_or_none(err.get("param")),
        body=err if "error" in obj else parsed,
    )


def is_context_window_error(status: int, info: ErrorInfo) -> bool:
    """Whether an error body says the prompt did not fit the model's context window."""
    if info.code in _CONTEXT_CODES or info.type in _CONTEXT_CODES:
        return True
    if not info.message:
        return False
    lowered = info.message.lower()
    if status in (400, 413):
        return any(phrase in lowered for phrase in _CONTEXT_PHRASES)
    # llama.cpp has reported the overflow as a 500 "server_error": only its unambiguous
    # wording counts there, so that genuine server errors are still retried.
    return status >= 500 and any(phrase in lowered for phrase in _CONTEXT_PHRASES_5XX)


def class_for_status(status: int) -> type[APIError]:
    """The exception class for an HTTP error status (before body inspection)."""
    cls = _STATUS_CLASSES.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return InternalServerError
    return APIError


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str | None = None,
    model: str | None = None,
    retry_after: float | None = None,
    info: ErrorInfo | None = None,
) -> APIError:
    """Build the typed error for a non-2xx response. The single status/body → class mapping.

    Args:
        status: the HTTP status code.
        headers: response headers with lower-case names.
        body: the raw response body.
        provider, model: for the message and attributes.
        retry_after: the parsed Retry-After hint, if any.
        info: a provider's own parse of the body; by default :func:`parse_error_body`.
    """
    if info is None:
        info = parse_error_body(body)
    cls: type[APIError] = (
        ContextWindowExceededError
        if is_context_window_error(status, info)
        else class_for_status(status)
    )
    message = info.message or _default_message(status, headers, body)
    return cls(
        message,
        status_code=status,
        type=info.type,
        code=info.code,
        param=info.param,
        provider=provider,
        model=model,
        request_id=headers.get("x-request-id") or headers.get("request-id"),
        body=info.body,
        headers=headers,
        retry_after=retry_after,
    )


def _default_message(status: int, headers: Mapping[str, str], body: bytes) -> str:
    ctype = headers.get("content-type", "unknown content type")
    if not body:
        return f"HTTP {status} with an empty body ({ctype})"
    return f"HTTP {status} ({ctype}): {snippet(body)}"


def _scrub_value(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, "***") if secret in value else value
    if isinstance(value, dict):
        return {k: _scrub_value(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secret) for v in value]
    return value


def scrub_secret(err: APIError, secret: str | None) -> APIError:
    """Remove an API key from an error in place, in case a server echoed it back.

    Keys must never reach messages, reprs, logs or tracebacks; providers sometimes quote the
    key they rejected, and a misconfigured proxy may echo request headers.
    """
    if not secret or len(secret) < 4:
        return err
    if secret in err.message:
        err.message = err.message.replace(secret, "***")
        err.args = (err.message,)
    err.body = _scrub_value(err.body, secret)
    err.headers = {k: _scrub_value(v, secret) for k, v in err.headers.items()}
    return err
