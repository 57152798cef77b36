"""Keep credentials out of what ritellm shows: errors a server echoed a key into, and the
request headers handed to logging hooks.

Pure: imports only the standard library and ritellm._errors.
"""

from __future__ import annotations

from typing import Any

from ._errors import APIError, ErrorInfo

__all__ = ["SECRET_HEADERS", "redact_header", "scrub_secret"]

# Headers that carry a credential whatever their value looks like (lower-case names).
SECRET_HEADERS = frozenset(
    {b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key", b"x-amz-security-token"}
)


def redact_header(name: bytes, value: str, secret: str | None) -> str:
    """A header value as logger_fn may see it: credentials masked."""
    if name.lower() in SECRET_HEADERS:
        scheme, _, rest = value.partition(" ")
        return f"{scheme} ***" if rest else "***"
    if secret and secret in value:
        return value.replace(secret, "***")
    return value


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
    inband = getattr(err, "inband", None)
    if isinstance(inband, ErrorInfo):
        inband.message = _scrub_value(inband.message, secret)
        inband.body = _scrub_value(inband.body, secret)
    return err
