"""Map an error response to its ritellm exception: the one status/kind -> class table,
context-window detection, and the message when the provider's body gives none.

Providers parse their own error bodies into an ErrorInfo (ritellm._errors) and call
:func:`error_from_response`. Pure: imports only the standard library and ritellm._errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._errors import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    ErrorInfo,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)

__all__ = [
    "SNIPPET_CHARS",
    "class_for_status",
    "error_from_response",
    "is_context_window_error",
    "request_id",
    "snippet",
]

SNIPPET_CHARS = 200


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


_KIND_CLASSES: dict[str, type[APIError]] = {
    "context_window": ContextWindowExceededError,
    "content_policy": ContentPolicyViolationError,
    "authentication": AuthenticationError,
}


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    info: ErrorInfo,
    provider: str | None = None,
    model: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Build the typed error for an error response. The single status/kind -> class mapping.

    Args:
        status: the HTTP status code (for an in-band stream error: its HTTP twin).
        headers: response headers with lower-case names.
        body: the raw response body (for the message when ``info`` has none).
        info: the provider's parse of the body (``Provider.parse_error``).
        provider, model: for the message and attributes.
        retry_after: the parsed Retry-After header, if any (wins over ``info.retry_after``).
    """
    cls: type[APIError]
    if info.kind is not None:
        cls = _KIND_CLASSES[info.kind]
    elif is_context_window_error(status, info):
        cls = ContextWindowExceededError
    else:
        cls = class_for_status(status)
    message = info.message or _default_message(status, headers, body)
    if 300 <= status < 400:
        # A redirect's body (often an HTML "Moved") says less than where it points.
        message = _redirect_message(headers)
    if retry_after is None:
        retry_after = info.retry_after
    return cls(
        message,
        status_code=status,
        type=info.type,
        code=info.code,
        param=info.param,
        provider=provider,
        model=model,
        request_id=request_id(headers),
        body=info.body,
        headers=headers,
        retry_after=retry_after,
    )


def request_id(headers: Mapping[str, str]) -> str | None:
    """The provider's id for the request (OpenAI and most: ``x-request-id``; Anthropic:
    ``request-id``; AWS: ``x-amzn-requestid``), for support tickets."""
    return (
        headers.get("x-request-id") or headers.get("request-id") or headers.get("x-amzn-requestid")
    )


def _redirect_message(headers: Mapping[str, str]) -> str:
    location = headers.get("location")
    if not location:
        return (
            "Redirect without a Location header; ritellm does not follow redirects for POST "
            "requests (check base_url)"
        )
    return (
        f"Redirect to {snippet(location)}; ritellm does not follow redirects for POST "
        "requests (use the new address as base_url)"
    )


def _default_message(status: int, headers: Mapping[str, str], body: bytes) -> str:
    ctype = headers.get("content-type", "unknown content type")
    if not body:
        return f"HTTP {status} with an empty body ({ctype})"
    return f"HTTP {status} ({ctype}): {snippet(body)}"
