"""The ritellm exception tree, and ErrorInfo: a provider's parse of its own error body.

Every error a caller can see is defined here; which class an error response becomes is
decided in ritellm._error_map. Pure: imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CallCancelled",
    "ConflictError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "ErrorInfo",
    "ImageFetchError",
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
]


class RiteLLMError(Exception):
    """Root of every exception ritellm raises on purpose."""


class CallCancelled(RiteLLMError):
    """Never raised: what callbacks and spans are given when a call was stopped rather than
    failed — cancelled, interrupted, or a stream closed before its end. The exception that
    stopped it (a cancellation), if any, is its ``__cause__``."""


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
    ``response_metadata`` is what the call reported (attempts, latency, the last response's
    status and headers; :class:`ritellm.ResponseMetadata`), set when the error leaves
    ritellm's attempt loop.
    """

    response_metadata: Any = None

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


class ContentPolicyViolationError(BadRequestError):
    """The provider's safety system refused the request (LiteLLM's name): Azure's content
    filter, a Gemini prompt block. Never returned as an empty success."""


class ImageFetchError(BadRequestError):
    """An image URL in the messages could not be fetched for a provider that needs the
    bytes inline (LiteLLM's name). Not retried."""


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
    """A ritellm timeout fired (connect, read, write, pool or total) or the server sent 408.

    Also exported as ``ritellm.Timeout``, LiteLLM's name for its timeout exception, so that
    ``except ritellm.Timeout:`` works as it does there.

    Args:
        message: what timed out (default "Request timed out.").
        **kwargs: the keyword arguments of :class:`APIError` (``status_code``, ``provider``,
            ``model``, ...). A timeout phase (``read=``, ``connect=``, ...) raises
            ParameterTypeError pointing to :class:`ritellm.Timeouts`, the configuration.
    """

    def __init__(self, message: str = "Request timed out.", **kwargs: Any) -> None:
        if phases := sorted(kwargs.keys() & _TIMEOUT_PHASES):
            # `timeout=ritellm.Timeout(read=30)`: in LiteLLM (and here) Timeout is the
            # exception; say so now instead of "unexpected keyword argument 'read'".
            raise ParameterTypeError(
                f"ritellm.Timeout is the timeout exception (as in LiteLLM), not a "
                f"configuration: for per-phase timeouts pass "
                f"timeout=ritellm.Timeouts({', '.join(f'{p}=...' for p in phases)})"
            )
        super().__init__(message, **kwargs)


_TIMEOUT_PHASES = frozenset({"connect", "read", "write", "pool", "total"})


class APIResponseValidationError(APIError):
    """A 2xx response whose body is not what the provider's format promises."""


class StreamError(APIError):
    """A stream failed after it began: an in-band error event, malformed data, truncation or
    a reset. Never retried once a chunk reached the caller.

    ``inband`` is the provider's own error (an error event inside the 200 stream), None for
    truncation, malformed data and resets. While nothing has been delivered yet, an in-band
    error is raised as its HTTP twin instead (e.g. Anthropic's ``overloaded_error`` as a
    retried :class:`ServiceUnavailableError`).
    """

    inband: ErrorInfo | None = None


ErrorKind = Literal["context_window", "content_policy", "authentication"]


class ErrorInfo:
    """What a provider's error says, parsed by the provider from its own shape.

    ``status`` is the HTTP twin of an error that arrived without one (an error event inside a
    200 stream, e.g. Anthropic's ``overloaded_error`` -> 529); ``kind`` overrides the status
    table where the body is more specific than the status (a Gemini 400 with reason
    ``API_KEY_INVALID`` is an authentication error); ``retry_after`` is a retry hint found in
    the body (Gemini's ``RetryInfo.retryDelay``).
    """

    __slots__ = ("body", "code", "kind", "message", "param", "retry_after", "status", "type")

    def __init__(
        self,
        message: str | None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        body: Any = None,
        *,
        status: int | None = None,
        kind: ErrorKind | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.body = body
        self.status = status
        self.kind = kind
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"ErrorInfo(message={self.message!r}, type={self.type!r}, code={self.code!r})"
